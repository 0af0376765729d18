"""The service manager protocol (sd_notify), without systemd: adsengd runs
with $NOTIFY_SOCKET pointing at a datagram socket of the test and
$WATCHDOG_USEC set, as systemd would start it (Type=notify, WatchdogSec=).

- READY=1 once it serves, a STATUS= line at once and every 10 s (backlog,
  deliveries/s, breakers), WATCHDOG=1 at half the interval, RELOADING=1
  then READY=1 around SIGHUP, STOPPING=1 at SIGTERM;
- a wedged worker (blocked in a statement by a table lock, no statement or
  lock timeout to free it) stops the WATCHDOG=1 pings, so systemd would
  restart the daemon; they resume once it moves again.
"""

import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time

from harness import ROOT, shopify_order, wait_until
from test_db_stall import TableLock, daemon_lock_waits

WATCHDOG_USEC = 3000000  # 3 s: pings every 1.5 s


class NotifySocket:
    """A bound AF_UNIX datagram socket, like systemd's notify socket,
    recording (monotonic time, message) for every datagram."""

    def __init__(self):
        # Short path: sun_path holds 108 bytes.
        self.dir = tempfile.mkdtemp(prefix="adseng-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode()))

    def env(self):
        return {"NOTIFY_SOCKET": self.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}

    def all(self):
        with self.lock:
            return list(self.messages)

    def fields(self, since=0.0):
        """Every KEY=value assignment received after `since`, in order."""
        out = []
        for t, msg in self.all():
            if t >= since:
                out += [line for line in msg.split("\n") if line]
        return out

    def pings(self, since=0.0, until=None):
        return [t for t, msg in self.all()
                if t >= since and (until is None or t < until) and "WATCHDOG=1" in msg.split("\n")]

    def close(self):
        self.running = False
        self.sock.close()
        self.thread.join(2)
        shutil.rmtree(self.dir, ignore_errors=True)


def statuses(notify, since=0.0):
    return [f[len("STATUS="):] for f in notify.fields(since) if f.startswith("STATUS=")]


def test_notify_protocol(make_stack, meta):
    notify = NotifySocket()
    try:
        stack = make_stack().setup_demo()
        stack.start(env=notify.env())
        wait_until(lambda: "READY=1" in notify.fields(), what="READY=1")
        # A summary comes with READY=1, before any rate is measured.
        wait_until(lambda: statuses(notify), what="a STATUS= line")
        assert "rate not measured yet" in statuses(notify)[0], statuses(notify)
        t0 = time.monotonic()
        assert "systemd watchdog enabled" in stack.logs()

        # Deliveries, then the periodic summary counts them.
        for i in range(5):
            assert stack.post_shopify(shopify_order(9100 + i))[0] == 200
        stack.wait_states({"delivered": 5})
        pattern = re.compile(r"^backlog (\d+) due \(oldest \d+s\), \d+ in flight; "
                             r"(\d+\.\d) deliveries/s; breakers: 0 open, 0 half-open$")

        def counted():
            for s in statuses(notify, t0):
                m = pattern.match(s)
                if m and float(m.group(2)) > 0:
                    return s
            return None
        line = wait_until(counted, timeout=25, what="a STATUS= line with the delivery rate")
        assert pattern.match(line).group(1) == "0", line

        # The watchdog is pinged about every 1.5 s while all is well.
        pings = notify.pings(t0)
        assert len(pings) >= 5, pings
        assert max(b - a for a, b in zip(pings, pings[1:])) < 2.5, pings

        # SIGHUP: RELOADING=1 then READY=1.
        t1 = time.monotonic()
        stack.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "READY=1" in notify.fields(t1), what="READY=1 after the reload")
        after = notify.fields(t1)
        assert "RELOADING=1" in after
        assert after.index("RELOADING=1") < after.index("READY=1"), after

        # SIGTERM: STOPPING=1, exit 0.
        t2 = time.monotonic()
        assert stack.stop() == 0
        assert "STOPPING=1" in notify.fields(t2)
        assert "READY=1" not in notify.fields(t2)
    finally:
        notify.close()


def test_wedged_worker_stops_the_watchdog_pings(make_stack, meta):
    # No lock_timeout and a long statement_timeout: a worker waiting for
    # the lock is stuck in its statement as long as the lock is held.
    notify = NotifySocket()
    lock = None
    try:
        stack = make_stack(workers__lease="2m", database__lock_timeout="0",
                           database__statement_timeout="60s",
                           server__shutdown_timeout="4s").setup_demo()
        stack.start(env=notify.env())
        assert stack.post_shopify(shopify_order(9200))[0] == 200
        stack.wait_states({"delivered": 1})
        t0 = time.monotonic()
        wait_until(lambda: len(notify.pings(t0)) >= 2, what="watchdog pings")

        lock = TableLock(stack, "conversions", 90)
        assert stack.post_shopify(shopify_order(9201))[0] == 200
        wait_until(lambda: any(name.startswith("adsengd-worker-")
                               for name, _ in daemon_lock_waits(stack)),
                   what="a worker waiting for the lock")
        wedged = time.monotonic()
        # The worker's last stamp is at most WATCHDOG_USEC old when the
        # pings stop; after a margin there must be none for a while.
        time.sleep(WATCHDOG_USEC / 1e6 + 1.0)
        quiet_from = time.monotonic()
        time.sleep(4.0)
        assert notify.pings(quiet_from) == [], "pinged while a worker was wedged"
        # The loop and the ingest writer still work (webhooks answered).
        assert stack.post_shopify(shopify_order(9202))[0] == 200
        logs = stack.logs()
        assert "a thread makes no progress; not pinging the watchdog" in logs
        assert re.search(r"thread=worker-\d", logs), logs[-2000:]
        assert notify.pings(wedged - 1.6), "no ping before the wedge"

        # Unwedged: the pings come back.
        lock.release()
        lock = None
        t1 = time.monotonic()
        wait_until(lambda: len(notify.pings(t1)) >= 2, timeout=20,
                   what="watchdog pings after the lock")
        assert "all threads make progress again" in stack.logs()
        stack.wait_states({"delivered": 3}, timeout=30)
    finally:
        if lock:
            lock.release()
        notify.close()


def unit_settings():
    """LoadCredential= (name, path) and Environment= pairs of the unit."""
    unit = os.path.join(ROOT, "systemd", "adsengd.service")
    creds, env = [], {}
    with open(unit) as f:
        for line in f:
            line = line.strip()
            if line.startswith("LoadCredential="):
                name, path = line[len("LoadCredential="):].split(":", 1)
                creds.append((name, path))
            elif line.startswith("Environment="):
                k, v = line[len("Environment="):].split("=", 1)
                env[k] = v
    return creds, env


def test_master_key_from_the_units_credential(make_stack, meta, tmp_path):
    """Started as the unit starts it (systemd copies LoadCredential= files
    into $CREDENTIALS_DIRECTORY), adsengd takes the master key from there,
    whatever [security] master_key_file says."""
    creds, env = unit_settings()
    assert [name for name, _ in creds] == ["master.key"], creds
    assert creds[0][1] == "/etc/adsengd/master.key"
    stack = make_stack().setup_demo()  # sealed with stack.key_file
    credsdir = tmp_path / "credentials"
    credsdir.mkdir()
    with open(stack.key_file, "rb") as src, open(credsdir / "master.key", "wb") as dst:
        dst.write(src.read())
    os.chmod(credsdir / "master.key", 0o400)
    stack.settings[("security", "master_key_file")] = str(tmp_path / "missing.key")
    stack.write_conf(stack.settings)
    # Without $CREDENTIALS_DIRECTORY there is no key to read: no start.
    stack.start(wait_ready=False, env=env)
    assert stack.proc.wait(20) != 0
    stack.proc = None
    stack.log.close()
    stack.start(env=dict(env, CREDENTIALS_DIRECTORY=str(credsdir)))
    # The sealed source secret opens: the webhook verifies and is delivered.
    assert stack.post_shopify(shopify_order(9400))[0] == 200
    stack.wait_states({"delivered": 1})
