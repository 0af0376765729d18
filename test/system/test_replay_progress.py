"""`adsengctl replay` over many rows (issue 9, CLI habits): the rows move
in batches inside one transaction, and on a terminal stderr shows the
progress ("deliveries replayed: 5000/12000 (…/s, ETA …)"), redrawn in
place; piped, or with --json on a terminal, stderr stays quiet.  The
daemon is not started: nothing else touches the rows."""

import os
import pty
import subprocess

from harness import BIN_DIR

ROWS = 12000  # three batches of 5000


def seed_failed(stack, n):
    stack.sql("INSERT INTO deliveries (conversion_id, destination_id, tenant_id, state,"
              " attempts, last_error) SELECT g, '%s', (SELECT id FROM tenants LIMIT 1),"
              " 'failed', 5, 'HTTP 400' FROM generate_series(1, %d) g" % (stack.dest_id, n))


def run_on_tty(stack, *args):
    """adsengctl with stderr on a pseudo-terminal: (rc, stdout, tty text)."""
    master, slave = pty.openpty()
    argv = [os.path.join(BIN_DIR, "adsengctl"), "-c", stack.conf_file] + list(args)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = p.stdout.read().decode()
    rc = p.wait(timeout=120)
    os.close(master)
    return rc, out, b"".join(chunks).decode(errors="replace")


def test_replay_progress_on_a_terminal(make_stack):
    stack = make_stack().setup_demo()
    seed_failed(stack, ROWS)
    rc, out, tty = run_on_tty(stack, "replay", "--state", "failed")
    assert rc == 0, (out, tty)
    assert "replayed %d deliveries" % ROWS in out, out
    # At least the first batch's line, with the total known up front.
    assert "deliveries replayed: 5000/%d" % ROWS in tty, repr(tty)
    assert "\r" in tty and tty.endswith("\n"), repr(tty)
    assert stack.count("deliveries", "state = 'pending'") == ROWS
    assert stack.count("deliveries", "state = 'failed'") == 0
    # One audit row for the whole replay, as before the batching.
    assert stack.scalar("SELECT count(*) FROM audit_log WHERE action = 'replay'") == "1"


def test_replay_quiet_when_piped_or_json(make_stack):
    stack = make_stack().setup_demo()
    seed_failed(stack, ROWS)
    stack.sql("UPDATE deliveries SET state = 'dead'")
    # --json on a terminal: only the JSON, on stdout.
    rc, out, tty = run_on_tty(stack, "replay", "--state", "dead", "--json")
    assert rc == 0, (out, tty)
    assert "replayed" not in tty and tty.strip() == "", repr(tty)
    assert '"count":\t%d' % ROWS in out or '"count": %d' % ROWS in out or \
        '"count":%d' % ROWS in out, out[:300]
    # Piped: no progress either.
    stack.sql("UPDATE deliveries SET state = 'failed'")
    p = subprocess.run([os.path.join(BIN_DIR, "adsengctl"), "-c", stack.conf_file, "replay"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "", repr(p.stderr)
    assert "replayed %d deliveries" % ROWS in p.stdout
    assert stack.count("deliveries", "state = 'pending'") == ROWS
