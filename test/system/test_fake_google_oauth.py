"""The fake Google OAuth server behaves like Google where the daemon relies
on it (so a daemon test against it means something)."""

import urllib.error
import urllib.parse
import urllib.request

from harness import FakeGoogleOAuth


def post_form(url, fields):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, __import__("json").loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, __import__("json").loads(exc.read())


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def test_refresh_consent_code_and_errors(google_oauth):
    g = google_oauth
    tok = g.url + "/token"
    client = {"client_id": FakeGoogleOAuth.CLIENT_ID,
              "client_secret": FakeGoogleOAuth.CLIENT_SECRET}
    st, body = post_form(tok, dict(client, grant_type="refresh_token",
                                   refresh_token=FakeGoogleOAuth.REFRESH_TOKEN))
    assert st == 200 and body["access_token"].startswith("ya29.") and body["expires_in"] > 0
    assert g.introspect(body["access_token"])["active"] is True
    assert g.introspect("ya29.other")["active"] is False

    st, body = post_form(tok, dict(client, client_secret="wrong", grant_type="refresh_token",
                                   refresh_token="x"))
    assert st == 401 and body["error"] == "invalid_client"
    g.config(revoked=["gone"])
    st, body = post_form(tok, dict(client, grant_type="refresh_token", refresh_token="gone"))
    assert st == 400 and body["error"] == "invalid_grant"

    # Consent: the redirect carries a code and the state back.
    q = urllib.parse.urlencode({"client_id": FakeGoogleOAuth.CLIENT_ID, "response_type": "code",
                                "scope": "https://www.googleapis.com/auth/datamanager",
                                "redirect_uri": "http://127.0.0.1:1/cb", "state": "S1",
                                "access_type": "offline", "prompt": "consent"})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(g.url + "/auth?" + q, timeout=10)
        assert False, "expected a redirect"
    except urllib.error.HTTPError as exc:
        assert exc.code == 302
        loc = urllib.parse.urlsplit(exc.headers["Location"])
    args = dict(urllib.parse.parse_qsl(loc.query))
    assert args["state"] == "S1"
    st, body = post_form(tok, dict(client, grant_type="authorization_code", code=args["code"],
                                   redirect_uri="http://127.0.0.1:1/cb"))
    assert st == 200 and body["refresh_token"]
    # A code is single use; the new refresh token works.
    st, body2 = post_form(tok, dict(client, grant_type="authorization_code", code=args["code"],
                                    redirect_uri="http://127.0.0.1:1/cb"))
    assert st == 400 and body2["error"] == "invalid_grant"
    st, _ = post_form(tok, dict(client, grant_type="refresh_token",
                                refresh_token=body["refresh_token"]))
    assert st == 200
    # Without offline access Google would give no refresh token: refused.
    try:
        opener.open(g.url + "/auth?" + q.replace("offline", "online"), timeout=10)
        assert False
    except urllib.error.HTTPError as exc:
        assert exc.code == 400
    assert g.stats()["by_grant"] == {"refresh_token": 4, "authorization_code": 2}
