"""System tests of the GA4 Measurement Protocol (`ga4`) and server-side GTM
(`sgtm`) destinations: Shopify orders through adsengd to fake_ga4.py, which
answers GA4's way (2xx to everything, the validation server at
/debug/mp/collect) or a container's (status codes as they come)."""

import hashlib
import json
import time

from harness import Stack, shopify_order


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def ga4_stack(make_stack, fake, kind="ga4", test_mode=False, extra=(), **conf):
    stack = make_stack(**conf)
    stack.dest_id = stack.add_ga4_destination("g1", fake, kind=kind, test_mode=test_mode,
                                              extra=extra)
    return stack.start()


def customer_order(order_id, n, ga=None):
    """The fixture order placed by customer n (its own id, email, phone),
    with a _ga cookie in its note attributes when ga is given."""
    order = shopify_order(order_id, email="buyer%d@example.com" % n)
    order["customer"] = dict(order["customer"], id=9000 + n,
                             email="buyer%d@example.com" % n, phone="+1415555%04d" % n)
    order["phone"] = "+1415555%04d" % n
    order["billing_address"] = dict(order["billing_address"], phone="+1415555%04d" % n)
    attrs = [a for a in order.get("note_attributes") or [] if a["name"] != "_ga"]
    if ga:
        attrs.append({"name": "_ga", "value": ga})
    order["note_attributes"] = attrs
    return order


def test_three_customers_three_requests(make_stack, ga4):
    # workers__batch: all three claimed at once, so only batch_key splits them.
    stack = make_stack()
    stack.dest_id = stack.add_ga4_destination("g1", ga4)
    stack.ctl("destination", "pause", stack.dest_id, "--reason", "gather")
    stack.start()
    orders = [customer_order(7101, 1, ga="GA1.1.111111111.1732662001"),
              customer_order(7102, 2, ga="GA1.1.222222222.1732662002"),
              customer_order(7103, 3)]
    for o in orders:
        assert stack.post_shopify(o)[0] == 200
    stack.wait_states({"held": 3})
    stack.ctl("destination", "resume", stack.dest_id)
    stack.wait_states({"delivered": 3})
    reqs = ga4.requests()
    assert len(reqs) == 3, reqs
    by_tid = {}
    for r in reqs:
        assert r["http_status"] == 204 and r["dropped"] is None, r
        assert r["secret_ok"] and r["measurement_id"] == Stack.GA4_MEASUREMENT_ID
        assert r["events"] == 1
        by_tid[r["transaction_ids"][0]] = r
    assert len(set(r["client_id"] for r in reqs)) == 3
    # The _ga cookie's id, without "GA1.1.".
    cids = sorted(r["client_id"] for r in reqs)
    assert "111111111.1732662001" in cids and "222222222.1732662002" in cids
    body = json.loads(reqs[0]["body"])
    ev = body["events"][0]
    assert ev["name"] == "purchase"
    assert ev["params"]["currency"] == "USD"
    assert ev["params"]["engagement_time_msec"] == 1
    assert ev["params"]["transaction_id"]
    assert isinstance(body["timestamp_micros"], int)
    # Google's hashing scheme; the clear values never leave.
    all_bodies = " ".join(r["body"] for r in reqs)
    for n in (1, 2, 3):
        assert sha("buyer%d@example.com" % n) in all_bodies
        assert sha("+1415555%04d" % n) in all_bodies
        assert "buyer%d@example.com" % n not in all_bodies
    assert ga4.stats()["accepted"] == 3
    # The order without a cookie: a derived id, flagged on its delivery.
    errs = [r[0] for r in stack.sql("SELECT coalesce(last_error, '') FROM deliveries")]
    assert sum("derived_client_id" in e for e in errs) == 1, errs
    # The secret is never in the daemon's log.
    assert Stack.GA4_SECRET not in stack.logs()


def test_same_customer_one_request(make_stack, ga4):
    # One worker thread: with two, both may claim after the resume and
    # SKIP LOCKED splits the pair between them (one request each; seen in
    # a full run), as in test_pipeline's test_batch_with_one_rejected_event.
    stack = make_stack(workers__threads="1")
    stack.dest_id = stack.add_ga4_destination("g1", ga4)
    stack.ctl("destination", "pause", stack.dest_id, "--reason", "gather")
    stack.start()
    for oid in (7201, 7202):
        assert stack.post_shopify(customer_order(oid, 5, ga="GA1.1.55555.1732662005"))[0] == 200
    stack.wait_states({"held": 2})
    stack.ctl("destination", "resume", stack.dest_id)
    stack.wait_states({"delivered": 2})
    reqs = ga4.requests()
    assert len(reqs) == 1 and reqs[0]["events"] == 2, reqs
    assert reqs[0]["client_id"] == "55555.1732662005"


def test_older_than_72_hours_dead_unsent(make_stack, ga4):
    stack = ga4_stack(make_stack, ga4)
    created = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 100 * 86400))
    assert stack.post_shopify(shopify_order(7301, created_at=created))[0] == 200
    stack.wait_states({"dead": 1})
    assert "older than ga4 accepts" in stack.scalar("SELECT last_error FROM deliveries")
    assert ga4.requests() == []


def test_ga4_5xx_retried_4xx_failed(make_stack, ga4):
    stack = ga4_stack(make_stack, ga4)
    ga4.config(fail_next=[500])
    assert stack.post_shopify(customer_order(7401, 1, ga="GA1.1.1.2"))[0] == 200
    stack.wait_states({"delivered": 1})
    assert [r["http_status"] for r in ga4.requests()] == [500, 204]
    ga4.config(fail_next=[400])
    assert stack.post_shopify(customer_order(7402, 2, ga="GA1.1.3.4"))[0] == 200
    stack.wait_states({"delivered": 1, "failed": 1})
    assert [r["http_status"] for r in ga4.requests()] == [500, 204, 400]


def test_test_mode_uses_validation_server(make_stack, ga4):
    stack = ga4_stack(make_stack, ga4, test_mode=True)
    ga4.config(validation_messages=[{"fieldPath": "events.params.items",
                                     "description": "Item is missing a price.",
                                     "validationCode": "VALUE_REQUIRED"}])
    assert stack.post_shopify(customer_order(7501, 1, ga="GA1.1.1.2"))[0] == 200
    stack.wait_states({"delivered": 1})
    r = ga4.requests()[0]
    assert r["debug"] and r["path"] == "/debug/mp/collect"
    err = stack.scalar("SELECT last_error FROM deliveries")
    assert "VALUE_REQUIRED events.params.items: Item is missing a price." in err
    # A message that makes GA4 drop the event fails it.
    ga4.config(validation_messages=[{"fieldPath": "events",
                                     "description": "Event at index: [0] has invalid name.",
                                     "validationCode": "NAME_INVALID"}])
    assert stack.post_shopify(customer_order(7502, 2, ga="GA1.1.3.4"))[0] == 200
    stack.wait_states({"delivered": 1, "failed": 1})
    errs = [e[0] for e in stack.sql("SELECT coalesce(last_error,'') FROM deliveries"
                                    " WHERE state = 'failed'")]
    assert "NAME_INVALID events" in errs[0]
    assert ga4.accepted() == {}


def test_sgtm_503_retried_then_delivered(make_stack, sgtm):
    stack = ga4_stack(make_stack, sgtm, kind="sgtm", test_mode=True,
                      extra=("--gtm-preview", "ZW52LTEwMHxhYmM="))
    sgtm.config(fail_next=[503])
    assert stack.post_shopify(customer_order(7601, 1, ga="GA1.1.77.88"))[0] == 200
    stack.wait_states({"delivered": 1})
    reqs = sgtm.requests()
    assert [r["http_status"] for r in reqs] == [503, 200]
    assert reqs[1]["path"] == "/mp/collect" and reqs[1]["client_id"] == "77.88"
    assert reqs[1]["measurement_id"] == Stack.GA4_MEASUREMENT_ID
    assert reqs[1]["preview"] == "ZW52LTEwMHxhYmM="
    assert sgtm.accepted() == {reqs[1]["transaction_ids"][0]: 1}
    rows = stack.sql("SELECT outcome, coalesce(http_status::text, '') FROM delivery_attempts"
                     " ORDER BY at")
    assert rows[0] == ["retry", "503"], rows


def test_sgtm_4xx_fails(make_stack, sgtm):
    stack = ga4_stack(make_stack, sgtm, kind="sgtm")
    sgtm.config(fail_next=[403])
    assert stack.post_shopify(customer_order(7701, 1))[0] == 200
    stack.wait_states({"failed": 1})
    assert "HTTP 403" in stack.scalar("SELECT last_error FROM deliveries")
    assert sgtm.requests()[0]["preview"] is None


def test_add_refuses_bad_settings(make_stack, ga4):
    stack = make_stack()
    stack.add_ga4_destination("ok", ga4)
    p = stack.ctl("destination", "add", "--tenant", "acme", "--kind", "ga4", "--name", "bad",
                  "--measurement-id", "UA-123", "--credentials-file",
                  stack.dir + "/ga4-ok.json", check=False)
    assert p.returncode != 0 and "measurement id" in p.stderr
    p = stack.ctl("destination", "add", "--tenant", "acme", "--kind", "sgtm", "--name", "bad2",
                  "--url", "ftp://x", "--credentials-file", stack.dir + "/ga4-ok.json",
                  check=False)
    assert p.returncode != 0 and "container URL" in p.stderr


def test_fake_ga4_drops_what_ga4_would(ga4):
    # The fake must be able to fail a client: a wrong secret, an empty
    # transaction_id, unhashed user data and 26 events are dropped (still
    # 204, as GA4 answers), and the validation server names them.
    import urllib.request

    def post(body, secret=Stack.GA4_SECRET, debug=False):
        url = "%s%s/mp/collect?measurement_id=%s&api_secret=%s" % (
            ga4.url, "/debug" if debug else "", Stack.GA4_MEASUREMENT_ID, secret)
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()

    ok = {"client_id": "1.2", "events": [{"name": "purchase",
                                          "params": {"transaction_id": "t1", "value": 1}}]}
    assert post(ok)[0] == 204
    assert post(ok, secret="wrong")[0] == 204
    bad_tid = {"client_id": "1.2", "events": [{"name": "purchase",
                                               "params": {"transaction_id": ""}}]}
    assert post(bad_tid)[0] == 204
    assert post(dict(ok, user_data={"sha256_email_address": ["a@b.c"]}))[0] == 204
    assert post(dict(ok, events=ok["events"] * 26))[0] == 204
    status, answer = post(bad_tid, debug=True)
    assert status == 200
    codes = [m["validationCode"] for m in json.loads(answer)["validationMessages"]]
    assert codes == ["VALUE_INVALID"]
    dropped = [r["dropped"] for r in ga4.requests()]
    assert dropped[0] is None and all(dropped[1:]), dropped
    assert ga4.accepted() == {"t1": 1}


def test_validation_sampling_records_warning(make_stack, ga4):
    # --validate-sample 1.0: every request goes to /debug/mp/collect first;
    # a warning is kept on the delivery (and counted in stats), and the
    # event is then sent for real.
    stack = ga4_stack(make_stack, ga4, extra=("--validate-sample", "1.0"))
    ga4.config(validation_messages=[{"fieldPath": "events.params.items",
                                     "description": "Item is missing a price.",
                                     "validationCode": "VALUE_REQUIRED"}])
    assert stack.post_shopify(customer_order(7801, 1, ga="GA1.1.1.2"))[0] == 200
    stack.wait_states({"delivered": 1})
    paths = [r["path"] for r in ga4.requests()]
    assert paths == ["/debug/mp/collect", "/mp/collect"], paths
    err = stack.scalar("SELECT last_error FROM deliveries")
    assert err.startswith("validation: VALUE_REQUIRED events.params.items"), err
    outcomes = [r[0] for r in stack.sql("SELECT outcome FROM delivery_attempts ORDER BY at")]
    assert outcomes == ["validation_warning", "delivered"], outcomes
    st = stack.ctl("stats", json_out=True)
    row = [d for d in st["destinations"] if d["id"] == stack.dest_id][0]
    assert row["validation_warnings"] == 1, row
    assert "VALIDATION_WARNINGS" in stack.ctl("stats").stdout
    assert len(ga4.accepted()) == 1

    # A message GA4 would drop the event for: failed, never sent for real.
    ga4.reset()
    ga4.config(validation_messages=[{"fieldPath": "events",
                                     "description": "Event at index: [0] has invalid name.",
                                     "validationCode": "NAME_INVALID"}])
    assert stack.post_shopify(customer_order(7802, 2, ga="GA1.1.3.4"))[0] == 200
    stack.wait_states({"delivered": 1, "failed": 1})
    assert [r["path"] for r in ga4.requests()] == ["/debug/mp/collect"]
    err = stack.scalar("SELECT last_error FROM deliveries WHERE state = 'failed'")
    assert "NAME_INVALID events: Event at index: [0]" in err, err
    assert ga4.accepted() == {}
