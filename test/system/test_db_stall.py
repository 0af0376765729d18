"""A stalled database must not freeze the daemon (issue 5, defect 4).

A second session takes `LOCK TABLE conversions IN ACCESS EXCLUSIVE MODE`
and holds it: the workers' statements (stage 1 inserts conversions, the
stage 2 claim reads them) wait for the lock.  With [database] lock_timeout
and statement_timeout they give up after a few seconds, roll back and try
again later, instead of waiting as long as the lock is held; webhooks keep
being answered (ingest does not touch conversions); and SIGTERM during such
a stall returns within [server] shutdown_timeout, exit status 0.
"""

import os
import signal
import subprocess
import time

from harness import shopify_order, wait_until

LOCKER = "adseng-test-locker"


class TableLock:
    """ACCESS EXCLUSIVE lock on a table, held by a psql session for `seconds`."""

    def __init__(self, stack, table, seconds):
        self.stack = stack
        env = dict(os.environ, PGAPPNAME=LOCKER)
        self.proc = subprocess.Popen(
            [os.path.join(stack.cluster.bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             stack.cluster.url(stack.db)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env)
        self.proc.stdin.write("BEGIN;\nLOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\n"
                              "SELECT pg_sleep(%d);\nCOMMIT;\n" % (table, seconds))
        self.proc.stdin.close()
        wait_until(lambda: lock_granted(stack, table), what="lock on %s taken" % table)

    def held(self):
        return self.proc.poll() is None

    def release(self):
        if self.held():
            self.stack.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE application_name = '%s'" % LOCKER)
        self.proc.wait(20)


def lock_granted(stack, table):
    return stack.scalar("SELECT count(*) FROM pg_locks WHERE relation = '%s'::regclass"
                        " AND mode = 'AccessExclusiveLock' AND granted" % table) == "1"


def daemon_lock_waits(stack):
    """(application_name, seconds waited) of adsengd sessions waiting for a lock."""
    return [(r[0], float(r[1])) for r in stack.sql(
        "SELECT application_name, extract(epoch FROM clock_timestamp() - query_start)"
        " FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name LIKE 'adsengd-%' AND wait_event_type = 'Lock'")]


def event_id(order_id):
    return "shopify:order:%d" % order_id


def test_lock_longer_than_the_timeouts(make_stack, meta):
    stack = make_stack(workers__lease="10s", database__lock_timeout="2s",
                       database__statement_timeout="4s").setup_demo().start()
    assert stack.post_shopify(shopify_order(7000))[0] == 200
    stack.wait_states({"delivered": 1})

    lock = TableLock(stack, "conversions", 20)
    ids = list(range(7001, 7021))
    longest, seen_waiting, sent_while_locked = 0.0, False, None
    try:
        pending = list(ids)
        while lock.held():
            if pending:
                # The daemon keeps serving: webhooks do not touch conversions.
                status = stack.post_shopify(shopify_order(pending.pop(0)))[0]
                assert status == 200, status
            elif sent_while_locked is None:
                accepted = meta.accepted()
                if lock_granted(stack, "conversions"):
                    sent_while_locked = accepted
            for _, waited in daemon_lock_waits(stack):
                seen_waiting = True
                longest = max(longest, waited)
            time.sleep(0.2)
        assert not pending, "the lock ended before all orders were sent"
    finally:
        lock.release()
    # The workers did hit the lock...
    assert seen_waiting, "no adsengd session ever waited for the lock"
    # ...and gave up after lock_timeout (2 s) instead of waiting for the 20 s
    # the lock was held.  (Today's main waits the whole 20 s.)
    assert longest < 2.0 + 2.5, "an adsengd session waited %.1fs for a lock" % longest
    assert "canceling statement due to lock timeout" in stack.logs()
    assert sent_while_locked == {event_id(7000): 1}, sent_while_locked

    # After the lock: every raw event normalized, none in `error` (a lock
    # timeout is not the event's fault: needs stage 1's SQLSTATE rule, the
    # fix of defect 2), and everything delivered exactly once.
    wait_until(lambda: stack.count("raw_event_status", "state = 'pending'") == 0, timeout=60,
               what="raw events normalized")
    errors = stack.sql("SELECT id, error FROM raw_event_status WHERE state = 'error'")
    assert errors == [], errors
    stack.wait_states({"delivered": len(ids) + 1}, timeout=60)
    assert meta.accepted() == dict((event_id(i), 1) for i in [7000] + ids)


def test_sigterm_during_a_stall_exits_in_time(make_stack, meta):
    # No lock_timeout and a long statement_timeout: only the stop deadline
    # can end the workers' wait for the lock.
    stack = make_stack(workers__lease="2m", database__lock_timeout="0",
                       database__statement_timeout="60s",
                       server__shutdown_timeout="4s").setup_demo().start()
    assert stack.post_shopify(shopify_order(7100))[0] == 200
    stack.wait_states({"delivered": 1})

    lock = TableLock(stack, "conversions", 90)
    try:
        assert stack.post_shopify(shopify_order(7101))[0] == 200
        wait_until(lambda: any(name.startswith("adsengd-worker-")
                               for name, _ in daemon_lock_waits(stack)),
                   what="a worker waiting for the lock")
        t0 = time.monotonic()
        stack.proc.send_signal(signal.SIGTERM)
        try:
            rc = stack.proc.wait(4 + 6)
        except subprocess.TimeoutExpired:
            rc = None
        elapsed = time.monotonic() - t0
        final = stack.stop(timeout=1)  # kills it (-9) if it is still running
        assert rc is not None, "adsengd still running %.1fs after SIGTERM" % elapsed
        assert final == 0, final
        assert elapsed < 4 + 2.5, "SIGTERM took %.1fs (shutdown_timeout = 4s)" % elapsed
        assert "canceling a statement to stop in time" in stack.logs()
    finally:
        lock.release()

    # Nothing was lost: after a restart the order is normalized and delivered
    # once (the canceled statement is not the event's fault: with defect 2's
    # fix it stays pending).
    stack.start()
    wait_until(lambda: stack.count("raw_event_status", "state = 'pending'") == 0, timeout=40,
               what="raw events normalized")
    errors = stack.sql("SELECT id, error FROM raw_event_status WHERE state = 'error'")
    assert errors == [], errors
    stack.wait_states({"delivered": 2}, timeout=40)
    assert meta.accepted() == {event_id(7100): 1, event_id(7101): 1}


def test_sigterm_with_frozen_backends_exits_in_time(make_stack, meta):
    # The workers' server processes are stopped (SIGSTOP): their statements
    # get no answer, not even to a cancel.  The daemon leaves those threads
    # behind at the deadline and still exits 0 (the leases bring the work
    # back).
    stack = make_stack(workers__lease="2m", database__statement_timeout="60s",
                       server__shutdown_timeout="3s").setup_demo().start()
    assert stack.post_shopify(shopify_order(7200))[0] == 200
    stack.wait_states({"delivered": 1})
    pids = [int(r[0]) for r in stack.sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name LIKE 'adsengd-worker-%'")]
    assert len(pids) == 2, pids
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        # Work for them: their next statements hang.
        assert stack.post_shopify(shopify_order(7201))[0] == 200
        time.sleep(1.0)  # (not for correctness: lets a poll cycle start a statement)
        t0 = time.monotonic()
        stack.proc.send_signal(signal.SIGTERM)
        try:
            rc = stack.proc.wait(3 + 6)
        except subprocess.TimeoutExpired:
            rc = None
        elapsed = time.monotonic() - t0
        final = stack.stop(timeout=1)
        assert rc is not None, "adsengd still running %.1fs after SIGTERM" % elapsed
        assert final == 0, final
        assert elapsed < 3 + 2.5, "SIGTERM took %.1fs (shutdown_timeout = 3s)" % elapsed
        assert "did not stop in time; leaving it" in stack.logs()
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    stack.start()
    stack.wait_states({"delivered": 2}, timeout=40)
    assert meta.accepted() == {event_id(7200): 1, event_id(7201): 1}
