"""Shopify customers and privacy (GDPR) webhooks end to end (issue 7):
customers/create kept as a contact (a Customer Match candidate without an
order), customers/redact and shop/redact erasing what they must (checked
in the tables), customers/data_request audited and answered by
`adsengctl privacy export`, and a bad HMAC on a privacy topic refused
with nothing stored.  Bodies follow test/fixtures/shopify_customers_*.json
(payloads of https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance)."""

import hashlib
import json
import os

from harness import FIXTURES, shopify_order, wait_until

CUSTOMER = 7001122334455  # the fixture order's customer
OTHER = 7009988776655


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def order_of(customer_id, order_id, email):
    o = shopify_order(order_id=order_id, email=email)
    o["customer"] = dict(o["customer"], id=customer_id, email=email)
    o["contact_email"] = email
    return o


def post(s, body, topic):
    status, out, _ = s.post_shopify(body, topic=topic)
    assert status == 200, (topic, status, out)


def body_len(s, topic, extra="true"):
    return [int(x[0]) for x in s.sql("SELECT length(body) FROM raw_events WHERE topic = '%s'"
                                     " AND %s ORDER BY id" % (topic, extra))]


def audit(s, action):
    rows = s.sql("SELECT actor, details::text FROM audit_log WHERE action = '%s' ORDER BY id"
                 % action)
    return [(r[0], json.loads(r[1])) for r in rows]


def payload(s, order_id):
    return json.loads(s.scalar("SELECT payload::text FROM conversions WHERE order_id = '%s'"
                               % order_id))


def test_customers_redact_erases_clear_data_keeps_hashes(stack):
    s = stack
    post(s, fixture("shopify_customers_create.json"), "customers/create")
    post(s, order_of(CUSTOMER, 5551000000001, "ana.silva@example.com"), "orders/create")
    post(s, order_of(CUSTOMER, 5551000000001, "ana.silva@example.com"), "orders/paid")
    post(s, order_of(OTHER, 5551000000002, "bob@example.com"), "orders/create")
    wait_until(lambda: len(s.meta.accepted()) == 2, timeout=30, what="two purchases at Meta")
    s.wait_states({"delivered": 2})
    assert s.count("source_contacts", "contact_key = '%d'" % CUSTOMER) == 1
    before = payload(s, "5551000000001")
    assert before["client_ip"] and before["user_agent"] and before["click"]
    hashes = before["ids"]["meta"]
    assert len(hashes["em"]) == 64

    post(s, fixture("shopify_customers_redact.json"), "customers/redact")
    wait_until(lambda: audit(s, "privacy.redact_customer"), timeout=20,
               what="the redact carried out")
    [(actor, details)] = audit(s, "privacy.redact_customer")
    assert actor == "shopify-webhook"
    assert details["customer"] == str(CUSTOMER) and details["source_id"] == s.source_id
    # customers/create, orders/create, orders/paid and the redact itself
    assert details["raw_events"] == 4 and details["conversions"] == 1
    assert details["contacts"] == 1 and details["deliveries_skipped"] == 0

    # Raw bodies of that customer are gone, the redact's own too; the other
    # customer's order is untouched.
    assert body_len(s, "customers/create") == [0]
    assert body_len(s, "orders/paid") == [0]
    assert body_len(s, "customers/redact") == [0]
    lens = body_len(s, "orders/create")
    assert lens[0] == 0 and lens[1] > 500, lens
    assert s.count("raw_events", "position(convert_to('ana.silva', 'UTF8') IN body) > 0") == 0
    assert s.count("raw_events", "position(convert_to('bob@example.com', 'UTF8') IN body) > 0") == 1
    # The customer record kept for Customer Match is gone.
    assert s.count("source_contacts") == 0
    # The conversion keeps the hashes already sent, nothing in clear.
    after = payload(s, "5551000000001")
    for k in ("client_ip", "user_agent", "page_url", "click"):
        assert k not in after, k
    assert after["ids"]["meta"] == hashes
    google = after["ids"]["google"]
    assert "city" not in google and "postal_code" not in google and "country" not in google
    assert google["email"] == before["ids"]["google"]["email"]
    assert after["order_id"] == "5551000000001" and after["value"] == before["value"]
    assert s.scalar("SELECT redacted_at IS NOT NULL FROM conversions"
                    " WHERE order_id = '5551000000001'") == "t"
    # The delivery still counts.
    assert s.states() == {"delivered": 2}
    assert s.scalar("SELECT d.state FROM deliveries d JOIN conversions c"
                    " ON c.id = d.conversion_id WHERE c.order_id = '5551000000001'") == "delivered"
    # The other customer keeps everything.
    other = payload(s, "5551000000002")
    assert other["client_ip"] and other["user_agent"]
    assert s.scalar("SELECT redacted_at IS NULL FROM conversions"
                    " WHERE order_id = '5551000000002'") == "t"
    # Nothing of the redact is left in error.
    assert s.count("raw_event_status", "state = 'error'") == 0


def test_redact_skips_deliveries_not_yet_sent(make_stack):
    s = make_stack().setup_demo(paused=True).start()
    post(s, order_of(CUSTOMER, 5552000000001, "ana.silva@example.com"), "orders/create")
    s.wait_states({"held": 1})
    post(s, fixture("shopify_customers_redact.json"), "customers/redact")
    wait_until(lambda: audit(s, "privacy.redact_customer"), timeout=20, what="the redact")
    assert s.states() == {"skipped": 1}
    assert s.scalar("SELECT last_error FROM deliveries") == "erased at a privacy request"
    # Resuming the destination sends nothing of that customer: another
    # customer's later order goes, and only it.
    s.ctl("destination", "resume", s.dest_id)
    post(s, order_of(OTHER, 5552000000002, "bob@example.com"), "orders/create")
    wait_until(lambda: len(s.meta.accepted()) == 1, timeout=30, what="the other purchase")
    assert list(s.meta.accepted()) == ["shopify:order:5552000000002"]
    assert s.states() == {"skipped": 1, "delivered": 1}


def test_shop_redact_after_uninstall(stack):
    s = stack
    post(s, fixture("shopify_customers_create.json"), "customers/create")
    post(s, order_of(CUSTOMER, 5553000000001, "ana.silva@example.com"), "orders/create")
    wait_until(lambda: len(s.meta.accepted()) == 1, timeout=30, what="the purchase at Meta")
    s.wait_states({"delivered": 1})
    post(s, {"id": 954889, "domain": "shop.example"}, "app/uninstalled")
    wait_until(lambda: s.scalar("SELECT enabled FROM sources WHERE id = '%s'"
                                % s.source_id) == "f", timeout=20, what="the source disabled")
    # Disabled: orders are refused, the privacy topics still taken (48 h later).
    wait_until(lambda: s.post_shopify(shopify_order(order_id=5553000000009))[0] == 404,
               timeout=10, what="the disabled source refusing orders")
    post(s, fixture("shopify_shop_redact.json"), "shop/redact")
    wait_until(lambda: audit(s, "privacy.redact_source"), timeout=20, what="shop/redact acted on")
    [(actor, details)] = audit(s, "privacy.redact_source")
    assert actor == "shopify-webhook" and details["source_id"] == s.source_id
    assert details["contacts"] == 1 and details["conversions"] == 1
    assert s.count("raw_events", "source_id = '%s'" % s.source_id) == 0
    assert s.count("raw_queue") == 0
    assert s.count("source_contacts") == 0
    p = s.scalar("SELECT payload::text FROM conversions")
    assert "client_ip" not in p and "user_agent" not in p
    assert s.states() == {"delivered": 1}
    # The source stays (disabled), as app/uninstalled left it.
    assert s.scalar("SELECT enabled FROM sources WHERE id = '%s'" % s.source_id) == "f"


def test_data_request_audited_and_export(stack):
    s = stack
    post(s, fixture("shopify_customers_create.json"), "customers/create")
    post(s, order_of(CUSTOMER, 5554000000001, "ana.silva@example.com"), "orders/create")
    post(s, order_of(OTHER, 5554000000002, "bob@example.com"), "orders/create")
    wait_until(lambda: len(s.meta.accepted()) == 2, timeout=30, what="two purchases at Meta")
    post(s, fixture("shopify_customers_data_request.json"), "customers/data_request")
    wait_until(lambda: audit(s, "privacy.data_request"), timeout=20, what="the data request")
    [(actor, details)] = audit(s, "privacy.data_request")
    assert actor == "shopify-webhook" and details["customer"] == str(CUSTOMER)
    assert details["source_id"] == s.source_id and details["raw_event_id"] > 0
    # Nothing is erased by a data request.
    assert s.count("source_contacts") == 1
    assert 0 not in body_len(s, "orders/create")

    out = s.ctl("privacy", "export", "--source", "shop1", "--customer", str(CUSTOMER),
                json_out=True)
    assert out["customer"] == str(CUSTOMER)
    assert out["source"]["id"] == s.source_id and out["source"]["kind"] == "shopify"
    topics = sorted(r["topic"] for r in out["raw_events"])
    assert topics == ["customers/create", "customers/data_request", "orders/create"]
    order = [r for r in out["raw_events"] if r["topic"] == "orders/create"][0]
    assert order["body"]["id"] == 5554000000001
    [conv] = out["conversions"]
    assert conv["order_id"] == "5554000000001"
    assert conv["payload"]["client_ip"] == "203.0.113.24"
    assert len(conv["payload"]["ids"]["meta"]["em"]) == 64
    assert conv["deliveries"][0]["state"] == "delivered"
    em = hashlib.sha256(b"ana.silva@example.com").hexdigest()
    assert out["contact"]["ids.meta.em"] == em
    assert "5554000000002" not in json.dumps(out)
    [(cli_actor, d)] = audit(s, "privacy.export")
    assert cli_actor != "shopify-webhook" and d["customer"] == str(CUSTOMER)

    # After a redact the export shows what is left: emptied bodies, hashes.
    post(s, fixture("shopify_customers_redact.json"), "customers/redact")
    wait_until(lambda: audit(s, "privacy.redact_customer"), timeout=20, what="the redact")
    out = s.ctl("privacy", "export", "--source", "shop1", "--customer", str(CUSTOMER),
                json_out=True)
    # (bodies are emptied, so no raw event names the customer any more;
    # the conversion is still found by its hashed external id)
    assert out["raw_events"] == []
    assert out["contact"] is None
    assert "client_ip" not in out["conversions"][0]["payload"]
    assert out["conversions"][0]["payload"]["ids"]["meta"]["em"] == em

    # Usage errors.
    p = s.ctl("privacy", "export", "--source", "nope", "--customer", "1", check=False)
    assert p.returncode == 1
    p = s.ctl("privacy", "export", "--source", "shop1", check=False)
    assert p.returncode == 2


def test_bad_hmac_on_privacy_topics_is_401_and_nothing_stored(stack):
    s = stack
    for name, topic in (("shopify_customers_redact.json", "customers/redact"),
                        ("shopify_customers_data_request.json", "customers/data_request"),
                        ("shopify_shop_redact.json", "shop/redact")):
        status, _, _ = s.post_shopify(fixture(name), topic=topic, secret="shpss_wrong")
        assert status == 401, topic
        status, _, _ = s.post_shopify(fixture(name), topic=topic, signature=False)
        assert status == 401, topic
    assert s.count("raw_events") == 0
    assert s.count("ingest_keys") == 0
    assert s.count("audit_log", "action LIKE 'privacy.%'") == 0


def test_customer_without_order_joins_customer_match(make_stack, google_oauth, datamanager):
    from test_audience import LIST_ID, api_requests, google_stack, member_emails

    s = google_stack(make_stack, google_oauth, datamanager).start()
    datamanager.config(lists=[LIST_ID])
    s.ctl("audience", "add", "--destination", "ads1", "--name", "buyers", "--user-list-id",
          LIST_ID, "--sources", "shop1")
    # Nora never ordered; Bob did.
    nora = fixture("shopify_customers_create.json")
    nora.update(id=7001000000777, admin_graphql_api_id="gid://shopify/Customer/7001000000777",
                email="Nora.Quinn@example.com", phone=None)
    post(s, nora, "customers/create")
    post(s, order_of(OTHER, 5555000000001, "bob@example.com"), "orders/create")
    wait_until(lambda: s.count("conversions") == 1 and s.count("source_contacts") == 1,
               timeout=30, what="the order and the customer record")
    assert s.count("conversions", "event_id LIKE '%7001000000777%'") == 0

    p = s.ctl("audience", "sync", "buyers", json_out=True)
    assert (p["added"], p["removed"]) == (2, 0), p
    nora_hash = hashlib.sha256(b"nora.quinn@example.com").hexdigest()
    bob_hash = hashlib.sha256(b"bob@example.com").hexdigest()
    [ingest] = api_requests(datamanager, ":ingest")
    assert member_emails(ingest["body"]) == sorted([nora_hash, bob_hash])
    # The record's address goes too (default_address), as for an order.
    kinds = [[list(i)[0] for i in m["userData"]["userIdentifiers"]]
             for m in ingest["body"]["audienceMembers"]]
    assert ["emailAddress", "phoneNumber", "address"] in kinds

    # customers/update replaces the email: the member changes.
    nora["email"] = "nora@example.org"
    post(s, nora, "customers/update")
    new_hash = hashlib.sha256(b"nora@example.org").hexdigest()
    wait_until(lambda: s.scalar("SELECT ids->>'ids.google.email' FROM source_contacts")
               == new_hash, timeout=20, what="the record updated")
    p = s.ctl("audience", "sync", "buyers", json_out=True)
    assert (p["added"], p["removed"]) == (1, 1), p

    # Her redact removes her from the list at the next sync; Bob stays.
    redact = fixture("shopify_customers_redact.json")
    redact["customer"] = {"id": 7001000000777, "email": "nora@example.org", "phone": None}
    post(s, redact, "customers/redact")
    wait_until(lambda: audit(s, "privacy.redact_customer"), timeout=20, what="the redact")
    p = s.ctl("audience", "sync", "buyers", json_out=True)
    assert (p["added"], p["removed"], p["unchanged"]) == (0, 1, 1), p
    removes = api_requests(datamanager, ":remove")
    assert member_emails(removes[-1]["body"]) == [new_hash]
