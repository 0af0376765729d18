"""System tests of the google_ads destination (Google Ads API, allowlisted
accounts) and of ``adsengctl google create-conversion-action``, against
the fake Google OAuth server and the fake Google Ads API
(fake_google_ads.py), with the real adsengd/adsengctl and PostgreSQL.

The first tests check the fake itself (it must refuse what Google
refuses, or the delivery tests prove nothing)."""

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import harness
from harness import FakeGoogleAds, FakeGoogleOAuth, shopify_order, wait_until

CID = "1234567890"
ACTION = "555666777"
GCLID = "Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz"  # the fixture order's landing_site


# -- helpers ------------------------------------------------------------------


def access_token(oauth):
    form = urllib.parse.urlencode({
        "grant_type": "refresh_token", "client_id": oauth.CLIENT_ID,
        "client_secret": oauth.CLIENT_SECRET, "refresh_token": oauth.REFRESH_TOKEN}).encode()
    with urllib.request.urlopen(oauth.url + "/token", form, timeout=10) as r:
        return json.loads(r.read())["access_token"]


def api(ads, path, body, token, dev=FakeGoogleAds.DEVELOPER_TOKEN):
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + token}
    if dev:
        headers["developer-token"] = dev
    req = urllib.request.Request(ads.url + path, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def conversion(order_id, **kw):
    c = {"gclid": "g-" + order_id,
         "conversionAction": "customers/%s/conversionActions/%s" % (CID, ACTION),
         "conversionDateTime": "2026-11-26 23:04:11+00:00", "orderId": order_id,
         "conversionValue": 12.5, "currencyCode": "USD"}
    c.update(kw)
    return c


def row_codes(answer):
    """{row index: error code} of a partialFailureError."""
    out = {}
    for d in answer.get("partialFailureError", {}).get("details", []):
        for e in d["errors"]:
            out[e["location"]["fieldPathElements"][0]["index"]] = \
                list(e["errorCode"].values())[0]
    return out


def google_stack(make_stack, google_oauth, google_ads, conversion_action=ACTION, test_mode=False,
                 dev_token_in_creds=True, **conf):
    """A stack whose tenant has a Shopify source routed to one google_ads
    destination (no Meta destination).  Not started."""
    s = make_stack(endpoints__google_ads=google_ads.url,
                   endpoints__google_oauth=google_oauth.url, **conf)
    secret = os.path.join(s.dir, "shopify.secret")
    with open(secret, "w") as f:
        f.write(s.SECRET + "\n")
    creds = os.path.join(s.dir, "gads.json")
    with open(creds, "w") as f:
        c = {"client_id": FakeGoogleOAuth.CLIENT_ID,
             "client_secret": FakeGoogleOAuth.CLIENT_SECRET,
             "refresh_token": FakeGoogleOAuth.REFRESH_TOKEN}
        if dev_token_in_creds:
            c["developer_token"] = FakeGoogleAds.DEVELOPER_TOKEN
        json.dump(c, f)
    s.ctl("tenant", "add", "acme")
    s.source_id = s.ctl("source", "add", "--tenant", "acme", "--kind", "shopify", "--name",
                        "shop1", "--secret-file", secret, json_out=True)["id"]
    args = ["destination", "add", "--tenant", "acme", "--kind", "google_ads", "--name", "gads1",
            "--customer-id", "123-456-7890", "--consent", "granted", "--credentials-file", creds]
    if conversion_action:
        args += ["--conversion-action", conversion_action]
    if test_mode:
        args.append("--test-mode")
    s.dest_id = s.ctl(*args, json_out=True)["id"]
    s.ctl("route", "add", s.source_id, s.dest_id)
    return s


def uploads(google_ads):
    return [r for r in google_ads.requests() if r["path"].endswith(":uploadClickConversions")]


def delivery_rows(stack):
    """{order id: (state, platform_code, last_error)}."""
    rows = stack.sql("SELECT c.order_id, d.state, coalesce(d.platform_code, ''),"
                     " coalesce(d.last_error, '') FROM deliveries d"
                     " JOIN conversions c ON c.id = d.conversion_id")
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


# -- the fake -------------------------------------------------------------------


def test_fake_refuses_what_google_refuses(google_oauth, google_ads):
    tok = access_token(google_oauth)
    up = "/v26/customers/%s:uploadClickConversions" % CID
    # partialFailure is required.
    st, body = api(google_ads, up, {"conversions": [conversion("1")]}, tok)
    assert st == 400
    assert body["error"]["details"][0]["errors"][0]["errorCode"] == {
        "partialFailureError": "PARTIAL_FAILURE_MODE_REQUIRED"}
    # More than 2000 conversions.
    st, body = api(google_ads, up, {"conversions": [conversion(str(i)) for i in range(2001)],
                                    "partialFailure": True}, tok)
    assert st == 400 and "TOO_MANY_CONVERSIONS_IN_REQUEST" in json.dumps(body)
    # Row checks: another customer's action, a bad date, gbraid+wbraid, no click id.
    st, body = api(google_ads, up, {"partialFailure": True, "conversions": [
        conversion("a"),
        conversion("b", conversionAction="customers/1111111111/conversionActions/1"),
        conversion("c", conversionDateTime="2026-11-26T23:04:11Z"),
        conversion("d", gclid=None, gbraid="gb", wbraid="wb"),
        conversion("e", gclid=None),
        conversion("f", userIdentifiers=[{"hashedEmail": "not-hashed"}]),
    ]}, tok)
    assert st == 200
    assert body["results"][0]["gclid"] == "g-a"
    assert [r == {} for r in body["results"]] == [False, True, True, True, True, True]
    codes = row_codes(body)
    assert codes[1] == "NO_CONVERSION_ACTION_FOUND"
    assert codes[3] == "GBRAID_WBRAID_BOTH_SET"
    assert codes[5] == "INVALID_USER_IDENTIFIER"
    assert sorted(codes) == [1, 2, 3, 4, 5]
    # The same orderId again: already exists.
    st, body = api(google_ads, up, {"partialFailure": True, "conversions": [conversion("a")]},
                   tok)
    assert row_codes(body) == {0: "CLICK_CONVERSION_ALREADY_EXISTS"}
    # Tokens: an unknown bearer token, no developer token, a wrong one.
    assert api(google_ads, up, {"partialFailure": True, "conversions": [conversion("z")]},
               "ya29.unknown")[0] == 401
    st, body = api(google_ads, up, {"partialFailure": True, "conversions": [conversion("z")]},
                   tok, dev=None)
    assert st == 400 and "DEVELOPER_TOKEN_PARAMETER_MISSING" in json.dumps(body)
    assert api(google_ads, up, {"partialFailure": True, "conversions": [conversion("z")]},
               tok, dev="wrong")[0] == 401
    # Injected failures, then normal service again.
    google_ads.config(fail_next=[429, 503])
    assert api(google_ads, up, {"partialFailure": True, "conversions": [conversion("y")]},
               tok)[0] == 429
    assert api(google_ads, up, {"partialFailure": True, "conversions": [conversion("y")]},
               tok)[0] == 503
    google_ads.config(row_errors={"x-2": "CLICK_NOT_FOUND"})
    st, body = api(google_ads, up, {"partialFailure": True, "conversions": [
        conversion("x-1"), conversion("x-2"), conversion("x-3")]}, tok)
    assert st == 200 and row_codes(body) == {1: "CLICK_NOT_FOUND"}
    assert body["partialFailureError"]["details"][0]["@type"].endswith(
        ".v26.errors.GoogleAdsFailure")


def test_fake_creates_conversion_actions(google_oauth, google_ads):
    tok = access_token(google_oauth)
    path = "/v26/customers/%s/conversionActions:mutate" % CID
    create = {"name": "Offline purchases", "type": "UPLOAD_CLICKS", "category": "PURCHASE",
              "status": "ENABLED", "countingType": "MANY_PER_CLICK",
              "clickThroughLookbackWindowDays": 90}
    st, body = api(google_ads, path, {"operations": [{"create": create}]}, tok)
    assert st == 200
    rn = body["results"][0]["resourceName"]
    assert re.match(r"^customers/%s/conversionActions/\d+$" % CID, rn)
    st, body = api(google_ads, path, {"operations": [{"create": create}]}, tok)
    assert st == 400 and "DUPLICATE_NAME" in json.dumps(body)
    # Once actions exist, uploads to unknown ones are refused.
    st, body = api(google_ads, "/v26/customers/%s:uploadClickConversions" % CID,
                   {"partialFailure": True, "conversions": [conversion("q")]}, tok)
    assert row_codes(body) == {0: "NO_CONVERSION_ACTION_FOUND"}


# -- create-conversion-action ------------------------------------------------------


def test_create_conversion_action_stores_id(make_stack, google_oauth, google_ads):
    s = google_stack(make_stack, google_oauth, google_ads, conversion_action=None)
    out = s.ctl("google", "create-conversion-action", "gads1", "--name", "AdsEngineer orders",
                "--category", "PURCHASE", json_out=True)
    assert re.match(r"^\d+$", out["conversion_action"])
    assert out["resource_name"] == "customers/%s/conversionActions/%s" % (
        CID, out["conversion_action"])
    assert out["destination"] == s.dest_id
    # Stored on the destination, the other settings untouched.
    settings = json.loads(s.scalar("SELECT settings::text FROM destinations WHERE id = '%s'"
                                   % s.dest_id))
    assert settings["conversion_action"] == out["conversion_action"]
    assert settings["customer_id"] == CID and settings["consent"] == "granted"
    audit = json.loads(s.scalar("SELECT details::text FROM audit_log"
                                " WHERE action = 'destination.conversion_action'"))
    assert audit["conversion_action"] == out["conversion_action"]
    assert audit["id"] == s.dest_id and audit["previous"] is None
    # What reached "Google": the mutate body and headers.
    (req,) = [r for r in google_ads.requests() if r["path"].endswith("conversionActions:mutate")]
    assert req["path"] == "/v26/customers/%s/conversionActions:mutate" % CID
    assert req["headers"]["bearer"] is True and req["headers"]["developer_token_ok"] is True
    assert req["headers"]["login_customer_id"] is None
    assert req["body"] == {"operations": [{"create": {
        "name": "AdsEngineer orders", "type": "UPLOAD_CLICKS", "category": "PURCHASE",
        "status": "ENABLED", "countingType": "MANY_PER_CLICK",
        "clickThroughLookbackWindowDays": 90}}]}
    # Plain output is the id alone; Google's refusal is printed as Google wrote it.
    p = s.ctl("google", "create-conversion-action", "gads1", "--name", "AdsEngineer orders",
              check=False)
    assert p.returncode == 1
    assert "A conversion action with this name already exists." in p.stderr
    assert "DUPLICATE_NAME" in p.stderr
    p = s.ctl("google", "create-conversion-action", "gads1", "--name", "Second")
    assert re.match(r"^\d+\n$", p.stdout)
    # Usage errors exit 2 without calling Google.
    n = len(google_ads.requests())
    assert s.ctl("google", "create-conversion-action", "gads1", "--name", "X", "--category",
                 "NOPE", check=False).returncode == 2
    assert s.ctl("google", "create-conversion-action", "gads1", check=False).returncode == 2
    assert len(google_ads.requests()) == n


def test_create_conversion_action_errors(make_stack, google_oauth, google_ads):
    s = google_stack(make_stack, google_oauth, google_ads, conversion_action=None)
    # The token endpoint refuses the grant: the OAuth error is shown.
    google_oauth.config(revoked=[FakeGoogleOAuth.REFRESH_TOKEN])
    p = s.ctl("google", "create-conversion-action", "gads1", "--name", "A", check=False)
    assert p.returncode == 1 and "invalid_grant" in p.stderr
    google_oauth.config(revoked=[])
    # Google answers 503: a clear message, nothing stored.
    google_ads.config(fail_next=[503])
    p = s.ctl("google", "create-conversion-action", "gads1", "--name", "A", check=False)
    assert p.returncode == 1 and "The service is currently unavailable." in p.stderr
    assert s.scalar("SELECT settings->>'conversion_action' FROM destinations") in (None, "")
    # Wrong developer token: Google's message.
    google_ads.config(developer_token="another-token")
    p = s.ctl("google", "create-conversion-action", "gads1", "--name", "A", check=False)
    assert p.returncode == 1 and "The developer token is not valid." in p.stderr
    # Not a Google destination.
    creds = os.path.join(s.dir, "meta.json")
    with open(creds, "w") as f:
        json.dump({"access_token": "EAAB-x"}, f)
    s.ctl("destination", "add", "--tenant", "acme", "--kind", "meta_capi", "--name", "px",
          "--pixel-id", "1", "--credentials-file", creds)
    p = s.ctl("google", "create-conversion-action", "px", "--name", "A", check=False)
    assert p.returncode == 1 and "meta_capi" in p.stderr


# -- deliveries -------------------------------------------------------------------------


def test_shopify_order_delivered_to_google_ads(make_stack, google_oauth, google_ads):
    s = google_stack(make_stack, google_oauth, google_ads).start()
    order = shopify_order(order_id=7001001, created_at="2026-11-26T18:04:11-05:00")
    assert s.post_shopify(order)[0] == 200
    s.wait_states({"delivered": 1}, timeout=30)
    (req,) = uploads(google_ads)
    assert req["status"] == 200
    assert req["path"] == "/v26/customers/%s:uploadClickConversions" % CID
    assert req["headers"]["bearer"] is True and req["headers"]["developer_token_ok"] is True
    assert req["headers"]["content_type"] == "application/json"
    body = req["body"]
    assert body["partialFailure"] is True and "validateOnly" not in body
    (c,) = body["conversions"]
    assert c["gclid"] == GCLID
    assert "gbraid" not in c and "wbraid" not in c
    assert c["conversionAction"] == "customers/%s/conversionActions/%s" % (CID, ACTION)
    assert c["conversionDateTime"] == "2026-11-26 23:04:11+00:00"
    assert c["conversionValue"] == 129.9 and c["currencyCode"] == "USD"
    assert c["orderId"] == "7001001"
    assert c["consent"] == {"adUserData": "GRANTED"}
    # Google-scheme hashes only, one identifier per object.
    assert c["userIdentifiers"]
    for u in c["userIdentifiers"]:
        assert len(u) == 1 and list(u)[0] in ("hashedEmail", "hashedPhoneNumber")
        assert re.match(r"^[0-9a-f]{64}$", list(u.values())[0])
    assert google_ads.stats()["conversions_accepted"] == 1


def test_partial_failure_fails_only_that_row(make_stack, google_oauth, google_ads):
    # One worker: the three released deliveries are claimed in one batch
    # (two workers may each claim some of them).
    s = google_stack(make_stack, google_oauth, google_ads, workers__threads="1").start()
    google_ads.config(row_errors={"8000002": "CLICK_NOT_FOUND"})
    # Held while paused, so the three go out together when resumed.
    s.ctl("destination", "pause", s.dest_id, "--reason", "batch them")
    for oid in (8000001, 8000002, 8000003):
        assert s.post_shopify(shopify_order(order_id=oid))[0] == 200
    s.wait_states({"held": 3}, timeout=30)
    s.ctl("destination", "resume", s.dest_id)
    s.wait_states({"delivered": 2, "failed": 1}, timeout=30)
    rows = delivery_rows(s)
    assert rows["8000001"][0] == "delivered" and rows["8000003"][0] == "delivered"
    state, code, error = rows["8000002"]
    assert state == "failed" and code == "CLICK_NOT_FOUND"
    assert "The click was not found." in error
    sizes = sorted(len(r["body"]["conversions"]) for r in uploads(google_ads))
    assert sizes == [3], sizes  # one request, row 2 of 3 refused


def test_created_action_receives_the_next_order(make_stack, google_oauth, google_ads):
    s = google_stack(make_stack, google_oauth, google_ads, conversion_action=None)
    action = s.ctl("google", "create-conversion-action", "gads1", "--name", "Orders",
                   json_out=True)["conversion_action"]
    s.start()
    assert s.post_shopify(shopify_order(order_id=9000001))[0] == 200
    s.wait_states({"delivered": 1}, timeout=30)
    (req,) = uploads(google_ads)
    assert req["body"]["conversions"][0]["conversionAction"] == \
        "customers/%s/conversionActions/%s" % (CID, action)
    assert row_codes(req["response"]) == {}


def test_refused_token_is_refreshed_once(make_stack, google_oauth, google_ads):
    """A 401 (token refused) is not the conversion's fault: the token is
    refreshed, the upload resent, and no attempt is burnt."""
    s = google_stack(make_stack, google_oauth, google_ads).start()
    google_ads.config(fail_next=[401])
    assert s.post_shopify(shopify_order(order_id=9100001))[0] == 200
    s.wait_states({"delivered": 1}, timeout=30)
    assert [r["status"] for r in uploads(google_ads)] == [401, 200]
    assert int(s.scalar("SELECT attempts FROM deliveries")) == 1
    assert google_oauth.stats()["by_grant"].get("refresh_token") == 2


def test_developer_token_refusal_pauses(make_stack, google_oauth, google_ads):
    s = google_stack(make_stack, google_oauth, google_ads).start()
    google_ads.config(developer_token="another-token")
    assert s.post_shopify(shopify_order(order_id=9200001))[0] == 200
    s.wait_states({"held": 1}, timeout=30)
    reason = s.scalar("SELECT paused_reason FROM destinations WHERE id = '%s'" % s.dest_id)
    assert "The developer token is not valid." in reason
    assert int(s.scalar("SELECT attempts FROM deliveries")) == 0


def test_developer_token_from_the_config_file(make_stack, google_oauth, google_ads, tmp_path):
    # No developer_token in the credentials: [google] developer_token_file
    # supplies it to uploads too, not only to create-conversion-action.
    tok = tmp_path / "devtoken"
    tok.write_text(FakeGoogleAds.DEVELOPER_TOKEN + "\n")
    stack = google_stack(make_stack, google_oauth, google_ads, dev_token_in_creds=False,
                         google__developer_token_file=str(tok)).start()
    assert stack.post_shopify(shopify_order(5551234567890))[0] == 200
    stack.wait_states({"delivered": 1}, timeout=30)
    (req,) = uploads(google_ads)
    assert req["headers"]["developer_token_ok"] is True
