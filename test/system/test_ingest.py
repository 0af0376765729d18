"""The ingest path under odd requests and a stalled COMMIT: header bytes
that are not UTF-8, a row the database refuses, clients that hang up while
their COMMIT waits, and the byte and connection bounds.

A stalled COMMIT is made by holding ACCESS EXCLUSIVE on ingest_keys from
another session (TableLock): the one ingest writer then waits in its
INSERT, and whatever arrives meanwhile queues up and goes into the next
batch together, which is what these tests need.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import threading
import time

from harness import shopify_order, wait_until


class TableLock:
    """ACCESS EXCLUSIVE on a table, held by a psql session until release()."""

    def __init__(self, stack, table="ingest_keys"):
        self.stack = stack
        psql = os.path.join(stack.cluster.bindir, "psql")
        self.proc = subprocess.Popen([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                      stack.cluster.url(stack.db)],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, text=True)
        self.proc.stdin.write("BEGIN;\nLOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\n" % table)
        self.proc.stdin.flush()
        wait_until(lambda: stack.scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) "
            "AND c.relname = '%s' AND l.mode = 'AccessExclusiveLock' AND l.granted"
            % table) == "1", what="the table lock")

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("COMMIT;\n")
            self.proc.stdin.close()
            self.proc.wait(30)


def writer_waits(stack):
    """True once an ingest writer waits for a lock (its COMMIT is stalled)."""
    return stack.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name LIKE 'adsengd-ingest%' AND wait_event_type = 'Lock'") != "0"


def queued(stack):
    status, body, _ = stack.http("GET", "/readyz")
    return json.loads(body)["queued"] if body else -1


def signed_headers(stack, body, webhook_id, topic="orders/create"):
    mac = hmac.new(stack.SECRET.encode(), body, hashlib.sha256).digest()
    return [("Content-Type", "application/json"),
            ("X-Shopify-Topic", topic),
            ("X-Shopify-Shop-Domain", "shop.example"),
            ("X-Shopify-Webhook-Id", webhook_id),
            ("X-Shopify-API-Version", "2026-10"),
            ("X-Shopify-Hmac-Sha256", base64.b64encode(mac).decode())]


def raw_post(stack, body, headers, timeout=60):
    """POST with header values sent as given (bytes pass through as raw
    bytes, which urllib would refuse); returns (status, body, headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=timeout)
    try:
        conn.putrequest("POST", "/v1/webhooks/shopify/%s" % stack.source_id,
                        skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e).encode(), {}
    finally:
        conn.close()


class Poster(threading.Thread):
    """One raw_post in the background; .result once joined."""

    def __init__(self, stack, body, headers):
        super().__init__(daemon=True)
        self.args = (stack, body, headers)
        self.result = None
        self.start()

    def run(self):
        self.result = raw_post(*self.args)

    def get(self, timeout=60):
        self.join(timeout)
        assert not self.is_alive(), "request still waiting"
        return self.result


def order_body(i):
    return json.dumps(shopify_order(5551234560000 + i)).encode()


def post_batch(stack, bodies_and_headers):
    """Stall the COMMIT, send one plug request (it waits in the writer),
    queue the others behind it so they form one batch, then let go.
    Returns (plug result, [results])."""
    lock = TableLock(stack)
    try:
        body = order_body(0)
        plug = Poster(stack, body, signed_headers(stack, body, "wh-plug"))
        wait_until(lambda: writer_waits(stack), what="the writer to wait for the lock")
        posters = [Poster(stack, b, h) for b, h in bodies_and_headers]
        wait_until(lambda: queued(stack) == len(posters), timeout=30,
                   what="%d webhooks queued behind the stalled COMMIT" % len(posters))
    finally:
        lock.release()
    return plug.get(), [p.get() for p in posters]


def test_invalid_utf8_header_is_stored_and_does_not_fail_the_batch(make_stack):
    stack = make_stack(ingest__writers="1").setup_demo().start()
    batch = []
    for i in range(1, 6):
        body = order_body(i)
        batch.append((body, signed_headers(stack, body, "wh-%d" % i)))
    body = order_body(6)
    headers = [(n, b"shop\xff\xfe.example\xc3\x01\x7f" if n == "X-Shopify-Shop-Domain" else v)
               for n, v in signed_headers(stack, body, "wh-bad")]
    batch.append((body, headers))

    plug, results = post_batch(stack, batch)

    assert plug[0] == 200, plug
    for status, data, _ in results:
        assert status == 200, (status, data)
        assert json.loads(data)["status"] == "accepted"
    assert stack.count("raw_events") == 7
    assert stack.scalar("SELECT headers->>'X-Shopify-Shop-Domain' FROM raw_events "
                        "WHERE dedup_key = 'wh-bad'") == "shop\ufffd\ufffd.example\ufffd\x01\x7f"


def test_a_row_the_database_refuses_fails_alone(make_stack):
    stack = make_stack(ingest__writers="1").setup_demo().start()
    # A data error only one row of the batch can hit (SQLSTATE 23514).
    stack.sql("ALTER TABLE raw_events ADD CONSTRAINT test_poison "
              "CHECK (topic <> 'orders/poison')")
    batch = []
    for i in range(1, 6):
        body = order_body(i)
        batch.append((body, signed_headers(stack, body, "wh-%d" % i)))
    poison = order_body(6)
    batch.insert(2, (poison, signed_headers(stack, poison, "wh-poison", topic="orders/poison")))

    plug, results = post_batch(stack, batch)

    assert plug[0] == 200, plug
    statuses = [r[0] for r in results]
    assert statuses == [200, 200, 500, 200, 200, 200], results
    assert json.loads(results[2][1])["error"] == "not_stored"
    assert stack.count("raw_events") == 6
    assert stack.count("ingest_keys", "dedup_key = 'wh-poison'") == 0
    assert "webhook refused by the database" in stack.logs()
    # Nothing of it was kept: once the data is storable, it is stored.
    stack.sql("ALTER TABLE raw_events DROP CONSTRAINT test_poison")
    status, data, _ = raw_post(stack, poison, batch[2][1])
    assert status == 200 and json.loads(data)["status"] == "accepted", (status, data)


def test_non_utf8_webhook_id_is_400_and_stores_nothing(stack):
    body = order_body(1)
    headers = [(n, b"wh-\xff" if n == "X-Shopify-Webhook-Id" else v)
               for n, v in signed_headers(stack, body, "x")]
    status, data, _ = raw_post(stack, body, headers)
    assert status == 400, (status, data)
    assert stack.count("raw_events") == 0


def test_request_id_is_answered_stored_and_logged(stack):
    """X-Request-Id: the sender's (a plain token) or one of ours, in the
    answer, in the stored headers, and on the log line of a refusal."""
    body = order_body(11)
    status, _, h = raw_post(stack, body, signed_headers(stack, body, "rid-1") +
                            [("X-Request-Id", "shop-req.42:a")])
    assert status == 200 and h.get("X-Request-Id") == "shop-req.42:a", (status, h)
    assert stack.scalar("SELECT headers->>'X-Adseng-Request-Id' FROM raw_events") == \
        "shop-req.42:a"
    # Not a plain token: replaced by 16 hex digits of ours.
    body = order_body(12)
    status, _, h = raw_post(stack, body, signed_headers(stack, body, "rid-2") +
                            [("X-Request-Id", "has space")])
    assert status == 200 and len(h["X-Request-Id"]) == 16, h
    int(h["X-Request-Id"], 16)
    # A refusal's log line names the request.
    status, _, h = raw_post(stack, body, [(n, "bm8=" if n == "X-Shopify-Hmac-Sha256" else v)
                                          for n, v in signed_headers(stack, body, "rid-3")] +
                            [("X-Request-Id", "bad-sig-7")])
    assert status == 401 and h.get("X-Request-Id") == "bad-sig-7"
    wait_until(lambda: "request_id=bad-sig-7" in stack.logs(), what="the refusal logged")


def bodyless_post(stack, webhook_id):
    """A signed POST with no Content-Length: evhttp takes it as bodyless
    and keeps reading the connection while the request waits."""
    mac = base64.b64encode(hmac.new(stack.SECRET.encode(), b"", hashlib.sha256).digest())
    return (b"POST /v1/webhooks/shopify/%s HTTP/1.1\r\nHost: t\r\n"
            b"X-Shopify-Topic: orders/create\r\nX-Shopify-Shop-Domain: shop.example\r\n"
            b"X-Shopify-Webhook-Id: %s\r\nX-Shopify-Hmac-Sha256: %s\r\n\r\n"
            % (stack.source_id.encode(), webhook_id.encode(), mac))


def test_clients_hanging_up_mid_commit_leak_nothing(make_stack):
    """Under ASan: a request whose client hangs up while its COMMIT waits
    must be freed exactly once (LeakSanitizer fails the stop otherwise).
    With libevent 2.1.12 this passes before and after the issue-5 change:
    the hang-up is only seen once the reply is written (server.c)."""
    stack = make_stack(ingest__writers="1").setup_demo().start()
    n = 30
    lock = TableLock(stack)
    socks = []
    try:
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
            s.sendall(bodyless_post(stack, "hang-%d" % i))
            socks.append(s)
            if i == 0:  # alone in the writer's batch, the rest queue behind it
                wait_until(lambda: writer_waits(stack), what="the writer to wait")
        wait_until(lambda: queued(stack) == n - 1, timeout=30,
                   what="every request waiting for the stalled COMMIT")
        for s in socks:
            s.close()
        # A round trip through the loop after the hang-ups: it has seen them.
        assert stack.http("GET", "/healthz")[0] == 200
    finally:
        lock.release()
    wait_until(lambda: stack.count("raw_events") == n, timeout=30, what="all stored")
    log_before = stack.logs()
    rc = stack.stop()
    log = stack.logs()
    assert "LeakSanitizer" not in log, log[len(log_before) - 200:][-6000:]
    assert rc == 0, log[-4000:]


def test_bytes_after_a_waiting_bodyless_request_do_not_kill_the_daemon(make_stack):
    """A pipelined request behind one that waits for its COMMIT must not
    disturb it (evhttp_read_cb() exits the process, event_errx "illegal
    connection state", should data be read in EVCON_WRITING; 2.1.12 keeps
    reading off while we hold a request, and this checks it stays so)."""
    stack = make_stack(ingest__writers="1").setup_demo().start()
    lock = TableLock(stack)
    try:
        s = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
        s.sendall(bodyless_post(stack, "pipelined-1"))
        wait_until(lambda: writer_waits(stack), what="the writer to wait for the lock")
        s.sendall(bodyless_post(stack, "pipelined-2"))
        assert stack.http("GET", "/healthz")[0] == 200
    finally:
        lock.release()
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.close()
    assert reply.startswith(b"HTTP/1.1 200"), reply
    assert stack.proc.poll() is None, stack.logs()[-2000:]
    assert stack.http("GET", "/healthz")[0] == 200


def test_queue_bytes_full_is_503_with_retry_after_and_stores_nothing(make_stack):
    stack = make_stack(ingest__writers="1", ingest__queue_bytes="1KiB").setup_demo().start()
    lock = TableLock(stack)
    try:
        body = order_body(0)
        assert len(body) > 1024  # one webhook is over the budget by itself
        plug = Poster(stack, body, signed_headers(stack, body, "wh-plug"))
        wait_until(lambda: writer_waits(stack), what="the writer to wait for the lock")
        body = order_body(1)
        status, data, headers = raw_post(stack, body, signed_headers(stack, body, "wh-over"))
        assert status == 503, (status, data)
        assert headers.get("Retry-After") == "5"
    finally:
        lock.release()
    assert plug.get()[0] == 200
    assert stack.count("ingest_keys", "dedup_key = 'wh-over'") == 0
    assert stack.count("raw_events") == 1
    # The budget is given back once the plug is answered.
    status, data, _ = raw_post(stack, body, signed_headers(stack, body, "wh-over"))
    assert status == 200, (status, data)


def http_get_on(sock, path="/healthz"):
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def test_max_connections_holds_back_the_next_connection(make_stack):
    stack = make_stack(server__max_connections="2").setup_demo().start()
    # The readyz probes of start() have closed; wait until their
    # connections are counted out (a new connection is served again).
    wait_until(lambda: stack.http("GET", "/healthz", timeout=2)[0] == 200,
               what="a free connection")
    a = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
    b = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
    # b is served, so a (accepted before it) is counted too: 2 of 2.
    assert http_get_on(b).startswith(b"HTTP/1.1 200")
    c = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
    c.settimeout(2)
    try:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        try:
            early = c.recv(4096)
        except socket.timeout:
            early = None
        assert early is None, "the third connection was served: %r" % early
        # Held back, not lost: once one closes, it is served.
        a.close()
        c.settimeout(20)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = c.recv(4096)
            if not chunk:
                break
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200"), reply
        assert http_get_on(b).startswith(b"HTTP/1.1 200")
    finally:
        for s in (a, b, c):
            s.close()
