"""The google_datamanager destination end to end: Shopify orders through
adsengd to the fake Data Manager API (test/system/fake_datamanager.py),
with OAuth tokens from the fake Google OAuth server."""

import hashlib

from harness import FakeGoogleOAuth, shopify_order, wait_until

KIND = "google_datamanager"


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def dm_stack(make_stack, google_oauth, datamanager, threads="2", **dest):
    stack = make_stack(workers__threads=threads)
    stack.dest_id = stack.add_google_destination(KIND, "gads1", google_oauth, datamanager,
                                                 **dest)
    return stack


def deliveries(stack):
    """{transactionId (order id): (state, attempts, last_error, request_id)}."""
    rows = stack.sql("SELECT c.order_id, d.state, d.attempts, coalesce(d.last_error, ''),"
                     " coalesce(d.request_id, '') FROM deliveries d JOIN conversions c"
                     " ON c.id = d.conversion_id")
    return {r[0]: (r[1], int(r[2]), r[3], r[4]) for r in rows}


def refreshes(google_oauth):
    return google_oauth.stats()["by_grant"].get("refresh_token", 0)


def test_shopify_order_with_gclid_body_field_by_field(make_stack, google_oauth, datamanager):
    stack = dm_stack(make_stack, google_oauth, datamanager, login_customer_id="987-654-3210",
                     consent="granted").start()
    assert stack.post_shopify(shopify_order(5551234567890))[0] == 200
    wait_until(lambda: deliveries(stack).get("5551234567890", ("",))[0] == "delivered",
               timeout=30, what="the order delivered to Data Manager")
    (req,) = datamanager.ingests()
    assert req["status"] == 200 and req["validate_only"] is False
    body = req["body"]
    assert set(body) == {"destinations", "encoding", "validateOnly", "events"}
    (dest,) = body["destinations"]
    assert dest == {"reference": stack.dest_id,
                    "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
                    "loginAccount": {"accountType": "GOOGLE_ADS", "accountId": "9876543210"},
                    "productDestinationId": "555666777"}
    assert body["encoding"] == "HEX" and body["validateOnly"] is False
    (ev,) = body["events"]
    assert ev["transactionId"] == "5551234567890"
    assert ev["eventSource"] == "WEB"
    assert ev["eventTimestamp"].endswith("Z") and "T" in ev["eventTimestamp"]
    assert ev["conversionValue"] == 129.9 and ev["currency"] == "USD"
    # The fixture order's landing site carries the gclid; the customer is
    # in the US, so the IP goes too.
    assert ev["adIdentifiers"] == {
        "gclid": "Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz",
        "landingPageDeviceInfo": {
            "ipAddress": "203.0.113.24",
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 "
                         "(KHTML, like Gecko) Version/17.6 Safari/605.1.15"}}
    # Google's hashing: sha256 of the normalized values (DATAMANAGER.md).
    assert ev["userData"] == {"userIdentifiers": [
        {"emailAddress": sha("ana.silva@example.com")},
        {"phoneNumber": sha("+14155550132")},
        {"address": {"givenName": sha("ana"), "familyName": sha("silva"),
                     "regionCode": "US", "postalCode": "94105"}}]}
    # No consent from Shopify: the destination's --consent granted.
    assert ev["consent"] == {"adUserData": "CONSENT_GRANTED",
                             "adPersonalization": "CONSENT_GRANTED"}
    # The requestId Google answered is stored on the delivery.
    state, attempts, _, request_id = deliveries(stack)["5551234567890"]
    assert attempts == 1 and request_id == req["request_id"]
    assert stack.count("platform_requests", "request_id = '%s'" % request_id) == 1
    # The token rode in the header only, and it was one Google issued.
    assert req["token_sha"] and refreshes(google_oauth) == 1


def test_eea_customer_gets_no_ip_and_test_mode_validates_only(make_stack, google_oauth,
                                                              datamanager):
    stack = dm_stack(make_stack, google_oauth, datamanager, test_mode=True).start()
    order = shopify_order(7001)
    order["billing_address"] = dict(order["billing_address"], country_code="DE",
                                    country="Germany", zip="10115")
    order["test"] = True
    assert stack.post_shopify(order)[0] == 200
    wait_until(lambda: datamanager.ingests(), timeout=30, what="a request to Data Manager")
    (req,) = datamanager.ingests()
    assert req["body"]["validateOnly"] is True
    (ev,) = req["body"]["events"]
    assert "ipAddress" not in ev["adIdentifiers"]["landingPageDeviceInfo"]
    assert ev["adIdentifiers"]["landingPageDeviceInfo"]["userAgent"].startswith("Mozilla/5.0")
    assert "consent" not in ev  # --consent unspecified: none sent
    wait_until(lambda: deliveries(stack).get("7001", ("",))[0] == "delivered", timeout=30,
               what="the validated order marked delivered")
    assert datamanager.accepted() == {}  # validateOnly records nothing


def test_401_once_refresh_then_delivered_without_burning_an_attempt(make_stack, google_oauth,
                                                                    datamanager):
    stack = dm_stack(make_stack, google_oauth, datamanager).start()
    datamanager.config(fail_next=[401])
    assert stack.post_shopify(shopify_order(8001))[0] == 200
    wait_until(lambda: deliveries(stack).get("8001", ("",))[0] == "delivered", timeout=30,
               what="delivered after the refresh")
    state, attempts, _, _ = deliveries(stack)["8001"]
    assert attempts == 1
    reqs = datamanager.ingests()
    assert [r["status"] for r in reqs] == [401, 200]
    # Refreshed once more after the 401, and the resend used the new token.
    assert refreshes(google_oauth) == 2
    assert reqs[0]["token_sha"] != reqs[1]["token_sha"]
    assert datamanager.accepted() == {"8001": 1}


def test_field_violation_on_event_2_of_3_fails_only_it(make_stack, google_oauth, datamanager):
    # One worker and the destination paused while the orders arrive, so the
    # three go out in one request.
    stack = dm_stack(make_stack, google_oauth, datamanager, threads="1").start()
    stack.ctl("destination", "pause", stack.dest_id, "--reason", "test")
    for oid in (9001, 6662, 9003):
        assert stack.post_shopify(shopify_order(oid))[0] == 200
    wait_until(lambda: stack.states() == {"held": 3}, timeout=30, what="three held")
    datamanager.config(violate_transaction_ids_containing="6662")
    stack.ctl("destination", "resume", stack.dest_id)
    wait_until(lambda: sorted(s[0] for s in deliveries(stack).values()) ==
               ["delivered", "delivered", "failed"], timeout=30, what="two delivered, one failed")
    d = deliveries(stack)
    assert d["6662"][0] == "failed" and "could not be decoded" in d["6662"][2]
    assert d["9001"][:2] == ("delivered", 1) and d["9003"][:2] == ("delivered", 1)
    reqs = datamanager.ingests()
    # One request of three (in the order the worker claimed them) refused
    # for the violation of 6662 alone, then the other two at once.
    assert reqs[0]["status"] == 400
    assert sorted(reqs[0]["transaction_ids"]) == ["6662", "9001", "9003"]
    assert len(reqs) == 2 and reqs[1]["status"] == 200 and sorted(reqs[1]["transaction_ids"]) == ["9001", "9003"]
    assert datamanager.accepted() == {"9001": 1, "9003": 1}


def test_request_status_polled_and_recorded(make_stack, google_oauth, datamanager):
    stack = make_stack(workers__status_check="200ms", google__datamanager_status_delay="1s")
    stack.dest_id = stack.add_google_destination(KIND, "gads1", google_oauth, datamanager)
    stack.start()
    datamanager.config(request_status={"requestStatus": "PARTIAL_SUCCESS", "errorInfo": {
        "errorCounts": [{"recordCount": "1", "reason": "PROCESSING_ERROR_REASON_INVALID_GCLID"}]}})
    assert stack.post_shopify(shopify_order(9101))[0] == 200

    def status():
        rows = stack.sql("SELECT coalesce(status, ''), coalesce(summary, '') FROM "
                         "platform_requests")
        return rows[0] if rows else ("", "")

    wait_until(lambda: status()[0] == "PARTIAL_SUCCESS", timeout=40,
               what="the request status recorded")
    assert status()[1] == ("PARTIAL_SUCCESS: 1 records; errors: 1 "
                           "PROCESSING_ERROR_REASON_INVALID_GCLID")
    polls = [r for r in datamanager.requests() if r["path"] == "/v1/requestStatus:retrieve"]
    assert polls and polls[0]["status"] == 200 and polls[0]["token_sha"]


def test_conversion_without_click_or_identifier_is_not_sent(make_stack, google_oauth,
                                                           datamanager):
    stack = dm_stack(make_stack, google_oauth, datamanager).start()
    order = shopify_order(9201, landing_site="/products/linen-shirt", email=None)
    for k in ("email", "phone", "contact_email", "billing_address", "shipping_address",
              "customer"):
        order.pop(k, None)
    assert stack.post_shopify(order)[0] == 200
    wait_until(lambda: deliveries(stack).get("9201", ("",))[0] == "failed", timeout=30,
               what="failed unsent")
    assert "no click id or user identifier" in deliveries(stack)["9201"][2]
    assert datamanager.ingests() == []


def test_missing_conversion_action_pauses_with_the_command_to_run(make_stack, google_oauth,
                                                                  datamanager):
    stack = dm_stack(make_stack, google_oauth, datamanager, conversion_action=None).start()
    assert stack.post_shopify(shopify_order(9301))[0] == 200
    wait_until(lambda: stack.states() == {"held": 1}, timeout=30, what="held")
    reason = stack.scalar("SELECT paused_reason FROM destinations WHERE id = '%s'"
                          % stack.dest_id)
    assert "create-conversion-action" in reason
    assert datamanager.ingests() == []
    assert FakeGoogleOAuth.REFRESH_TOKEN not in stack.logs()
