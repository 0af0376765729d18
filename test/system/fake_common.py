"""What every fake platform server (test/system/fake_*.py) shares.

- ``Handler``: the request plumbing: quiet logs, keep-alive HTTP/1.1,
  bodies by Content-Length or chunked (with an optional size cap), JSON
  answers with a length, ``self.st`` for the server's state.
- ``FakeState``: a lock, the config a fake starts with and ``reset()``
  returns to, and the recorded requests (``record_request``, ``since``).
- Failure injection: ``fail_next`` (statuses answered, in order, to the next
  requests) is checked by ``check_fail_next`` and consumed by ``pop_fail``.
- ``serve()``: --host/--port plus the fake's own options, then the first
  stdout line ``PORT=<n>`` (flushed: harness.FakeServer waits for it) and
  serve until SIGTERM.

The fakes run as ``/usr/bin/python3 test/system/fake_x.py``, so this
directory is sys.path[0] and ``import fake_common`` finds this file.
Standard library only.
"""

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# What fail_next may name when a fake injects plain HTTP answers.
HTTP_STATUSES = frozenset(range(100, 600))


class Handler(BaseHTTPRequestHandler):
    """Plumbing for a fake's handler; the subclass routes do_GET/do_POST."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle
    # plus the client's delayed ACK would add ~40 ms to every answer.
    disable_nagle_algorithm = True
    json_type = "application/json"
    max_body = None  # bytes; None = no cap

    def log_message(self, format, *args):  # noqa: A002 - base class name
        """No per-request logging: the benchmarks push thousands."""

    @property
    def st(self):
        return self.server.state

    def read_body(self):
        """The request body as bytes.  With max_body set, a chunked body is
        understood and a length over the cap (or negative) is ValueError."""
        if self.max_body is None:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n > 0 else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > self.max_body:
                    raise ValueError("body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > self.max_body:
            raise ValueError("bad Content-Length")
        return self.rfile.read(n) if n else b""

    def send_json(self, status, obj=None, headers=None):
        """Answer obj as JSON (None = an empty body without a type); headers
        is a dict or a list of (name, value)."""
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", self.json_type)
        self.send_header("Content-Length", str(len(data)))
        items = headers.items() if isinstance(headers, dict) else (headers or ())
        for name, value in items:
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(data)


class FakeState:
    """A fake's shared state; every field is guarded by ``lock``.  A
    subclass defines ``initial_config()`` and may extend ``clear()`` with
    the records of its own (accepted events, lists...)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def initial_config(self):
        return {"fail_next": []}

    def clear(self):
        """Forget the records (called with the lock held)."""
        self.requests = []

    def reset(self):
        """Back to the startup config; forget every record."""
        with self.lock:
            self.config = self.initial_config()
            self.clear()

    def record_request(self, entry):
        """Append a request record (the caller holds the lock) and return
        it, so the caller may still fill it in."""
        self.requests.append(entry)
        return entry

    def since(self, k):
        """The records from index k on (GET /_control/requests?since=K)."""
        return self.requests[k:]


def check_fail_next(value, allowed=None, what="HTTP statuses"):
    """Validate a fail_next setting: a list whose items are in allowed (a
    container, or a predicate; any int when None).  ValueError names what
    is wanted."""
    if not isinstance(value, list):
        raise ValueError("fail_next: a list of %s" % what)
    for v in value:
        if allowed is None:
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif callable(allowed):
            ok = allowed(v)
        else:
            ok = v in allowed
        if not ok:
            raise ValueError("fail_next: a list of %s" % what)
    return list(value)


def pop_fail(config):
    """The next injected failure, consumed; None when there is none.  The
    caller holds the state's lock."""
    return config["fail_next"].pop(0) if config["fail_next"] else None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(handler, description, setup, add_args=None, argv=None):
    """Parse --host/--port (and add_args' options), bind, let setup(server,
    args) attach the state, print PORT=<n> and serve until interrupted."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    ap.add_argument("--port", type=int, default=0, help="port, 0 picks a free one")
    if add_args:
        add_args(ap)
    args = ap.parse_args(argv)
    server = Server((args.host, args.port), handler)
    setup(server, args)
    print("PORT=%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
