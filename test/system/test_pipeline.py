"""End to end: signed Shopify webhooks into the real adsengd, through a
real PostgreSQL, out to the fake Meta, with failures injected on every
side."""

import hashlib
import json
import time

from harness import shopify_order, wait_until

ORDER_ID = 5551234567890
EVENT_ID = "shopify:order:%d" % ORDER_ID


def meta_events(meta):
    """Every event body the fake Meta accepted or refused, flattened."""
    out = []
    for r in meta.requests():
        body = r.get("body") or {}
        if isinstance(body, str):
            body = json.loads(body)
        for ev in body.get("data", []):
            out.append((r["status"], ev))
    return out


def test_signed_order_is_delivered_with_the_right_payload(stack, meta):
    status, body, _ = stack.post_shopify(shopify_order(ORDER_ID))
    assert status == 200 and body["status"] == "accepted" and body["id"] > 0
    stack.wait_states({"delivered": 1})
    wait_until(lambda: meta.accepted().get(EVENT_ID) == 1, what="Meta got the event")
    (status, ev), = meta_events(meta)
    assert status == 200
    assert ev["event_name"] == "Purchase"
    assert ev["event_id"] == EVENT_ID
    assert ev["action_source"] == "website"
    assert ev["event_source_url"].startswith("https://shop.example/products/linen-shirt?")
    ud = ev["user_data"]
    assert ud["em"] == [hashlib.sha256(b"ana.silva@example.com").hexdigest()]
    assert ud["ph"] == [hashlib.sha256(b"14155550132").hexdigest()]
    assert ud["client_ip_address"] == "203.0.113.24"
    assert ud["client_user_agent"].startswith("Mozilla/5.0")
    assert ud["fbp"] == "fb.1.1732662000000.1098765432"
    cd = ev["custom_data"]
    assert cd["currency"] == "USD" and cd["value"] == 129.9
    assert cd["num_items"] == 3
    req = meta.requests()[0]
    assert req["pixel"] == stack.PIXEL
    # Exactly one attempt, recorded as delivered.
    assert stack.sql("SELECT outcome, http_status FROM delivery_attempts") == \
        [["delivered", "200"]]


def test_same_webhook_id_twice_is_stored_once(stack, meta):
    order = shopify_order(ORDER_ID)
    s1, b1, _ = stack.post_shopify(order, webhook_id="wh-1")
    s2, b2, _ = stack.post_shopify(order, webhook_id="wh-1")
    assert (s1, b1["status"]) == (200, "accepted")
    assert (s2, b2) == (200, {"status": "duplicate"})
    stack.wait_states({"delivered": 1})
    assert stack.count("raw_events") == 1
    assert stack.count("conversions") == 1


def test_create_then_paid_makes_one_conversion(stack, meta):
    order = shopify_order(ORDER_ID)
    assert stack.post_shopify(order, topic="orders/create")[0] == 200
    stack.wait_states({"delivered": 1})
    order["financial_status"] = "paid"
    assert stack.post_shopify(order, topic="orders/paid")[0] == 200
    wait_until(lambda: stack.count("raw_event_status", "state <> 'pending'") == 2,
               what="both raw events normalized")
    assert stack.count("raw_events") == 2
    assert stack.count("conversions") == 1
    assert stack.states() == {"delivered": 1}
    assert meta.accepted() == {EVENT_ID: 1}


def test_bad_signature_is_401_and_stores_nothing(stack, meta):
    order = shopify_order(ORDER_ID)
    assert stack.post_shopify(order, secret="wrong-secret")[0] == 401
    assert stack.post_shopify(order, signature=False)[0] == 401
    assert stack.post_shopify(order, signature="bm90IGEgbWFj")[0] == 401
    assert stack.count("raw_events") == 0
    assert stack.count("ingest_keys") == 0


def test_unknown_source_wrong_method_and_too_large(make_stack, meta):
    stack = make_stack(server__max_body="4KiB").setup_demo().start()
    status, _, _ = stack.post_shopify(shopify_order(1),
                                      source_id="00000000-0000-4000-8000-000000000000")
    assert status == 404
    assert stack.http("GET", "/v1/webhooks/shopify/%s" % stack.source_id)[0] == 405
    big = shopify_order(2, note="x" * 8000)
    assert stack.post_shopify(big)[0] == 413
    assert stack.http("GET", "/healthz")[0] == 200
    assert stack.http("GET", "/nope")[0] == 404
    assert stack.count("raw_events") == 0
    # A disabled source is unknown to the webhook route.
    stack.ctl("source", "disable", stack.source_id)
    wait_until(lambda: stack.post_shopify(shopify_order(3))[0] == 404,
               what="disabled source refused")


def test_database_down_then_back(stack, meta, cluster):
    cluster.stop()
    try:
        status, _, headers = stack.post_shopify(shopify_order(ORDER_ID))
        assert status == 503
        assert "Retry-After" in headers
        wait_until(lambda: stack.http("GET", "/readyz")[0] == 503, what="readyz says not ready")
    finally:
        cluster.start()
    # The sender retries: accepted once the database is back, then delivered.
    wait_until(lambda: stack.post_shopify(shopify_order(ORDER_ID), webhook_id="retry-1")[0] ==
               200, timeout=30, interval=0.5, what="accepted after restart")
    stack.wait_states({"delivered": 1}, timeout=30)
    assert meta.accepted() == {EVENT_ID: 1}


def test_two_500s_then_200(stack, meta):
    meta.config(fail_next=[500, 500])
    stack.post_shopify(shopify_order(ORDER_ID))
    stack.wait_states({"delivered": 1})
    rows = stack.sql("SELECT outcome, http_status FROM delivery_attempts ORDER BY at")
    assert rows == [["retry", "500"], ["retry", "500"], ["delivered", "200"]]
    assert stack.scalar("SELECT attempts FROM deliveries") == "3"


def test_batch_with_one_rejected_event(make_stack, meta):
    # Paused destination: deliveries wait as 'held', then resume releases
    # them together so they go out in one batch.  One worker thread: with
    # two, both may claim at once after the resume and SKIP LOCKED splits
    # the five between them (the first request then carried 1 event, 2 of
    # 9 runs).  Handing a destination's due rows to one claimer would make
    # the claim serialize on a destination; batching across claims is not
    # what this test is about, so it gets one claimer instead.
    stack = make_stack(workers__threads="1").setup_demo(paused=True).start()
    meta.config(reject_event_ids_containing="666")
    ids = [1001, 1002, 6660, 1004, 1005]
    for i in ids:
        assert stack.post_shopify(shopify_order(i))[0] == 200
    stack.wait_states({"held": 5})
    stack.ctl("destination", "resume", stack.dest_id)
    stack.wait_states({"delivered": 4, "failed": 1})
    failed = stack.sql("SELECT c.event_id, d.last_error FROM deliveries d JOIN conversions c"
                       " ON c.id = d.conversion_id WHERE d.state = 'failed'")
    assert failed[0][0] == "shopify:order:6660"
    assert "Invalid parameter" in failed[0][1]
    accepted = meta.accepted()
    assert sorted(accepted) == sorted("shopify:order:%d" % i for i in ids if i != 6660)
    # The first request carried all five.
    assert len(meta.requests()[0]["event_ids"]) == 5


def test_kill9_while_uploads_in_flight(make_stack, meta):
    stack = make_stack().setup_demo().start()
    meta.config(stall_seconds=30)
    ids = list(range(2001, 2021))
    for i in ids:
        assert stack.post_shopify(shopify_order(i))[0] == 200
    wait_until(lambda: stack.count("deliveries", "state = 'in_flight'") == len(ids),
               what="uploads in flight")
    # The fake records a request when it answers; while stalled it only
    # counts it as in flight.
    wait_until(lambda: meta._call("GET", "/_control/stats")["inflight"] > 0,
               what="a request reached Meta")
    assert stack.kill9() == -9
    meta.config(stall_seconds=0)
    stack.start()
    # Leases (4 s) expire, the control thread returns them, workers resend.
    stack.wait_states({"delivered": len(ids)}, timeout=40)
    accepted = meta.accepted()
    assert set(accepted) >= set("shopify:order:%d" % i for i in ids)
    assert stack.count("delivery_attempts", "outcome = 'lease_expired'") >= 1


def test_replay_failed_after_fixing_the_platform(stack, meta):
    meta.config(reject_event_ids_containing="777")
    stack.post_shopify(shopify_order(7771))
    stack.wait_states({"failed": 1})
    meta.reset()
    did = stack.scalar("SELECT id FROM deliveries")
    out = stack.ctl("replay", "--state", "failed", "--dry-run").stdout
    lines = out.splitlines()
    # The count, then the sample: the one failed delivery, by id.
    assert lines[-1] == "dry run: would replay 1 deliveries; nothing changed", out
    sample = lines.index("deliveries that would move (first 1):")
    assert lines[sample + 1].split()[:2] == ["ID", "STATE"], out
    assert lines[sample + 2].split()[:2] == [did, "failed"], out
    assert len(lines) == sample + 4, out
    assert stack.states() == {"failed": 1}
    stack.ctl("replay", "--state", "failed")
    stack.wait_states({"delivered": 1})
    assert meta.accepted() == {"shopify:order:7771": 1}
    assert stack.count("audit_log", "action = 'replay'") == 1


def test_token_error_pauses_the_destination(stack, meta):
    meta.config(token="another-token")
    stack.post_shopify(shopify_order(ORDER_ID))
    stack.wait_states({"held": 1})
    enabled, reason = stack.sql("SELECT enabled, paused_reason FROM destinations")[0]
    assert enabled == "f" and "access token" in reason
    assert stack.sql("SELECT actor, action FROM audit_log WHERE action = 'destination.pause'") == \
        [["adsengd", "destination.pause"]]
    # The attempt was given back: pausing does not burn attempts.
    assert stack.scalar("SELECT attempts FROM deliveries") == "0"
    meta.config(token=stack.TOKEN)
    stack.ctl("destination", "resume", stack.dest_id)
    stack.wait_states({"delivered": 1})


def test_too_old_for_meta_is_dead_and_not_sent(stack, meta):
    old = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 8 * 86400))
    stack.post_shopify(shopify_order(ORDER_ID, created_at=old))
    stack.wait_states({"dead": 1})
    assert meta.requests() == []
    assert "7 days" in stack.scalar("SELECT last_error FROM deliveries")


def test_retry_after_is_honoured(stack, meta):
    meta.config(fail_next=[429], retry_after=2)
    stack.post_shopify(shopify_order(ORDER_ID))
    stack.wait_states({"delivered": 1})
    times = [r["time"] for r in meta.requests()]
    assert len(times) == 2 and times[1] - times[0] >= 1.9


def test_attempts_run_out(make_stack, meta):
    # Failures the circuit breaker blames on the destination cost no
    # attempt: turn it off (no Retry-After, a threshold never reached).
    stack = make_stack(breaker__failures="1000").setup_demo().start()
    meta.config(fail_next=[503] * 10, retry_after=None)
    stack.post_shopify(shopify_order(ORDER_ID))
    stack.wait_states({"dead": 1}, timeout=30)
    assert stack.count("delivery_attempts") == 5


def test_ignored_topic_and_checkout(stack, meta):
    assert stack.post_shopify({"id": 1}, topic="customers/create")[0] == 200
    checkout = shopify_order(42, token="chk-token-1")
    assert stack.post_shopify(checkout, topic="checkouts/create")[0] == 200
    stack.wait_states({"delivered": 1})
    assert sorted(stack.sql("SELECT topic, state FROM raw_event_status")) == \
        [["checkouts/create", "done"], ["customers/create", "ignored"]]
    assert stack.scalar("SELECT event FROM conversions") == "begin_checkout"
    (_, ev), = meta_events(meta)
    assert ev["event_name"] == "InitiateCheckout"


def test_sighup_with_bad_config_keeps_running(stack, meta):
    import signal
    with open(stack.conf_file, "a") as f:
        f.write("[server]\nbogus = 1\n")
    stack.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert stack.proc.poll() is None
    assert "reload failed" in stack.logs()
    assert stack.post_shopify(shopify_order(ORDER_ID))[0] == 200
    stack.wait_states({"delivered": 1})


def test_partitions_are_created_ahead(stack):
    months = stack.count("pg_inherits", "inhparent = 'raw_events'::regclass")
    assert months >= 5  # last month, this month, three ahead
    assert stack.scalar("SELECT adseng_ensure_partitions(6)") == "3"
    assert stack.count("pg_inherits", "inhparent = 'raw_events'::regclass") == months + 3
    assert stack.scalar("SELECT adseng_ensure_partitions(6)") == "0"
    # New partitions keep the parent's compression of bodies.
    assert stack.scalar("SELECT count(DISTINCT attcompression) FROM pg_attribute a JOIN "
                        "pg_inherits i ON i.inhrelid = a.attrelid WHERE a.attname = 'body' "
                        "AND i.inhparent = 'raw_events'::regclass") == "1"


def test_meta_api_version_from_config_reaches_the_url(make_stack, meta):
    """[meta] api_version (declared by the meta_capi destination, not by core
    config) is the version of a destination that sets none."""
    stack = make_stack(meta__api_version="v23.0").setup_demo().start()
    assert stack.post_shopify(shopify_order(ORDER_ID))[0] == 200
    stack.wait_states({"delivered": 1})
    req, = meta.requests()
    assert req["path"].split("?")[0] == "/v23.0/%s/events" % stack.PIXEL
