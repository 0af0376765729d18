#!/usr/bin/python3
"""A fake TikTok Events API 2.0 (web events) for the system tests.

It answers ``POST /open_api/v1.3/event/track/`` the way TikTok does for
the parts AdsEngineer relies on (PLATFORMS.md, "TikTok Events API 2.0"):
the access token comes in the ``Access-Token`` header, the body is JSON
``{"event_source": "web", "event_source_id": PIXEL, "test_event_code": ...,
"data": [...]}`` with at most 1000 events, and **every answer is HTTP 200**:
``{"code": 0, "message": "OK", "request_id": ..., "data": {}}`` when
accepted, a non-zero ``code`` otherwise (40002 a bad request, which
rejects it whole: TikTok documents no partial failure; 40105 a missing or
wrong token; 40100 the rate limit; 5xxxx TikTok's side).

Validation, stricter than TikTok is known to be where it catches client
bugs: event names must be TikTok standard events (or listed in
``extra_events``), ``event_time`` an integer, hashed identifiers
(``user.email``, ``user.phone``, ``user.external_id``; a string or a list)
64 lowercase hex characters, ``properties.value`` and ``price`` numbers.

Usage::

    fake_tiktok.py --port 0 [--host 127.0.0.1] [--token T]

The first line on stdout is ``PORT=<n>`` (flushed).

Control API (JSON in and out):

``POST /_control/config``
    Merge any of: ``fail_next`` (list, answered in order to the next event
    requests: a number >= 10000 is a TikTok code answered with HTTP 200,
    e.g. 40100, 40002, 40105, 50000; a number 100..599 an HTTP status),
    ``retry_after`` (seconds in ``Retry-After`` on HTTP 429/503, default
    1; null sends none), ``reject_event_ids_containing`` (substring: a
    request holding such an event_id is answered 200 / code 40002 whole),
    ``stall_seconds`` (sleep before answering), ``token`` (expected token;
    null accepts any non-empty one), ``extra_events`` (more accepted event
    names), ``fail_status`` + ``fail_for_seconds`` (an outage: that HTTP
    status, or TikTok code when >= 10000, for every event request until
    then).  Answers the whole config.
``POST /_control/reset``
    Back to the startup config; forget every record.
``GET /_control/requests``
    Every event request: time, path, pixel, http_status, code, message,
    events, event_ids, event_names, test_event_code, token_ok and body
    (the JSON text; the token is a header and is never recorded).
``GET /_control/events``
    ``{"accepted": {event_id: times accepted}, "total": n}``.
``GET /_control/stats``
    Counts: requests, by code, events accepted, in flight now and at most.

Standard library only; run by /usr/bin/python3.
"""

import json
import re
import secrets
import sys
import time
from urllib.parse import parse_qs, urlsplit

import fake_common

TRACK_PATH = "/open_api/v1.3/event/track/"
MAX_EVENTS = 1000
MAX_BODY = 64 * 1024 * 1024
DEFAULT_RETRY_AFTER = 1

# TikTok's standard web events (PLATFORMS.md; CompletePayment and
# Purchase both, since which one is current is unsettled).
STANDARD_EVENTS = {
    "AddPaymentInfo", "AddToCart", "AddToWishlist", "ApplicationApproval", "ClickButton",
    "CompletePayment", "CompleteRegistration", "Contact", "CustomizeProduct", "Download",
    "FindLocation", "InitiateCheckout", "Lead", "PlaceAnOrder", "Purchase", "Schedule",
    "Search", "StartTrial", "SubmitApplication", "SubmitForm", "Subscribe", "ViewContent",
}

HASHED_USER_KEYS = ("email", "phone", "external_id")
PLAIN_USER_KEYS = ("ttclid", "ttp", "ip", "user_agent", "locale")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
PIXEL_RE = re.compile(r"^[A-Za-z0-9]{1,64}$")

# TikTok's messages for injected codes.
CODE_MESSAGES = {
    40001: "No permission to operate this pixel.",
    40002: "Invalid parameters.",
    40100: "Too many requests. Please retry in some time.",
    40105: "The access token is invalid or has been revoked.",
    50000: "System error.",
}

CONFIG_KEYS = {"fail_next", "retry_after", "reject_event_ids_containing", "stall_seconds",
               "token", "extra_events", "fail_status", "fail_for_seconds"}


class Refusal(Exception):
    """An answer other than success: HTTP status, TikTok code, message."""

    def __init__(self, code, message, http_status=200):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


def bad(message):
    """A 40002 refusal of the whole request."""
    return Refusal(40002, message)


def check_injection(v):
    return (isinstance(v, int) and not isinstance(v, bool)
            and (100 <= v <= 599 or 10000 <= v <= 99999))


def injected(v):
    """The Refusal for an injected status or code."""
    if v >= 10000:
        return Refusal(v, CODE_MESSAGES.get(v, "Error %d." % v))
    return Refusal(50000 if v >= 500 else 40000, "HTTP %d from the fake." % v, http_status=v)


class State(fake_common.FakeState):
    """Configuration and records, shared by the handler threads; every
    access goes through ``lock``, sleeping happens outside it."""

    def __init__(self, token):
        self.start_token = token
        self.inflight = 0
        super().__init__()

    def initial_config(self):
        return {"fail_next": [], "retry_after": DEFAULT_RETRY_AFTER,
                "reject_event_ids_containing": None, "stall_seconds": 0,
                "token": self.start_token, "extra_events": [],
                "fail_status": None, "fail_until": 0}

    def clear(self):
        super().clear()
        self.accepted = {}
        self.total_accepted = 0
        self.by_code = {}
        self.max_inflight = self.inflight

    def update_config(self, changes):
        """Validate and merge a config change; raise ValueError if bad."""
        unknown = set(changes) - CONFIG_KEYS
        if unknown:
            raise ValueError("unknown config keys: %s" % ", ".join(sorted(unknown)))
        if "fail_next" in changes:
            fake_common.check_fail_next(changes["fail_next"], check_injection,
                                        "HTTP statuses or TikTok codes")
        status = changes.get("fail_status")
        if status is not None and not check_injection(status):
            raise ValueError("fail_status: an HTTP status, a TikTok code or null")
        for key in ("retry_after", "stall_seconds", "fail_for_seconds"):
            v = changes.get(key, 0)
            if v is None and key == "retry_after":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError("%s must be a number >= 0" % key)
        for key in ("reject_event_ids_containing", "token"):
            v = changes.get(key)
            if v is not None and (not isinstance(v, str) or not v):
                raise ValueError("%s must be a non-empty string or null" % key)
        extra = changes.get("extra_events", [])
        if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
            raise ValueError("extra_events must be a list of names")
        with self.lock:
            for key, value in changes.items():
                if key == "fail_for_seconds":
                    self.config["fail_until"] = time.time() + value
                elif isinstance(value, list):
                    self.config[key] = list(value)
                else:
                    self.config[key] = value
            return self.snapshot()

    def snapshot(self):
        """A copy of the config; call with the lock held."""
        snap = dict(self.config)
        snap["fail_next"] = list(snap["fail_next"])
        snap["extra_events"] = list(snap["extra_events"])
        return snap

    def begin(self):
        """An event request arrived: its config, and one fail_next popped."""
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            snap = self.snapshot()
            forced = fake_common.pop_fail(self.config)
        return snap, forced

    def end(self, entry, accepted_ids):
        with self.lock:
            self.inflight -= 1
            if entry is None:
                return
            self.record_request(entry)
            key = str(entry["code"])
            self.by_code[key] = self.by_code.get(key, 0) + 1
            for eid in accepted_ids:
                self.accepted[eid] = self.accepted.get(eid, 0) + 1
            self.total_accepted += len(accepted_ids)

    def stats(self):
        with self.lock:
            return {"requests": len(self.requests), "by_code": dict(self.by_code),
                    "events_accepted": self.total_accepted,
                    "unique_event_ids": len(self.accepted),
                    "duplicates": sum(c - 1 for c in self.accepted.values()),
                    "inflight": self.inflight, "max_inflight": self.max_inflight}


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_hashes(i, key, v):
    values = v if isinstance(v, list) else [v]
    if not values:
        raise bad("data[%d].user.%s: empty" % (i, key))
    for h in values:
        if not isinstance(h, str) or not SHA256_HEX.match(h):
            raise bad("data[%d].user.%s must be SHA-256 hashed (64 lowercase hex)" % (i, key))


def check_user(i, user):
    if not isinstance(user, dict):
        raise bad("data[%d].user must be an object" % i)
    for key, v in user.items():
        if key in HASHED_USER_KEYS:
            check_hashes(i, key, v)
        elif key in PLAIN_USER_KEYS:
            if not isinstance(v, str) or not v:
                raise bad("data[%d].user.%s must be a non-empty string" % (i, key))
        else:
            raise bad("data[%d].user.%s is not a user parameter" % (i, key))


def check_properties(i, props):
    if not isinstance(props, dict):
        raise bad("data[%d].properties must be an object" % i)
    if "value" in props and not is_number(props["value"]):
        raise bad("data[%d].properties.value must be a number" % i)
    cur = props.get("currency")
    if cur is not None and (not isinstance(cur, str) or not re.match(r"^[A-Z]{3}$", cur)):
        raise bad("data[%d].properties.currency must be an ISO 4217 code" % i)
    contents = props.get("contents")
    if contents is None:
        return
    if not isinstance(contents, list):
        raise bad("data[%d].properties.contents must be an array" % i)
    for c in contents:
        if not isinstance(c, dict) or not isinstance(c.get("content_id"), str):
            raise bad("data[%d].properties.contents: content_id is required" % i)
        if "price" in c and not is_number(c["price"]):
            raise bad("data[%d].properties.contents: price must be a number" % i)
        q = c.get("quantity")
        if q is not None and (not isinstance(q, int) or isinstance(q, bool) or q < 1):
            raise bad("data[%d].properties.contents: quantity must be a positive integer" % i)


def check_event(i, ev, names):
    if not isinstance(ev, dict):
        raise bad("data[%d] must be an object" % i)
    if ev.get("event") not in names:
        raise bad("data[%d].event %r is not a supported event" % (i, ev.get("event")))
    t = ev.get("event_time")
    if isinstance(t, bool) or not isinstance(t, int):
        raise bad("data[%d].event_time must be an integer (unix seconds)" % i)
    if not isinstance(ev.get("event_id"), str) or not ev["event_id"]:
        raise bad("data[%d].event_id must be a non-empty string" % i)
    if "user" in ev:
        check_user(i, ev["user"])
    if "properties" in ev:
        check_properties(i, ev["properties"])
    page = ev.get("page")
    if page is not None and (not isinstance(page, dict) or not isinstance(page.get("url"), str)):
        raise bad("data[%d].page.url must be a string" % i)


def check_body(payload, config):
    """The events of a valid request; raise Refusal otherwise."""
    if not isinstance(payload, dict):
        raise bad("The request body must be a JSON object.")
    if payload.get("event_source") != "web":
        raise bad("event_source must be \"web\".")
    if not isinstance(payload.get("event_source_id"), str) or \
            not PIXEL_RE.match(payload["event_source_id"]):
        raise bad("event_source_id must be a pixel code.")
    tec = payload.get("test_event_code")
    if tec is not None and (not isinstance(tec, str) or not tec):
        raise bad("test_event_code must be a non-empty string.")
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise bad("data must be a non-empty array.")
    if len(data) > MAX_EVENTS:
        raise bad("data holds %d events; at most %d are allowed." % (len(data), MAX_EVENTS))
    names = STANDARD_EVENTS | set(config["extra_events"])
    for i, ev in enumerate(data):
        check_event(i, ev, names)
    needle = config["reject_event_ids_containing"]
    if needle:
        for ev in data:
            if needle in ev["event_id"]:
                raise bad("Invalid event: event_id %s was rejected." % ev["event_id"])
    return data


class Handler(fake_common.Handler):
    server_version = "fake-tiktok/1"
    sys_version = ""
    max_body = MAX_BODY

    def do_GET(self):
        url = urlsplit(self.path)
        state = self.server.state
        if url.path == "/_control/requests":
            since = int(parse_qs(url.query).get("since", ["0"])[0])
            with state.lock:
                reqs = list(state.since(max(0, since)))
            self.send_json(200, reqs)
        elif url.path == "/_control/events":
            with state.lock:
                body = {"accepted": dict(state.accepted), "total": state.total_accepted}
            self.send_json(200, body)
        elif url.path == "/_control/stats":
            self.send_json(200, state.stats())
        elif url.path == "/_control/config":
            with state.lock:
                self.send_json(200, state.snapshot())
        else:
            self.send_json(404, {"code": 40400, "message": "Not found."})

    def do_POST(self):
        try:
            raw = self.read_body()
        except ValueError as exc:
            self.close_connection = True
            self.send_json(400, {"error": str(exc)})
            return
        url = urlsplit(self.path)
        if url.path.startswith("/_control/"):
            self.control(url.path, raw)
        elif url.path == TRACK_PATH:
            self.track(url.path, raw)
        else:
            self.send_json(404, {"code": 40400, "message": "Not found."})

    def control(self, path, raw):
        state = self.server.state
        if path == "/_control/reset":
            state.reset()
            self.send_json(200, {"status": "reset"})
            return
        if path != "/_control/config":
            self.send_json(404, {"error": "not found"})
            return
        try:
            changes = json.loads(raw or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("config must be a JSON object")
            self.send_json(200, state.update_config(changes))
        except ValueError as exc:
            self.send_json(400, {"error": str(exc)})

    def track(self, path, raw):
        state = self.server.state
        config, forced = state.begin()
        entry = None
        accepted = []
        try:
            if config["stall_seconds"]:
                time.sleep(config["stall_seconds"])
            entry, accepted, status, body, headers = self.answer(path, raw, config, forced)
            self.send_json(status, body, headers)
        finally:
            state.end(entry, accepted)

    def answer(self, path, raw, config, forced):
        """Decide one event request: (entry, accepted ids, status, body, headers)."""
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        token = self.headers.get("Access-Token")
        expected = config["token"]
        token_ok = bool(token) and (expected is None or token == expected)
        data = payload.get("data") if isinstance(payload, dict) else None
        events = [ev for ev in data if isinstance(ev, dict)] if isinstance(data, list) else []
        entry = {
            "time": time.time(), "path": path,
            "pixel": payload.get("event_source_id") if isinstance(payload, dict) else None,
            "events": len(data) if isinstance(data, list) else 0,
            "event_ids": [ev.get("event_id") for ev in events],
            "event_names": [ev.get("event") for ev in events],
            "test_event_code": payload.get("test_event_code")
            if isinstance(payload, dict) else None,
            "token_ok": token_ok,
            "content_type": self.headers.get("Content-Type"),
            "body": raw.decode("utf-8", "replace"),
        }
        outage = config["fail_status"] if time.time() < config["fail_until"] else None
        accepted = []
        headers = {}
        try:
            if forced is not None or outage is not None:
                raise injected(forced if forced is not None else outage)
            if not token_ok:
                raise Refusal(40105, CODE_MESSAGES[40105])
            data = check_body(payload, config)
            accepted = [ev["event_id"] for ev in data]
            status, body = 200, {"code": 0, "message": "OK"}
        except Refusal as r:
            status, body = r.http_status, {"code": r.code, "message": r.message}
            if status in (429, 503) and config["retry_after"] is not None:
                headers["Retry-After"] = str(int(config["retry_after"]))
        body["request_id"] = secrets.token_hex(12)
        body["data"] = {}
        entry.update(http_status=status, code=body["code"], message=body["message"])
        return entry, accepted, status, body, headers


def add_args(ap):
    ap.add_argument("--token", default=None,
                    help="expected access token (default: any non-empty token)")


def setup(server, args):
    server.state = State(args.token)


def main(argv=None):
    return fake_common.serve(Handler, "Fake TikTok Events API server.", setup, add_args, argv)


if __name__ == "__main__":
    sys.exit(main())
