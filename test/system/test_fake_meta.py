"""Checks of the fake Meta server itself (fake_meta.py), so system tests
that rely on it rely on something verified: it accepts a valid batch and
counts its events, answers injected failures in order with Meta-shaped
bodies, and rejects a whole batch the way Meta does.

Run with: pytest test/system/test_fake_meta.py
"""

import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import time
from urllib.parse import urlencode

import pytest

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_meta.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
TOKEN = "tok/en+1"
EVENTS_PATH = "/v24.0/123/events"


@pytest.fixture
def fake():
    """A running fake on a free port; yields (port, proc)."""
    proc = subprocess.Popen([PYTHON, FAKE, "--port", "0", "--token", TOKEN],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("PORT="), line
        yield int(line[5:])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def form(obj, token=TOKEN, **extra):
    """An events request as AdsEngineer sends it: a form, data as JSON text,
    the token (and any extra field) as fields."""
    fields = {k: (json.dumps(v) if k == "data" else v) for k, v in obj.items()}
    if token is not None:
        fields["access_token"] = token
    fields.update(extra)
    return urlencode(fields).encode()


def request(port, method, path, obj=None, conn=None, raw=None):
    """One request; returns (status, headers, decoded JSON body).

    obj goes as JSON to the control API and as a form (with the token) to
    the events edge; raw (bytes) is sent as a form unchanged."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {}
    body = raw
    if obj is not None and path.startswith("/_control/"):
        body = json.dumps(obj).encode()
        headers = {"Content-Type": "application/json"}
    elif obj is not None:
        body = form(obj)
    if body is not None and not headers:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if own:
        conn.close()
    return resp.status, resp.headers, json.loads(data)


def event(event_id, age_s=60):
    return {"event_name": "Purchase", "event_time": int(time.time()) - age_s,
            "event_id": event_id, "action_source": "system_generated",
            "user_data": {"em": ["0" * 64]},
            "custom_data": {"value": 129.90, "currency": "USD"}}


def test_accepts_and_records(fake):
    conn = http.client.HTTPConnection("127.0.0.1", fake, timeout=10)
    batch = {"data": [event("a"), event("b")], "test_event_code": "TEST1"}
    status, _, body = request(fake, "POST", EVENTS_PATH, batch, conn)
    assert status == 200
    assert body["events_received"] == 2 and body["messages"] == [] and body["fbtrace_id"]
    # A resend on the same keep-alive connection counts as a duplicate.
    status, _, _ = request(fake, "POST", EVENTS_PATH, {"data": [event("a")]}, conn)
    assert status == 200
    conn.close()

    _, _, events = request(fake, "GET", "/_control/events")
    assert events == {"accepted": {"a": 2, "b": 1}, "total": 3}
    _, _, reqs = request(fake, "GET", "/_control/requests")
    assert len(reqs) == 2
    assert reqs[0]["path"] == "/v24.0/123/events"
    assert reqs[0]["pixel"] == "123" and reqs[0]["status"] == 200
    assert reqs[0]["event_ids"] == ["a", "b"] and reqs[0]["test_event_code"] == "TEST1"
    assert TOKEN not in json.dumps(reqs) and "tok%2F" not in json.dumps(reqs)
    assert reqs[0]["proof"] is False
    assert json.loads(reqs[0]["body"]) == batch
    _, _, stats = request(fake, "GET", "/_control/stats")
    assert stats["duplicates"] == 1 and stats["by_status"] == {"200": 2}


def test_fail_next_in_order(fake):
    status, _, cfg = request(fake, "POST", "/_control/config",
                             {"fail_next": [503, 500], "retry_after": 7})
    assert status == 200 and cfg["fail_next"] == [503, 500]

    status, headers, body = request(fake, "POST", EVENTS_PATH, {"data": [event("x")]})
    assert status == 503 and headers["Retry-After"] == "7"
    assert body["error"]["code"] == 2 and body["error"]["is_transient"] is True
    status, headers, body = request(fake, "POST", EVENTS_PATH, {"data": [event("x")]})
    assert status == 500 and "Retry-After" not in headers
    status, _, _ = request(fake, "POST", EVENTS_PATH, {"data": [event("x")]})
    assert status == 200
    _, _, events = request(fake, "GET", "/_control/events")
    assert events["accepted"] == {"x": 1}

    request(fake, "POST", "/_control/reset", {})
    _, _, stats = request(fake, "GET", "/_control/stats")
    assert stats["requests"] == 0 and stats["events_accepted"] == 0


def test_rejects_whole_batch(fake):
    request(fake, "POST", "/_control/config", {"reject_event_ids_containing": "bad"})
    status, _, body = request(fake, "POST", EVENTS_PATH,
                              {"data": [event("ok-1"), event("a-bad-one"), event("ok-2")]})
    assert status == 400 and body["error"]["code"] == 100
    status, _, _ = request(fake, "POST", EVENTS_PATH, {"data": [event("ok-1")]})
    assert status == 200
    _, _, events = request(fake, "GET", "/_control/events")
    assert events["accepted"] == {"ok-1": 1}


def test_validates_like_meta(fake):
    cases = [
        (EVENTS_PATH, {"data": [event("old", age_s=8 * 24 * 3600)]}, 400, 100),
        (EVENTS_PATH, {"data": []}, 400, 100),
        (EVENTS_PATH, {"data": [event(str(i)) for i in range(1001)]}, 400, 100),
        (EVENTS_PATH, {"data": [dict(event("w"), action_source="website")]}, 400, 100),
        (EVENTS_PATH, {"data": [{k: v for k, v in event("u").items() if k != "user_data"}]},
         400, 100),
    ]
    for path, batch, want_status, want_code in cases:
        status, _, body = request(fake, "POST", path, batch)
        assert (status, body["error"]["code"]) == (want_status, want_code), batch
    ok = {"data": [event("t")]}
    for raw in (form(ok, token="wrong"), form(ok, token=None), form(ok, token=""), b"junk"):
        status, _, body = request(fake, "POST", EVENTS_PATH, raw=raw)
        assert (status, body["error"]["code"]) == (400, 190), raw
    _, _, events = request(fake, "GET", "/_control/events")
    assert events["total"] == 0


def test_token_only_in_the_body(fake):
    """A token in the query string is refused even when the body has it
    too (proxies log URLs); a JSON body with access_token is read too."""
    ok = {"data": [event("q")]}
    for path in ("/v24.0/123/events?access_token=tok%2Fen%2B1",
                 "/v24.0/123/events?access_token=other"):
        status, _, body = request(fake, "POST", path, raw=form(ok))
        assert (status, body["error"]["code"]) == (400, 190)
        assert "URL" in body["error"]["message"]
    conn = http.client.HTTPConnection("127.0.0.1", fake, timeout=10)
    conn.request("POST", EVENTS_PATH, body=json.dumps(dict(ok, access_token=TOKEN)),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    resp.read()
    conn.close()
    _, _, events = request(fake, "GET", "/_control/events")
    assert events["accepted"] == {"q": 1}


def test_appsecret_proof(fake):
    """With an app secret, only a matching appsecret_proof passes."""
    secret = "app-secret-1"
    good = hmac.new(secret.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    ok = {"data": [event("p")]}
    # No secret configured: a proof is not required.
    status, _, _ = request(fake, "POST", EVENTS_PATH, raw=form(ok))
    assert status == 200
    request(fake, "POST", "/_control/config", {"app_secret": secret})
    for raw in (form(ok), form(ok, appsecret_proof="0" * 64),
                form(ok, appsecret_proof=good.upper()),
                form(ok, appsecret_proof=hmac.new(b"other", TOKEN.encode(),
                                                  hashlib.sha256).hexdigest())):
        status, _, body = request(fake, "POST", EVENTS_PATH, raw=raw)
        assert (status, body["error"]["code"]) == (400, 100), raw
        assert "appsecret_proof" in body["error"]["message"]
    status, _, _ = request(fake, "POST", EVENTS_PATH, raw=form(ok, appsecret_proof=good))
    assert status == 200
    _, _, reqs = request(fake, "GET", "/_control/requests")
    assert [r["proof"] for r in reqs] == [False, False, True, True, True, True]
    assert good not in json.dumps(reqs) and TOKEN not in json.dumps(reqs)
def test_outage_of_one_pixel(fake):
    """fail_status for fail_for_seconds, only for the pixels in fail_pixels;
    retry_after null sends no Retry-After."""
    status, _, cfg = request(fake, "POST", "/_control/config",
                             {"fail_status": 503, "fail_for_seconds": 1.5,
                              "fail_pixels": ["123"], "retry_after": None})
    assert status == 200 and cfg["fail_pixels"] == ["123"] and cfg["fail_until"] > time.time()
    status, headers, body = request(fake, "POST", EVENTS_PATH, {"data": [event("a")]})
    assert status == 503 and body["error"]["is_transient"] is True
    assert headers.get("Retry-After") is None
    other = EVENTS_PATH.replace("/123/", "/456/")
    assert request(fake, "POST", other, {"data": [event("b")]})[0] == 200
    time.sleep(1.6)  # the outage is over
    assert request(fake, "POST", EVENTS_PATH, {"data": [event("c")]})[0] == 200
    # Only requests carrying a given event.
    request(fake, "POST", "/_control/config", {"fail_for_seconds": 60, "fail_pixels": None,
                                               "fail_event_ids_containing": ":666"})
    assert request(fake, "POST", EVENTS_PATH, {"data": [event("x:6660"), event("d")]})[0] == 503
    assert request(fake, "POST", EVENTS_PATH, {"data": [event("e")]})[0] == 200
    for bad in ({"fail_status": "503"}, {"fail_pixels": "123"}, {"fail_for_seconds": -1}):
        assert request(fake, "POST", "/_control/config", bad)[0] == 400
