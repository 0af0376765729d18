#!/usr/bin/python3
"""A fake Google Data Manager API (v1) for the system tests of the Google
destinations: conversions (events) and Customer Match audiences.

It speaks the parts AdsEngineer uses (../shared/DATAMANAGER.md; the protos of
google/ads/datamanager/v1 in googleapis/googleapis; Google's error model,
https://cloud.google.com/apis/design/errors, as Data Manager uses it:
https://developers.google.com/data-manager/api/devguides/concepts/understand-errors):

``POST /v1/events:ingest``
    Validated like Data Manager validates (fast fail: any violation refuses
    the whole request with 400 INVALID_ARGUMENT and a
    ``google.rpc.BadRequest`` detail listing every ``fieldViolations[]``
    ``{field: "events[3].eventSource", description, reason}``): 1..10
    destinations with ``operatingAccount``/``loginAccount`` ``{accountType,
    accountId}`` (GOOGLE_ADS ids are 10 digits) and a
    ``productDestinationId``; 1..2000 events; ``encoding`` whenever an event
    has ``userData``; ``eventTimestamp`` (RFC 3339) and ``eventSource``
    required; 1..10 ``userIdentifiers``, each exactly one of
    ``emailAddress``/``phoneNumber``/``address``, hashes as 64 hex with
    encoding HEX, an address with all four of ``givenName``/``familyName``
    (hashed), ``regionCode``/``postalCode``; consent values
    ``CONSENT_GRANTED``/``CONSENT_DENIED``; unknown fields refused, as
    ProtoJSON refuses them.  Accepted: 200 ``{"requestId": "<uuid>"}``;
    ``validateOnly`` requests get ``{}`` and record nothing as accepted.
``GET /v1/requestStatus:retrieve?requestId=…``
    ``{"requestStatusPerDestination": [{destination, requestStatus,
    eventsIngestionStatus | audienceMembers…Status, errorInfo?}]}``:
    SUCCESS with the request's record count, or what ``request_status``
    says; 404 NOT_FOUND for an unknown id.
``POST /v1/audienceMembers:ingest`` / ``POST /v1/audienceMembers:remove``
    Customer Match (DATAMANAGER.md "Customer Match"): destinations as above
    but with GOOGLE_ADS accounts and a ``productDestinationId`` that is a
    user list created here or registered with ``lists``; 1..10000
    ``audienceMembers`` ``{userData, consent}``, checked as events' are but
    stricter: ``encoding`` HEX, hashes in lowercase hex, ``regionCode`` in
    upper case, consent only ``CONSENT_GRANTED``/``CONSENT_DENIED``.
    Ingest needs ``termsOfService.customerMatchTermsOfServiceStatus``
    ACCEPTED; remove takes no consent and no terms (refused when present).
    Members are recorded per user list; the answer carries a requestId that
    requestStatus knows.
``POST /v1/accountTypes/GOOGLE_ADS/accounts/{10 digits}/userLists``
    Create a UserList: ``displayName`` required (unique per account, else
    409 ALREADY_EXISTS), ``ingestedUserListInfo`` ``{uploadKeyTypes:
    ["CONTACT_ID"], contactIdInfo {dataSourceType: DATA_SOURCE_TYPE_…}}``
    required, optional ``description``/``membershipDuration``/
    ``integrationCode``; violations are a 400 like the others.  Answers the
    created UserList with ``id`` and ``name``
    (``accountTypes/GOOGLE_ADS/accounts/{id}/userLists/{list id}``).  The
    ``login-account`` header is recorded (``login_account``).

Every API call needs ``Authorization: Bearer <token>``: with ``--oauth-url``
the fake OAuth server's ``/_control/introspect`` decides (inactive → 401
UNAUTHENTICATED, no datamanager scope → 403 PERMISSION_DENIED); without,
any non-empty ``ya29.`` token passes.  Error bodies are Google's:
``{"error": {"code", "message", "status", "details": [{"@type": …}]}}``.

Control API (JSON):

``POST /_control/config``
    Merge any of: ``fail_next`` (statuses answered to the next API calls in
    order, with Google-shaped bodies: 400 INVALID_ARGUMENT, 401
    UNAUTHENTICATED, 403 PERMISSION_DENIED, 429 RESOURCE_EXHAUSTED (with a
    RetryInfo), 500 INTERNAL, 503 UNAVAILABLE), ``retry_after`` (seconds in a
    Retry-After header on 429/503; null, the default, sends none),
    ``retry_delay`` (RetryInfo.retryDelay of a 429, default "1s"),
    ``violate_transaction_ids_containing`` (substring: every event whose
    transactionId holds it gets a field violation
    ``events[i].adIdentifiers.gclid``, and the request is refused),
    ``request_status`` (what requestStatus answers for later requests: e.g.
    ``{"requestStatus": "PARTIAL_SUCCESS", "errorInfo": {"errorCounts":
    [{"recordCount": "2", "reason": "PROCESSING_ERROR_REASON_INVALID_GCLID"}]}}``;
    null = SUCCESS), ``stall_seconds`` (sleep before answering API calls),
    ``lists`` (user list ids that exist, added to those there are; not
    stored in the config).  ``fail_next`` replaces what is still pending.
``POST /_control/reset``
    Back to the startup config; forget every record and user list.
``GET /_control/requests[?since=K]``
    Every API call: time, method, path, status, token_sha (a short hash of
    the bearer token, never the token), request_id, validate_only, events,
    transaction_ids, members, login_account (the ``login-account`` header),
    and the body (JSON, kept for refused and failed calls too; the token is
    never in it).
``GET /_control/events``
    ``{"accepted": {transactionId: times accepted}, "total": n}``.
``GET /_control/audience``
    ``{user list id: {"members": [identifier, …], "ingested": n,
    "removed": n}}`` for every user list; an identifier is
    ``"emailAddress:<hash>"`` etc. (an address: ``"address:<its JSON>"``).
``GET /_control/members?list=ID``
    The identifiers now in that user list, sorted; null for no such list.
``GET /_control/stats``
    requests, by_status, by_path, events_accepted, inflight, max_inflight.

Usage: ``fake_datamanager.py --port 0 [--oauth-url URL]``; the first stdout
line is ``PORT=<n>``.  Standard library only; run by /usr/bin/python3.
"""

import datetime
import hashlib
import ipaddress
import json
import re
import sys
import time
import urllib.parse
import urllib.request
import uuid
from urllib.parse import parse_qs, urlsplit

import fake_common

MAX_BODY = 64 << 20
MAX_EVENTS = 2000
MAX_MEMBERS = 10000
MAX_DESTINATIONS = 10
MAX_IDENTIFIERS = 10
SCOPE = "https://www.googleapis.com/auth/datamanager"

CONFIG_KEYS = {"fail_next", "retry_after", "retry_delay", "violate_transaction_ids_containing",
               "request_status", "stall_seconds", "lists"}

ACCOUNT_TYPES = {"GOOGLE_ADS", "DISPLAY_VIDEO_PARTNER", "DISPLAY_VIDEO_ADVERTISER",
                 "DATA_PARTNER"}
EVENT_SOURCES = {"WEB", "APP", "IN_STORE", "PHONE", "OTHER"}
CONSENT_VALUES = {"CONSENT_GRANTED", "CONSENT_DENIED", "CONSENT_STATUS_UNSPECIFIED"}
# Customer Match takes only these (DATAMANAGER.md "Customer Match").
MEMBER_CONSENT_VALUES = {"CONSENT_GRANTED", "CONSENT_DENIED"}
DATA_SOURCE_TYPES = {"DATA_SOURCE_TYPE_FIRST_PARTY", "DATA_SOURCE_TYPE_THIRD_PARTY_CREDIT_BUREAU",
                     "DATA_SOURCE_TYPE_THIRD_PARTY_VOTER_FILE",
                     "DATA_SOURCE_TYPE_THIRD_PARTY_PARTNER_DATA"}
ENCODINGS = {"HEX", "BASE64"}
REQUEST_STATUSES = {"SUCCESS", "PROCESSING", "FAILED", "PARTIAL_SUCCESS"}

# Fields each message may carry (lowerCamel, as ProtoJSON writes them).
EVENTS_REQUEST = {"destinations", "events", "consent", "validateOnly", "encoding",
                  "encryptionInfo"}
INGEST_MEMBERS_REQUEST = {"destinations", "audienceMembers", "consent", "validateOnly",
                          "encoding", "encryptionInfo", "termsOfService"}
REMOVE_MEMBERS_REQUEST = {"destinations", "audienceMembers", "validateOnly", "encoding",
                          "encryptionInfo"}
DESTINATION = {"reference", "loginAccount", "linkedAccount", "operatingAccount",
               "productDestinationId"}
ACCOUNT = {"accountType", "accountId", "product"}
EVENT = {"destinationReferences", "transactionId", "eventTimestamp", "lastUpdatedTimestamp",
         "userData", "consent", "adIdentifiers", "currency", "conversionValue", "eventSource",
         "eventDeviceInfo", "cartData", "customVariables", "experimentalFields",
         "userProperties"}
AD_IDENTIFIERS = {"sessionAttributes", "gclid", "gbraid", "wbraid", "landingPageDeviceInfo"}
DEVICE_INFO = {"userAgent", "ipAddress"}
CONSENT = {"adUserData", "adPersonalization"}
USER_DATA = {"userIdentifiers"}
IDENTIFIER = {"emailAddress", "phoneNumber", "address"}
ADDRESS = {"givenName", "familyName", "regionCode", "postalCode"}
MEMBER_INGEST = {"destinationReferences", "userData", "consent"}
MEMBER_REMOVE = {"destinationReferences", "userData"}
TERMS = {"customerMatchTermsOfServiceStatus"}
USER_LIST = {"displayName", "description", "membershipDuration", "integrationCode",
             "ingestedUserListInfo"}
INGESTED_USER_LIST_INFO = {"uploadKeyTypes", "contactIdInfo"}
CONTACT_ID_INFO = {"dataSourceType"}
USER_LISTS_PATH = re.compile(r"^/v1/accountTypes/GOOGLE_ADS/accounts/([0-9]{10})/userLists$")

HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
LOWER_HEX64 = re.compile(r"^[0-9a-f]{64}$")  # Customer Match: lowercase hex
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")

INJECTED = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth "
          "2 access token, login cookie or other valid authentication credential."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    429: ("RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Requests' and limit "
          "'Requests per minute' of service 'datamanager.googleapis.com'."),
    500: ("INTERNAL", "Internal error encountered."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
}


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()[:16] if s else None


def google_error(code, status, message, details=None):
    err = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = details
    return {"error": err}


class ApiError(Exception):
    def __init__(self, code, body, headers=None):
        super().__init__(code)
        self.code = code
        self.body = body
        self.headers = headers or {}


class Violations:
    """Field violations of one request, collected before answering."""

    def __init__(self):
        self.items = []

    def add(self, field, description, reason="INVALID_ARGUMENT"):
        self.items.append({"field": field, "description": description, "reason": reason})

    def raise_if_any(self):
        if self.items:
            raise ApiError(400, google_error(400, "INVALID_ARGUMENT",
                                             "Request contains an invalid argument.", [
                                                 {"@type": "type.googleapis.com/google.rpc."
                                                           "BadRequest",
                                                  "fieldViolations": self.items}]))


# ---- validation -------------------------------------------------------------


def check_keys(v, obj, allowed, path):
    """ProtoJSON refuses unknown fields: 'Invalid JSON payload received.'"""
    if not isinstance(obj, dict):
        v.add(path or "(body)", "Invalid JSON payload received. Expected an object.")
        return False
    for k in obj:
        if k not in allowed:
            v.add((path + "." if path else "") + k,
                  'Invalid JSON payload received. Unknown name "%s": Cannot find field.' % k)
    return True


def check_account(v, acc, path, required):
    if acc is None:
        if required:
            v.add(path, "Required field is missing.", "REQUIRED_FIELD_MISSING")
        return
    if not check_keys(v, acc, ACCOUNT, path):
        return
    at = acc.get("accountType")
    if at not in ACCOUNT_TYPES:
        v.add(path + ".accountType", "Invalid account type.", "INVALID_ACCOUNT_TYPE")
    aid = acc.get("accountId")
    if not isinstance(aid, str) or not aid:
        v.add(path + ".accountId", "Required field is missing.", "REQUIRED_FIELD_MISSING")
    elif at == "GOOGLE_ADS" and not re.fullmatch(r"\d{10}", aid):
        v.add(path + ".accountId", "Google Ads account ids are 10 digits without hyphens.",
              "INVALID_CUSTOMER_ID")


def check_destinations(v, dests):
    if not isinstance(dests, list) or not dests:
        v.add("destinations", "Required field is missing.", "REQUIRED_FIELD_MISSING")
        return
    if len(dests) > MAX_DESTINATIONS:
        v.add("destinations", "Too many destinations: at most %d." % MAX_DESTINATIONS,
              "TOO_MANY_DESTINATIONS")
    for i, d in enumerate(dests):
        p = "destinations[%d]" % i
        if not check_keys(v, d, DESTINATION, p):
            continue
        check_account(v, d.get("operatingAccount"), p + ".operatingAccount", True)
        check_account(v, d.get("loginAccount"), p + ".loginAccount", False)
        pdi = d.get("productDestinationId")
        if not isinstance(pdi, str) or not pdi:
            v.add(p + ".productDestinationId", "Required field is missing.",
                  "REQUIRED_FIELD_MISSING")
        if "reference" in d and not isinstance(d["reference"], str):
            v.add(p + ".reference", "Invalid value.")


def check_consent(v, c, path, values=CONSENT_VALUES):
    if not check_keys(v, c, CONSENT, path):
        return
    for k in CONSENT:
        if k in c and c[k] not in values:
            v.add(path + "." + k, 'Invalid value at \'%s\' (type.googleapis.com/google.ads.'
                  'datamanager.v1.ConsentStatus), "%s"' % (k, c[k]), "INVALID_ENUM_VALUE")


def check_hash(v, value, path, encoding, strict=False):
    if not isinstance(value, str) or not value:
        v.add(path, "Required field is missing.", "REQUIRED_FIELD_MISSING")
    elif encoding == "HEX" and not (LOWER_HEX64 if strict else HEX64).match(value):
        v.add(path, "The value is not a %shex-encoded SHA-256 hash."
              % ("lowercase " if strict else ""), "INVALID_HEX_ENCODING")


def check_user_data(v, ud, path, encoding, strict=False):
    """Returns the identifiers as "kind:value" strings.  strict (Customer
    Match): hashes in lowercase hex, regionCode in upper case."""
    out = []
    if not check_keys(v, ud, USER_DATA, path):
        return out
    ids = ud.get("userIdentifiers")
    if not isinstance(ids, list) or not ids:
        v.add(path + ".userIdentifiers", "At least one user identifier is required.",
              "REQUIRED_FIELD_MISSING")
        return out
    if len(ids) > MAX_IDENTIFIERS:
        v.add(path + ".userIdentifiers", "Too many user identifiers: at most %d."
              % MAX_IDENTIFIERS, "TOO_MANY_USER_IDENTIFIERS")
    for j, ident in enumerate(ids):
        p = "%s.userIdentifiers[%d]" % (path, j)
        if not check_keys(v, ident, IDENTIFIER, p):
            continue
        if len(ident) != 1:
            v.add(p, "Exactly one of emailAddress, phoneNumber or address must be set.",
                  "INVALID_USER_IDENTIFIER")
            continue
        (kind, value), = ident.items()
        if kind == "address":
            if not check_keys(v, value, ADDRESS, p + ".address"):
                continue
            for k in ADDRESS:
                if not isinstance(value.get(k), str) or not value.get(k):
                    v.add(p + ".address." + k, "Required field is missing.",
                          "REQUIRED_FIELD_MISSING")
            check_hash(v, value.get("givenName"), p + ".address.givenName", encoding, strict)
            check_hash(v, value.get("familyName"), p + ".address.familyName", encoding, strict)
            rc = value.get("regionCode")
            if isinstance(rc, str) and rc and not re.fullmatch(
                    r"[A-Z]{2}" if strict else r"[A-Za-z]{2}", rc):
                v.add(p + ".address.regionCode", "Not an ISO-3166-1 alpha-2 code.",
                      "INVALID_REGION_CODE")
            out.append("address:%s" % json.dumps(value, sort_keys=True))
        else:
            check_hash(v, value, p + "." + kind, encoding, strict)
            out.append("%s:%s" % (kind, value))
    return out


def check_ip(v, ip, path):
    try:
        ipaddress.ip_address(ip)
    except (ValueError, TypeError):
        v.add(path, "Not an IP address.", "INVALID_IP_ADDRESS")


def check_event(v, i, ev, encoding):
    p = "events[%d]" % i
    if not check_keys(v, ev, EVENT, p):
        return
    ts = ev.get("eventTimestamp")
    if not isinstance(ts, str) or not RFC3339.match(ts):
        v.add(p + ".eventTimestamp", "Required: an RFC 3339 timestamp with an offset.",
              "INVALID_TIMESTAMP")
    else:
        # The regex pinned the shape; this checks the calendar (fraction
        # cut to the microseconds Python takes).
        try:
            datetime.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", ts))
        except ValueError:
            v.add(p + ".eventTimestamp", "Invalid timestamp.", "INVALID_TIMESTAMP")
    if ev.get("eventSource") not in EVENT_SOURCES:
        v.add(p + ".eventSource", "Event source is required for offline conversions.",
              "REQUIRED_FIELD_MISSING")
    if "transactionId" in ev and (not isinstance(ev["transactionId"], str)
                                  or not ev["transactionId"]):
        v.add(p + ".transactionId", "Invalid transaction id.")
    if "conversionValue" in ev and (isinstance(ev["conversionValue"], bool)
                                    or not isinstance(ev["conversionValue"], (int, float))):
        v.add(p + ".conversionValue", "Invalid value: a number is expected.")
    if "currency" in ev and not (isinstance(ev["currency"], str)
                                 and re.fullmatch(r"[A-Z]{3}", ev["currency"])):
        v.add(p + ".currency", "Invalid currency code.", "INVALID_CURRENCY_CODE")
    ai = ev.get("adIdentifiers")
    if ai is not None and check_keys(v, ai, AD_IDENTIFIERS, p + ".adIdentifiers"):
        for k in ("gclid", "gbraid", "wbraid"):
            if k in ai and (not isinstance(ai[k], str) or not ai[k]):
                v.add(p + ".adIdentifiers." + k, "Invalid click id.")
        dev = ai.get("landingPageDeviceInfo")
        dp = p + ".adIdentifiers.landingPageDeviceInfo"
        if dev is not None and check_keys(v, dev, DEVICE_INFO, dp):
            if "ipAddress" in dev:
                check_ip(v, dev["ipAddress"], dp + ".ipAddress")
    if "userData" in ev:
        check_user_data(v, ev["userData"], p + ".userData", encoding)
    if "consent" in ev:
        check_consent(v, ev["consent"], p + ".consent")


def check_common(v, body, allowed):
    check_keys(v, body, allowed, "")
    check_destinations(v, body.get("destinations"))
    enc = body.get("encoding")
    if enc is not None and enc not in ENCODINGS:
        v.add("encoding", "Invalid encoding.", "INVALID_ENUM_VALUE")
    if "validateOnly" in body and not isinstance(body["validateOnly"], bool):
        v.add("validateOnly", "Invalid value: a boolean is expected.")
    return enc


def validate_events(body):
    v = Violations()
    if not isinstance(body, dict):
        v.add("(body)", "Invalid JSON payload received.")
        v.raise_if_any()
    enc = check_common(v, body, EVENTS_REQUEST)
    if "consent" in body:
        check_consent(v, body["consent"], "consent")
    events = body.get("events")
    if not isinstance(events, list) or not events:
        v.add("events", "Required field is missing.", "REQUIRED_FIELD_MISSING")
        events = []
    elif len(events) > MAX_EVENTS:
        v.add("events", "Too many events: at most %d per request." % MAX_EVENTS,
              "TOO_MANY_EVENTS")
    if enc is None and any(isinstance(e, dict) and "userData" in e for e in events):
        v.add("encoding", "Encoding is required when user data is sent.",
              "REQUIRED_FIELD_MISSING")
    for i, ev in enumerate(events):
        check_event(v, i, ev, enc)
    return v, events


def validate_members(body, remove):
    v = Violations()
    if not isinstance(body, dict):
        v.add("(body)", "Invalid JSON payload received.")
        v.raise_if_any()
    enc = check_common(v, body, REMOVE_MEMBERS_REQUEST if remove else INGEST_MEMBERS_REQUEST)
    dests = body.get("destinations")
    for i, d in enumerate(dests if isinstance(dests, list) else []):
        # A user list is a Google Ads one: so are the accounts sending to it.
        for k in ("operatingAccount", "loginAccount"):
            acc = d.get(k) if isinstance(d, dict) else None
            if isinstance(acc, dict) and acc.get("accountType") not in (None, "GOOGLE_ADS"):
                v.add("destinations[%d].%s.accountType" % (i, k),
                      "Customer Match user lists here are Google Ads ones: GOOGLE_ADS.",
                      "INVALID_ACCOUNT_TYPE")
    if not remove:
        if "consent" in body:
            check_consent(v, body["consent"], "consent", MEMBER_CONSENT_VALUES)
        tos = body.get("termsOfService")
        if not isinstance(tos, dict) or not check_keys(v, tos, TERMS, "termsOfService") or \
                tos.get("customerMatchTermsOfServiceStatus") != "ACCEPTED":
            v.add("termsOfService.customerMatchTermsOfServiceStatus",
                  "The Customer Match terms of service must be accepted.",
                  "TERMS_OF_SERVICE_NOT_ACCEPTED")
    members = body.get("audienceMembers")
    idents = []
    if not isinstance(members, list) or not members:
        v.add("audienceMembers", "Required field is missing.", "REQUIRED_FIELD_MISSING")
        members = []
    elif len(members) > MAX_MEMBERS:
        v.add("audienceMembers", "Too many audience members: at most %d per request."
              % MAX_MEMBERS, "TOO_MANY_AUDIENCE_MEMBERS")
    if enc is None and members:
        v.add("encoding", "Encoding is required when user data is sent.",
              "REQUIRED_FIELD_MISSING")
    elif enc in ENCODINGS and enc != "HEX":
        v.add("encoding", "Customer Match identifiers are sent hex-encoded here: HEX.",
              "INVALID_ENUM_VALUE")
    for i, m in enumerate(members):
        p = "audienceMembers[%d]" % i
        if not check_keys(v, m, MEMBER_REMOVE if remove else MEMBER_INGEST, p):
            continue
        if "userData" not in m:
            v.add(p + ".userData", "Required field is missing.", "REQUIRED_FIELD_MISSING")
        else:
            idents.append(check_user_data(v, m["userData"], p + ".userData", enc, True))
        if "consent" in m and not remove:
            check_consent(v, m["consent"], p + ".consent", MEMBER_CONSENT_VALUES)
    return v, members, idents


def validate_user_list(body):
    """A UserList to create: a displayName and ingestedUserListInfo
    {uploadKeyTypes: [CONTACT_ID], contactIdInfo {dataSourceType}}."""
    v = Violations()
    if not check_keys(v, body, USER_LIST, ""):
        v.raise_if_any()
    name = body.get("displayName")
    if not isinstance(name, str) or not name:
        v.add("displayName", "Required field is missing.", "REQUIRED_FIELD_MISSING")
    for k in ("description", "integrationCode", "membershipDuration"):
        if k in body and not isinstance(body[k], str):
            v.add(k, "Invalid value: a string is expected.")
    info = body.get("ingestedUserListInfo")
    p = "ingestedUserListInfo"
    if info is None:
        v.add(p, "Required field is missing.", "REQUIRED_FIELD_MISSING")
    elif check_keys(v, info, INGESTED_USER_LIST_INFO, p):
        if info.get("uploadKeyTypes") != ["CONTACT_ID"]:
            v.add(p + ".uploadKeyTypes", "Exactly one upload key type: CONTACT_ID for "
                  "contact information.", "INVALID_ENUM_VALUE")
        cinfo = info.get("contactIdInfo")
        if cinfo is None:
            v.add(p + ".contactIdInfo", "Required field is missing.", "REQUIRED_FIELD_MISSING")
        elif check_keys(v, cinfo, CONTACT_ID_INFO, p + ".contactIdInfo") and \
                cinfo.get("dataSourceType") not in DATA_SOURCE_TYPES:
            v.add(p + ".contactIdInfo.dataSourceType", "Invalid data source type.",
                  "INVALID_ENUM_VALUE")
    v.raise_if_any()
    return name, info["contactIdInfo"]["dataSourceType"]


# ---- state --------------------------------------------------------------------


class State(fake_common.FakeState):
    def __init__(self, oauth_url):
        self.oauth_url = oauth_url.rstrip("/") if oauth_url else None
        self.inflight = 0
        super().__init__()

    def initial_config(self):
        return {"fail_next": [], "retry_after": None, "retry_delay": "1s",
                "violate_transaction_ids_containing": None,
                "request_status": None, "stall_seconds": 0}

    def clear(self):
        super().clear()
        self.accepted = {}
        self.total_accepted = 0
        self.statuses = {}  # requestId -> requestStatusPerDestination
        # user list id -> {"account", "displayName", "members": set,
        # "ingested", "removed"}: created here or registered by config.
        self.lists = {}
        self.next_list_id = 4455667700
        self.by_status = {}
        self.by_path = {}
        self.max_inflight = self.inflight

    def update(self, changes):
        if not isinstance(changes, dict):
            raise ValueError("a JSON object expected")
        unknown = set(changes) - CONFIG_KEYS
        if unknown:
            raise ValueError("unknown config keys: %s" % ", ".join(sorted(unknown)))
        fails = fake_common.check_fail_next(changes.get("fail_next", []), INJECTED,
                                            sorted(INJECTED))
        lists = changes.get("lists", [])
        if not isinstance(lists, list) or not all(isinstance(x, (str, int)) for x in lists):
            raise ValueError("lists: a list of user list ids")
        rs = changes.get("request_status")
        if rs is not None and (not isinstance(rs, dict)
                               or rs.get("requestStatus", "SUCCESS") not in REQUEST_STATUSES):
            raise ValueError("request_status: an object with a requestStatus of %s"
                             % sorted(REQUEST_STATUSES))
        with self.lock:
            for lid in lists:
                self.add_list(str(lid), None, None)
            self.config.update({k: v for k, v in changes.items() if k != "lists"})
            if "fail_next" in changes:
                self.config["fail_next"] = list(fails)
            return dict(self.config)

    def add_list(self, lid, account, name):
        """Under the lock."""
        return self.lists.setdefault(lid, {"account": account, "displayName": name,
                                           "members": set(), "ingested": 0, "removed": 0})

    def record(self, entry):
        with self.lock:
            self.record_request(entry)
            st = entry["status"]
            self.by_status[st] = self.by_status.get(st, 0) + 1
            self.by_path[entry["path"]] = self.by_path.get(entry["path"], 0) + 1

    def stats(self):
        with self.lock:
            return {"requests": len(self.requests),
                    "by_status": {str(k): v for k, v in self.by_status.items()},
                    "by_path": dict(self.by_path), "events_accepted": self.total_accepted,
                    "inflight": self.inflight, "max_inflight": self.max_inflight}


# ---- HTTP ----------------------------------------------------------------------


class Handler(fake_common.Handler):
    server_version = "FakeDataManager/1.0"
    json_type = "application/json; charset=UTF-8"
    max_body = MAX_BODY

    # -- control -----------------------------------------------------------

    def control_get(self, url):
        q = parse_qs(url.query)
        st = self.st
        if url.path == "/_control/requests":
            since = int(q.get("since", ["0"])[0])
            with st.lock:
                return self.send_json(200, list(st.since(since)))
        if url.path == "/_control/events":
            with st.lock:
                return self.send_json(200, {"accepted": dict(st.accepted),
                                            "total": st.total_accepted})
        if url.path == "/_control/audience":
            with st.lock:
                return self.send_json(200, {k: {"members": sorted(v["members"]),
                                                "ingested": v["ingested"],
                                                "removed": v["removed"]}
                                            for k, v in st.lists.items()})
        if url.path == "/_control/members":
            with st.lock:
                lst = st.lists.get(q.get("list", [""])[0])
                return self.send_json(200, sorted(lst["members"]) if lst else None)
        if url.path == "/_control/stats":
            return self.send_json(200, st.stats())
        if url.path == "/_control/config":
            with st.lock:
                return self.send_json(200, dict(st.config))
        return self.send_json(404, {"error": "not found"})

    def control_post(self, url, raw):
        if url.path == "/_control/config":
            try:
                return self.send_json(200, self.st.update(json.loads(raw or b"{}")))
            except (ValueError, TypeError) as exc:
                return self.send_json(400, {"error": str(exc)})
        if url.path == "/_control/reset":
            self.st.reset()
            return self.send_json(200, {})
        return self.send_json(404, {"error": "not found"})

    # -- API ---------------------------------------------------------------

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path.startswith("/_control/"):
            return self.control_get(url)
        self.api("GET", url, b"")

    def do_POST(self):
        url = urlsplit(self.path)
        try:
            raw = self.read_body()
        except ValueError as exc:
            return self.send_json(400, google_error(400, "INVALID_ARGUMENT", str(exc)))
        if url.path.startswith("/_control/"):
            return self.control_post(url, raw)
        self.api("POST", url, raw)

    def api(self, method, url, raw):
        st = self.st
        with st.lock:
            st.inflight += 1
            st.max_inflight = max(st.max_inflight, st.inflight)
            stall = st.config["stall_seconds"]
        entry = {"time": time.time(), "method": method, "path": url.path, "status": None,
                 "token_sha": None, "request_id": None, "validate_only": None, "events": 0,
                 "transaction_ids": [], "members": 0, "body": None,
                 "login_account": self.headers.get("login-account")}
        try:
            # Recorded even when the call is refused before it is read.
            entry["body"] = json.loads(raw) if raw else None
        except ValueError:
            pass
        status, body, headers = 500, None, {}
        try:
            if stall:
                time.sleep(stall)
            status, body = 200, self.dispatch(method, url, raw, entry)
        except ApiError as exc:
            status, body, headers = exc.code, exc.body, exc.headers
        finally:
            with st.lock:
                st.inflight -= 1
        entry["status"] = status
        st.record(entry)
        self.send_json(status, body, headers)

    def authorize(self, entry):
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        entry["token_sha"] = sha(token)
        unauth = ApiError(401, google_error(401, *INJECTED[401], details=[
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
             "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED" if not token else "ACCESS_TOKEN_EXPIRED",
             "domain": "googleapis.com"}]), {"WWW-Authenticate": 'Bearer realm="https://'
                                             'accounts.google.com/"'})
        if not token:
            raise unauth
        if self.st.oauth_url is None:
            if not token.startswith("ya29."):
                raise unauth
            return
        q = urllib.parse.urlencode({"token": token})
        with urllib.request.urlopen(self.st.oauth_url + "/_control/introspect?" + q,
                                    timeout=10) as r:
            info = json.loads(r.read())
        if not info.get("active"):
            raise unauth
        if SCOPE not in (info.get("scope") or "").split():
            raise ApiError(403, google_error(403, "PERMISSION_DENIED",
                                             "Request had insufficient authentication scopes.",
                                             [{"@type": "type.googleapis.com/google.rpc."
                                                        "ErrorInfo",
                                               "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                                               "domain": "googleapis.com"}]))

    def injected(self):
        with self.st.lock:
            cfg = self.st.config
            forced = fake_common.pop_fail(cfg)
            retry_after, delay = cfg["retry_after"], cfg["retry_delay"]
        if forced is None:
            return
        details = None
        headers = {}
        if forced == 429 and delay:
            details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": delay}]
        if forced in (429, 503) and retry_after is not None:
            headers["Retry-After"] = retry_after
        raise ApiError(forced, google_error(forced, *INJECTED[forced], details=details),
                       headers)

    def dispatch(self, method, url, raw, entry):
        routes = {("POST", "/v1/events:ingest"): self.ingest_events,
                  ("GET", "/v1/requestStatus:retrieve"): self.request_status,
                  ("POST", "/v1/audienceMembers:ingest"): self.ingest_members,
                  ("POST", "/v1/audienceMembers:remove"): self.remove_members}
        handler = routes.get((method, url.path))
        m = USER_LISTS_PATH.match(url.path) if method == "POST" else None
        if m:
            def handler(body, entry, account=m.group(1)):
                return self.create_list(account, body, entry)
        if handler is None:
            raise ApiError(404, google_error(404, "NOT_FOUND", "Method not found."))
        self.authorize(entry)
        self.injected()
        if method == "GET":
            return handler(url, entry)
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            raise ApiError(400, google_error(400, "INVALID_ARGUMENT",
                                             "Content-Type must be application/json."))
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, google_error(400, "INVALID_ARGUMENT",
                                             "Invalid JSON payload received."))
        entry["body"] = body
        if isinstance(body, dict):
            entry["validate_only"] = bool(body.get("validateOnly"))
        return handler(body, entry)

    def ingest_events(self, body, entry):
        v, events = validate_events(body)
        entry["events"] = len(events)
        entry["transaction_ids"] = [e.get("transactionId") for e in events
                                    if isinstance(e, dict)]
        with self.st.lock:
            needle = self.st.config["violate_transaction_ids_containing"]
        if needle:
            for i, e in enumerate(events):
                if isinstance(e, dict) and needle in str(e.get("transactionId") or ""):
                    v.add("events[%d].adIdentifiers.gclid" % i,
                          "The click identifier could not be decoded.", "INVALID_GCLID")
        v.raise_if_any()
        return self.accept(body, entry, "eventsIngestionStatus", {"recordCount": str(len(
            events))}, entry["transaction_ids"])

    def accept(self, body, entry, status_key, status_value, tx_ids):
        if body.get("validateOnly"):
            return {}
        rid = str(uuid.uuid4())
        entry["request_id"] = rid
        with self.st.lock:
            rs = dict(self.st.config["request_status"] or {"requestStatus": "SUCCESS"})
            per_dest = []
            for d in body["destinations"]:
                item = {"destination": d}
                item.update(rs)
                item.setdefault(status_key, status_value)
                per_dest.append(item)
            self.st.statuses[rid] = per_dest
            for t in tx_ids:
                self.st.accepted[t] = self.st.accepted.get(t, 0) + 1
                self.st.total_accepted += 1
        return {"requestId": rid}

    def request_status(self, url, entry):
        rid = parse_qs(url.query).get("requestId", [""])[0]
        entry["request_id"] = rid
        if not rid:
            raise ApiError(400, google_error(400, "INVALID_ARGUMENT", "Request id is required.",
                                             [{"@type": "type.googleapis.com/google.rpc."
                                                        "BadRequest",
                                               "fieldViolations": [{
                                                   "field": "requestId",
                                                   "description": "Required field is missing.",
                                                   "reason": "REQUIRED_FIELD_MISSING"}]}]))
        with self.st.lock:
            per_dest = self.st.statuses.get(rid)
        if per_dest is None:
            raise ApiError(404, google_error(404, "NOT_FOUND", "Request id not found."))
        return {"requestStatusPerDestination": per_dest}

    def members(self, body, entry, remove):
        v, members, idents = validate_members(body, remove)
        entry["members"] = len(members)
        with self.st.lock:
            for i, d in enumerate(body.get("destinations") or []):
                pdi = d.get("productDestinationId") if isinstance(d, dict) else None
                if isinstance(pdi, str) and pdi and pdi not in self.st.lists:
                    v.add("destinations[%d].productDestinationId" % i,
                          "No such user list.", "INVALID_PRODUCT_DESTINATION_ID")
        v.raise_if_any()
        n_ids = sum(len(x) for x in idents)
        key = ("audienceMembersRemovalStatus" if remove else "audienceMembersIngestionStatus")
        status = {"userDataRemovalStatus" if remove else "userDataIngestionStatus": {
            "recordCount": str(len(members)), "userIdentifierCount": str(n_ids)}}
        out = self.accept(body, entry, key, status, [])
        if body.get("validateOnly"):
            return out
        with self.st.lock:
            for d in body["destinations"]:
                a = self.st.lists[d["productDestinationId"]]
                for ids in idents:
                    for ident in ids:
                        (a["members"].discard if remove else a["members"].add)(ident)
                a["removed" if remove else "ingested"] += len(members)
        return out

    def ingest_members(self, body, entry):
        return self.members(body, entry, False)

    def remove_members(self, body, entry):
        return self.members(body, entry, True)

    def create_list(self, account, body, entry):
        name, source = validate_user_list(body)
        with self.st.lock:
            if any(x["account"] == account and x["displayName"] == name
                   for x in self.st.lists.values()):
                msg = "A user list named %r already exists." % name
                raise ApiError(409, google_error(409, "ALREADY_EXISTS", msg, [
                    {"@type": "type.googleapis.com/google.rpc.BadRequest",
                     "fieldViolations": [{"field": "displayName", "description": msg,
                                          "reason": "DUPLICATE_USER_LIST_NAME"}]}]))
            self.st.next_list_id += 1
            lid = str(self.st.next_list_id)
            self.st.add_list(lid, account, name)
        return {"name": "accountTypes/GOOGLE_ADS/accounts/%s/userLists/%s" % (account, lid),
                "id": lid, "readOnly": False, "membershipDuration": "46656000s",
                "displayName": name, "description": body.get("description", ""),
                "membershipStatus": "OPEN",
                "ingestedUserListInfo": {"uploadKeyTypes": ["CONTACT_ID"],
                                         "contactIdInfo": {"dataSourceType": source,
                                                           "matchRatePercentage": 0}}}


def add_args(ap):
    ap.add_argument("--oauth-url", default=None,
                    help="the fake OAuth server: tokens are checked by its introspection")


def setup(server, args):
    server.state = State(args.oauth_url)


def main(argv=None):
    return fake_common.serve(Handler, "Fake Google Data Manager API server.", setup, add_args,
                             argv)


if __name__ == "__main__":
    sys.exit(main())
