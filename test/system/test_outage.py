"""System tests of destination isolation: a per-destination in-flight limit
(--max-inflight) holds, and one platform down does not slow the others.

The fakes count the requests they are answering at once (max_inflight in
their stats), which is what the limit bounds.  One worker thread, so the
per-worker limit is the daemon's."""

import time

from harness import shopify_order, wait_until


def max_inflight(fake):
    return fake.stats()["max_inflight"]


def post_orders(stack, first_id, n, gap=0.0):
    for i in range(n):
        assert stack.post_shopify(shopify_order(first_id + i))[0] == 200
        if gap:
            time.sleep(gap)


def delivered_to(stack, dest):
    return int(stack.scalar("SELECT count(*) FROM deliveries WHERE destination_id = '%s'"
                            " AND state = 'delivered'" % dest))


def test_max_inflight_bounds_a_slow_destination(make_stack, tiktok):
    stack = make_stack(workers__threads="1", workers__upload_timeout="5s",
                       workers__lease="30s")
    dest = stack.add_tiktok_destination("tt1", tiktok)
    stack.start()
    # TikTok answers slowly: without a tighter limit the worker sends the
    # orders as they come (one request each, they are 0.5 s apart), several
    # at once (the kind's default is 4).
    tiktok.config(stall_seconds=2)
    post_orders(stack, 7100, 5, gap=0.5)
    wait_until(lambda: delivered_to(stack, dest) == 5, timeout=30, what="5 delivered")
    assert max_inflight(tiktok) >= 2, "the control run never had two requests at once"

    # Limit 1, applied by a running daemon (the catalog change reloads it).
    p = stack.ctl("destination", "update", dest, "--max-inflight", "1")
    assert "max_inflight 1" in p.stdout
    audit = stack.sql("SELECT details->'settings'->>'max_inflight' FROM audit_log"
                      " WHERE action = 'destination.update'")
    assert [list(r) for r in audit] == [["1"]]
    time.sleep(0.5)
    tiktok.reset()
    tiktok.config(stall_seconds=2)
    post_orders(stack, 7200, 5, gap=0.5)
    wait_until(lambda: delivered_to(stack, dest) == 10, timeout=40, what="10 delivered")
    assert max_inflight(tiktok) == 1
    # Everything still arrived, once each.
    assert sorted(tiktok.accepted()) == sorted("shopify:order:%d" % i
                                               for i in range(7200, 7205))
    assert all(v == 1 for v in tiktok.accepted().values())


def test_max_inflight_option_checked(make_stack, tiktok):
    stack = make_stack()
    dest = stack.add_tiktok_destination("tt1", tiktok, extra=("--max-inflight", "3"))
    assert stack.scalar("SELECT settings->'max_inflight' FROM destinations WHERE id = '%s'"
                        % dest) == "3"
    for bad in ("0", "1001", "x", "-2"):
        p = stack.ctl("destination", "update", dest, "--max-inflight", bad, check=False)
        assert p.returncode != 0 and "--max-inflight" in p.stderr
    p = stack.ctl("destination", "update", dest, check=False)
    assert p.returncode == 2


def test_slow_destination_at_its_limit_leaves_slots_to_others(make_stack, tiktok, ga4):
    # One worker with 4 upload slots; TikTok stalls 8 s a request and is
    # limited to 1.  Orders come 0.5 s apart, so each is a request of its
    # own to both.  Without the limit TikTok's requests would take all 4
    # slots from the fourth order on, and GA4's would wait for TikTok's
    # first answer (8 s); with it, GA4 keeps 3 slots and delivers at once.
    stack = make_stack(workers__threads="1", workers__max_inflight="4",
                       workers__upload_timeout="12s", workers__lease="60s")
    tt = stack.add_tiktok_destination("tt1", tiktok, extra=("--max-inflight", "1"))
    g = stack.add_ga4_destination("g1", ga4)
    stack.start()
    tiktok.config(stall_seconds=8)
    t0 = time.time()
    post_orders(stack, 7300, 5, gap=0.5)
    wait_until(lambda: delivered_to(stack, g) == 5, timeout=20, what="GA4 delivered")
    ga4_done = time.time() - t0
    # The orders take 2 s to post; 6 s leaves room for a loaded machine
    # and is still well before TikTok's first answer.
    assert ga4_done < 6.0, ga4_done
    assert delivered_to(stack, tt) == 0  # its first answer is not back yet
    assert max_inflight(tiktok) == 1
    tiktok.config(stall_seconds=0)
    wait_until(lambda: delivered_to(stack, tt) == 5, timeout=30, what="TikTok delivered")
    assert max_inflight(tiktok) == 1


def run_round(stack, first_id, n, dests):
    """Post n orders; seconds until every one is delivered to each of
    dests."""
    base = {d: delivered_to(stack, d) for d in dests}
    want = {d: n for d in dests}
    t0 = time.time()
    post_orders(stack, first_id, n)
    wait_until(lambda: all(delivered_to(stack, d) - base[d] >= want[d] for d in dests),
               timeout=60, what="the round delivered")
    return time.time() - t0


def test_one_platform_down_others_keep_full_speed(make_stack, meta, tiktok, ga4):
    # Meta, TikTok and GA4 all routed from the same Shopify source.  Plenty
    # of attempts, so Meta's deliveries keep retrying through the outage.
    stack = make_stack(retry__max_attempts="1000", workers__upload_timeout="3s",
                       workers__lease="30s")
    stack.setup_demo()
    tt = stack.add_tiktok_destination("tt1", tiktok)
    g = stack.add_ga4_destination("g1", ga4)
    stack.start()
    n = 20
    # Baseline: everyone up.  The first round also warms connections and
    # destination caches, so it is not the one compared.
    run_round(stack, 8000, n, [stack.dest_id, tt, g])
    baseline = run_round(stack, 8100, n, [stack.dest_id, tt, g])

    # Meta down: it answers 503 forever, slowly (a platform in trouble
    # rarely fails fast), with Retry-After 1.
    meta.config(fail_status=503, fail_for_seconds=3600, stall_seconds=2)
    outage = run_round(stack, 8200, n, [tt, g])
    # Generous: the same order of magnitude as the baseline.
    print("baseline %.2fs outage %.2fs" % (baseline, outage))
    assert outage <= 3 * baseline + 2.0, (baseline, outage)

    # Every TikTok and GA4 event of the outage round arrived exactly once.
    ids = ["shopify:order:%d" % i for i in range(8200, 8200 + n)]
    accepted = tiktok.accepted()
    assert all(accepted.get(i) == 1 for i in ids)
    assert sum(ga4.accepted().values()) == 3 * n  # once each, all three rounds
    # Meta's deliveries of that round are still pending or being tried,
    # never failed or dead: they wait for Meta to come back.
    rows = stack.sql("SELECT d.state, count(*) FROM deliveries d"
                     " JOIN conversions c ON c.id = d.conversion_id"
                     " WHERE d.destination_id = '%s' AND c.event_id LIKE 'shopify:order:82%%'"
                     " GROUP BY d.state" % stack.dest_id)
    states = {r[0]: int(r[1]) for r in rows}
    assert sum(states.values()) == n, states
    assert set(states) <= {"pending", "in_flight"}, states
    wait_until(lambda: meta.stats()["requests"] > 0, timeout=10, what="Meta was tried")
    meta_ids = set(meta.accepted())
    assert not any(i in meta_ids for i in ids)

    # Meta back: its deliveries go through.
    meta.config(fail_status=None, stall_seconds=0)
    wait_until(lambda: delivered_to(stack, stack.dest_id) == 3 * n, timeout=60,
               what="Meta caught up")
