"""The per-destination circuit breaker and destination-wide Retry-After
(DESIGN §5, issue 5).

- N consecutive failed requests open the breaker; while it is open nothing
  is sent and no attempt is spent; after the cool-down exactly one probe
  goes out, and its success closes the breaker.
- A failed probe reopens it with a longer cool-down; with two daemons
  sharing the database, still one probe at a time.
- An event the platform keeps failing on cannot keep the breaker open.
- A Retry-After pauses the whole destination, not only the batch that got it.
- SLOW (about two minutes): a 90 s outage of one Meta pixel while orders keep
  arriving; afterwards everything is delivered within 3 attempts, and a
  second destination of the same tenant delivered at full speed throughout.
  Set ADSENG_SKIP_SLOW=1 to skip it.
"""

import os
import signal
import subprocess
import time
import urllib.request

import pytest

import harness
from harness import shopify_order, wait_until

PIXEL2 = "2222222222"


def event_id(order_id):
    return "shopify:order:%d" % order_id


def breaker_of(stack, dest_id):
    """The destination's breaker as `adsengctl stats --json` shows it."""
    for d in stack.ctl("stats", json_out=True)["destinations"]:
        if d["id"] == dest_id:
            return d["breaker"]
    raise AssertionError("destination %s not in stats" % dest_id)


def deliveries(stack):
    """{(destination_id, event_id): (id, state, attempts)}."""
    rows = stack.sql("SELECT d.destination_id, c.event_id, d.id, d.state, d.attempts "
                     "FROM deliveries d JOIN conversions c ON c.id = d.conversion_id")
    return {(r[0], r[1]): (int(r[2]), r[3], int(r[4])) for r in rows}


def first_accepted(meta, pixel):
    """{event_id: time the fake Meta first accepted it for this pixel}."""
    out = {}
    for r in meta.requests():
        if r["pixel"] == pixel and r["status"] == 200:
            for eid in r["event_ids"]:
                out.setdefault(eid, r["time"])
    return out


class SecondDaemon:
    """Another adsengd on the same database (its own port and log)."""

    def __init__(self, stack):
        port = harness.free_port()
        settings = dict(stack.settings)
        settings[("server", "listen")] = "127.0.0.1:%d" % port
        settings[("server", "public_url")] = "http://127.0.0.1:%d" % port
        self.conf = os.path.join(stack.dir, "adsengd-2.conf")
        with open(self.conf, "w") as f:
            for (section, key), value in settings.items():
                f.write("[%s]\n%s = %s\n" % (section, key, value))
        self.log_path = os.path.join(stack.dir, "adsengd-2-%s.log" % stack.db)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(harness.BIN_DIR, "adsengd"), "-c", self.conf],
                                     stdout=self.log, stderr=self.log)
        wait_until(lambda: self.ready(port), what="the second adsengd")

    @staticmethod
    def ready(port):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        log = self.logs()
        assert rc == 0, log[-4000:]
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer",
                       "ERROR: LeakSanitizer"):
            assert marker not in log, log[-4000:]


def test_breaker_opens_after_n_failures_and_one_probe_closes_it(make_stack, meta):
    stack = make_stack(breaker__failures="3", breaker__cooldown="8s",
                       breaker__cooldown_cap="8s").setup_demo().start()
    meta.config(fail_next=[500, 500, 500])
    assert stack.post_shopify(shopify_order(1001))[0] == 200
    wait_until(lambda: breaker_of(stack, stack.dest_id)["state"] == "open", timeout=20,
               what="the breaker to open")
    reqs = meta.requests()
    assert [r["status"] for r in reqs] == [500, 500, 500]
    opened_at = reqs[-1]["time"]

    # While it is open, new orders wait: nothing goes out.
    for oid in (1002, 1003):
        assert stack.post_shopify(shopify_order(oid))[0] == 200
    wait_until(lambda: stack.count("deliveries", "state = 'pending'") == 3,
               what="the new deliveries to wait as pending")
    b = breaker_of(stack, stack.dest_id)
    assert b["state"] == "open" and b["retry_at"] and b["last_error"] == "HTTP 500"
    text = stack.ctl("stats").stdout
    assert "BREAKER" in text and "open until " + b["retry_at"] in text
    did = deliveries(stack)[(stack.dest_id, event_id(1002))][0]
    show = stack.ctl("deliveries", "show", str(did), json_out=True)
    assert show["destination"]["breaker"]["state"] == "open"
    out = stack.ctl("deliveries", "show", str(did)).stdout
    assert "breaker" in out and "open until" in out, out
    assert len(meta.requests()) == 3

    # After the cool-down (at least half of 8 s): one probe of one event,
    # then the rest.
    stack.wait_states({"delivered": 3}, timeout=30)
    reqs = meta.requests()
    probe = reqs[3]
    assert probe["status"] == 200 and probe["events"] == 1, reqs
    assert probe["time"] - opened_at >= 3.9, (probe["time"], opened_at)
    assert all(r["status"] == 200 for r in reqs[4:])
    # The failure that opened it cost no attempt: 2 failed + 1 delivered.
    got = deliveries(stack)
    assert got[(stack.dest_id, event_id(1001))][2] == 3
    assert got[(stack.dest_id, event_id(1002))][2] == 1
    assert got[(stack.dest_id, event_id(1003))][2] == 1
    wait_until(lambda: breaker_of(stack, stack.dest_id)["state"] == "closed",
               what="the breaker to close")
    logs = stack.logs()
    assert "circuit breaker opened" in logs
    assert "circuit breaker half-open, sending a probe" in logs
    assert "circuit breaker closed" in logs
    assert "closed" in stack.ctl("stats").stdout


def test_failed_probe_reopens_the_breaker(make_stack, meta):
    stack = make_stack(breaker__failures="2", breaker__cooldown="1s",
                       breaker__cooldown_cap="4s").setup_demo().start()
    meta.config(fail_next=[503, 503, 503, 503], retry_after=None)
    assert stack.post_shopify(shopify_order(2001))[0] == 200
    stack.wait_states({"delivered": 1}, timeout=30)
    statuses = [r["status"] for r in meta.requests()]
    assert statuses == [503, 503, 503, 503, 200]
    # One failure charged, the one that opened it and two failed probes not.
    assert deliveries(stack)[(stack.dest_id, event_id(2001))][2] == 2
    logs = stack.logs()
    assert logs.count("circuit breaker probe failed, open again") == 2
    assert logs.count("circuit breaker half-open, sending a probe") == 3


def test_two_daemons_send_one_probe_at_a_time(make_stack, meta):
    stack = make_stack(breaker__failures="2", breaker__cooldown="3s",
                       breaker__cooldown_cap="3s").setup_demo().start()
    second = SecondDaemon(stack)
    try:
        meta.config(fail_status=503, fail_for_seconds=8, retry_after=None)
        assert stack.post_shopify(shopify_order(5000))[0] == 200
        wait_until(lambda: breaker_of(stack, stack.dest_id)["state"] == "open", timeout=20,
                   what="the breaker to open")
        assert [r["status"] for r in meta.requests()] == [503, 503]
        # A backlog for four workers in two daemons, while the platform is down.
        for oid in range(5001, 5021):
            assert stack.post_shopify(shopify_order(oid))[0] == 200
        stack.wait_states({"delivered": 21}, timeout=60)
    finally:
        second.stop()
    reqs = meta.requests()
    during = [r for r in reqs[2:] if r["status"] == 503]
    assert during, reqs
    # Every request while it was open was a lone probe, cool-downs apart…
    assert all(r["events"] == 1 for r in during), during
    for a, b in zip(during, during[1:]):
        assert b["time"] - a["time"] >= 1.4, (a, b)
    # …and so was the first one after the outage.
    first_ok = next(r for r in reqs if r["status"] == 200)
    assert first_ok["events"] == 1 and first_ok["time"] - during[-1]["time"] >= 1.4
    probes = (stack.logs() + second.logs()).count("circuit breaker half-open, sending a probe")
    assert probes == len(during) + 1
    # Only the first failure was charged.
    assert max(a for (_, _, a) in deliveries(stack).values()) <= 2


def test_an_event_the_platform_chokes_on_cannot_keep_it_open(make_stack, meta):
    # Every request carrying order 6660 gets a 500; the others are fine.
    stack = make_stack(breaker__failures="2", breaker__cooldown="1s",
                       breaker__cooldown_cap="4s").setup_demo().start()
    meta.config(fail_status=500, fail_for_seconds=600, fail_event_ids_containing=":6660")
    assert stack.post_shopify(shopify_order(6660))[0] == 200
    wait_until(lambda: len(meta.requests()) >= 3, timeout=20, what="a failed probe")
    # Other orders still get through: a probe of one of them closes the
    # breaker (a failed probe's delivery goes to the back, core/breaker.c).
    good = [event_id(i) for i in range(1001, 1006)]
    for i in range(1001, 1006):
        assert stack.post_shopify(shopify_order(i))[0] == 200
    wait_until(lambda: set(first_accepted(meta, stack.PIXEL)) >= set(good), timeout=25,
               what="the other orders delivered")
    # The bad order spends an attempt each time it fails while the breaker
    # is closed, until it is dead.
    oid = 1005

    def bad_one_dead():
        nonlocal oid
        oid += 1
        assert stack.post_shopify(shopify_order(oid))[0] == 200
        return deliveries(stack)[(stack.dest_id, event_id(6660))][1] == "dead"

    wait_until(bad_one_dead, timeout=90, interval=0.5, what="the bad order dead")
    good = [event_id(i) for i in range(1001, oid + 1)]
    wait_until(lambda: set(first_accepted(meta, stack.PIXEL)) >= set(good), timeout=30,
               what="every other order delivered")
    wait_until(lambda: breaker_of(stack, stack.dest_id)["state"] == "closed",
               what="the breaker closed")
    assert deliveries(stack)[(stack.dest_id, event_id(6660))][2] == 5


def test_retry_after_pauses_the_whole_destination(make_stack, meta):
    stack = make_stack().setup_demo().start()
    meta.config(fail_next=[429], retry_after=4)
    assert stack.post_shopify(shopify_order(3001))[0] == 200
    wait_until(lambda: breaker_of(stack, stack.dest_id)["state"] == "open",
               what="Retry-After to pause the destination")
    paused_at = meta.requests()[0]["time"]
    # Another order: not sent before the pause is over.
    assert stack.post_shopify(shopify_order(3002))[0] == 200
    assert "open until" in stack.ctl("stats").stdout
    stack.wait_states({"delivered": 2}, timeout=30)
    reqs = meta.requests()
    assert reqs[0]["status"] == 429
    for r in reqs[1:]:
        assert r["time"] - paused_at >= 3.5, (r, paused_at)
    # The 429 was the destination's, not the event's: no attempt spent.
    got = deliveries(stack)
    assert got[(stack.dest_id, event_id(3001))][2] == 1
    assert got[(stack.dest_id, event_id(3002))][2] == 1


@pytest.mark.skipif(os.environ.get("ADSENG_SKIP_SLOW") == "1", reason="ADSENG_SKIP_SLOW=1")
def test_slow_90s_outage_delivers_everything_and_spares_the_other_destination(make_stack,
                                                                              meta):
    """SLOW: ~2 minutes.  The proof of issue 5 for the breaker."""
    stack = make_stack(retry__base="1s", retry__cap="2s", retry__max_attempts="6",
                       breaker__cooldown_cap="10s").setup_demo()
    dest2 = stack.add_meta_destination("pixel2", PIXEL2)
    stack.start()
    # 503 without Retry-After: the failure count has to open the breaker.
    meta.config(fail_status=503, fail_for_seconds=90, fail_pixels=[stack.PIXEL],
                retry_after=None)
    outage_end = time.time() + 90
    posted = {}
    oid = 4000
    while time.time() < outage_end + 3:
        oid += 1
        assert stack.post_shopify(shopify_order(oid))[0] == 200
        posted[event_id(oid)] = time.time()
        time.sleep(1)
    assert breaker_of(stack, dest2)["state"] == "closed"

    n = len(posted)
    stack.wait_states({"delivered": 2 * n}, timeout=120)
    got = deliveries(stack)
    assert max(a for (dest, _), (_, _, a) in got.items() if dest == stack.dest_id) <= 3
    assert max(a for (dest, _), (_, _, a) in got.items() if dest == dest2) == 1

    # The second destination: every order within a few seconds, outage or not.
    first2 = first_accepted(meta, PIXEL2)
    late = {eid: first2[eid] - t for eid, t in posted.items() if first2[eid] - t > 5}
    assert not late, late
    # The first: everything, once the outage was over; little traffic during it.
    first1 = first_accepted(meta, stack.PIXEL)
    assert set(first1) == set(posted)
    failed1 = [r for r in meta.requests() if r["pixel"] == stack.PIXEL and r["status"] == 503]
    assert len(failed1) <= 40, len(failed1)
    assert meta.accepted() == {eid: 2 for eid in posted}
