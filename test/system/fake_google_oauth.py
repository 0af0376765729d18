#!/usr/bin/python3
"""A fake Google OAuth 2.0 server (token endpoint and consent page) for the
system tests of the Google destinations.

It speaks the parts of Google's OAuth 2.0 for web server applications that
AdsEngineer uses (https://developers.google.com/identity/protocols/oauth2/web-server,
PLATFORMS.md "Google Ads API"):

``POST /token`` (application/x-www-form-urlencoded)
    ``grant_type=refresh_token&client_id&client_secret&refresh_token`` →
    ``{"access_token": "ya29.…", "expires_in": N, "token_type": "Bearer",
    "scope": "…"}``; ``grant_type=authorization_code&code&redirect_uri
    &client_id&client_secret`` → the same plus a new ``refresh_token``.
    Errors as Google answers them: 400 ``{"error": "invalid_grant",
    "error_description": "Token has been expired or revoked."}`` for an
    unknown, revoked or used refresh token or code, 401 ``invalid_client``
    for a wrong client id or secret, 400 ``unsupported_grant_type``.
``GET /auth?client_id&redirect_uri&response_type=code&scope&state
&access_type=offline&prompt=consent``
    The consent page, with a user who always consents: a 302 to
    ``redirect_uri?code=…&state=…``.  Checks what Google checks (client id,
    response_type=code, a scope) and what AdsEngineer must send
    (access_type=offline and prompt=consent, without which Google gives no
    refresh token again); anything wrong is a 400 page.

Control API (JSON):

``POST /_control/config``
    Merge any of: ``client_id``, ``client_secret`` (null accepts any),
    ``refresh_tokens`` (accepted refresh tokens; null accepts any non-empty
    one), ``revoked`` (refresh tokens answered ``invalid_grant``), ``expires_in``
    (seconds, default 3599), ``fail_next`` (statuses answered to the next
    token requests in order: 400 → invalid_grant, 401 → invalid_client,
    429/500/503 → Google-shaped server errors), ``stall_seconds`` (sleep
    before answering a token request).
``POST /_control/reset``
    Back to the startup config; forget every record and token.
``GET /_control/requests``
    Every token request: time, grant_type, client_id, a hash of the refresh
    token or code (never the secret itself), status, error.
``GET /_control/introspect?token=T``
    ``{"active": bool, "scope": …, "refresh_token_sha": …}``: whether T was
    issued here and is unexpired.  The fake Data Manager and Google Ads
    servers ask this to decide between 200 and 401.
``POST /_control/expire``
    Expire every access token issued so far (the next API call gets 401).
``GET /_control/stats``
    ``{"token_requests": n, "by_grant": {...}, "by_status": {...},
    "inflight": n, "max_inflight": n}``.

Usage: ``fake_google_oauth.py --port 0``; the first stdout line is
``PORT=<n>``.  Standard library only; run by /usr/bin/python3.
"""

import hashlib
import json
import secrets
import sys
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import fake_common

CONFIG_KEYS = {"client_id", "client_secret", "refresh_tokens", "revoked", "expires_in",
               "fail_next", "stall_seconds"}

DEFAULT_EXPIRES = 3599

INJECTED = {
    400: {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    401: {"error": "invalid_client", "error_description": "Unauthorized"},
    429: {"error": "rate_limit_exceeded", "error_description": "Rate limit exceeded"},
    500: {"error": "internal_failure", "error_description": "Backend Error"},
    503: {"error": "temporarily_unavailable", "error_description": "Backend Error"},
}


def sha(s):
    """Records keep a short hash of a secret, never the secret."""
    return hashlib.sha256(s.encode()).hexdigest()[:16] if s else None


class State(fake_common.FakeState):
    """Config, issued tokens and records; every access under ``lock``."""

    def __init__(self, client_id, client_secret):
        self.start = {"client_id": client_id, "client_secret": client_secret}
        self.inflight = 0
        super().__init__()

    def initial_config(self):
        return {"client_id": self.start["client_id"],
                "client_secret": self.start["client_secret"],
                "refresh_tokens": None, "revoked": [],
                "expires_in": DEFAULT_EXPIRES, "fail_next": [],
                "stall_seconds": 0}

    def clear(self):
        super().clear()
        self.access = {}   # access token -> (expiry, scope, refresh sha)
        self.codes = {}    # code -> (redirect_uri, scope)
        self.issued_refresh = {}  # refresh token -> scope
        self.by_grant = {}
        self.by_status = {}
        self.max_inflight = self.inflight

    def update(self, changes):
        unknown = set(changes) - CONFIG_KEYS
        if unknown:
            raise ValueError("unknown config keys: %s" % ", ".join(sorted(unknown)))
        if "fail_next" in changes:
            fake_common.check_fail_next(changes["fail_next"], INJECTED, sorted(INJECTED))
        with self.lock:
            self.config.update(changes)
            return dict(self.config)


class Handler(fake_common.Handler):
    server_version = "FakeGoogleOAuth/1.0"
    json_type = "application/json; charset=utf-8"

    def send_page(self, status, text, location=None):
        data = ("<!doctype html><title>%s</title><p>%s</p>" % (status, text)).encode()
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- routes --------------------------------------------------------------

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/auth":
            return self.consent(q)
        if url.path == "/_control/requests":
            with self.st.lock:
                return self.send_json(200, list(self.st.requests))
        if url.path == "/_control/introspect":
            tok = q.get("token", "")
            with self.st.lock:
                v = self.st.access.get(tok)
            active = v is not None and v[0] > time.time()
            return self.send_json(200, {"active": active, "scope": v[1] if v else None,
                                        "refresh_token_sha": v[2] if v else None})
        if url.path == "/_control/stats":
            with self.st.lock:
                return self.send_json(200, {
                    "token_requests": len(self.st.requests),
                    "by_grant": dict(self.st.by_grant),
                    "by_status": {str(k): v for k, v in self.st.by_status.items()},
                    "inflight": self.st.inflight, "max_inflight": self.st.max_inflight})
        self.send_json(404, {"error": "not_found"})

    def do_POST(self):
        url = urlsplit(self.path)
        body = self.read_body()
        if url.path == "/token":
            return self.token(body)
        if url.path == "/_control/config":
            try:
                return self.send_json(200, self.st.update(json.loads(body or b"{}")))
            except (ValueError, TypeError) as exc:
                return self.send_json(400, {"error": str(exc)})
        if url.path == "/_control/reset":
            self.st.reset()
            return self.send_json(200, {})
        if url.path == "/_control/expire":
            with self.st.lock:
                for tok, v in list(self.st.access.items()):
                    self.st.access[tok] = (0, v[1], v[2])
            return self.send_json(200, {})
        self.send_json(404, {"error": "not_found"})

    # -- consent -------------------------------------------------------------

    def consent(self, q):
        cfg = self.st.config
        problems = []
        if cfg["client_id"] is not None and q.get("client_id") != cfg["client_id"]:
            problems.append("invalid client_id")
        if q.get("response_type") != "code":
            problems.append("response_type must be code")
        if not q.get("scope"):
            problems.append("missing scope")
        if q.get("access_type") != "offline":
            problems.append("access_type must be offline to get a refresh token")
        if q.get("prompt") != "consent":
            problems.append("prompt must be consent to get a refresh token again")
        if not q.get("redirect_uri", "").startswith(("http://", "https://")):
            problems.append("invalid redirect_uri")
        if not q.get("state"):
            problems.append("missing state (CSRF protection)")
        if problems:
            return self.send_page(400, "Error 400: invalid_request: " + "; ".join(problems))
        code = "4/fake-" + secrets.token_urlsafe(24)
        with self.st.lock:
            self.st.codes[code] = (q["redirect_uri"], q["scope"])
        sep = "&" if "?" in q["redirect_uri"] else "?"
        loc = q["redirect_uri"] + sep + urlencode({"code": code, "state": q["state"],
                                                    "scope": q["scope"]})
        self.send_page(302, "Redirecting", location=loc)

    # -- token ---------------------------------------------------------------

    def token(self, body):
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        grant = form.get("grant_type", "")
        with self.st.lock:
            self.st.inflight += 1
            self.st.max_inflight = max(self.st.max_inflight, self.st.inflight)
            stall = self.st.config["stall_seconds"]
        try:
            if stall:
                time.sleep(stall)
            status, obj = self.decide(form, grant)
        finally:
            with self.st.lock:
                self.st.inflight -= 1
        with self.st.lock:
            self.st.record_request({
                "time": time.time(), "grant_type": grant, "client_id": form.get("client_id"),
                "refresh_token_sha": sha(form.get("refresh_token")),
                "code_sha": sha(form.get("code")), "redirect_uri": form.get("redirect_uri"),
                "status": status, "error": obj.get("error")})
            self.st.by_grant[grant] = self.st.by_grant.get(grant, 0) + 1
            self.st.by_status[status] = self.st.by_status.get(status, 0) + 1
        headers = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
                   "Pragma": "no-cache"}
        self.send_json(status, obj, headers)

    def issue(self, scope, refresh):
        tok = "ya29.fake-" + secrets.token_urlsafe(32)
        with self.st.lock:
            exp = self.st.config["expires_in"]
            self.st.access[tok] = (time.time() + exp, scope, sha(refresh))
        return {"access_token": tok, "expires_in": exp, "token_type": "Bearer",
                "scope": scope}

    def decide(self, form, grant):
        """(status, body) for one token request."""
        with self.st.lock:
            cfg = self.st.config
            s = fake_common.pop_fail(cfg)
            if s is not None:
                return s, dict(INJECTED[s])
            if ((cfg["client_id"] is not None and form.get("client_id") != cfg["client_id"])
                    or (cfg["client_secret"] is not None
                        and form.get("client_secret") != cfg["client_secret"])
                    or not form.get("client_id") or not form.get("client_secret")):
                return 401, {"error": "invalid_client",
                             "error_description": "The OAuth client was not found."}
            if grant == "refresh_token":
                rt = form.get("refresh_token", "")
                known = cfg["refresh_tokens"]
                if (not rt or rt in cfg["revoked"]
                        or (known is not None and rt not in known
                            and rt not in self.st.issued_refresh)):
                    return 400, {"error": "invalid_grant",
                                 "error_description": "Token has been expired or revoked."}
                scope = self.st.issued_refresh.get(rt, "https://www.googleapis.com/auth/datamanager "
                                                       "https://www.googleapis.com/auth/adwords")
            elif grant == "authorization_code":
                code = form.get("code", "")
                entry = self.st.codes.pop(code, None)  # single use
                if entry is None:
                    return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
                if form.get("redirect_uri") != entry[0]:
                    return 400, {"error": "redirect_uri_mismatch",
                                 "error_description": "Bad Request"}
                scope = entry[1]
                rt = "1//fake-" + secrets.token_urlsafe(32)
                self.st.issued_refresh[rt] = scope
            else:
                return 400, {"error": "unsupported_grant_type",
                             "error_description": "Invalid grant_type: " + grant}
        out = self.issue(scope, rt)
        if grant == "authorization_code":
            out["refresh_token"] = rt
        return 200, out


def add_args(ap):
    ap.add_argument("--client-id", default=None, help="expected client id (default: any)")
    ap.add_argument("--client-secret", default=None, help="expected secret (default: any)")


def setup(server, args):
    server.state = State(args.client_id, args.client_secret)


def main(argv=None):
    return fake_common.serve(Handler, "Fake Google OAuth 2.0 server.", setup, add_args, argv)


if __name__ == "__main__":
    sys.exit(main())
