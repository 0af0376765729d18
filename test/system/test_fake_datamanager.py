"""The fake Data Manager refuses what Google refuses and answers in Google's
shapes (DATAMANAGER.md; google/ads/datamanager/v1 protos), so a daemon test
against it means something.  No daemon here: plain HTTP to the fake."""

import copy
import json
import urllib.error
import urllib.parse
import urllib.request

from harness import FakeGoogleOAuth

HASH = "7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86"
TERMS = {"customerMatchTermsOfServiceStatus": "ACCEPTED"}
DEST = {"reference": "d1",
        "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
        "loginAccount": {"accountType": "GOOGLE_ADS", "accountId": "9876543210"},
        "productDestinationId": "555666777"}


def event(tx="1042", **changes):
    ev = {"transactionId": tx, "eventTimestamp": "2026-11-26T18:04:11-05:00",
          "eventSource": "WEB", "currency": "USD", "conversionValue": 129.9,
          "adIdentifiers": {"gclid": "Cj0K", "landingPageDeviceInfo": {
              "ipAddress": "203.0.113.24", "userAgent": "Mozilla/5.0"}},
          "userData": {"userIdentifiers": [
              {"emailAddress": HASH}, {"phoneNumber": HASH},
              {"address": {"givenName": HASH, "familyName": HASH, "regionCode": "US",
                           "postalCode": "94105"}}]},
          "consent": {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_DENIED"}}
    ev.update(changes)
    return ev


def body(events=None, **changes):
    b = {"destinations": [copy.deepcopy(DEST)], "encoding": "HEX", "validateOnly": False,
         "events": events if events is not None else [event()]}
    b.update(changes)
    return b


def token(oauth, scope_ok=True):
    """An access token issued by the fake OAuth server (refresh grant)."""
    data = urllib.parse.urlencode({
        "grant_type": "refresh_token", "client_id": FakeGoogleOAuth.CLIENT_ID,
        "client_secret": FakeGoogleOAuth.CLIENT_SECRET,
        "refresh_token": FakeGoogleOAuth.REFRESH_TOKEN}).encode()
    with urllib.request.urlopen(oauth.url + "/token", data=data, timeout=10) as r:
        return json.loads(r.read())["access_token"]


def call(dm, method, path, obj=None, tok=None, content_type="application/json"):
    headers = {"Content-Type": content_type}
    if tok:
        headers["Authorization"] = "Bearer " + tok
    data = json.dumps(obj).encode() if obj is not None else None
    req = urllib.request.Request(dm.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def violations(resp_body):
    """{field: reason} of a 400's google.rpc.BadRequest."""
    err = resp_body["error"]
    assert err["code"] == 400 and err["status"] == "INVALID_ARGUMENT"
    out = {}
    for d in err["details"]:
        if d["@type"] == "type.googleapis.com/google.rpc.BadRequest":
            for fv in d["fieldViolations"]:
                assert fv["description"]
                out[fv["field"]] = fv["reason"]
    return out


def test_accepts_a_valid_request_and_reports_its_status(datamanager, google_oauth):
    tok = token(google_oauth)
    st, ans, _ = call(datamanager, "POST", "/v1/events:ingest", body(), tok)
    assert st == 200, ans
    rid = ans["requestId"]
    assert datamanager.accepted() == {"1042": 1}
    st, ans, _ = call(datamanager, "GET", "/v1/requestStatus:retrieve?requestId=" + rid,
                      tok=tok)
    assert st == 200
    (rs,) = ans["requestStatusPerDestination"]
    assert rs["requestStatus"] == "SUCCESS"
    assert rs["eventsIngestionStatus"] == {"recordCount": "1"}  # int64 as a string
    assert rs["destination"]["productDestinationId"] == "555666777"
    st, ans, _ = call(datamanager, "GET", "/v1/requestStatus:retrieve?requestId=nope", tok=tok)
    assert st == 404 and ans["error"]["status"] == "NOT_FOUND"

    # validateOnly: checked, answered {}, nothing recorded as accepted.
    st, ans, _ = call(datamanager, "POST", "/v1/events:ingest", body(validateOnly=True), tok)
    assert st == 200 and ans == {}
    assert datamanager.accepted() == {"1042": 1}
    # The record keeps the body and a hash of the token, never the token.
    reqs = datamanager.requests()
    assert reqs[0]["body"]["events"][0]["transactionId"] == "1042"
    assert reqs[0]["token_sha"] and tok not in json.dumps(reqs)
    assert reqs[-1]["validate_only"] is True


def test_bearer_token_checked_by_the_oauth_server(datamanager, google_oauth):
    for tok in (None, "ya29.never-issued"):
        st, ans, hdrs = call(datamanager, "POST", "/v1/events:ingest", body(), tok)
        assert st == 401 and ans["error"]["status"] == "UNAUTHENTICATED"
    tok = token(google_oauth)
    assert call(datamanager, "POST", "/v1/events:ingest", body(), tok)[0] == 200
    google_oauth.expire_all()
    assert call(datamanager, "POST", "/v1/events:ingest", body(), tok)[0] == 401
    # JSON only.
    tok = token(google_oauth)
    st, ans, _ = call(datamanager, "POST", "/v1/events:ingest", body(), tok,
                      content_type="application/x-www-form-urlencoded")
    assert st == 400


def test_refuses_what_google_refuses(datamanager, google_oauth):
    tok = token(google_oauth)
    no_user_data = event()
    del no_user_data["userData"]
    two_in_one = event(userData={"userIdentifiers": [{"emailAddress": HASH,
                                                      "phoneNumber": HASH}]})
    short_address = event(userData={"userIdentifiers": [{"address": {
        "givenName": HASH, "familyName": HASH, "regionCode": "US"}}]})
    no_source = event()
    del no_source["eventSource"]
    cases = [
        (body(events=[event(str(i)) for i in range(2001)]), {"events": "TOO_MANY_EVENTS"}),
        (body(encoding="BASE32"), {"encoding": "INVALID_ENUM_VALUE"}),
        ({k: v for k, v in body().items() if k != "encoding"},
         {"encoding": "REQUIRED_FIELD_MISSING"}),
        (body(events=[no_user_data, two_in_one]),
         {"events[1].userData.userIdentifiers[0]": "INVALID_USER_IDENTIFIER"}),
        (body(events=[short_address]),
         {"events[0].userData.userIdentifiers[0].address.postalCode":
          "REQUIRED_FIELD_MISSING"}),
        (body(events=[event(), no_source]), {"events[1].eventSource": "REQUIRED_FIELD_MISSING"}),
        (body(events=[event(consent={"adUserData": "GRANTED"})]),
         {"events[0].consent.adUserData": "INVALID_ENUM_VALUE"}),
        (body(events=[event(userData={"userIdentifiers": [{"emailAddress": "a@b.com"}]})]),
         {"events[0].userData.userIdentifiers[0].emailAddress": "INVALID_HEX_ENCODING"}),
        (body(events=[event(userData={"userIdentifiers": [{"phoneNumber": HASH}] * 11})]),
         {"events[0].userData.userIdentifiers": "TOO_MANY_USER_IDENTIFIERS"}),
        (body(events=[event(eventTimestamp="2026-11-26 18:04:11")]),
         {"events[0].eventTimestamp": "INVALID_TIMESTAMP"}),
        (body(events=[event(conversionValue="129.90")]),
         {"events[0].conversionValue": "INVALID_ARGUMENT"}),
        (body(events=[event(gclid="x")]), {"events[0].gclid": "INVALID_ARGUMENT"}),
        (body(destinations=[dict(DEST, operatingAccount={"accountType": "GOOGLE_ADS",
                                                          "accountId": "123-456-7890"})]),
         {"destinations[0].operatingAccount.accountId": "INVALID_CUSTOMER_ID"}),
        (body(destinations=[{k: v for k, v in DEST.items() if k != "productDestinationId"}]),
         {"destinations[0].productDestinationId": "REQUIRED_FIELD_MISSING"}),
        (body(destinations=[]), {"destinations": "REQUIRED_FIELD_MISSING"}),
        (body(events=[event(adIdentifiers={"gclid": "g", "landingPageDeviceInfo": {
            "ipAddress": "not-an-ip"}})]),
         {"events[0].adIdentifiers.landingPageDeviceInfo.ipAddress": "INVALID_IP_ADDRESS"}),
    ]
    for b, want in cases:
        st, ans, _ = call(datamanager, "POST", "/v1/events:ingest", b, tok)
        assert st == 400, (want, ans)
        got = violations(ans)
        for field, reason in want.items():
            assert got.get(field) == reason, (want, got)
    assert datamanager.accepted() == {}
    # Fast fail: a good event in a refused request is not accepted either.
    assert datamanager.stats()["events_accepted"] == 0


def test_injected_failures_are_google_shaped(datamanager, google_oauth):
    tok = token(google_oauth)
    datamanager.config(fail_next=[401, 429, 500, 503], retry_after=3)
    expect = [(401, "UNAUTHENTICATED"), (429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"),
              (503, "UNAVAILABLE")]
    for status, name in expect:
        st, ans, hdrs = call(datamanager, "POST", "/v1/events:ingest", body(), tok)
        assert st == status and ans["error"]["status"] == name and ans["error"]["code"] == st
        if st == 429:
            assert hdrs.get("Retry-After") == "3"
            assert ans["error"]["details"][0]["@type"] == \
                "type.googleapis.com/google.rpc.RetryInfo"
    assert call(datamanager, "POST", "/v1/events:ingest", body(), tok)[0] == 200

    # A field violation per matching event: the request is refused whole.
    datamanager.config(violate_transaction_ids_containing="bad")
    b = body(events=[event("ok-1"), event("bad-2"), event("ok-3"), event("bad-4")])
    st, ans, _ = call(datamanager, "POST", "/v1/events:ingest", b, tok)
    assert st == 400
    assert violations(ans) == {"events[1].adIdentifiers.gclid": "INVALID_GCLID",
                               "events[3].adIdentifiers.gclid": "INVALID_GCLID"}
    assert "ok-1" not in datamanager.accepted()

    # What requestStatus answers is configurable.
    datamanager.config(violate_transaction_ids_containing=None, request_status={
        "requestStatus": "PARTIAL_SUCCESS", "errorInfo": {"errorCounts": [
            {"recordCount": "2", "reason": "PROCESSING_ERROR_REASON_INVALID_GCLID"}]}})
    rid = call(datamanager, "POST", "/v1/events:ingest", b, tok)[1]["requestId"]
    (rs,) = call(datamanager, "GET", "/v1/requestStatus:retrieve?requestId=" + rid,
                 tok=tok)[1]["requestStatusPerDestination"]
    assert rs["requestStatus"] == "PARTIAL_SUCCESS"
    assert rs["errorInfo"]["errorCounts"][0]["recordCount"] == "2"
    assert rs["eventsIngestionStatus"] == {"recordCount": "4"}
    stats = datamanager.stats()
    assert stats["by_status"]["400"] == 1 and stats["by_status"]["401"] == 1


def test_audience_members(datamanager, google_oauth):
    tok = token(google_oauth)
    members = [{"userData": {"userIdentifiers": [{"emailAddress": HASH}]},
                "consent": {"adUserData": "CONSENT_GRANTED",
                            "adPersonalization": "CONSENT_GRANTED"}}]
    dest = dict(DEST, productDestinationId="777")
    ing = {"destinations": [dest], "audienceMembers": members, "encoding": "HEX"}
    # Only a user list that exists takes members.
    st, ans, _ = call(datamanager, "POST", "/v1/audienceMembers:ingest",
                      dict(ing, termsOfService=TERMS), tok)
    assert st == 400 and violations(ans) == {
        "destinations[0].productDestinationId": "INVALID_PRODUCT_DESTINATION_ID"}
    datamanager.config(lists=["777"])
    st, ans, _ = call(datamanager, "POST", "/v1/audienceMembers:ingest", ing, tok)
    assert st == 400 and "termsOfService.customerMatchTermsOfServiceStatus" in violations(ans)
    # Customer Match is stricter than events: lowercase hex, HEX only.
    upper = [{"userData": {"userIdentifiers": [{"emailAddress": HASH.upper()}]}}]
    st, ans, _ = call(datamanager, "POST", "/v1/audienceMembers:ingest",
                      dict(ing, termsOfService=TERMS, audienceMembers=upper), tok)
    assert st == 400 and violations(ans) == {
        "audienceMembers[0].userData.userIdentifiers[0].emailAddress": "INVALID_HEX_ENCODING"}
    st, ans, _ = call(datamanager, "POST", "/v1/audienceMembers:ingest",
                      dict(ing, termsOfService=TERMS, encoding="BASE64"), tok)
    assert st == 400 and violations(ans) == {"encoding": "INVALID_ENUM_VALUE"}
    st, ans, _ = call(datamanager, "POST", "/v1/audienceMembers:ingest",
                      dict(ing, termsOfService=TERMS), tok)
    assert st == 200 and ans["requestId"]
    assert datamanager.audience()["777"]["members"] == ["emailAddress:" + HASH]
    too_many = dict(ing, termsOfService=TERMS, audienceMembers=members * 10001)
    st, ans, _ = call(datamanager, "POST", "/v1/audienceMembers:ingest", too_many, tok)
    assert st == 400 and violations(ans)["audienceMembers"] == "TOO_MANY_AUDIENCE_MEMBERS"

    # :remove takes no consent and no terms.
    rm = {"destinations": [dest], "audienceMembers": members, "encoding": "HEX"}
    st, ans, _ = call(datamanager, "POST", "/v1/audienceMembers:remove", rm, tok)
    assert st == 400 and "audienceMembers[0].consent" in violations(ans)
    st, ans, _ = call(datamanager, "POST", "/v1/audienceMembers:remove",
                      dict(rm, audienceMembers=[{"userData": members[0]["userData"]}],
                           termsOfService=TERMS), tok)
    assert st == 400 and "termsOfService" in violations(ans)
    st, ans, _ = call(datamanager, "POST", "/v1/audienceMembers:remove",
                      dict(rm, audienceMembers=[{"userData": members[0]["userData"]}]), tok)
    assert st == 200
    a = datamanager.audience()["777"]
    assert a == {"members": [], "ingested": 1, "removed": 1}


def test_user_lists(datamanager, google_oauth):
    tok = token(google_oauth)
    path = "/v1/accountTypes/GOOGLE_ADS/accounts/1234567890/userLists"
    good = {"displayName": "buyers", "description": "d", "ingestedUserListInfo": {
        "uploadKeyTypes": ["CONTACT_ID"],
        "contactIdInfo": {"dataSourceType": "DATA_SOURCE_TYPE_FIRST_PARTY"}}}
    no_name = {k: v for k, v in good.items() if k != "displayName"}
    cases = [
        (no_name, {"displayName": "REQUIRED_FIELD_MISSING"}),
        (dict(good, ingestedUserListInfo={"uploadKeyTypes": ["MOBILE_ADVERTISING_ID"],
                                          "contactIdInfo": {
                                              "dataSourceType": "DATA_SOURCE_TYPE_FIRST_PARTY"}}),
         {"ingestedUserListInfo.uploadKeyTypes": "INVALID_ENUM_VALUE"}),
        (dict(good, ingestedUserListInfo={"uploadKeyTypes": ["CONTACT_ID"],
                                          "contactIdInfo": {"dataSourceType": "FIRST_PARTY"}}),
         {"ingestedUserListInfo.contactIdInfo.dataSourceType": "INVALID_ENUM_VALUE"}),
        (dict(good, membershipLifeSpan=30), {"membershipLifeSpan": "INVALID_ARGUMENT"}),
    ]
    for b, want in cases:
        st, ans, _ = call(datamanager, "POST", path, b, tok)
        assert st == 400, (want, ans)
        assert violations(ans) == want
    # A bad account id is no such method; no token, no list.
    st, ans, _ = call(datamanager, "POST", path.replace("1234567890", "123-456-7890"), good, tok)
    assert st == 404
    assert call(datamanager, "POST", path, good)[0] == 401
    assert datamanager.audience() == {}

    st, ans, _ = call(datamanager, "POST", path, good, tok)
    assert st == 200, ans
    lid = ans["id"]
    assert ans["name"] == "accountTypes/GOOGLE_ADS/accounts/1234567890/userLists/" + lid
    assert datamanager.members(lid) == [] and datamanager.members("1") is None
    # The name is unique per account.
    st, ans, _ = call(datamanager, "POST", path, good, tok)
    assert st == 409 and ans["error"]["status"] == "ALREADY_EXISTS"
    other = path.replace("1234567890", "1111111111")
    assert call(datamanager, "POST", other, good, tok)[0] == 200
    # The new list takes members.
    ing = {"destinations": [dict(DEST, productDestinationId=lid)], "encoding": "HEX",
           "termsOfService": TERMS,
           "audienceMembers": [{"userData": {"userIdentifiers": [{"emailAddress": HASH}]}}]}
    assert call(datamanager, "POST", "/v1/audienceMembers:ingest", ing, tok)[0] == 200
    assert datamanager.members(lid) == ["emailAddress:" + HASH]
