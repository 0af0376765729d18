#!/usr/bin/python3
"""A fake Stripe API for the system tests: Checkout Sessions and billing
portal sessions, the two calls adsengd makes (lib/pipeline/stripe_session.c).

``POST /v1/checkout/sessions`` and ``POST /v1/billing_portal/sessions``
answer as Stripe does for the parts AdsEngineer relies on
(https://docs.stripe.com/api/checkout/sessions/create,
https://docs.stripe.com/api/customer_portal/sessions/create): the body
must be ``application/x-www-form-urlencoded`` with bracketed keys
(``line_items[0][price]``), auth is HTTP Basic with the secret key as the
user and an empty password (https://docs.stripe.com/api/authentication),
and errors are ``{"error": {"type", "message", ...}}`` with the HTTP
status (https://docs.stripe.com/api/errors).  A repeated
``Idempotency-Key`` gets the first answer again, as Stripe replays it
(https://docs.stripe.com/api/idempotent_requests).

Stricter than Stripe where that catches client bugs: an Idempotency-Key
is required (400 without), a checkout needs ``mode=subscription``,
``line_items[0][price]``, ``line_items[0][quantity]``, ``success_url``,
``cancel_url``; a portal session needs ``customer``.

Usage::

    fake_stripe.py --port 0 [--host 127.0.0.1] [--key sk_test_...]

The first line on stdout is ``PORT=<n>`` (flushed).

Control API (JSON):

``POST /_control/config``
    Merge any of: ``key`` (the expected secret key), ``fail_next`` (list
    of HTTP statuses answered in order to the next API requests with
    Stripe's error JSON: 400 invalid_request_error, 401, 429
    rate_limit, 500 api_error).  Answers the whole config.
``POST /_control/reset``
    Back to the startup config; forget every record.
``GET /_control/requests``
    Every API request: path, form (name -> value), idempotency_key,
    content_type, auth_ok, http_status.
``GET /_control/stats``
    Counts: requests, by status.

Standard library only; run by /usr/bin/python3.
"""

import base64
import json
import secrets
import sys
import urllib.parse

import fake_common

DEFAULT_KEY = "sk_test_fake"

ERRORS = {
    400: ("invalid_request_error", "Invalid request (fake_stripe was told to fail)"),
    401: ("invalid_request_error", "Invalid API Key provided"),
    402: ("card_error", "Your card was declined."),
    429: ("invalid_request_error", "Too many requests"),
    500: ("api_error", "Something went wrong on Stripe's end."),
}


def stripe_error(status, message=None, param=None):
    type_, default = ERRORS.get(status, ("api_error", "error"))
    err = {"type": type_, "message": message or default}
    if status == 429:
        err["code"] = "rate_limit"
    if param:
        err["param"] = param
    return status, {"error": err}


def auth_ok(header, key):
    if not header or not header.startswith("Basic "):
        return False
    try:
        raw = base64.b64decode(header[6:], validate=True).decode()
    except Exception:
        return False
    return raw == key + ":"


def checkout(form):
    for name in ("mode", "line_items[0][price]", "line_items[0][quantity]", "success_url",
                 "cancel_url"):
        if not form.get(name):
            return stripe_error(400, "Missing required param: %s." % name, name)
    if form["mode"] != "subscription":
        return stripe_error(400, "Invalid mode", "mode")
    sid = "cs_test_" + secrets.token_hex(12)
    return 200, {"id": sid, "object": "checkout.session", "mode": form["mode"],
                 "client_reference_id": form.get("client_reference_id"),
                 "customer": form.get("customer"),
                 "success_url": form["success_url"], "cancel_url": form["cancel_url"],
                 "url": "https://checkout.stripe.test/c/pay/" + sid}


def portal(form):
    if not form.get("customer"):
        return stripe_error(400, "Missing required param: customer.", "customer")
    sid = "bps_" + secrets.token_hex(12)
    return 200, {"id": sid, "object": "billing_portal.session", "customer": form["customer"],
                 "return_url": form.get("return_url"),
                 "url": "https://billing.stripe.test/p/session/" + sid}


ROUTES = {"/v1/checkout/sessions": checkout, "/v1/billing_portal/sessions": portal}


class State(fake_common.FakeState):
    def __init__(self, key):
        self.start_key = key
        super().__init__()

    def initial_config(self):
        return {"key": self.start_key, "fail_next": []}

    def clear(self):
        super().clear()
        self.idem = {}  # (path, Idempotency-Key) -> (status, answer)


class Handler(fake_common.Handler):
    def reply(self, status, obj):
        self.send_json(status, obj)

    def do_GET(self):
        st = self.st
        with st.lock:
            if self.path == "/_control/requests":
                return self.reply(200, st.requests)
            if self.path == "/_control/stats":
                by = {}
                for r in st.requests:
                    by[str(r["http_status"])] = by.get(str(r["http_status"]), 0) + 1
                return self.reply(200, {"requests": len(st.requests), "by_status": by})
        self.reply(404, {"error": {"type": "invalid_request_error", "message": "not found"}})

    def do_POST(self):
        raw = self.read_body()
        st = self.st
        if self.path.startswith("/_control/"):
            return self.control(raw)
        handler = ROUTES.get(self.path)
        ctype = self.headers.get("Content-Type", "")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(
            raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        idem = self.headers.get("Idempotency-Key")
        with st.lock:
            cfg = st.config
            ok = auth_ok(self.headers.get("Authorization"), cfg["key"])
            if handler is None:
                status, obj = 404, {"error": {"type": "invalid_request_error",
                                              "message": "Unrecognized request URL"}}
            elif cfg["fail_next"]:
                status, obj = stripe_error(fake_common.pop_fail(cfg))
            elif not ok:
                status, obj = stripe_error(401)
            elif not ctype.startswith("application/x-www-form-urlencoded"):
                status, obj = stripe_error(400, "Bad Content-Type: %s" % ctype)
            elif not idem:
                status, obj = stripe_error(400, "fake_stripe requires an Idempotency-Key")
            elif (self.path, idem) in st.idem:
                status, obj = st.idem[(self.path, idem)]
            else:
                status, obj = handler(form)
                st.idem[(self.path, idem)] = (status, obj)
            st.record_request({"path": self.path, "form": form,
                                      "idempotency_key": idem, "content_type": ctype,
                                      "auth_ok": ok, "http_status": status})
        self.reply(status, obj)

    def control(self, raw):
        st = self.st
        if self.path == "/_control/reset":
            st.reset()
            return self.reply(200, {})
        with st.lock:
            if self.path == "/_control/config":
                st.config.update(json.loads(raw or b"{}"))
                return self.reply(200, st.config)
        self.reply(404, {})


def add_args(ap):
    ap.add_argument("--key", default=DEFAULT_KEY)


def setup(server, args):
    server.state = State(args.key)


def main(argv=None):
    return fake_common.serve(Handler, "Fake Stripe API (Checkout and portal sessions).", setup,
                             add_args, argv)


if __name__ == "__main__":
    sys.exit(main())
