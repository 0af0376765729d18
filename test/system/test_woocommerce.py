"""WooCommerce end to end: signed order webhooks into the real adsengd,
through PostgreSQL, out to the fake Meta.  The activation ping, bad
signatures, HTTP/1.0 (WooCommerce's own deliveries use it), the paid gate
and one purchase per order however many updates follow, and the source's
settings and sealed REST credentials as `source add` stores them."""

import base64
import hashlib
import hmac
import json
import os
import socket
import time

import harness
from harness import FIXTURES, wait_until

WOO_SECRET = "wc_test_secret_abcdef"
ORDER_ID = 7402


def woo_order(order_id=ORDER_ID, status="processing", paid=True, modified=None, **changes):
    """The fixture order with this id, created a minute ago (Meta refuses
    events older than 7 days), paid or not."""
    with open(os.path.join(FIXTURES, "woocommerce", "order_pending.json")) as f:
        order = json.load(f)
    created = time.time() - 60
    order["id"] = order_id
    order["number"] = str(order_id)
    order["status"] = status
    order["date_created_gmt"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    order["date_paid_gmt"] = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created + 30))
                              if paid else None)
    order["date_modified_gmt"] = modified or time.strftime("%Y-%m-%dT%H:%M:%S",
                                                           time.gmtime())
    order.update(changes)
    return order


class Woo:
    """A WooCommerce source of the demo tenant, routed to the demo pixel."""

    def __init__(self, stack, **opts):
        self.stack = stack
        secret_file = os.path.join(stack.dir, "woo.secret")
        with open(secret_file, "w") as f:
            f.write(WOO_SECRET + "\n")
        args = ["source", "add", "--tenant", "acme", "--kind", "woocommerce", "--name",
                "woo1", "--secret-file", secret_file]
        for k, v in opts.items():
            args += ["--" + k.replace("_", "-"), v]
        src = stack.ctl(*args, json_out=True)
        self.id = src["id"]
        self.webhook_url = src["webhook_url"]
        stack.ctl("route", "add", self.id, stack.dest_id)

    def path(self):
        return "/v1/webhooks/woocommerce/%s" % self.id

    def headers(self, body, topic, secret=WOO_SECRET, signature=None):
        mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        h = {"Content-Type": "application/json",
             "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7)",
             "X-WC-Webhook-Source": "https://shop.example/",
             "X-WC-Webhook-Topic": topic,
             "X-WC-Webhook-Resource": topic.split(".")[0],
             "X-WC-Webhook-Event": topic.split(".")[-1],
             "X-WC-Webhook-ID": "12",
             # Deliberately the same for every delivery: it is a hash of
             # the webhook id and the second, so it repeats (PLATFORMS.md).
             "X-WC-Webhook-Delivery-ID": "c0ffee"}
        if signature is not False:
            h["X-WC-Webhook-Signature"] = signature or base64.b64encode(mac).decode()
        return h

    def post(self, order, topic="order.created", **kw):
        body = order if isinstance(order, bytes) else json.dumps(order).encode()
        status, data, hdrs = self.stack.http("POST", self.path(), body,
                                             self.headers(body, topic, **kw))
        return status, (json.loads(data) if data else None), hdrs


def woo_stack(make_stack, **opts):
    stack = make_stack().setup_demo()
    woo = Woo(stack, **opts)
    stack.start()
    return stack, woo


def raw_events(stack, woo):
    return stack.count("raw_events", "source_id = '%s'" % woo.id)


def test_signed_paid_order_is_one_purchase_at_meta(make_stack, meta):
    stack, woo = woo_stack(make_stack)
    assert woo.webhook_url == stack.base_url + woo.path()
    status, body, _ = woo.post(woo_order())
    assert status == 200 and body["status"] == "accepted"
    stack.wait_states({"delivered": 1})
    event_id = "woocommerce:order:%d" % ORDER_ID
    wait_until(lambda: meta.accepted().get(event_id) == 1, what="Meta got the purchase")
    (req,) = meta.requests()
    data = req["body"] if isinstance(req["body"], dict) else json.loads(req["body"])
    (ev,) = data["data"]
    assert ev["event_name"] == "Purchase"
    assert ev["custom_data"]["value"] in ("59.80", 59.8)
    assert ev["custom_data"]["currency"] == "USD"
    assert ev["user_data"]["client_ip_address"] == "2001:db8::17"
    assert ev["event_source_url"].startswith("https://shop.example/sale/")
    assert ev["user_data"]["fbc"] == "fb.1.1732700000000.IwAR_cookie"
    # stored with the WooCommerce headers, but never keyed on the delivery id
    headers = json.loads(stack.scalar("SELECT headers::text FROM raw_events"))
    headers = dict((k.lower(), v) for k, v in headers.items())  # names as sent
    assert headers.get("x-wc-webhook-delivery-id") == "c0ffee"
    assert stack.scalar("SELECT dedup_key FROM ingest_keys").startswith(
        "order.created:%d:" % ORDER_ID)


def test_bad_or_missing_signature_is_401_and_stores_nothing(make_stack, meta):
    stack, woo = woo_stack(make_stack)
    order = woo_order()
    assert woo.post(order, secret="wrong-secret")[0] == 401
    assert woo.post(order, signature=False)[0] == 401
    assert woo.post(order, signature="bm90IGEgbWFj")[0] == 401
    # the Shopify route of the same id is not this source
    assert stack.http("POST", "/v1/webhooks/shopify/%s" % woo.id, b"{}")[0] == 404
    assert raw_events(stack, woo) == 0
    assert stack.count("ingest_keys") == 0


def test_ping_is_200_and_stores_nothing(make_stack, meta):
    stack, woo = woo_stack(make_stack)
    # What deliver_ping() sends: a form body, no signature, no X-WC header.
    status, body, _ = stack.http(
        "POST", woo.path(), b"webhook_id=12",
        {"Content-Type": "application/x-www-form-urlencoded",
         "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7)"})
    assert status == 200, body
    assert json.loads(body)["status"] == "ping"
    # A ping to a source that does not exist must fail, so the merchant sees it.
    status, _, _ = stack.http("POST", "/v1/webhooks/woocommerce/%s" % (
        "00000000-0000-4000-8000-000000000000"), b"webhook_id=12")
    assert status == 404
    # Anything more than the ping is a delivery and needs a signature.
    assert stack.http("POST", woo.path(), b"webhook_id=12&x=1")[0] == 401
    assert raw_events(stack, woo) == 0
    assert stack.count("ingest_keys") == 0


def http10_post(stack, path, body, headers):
    """One HTTP/1.0 request on a raw socket (urllib speaks 1.1 only);
    returns (status line, whole response)."""
    lines = ["POST %s HTTP/1.0" % path, "Host: 127.0.0.1:%d" % stack.port,
             "Content-Length: %d" % len(body)]
    lines += ["%s: %s" % kv for kv in headers.items()]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as s:
        s.sendall(data)
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break  # HTTP/1.0 without keep-alive: the server closes
            resp += chunk
    return resp.split(b"\r\n", 1)[0].decode(), resp


def test_http10_delivery_is_accepted(make_stack, meta):
    stack, woo = woo_stack(make_stack)
    body = json.dumps(woo_order()).encode()
    status_line, resp = http10_post(stack, woo.path(), body,
                                    woo.headers(body, "order.created"))
    assert status_line.startswith("HTTP/1.") and " 200 " in status_line + " ", resp
    assert b'"accepted"' in resp
    assert raw_events(stack, woo) == 1
    stack.wait_states({"delivered": 1})
    # the ping too, over 1.0
    status_line, _ = http10_post(stack, woo.path(), b"webhook_id=12", {})
    assert " 200 " in status_line + " "
    assert raw_events(stack, woo) == 1


def test_pending_then_processing_then_updates_is_exactly_one_purchase(make_stack, meta):
    stack, woo = woo_stack(make_stack)
    t0 = time.time()
    stamp = lambda dt: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + dt))
    # order.created before payment: stored, no conversion
    assert woo.post(woo_order(status="pending", paid=False, modified=stamp(0)))[0] == 200
    wait_until(lambda: stack.count("raw_event_status", "state = 'ignored'") == 1,
               what="the unpaid order ignored")
    assert stack.count("conversions") == 0
    # the same delivery again (same version, same delivery id): a duplicate
    status, body, _ = woo.post(woo_order(status="pending", paid=False, modified=stamp(0)))
    assert status == 200 and body["status"] == "duplicate"
    # paid
    assert woo.post(woo_order(modified=stamp(1)), topic="order.updated")[0] == 200
    stack.wait_states({"delivered": 1})
    # later updates of the paid order: new raw events, never a second purchase
    assert woo.post(woo_order(status="completed", modified=stamp(2)),
                    topic="order.updated")[1]["status"] == "accepted"
    assert woo.post(woo_order(status="completed", modified=stamp(3), total="1.00"),
                    topic="order.updated")[1]["status"] == "accepted"
    wait_until(lambda: stack.count("raw_queue") == 0 and raw_events(stack, woo) == 4,
               what="every update normalized")
    wait_until(lambda: stack.count("raw_event_status", "state = 'pending'") == 0,
               what="no raw event pending")
    time.sleep(1)  # give a wrong second delivery the time to happen
    assert stack.count("conversions") == 1
    assert stack.scalar("SELECT value FROM conversions") == "59.80"
    assert stack.states() == {"delivered": 1}
    assert meta.accepted() == {"woocommerce:order:%d" % ORDER_ID: 1}


def test_source_add_options(make_stack, meta):
    stack = make_stack().setup_demo()
    creds = os.path.join(stack.dir, "rest.json")
    with open(creds, "w") as f:
        json.dump({"consumer_key": "ck_test", "consumer_secret": "cs_test_secret"}, f)
    woo = Woo(stack, store_url="https://shop.example/", rest_credentials_file=creds,
              click_meta_keys="_ttclid_plugin=ttclid,_gclid")
    settings = json.loads(stack.scalar(
        "SELECT settings::text FROM sources WHERE id = '%s'" % woo.id))
    assert settings == {"store_url": "https://shop.example",
                        "click_meta_keys": {"_ttclid_plugin": "ttclid", "_gclid": "gclid"}}
    sealed = stack.scalar("SELECT encode(rest_credentials, 'hex') FROM sources "
                          "WHERE id = '%s'" % woo.id)
    assert sealed and "cs_test_secret".encode().hex() not in sealed
    # usage errors exit 2 before anything is stored
    p = stack.ctl("source", "add", "--tenant", "acme", "--kind", "shopify", "--name", "x",
                  "--secret-file", creds, "--store-url", "https://a.example", check=False)
    assert p.returncode == 2 and "woocommerce" in p.stderr
    p = stack.ctl("source", "add", "--tenant", "acme", "--kind", "woocommerce", "--name", "y",
                  "--secret-file", creds, "--click-meta-keys", "_x=nonsense", check=False)
    assert p.returncode == 2
    bad = os.path.join(stack.dir, "bad.json")
    with open(bad, "w") as f:
        f.write('{"consumer_key": "ck_only"}')
    p = stack.ctl("source", "add", "--tenant", "acme", "--kind", "woocommerce", "--name", "z",
                  "--secret-file", creds, "--rest-credentials-file", bad, check=False)
    assert p.returncode == 1 and "consumer_secret" in p.stderr and "ck_only" not in p.stderr
    assert stack.count("sources", "kind = 'woocommerce'") == 1


def test_configured_meta_key_reaches_the_conversion(make_stack, meta):
    stack, woo = woo_stack(make_stack, click_meta_keys="_ttclid_plugin=ttclid")
    assert woo.post(woo_order())[0] == 200
    stack.wait_states({"delivered": 1})
    payload = json.loads(stack.scalar("SELECT payload::text FROM conversions"))
    assert payload["click"]["ttclid"] == "E.C.P.plugin-ttclid"
    assert payload["click"]["gclid"] == "EAIaIQobChMI_session"


class FakeWooREST(harness.FakeServer):
    """test/system/fake_woocommerce.py: the shop's REST API, orders only."""

    SCRIPT = "fake_woocommerce.py"
    KEY, SECRET = "ck_reconcile", "cs_reconcile_secret"

    def __init__(self):
        super().__init__()
        self.config(consumer_key=self.KEY, consumer_secret=self.SECRET)

    def source(self, stack, store_url=None):
        """A woocommerce source of stack with this shop's REST access."""
        creds = os.path.join(stack.dir, "rest.json")
        with open(creds, "w") as f:
            json.dump({"consumer_key": self.KEY, "consumer_secret": self.SECRET}, f)
        return Woo(stack, store_url=store_url or self.url, rest_credentials_file=creds)


def test_reconcile_stores_missed_paid_orders_once(make_stack, meta):
    shop = FakeWooREST()
    try:
        stack = make_stack().setup_demo()
        woo = shop.source(stack, store_url=shop.url + "/")
        stack.start()
        delivered = woo_order(8001)
        assert woo.post(delivered)[0] == 200  # this one's webhook arrived
        stack.wait_states({"delivered": 1})
        missed = [woo_order(8100 + i) for i in range(100)]
        unpaid = woo_order(8003, status="pending", paid=False)
        old = woo_order(8004, modified="2020-01-01T00:00:00")  # before --since
        shop.config(orders=[delivered, unpaid, old] + missed)

        out = stack.ctl("source", "reconcile", "woo1", "--since", "1h", json_out=True)
        assert len(out.pop("since")) == 19  # "2026-11-28T13:00:00"
        assert out == {"source_id": woo.id, "pages": 2, "orders": 102, "not_conversions": 1,
                       "present": 1, "stored": 100, "already_stored": 0}, out
        reqs = shop.requests()
        assert [r["query"]["page"] for r in reqs] == ["1", "2"]
        assert all(r["query"]["per_page"] == "100" and r["query"]["dates_are_gmt"] == "true"
                   and r["status"] == 200 for r in reqs)
        assert stack.count("raw_events", "headers ? 'X-Adseng-Reconciled'") == 100
        stack.wait_states({"delivered": 101}, timeout=60)
        accepted = meta.accepted()
        assert set(accepted) == set("woocommerce:order:%d" % o["id"]
                                    for o in [delivered] + missed)
        assert all(n == 1 for n in accepted.values())

        # Again: everything is there now, nothing is stored twice.
        out = stack.ctl("source", "reconcile", woo.id, "--since", "1h", json_out=True)
        assert out["stored"] == 0 and out["present"] == 101, out
        assert stack.count("raw_events", "headers ? 'X-Adseng-Reconciled'") == 100

        # Wrong credentials: the shop's 401 is the command's failure.
        shop.config(consumer_secret="rotated")
        p = stack.ctl("source", "reconcile", "woo1", "--since", "1h", check=False)
        assert p.returncode == 1 and "401" in p.stderr, p.stderr
        assert shop.SECRET not in p.stderr and shop.SECRET not in p.stdout
        # A source without REST access says what is missing.
        p = stack.ctl("source", "reconcile", "shop1", "--since", "1h", check=False)
        assert p.returncode == 1 and "woocommerce" in p.stderr
        time.sleep(0.5)
        assert stack.count("conversions") == 101
        # Every run is audited, the failed one with its error.
        runs = json.loads(stack.scalar("SELECT json_agg(details ORDER BY id) FROM audit_log"
                                       " WHERE action = 'source.reconcile'"))
        assert [r["stored"] for r in runs] == [100, 0, 0], runs
        assert "401" in runs[2]["error"] and "error" not in runs[0]
    finally:
        shop.stop()


def test_periodic_reconcile_runs_in_the_daemon_from_the_last_good_run(make_stack, meta):
    shop = FakeWooREST()
    try:
        stack = make_stack().setup_demo()
        woo = shop.source(stack)
        p = stack.ctl("source", "reconcile", "woo1", "--interval", "30s", check=False)
        assert p.returncode == 2 and "1m to 7d" in p.stderr
        p = stack.ctl("source", "reconcile", "woo1", "--interval", "1h", "--since", "1h",
                      check=False)
        assert p.returncode == 2
        stack.ctl("source", "reconcile", "woo1", "--interval", "1h")
        assert stack.scalar("SELECT settings->>'reconcile_interval_s' FROM sources"
                            " WHERE id = '%s'" % woo.id) == "3600"
        # The last good run started two hours ago: it is due, and the
        # daemon asks for what changed since then (less 10 minutes).
        stack.sql("UPDATE sources SET reconciled_at = now() - interval '2 hours',"
                   " reconciled_from = now() - interval '2 hours' WHERE id = '%s'" % woo.id)
        shop.config(orders=[woo_order(8200)])
        stack.start()
        stack.wait_states({"delivered": 1}, timeout=60)
        assert set(meta.accepted()) == {"woocommerce:order:8200"}
        since = shop.requests()[0]["query"]["modified_after"]
        assert stack.scalar("SELECT abs(extract(epoch FROM now() - interval '130 minutes'"
                            " - '%s'::timestamp AT TIME ZONE 'UTC')) < 120" % since) == "t", since
        row = json.loads(stack.scalar("SELECT json_build_object('actor', actor, 'd', details)"
                                      " FROM audit_log WHERE action = 'source.reconcile'"))
        assert row["actor"] == "adsengd" and row["d"]["stored"] == 1, row
        assert stack.scalar("SELECT reconciled_from > now() - interval '5 minutes'"
                            " FROM sources WHERE id = '%s'" % woo.id) == "t"
        # Not due again for an hour: no second run.
        time.sleep(1)
        assert len(shop.requests()) == 1
        stack.ctl("source", "reconcile", "woo1", "--interval", "off")
        assert stack.scalar("SELECT settings ? 'reconcile_interval_s' FROM sources"
                            " WHERE id = '%s'" % woo.id) == "f"
    finally:
        shop.stop()
