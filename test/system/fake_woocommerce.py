#!/usr/bin/python3
"""A fake WooCommerce REST API (the orders list only) for the system test
of `adsengctl source reconcile`.

``GET /wp-json/wc/v3/orders?modified_after&dates_are_gmt&per_page&page``
    The orders loaded through the control API whose ``date_modified_gmt``
    is after ``modified_after`` (read as GMT only with ``dates_are_gmt=true``,
    as WooCommerce does; without it the fake refuses with 400, so a client
    that forgets it is caught), oldest first, ``per_page`` (1..100, default
    10) at a time, page ``page`` (from 1).  Sets ``X-WP-Total`` and
    ``X-WP-TotalPages`` like WordPress.  Needs HTTP Basic auth with the
    configured consumer key and secret, else 401
    ``{"code": "woocommerce_rest_cannot_view", …}``.
    (https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders)

Control API (JSON):

``POST /_control/config``
    Merge any of: ``consumer_key``, ``consumer_secret``, ``orders`` (the
    list of order objects served).
``GET /_control/requests``
    Every API request: path, query (parsed), whether it was authorized,
    status.

Usage: ``fake_woocommerce.py --port 0``; the first stdout line is
``PORT=<n>``.  Standard library only; run by /usr/bin/python3.
"""

import base64
import json
import sys
from urllib.parse import parse_qs, urlsplit

import fake_common


class State(fake_common.FakeState):
    def initial_config(self):
        return {"consumer_key": "ck_fake", "consumer_secret": "cs_fake", "orders": []}


class Handler(fake_common.Handler):
    # One request per connection, as before the fakes shared their plumbing.
    protocol_version = "HTTP/1.0"
    disable_nagle_algorithm = False

    def reply(self, status, body, headers=None):
        self.send_json(status, body, headers)

    def authorized(self):
        st = self.server.state
        want = "%s:%s" % (st.config["consumer_key"], st.config["consumer_secret"])
        got = self.headers.get("Authorization", "")
        if not got.startswith("Basic "):
            return False
        try:
            return base64.b64decode(got[6:]).decode() == want
        except ValueError:
            return False

    def do_GET(self):
        url = urlsplit(self.path)
        st = self.server.state
        if url.path == "/_control/requests":
            with st.lock:
                return self.reply(200, st.requests)
        if url.path != "/wp-json/wc/v3/orders":
            return self.reply(404, {"code": "rest_no_route"})
        q = dict((k, v[0]) for k, v in parse_qs(url.query).items())
        with st.lock:
            status, body, headers = self.orders(q)
            st.record_request({"path": url.path, "query": q, "status": status})
        self.reply(status, body, headers)

    def orders(self, q):
        st = self.server.state
        if not self.authorized():
            return 401, {"code": "woocommerce_rest_cannot_view",
                         "message": "Sorry, you cannot list resources.",
                         "data": {"status": 401}}, {}
        if q.get("dates_are_gmt") != "true":
            return 400, {"code": "fake_needs_gmt",
                         "message": "this fake serves GMT dates only"}, {}
        try:
            per_page = int(q.get("per_page", "10"))
            page = int(q.get("page", "1"))
        except ValueError:
            return 400, {"code": "rest_invalid_param"}, {}
        if not 1 <= per_page <= 100 or page < 1:
            return 400, {"code": "rest_invalid_param"}, {}
        after = q.get("modified_after", "")
        match = sorted((o for o in st.config["orders"]
                        if o.get("date_modified_gmt", "") > after),
                       key=lambda o: o.get("date_modified_gmt", ""))
        total_pages = (len(match) + per_page - 1) // per_page
        chunk = match[(page - 1) * per_page:page * per_page]
        return 200, chunk, {"X-WP-Total": str(len(match)),
                            "X-WP-TotalPages": str(total_pages)}

    def do_POST(self):
        url = urlsplit(self.path)
        st = self.server.state
        body = json.loads(self.read_body() or b"{}")
        if url.path == "/_control/config":
            with st.lock:
                st.config.update(body)
            return self.reply(200, {"ok": True})
        if url.path == "/_control/reset":
            # The requests only: the config (keys, orders) stays.
            with st.lock:
                st.clear()
            return self.reply(200, {"ok": True})
        return self.reply(404, {"code": "rest_no_route"})


def setup(server, args):
    server.state = State()


def main(argv=None):
    return fake_common.serve(Handler, "Fake WooCommerce REST API.", setup, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
