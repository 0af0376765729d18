"""Customer Match audiences through the Data Manager API (issue 6):
adsengctl audience add/sync/list and the daemon's periodic sync, against
the fake Data Manager API (fake_datamanager.py: user lists and audience
members) and the fake Google OAuth server.

Members are the customers of the stored conversions of the audience's
sources; a sync sends only what changed since the last accepted request.
"""

import json
import os

import pytest

import harness

LOGIN = "9876543210"
LIST_ID = "4455667788"


def google_stack(make_stack, google_oauth, dm, **conf):
    """The demo stack plus a google_datamanager destination "ads1"."""
    conf.setdefault("audiences__sync_interval", "0")
    s = make_stack(endpoints__google_oauth=google_oauth.url,
                   endpoints__google_datamanager=dm.url, **conf)
    s.setup_demo()
    creds = os.path.join(s.dir, "google.json")
    with open(creds, "w") as f:
        json.dump({"client_id": harness.FakeGoogleOAuth.CLIENT_ID,
                   "client_secret": harness.FakeGoogleOAuth.CLIENT_SECRET,
                   "refresh_token": harness.FakeGoogleOAuth.REFRESH_TOKEN}, f)
    p = s.ctl("destination", "add", "--tenant", "acme", "--kind", "google_datamanager",
              "--name", "ads1", "--customer-id", "123-456-7890", "--login-customer-id", LOGIN,
              "--conversion-action", "555666777", "--credentials-file", creds, check=False)
    if p.returncode != 0 and "unknown destination kind" in p.stderr:
        pytest.skip("the google_datamanager destination is not in this tree")
    assert p.returncode == 0, p.stderr
    return s


def post_orders(s, emails, first_id):
    for i, email in enumerate(emails):
        status, _, _ = s.post_shopify(harness.shopify_order(order_id=first_id + i, email=email))
        assert status == 200


def wait_conversions(s, n):
    harness.wait_until(lambda: s.count("conversions") == n, timeout=30,
                       what="%d conversions" % n)


def google_email(s, email):
    """The stored Google-scheme hash of an order's email (hashed by the daemon)."""
    return s.scalar("SELECT c.payload->'ids'->'google'->>'email' FROM conversions c"
                    " JOIN raw_events r ON r.id = c.raw_event_id"
                    " WHERE convert_from(r.body, 'UTF8')::json->>'email' = '%s'" % email)


def member_emails(body):
    out = []
    for m in body["audienceMembers"]:
        for ident in m["userData"]["userIdentifiers"]:
            if "emailAddress" in ident:
                out.append(ident["emailAddress"])
    return sorted(out)


def api_requests(dm, suffix, status=200):
    return [r for r in dm.requests() if r["path"].endswith(suffix) and r["status"] == status]


def deny(s, email_hash):
    """A later conversion of that customer whose consent denies ad_user_data."""
    s.sql("INSERT INTO conversions (tenant_id, source_id, event, event_id, occurred_at,"
          " payload) SELECT tenant_id, source_id, event, event_id || ':denied',"
          " occurred_at + interval '1 hour', json_build_object('ids', payload->'ids',"
          " 'consent', json_build_object('ad_user_data', 'denied'))"
          " FROM conversions WHERE payload->'ids'->'google'->>'email' = '%s' LIMIT 1"
          % email_hash)


def audience(s, name):
    rows = [a for a in s.ctl("audience", "list", json_out=True) if a["name"] == name]
    assert len(rows) == 1, rows
    return rows[0]


def test_sync_sends_additions_then_only_the_change(make_stack, google_oauth, datamanager):
    s = google_stack(make_stack, google_oauth, datamanager).start()
    # No list id: the list is created through the Data Manager API first.
    out = s.ctl("audience", "add", "--destination", "ads1", "--name", "buyers",
                "--sources", "shop1", json_out=True)
    assert out["created_user_list"] is True
    created = api_requests(datamanager, "/userLists")
    assert len(created) == 1
    assert created[0]["path"] == "/v1/accountTypes/GOOGLE_ADS/accounts/1234567890/userLists"
    assert created[0]["login_account"] == "accountTypes/GOOGLE_ADS/accounts/" + LOGIN
    assert created[0]["body"]["displayName"] == "buyers"
    list_id = out["user_list_id"]
    assert audience(s, "buyers")["user_list_id"] == list_id

    post_orders(s, ["ann@example.com", "bob@example.com"], 7001)
    wait_conversions(s, 2)
    ann, bob = google_email(s, "ann@example.com"), google_email(s, "bob@example.com")
    p = s.ctl("audience", "sync", "buyers")
    assert "added 2, removed 0, unchanged 0" in p.stdout
    ingests = api_requests(datamanager, ":ingest")
    assert len(ingests) == 1
    body = ingests[0]["body"]
    assert member_emails(body) == sorted([ann, bob])
    assert body["destinations"] == [{
        "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
        "loginAccount": {"accountType": "GOOGLE_ADS", "accountId": LOGIN},
        "productDestinationId": list_id}]
    assert body["termsOfService"] == {"customerMatchTermsOfServiceStatus": "ACCEPTED"}
    assert body["encoding"] == "HEX"
    # The order's phone and full address go too, one identifier per element.
    kinds = [list(i)[0] for i in body["audienceMembers"][0]["userData"]["userIdentifiers"]]
    assert kinds == ["emailAddress", "phoneNumber", "address"]

    # One new customer, and Ann's latest conversion denies ad_user_data.
    post_orders(s, ["cy@example.com"], 7003)
    wait_conversions(s, 3)
    cy = google_email(s, "cy@example.com")
    deny(s, ann)
    p = s.ctl("audience", "sync", "buyers")
    assert "added 1, removed 1, unchanged 1" in p.stdout
    ingests = api_requests(datamanager, ":ingest")
    removes = api_requests(datamanager, ":remove")
    assert len(ingests) == 2 and len(removes) == 1
    assert member_emails(ingests[1]["body"]) == [cy]
    assert member_emails(removes[0]["body"]) == [ann]
    assert "termsOfService" not in removes[0]["body"]
    assert all("consent" not in m for m in removes[0]["body"]["audienceMembers"])

    # Nothing changed: nothing is sent.
    n = len(datamanager.requests())
    p = s.ctl("audience", "sync", "buyers", json_out=True)
    assert (p["added"], p["removed"], p["unchanged"]) == (0, 0, 2)
    assert len(datamanager.requests()) == n
    row = audience(s, "buyers")
    assert row["members"] == 2 and row["last_error"] is None and row["last_sync_at"]
    assert s.count("audit_log", "action = 'audience.add'") == 1
    assert s.count("audit_log", "action = 'audience.sync'") == 3


def test_failed_sync_is_sent_again(make_stack, google_oauth, datamanager):
    s = google_stack(make_stack, google_oauth, datamanager).start()
    datamanager.config(lists=[LIST_ID])
    s.ctl("audience", "add", "--destination", "ads1", "--name", "buyers", "--user-list-id",
          LIST_ID, "--sources", "shop1")
    assert api_requests(datamanager, "/userLists") == []
    post_orders(s, ["ann@example.com"], 7101)
    wait_conversions(s, 1)
    datamanager.config(fail_next=[500])
    p = s.ctl("audience", "sync", "buyers", check=False)
    assert p.returncode == 1
    assert "HTTP 500" in p.stderr
    assert "HTTP 500" in audience(s, "buyers")["last_error"]
    assert s.count("audience_members") == 0
    p = s.ctl("audience", "sync", "buyers")
    assert "added 1, removed 0, unchanged 0" in p.stdout
    reqs = [r for r in datamanager.requests() if r["path"].endswith(":ingest")]
    assert [r["status"] for r in reqs] == [500, 200]
    assert reqs[0]["body"] == reqs[1]["body"]
    assert audience(s, "buyers")["last_error"] is None


def test_token_refused_once_then_grant_revoked(make_stack, google_oauth, datamanager):
    s = google_stack(make_stack, google_oauth, datamanager).start()
    datamanager.config(lists=[LIST_ID])
    s.ctl("audience", "add", "--destination", "ads1", "--name", "buyers", "--user-list-id",
          LIST_ID, "--sources", "shop1")
    post_orders(s, ["ann@example.com"], 7201)
    wait_conversions(s, 1)
    # A 401: one more token, the same request again.
    datamanager.config(fail_next=[401])
    before = len(google_oauth.requests())
    p = s.ctl("audience", "sync", "buyers")
    assert "added 1" in p.stdout
    assert [r["status"] for r in datamanager.requests()] == [401, 200]
    assert len(google_oauth.requests()) - before == 2
    # The refresh token revoked: reauthorize, nothing sent.
    google_oauth.config(revoked=[harness.FakeGoogleOAuth.REFRESH_TOKEN])
    post_orders(s, ["bob@example.com"], 7202)
    wait_conversions(s, 2)
    p = s.ctl("audience", "sync", "buyers", check=False)
    assert p.returncode == 1
    assert audience(s, "buyers")["last_error"].startswith("reauthorize")
    assert len(datamanager.requests()) == 2


def test_daemon_syncs_periodically(make_stack, google_oauth, datamanager):
    s = google_stack(make_stack, google_oauth, datamanager, audiences__sync_interval="1s")
    datamanager.config(lists=[LIST_ID])
    s.ctl("audience", "add", "--destination", "ads1", "--name", "buyers", "--user-list-id",
          LIST_ID, "--sources", "shop1")
    s.start()
    post_orders(s, ["ann@example.com", "bob@example.com"], 7301)
    wait_conversions(s, 2)
    harness.wait_until(lambda: s.count("audience_members", "removed_at IS NULL") == 2,
                       timeout=30, what="the daemon syncing both customers")
    sent = sum(len(r["body"]["audienceMembers"]) for r in api_requests(datamanager, ":ingest"))
    assert sent == 2
    assert "audience synced" in s.logs()


def test_chunks_of_ten_thousand(make_stack, google_oauth, datamanager):
    s = google_stack(make_stack, google_oauth, datamanager)
    datamanager.config(lists=[LIST_ID])
    s.ctl("audience", "add", "--destination", "ads1", "--name", "many", "--user-list-id",
          LIST_ID, "--sources", "shop1")
    # 10 001 customers with an email hash each, straight into conversions.
    s.sql("INSERT INTO conversions (tenant_id, source_id, event, event_id, occurred_at,"
          " payload) SELECT t.id, '%s', 'purchase', 'bulk:' || g, now(),"
          " json_build_object('ids', json_build_object('google', json_build_object("
          " 'email', encode(sha256(convert_to('c' || g, 'UTF8')), 'hex'))))"
          " FROM generate_series(1, 10001) g, tenants t WHERE t.name = 'acme'" % s.source_id)
    p = s.ctl("audience", "sync", "many", json_out=True)
    assert p["added"] == 10001
    sizes = [len(r["body"]["audienceMembers"]) for r in api_requests(datamanager, ":ingest")]
    assert sizes == [10000, 1]
    assert len(datamanager.members(LIST_ID)) == 10001


def test_add_refuses_what_cannot_be_an_audience(make_stack, google_oauth, datamanager):
    s = google_stack(make_stack, google_oauth, datamanager)
    datamanager.config(lists=[LIST_ID])
    base = ["audience", "add", "--name", "buyers", "--user-list-id", LIST_ID]
    p = s.ctl(*base, "--destination", "pixel1", "--sources", "shop1", check=False)
    assert p.returncode == 1 and "cannot hold audiences" in p.stderr
    p = s.ctl(*base, "--destination", "ads1", check=False)
    assert p.returncode == 2 and "--sources" in p.stderr
    p = s.ctl(*base, "--destination", "ads1", "--sources", "nope", check=False)
    assert p.returncode == 1 and "no source" in p.stderr
    p = s.ctl("audience", "add", "--name", "buyers", "--user-list-id", "12ab", "--destination",
              "ads1", "--sources", "shop1", check=False)
    assert p.returncode == 2
    s.ctl(*base, "--destination", "ads1", "--sources", "shop1")
    p = s.ctl(*base, "--destination", "ads1", "--sources", "shop1", check=False)
    assert p.returncode == 1 and "already has an audience" in p.stderr
    # A paused destination gets nothing, audiences included.
    s.ctl("destination", "pause", "ads1")
    p = s.ctl("audience", "sync", "buyers", check=False)
    assert p.returncode == 1 and "is paused" in p.stderr
    assert "is paused" in audience(s, "buyers")["last_error"]
    s.ctl("destination", "resume", "ads1")
    p = s.ctl("audience", "sync", "nope", check=False)
    assert p.returncode == 1 and "no audience named" in p.stderr
    out = s.ctl("audience", "list").stdout
    assert out.splitlines()[0].split()[:5] == ["ID", "TENANT", "NAME", "DESTINATION",
                                              "USER_LIST"]
    assert "buyers" in out and LIST_ID in out
    assert datamanager.requests() == []
