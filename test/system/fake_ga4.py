#!/usr/bin/python3
"""A fake GA4 Measurement Protocol endpoint, which can also play a
server-side GTM container, for the system tests.

GA4 (PLATFORMS.md, "GA4 Measurement Protocol / server-side GTM"; the
Measurement Protocol reference and its "Validate events" page):

``POST /mp/collect?measurement_id=G-…&api_secret=…``
    A JSON body ``{client_id, user_id?, timestamp_micros?, consent?,
    user_data?, events: [{name, params}]}``.  **Always answered 204**, as
    GA4 answers anything it received; what GA4 would silently drop (a wrong
    secret, no client_id, more than 25 events, an invalid name, an empty
    transaction_id, unhashed user data, a body of 130 KB or more) is
    recorded as ``dropped`` with the reason instead of ``accepted``.
``POST /debug/mp/collect?…``
    The validation server: HTTP 200 with ``{"validationMessages":
    [{"fieldPath", "description", "validationCode"}]}`` from the same checks
    (plus any injected with ``validation_messages``); nothing is accepted.

sGTM mode (``--sgtm``): the same body at ``/mp/collect``, api_secret
optional, the ``X-Gtm-Server-Preview`` header recorded.  ``claimed``
(default true) says whether a client in the container claims the path: an
unclaimed path answers a silent 200 with an empty body and accepts nothing.
Injected statuses (``fail_next``) are answered as given, as a container
would.

Usage::

    fake_ga4.py --port 0 [--host 127.0.0.1] [--secret S] [--sgtm]

The first line on stdout is ``PORT=<n>`` (flushed).

Control API (JSON in and out):

``POST /_control/config``
    Merge any of: ``fail_next`` (HTTP statuses answered, in order, to the
    next collect requests), ``retry_after`` (seconds in ``Retry-After`` on
    429/503, null = none), ``validation_messages`` (added to every debug
    answer), ``claimed`` (sGTM), ``secret`` (expected api_secret; null
    accepts any).  Answers the whole config.
``POST /_control/reset``
    Back to the startup config; forget every record.
``GET /_control/requests``
    Every collect request: time, path, debug, http_status, measurement_id,
    secret_ok, preview, client_id, transaction_ids, events, dropped (the
    reason or null) and body (the api_secret never recorded).
``GET /_control/events``
    ``{"accepted": {transaction_id: times}, "total": n}``.
``GET /_control/stats``
    Counts: requests, accepted events, dropped requests.

Standard library only; run by /usr/bin/python3.
"""

import json
import re
import sys
import time
from urllib.parse import parse_qs, urlsplit

import fake_common

MAX_EVENTS = 25
MAX_BODY = 130 * 1000
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
MEASUREMENT_ID = re.compile(r"^G-[A-Z0-9]+$")
CONFIG_KEYS = {"fail_next", "retry_after", "validation_messages", "claimed", "secret"}


def message(path, description, code):
    return {"fieldPath": path, "description": description, "validationCode": code}


def validate(body):
    """The validation messages GA4 would give for a parsed body."""
    msgs = []
    if not isinstance(body, dict):
        return [message("", "Unable to parse the body as JSON.", "VALUE_INVALID")]
    if not isinstance(body.get("client_id"), str) or not body["client_id"]:
        msgs.append(message("client_id", "client_id is required.", "VALUE_REQUIRED"))
    ts = body.get("timestamp_micros")
    if ts is not None and (not isinstance(ts, int) or isinstance(ts, bool)):
        msgs.append(message("timestamp_micros", "must be an integer.", "VALUE_INVALID"))
    events = body.get("events")
    if not isinstance(events, list) or not events:
        msgs.append(message("events", "events is required.", "VALUE_REQUIRED"))
        events = []
    if len(events) > MAX_EVENTS:
        msgs.append(message("events", "At most 25 events per request.",
                            "EXCEEDED_MAX_ENTITIES"))
    for i, ev in enumerate(events):
        name = ev.get("name") if isinstance(ev, dict) else None
        if not isinstance(name, str) or not EVENT_NAME.match(name):
            msgs.append(message("events", "Event at index: [%d] has invalid name [%s]." %
                                (i, name), "NAME_INVALID"))
            continue
        params = ev.get("params", {})
        if not isinstance(params, dict):
            msgs.append(message("events.params", "params must be an object.", "VALUE_INVALID"))
            continue
        if name == "purchase" and params.get("transaction_id") in ("", None):
            msgs.append(message("events.params.transaction_id",
                                "Event at index: [%d]: transaction_id must not be empty." % i,
                                "VALUE_INVALID"))
        if "value" in params and (not isinstance(params["value"], (int, float)) or
                                  isinstance(params["value"], bool)):
            msgs.append(message("events.params.value", "value must be a number.",
                                "VALUE_INVALID"))
    ud = body.get("user_data")
    if ud is not None:
        for key in ("sha256_email_address", "sha256_phone_number"):
            for v in (ud.get(key) or []):
                if not isinstance(v, str) or not SHA256_HEX.match(v):
                    msgs.append(message("user_data." + key, "must be a SHA-256 hex hash.",
                                        "VALUE_INVALID"))
        for a in (ud.get("address") or []):
            for key in ("sha256_first_name", "sha256_last_name"):
                if key in a and not SHA256_HEX.match(str(a[key])):
                    msgs.append(message("user_data.address." + key,
                                        "must be a SHA-256 hex hash.", "VALUE_INVALID"))
    return msgs


class State(fake_common.FakeState):
    def __init__(self, secret, sgtm):
        self.start_secret = secret
        self.sgtm = sgtm
        super().__init__()

    def initial_config(self):
        return {"fail_next": [], "retry_after": 1, "validation_messages": [],
                "claimed": True, "secret": self.start_secret}

    def clear(self):
        super().clear()
        self.accepted = {}
        self.total = 0

    def update_config(self, changes):
        unknown = set(changes) - CONFIG_KEYS
        if unknown:
            raise ValueError("unknown config keys: %s" % ", ".join(sorted(unknown)))
        if "fail_next" in changes:
            fake_common.check_fail_next(changes["fail_next"], fake_common.HTTP_STATUSES)
        with self.lock:
            self.config.update(changes)
            return dict(self.config)


class Handler(fake_common.Handler):
    def do_GET(self):
        st = self.st
        with st.lock:
            if self.path == "/_control/requests":
                return self.send_json(200, st.requests)
            if self.path == "/_control/events":
                return self.send_json(200, {"accepted": st.accepted, "total": st.total})
            if self.path == "/_control/stats":
                return self.send_json(200, {"requests": len(st.requests), "accepted": st.total,
                                       "dropped": sum(1 for r in st.requests if r["dropped"])})
        self.send_json(404, {"error": "not found"})

    def do_POST(self):
        st = self.st
        raw = self.read_body()
        url = urlsplit(self.path)
        if url.path == "/_control/config":
            try:
                return self.send_json(200, st.update_config(json.loads(raw or b"{}")))
            except (ValueError, AttributeError) as e:
                return self.send_json(400, {"error": str(e)})
        if url.path == "/_control/reset":
            st.reset()
            return self.send_json(200, {})
        if url.path in ("/mp/collect", "/debug/mp/collect"):
            return self.collect(url, raw, url.path.startswith("/debug/"))
        self.send_json(404, {"error": "not found"})

    def collect(self, url, raw, debug):
        st = self.st
        q = parse_qs(url.query)
        mid = (q.get("measurement_id") or [None])[0]
        secret = (q.get("api_secret") or [None])[0]
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        msgs = validate(body)
        with st.lock:
            cfg = st.config
            fail = fake_common.pop_fail(cfg)
            secret_ok = cfg["secret"] is None or secret == cfg["secret"]
            if st.sgtm and secret is None:
                secret_ok = True  # the container's own GA4 tag holds the secret
            dropped = None
            if fail is not None:
                dropped = "HTTP %d injected" % fail
            elif st.sgtm and not cfg["claimed"]:
                dropped = "unclaimed path"
            elif not secret_ok:
                dropped = "wrong api_secret"
            elif mid is None and not st.sgtm or mid is not None and not MEASUREMENT_ID.match(mid):
                dropped = "bad measurement_id"
            elif len(raw) >= MAX_BODY:
                dropped = "body of %d bytes" % len(raw)
            elif msgs:
                dropped = "; ".join("%s %s" % (m["validationCode"], m["fieldPath"])
                                    for m in msgs)
            elif debug:
                dropped = "validation server"
            events = body.get("events", []) if isinstance(body, dict) else []
            tids = [str((e.get("params") or {}).get("transaction_id"))
                    for e in events if isinstance(e, dict)]
            status = fail if fail is not None else (200 if debug or st.sgtm else 204)
            st.record_request({
                "time": time.time(), "path": url.path, "debug": debug,
                "http_status": status, "measurement_id": mid, "secret_ok": secret_ok,
                "preview": self.headers.get("X-Gtm-Server-Preview"),
                "client_id": body.get("client_id") if isinstance(body, dict) else None,
                "transaction_ids": tids, "events": len(events), "dropped": dropped,
                "body": raw.decode("utf-8", "replace")})
            if dropped is None:
                for t in tids:
                    st.accepted[t] = st.accepted.get(t, 0) + 1
                    st.total += 1
            retry_after = cfg["retry_after"]
            injected = list(cfg["validation_messages"])
        if fail is not None:
            headers = [("Retry-After", str(retry_after))] if (
                fail in (429, 503) and retry_after is not None) else []
            return self.send_json(fail, {"error": "injected"}, headers)
        if debug:
            return self.send_json(200, {"validationMessages": msgs + injected})
        if st.sgtm:
            return self.send_json(200)  # claimed or not: a silent, empty 200
        self.send_json(204)


def add_args(ap):
    ap.add_argument("--secret")
    ap.add_argument("--sgtm", action="store_true")


def setup(server, args):
    server.state = State(args.secret, args.sgtm)


def main(argv=None):
    return fake_common.serve(Handler, "Fake GA4 Measurement Protocol.", setup, add_args, argv)


if __name__ == "__main__":
    sys.exit(main())
