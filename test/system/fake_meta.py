#!/usr/bin/python3
"""A fake Meta Graph API (Conversions API events edge) for system tests,
the demo and the benchmark.

It answers ``POST /v{X}/{pixel_id}/events`` like Meta does for the parts
AdsEngineer relies on (PLATFORMS.md, "Meta Conversions API"): the body is
a form (``data=<JSON array>&test_event_code=...&access_token=...
&appsecret_proof=...``, application/x-www-form-urlencoded) or a JSON
object with the same top-level fields; it is validated, a batch with one
bad event is rejected as a whole with HTTP 400 / error code 100, and an
accepted batch gets ``{"events_received": N, "messages": [],
"fbtrace_id": ...}``.

The access token must travel in the body.  A token in the query string is
refused (400 / code 190), stricter than Meta, because proxies log URLs:
a client that puts it there fails the tests.  With an app secret
(``--app-secret`` or the ``app_secret`` config key) every request must
carry ``appsecret_proof`` = hex HMAC-SHA256 of the token keyed with the
secret, else 400 / code 100 as Meta answers.  Failures can be injected through a small JSON
control API, and everything it answered is recorded so tests can check
what reached "Meta" exactly once.

Usage::

    fake_meta.py --port 0 [--host 127.0.0.1] [--token T] [--app-secret S]
                 [--no-bodies]

The first line on stdout is ``PORT=<n>`` (flushed), so a test can start it
with ``--port 0`` and read the port it got.

Control API (JSON in and out):

``POST /_control/config``
    Merge any of: ``fail_next`` (list of HTTP statuses answered, in order,
    to the next event requests, with a Meta-shaped error body),
    ``retry_after`` (seconds in ``Retry-After`` on 429/503, default 1;
    null sends none),
    ``reject_event_ids_containing`` (substring: a batch holding such an
    event_id is rejected whole with 400 / code 100), ``stall_seconds``
    (sleep before answering event requests), ``token`` (expected access
    token; null accepts any non-empty token), ``app_secret`` (null: no
    appsecret_proof check), ``fail_status`` (an HTTP
    status answered to every event request for ``fail_for_seconds`` from
    now, to the pixels listed in ``fail_pixels`` or, when that is null, to
    all; an outage; with ``fail_event_ids_containing``, only requests
    carrying such an event_id fail: a platform that chokes on one event).
    Answers the whole config (``fail_until`` is when the outage ends, unix
    seconds).
``POST /_control/reset``
    Back to the startup config; forget every record.
``GET /_control/requests``
    Every event request: time, path (no token), pixel, status, events,
    event_ids, test_event_code, proof (whether appsecret_proof was sent)
    and, unless ``--no-bodies``, the body: the payload as JSON text
    without access_token and appsecret_proof.
    ``?since=K`` skips the first K.
``GET /_control/events``
    ``{"accepted": {event_id: times accepted}, "total": n}``.
``GET /_control/stats``
    Counts only: requests, by status, events accepted, duplicates, and
    ``inflight`` / ``max_inflight``: event requests being answered now and
    the most at once since startup or the last reset (tests that bound the
    client's concurrency, or act while a request is stalled, read these).

Standard library only; run by /usr/bin/python3.
"""

import codecs
import hashlib
import hmac
import json
import re
import secrets
import sys
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import fake_common

MAX_EVENTS = 1000
MAX_AGE_S = 7 * 24 * 3600
MAX_BODY = 64 * 1024 * 1024
DEFAULT_RETRY_AFTER = 1

EVENTS_PATH = re.compile(r"^/(v\d+\.\d+)/([^/]+)/events/?$")

ACTION_SOURCES = {
    "email", "website", "app", "phone_call", "chat", "physical_store",
    "system_generated", "business_messaging", "other",
}

# Meta-shaped errors for injected statuses: (code, type, message, transient).
INJECTED_ERRORS = {
    400: (100, "OAuthException", "Invalid parameter", False),
    401: (190, "OAuthException", "Error validating access token", False),
    403: (10, "OAuthException", "Permission denied", False),
    408: (2, "OAuthException", "Request timed out", True),
    429: (4, "OAuthException", "Application request limit reached", True),
    500: (1, "OAuthException", "An unknown error occurred", True),
    502: (2, "OAuthException", "Service temporarily unavailable", True),
    503: (2, "OAuthException", "Service temporarily unavailable", True),
    504: (2, "OAuthException", "Service temporarily unavailable", True),
}

CONFIG_KEYS = {"fail_next", "retry_after", "reject_event_ids_containing",
               "stall_seconds", "token", "app_secret", "fail_status", "fail_for_seconds",
               "fail_pixels", "fail_event_ids_containing"}

# Body fields that are credentials: never recorded.
SECRET_FIELDS = ("access_token", "appsecret_proof")


def fbtrace_id():
    """A random id in the style of Meta's fbtrace_id."""
    return secrets.token_urlsafe(8)


def error_body(code, message, etype="OAuthException", subcode=None,
               transient=False, user_msg=None):
    """The JSON error object the Graph API answers with."""
    err = {"message": message, "type": etype, "code": code,
           "is_transient": transient, "fbtrace_id": fbtrace_id()}
    if subcode is not None:
        err["error_subcode"] = subcode
    if user_msg is not None:
        err["error_user_title"] = "Invalid parameter"
        err["error_user_msg"] = user_msg
    return {"error": err}


class Rejection(Exception):
    """A request Meta would refuse: the HTTP status and the error body."""

    def __init__(self, status, body):
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body


def invalid(user_msg, subcode=None):
    """A 400 / code 100 rejection of the whole batch."""
    return Rejection(400, error_body(100, "Invalid parameter",
                                     subcode=subcode, user_msg=user_msg))


class State(fake_common.FakeState):
    """Configuration and records, shared by the handler threads.

    Every access goes through ``lock``; sleeping happens outside it.
    """

    def __init__(self, token, record_bodies, app_secret=None):
        self.start_token = token
        self.start_app_secret = app_secret
        self.record_bodies = record_bodies
        # Not cleared by reset: requests still stalling will leave.
        self.inflight = 0
        super().__init__()

    def initial_config(self):
        return {"fail_next": [], "retry_after": DEFAULT_RETRY_AFTER,
                "reject_event_ids_containing": None,
                "stall_seconds": 0, "token": self.start_token,
                "app_secret": self.start_app_secret,
                "fail_status": None, "fail_until": 0, "fail_pixels": None,
                "fail_event_ids_containing": None}

    def clear(self):
        super().clear()
        self.accepted = {}
        self.total_accepted = 0
        self.by_status = {}
        self.max_inflight = self.inflight

    def enter(self):
        """An event request arrived (before any stall)."""
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)

    def leave(self):
        """An event request was answered (or its client went away)."""
        with self.lock:
            self.inflight -= 1

    def update_config(self, changes):
        """Validate and merge a config change; raise ValueError if bad."""
        unknown = set(changes) - CONFIG_KEYS
        if unknown:
            raise ValueError("unknown config keys: %s" % ", ".join(sorted(unknown)))
        if "fail_next" in changes:
            fake_common.check_fail_next(changes["fail_next"], fake_common.HTTP_STATUSES)
        for key in ("retry_after", "stall_seconds", "fail_for_seconds"):
            if key in changes:
                v = changes[key]
                if v is None and key == "retry_after":
                    continue
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    raise ValueError("%s must be a number >= 0" % key)
        self.check_outage(changes)
        for key in ("reject_event_ids_containing", "token", "app_secret",
                    "fail_event_ids_containing"):
            if key in changes and changes[key] is not None and (
                    not isinstance(changes[key], str) or changes[key] == ""):
                raise ValueError("%s must be a non-empty string or null" % key)
        with self.lock:
            for key, value in changes.items():
                if key == "fail_for_seconds":
                    self.config["fail_until"] = time.time() + value
                elif key in ("fail_next", "fail_pixels") and value is not None:
                    self.config[key] = list(value)
                else:
                    self.config[key] = value
            return self.snapshot_config()

    @staticmethod
    def check_outage(changes):
        """Validate fail_status and fail_pixels; raise ValueError if bad."""
        status = changes.get("fail_status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)
                                   or not 100 <= status <= 599):
            raise ValueError("fail_status must be an HTTP status or null")
        pixels = changes.get("fail_pixels")
        if pixels is not None and (not isinstance(pixels, list) or not all(
                isinstance(p, str) for p in pixels)):
            raise ValueError("fail_pixels must be a list of pixel ids or null")

    def snapshot_config(self):
        """A copy of the config; call with the lock held."""
        snap = dict(self.config)
        snap["fail_next"] = list(snap["fail_next"])
        if snap["fail_pixels"] is not None:
            snap["fail_pixels"] = list(snap["fail_pixels"])
        return snap

    def begin_event_request(self):
        """The settings one event request runs with, popping one fail_next."""
        with self.lock:
            snap = self.snapshot_config()
            forced = fake_common.pop_fail(self.config)
        return snap, forced

    def record(self, entry, accepted_ids):
        """Record one answered event request and, if accepted, its events."""
        with self.lock:
            self.record_request(entry)
            key = str(entry["status"])
            self.by_status[key] = self.by_status.get(key, 0) + 1
            for eid in accepted_ids:
                self.accepted[eid] = self.accepted.get(eid, 0) + 1
            self.total_accepted += len(accepted_ids)

    def stats(self):
        with self.lock:
            return {
                "requests": len(self.requests),
                "by_status": dict(self.by_status),
                "events_accepted": self.total_accepted,
                "unique_event_ids": len(self.accepted),
                "duplicates": sum(c - 1 for c in self.accepted.values()),
                "inflight": self.inflight,
                "max_inflight": self.max_inflight,
            }


def validate_batch(payload, now):
    """Check a decoded body like Meta would; return the events or raise."""
    if not isinstance(payload, dict):
        raise invalid("The request body must be a JSON object.")
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise invalid("The parameter data is required and must be a non-empty array.")
    if len(data) > MAX_EVENTS:
        raise invalid("A batch may hold at most %d events." % MAX_EVENTS)
    tec = payload.get("test_event_code")
    if tec is not None and (not isinstance(tec, str) or not tec):
        raise invalid("test_event_code must be a non-empty string.")
    for i, ev in enumerate(data):
        validate_event(i, ev, now)
    return data


def validate_event(i, ev, now):
    """One event's required parameters (Meta's server event parameters)."""
    if not isinstance(ev, dict):
        raise invalid("Event %d is not an object." % i)
    name = ev.get("event_name")
    if not isinstance(name, str) or not name:
        raise invalid("Event %d: event_name is required." % i)
    t = ev.get("event_time")
    if isinstance(t, bool) or not isinstance(t, int):
        raise invalid("Event %d: event_time must be an integer (unix seconds)." % i)
    if t < now - MAX_AGE_S:
        raise invalid("Event %d: event_time is more than 7 days in the past." % i,
                      subcode=2804003)
    source = ev.get("action_source")
    if source not in ACTION_SOURCES:
        raise invalid("Event %d: action_source is missing or not valid." % i)
    ud = ev.get("user_data")
    if not isinstance(ud, dict):
        raise invalid("Event %d: user_data is required and must be an object." % i)
    if source == "website":
        if not isinstance(ev.get("event_source_url"), str):
            raise invalid("Event %d: event_source_url is required for website events." % i)
        if not isinstance(ud.get("client_user_agent"), str):
            raise invalid("Event %d: client_user_agent is required for website events." % i)
    cd = ev.get("custom_data")
    if cd is not None:
        if not isinstance(cd, dict):
            raise invalid("Event %d: custom_data must be an object." % i)
        value = cd.get("value")
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, (int, float))):
            raise invalid("Event %d: custom_data.value must be a number." % i)
    eid = ev.get("event_id")
    if eid is not None and not isinstance(eid, str):
        raise invalid("Event %d: event_id must be a string." % i)


def form_unquote(b):
    """Percent-decode one form name or value (bytes, '+' already a space).

    Done by codecs.escape_decode in C: parse_qs' pure-Python unquote would
    make the fake the bottleneck of bench/deliver (1000-event bodies).
    Raises ValueError on a bad %XX.
    """
    if b"%" not in b:
        return b
    if b"\\" in b:  # never from adsengd, which encodes it as %5C
        b = b.replace(b"\\", b"\\\\")
    return codecs.escape_decode(b.replace(b"%", b"\\x"))[0]


def decode_body(raw, content_type):
    """The request's top-level fields as a dict, or None if unreadable.

    A form body (what AdsEngineer sends) holds ``data`` as JSON text; a
    JSON body holds the same fields as an object.
    """
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        fields = {}
        try:
            if b"+" in raw:  # adsengd encodes a space as %20, others as +
                raw = raw.replace(b"+", b" ")
            for pair in raw.split(b"&"):
                name, eq, value = pair.partition(b"=")
                name = form_unquote(name).decode("utf-8")
                if not eq or not name or name in fields:
                    return None
                value = form_unquote(value).decode("utf-8")
                fields[name] = json.loads(value) if name == "data" else value
        except ValueError:  # bad %XX, bad UTF-8 or bad JSON
            return None
        return fields
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def appsecret_proof(token, app_secret):
    """Meta's appsecret_proof: hex HMAC-SHA256 of the token keyed with the secret."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def outage_status(config, path, payload):
    """The status an outage (fail_status) answers to this request, or None.
    payload is the decoded body (decode_body) or None."""
    if config["fail_status"] is None or time.time() >= config["fail_until"]:
        return None
    m = EVENTS_PATH.match(path)
    if config["fail_pixels"] is not None and (not m or m.group(2) not in config["fail_pixels"]):
        return None
    needle = config["fail_event_ids_containing"]
    if needle:
        # The decoded event ids: in a form body the id's bytes are
        # percent-encoded, so the raw body may not contain them.
        data = payload.get("data") if isinstance(payload, dict) else None
        ids = [ev.get("event_id") for ev in data if isinstance(ev, dict)] \
            if isinstance(data, list) else []
        if not any(isinstance(i, str) and needle in i for i in ids):
            return None
    return config["fail_status"]


class Handler(fake_common.Handler):
    """One connection; HTTP/1.1 keep-alive, every answer has a length."""

    server_version = "fake-meta/1"
    sys_version = ""
    json_type = "application/json; charset=UTF-8"
    max_body = MAX_BODY

    # ---- routing ----

    def do_GET(self):
        url = urlsplit(self.path)
        state = self.server.state
        if url.path == "/_control/requests":
            try:
                since = max(0, int(parse_qs(url.query).get("since", ["0"])[0]))
            except ValueError:
                self.send_json(400, {"error": "since must be an integer"})
                return
            with state.lock:
                reqs = list(state.since(since))
            self.send_json(200, reqs)
        elif url.path == "/_control/events":
            with state.lock:
                body = {"accepted": dict(state.accepted), "total": state.total_accepted}
            self.send_json(200, body)
        elif url.path == "/_control/stats":
            self.send_json(200, state.stats())
        elif url.path == "/_control/config":
            with state.lock:
                self.send_json(200, state.snapshot_config())
        else:
            self.send_json(404, {"error": "not found"})

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
            return
        self.server.state.enter()
        try:
            self.events(url, raw)
        finally:
            self.server.state.leave()

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

    # ---- the events edge ----

    def events(self, url, raw):
        state = self.server.state
        query = parse_qs(url.query)
        token_in_query = "access_token" in query
        logged_query = urlencode([(k, v) for k, vs in query.items()
                                  if k not in SECRET_FIELDS for v in vs])
        payload = decode_body(raw, self.headers.get("Content-Type", ""))
        entry = {
            "time": time.time(),
            "path": url.path + ("?" + logged_query if logged_query else ""),
            "pixel": None,
            "status": None,
            "events": 0,
            "event_ids": [],
            "test_event_code": None,
            "proof": bool(payload and "appsecret_proof" in payload),
        }
        if state.record_bodies:
            if payload is None:
                entry["body"] = raw.decode("utf-8", "replace")
            else:
                entry["body"] = json.dumps({k: v for k, v in payload.items()
                                            if k not in SECRET_FIELDS})
        config, forced = state.begin_event_request()
        if forced is None:
            forced = outage_status(config, url.path, payload)
        if config["stall_seconds"]:
            time.sleep(config["stall_seconds"])
        accepted = []
        headers = {}
        try:
            payload = self.check_request(url.path, token_in_query, payload, config,
                                         forced, entry)
            data = payload["data"]
            accepted = [ev.get("event_id") or "" for ev in data]
            status, body = 200, {"events_received": len(data), "messages": [],
                                 "fbtrace_id": fbtrace_id()}
        except Rejection as rej:
            status, body = rej.status, rej.body
            if status in (429, 503) and config["retry_after"] is not None:
                headers["Retry-After"] = str(int(config["retry_after"]))
        entry["status"] = status
        state.record(entry, accepted)
        self.send_json(status, body, headers)

    def check_request(self, path, token_in_query, payload, config, forced, entry):
        """Decide the answer to one event request; raise Rejection to refuse.

        payload is the decoded body (None if unreadable).  Fills entry's
        pixel, events, event_ids and test_event_code as far as the request
        could be read.
        """
        m = EVENTS_PATH.match(path)
        if m:
            entry["pixel"] = m.group(2)
        if isinstance(payload, dict):
            data = payload.get("data")
            if isinstance(data, list):
                entry["events"] = len(data)
                entry["event_ids"] = [ev.get("event_id") if isinstance(ev, dict) else None
                                      for ev in data]
            entry["test_event_code"] = payload.get("test_event_code")
        if forced is not None:
            code, etype, message, transient = INJECTED_ERRORS.get(
                forced, (1, "OAuthException", "An unknown error occurred", forced >= 500))
            raise Rejection(forced, error_body(code, message, etype, transient=transient))
        if not m:
            raise Rejection(400, error_body(
                100, "Unsupported post request.", "GraphMethodException", subcode=33))
        if token_in_query:
            raise Rejection(400, error_body(
                190, "access_token in the URL: send it in the request body "
                "(refused by the fake Meta: proxies log query strings)"))
        token = payload.get("access_token") if isinstance(payload, dict) else None
        expected = config["token"]
        if not isinstance(token, str) or not token or (
                expected is not None and token != expected):
            raise Rejection(400, error_body(
                190, "Invalid OAuth access token - Cannot parse access token"))
        if config["app_secret"] is not None:
            proof = payload.get("appsecret_proof")
            if not isinstance(proof, str) or not hmac.compare_digest(
                    proof, appsecret_proof(token, config["app_secret"])):
                raise Rejection(400, error_body(
                    100, "Invalid appsecret_proof provided in the API argument",
                    "GraphMethodException"))
        if not m.group(2).isdigit():
            raise Rejection(400, error_body(
                100, "Unsupported post request. Object with ID '%s' does not exist"
                % m.group(2), "GraphMethodException", subcode=33))
        if payload is None:
            raise invalid("The request body is neither a form nor a JSON object.")
        data = validate_batch(payload, int(time.time()))
        needle = config["reject_event_ids_containing"]
        if needle:
            for ev in data:
                if needle in (ev.get("event_id") or ""):
                    raise invalid("Event %s was rejected." % ev.get("event_id"))
        return payload


def add_args(ap):
    ap.add_argument("--token", default=None,
                    help="expected access token (default: any non-empty token)")
    ap.add_argument("--app-secret", default=None,
                    help="app secret: require a matching appsecret_proof")
    ap.add_argument("--no-bodies", action="store_true",
                    help="do not keep request bodies (benchmarks)")


def setup(server, args):
    server.state = State(args.token, not args.no_bodies, args.app_secret)


def main(argv=None):
    return fake_common.serve(Handler, "Fake Meta Conversions API server.", setup, add_args,
                             argv)


if __name__ == "__main__":
    sys.exit(main())
