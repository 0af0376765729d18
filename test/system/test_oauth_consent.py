"""The OAuth2 consent flow (issue 6, "Consent flow"): `adsengctl destination
authorize` prints Google's consent URL with a signed, expiring, single-use
state; the fake Google consents and redirects to adsengd's
GET /oauth/google/callback, which exchanges the code, seals the refresh
token into the destination's credentials and, for a destination paused
for reauthorization, resumes it and releases its held deliveries.  A bad,
expired or reused state gets 400 and changes nothing.

The destination is a google_datamanager one (the flow is the same for
google_ads: both declare oauth_provider "google").
"""

import calendar
import http.client
import json
import os
import threading
import time
import urllib.parse

import pytest

from harness import FakeGoogleOAuth, shopify_order, wait_until

CALLBACK = "/oauth/google/callback"
SCOPES = {"google_datamanager": "https://www.googleapis.com/auth/datamanager",
          "google_ads": "https://www.googleapis.com/auth/adwords"}


KIND = "google_datamanager"


def get(url, timeout=30):
    """GET without following redirects: (status, headers, body text)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("GET", u.path + ("?" + u.query if u.query else ""))
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode(errors="replace")
    finally:
        conn.close()


def consent(url):
    """Open the consent URL at the fake; the callback URL it redirects to."""
    status, headers, body = get(url)
    assert status == 302, body
    return headers["Location"]


def with_state(callback_url, state):
    u = urllib.parse.urlsplit(callback_url)
    q = dict(urllib.parse.parse_qsl(u.query))
    q["state"] = state
    return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


@pytest.fixture
def google_stack(make_stack, google_oauth):
    """Factory: a Stack whose Google endpoints are the fake OAuth server."""

    def make(**conf):
        settings = {"google__auth_url": google_oauth.url + "/auth",
                    "endpoints__google_oauth": google_oauth.url,
                    "endpoints__google_ads": "http://127.0.0.1:9",
                    "endpoints__google_datamanager": "http://127.0.0.1:9"}
        settings.update(conf)
        return make_stack(**settings)

    return make


def add_google(stack, name="gads1", paused_reason=None):
    """tenant + shopify source + a Google destination routed from it; the
    credentials hold the OAuth client and an old (unknown) refresh token."""
    secret_file = os.path.join(stack.dir, "shopify.secret")
    with open(secret_file, "w") as f:
        f.write(stack.SECRET + "\n")
    creds_file = os.path.join(stack.dir, "google.json")
    with open(creds_file, "w") as f:
        json.dump({"client_id": FakeGoogleOAuth.CLIENT_ID,
                   "client_secret": FakeGoogleOAuth.CLIENT_SECRET,
                   "refresh_token": "1//old-revoked", "developer_token": "dev-token"}, f)
    stack.ctl("tenant", "add", "acme")
    stack.source_id = stack.ctl("source", "add", "--tenant", "acme", "--kind", "shopify",
                                "--name", "shop1", "--secret-file", secret_file,
                                json_out=True)["id"]
    stack.dest_id = stack.ctl("destination", "add", "--tenant", "acme", "--kind", KIND,
                              "--name", name, "--customer-id", "123-456-7890",
                              "--conversion-action", "555666777", "--credentials-file",
                              creds_file, json_out=True)["id"]
    if paused_reason:
        stack.ctl("destination", "pause", stack.dest_id, "--reason", paused_reason)
    stack.ctl("route", "add", stack.source_id, stack.dest_id)
    return stack


def sealed(stack):
    return stack.scalar("SELECT encode(credentials, 'hex') FROM destinations WHERE id = '%s'"
                        % stack.dest_id)


def code_grants(google_oauth):
    return [r for r in google_oauth.requests() if r["grant_type"] == "authorization_code"]


def authorize(stack):
    return stack.ctl("destination", "authorize", stack.dest_id, json_out=True)


def test_authorize_url_and_callback(google_stack, google_oauth):
    stack = add_google(google_stack()).start()
    out = authorize(stack)
    url = out["url"]
    assert url.startswith(google_oauth.url + "/auth?")
    q = query_of(url)
    redirect = stack.base_url + CALLBACK
    # The kind's scopes (it may ask for more than its own API's).
    assert SCOPES[KIND] in q["scope"].split(" ")
    assert q == {"client_id": FakeGoogleOAuth.CLIENT_ID, "redirect_uri": redirect,
                 "response_type": "code", "scope": q["scope"], "access_type": "offline",
                 "prompt": "consent", "include_granted_scopes": "true", "state": q["state"]}
    assert out["redirect_uri"] == redirect and out["destination_id"] == stack.dest_id
    assert out["expires_at"].endswith("Z")
    # Text output: the URL alone on stdout.
    p = stack.ctl("destination", "authorize", "gads1")
    assert p.stdout.strip().startswith(google_oauth.url + "/auth?") and "once" in p.stderr
    assert stack.count("oauth_states") == 2

    before = sealed(stack)
    callback = consent(url)
    assert callback.startswith(redirect + "?")
    status, headers, body = get(callback)
    assert status == 200, body
    assert "text/html" in headers["Content-Type"] and headers["Cache-Control"] == "no-store"
    assert "gads1" in body and "authorized" in body
    grants = code_grants(google_oauth)
    assert [(g["status"], g["redirect_uri"], g["client_id"]) for g in grants] == [
        (200, redirect, FakeGoogleOAuth.CLIENT_ID)]
    after = sealed(stack)
    assert after != before
    assert stack.scalar("SELECT used_at IS NOT NULL FROM oauth_states WHERE nonce IN"
                        " (SELECT nonce FROM oauth_states ORDER BY created_at LIMIT 1)") == "t"
    assert stack.count("audit_log", "action = 'destination.authorized'"
                       " AND actor = 'oauth-callback'") == 1
    # Not paused before: nothing resumed.
    assert stack.count("audit_log", "action = 'destination.resume'") == 0

    # The same link again: 400, nothing changes, no second exchange.
    status, _, body = get(callback)
    assert status == 400 and "already used" in body
    assert sealed(stack) == after and len(code_grants(google_oauth)) == 1

    # Secrets stay out of the log.
    code = query_of(callback)["code"]
    logs = stack.logs()
    assert "destination authorized" in logs
    for secret in (code, q["state"], FakeGoogleOAuth.CLIENT_SECRET, "1//fake-"):
        assert secret not in logs


def test_bad_states_change_nothing(google_stack, google_oauth):
    stack = add_google(google_stack()).start()
    url = authorize(stack)["url"]
    callback = consent(url)
    state = query_of(callback)["state"]
    before = sealed(stack)
    tampered = [state[:10] + ("A" if state[10] != "A" else "B") + state[11:],  # payload
                state[:-1] + ("A" if state[-1] != "A" else "B"),                 # MAC
                state.split(".")[0],                                              # no MAC
                "x" * 300]                                                        # too long
    for bad in tampered:
        status, _, body = get(with_state(callback, bad))
        assert status == 400 and "not valid" in body, (bad, body)
    for path in (CALLBACK, CALLBACK + "?code=abc", CALLBACK + "?state=" + state,
                 CALLBACK + "?state=%s&state=%s&code=x" % (state, state)):
        status, body, _ = stack.http("GET", path)
        assert status == 400, (path, body)
    status, body, _ = stack.http("GET", CALLBACK + "?code=a&state=" + "x" * 5000)
    assert status == 400 and b"malformed" in body
    # Google's refusal: a failure page, 400.
    status, body, _ = stack.http("GET", CALLBACK + "?error=access_denied&state=" + state)
    assert status == 400 and b"access_denied" in body
    assert stack.http("POST", CALLBACK + "?code=a&state=" + state, b"")[0] == 405
    assert stack.http("GET", "/oauth/google/other")[0] == 404
    assert code_grants(google_oauth) == []
    assert sealed(stack) == before
    assert stack.count("oauth_states", "used_at IS NOT NULL") == 0
    # The untouched state still works afterwards.
    status, _, body = get(callback)
    assert status == 200, body


def test_expired_state(google_stack, google_oauth):
    stack = add_google(google_stack(oauth__state_ttl="1s")).start()
    out = authorize(stack)
    callback = consent(out["url"])
    exp = calendar.timegm(time.strptime(out["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    wait_until(lambda: time.time() > exp + 1, timeout=10, what="the state to expire")
    before = sealed(stack)
    status, _, body = get(callback)
    assert status == 400 and "expired" in body
    assert code_grants(google_oauth) == [] and sealed(stack) == before
    assert stack.count("oauth_states", "used_at IS NOT NULL") == 0


def test_reauthorize_pause_is_released(google_stack, google_oauth):
    """invalid_grant paused the destination ("reauthorize: …") and held its
    deliveries: the callback resumes it, releases them, and the workers'
    next token refresh uses the new refresh token (the fake accepts only
    tokens it issued), which proves it was sealed and stored intact."""
    google_oauth.config(refresh_tokens=[])
    stack = add_google(google_stack(), paused_reason="reauthorize: invalid_grant (test)")
    stack.start()
    status, _, _ = stack.post_shopify(shopify_order(7001))
    assert status == 200
    stack.wait_states({"held": 1})
    callback = consent(authorize(stack)["url"])
    status, _, body = get(callback)
    assert status == 200, body
    assert "1 held deliveries released" in body
    assert stack.scalar("SELECT enabled::text || coalesce(paused_reason, '-') FROM destinations"
                        " WHERE id = '%s'" % stack.dest_id) == "true-"
    assert stack.count("deliveries", "state = 'held'") == 0
    assert stack.count("audit_log", "action = 'destination.resume'"
                       " AND actor = 'oauth-callback'") == 1
    wait_until(lambda: [r for r in google_oauth.requests()
                        if r["grant_type"] == "refresh_token" and r["status"] == 200],
               timeout=30, what="a token refresh with the new refresh token")


def test_other_pause_is_kept(google_stack, google_oauth):
    stack = add_google(google_stack(), paused_reason="paused by operator").start()
    status, _, body = get(consent(authorize(stack)["url"]))
    assert status == 200 and "released" not in body
    assert stack.scalar("SELECT enabled FROM destinations WHERE id = '%s'"
                        % stack.dest_id) == "f"


def test_exchange_refused_or_failing(google_stack, google_oauth):
    """Google refuses the code (invalid_grant) or its token endpoint fails:
    a failure page naming Google's error, the state is spent, the
    credentials are unchanged."""
    stack = add_google(google_stack()).start()
    before = sealed(stack)
    google_oauth.config(fail_next=[400])
    status, _, body = get(consent(authorize(stack)["url"]))
    assert status == 400 and "invalid_grant" in body and "again" in body, body
    google_oauth.config(fail_next=[503])
    status, _, body = get(consent(authorize(stack)["url"]))
    assert status == 502 and "could not be reached" in body, body
    assert sealed(stack) == before
    assert stack.count("oauth_states", "used_at IS NOT NULL") == 2
    assert stack.count("audit_log", "action = 'destination.authorized'") == 0


def test_kind_changed_to_unknown_fails_cleanly(google_stack, google_oauth):
    """The callback looks the kind up again: a kind this daemon does not
    know (or that is not consented through this provider) is a failure
    page, nothing is exchanged or stored."""
    stack = add_google(google_stack()).start()
    callback = consent(authorize(stack)["url"])
    stack.sql("UPDATE destinations SET kind = 'no_such_kind' WHERE id = '%s'" % stack.dest_id)
    before = sealed(stack)
    status, _, body = get(callback)
    assert status == 400 and "no_such_kind" in body, body
    assert code_grants(google_oauth) == [] and sealed(stack) == before


def test_kind_without_consent_is_refused(make_stack):
    stack = make_stack().setup_demo()
    p = stack.ctl("destination", "authorize", stack.dest_id, check=False)
    assert p.returncode == 1 and "not authorized by OAuth consent" in p.stderr
    assert stack.count("oauth_states") == 0
    p = stack.ctl("destination", "authorize", stack.dest_id, "--redirect-uri", "ftp://x",
                  check=False)
    assert p.returncode == 2


def test_busy_and_sigterm_during_callbacks(google_stack, google_oauth):
    """At most four callbacks run at once (the fifth gets 503), and SIGTERM
    while they wait for a slow token endpoint stops cleanly: they finish,
    their pages are sent, the daemon exits 0 within its stop deadline."""
    stack = add_google(google_stack(server__shutdown_timeout="10s")).start()
    callbacks = [consent(authorize(stack)["url"]) for _ in range(5)]
    google_oauth.config(stall_seconds=3)
    results = {}

    def run(i):
        results[i] = get(callbacks[i], timeout=30)[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: google_oauth.stats()["inflight"] == 4, timeout=20,
               what="four code exchanges in flight")
    status, _, body = get(callbacks[4])
    assert status == 503, body
    started = time.monotonic()
    rc = stack.stop()
    assert rc == 0, stack.logs()[-3000:]
    assert time.monotonic() - started < 10
    for t in threads:
        t.join(30)
    assert results == {0: 200, 1: 200, 2: 200, 3: 200}
    assert len(code_grants(google_oauth)) == 4
