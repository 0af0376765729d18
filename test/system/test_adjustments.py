"""Adjustments end to end: Shopify refunds/create and orders/updated
through the real adsengd and PostgreSQL.  A refund of an order Meta has
becomes an adjustment whose Meta delivery is not_supported (Meta has no
adjustment API) and shows in `stats`; an order edit before delivery
changes the value the destination gets; the same refund delivered twice
makes one adjustment; partial refunds restate, the last one retracts."""

import json
import os
import uuid

from harness import FIXTURES, shopify_order, wait_until


def refund_body(order_id, refund_id, *amounts, currency="USD", note=None):
    """The refund fixture for order_id with one successful refund
    transaction per amount."""
    with open(os.path.join(FIXTURES, "shopify_refunds_create.json")) as f:
        r = json.load(f)
    r["id"] = refund_id
    r["admin_graphql_api_id"] = "gid://shopify/Refund/%d" % refund_id
    r["order_id"] = order_id
    r["note"] = note
    tx = r["transactions"][0]
    r["transactions"] = [dict(tx, id=refund_id * 10 + i, order_id=order_id, amount=a,
                              currency=currency)
                         for i, a in enumerate(amounts)]
    return r


def order_update(order_id, total, updated_at="2026-11-27T08:30:00-05:00"):
    return shopify_order(order_id, total_price=total, updated_at=updated_at)


def raw_state(s, topic, n=1):
    """Wait until n raw events of topic are processed; their (state, error)."""
    q = ("SELECT state, coalesce(error, '') FROM raw_event_status WHERE topic = '%s' "
         "AND state <> 'pending' ORDER BY id" % topic)
    wait_until(lambda: len(s.sql(q)) >= n, timeout=30, what="%s processed" % topic)
    return [tuple(r) for r in s.sql(q)]


def adjustments(s, *args):
    return s.ctl("adjustments", "list", *args, json_out=True)


def deliver(s, order_id):
    status, _, _ = s.post_shopify(shopify_order(order_id))
    assert status == 200
    wait_until(lambda: s.scalar("SELECT count(*) FROM deliveries WHERE state = 'delivered'")
               == "1", timeout=30, what="the purchase delivered")


def test_refund_after_delivery_is_not_supported_at_meta(stack, meta):
    s = stack
    deliver(s, 6001)
    status, _, _ = s.post_shopify(refund_body(6001, 9001, "129.90"), topic="refunds/create")
    assert status == 200
    assert raw_state(s, "refunds/create") == [("done", "")]
    (adj,) = adjustments(s)
    assert adj["kind"] == "retraction" and adj["value"] == "0.00"
    assert adj["event_id"] == "shopify:order:6001" and adj["currency"] == "USD"
    assert adj["refunded"] == "129.90" and adj["dedup_key"] == "shopify:refund:9001"
    (d,) = adj["deliveries"]
    assert (d["destination_id"], d["kind"], d["state"]) == (s.dest_id, "meta_capi",
                                                            "not_supported")
    assert "no adjustment API" in d["last_error"]
    # stats: in total and per destination, JSON and text.
    st = s.ctl("stats", json_out=True)["adjustments"]
    assert st["not_supported"] == 1 and st["pending"] == 0
    (sd,) = st["destinations"]
    assert (sd["id"], sd["not_supported"]) == (s.dest_id, 1)
    text = s.ctl("stats").stdout
    assert "adjustments: 0 pending, 0 in_flight, 0 delivered, 0 failed, 0 dead, " \
        "1 not_supported" in text
    assert "pixel1 (meta_capi):" in text
    # Meta got the purchase only; the conversion itself is unchanged.
    assert len(meta.requests()) == 1
    assert s.scalar("SELECT value FROM conversions") == "129.90"
    # The CLI filters by conversion and by delivery state.
    conv = int(s.scalar("SELECT id FROM conversions"))
    assert len(adjustments(s, "--conversion", str(conv))) == 1
    assert adjustments(s, "--conversion", str(conv + 1)) == []
    assert adjustments(s, "--state", "pending") == []
    assert "retraction" in s.ctl("adjustments", "list").stdout


def test_partial_refunds_restate_then_retract(stack):
    s = stack
    deliver(s, 6002)
    s.post_shopify(refund_body(6002, 9101, "20.00", note="cap"), topic="refunds/create")
    raw_state(s, "refunds/create")
    (adj,) = adjustments(s)
    assert (adj["kind"], adj["value"], adj["reason"]) == ("restatement", "109.90",
                                                          "refund: cap")
    # A refund in another currency than the order is not converted.
    s.post_shopify(refund_body(6002, 9105, "1.00", currency="EUR"), topic="refunds/create")
    assert raw_state(s, "refunds/create", 2)[1] == (
        "ignored", "the change is in EUR, the conversion in USD: not converted")
    # Two transactions in one refund add up; what is left is refunded too.
    s.post_shopify(refund_body(6002, 9102, "100.00", "9.90"), topic="refunds/create")
    raw_state(s, "refunds/create", 3)
    last = adjustments(s)[0]
    assert (last["kind"], last["value"], last["refunded"]) == ("retraction", "0.00", "109.90")
    # After a retraction nothing more is adjusted; the event says why.
    s.post_shopify(refund_body(6002, 9103, "1.00"), topic="refunds/create")
    assert raw_state(s, "refunds/create", 4)[3] == ("ignored",
                                                    "the conversion is retracted already")
    assert len(adjustments(s)) == 2
    # A refund of an order never seen is kept as ignored, with the reason.
    s.post_shopify(refund_body(424242, 9104, "1.00"), topic="refunds/create")
    assert raw_state(s, "refunds/create", 5)[4] == (
        "ignored", "no conversion shopify:order:424242 from this source")


def test_duplicate_refund_makes_one_adjustment(stack):
    s = stack
    deliver(s, 6003)
    body = refund_body(6003, 9201, "30.00")
    hook = str(uuid.uuid4())
    for _ in range(2):  # Shopify's retry of one delivery: dedup at ingest
        status, _, _ = s.post_shopify(body, topic="refunds/create", webhook_id=hook)
        assert status == 200
    # The same refund under a second webhook id: dedup on the refund's id.
    status, _, _ = s.post_shopify(body, topic="refunds/create")
    assert status == 200
    assert raw_state(s, "refunds/create", 2) == [
        ("done", ""), ("ignored", "adjustment shopify:refund:9201 is stored already")]
    assert s.count("adjustments") == 1
    assert s.count("adjustment_deliveries") == 1
    (adj,) = adjustments(s)
    assert (adj["kind"], adj["value"]) == ("restatement", "99.90")


def test_order_update_before_delivery_changes_the_value(make_stack, meta):
    # The destination is paused: the purchase waits, held.
    s = make_stack().setup_demo(paused=True).start()
    s.post_shopify(shopify_order(6004))
    wait_until(lambda: s.scalar("SELECT count(*) FROM deliveries WHERE state = 'held'")
               == "1", timeout=30, what="the purchase held")
    # The same total changes nothing; never a second purchase.
    s.post_shopify(order_update(6004, "129.90"), topic="orders/updated")
    assert raw_state(s, "orders/updated") == [("ignored", "the order total is unchanged")]
    s.post_shopify(order_update(6004, "99.90"), topic="orders/updated")
    assert raw_state(s, "orders/updated", 2)[1] == ("done", "")
    assert s.count("conversions") == 1
    assert s.count("adjustments") == 0
    assert s.scalar("SELECT value FROM conversions") == "99.90"
    assert s.scalar("SELECT payload->>'value' FROM conversions") == "99.90"
    s.ctl("destination", "resume", s.dest_id)
    wait_until(lambda: len(meta.requests()) == 1, timeout=30, what="the purchase sent")
    body = meta.requests()[0]["body"]
    if isinstance(body, str):
        body = json.loads(body)
    (ev,) = body["data"]
    assert ev["custom_data"]["value"] == 99.9
    assert s.count("conversions") == 1


def test_order_update_after_delivery_restates(stack, meta):
    s = stack
    deliver(s, 6005)
    s.post_shopify(order_update(6005, "150.00"), topic="orders/updated")
    assert raw_state(s, "orders/updated") == [("done", "")]
    (adj,) = adjustments(s)
    assert (adj["kind"], adj["value"], adj["order_value"]) == ("restatement", "150.00",
                                                               "150.00")
    assert adj["deliveries"][0]["state"] == "not_supported"
    # The conversion keeps the value it was delivered with.
    assert s.scalar("SELECT value FROM conversions") == "129.90"
    # A refund after the edit is taken from the new total.
    s.post_shopify(refund_body(6005, 9301, "50.00"), topic="refunds/create")
    raw_state(s, "refunds/create")
    assert adjustments(s)[0]["value"] == "100.00"
    # The edit delivered again (another webhook id, a later updated_at with
    # the same total) changes nothing.
    s.post_shopify(order_update(6005, "150.00", updated_at="2026-11-28T08:00:00Z"),
                   topic="orders/updated")
    assert raw_state(s, "orders/updated", 2)[1] == ("ignored", "the order total is unchanged")
    assert s.count("adjustments") == 2
    assert len(meta.requests()) == 1


# -- google_ads uploads them ------------------------------------------------------


def google_and_meta(make_stack, google_oauth, google_ads, **conf):
    """The demo stack (Shopify → Meta) plus a google_ads destination fed by
    the same source, pointed at the fakes; started."""
    from harness import FakeGoogleAds, FakeGoogleOAuth
    s = make_stack(**conf).setup_demo()
    s.gads_id = s.add_google_destination(
        "google_ads", "gads1", google_oauth, google_ads,
        credentials={"client_id": FakeGoogleOAuth.CLIENT_ID,
                     "client_secret": FakeGoogleOAuth.CLIENT_SECRET,
                     "refresh_token": FakeGoogleOAuth.REFRESH_TOKEN,
                     "developer_token": FakeGoogleAds.DEVELOPER_TOKEN})
    return s.start()


def adjustment_uploads(google_ads):
    return [r for r in google_ads.requests()
            if r["path"].endswith(":uploadConversionAdjustments")]


def adj_states(s):
    return dict(s.sql("SELECT x.kind, string_agg(d.state, ',' ORDER BY d.id) "
                      "FROM adjustment_deliveries d JOIN destinations x "
                      "ON x.id = d.destination_id GROUP BY x.kind"))


def test_google_ads_uploads_restatement_then_retraction(make_stack, google_oauth, google_ads):
    s = google_and_meta(make_stack, google_oauth, google_ads)
    s.post_shopify(shopify_order(7100))
    s.wait_states({"delivered": 2}, timeout=30)
    # The first adjustment upload meets a 503: retried with backoff.
    google_ads.config(fail_next=[503])
    s.post_shopify(refund_body(7100, 9401, "20.00"), topic="refunds/create")
    wait_until(lambda: adj_states(s).get("google_ads") == "delivered", timeout=30,
               what="the restatement delivered to Google")
    assert adj_states(s)["meta_capi"] == "not_supported"
    assert s.scalar("SELECT attempts FROM adjustment_deliveries d JOIN destinations x "
                    "ON x.id = d.destination_id WHERE x.kind = 'google_ads'") == "2"
    first, second = adjustment_uploads(google_ads)
    assert (first["status"], second["status"]) == (503, 200)
    body = second["body"]
    assert body["partialFailure"] is True
    assert second["headers"]["bearer"] is True and second["headers"]["developer_token_ok"]
    (a,) = body["conversionAdjustments"]
    assert a["conversionAction"] == "customers/1234567890/conversionActions/555666777"
    assert (a["orderId"], a["adjustmentType"]) == ("7100", "RESTATEMENT")
    assert a["restatementValue"] == {"adjustedValue": 109.9, "currencyCode": "USD"}
    assert a["adjustmentDateTime"] == "2026-11-28 14:15:02+00:00"
    # The rest refunded: a retraction, after the restatement.
    s.post_shopify(refund_body(7100, 9402, "109.90"), topic="refunds/create")
    wait_until(lambda: adj_states(s).get("google_ads") == "delivered,delivered", timeout=30,
               what="the retraction delivered to Google")
    got = google_ads._call("GET", "/_control/adjustments")["adjustments"]
    assert [g["adjustmentType"] for g in got] == ["RESTATEMENT", "RETRACTION"]
    assert "restatementValue" not in got[1]
    st = s.ctl("stats", json_out=True)["adjustments"]
    assert (st["delivered"], st["not_supported"], st["pending"]) == (2, 2, 0)
    by_dest = {d["kind"]: d for d in st["destinations"]}
    assert by_dest["google_ads"]["delivered"] == 2
    assert by_dest["meta_capi"]["not_supported"] == 2


def test_google_ads_adjustment_refused_is_failed(make_stack, google_oauth, google_ads):
    s = google_and_meta(make_stack, google_oauth, google_ads)
    s.post_shopify(shopify_order(7200))
    s.wait_states({"delivered": 2}, timeout=30)
    # Google refuses this one row (a partial failure): failed, with its words.
    google_ads.config(row_errors={"7200": "ADJUSTMENT_PRECEDES_CONVERSION"})
    s.post_shopify(refund_body(7200, 9501, "129.90"), topic="refunds/create")
    wait_until(lambda: adj_states(s).get("google_ads") == "failed", timeout=30,
               what="the retraction failed")
    err, code = s.sql("SELECT d.last_error, d.platform_code FROM adjustment_deliveries d "
                      "JOIN destinations x ON x.id = d.destination_id "
                      "WHERE x.kind = 'google_ads'")[0]
    assert "Injected error ADJUSTMENT_PRECEDES_CONVERSION" in err
    assert code == "ADJUSTMENT_PRECEDES_CONVERSION"
    assert s.ctl("stats", json_out=True)["adjustments"]["failed"] == 1


def test_adjustment_waits_for_its_conversion(make_stack, google_oauth, google_ads):
    # Google cannot adjust what it has not got: while the purchase is held
    # (paused destination) its adjustment stays pending, then follows it.
    s = google_and_meta(make_stack, google_oauth, google_ads)
    s.ctl("destination", "pause", s.gads_id, "--reason", "hold")
    s.post_shopify(shopify_order(7300))
    wait_until(lambda: s.scalar("SELECT count(*) FROM deliveries WHERE state = 'held'") == "1",
               timeout=30, what="the purchase held at Google")
    s.post_shopify(refund_body(7300, 9601, "29.90"), topic="refunds/create")
    raw_state(s, "refunds/create")
    assert adj_states(s)["google_ads"] == "pending"
    s.ctl("destination", "resume", s.gads_id)
    wait_until(lambda: adj_states(s).get("google_ads") == "delivered", timeout=30,
               what="the adjustment after its purchase")
    assert google_ads.stats()["conversions_accepted"] == 1
    (up,) = adjustment_uploads(google_ads)
    assert up["body"]["conversionAdjustments"][0]["restatementValue"]["adjustedValue"] == 100
