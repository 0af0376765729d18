"""The pipeline's OAuth2 auth hook (net/oauth.c token cache, deliver_upload.c)
against the fake Google OAuth server, through the google_datamanager
destination: one refresh shared by every request and worker, expiry, a
refused grant pausing with reason "reauthorize", a token server outage,
a fresh token refused again, and a stop while waiting for a token."""

import time
import urllib.parse

from harness import FakeGoogleOAuth, shopify_order, wait_until

KIND = "google_datamanager"


def dm_stack(make_stack, google_oauth, datamanager, credentials=None, **conf):
    conf.setdefault("workers__threads", "2")
    stack = make_stack(**conf)
    stack.dest_id = stack.add_google_destination(KIND, "gads1", google_oauth, datamanager,
                                                 credentials=credentials)
    return stack


def refreshes(google_oauth):
    return google_oauth.stats()["by_grant"].get("refresh_token", 0)


def dest_row(stack):
    return stack.sql("SELECT enabled, coalesce(paused_reason, '') FROM destinations"
                     " WHERE id = '%s'" % stack.dest_id)[0]


def states(stack):
    return {r[0]: (r[1], int(r[2])) for r in stack.sql(
        "SELECT c.order_id, d.state, d.attempts FROM deliveries d"
        " JOIN conversions c ON c.id = d.conversion_id")}


def test_one_refresh_for_many_requests_across_workers(make_stack, google_oauth, datamanager):
    # Small claims make many requests; a slow token server (1 s, within
    # the stack's 2 s upload timeout) makes them all wait for the same
    # refresh, on both workers.
    stack = dm_stack(make_stack, google_oauth, datamanager, workers__batch="2")
    google_oauth.config(stall_seconds=1)
    stack.start()
    ids = list(range(7001, 7021))
    for i in ids:
        assert stack.post_shopify(shopify_order(i))[0] == 200
    stack.wait_states({"delivered": len(ids)}, timeout=60)
    assert refreshes(google_oauth) == 1
    assert google_oauth.stats()["max_inflight"] == 1
    assert len(datamanager.ingests()) >= 2  # several requests shared it
    assert all(a == 1 for _, a in states(stack).values())


def test_expired_token_is_refreshed(make_stack, google_oauth, datamanager):
    # expires_in 2 s: cached for 1.5 s (a quarter is the margin).
    google_oauth.config(expires_in=2)
    stack = dm_stack(make_stack, google_oauth, datamanager).start()
    assert stack.post_shopify(shopify_order(7101))[0] == 200
    stack.wait_states({"delivered": 1})
    assert refreshes(google_oauth) == 1
    time.sleep(2.5)  # let the token expire (a precondition, not a race)
    assert stack.post_shopify(shopify_order(7102))[0] == 200
    stack.wait_states({"delivered": 2})
    assert refreshes(google_oauth) == 2
    # Every request carried a token the server had issued and not expired.
    assert all(r["status"] == 200 for r in datamanager.ingests())


def test_invalid_grant_pauses_with_reauthorize(make_stack, google_oauth, datamanager):
    google_oauth.config(revoked=[FakeGoogleOAuth.REFRESH_TOKEN])
    stack = dm_stack(make_stack, google_oauth, datamanager).start()
    assert stack.post_shopify(shopify_order(7201))[0] == 200
    wait_until(lambda: states(stack).get("7201", ("",))[0] == "held", timeout=30,
               what="the delivery held")
    enabled, reason = dest_row(stack)
    assert enabled is False or enabled == "f"
    assert reason.startswith("reauthorize: oauth: invalid_grant")
    assert "adsengctl destination authorize %s" % stack.dest_id in reason
    assert states(stack)["7201"] == ("held", 0)  # no attempt spent
    assert datamanager.ingests() == []
    # Visible where an operator looks.
    out = stack.ctl("stats").stdout
    assert "paused (reauthorize)" in out
    (row,) = stack.ctl("stats", json_out=True)["destinations"]
    assert row["paused_reason"].startswith("reauthorize")
    did = stack.scalar("SELECT id FROM deliveries")
    show = stack.ctl("deliveries", "show", str(did), json_out=True)
    assert show["destination"]["paused_reason"].startswith("reauthorize")
    # The grant is remembered as refused: no refresh storm while held.
    n = refreshes(google_oauth)
    assert n == 1
    # Fixed at Google's side (here: the token un-revoked) and resumed:
    # delivered, with its first attempt.
    google_oauth.config(revoked=[])
    stack.stop()
    stack.start()
    stack.ctl("destination", "resume", stack.dest_id)
    stack.wait_states({"delivered": 1}, timeout=30)
    assert states(stack)["7201"] == ("delivered", 1)


def test_not_authorized_yet_pauses(make_stack, google_oauth, datamanager):
    creds = {"client_id": FakeGoogleOAuth.CLIENT_ID,
             "client_secret": FakeGoogleOAuth.CLIENT_SECRET}
    stack = dm_stack(make_stack, google_oauth, datamanager, credentials=creds).start()
    assert stack.post_shopify(shopify_order(7301))[0] == 200
    wait_until(lambda: states(stack).get("7301", ("",))[0] == "held", timeout=30,
               what="the delivery held")
    _, reason = dest_row(stack)
    assert reason.startswith("reauthorize: oauth: not authorized yet")
    assert refreshes(google_oauth) == 0


def test_token_server_outage_releases_then_delivers(make_stack, google_oauth, datamanager):
    google_oauth.config(fail_next=[503])
    stack = dm_stack(make_stack, google_oauth, datamanager).start()
    assert stack.post_shopify(shopify_order(7401))[0] == 200
    stack.wait_states({"delivered": 1}, timeout=60)
    # Released without spending an attempt while the token server was down.
    assert states(stack)["7401"] == ("delivered", 1)
    assert refreshes(google_oauth) == 2
    released = stack.sql("SELECT outcome, error FROM delivery_attempts WHERE outcome ="
                         " 'released'")
    assert released and "could not get an access token" in released[0][1]
    enabled, _ = dest_row(stack)
    assert enabled is True or enabled == "t"


def test_fresh_token_refused_again_pauses(make_stack, google_oauth, datamanager):
    datamanager.config(fail_next=[401, 401])
    stack = dm_stack(make_stack, google_oauth, datamanager).start()
    assert stack.post_shopify(shopify_order(7501))[0] == 200
    wait_until(lambda: states(stack).get("7501", ("",))[0] == "held", timeout=30,
               what="the delivery held")
    _, reason = dest_row(stack)
    assert reason.startswith("reauthorize: a fresh access token was refused too")
    assert states(stack)["7501"] == ("held", 0)
    # Exactly one refresh after the first 401, none after the second.
    assert refreshes(google_oauth) == 2
    outcomes = [r[0] for r in stack.sql("SELECT outcome FROM delivery_attempts ORDER BY at")]
    assert outcomes == ["reauth", "reauth"]


def test_stop_while_waiting_for_a_token(make_stack, google_oauth, datamanager):
    # The refresh stalls for longer than the upload timeout (10 s here).
    google_oauth.config(stall_seconds=30)
    stack = dm_stack(make_stack, google_oauth, datamanager, server__shutdown_timeout="3s",
                     workers__upload_timeout="10s", workers__lease="30s")
    stack.start()
    assert stack.post_shopify(shopify_order(7601))[0] == 200
    wait_until(lambda: google_oauth.stats()["inflight"] >= 1, timeout=30,
               what="a token refresh under way")
    t0 = time.monotonic()
    assert stack.stop() == 0
    assert time.monotonic() - t0 < 10
    # Given back unspent, for the next run.
    assert states(stack)["7601"] == ("pending", 0)


def test_invalid_grant_then_authorize_releases_and_delivers(make_stack, google_oauth,
                                                            datamanager):
    # The whole story an operator lives: Google revokes the grant, the
    # destination pauses for reauthorization, the account owner consents
    # again through `destination authorize`, and the held order goes out
    # with its first attempt.
    google_oauth.config(revoked=[FakeGoogleOAuth.REFRESH_TOKEN])
    stack = dm_stack(make_stack, google_oauth, datamanager,
                     google__auth_url=google_oauth.url + "/auth").start()
    assert stack.post_shopify(shopify_order(7701))[0] == 200
    wait_until(lambda: states(stack).get("7701", ("",))[0] == "held", timeout=30,
               what="the delivery held")
    assert dest_row(stack)[1].startswith("reauthorize")
    url = stack.ctl("destination", "authorize", stack.dest_id).stdout.strip()
    callback = google_oauth.consent_redirect(url)
    u = urllib.parse.urlsplit(callback)
    status, body, _ = stack.http("GET", u.path + "?" + u.query)
    assert status == 200, body
    stack.wait_states({"delivered": 1}, timeout=30)
    assert states(stack)["7701"] == ("delivered", 1)
    enabled, reason = dest_row(stack)
    assert (enabled is True or enabled == "t") and reason == ""
    # The new grant's token was used: one refused refresh, one good one.
    assert [r["status"] for r in google_oauth.requests() if
            r["grant_type"] == "refresh_token"] == [400, 200]
