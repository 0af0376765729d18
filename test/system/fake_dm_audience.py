#!/usr/bin/python3
"""A fake of the Google Data Manager API's Customer Match endpoints for the
audience system tests (the events endpoints are fake_datamanager.py's).

It checks requests the way ../shared/DATAMANAGER.md "Customer Match"
describes them and answers as Google does (ProtoJSON, errors as
``{"error": {"code", "message", "status", "details": [BadRequest
fieldViolations]}}``):

``POST /v1/audienceMembers:ingest``
    ``destinations[]`` (operatingAccount / optional loginAccount with
    accountType GOOGLE_ADS and a 10-digit accountId, productDestinationId =
    a user list created here or registered with ``lists``),
    ``audienceMembers[]`` (1..10 000; each ``userData.userIdentifiers[]``
    of 1..10 elements holding exactly one of emailAddress, phoneNumber
    (64 lowercase hex) or address (givenName, familyName hex, regionCode
    two upper-case letters, postalCode); optional ``consent`` with
    CONSENT_GRANTED / CONSENT_DENIED), ``termsOfService``
    ``{"customerMatchTermsOfServiceStatus": "ACCEPTED"}`` required,
    ``encoding`` HEX required.  Answer ``{"requestId": "…"}``.
``POST /v1/audienceMembers:remove``
    The same without consent and termsOfService (refused when present).
``POST /v1/accountTypes/GOOGLE_ADS/accounts/{id}/userLists``
    A UserList with ``displayName`` (unique per account) and
    ``ingestedUserListInfo {uploadKeyTypes: [CONTACT_ID], contactIdInfo
    {dataSourceType}}``; answers the created UserList with ``id`` and
    ``name``.  The ``login-account`` header is recorded.

Every request needs ``Authorization: Bearer <token>``; with ``--oauth URL``
the token must be active at the fake OAuth server
(``/_control/introspect``), else 401 UNAUTHENTICATED.

Control API (JSON): ``POST /_control/config`` merges ``fail_next`` (HTTP
statuses answered to the next API requests in order: 400, 401, 403, 429,
500, 503) and ``lists`` (user list ids that exist); ``POST
/_control/reset``; ``GET /_control/requests`` (every API request: path,
status, body, login_account, authorized); ``GET /_control/members?list=ID``
(the identifiers now in a list, sorted).

Usage: ``fake_dm_audience.py --port 0 [--oauth URL]``; the first stdout
line is ``PORT=<n>``.  Standard library only.
"""

import argparse
import json
import re
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HEX64 = re.compile(r"^[0-9a-f]{64}$")
ACCOUNT_ID = re.compile(r"^[0-9]{10}$")
LIST_PATH = re.compile(r"^/v1/accountTypes/GOOGLE_ADS/accounts/([0-9]{10})/userLists$")
MAX_MEMBERS = 10000
MAX_IDENTIFIERS = 10
CONSENT = {"CONSENT_GRANTED", "CONSENT_DENIED"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
          404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED",
          500: "INTERNAL", 503: "UNAVAILABLE"}


class Invalid(Exception):
    """A request Google would refuse: (field, description)."""


def error_body(status, message, field=None):
    err = {"code": status, "message": message, "status": STATUS.get(status, "UNKNOWN")}
    if field:
        err["details"] = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                           "fieldViolations": [{"field": field, "description": message}]}]
    return {"error": err}


def need(cond, field, why):
    if not cond:
        raise Invalid(field, why)


def check_keys(obj, allowed, where):
    need(isinstance(obj, dict), where, "must be an object")
    for k in obj:
        # ProtoJSON refuses unknown names.
        need(k in allowed, "%s.%s" % (where, k) if where else k,
             "Invalid JSON payload received. Unknown name \"%s\"" % k)


def check_account(obj, where):
    check_keys(obj, {"accountType", "accountId"}, where)
    need(obj.get("accountType") == "GOOGLE_ADS", where + ".accountType", "must be GOOGLE_ADS")
    need(ACCOUNT_ID.match(str(obj.get("accountId", ""))), where + ".accountId",
         "must be a 10-digit customer id without hyphens")


def check_identifier(ident, where):
    check_keys(ident, {"emailAddress", "phoneNumber", "address"}, where)
    need(len(ident) == 1, where, "exactly one of emailAddress, phoneNumber, address")
    (kind, value), = ident.items()
    if kind == "address":
        check_keys(value, {"givenName", "familyName", "regionCode", "postalCode"},
                   where + ".address")
        for f in ("givenName", "familyName"):
            need(HEX64.match(str(value.get(f, ""))), "%s.address.%s" % (where, f),
                 "must be a hex SHA-256")
        need(re.match(r"^[A-Z]{2}$", str(value.get("regionCode", ""))),
             where + ".address.regionCode", "must be an ISO 3166-1 alpha-2 code")
        need(value.get("postalCode"), where + ".address.postalCode", "required")
        return "address:%s|%s|%s|%s" % (value["givenName"], value["familyName"],
                                        value["regionCode"], value["postalCode"])
    need(isinstance(value, str) and HEX64.match(value), "%s.%s" % (where, kind),
         "must be a hex SHA-256 (encoding HEX)")
    return "%s:%s" % (kind, value)


def check_members(body, remove):
    """The identifier strings of every member, per member."""
    members = body.get("audienceMembers")
    need(isinstance(members, list) and members, "audience_members", "required")
    need(len(members) <= MAX_MEMBERS, "audience_members",
         "at most %d audience members per request" % MAX_MEMBERS)
    out = []
    for i, m in enumerate(members):
        where = "audienceMembers[%d]" % i
        check_keys(m, {"userData"} if remove else {"userData", "consent"}, where)
        ud = m.get("userData")
        check_keys(ud, {"userIdentifiers"}, where + ".userData")
        ids = ud.get("userIdentifiers")
        need(isinstance(ids, list) and 0 < len(ids) <= MAX_IDENTIFIERS,
             where + ".userData.userIdentifiers", "1 to %d identifiers" % MAX_IDENTIFIERS)
        out.append([check_identifier(x, "%s.userData.userIdentifiers[%d]" % (where, j))
                    for j, x in enumerate(ids)])
        if "consent" in m:
            check_keys(m["consent"], {"adUserData", "adPersonalization"}, where + ".consent")
            for k, v in m["consent"].items():
                need(v in CONSENT, "%s.consent.%s" % (where, k), "invalid consent value")
    return out


class State:
    def __init__(self, oauth):
        self.lock = threading.Lock()
        self.oauth = oauth
        self.reset()

    def reset(self):
        with self.lock:
            self.fail_next = []
            self.lists = {}     # id -> {"account", "displayName", "members": set()}
            self.requests = []
            self.next_id = 4455667700


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeDataManagerAudience/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    @property
    def st(self):
        return self.server.state

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.st.lock:
            if url.path == "/_control/requests":
                return self.send_json(200, list(self.st.requests))
            if url.path == "/_control/members":
                lst = self.st.lists.get(q.get("list", ""))
                return self.send_json(200, sorted(lst["members"]) if lst else None)
        self.send_json(404, error_body(404, "Not found"))

    def do_POST(self):
        url = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        if url.path == "/_control/config":
            cfg = json.loads(raw or b"{}")
            with self.st.lock:
                self.st.fail_next += cfg.get("fail_next", [])
                for lid in cfg.get("lists", []):
                    self.st.lists.setdefault(str(lid), {"account": None, "displayName": None,
                                                        "members": set()})
            return self.send_json(200, {})
        if url.path == "/_control/reset":
            self.st.reset()
            return self.send_json(200, {})
        status, answer, body = self.api(url.path, raw)
        with self.st.lock:
            self.st.requests.append({
                "path": url.path, "status": status, "body": body,
                "login_account": self.headers.get("login-account"),
                "authorized": (self.headers.get("Authorization") or "").startswith("Bearer ")})
        self.send_json(status, answer)

    def token_ok(self):
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or len(auth) <= 7:
            return False
        if not self.st.oauth:
            return True
        q = urllib.parse.quote(auth[7:])
        with urllib.request.urlopen(self.st.oauth + "/_control/introspect?token=" + q,
                                    timeout=5) as r:
            return json.loads(r.read())["active"]

    def api(self, path, raw):
        """(status, answer, parsed body) of one API request."""
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, error_body(400, "Invalid JSON payload received."), None
        with self.st.lock:
            injected = self.st.fail_next.pop(0) if self.st.fail_next else None
        if injected:
            return injected, error_body(injected, "Injected failure"), body
        if not self.token_ok():
            return 401, error_body(401, "Request had invalid authentication credentials."), body
        try:
            if path in ("/v1/audienceMembers:ingest", "/v1/audienceMembers:remove"):
                return 200, self.members(body, path.endswith(":remove")), body
            m = LIST_PATH.match(path)
            if m:
                return 200, self.create_list(m.group(1), body), body
        except Invalid as exc:
            field, why = exc.args
            status = 409 if why.startswith("a user list named") else 400
            return status, error_body(status, why, field), body
        return 404, error_body(404, "Not found: " + path), body

    def members(self, body, remove):
        allowed = {"destinations", "audienceMembers", "encoding", "validateOnly"}
        check_keys(body, allowed if remove else allowed | {"termsOfService"}, "")
        dests = body.get("destinations")
        need(isinstance(dests, list) and 0 < len(dests) <= 10, "destinations", "1 to 10")
        for i, d in enumerate(dests):
            where = "destinations[%d]" % i
            check_keys(d, {"reference", "operatingAccount", "loginAccount",
                           "productDestinationId"}, where)
            check_account(d.get("operatingAccount"), where + ".operatingAccount")
            if "loginAccount" in d:
                check_account(d["loginAccount"], where + ".loginAccount")
            with self.st.lock:
                known = str(d.get("productDestinationId")) in self.st.lists
            need(known, where + ".productDestinationId", "no such user list")
        need(body.get("encoding") == "HEX", "encoding", "required with userData: HEX")
        if not remove:
            tos = body.get("termsOfService") or {}
            need(tos.get("customerMatchTermsOfServiceStatus") == "ACCEPTED",
                 "terms_of_service", "the Customer Match terms of service must be accepted")
        members = check_members(body, remove)
        with self.st.lock:
            for d in dests:
                lst = self.st.lists[str(d["productDestinationId"])]["members"]
                for ids in members:
                    for x in ids:
                        (lst.discard if remove else lst.add)(x)
        return {"requestId": str(uuid.uuid4())}

    def create_list(self, account, body):
        check_keys(body, {"displayName", "description", "membershipDuration",
                          "integrationCode", "ingestedUserListInfo"}, "")
        name = body.get("displayName")
        need(isinstance(name, str) and name, "display_name", "required")
        info = body.get("ingestedUserListInfo")
        check_keys(info, {"uploadKeyTypes", "contactIdInfo"}, "ingestedUserListInfo")
        need(info.get("uploadKeyTypes") == ["CONTACT_ID"], "ingestedUserListInfo.uploadKeyTypes",
             "exactly one upload key type (CONTACT_ID for contact information)")
        cinfo = info.get("contactIdInfo") or {}
        need(cinfo.get("dataSourceType") in ("DATA_SOURCE_TYPE_FIRST_PARTY",
                                             "DATA_SOURCE_TYPE_THIRD_PARTY_CREDIT_BUREAU",
                                             "DATA_SOURCE_TYPE_THIRD_PARTY_VOTER_FILE",
                                             "DATA_SOURCE_TYPE_THIRD_PARTY_PARTNER_DATA"),
             "ingestedUserListInfo.contactIdInfo.dataSourceType", "invalid")
        with self.st.lock:
            need(all(l["displayName"] != name or l["account"] != account
                     for l in self.st.lists.values()),
                 "display_name", "a user list named %r already exists" % name)
            self.st.next_id += 1
            lid = str(self.st.next_id)
            self.st.lists[lid] = {"account": account, "displayName": name, "members": set()}
        return {"name": "accountTypes/GOOGLE_ADS/accounts/%s/userLists/%s" % (account, lid),
                "id": lid, "readOnly": False, "membershipDuration": "46656000s",
                "displayName": name, "description": body.get("description", ""),
                "membershipStatus": "OPEN",
                "ingestedUserListInfo": {"uploadKeyTypes": ["CONTACT_ID"],
                                         "contactIdInfo": {"dataSourceType":
                                                           cinfo["dataSourceType"],
                                                           "matchRatePercentage": 0}}}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake Data Manager API (Customer Match).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--oauth", default=None, help="fake Google OAuth base URL (token check)")
    args = ap.parse_args(argv)
    server = Server((args.host, args.port), Handler)
    server.state = State(args.oauth)
    print("PORT=%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
