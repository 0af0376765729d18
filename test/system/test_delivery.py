"""Stage 2 correctness at the edges: a stop in the middle of a rejected
batch, leases that expire on the last attempt, records that arrive after
the lease was lost, and the per-worker bound on concurrent uploads.

Each test here failed on the code before issue 5 (see the docstrings)."""

import os

from harness import shopify_order, wait_until


def meta_stats(meta):
    """The fake's counters, with inflight / max_inflight (concurrent requests)."""
    return meta._call("GET", "/_control/stats")


def event_states(stack):
    """{event_id: delivery state} of every delivery."""
    return dict(stack.sql("SELECT c.event_id, d.state FROM deliveries d JOIN conversions c"
                          " ON c.id = d.conversion_id"))


def add_meta_destinations(stack, n):
    """n more Meta destinations of the demo tenant, routed from its source."""
    creds = os.path.join(stack.dir, "meta.json")
    ids = []
    for i in range(n):
        d = stack.ctl("destination", "add", "--tenant", "acme", "--kind", "meta_capi",
                      "--name", "extra%d" % i, "--pixel-id", "99900%d" % i,
                      "--credentials-file", creds, json_out=True)
        stack.ctl("route", "add", stack.source_id, d["id"])
        ids.append(d["id"])
    return ids


def test_sigterm_during_a_rejected_batch_fails_no_good_event(make_stack, meta):
    """Defect 1: while stopping, a batch rejected whole was not bisected and
    every event in it was recorded failed.  Now the batch goes back to
    pending with its attempt refunded, and the next run finds the bad one."""
    # One worker, so the five held deliveries go out as one batch; a long
    # upload timeout so that the stalled request is answered (400), not
    # timed out, within the shutdown grace period (10 s).
    stack = make_stack(workers__threads="1", workers__upload_timeout="15s",
                       workers__lease="30s").setup_demo(paused=True).start()
    meta.config(reject_event_ids_containing="666", stall_seconds=4)
    ids = [3001, 3002, 6663, 3004, 3005]
    for i in ids:
        assert stack.post_shopify(shopify_order(i))[0] == 200
    stack.wait_states({"held": 5})
    stack.ctl("destination", "resume", stack.dest_id)
    wait_until(lambda: meta_stats(meta)["inflight"] >= 1, what="the batch reached Meta")
    assert stack.stop() == 0  # SIGTERM; the 400 arrives while stopping
    (req,) = meta.requests()
    assert req["status"] == 400 and len(req["event_ids"]) == 5
    # Nothing failed: all five wait again, the attempt given back.
    assert stack.states() == {"pending": 5}
    assert stack.scalar("SELECT max(attempts) FROM deliveries") == "0"
    meta.config(stall_seconds=0)
    stack.start()
    stack.wait_states({"delivered": 4, "failed": 1}, timeout=30)
    states = event_states(stack)
    assert states.pop("shopify:order:6663") == "failed"
    assert set(states.values()) == {"delivered"}
    assert sorted(meta.accepted()) == sorted("shopify:order:%d" % i for i in ids if i != 6663)


def test_expired_lease_of_the_last_attempt_is_sent_once_more(make_stack, meta):
    """Defect 3: the sweep made an expired lease dead when it was the last
    attempt, though the upload may have succeeded.  Now it is sent once
    more and delivered."""
    stack = make_stack(retry__max_attempts="1", workers__upload_timeout="10s",
                       workers__lease="11s").setup_demo().start()
    meta.config(stall_seconds=120)
    assert stack.post_shopify(shopify_order(8001))[0] == 200
    wait_until(lambda: meta_stats(meta)["inflight"] >= 1, what="the upload reached Meta")
    assert stack.scalar("SELECT state || ' ' || attempts FROM deliveries") == "in_flight 1"
    assert stack.kill9() == -9  # the outcome of attempt 1 of 1 is lost
    meta.config(stall_seconds=0)
    stack.start()
    stack.wait_states({"delivered": 1}, timeout=60)
    assert meta.accepted() == {"shopify:order:8001": 1}
    assert stack.sql("SELECT outcome FROM delivery_attempts ORDER BY at") == \
        [["lease_expired"], ["delivered"]]
    assert stack.scalar("SELECT attempts FROM deliveries") == "2"


def test_expired_lease_of_the_extra_attempt_is_dead(make_stack, meta):
    """Defect 3, the bound: the extra attempt after an expired last one is
    the only one.  If its lease expires too, the delivery is dead: a worker
    that dies on a delivery every time cannot make it loop."""
    stack = make_stack(retry__max_attempts="1", workers__upload_timeout="10s",
                       workers__lease="11s").setup_demo().start()
    meta.config(stall_seconds=300)
    assert stack.post_shopify(shopify_order(8002))[0] == 200
    for attempt in (1, 2):
        wait_until(lambda: stack.scalar("SELECT state || ' ' || attempts FROM deliveries") ==
                   "in_flight %d" % attempt, timeout=60, what="attempt %d in flight" % attempt)
        assert stack.kill9() == -9
        stack.start()
    stack.wait_states({"dead": 1}, timeout=60)
    assert "giving up" in stack.scalar("SELECT last_error FROM deliveries")
    assert stack.sql("SELECT outcome FROM delivery_attempts ORDER BY at") == \
        [["lease_expired"], ["lease_expired"]]


def test_record_after_the_lease_was_lost_writes_no_attempt(make_stack, meta):
    """Defect 8: the attempt rows of a record were inserted even when the
    lease fence refused its state change, so the audit showed "delivered"
    and "failed" for deliveries that were pending again.

    The lease is lost by hand while the upload is stalled at Meta: the rows
    are put back to pending (what the sweep does to an expired lease, with
    the next attempt far away so that nobody re-claims them).  The old
    worker's split log rows and its halves' outcomes must then leave no
    trace."""
    stack = make_stack(workers__threads="1", workers__upload_timeout="15s",
                       workers__lease="30s", log__level="debug") \
        .setup_demo(paused=True).start()
    meta.config(reject_event_ids_containing="666", stall_seconds=5)
    for i in (4001, 6664):
        assert stack.post_shopify(shopify_order(i))[0] == 200
    stack.wait_states({"held": 2})
    stack.ctl("destination", "resume", stack.dest_id)
    wait_until(lambda: meta_stats(meta)["inflight"] >= 1, what="the batch reached Meta")
    assert stack.states() == {"in_flight": 2}
    stack.sql("UPDATE deliveries SET state = 'pending', lease_until = NULL,"
              " next_attempt_at = now() + interval '1 hour'")
    # The batch is answered 400, bisected, and both halves are answered.
    wait_until(lambda: len(meta.requests()) == 3, timeout=30, what="three requests answered")
    wait_until(lambda: stack.logs().count("outcomes recorded") >= 2, timeout=30,
               what="the halves' outcomes recorded")
    assert stack.states() == {"pending": 2}
    assert stack.sql("SELECT delivery_id, outcome FROM delivery_attempts") == []


def test_max_inflight_bounds_uploads_per_worker(make_stack, meta):
    """Defect 10 (third bullet): max_inflight was checked before a claim,
    but one claim or one stage 1 batch could start an upload per
    destination at once.  Here one order goes to four destinations with
    max_inflight = 1: Meta must never see two requests at once."""
    stack = make_stack(workers__threads="1", workers__max_inflight="1",
                       workers__upload_timeout="10s", workers__lease="11s").setup_demo()
    add_meta_destinations(stack, 3)
    stack.start()
    meta.config(stall_seconds=1)
    for i in (5001, 5002):
        assert stack.post_shopify(shopify_order(i))[0] == 200
    stack.wait_states({"delivered": 8}, timeout=60)
    stats = meta_stats(meta)
    assert stats["requests"] >= 4
    assert stats["max_inflight"] == 1, stats
    # Every delivery was sent once: queued uploads kept their leases.
    assert stack.count("delivery_attempts", "outcome <> 'delivered'") == 0


def test_stop_gives_queued_uploads_back(make_stack, meta):
    """Uploads waiting for a slot at a stop go back to pending, their
    attempt refunded, like unfinished ones."""
    stack = make_stack(workers__threads="1", workers__max_inflight="1",
                       workers__upload_timeout="15s", workers__lease="30s").setup_demo()
    add_meta_destinations(stack, 3)
    stack.start()
    meta.config(stall_seconds=3)
    assert stack.post_shopify(shopify_order(5101))[0] == 200
    wait_until(lambda: meta_stats(meta)["inflight"] >= 1, what="the first upload at Meta")
    assert stack.stop() == 0
    assert stack.states() == {"delivered": 1, "pending": 3}
    assert stack.scalar("SELECT max(attempts) FROM deliveries WHERE state = 'pending'") == "0"
    meta.config(stall_seconds=0)
    stack.start()
    stack.wait_states({"delivered": 4})
    assert meta.accepted() == {"shopify:order:5101": 4}
