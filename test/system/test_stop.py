"""SIGTERM as issue 9 asks: stop accepting, answer the requests whose
COMMIT is under way, let in-flight uploads finish up to [server]
shutdown_timeout, release unfinished leases at once, exit 0; a second
SIGTERM stops at once and still loses nothing committed."""

import signal
import subprocess
import threading
import time

from harness import shopify_order, wait_until
from test_db_stall import TableLock
from test_delivery import add_meta_destinations, meta_stats


def wait_exit(stack, timeout):
    """Seconds until adsengd exited and its status (None: still running)."""
    t0 = time.monotonic()
    try:
        rc = stack.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        rc = None
    return time.monotonic() - t0, rc


def test_upload_in_flight_finishes_within_the_timeout(make_stack, meta):
    stack = make_stack(workers__threads="1", workers__upload_timeout="15s",
                       workers__lease="30s", server__shutdown_timeout="10s").setup_demo()
    stack.start()
    meta.config(stall_seconds=3)
    assert stack.post_shopify(shopify_order(9301))[0] == 200
    wait_until(lambda: meta_stats(meta)["inflight"] >= 1, what="the upload at Meta")
    stack.proc.send_signal(signal.SIGTERM)
    # Stop accepting: no new connection while the upload finishes.
    wait_until(lambda: stack.http("GET", "/healthz", timeout=2)[0] == 0,
               what="the listener closed")
    assert stack.proc.poll() is None, "exited before the upload was answered"
    elapsed, rc = wait_exit(stack, 15)
    assert rc == 0, rc
    assert elapsed < 10, "the stop took %.1fs" % elapsed
    assert stack.stop() == 0
    # The platform's answer was recorded: delivered, not sent again.
    assert stack.states() == {"delivered": 1}
    assert meta.accepted() == {"shopify:order:9301": 1}


def test_upload_past_the_timeout_is_released(make_stack, meta):
    stack = make_stack(workers__threads="1", workers__upload_timeout="60s",
                       workers__lease="2m", server__shutdown_timeout="4s").setup_demo()
    stack.start()
    meta.config(stall_seconds=60)
    assert stack.post_shopify(shopify_order(9302))[0] == 200
    wait_until(lambda: meta_stats(meta)["inflight"] >= 1, what="the upload at Meta")
    stack.proc.send_signal(signal.SIGTERM)
    elapsed, rc = wait_exit(stack, 4 + 6)
    assert rc == 0, (rc, stack.logs()[-2000:])
    assert elapsed < 4 + 2.5, "the stop took %.1fs (shutdown_timeout = 4s)" % elapsed
    assert stack.stop() == 0
    # Back to pending, lease gone, attempt given back: another daemon
    # sends it at once.
    row = stack.sql("SELECT state, attempts, lease_until IS NULL FROM deliveries")
    assert row == [["pending", "0", "t"]], row
    assert "released unfinished deliveries" in stack.logs()


def test_waiting_uploads_are_released_at_once(make_stack, meta):
    # One slot, four destinations: one upload in flight, three wait for the
    # slot.  At SIGTERM the three go back at once, while the first one is
    # still allowed to finish.
    stack = make_stack(workers__threads="1", workers__max_inflight="1",
                       workers__upload_timeout="15s", workers__lease="30s",
                       server__shutdown_timeout="20s").setup_demo()
    add_meta_destinations(stack, 3)
    stack.start()
    meta.config(stall_seconds=6)
    assert stack.post_shopify(shopify_order(9303))[0] == 200
    wait_until(lambda: meta_stats(meta)["inflight"] >= 1, what="the first upload at Meta")
    assert stack.states() == {"in_flight": 4}
    stack.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: stack.states() == {"in_flight": 1, "pending": 3}, timeout=4,
               what="the waiting deliveries released")
    assert stack.proc.poll() is None, "exited before the upload was answered"
    assert stack.count("deliveries", "state = 'pending' AND lease_until IS NULL"
                       " AND attempts = 0") == 3
    elapsed, rc = wait_exit(stack, 20)
    assert rc == 0
    assert stack.stop() == 0
    assert stack.states() == {"delivered": 1, "pending": 3}


def test_a_commit_under_way_is_answered(make_stack, meta):
    # The webhook's insert waits for a lock on raw_events (no lock or
    # statement timeout frees it) when SIGTERM comes; the lock then ends
    # and the webhook must still be committed and answered 200.
    stack = make_stack(database__lock_timeout="0", database__statement_timeout="60s",
                       server__shutdown_timeout="15s").setup_demo()
    stack.start()
    lock = TableLock(stack, "raw_events", 60)
    result = {}

    def post():
        result["status"] = stack.post_shopify(shopify_order(9304))[0]

    try:
        t = threading.Thread(target=post)
        t.start()
        wait_until(lambda: stack.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE"
            " 'adsengd-ingest-%' AND wait_event_type = 'Lock'") == "1",
            what="the ingest writer waiting for the lock")
        stack.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert stack.proc.poll() is None, "exited with a COMMIT under way"
        lock.release()
        t.join(15)
    finally:
        lock.release()
    assert result.get("status") == 200, result
    elapsed, rc = wait_exit(stack, 15)
    assert rc == 0
    assert stack.stop() == 0
    assert stack.count("raw_events") == 1


def test_second_sigterm_stops_at_once(make_stack, meta):
    # A long shutdown_timeout: after one SIGTERM the daemon would wait for
    # the stalled upload for almost 30 s.  The second one stops it now.
    stack = make_stack(workers__threads="1", workers__upload_timeout="60s",
                       workers__lease="2m", server__shutdown_timeout="30s").setup_demo()
    stack.start()
    meta.config(stall_seconds=60)
    ids = list(range(9310, 9320))
    for i in ids:
        assert stack.post_shopify(shopify_order(i))[0] == 200
    wait_until(lambda: meta_stats(meta)["inflight"] >= 1, what="an upload at Meta")
    stack.proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert stack.proc.poll() is None, "the first SIGTERM did not wait for the upload"
    stack.proc.send_signal(signal.SIGTERM)
    elapsed, rc = wait_exit(stack, 10)
    assert rc == 0, (rc, stack.logs()[-2000:])
    assert elapsed < 3.5, "the second SIGTERM took %.1fs" % elapsed
    assert stack.stop() == 0
    assert "stopping now" in stack.logs()
    # Nothing committed is lost: every accepted webhook is stored, every
    # delivery is there, and none is left leased.
    assert stack.count("raw_events") == len(ids)
    assert stack.count("deliveries", "state = 'in_flight'") == 0
    assert stack.count("deliveries") == len(ids)
    # The next start delivers them all.
    meta.config(stall_seconds=0)
    stack.start()
    stack.wait_states({"delivered": len(ids)}, timeout=30)
