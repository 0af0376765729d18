"""System tests of the TikTok Events API destination: Shopify orders through
adsengd to the fake TikTok (fake_tiktok.py), which answers every error with
HTTP 200 and a non-zero code, as TikTok does."""

import hashlib
import json
import time
import urllib.request

from harness import Stack, shopify_order


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def tiktok_stack(make_stack, tiktok, paused=False, **conf):
    stack = make_stack(**conf)
    stack.dest_id = stack.add_tiktok_destination("tt1", tiktok, paused=paused)
    return stack.start()


def attempts(stack):
    return stack.sql("SELECT outcome, platform_code, coalesce(error, '') FROM delivery_attempts"
                     " ORDER BY at")


def test_shopify_order_to_tiktok(make_stack, tiktok):
    stack = tiktok_stack(make_stack, tiktok)
    assert stack.post_shopify(shopify_order(5551234567890))[0] == 200
    stack.wait_states({"delivered": 1})
    reqs = tiktok.requests()
    assert len(reqs) == 1
    r = reqs[0]
    assert r["code"] == 0 and r["http_status"] == 200
    assert r["token_ok"] and r["content_type"] == "application/json"
    assert r["pixel"] == Stack.TIKTOK_PIXEL
    body = json.loads(r["body"])
    assert body["event_source"] == "web"
    assert body["event_source_id"] == Stack.TIKTOK_PIXEL
    assert "test_event_code" not in body
    assert len(body["data"]) == 1
    ev = body["data"][0]
    assert ev["event"] == "CompletePayment"
    assert ev["event_id"] == "shopify:order:5551234567890"
    assert isinstance(ev["event_time"], int)
    user = ev["user"]
    # TikTok's scheme: email trimmed and lower-cased, phone E.164 with '+'
    # (Meta's hash of the same phone, without '+', must not appear).
    assert user["email"] == [sha("ana.silva@example.com")]
    assert user["phone"] == [sha("+14155550132")]
    assert sha("14155550132") not in r["body"]
    assert user["external_id"] == [sha("7001122334455")]
    assert user["ttclid"] == "E.C.P.v3Qx9k2LmN"
    assert user["ip"] == "203.0.113.24"
    assert user["user_agent"].startswith("Mozilla/5.0")
    props = ev["properties"]
    assert props["currency"] == "USD"
    assert props["content_type"] == "product"
    assert isinstance(props["order_id"], str) and props["order_id"]
    assert [(c["content_id"], c["quantity"]) for c in props["contents"]] == [
        ("LIN-SHIRT-M", 2), ("CAP-01", 1)]
    # Money as its exact text, never through a double.
    assert '"value":129.90' in r["body"]
    assert '"price":49.95' in r["body"]
    assert ev["page"]["url"].startswith("https://shop.example/products/linen-shirt")
    # No clear identifier left the process.
    for clear in ("ana.silva@example.com", "Ana.Silva", "+1415", "555-0132", "Silva"):
        assert clear not in r["body"]
    assert tiktok.accepted() == {"shopify:order:5551234567890": 1}


def test_rate_limit_retried_then_delivered(make_stack, tiktok):
    stack = tiktok_stack(make_stack, tiktok)
    tiktok.config(fail_next=[40100])
    assert stack.post_shopify(shopify_order(4010001))[0] == 200
    stack.wait_states({"delivered": 1})
    codes = [r["code"] for r in tiktok.requests()]
    assert codes == [40100, 0]
    rows = attempts(stack)
    assert rows[0][0] == "retry" and rows[0][1] == "40100"
    assert "Too many requests" in rows[0][2]
    assert rows[-1][0] == "delivered"
    assert tiktok.accepted() == {"shopify:order:4010001": 1}


def test_system_error_retried(make_stack, tiktok):
    stack = tiktok_stack(make_stack, tiktok)
    tiktok.config(fail_next=[50000, 503])
    assert stack.post_shopify(shopify_order(5000001))[0] == 200
    stack.wait_states({"delivered": 1})
    assert [r["code"] for r in tiktok.requests()][-1] == 0
    assert [r[1] for r in attempts(stack)][:1] == ["50000"]


def test_single_rejected_event_fails_with_message(make_stack, tiktok):
    stack = tiktok_stack(make_stack, tiktok)
    tiktok.config(reject_event_ids_containing="666")
    assert stack.post_shopify(shopify_order(6661))[0] == 200
    stack.wait_states({"failed": 1})
    row = stack.sql("SELECT platform_code, last_error FROM deliveries")[0]
    assert row[0] == "40002"
    assert "Invalid event: event_id shopify:order:6661 was rejected." in row[1]
    assert "request_id" in row[1]
    # Failed means failed: one request, not retried.
    assert len(tiktok.requests()) == 1


def test_batch_with_one_bad_event_bisected(make_stack, tiktok):
    # As test_pipeline.test_batch_with_one_rejected_event: a paused
    # destination holds the deliveries, the resume releases them together,
    # and one worker thread claims them all, so they go out as one batch.
    stack = tiktok_stack(make_stack, tiktok, paused=True, workers__threads="1")
    tiktok.config(reject_event_ids_containing="666")
    ids = [1001, 1002, 6660, 1004, 1005]
    for i in ids:
        assert stack.post_shopify(shopify_order(i))[0] == 200
    stack.wait_states({"held": 5})
    stack.ctl("destination", "resume", stack.dest_id)
    stack.wait_states({"delivered": 4, "failed": 1})
    failed = stack.sql("SELECT c.event_id, d.last_error, d.platform_code FROM deliveries d"
                       " JOIN conversions c ON c.id = d.conversion_id WHERE d.state = 'failed'")
    assert failed[0][0] == "shopify:order:6660"
    assert "was rejected" in failed[0][1] and failed[0][2] == "40002"
    assert sorted(tiktok.accepted()) == sorted(
        "shopify:order:%d" % i for i in ids if i != 6660)
    reqs = tiktok.requests()
    assert len(reqs[0]["event_ids"]) == 5 and reqs[0]["code"] == 40002
    # Bisection: every accepted request carried only good events.
    for r in reqs:
        if r["code"] == 0:
            assert not any("666" in e for e in r["event_ids"])


def test_token_refused_pauses_destination(make_stack, tiktok):
    stack = tiktok_stack(make_stack, tiktok)
    tiktok.config(fail_next=[40105])
    assert stack.post_shopify(shopify_order(4010501))[0] == 200
    stack.wait_states({"held": 1})
    dests = stack.ctl("destination", "list", json_out=True)
    d = [x for x in dests if x["id"] == stack.dest_id][0]
    assert d["enabled"] in (False, "f", "false")
    assert "access token" in (d["paused_reason"] or "")
    # Resumed (the token fixed), the held delivery goes out.
    stack.ctl("destination", "resume", stack.dest_id)
    stack.wait_states({"delivered": 1})
    assert tiktok.accepted() == {"shopify:order:4010501": 1}


def test_test_mode_and_event_map(make_stack, tiktok):
    stack = make_stack()
    stack.dest_id = stack.add_tiktok_destination(
        "tt1", tiktok, test_event_code="TEST42",
        extra=("--event-map", "purchase=Purchase"))
    stack.start()
    order = shopify_order(7001, test=True)
    assert stack.post_shopify(order)[0] == 200
    stack.wait_states({"delivered": 1})
    body = json.loads(tiktok.requests()[0]["body"])
    assert body["test_event_code"] == "TEST42"
    assert body["data"][0]["event"] == "Purchase"
    # A test event code needs --test-mode, and the reverse.
    p = stack.ctl("destination", "add", "--tenant", "acme", "--kind", "tiktok", "--name", "x",
                  "--pixel-id", "P1", "--test-mode", "--credentials-file",
                  stack.dir + "/tiktok-tt1.json", check=False)
    assert p.returncode != 0 and "test event code" in p.stderr
    # A bad mapping is refused when the destination is added.
    p = stack.ctl("destination", "add", "--tenant", "acme", "--kind", "tiktok", "--name", "y",
                  "--pixel-id", "P1", "--event-map", "purchase=Complete Payment",
                  "--credentials-file", stack.dir + "/tiktok-tt1.json", check=False)
    assert p.returncode != 0 and "event_map" in p.stderr



def test_older_than_seven_days_dead_unsent(make_stack, tiktok):
    # TikTok's window is unconfirmed (PLATFORMS.md); 7 days, like Meta's.
    stack = tiktok_stack(make_stack, tiktok)
    created = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 8 * 86400))
    assert stack.post_shopify(shopify_order(8001, created_at=created))[0] == 200
    stack.wait_states({"dead": 1})
    assert "older than tiktok accepts (7 days" in stack.scalar("SELECT last_error FROM deliveries")
    assert tiktok.requests() == []


def test_fake_tiktok_refuses_what_tiktok_would(tiktok):
    # The fake must be able to fail a client: unhashed identifiers, a
    # missing token, unknown events and oversized batches are refused
    # (HTTP 200 with a code, as TikTok answers).
    def post(body, token=Stack.TIKTOK_TOKEN):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Access-Token"] = token
        req = urllib.request.Request(tiktok.url + "/open_api/v1.3/event/track/",
                                     data=json.dumps(body).encode(), headers=headers)
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
            return json.loads(r.read())["code"]

    def event(i=0, **kw):
        ev = {"event": "CompletePayment", "event_id": "e%d" % i, "event_time": 1795734251,
              "user": {"email": [sha("a@b.com")]}}
        ev.update(kw)
        return ev

    ok = {"event_source": "web", "event_source_id": "P1", "data": [event()]}
    assert post(ok) == 0
    assert post(ok, token=None) == 40105
    assert post(ok, token="wrong") == 40105
    assert post(dict(ok, event_source_id="")) == 40002
    assert post(dict(ok, event_source="app")) == 40002
    assert post(dict(ok, data=[event(user={"email": ["a@b.com"]})])) == 40002
    assert post(dict(ok, data=[event(user={"phone": sha("+1").upper()})])) == 40002
    assert post(dict(ok, data=[event(event="purchase")])) == 40002
    assert post(dict(ok, data=[event(properties={"value": "1.00"})])) == 40002
    assert post(dict(ok, data=[event(i) for i in range(1001)])) == 40002
    assert post(dict(ok, data=[event(i) for i in range(1000)])) == 0
    tiktok.config(fail_next=[40100, 50000])
    assert post(ok) == 40100
    assert post(ok) == 50000
    assert post(ok) == 0
