#!/usr/bin/python3
"""A fake Google Ads API (REST) for the system tests of the google_ads
destination and of ``adsengctl google create-conversion-action``.

It speaks the parts AdsEngineer uses (PLATFORMS.md "Google Ads API"; the
REST form of https://developers.google.com/google-ads/api/reference/rpc/v26/UploadClickConversionsRequest
and https://developers.google.com/google-ads/api/reference/rpc/v26/MutateConversionActionsRequest):

``POST /{version}/customers/{cid}:uploadClickConversions``
    ``{"conversions": [...], "partialFailure": true, "validateOnly": …}``.
    Checked as Google checks it: ``partialFailure`` must be true (else 400
    ``PARTIAL_FAILURE_MODE_REQUIRED``), 1..2000 conversions (else 400
    ``TOO_MANY_CONVERSIONS_IN_REQUEST``); per conversion: a
    ``conversionAction`` resource name of that customer
    (``customers/{cid}/conversionActions/{id}``, an action this fake knows
    when any were created or configured), ``conversionDateTime`` as
    ``yyyy-mm-dd hh:mm:ss+hh:mm``, exactly one of gclid/gbraid/wbraid and
    never gbraid with wbraid, ``conversionValue`` a number,
    ``userIdentifiers`` at most 5 with one 64-hex identifier each,
    ``consent.adUserData`` GRANTED/DENIED.  A row that fails gets ``{}`` in
    ``results[]`` (input order) and an error in ``partialFailureError``
    (google.rpc.Status with a GoogleAdsFailure detail whose
    ``location.fieldPathElements`` name ``conversions[i]``).  An orderId seen
    before (per conversion action) is answered
    ``CLICK_CONVERSION_ALREADY_EXISTS``.  ``validateOnly`` requests are
    checked but neither stored nor answered with results.
``POST /{version}/customers/{cid}:uploadConversionAdjustments``
    ``{"conversionAdjustments": [...], "partialFailure": true}``
    (https://developers.google.com/google-ads/api/reference/rpc/v26/UploadConversionAdjustmentsRequest):
    ``partialFailure`` must be true, 1..2000 adjustments; per adjustment a
    known ``conversionAction`` of that customer, ``orderId`` of a conversion
    this fake accepted (else ``CONVERSION_NOT_FOUND``), ``adjustmentType``
    RETRACTION or RESTATEMENT, ``adjustmentDateTime`` as
    ``yyyy-mm-dd hh:mm:ss+hh:mm``, a RESTATEMENT with a number
    ``restatementValue.adjustedValue``; a conversion retracted before is
    answered ``CONVERSION_ALREADY_RETRACTED``
    (https://developers.google.com/google-ads/api/reference/rpc/v26/ConversionAdjustmentUploadErrorEnum.ConversionAdjustmentUploadError).
    Row errors as for click conversions, located at
    ``conversionAdjustments[i]``; ``row_errors`` match the orderId too.
    Accepted adjustments are listed by ``GET /_control/adjustments``.
``POST /{version}/customers/{cid}/conversionActions:mutate``
    ``{"operations": [{"create": {...}}]}`` with name, type UPLOAD_CLICKS,
    category, status, countingType, clickThroughLookbackWindowDays: creates
    an action id and answers ``{"results": [{"resourceName": …}]}``; a name
    already used is 400 ``DUPLICATE_NAME``.

Both need ``Authorization: Bearer T``: with ``--oauth-url`` the token is
checked with the fake OAuth server's ``/_control/introspect`` (inactive →
401 UNAUTHENTICATED, as Google answers an expired token); without it any
non-empty token passes.  With ``--developer-token`` (or the config key)
the ``developer-token`` header must carry it: missing → 400
``DEVELOPER_TOKEN_PARAMETER_MISSING`` (a RequestError), wrong → 401
``DEVELOPER_TOKEN_INVALID``.  Codes for the fake's own row checks where no
Google page pins the exact name (a conversion with two click ids, a
malformed date) are marked ``fake`` in the message.

Control API (JSON):

``POST /_control/config``
    Merge any of: ``fail_next`` (statuses answered to the next API requests,
    in order: 401 → UNAUTHENTICATED, 429 → RESOURCE_EXHAUSTED, 500 →
    INTERNAL, 503 → UNAVAILABLE, Google-shaped bodies), ``row_errors``
    (``{"orderId substring": "ERROR_CODE"}``: such rows fail with that
    conversionUploadError code), ``developer_token`` (null: not checked),
    ``actions`` (``{"cid": ["id", …]}`` known conversion actions; null with no
    created action accepts any id), ``retry_after`` (seconds on 429/503).
``POST /_control/reset``
    Back to the startup config; forget records, actions and order ids.
``GET /_control/requests``
    Every API request: time, method, path, status, headers (the bearer
    token and developer token replaced by whether they were right), body.
``GET /_control/stats``
    ``{"requests": n, "by_status": {...}, "conversions_accepted": n,
    "actions_created": n}``.

Usage: ``fake_google_ads.py --port 0 [--oauth-url URL] [--developer-token T]``;
the first stdout line is ``PORT=<n>``.  Standard library only.
"""

import json
import re
import sys
import time
import urllib.parse
import urllib.request
from urllib.parse import urlsplit

import fake_common

CONFIG_KEYS = {"fail_next", "row_errors", "developer_token", "actions", "retry_after"}
MAX_CONVERSIONS = 2000
FAILURE_TYPE = "type.googleapis.com/google.ads.googleads.%s.errors.GoogleAdsFailure"

UPLOAD_RE = re.compile(r"^/(v\d+)/customers/(\d{10}):uploadClickConversions$")
ADJUST_RE = re.compile(r"^/(v\d+)/customers/(\d{10}):uploadConversionAdjustments$")
MUTATE_RE = re.compile(r"^/(v\d+)/customers/(\d{10})/conversionActions:mutate$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")

INJECTED = {
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials.",
          {"authenticationError": "OAUTH_TOKEN_INVALID"}),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
          {"quotaError": "RESOURCE_EXHAUSTED"}),
    500: ("INTERNAL", "Internal error encountered.", {"internalError": "INTERNAL_ERROR"}),
    503: ("UNAVAILABLE", "The service is currently unavailable.",
          {"internalError": "TRANSIENT_ERROR"}),
}

MESSAGES = {
    "CLICK_NOT_FOUND": "The click was not found.",
    "CLICK_CONVERSION_ALREADY_EXISTS": "The imported event has the same click and "
                                       "conversion_date_time as an existing conversion.",
    "TOO_RECENT_EVENT": "The click associated with the given identifier occurred less "
                        "than 6 hours ago. Retry after 6 hours have passed.",
    "TOO_RECENT_CONVERSION_ACTION": "Can't import events to a conversion action that was "
                                    "just created. Try importing again in 6 hours.",
    "UNPARSEABLE_GCLID": "The imported gclid could not be decoded.",
    "EXPIRED_EVENT": "The imported event can't be recorded because its click occurred "
                     "before this conversion's click-through window.",
}


class State(fake_common.FakeState):
    def __init__(self, developer_token):
        self.start = {"developer_token": developer_token}
        super().__init__()

    def initial_config(self):
        return {"fail_next": [], "row_errors": {},
                "developer_token": self.start["developer_token"],
                "actions": None, "retry_after": 1}

    def clear(self):
        super().clear()
        self.created = {}   # cid -> {id: name}
        self.next_id = 987654321
        self.orders = set()  # (action resource name, orderId)
        self.by_status = {}
        self.accepted = 0
        self.adjustments = []  # accepted, in order
        self.retracted = set()  # (action resource name, orderId)

    def update(self, changes):
        unknown = set(changes) - CONFIG_KEYS
        if unknown:
            raise ValueError("unknown config keys: %s" % ", ".join(sorted(unknown)))
        if "fail_next" in changes:
            fake_common.check_fail_next(changes["fail_next"], INJECTED, sorted(INJECTED))
        with self.lock:
            self.config.update(changes)
            return dict(self.config)

    def known_action(self, cid, action_id):
        known = set(self.created.get(cid, {}))
        configured = self.config["actions"]
        if configured is not None:
            known |= set(configured.get(cid, []))
        elif not known:
            return True
        return action_id in known


def google_status(http, status, message, errors, version="v26", request_id=None):
    """A google.rpc.Status as REST JSON with one GoogleAdsFailure detail."""
    return {"code": http, "message": message, "status": status,
            "details": [{"@type": FAILURE_TYPE % version, "errors": errors,
                         "requestId": request_id or "fake-%d" % int(time.time() * 1000)}]}


def google_error(error_code, message, index=None, field=None, rows="conversions"):
    err = {"errorCode": error_code, "message": message}
    if index is not None:
        path = [{"fieldName": rows, "index": index}]
        if field:
            path.append({"fieldName": field})
        err["location"] = {"fieldPathElements": path}
    return err


class Handler(fake_common.Handler):
    server_version = "FakeGoogleAds/1.0"
    json_type = "application/json; charset=UTF-8"

    # -- routing -------------------------------------------------------------

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/_control/requests":
            with self.st.lock:
                return self.send_json(200, list(self.st.requests))
        if url.path == "/_control/adjustments":
            with self.st.lock:
                return self.send_json(200, {"adjustments": list(self.st.adjustments)})
        if url.path == "/_control/stats":
            with self.st.lock:
                return self.send_json(200, {
                    "requests": len(self.st.requests),
                    "by_status": {str(k): v for k, v in self.st.by_status.items()},
                    "conversions_accepted": self.st.accepted,
                    "actions_created": sum(len(v) for v in self.st.created.values())})
        self.send_json(404, {"error": {"code": 404, "message": "Not Found",
                                       "status": "NOT_FOUND"}})

    def do_POST(self):
        url = urlsplit(self.path)
        body = self.read_body()
        if url.path == "/_control/config":
            try:
                return self.send_json(200, self.st.update(json.loads(body or b"{}")))
            except (ValueError, TypeError) as exc:
                return self.send_json(400, {"error": str(exc)})
        if url.path == "/_control/reset":
            self.st.reset()
            return self.send_json(200, {})
        m_up, m_mut = UPLOAD_RE.match(url.path), MUTATE_RE.match(url.path)
        m_adj = ADJUST_RE.match(url.path)
        if not (m_up or m_mut or m_adj):
            return self.send_json(404, {"error": {"code": 404, "message": "Not Found",
                                                  "status": "NOT_FOUND"}})
        version, cid = (m_up or m_mut or m_adj).groups()
        status, obj, headers = self.api(version, cid, body,
                                        upload="adjust" if m_adj else bool(m_up))
        self.record(url.path, status, body, obj)
        self.send_json(status, obj, headers)

    def record(self, path, status, body, obj):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body.decode(errors="replace")
        with self.st.lock:
            self.st.record_request({
                "time": time.time(), "method": "POST", "path": path, "status": status,
                "headers": {"developer_token_ok": getattr(self, "_dev_ok", None),
                            "login_customer_id": self.headers.get("login-customer-id"),
                            "content_type": self.headers.get("Content-Type"),
                            "bearer": getattr(self, "_bearer_ok", None)},
                "body": parsed, "response": obj})
            self.st.by_status[status] = self.st.by_status.get(status, 0) + 1

    # -- auth ------------------------------------------------------------------

    def token_active(self, token):
        oauth = self.server.oauth_url
        if not oauth:
            return True
        q = urllib.parse.urlencode({"token": token})
        with urllib.request.urlopen(oauth.rstrip("/") + "/_control/introspect?" + q,
                                    timeout=5) as r:
            return bool(json.loads(r.read()).get("active"))

    def check_auth(self, version):
        """None when the request may go on, else (status, body, headers)."""
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        self._bearer_ok = bool(token) and self.token_active(token)
        if not self._bearer_ok:
            return 401, {"error": google_status(
                401, "UNAUTHENTICATED",
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token.", [google_error({"authenticationError": "OAUTH_TOKEN_INVALID"},
                                               "Oauth token is invalid.")], version)}, {}
        with self.st.lock:
            want = self.st.config["developer_token"]
        got = self.headers.get("developer-token")
        self._dev_ok = want is None or got == want
        if want is not None and not got:
            return 400, {"error": google_status(
                400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                [google_error({"requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"},
                              "The developer-token parameter is required for all "
                              "requests.")], version)}, {}
        if want is not None and got != want:
            return 401, {"error": google_status(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials.",
                [google_error({"authenticationError": "DEVELOPER_TOKEN_INVALID"},
                              "The developer token is not valid.")], version)}, {}
        return None

    def injected(self, version):
        with self.st.lock:
            code = fake_common.pop_fail(self.st.config)
            if code is None:
                return None
            retry_after = self.st.config["retry_after"]
        status, message, error_code = INJECTED[code]
        headers = {}
        if code in (429, 503) and retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return code, {"error": google_status(code, status, message,
                                             [google_error(error_code, message)],
                                             version)}, headers

    def api(self, version, cid, body, upload):
        self._dev_ok = self._bearer_ok = None
        out = self.injected(version) or self.check_auth(version)
        if out:
            return out
        try:
            req = json.loads(body)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError:
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                   "message": "Invalid JSON payload received."}}, {}
        if upload == "adjust":
            return self.adjust(version, cid, req)
        if upload:
            return self.upload(version, cid, req)
        return self.mutate(version, cid, req)

    # -- uploadClickConversions ---------------------------------------------

    def row_problem(self, cid, conv):
        """(error code dict, message, field) for a row Google would refuse."""
        if not isinstance(conv, dict):
            return {"requestError": "INVALID_INPUT"}, "fake: not an object", None
        ca = conv.get("conversionAction", "")
        m = re.match(r"^customers/(\d{10})/conversionActions/(\d+)$", str(ca))
        if not m:
            return ({"requestError": "RESOURCE_NAME_MALFORMED"},
                    "The resource name is malformed.", "conversion_action")
        with self.st.lock:
            known = self.st.known_action(cid, m.group(2))
        if m.group(1) != cid or not known:
            return ({"conversionUploadError": "NO_CONVERSION_ACTION_FOUND"},
                    "The conversion action specified in the upload request cannot be "
                    "found.", "conversion_action")
        if not DATETIME_RE.match(str(conv.get("conversionDateTime", ""))):
            return ({"dateError": "INVALID_FIELD_VALUES_IN_DATE_TIME"},
                    "fake: conversionDateTime must be yyyy-mm-dd hh:mm:ss+|-hh:mm",
                    "conversion_date_time")
        ids = [k for k in ("gclid", "gbraid", "wbraid") if conv.get(k)]
        if "gbraid" in ids and "wbraid" in ids:
            return ({"conversionUploadError": "GBRAID_WBRAID_BOTH_SET"},
                    "fake: gbraid and wbraid are both set", "gbraid")
        if len(ids) != 1:
            return ({"conversionUploadError": "CLICK_NOT_FOUND"},
                    "fake: exactly one of gclid, gbraid, wbraid is needed", None)
        if "conversionValue" in conv and not isinstance(conv["conversionValue"], (int, float)):
            return {"fieldError": "INVALID_VALUE"}, "fake: conversionValue must be a number", \
                "conversion_value"
        uids = conv.get("userIdentifiers", [])
        if not isinstance(uids, list) or len(uids) > 5 or any(
                not isinstance(u, dict) or len(u) != 1
                or not HEX64_RE.match(str(u.get("hashedEmail") or u.get("hashedPhoneNumber")))
                for u in uids):
            return ({"conversionUploadError": "INVALID_USER_IDENTIFIER"},
                    "fake: userIdentifiers: at most 5, one SHA-256 hex identifier each",
                    "user_identifiers")
        consent = conv.get("consent")
        if consent is not None and consent.get("adUserData") not in ("GRANTED", "DENIED"):
            return {"fieldError": "INVALID_VALUE"}, "fake: consent.adUserData", "consent"
        with self.st.lock:
            for sub, code in self.st.config["row_errors"].items():
                if sub in str(conv.get("orderId", "")):
                    return ({"conversionUploadError": code},
                            MESSAGES.get(code, "Injected error %s." % code), None)
        return None

    def upload(self, version, cid, req):
        if req.get("partialFailure") is not True:
            return 400, {"error": google_status(
                400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                [google_error({"partialFailureError": "PARTIAL_FAILURE_MODE_REQUIRED"},
                              "The partial failure field was false in the request. This "
                              "method requires this field be set to true.")], version)}, {}
        convs = req.get("conversions")
        if not isinstance(convs, list) or not convs or len(convs) > MAX_CONVERSIONS:
            return 400, {"error": google_status(
                400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                [google_error({"conversionUploadError": "TOO_MANY_CONVERSIONS_IN_REQUEST"},
                              "Upload fewer than 2001 events in a single request.")],
                version)}, {}
        validate_only = req.get("validateOnly") is True
        results, errors = [], []
        for i, conv in enumerate(convs):
            problem = self.row_problem(cid, conv)
            if problem is None and not validate_only:
                key = (conv["conversionAction"], str(conv.get("orderId")))
                with self.st.lock:
                    dup = conv.get("orderId") and key in self.st.orders
                    if not dup:
                        self.st.orders.add(key)
                        self.st.accepted += 1
                if dup:
                    problem = ({"conversionUploadError": "CLICK_CONVERSION_ALREADY_EXISTS"},
                               MESSAGES["CLICK_CONVERSION_ALREADY_EXISTS"], None)
            if problem:
                errors.append(google_error(problem[0], problem[1], i, problem[2]))
                results.append({})
            else:
                results.append({k: conv[k] for k in ("gclid", "gbraid", "wbraid",
                                                      "conversionAction",
                                                      "conversionDateTime") if k in conv})
        out = {"jobId": str(int(time.time()))}
        if not validate_only:
            out["results"] = results
        if errors:
            first = errors[0]
            out["partialFailureError"] = google_status(
                3, None, "%s, at conversions[%d]" % (
                    first["message"], first["location"]["fieldPathElements"][0]["index"]),
                errors, version)
            del out["partialFailureError"]["status"]
        return 200, out, {}

    # -- uploadConversionAdjustments --------------------------------------------

    def adjustment_problem(self, cid, adj):
        """(error code dict, message, field) for an adjustment Google would refuse."""
        if not isinstance(adj, dict):
            return {"requestError": "INVALID_INPUT"}, "fake: not an object", None
        m = re.match(r"^customers/(\d{10})/conversionActions/(\d+)$",
                     str(adj.get("conversionAction", "")))
        if not m:
            return ({"requestError": "RESOURCE_NAME_MALFORMED"},
                    "The resource name is malformed.", "conversion_action")
        with self.st.lock:
            known = self.st.known_action(cid, m.group(2))
        if m.group(1) != cid or not known:
            return ({"conversionAdjustmentUploadError": "CONVERSION_ACTION_NOT_ELIGIBLE"},
                    "fake: the conversion action is unknown", "conversion_action")
        if adj.get("adjustmentType") not in ("RETRACTION", "RESTATEMENT"):
            return ({"fieldError": "INVALID_VALUE"}, "fake: adjustmentType",
                    "adjustment_type")
        if not DATETIME_RE.match(str(adj.get("adjustmentDateTime", ""))):
            return ({"dateError": "INVALID_FIELD_VALUES_IN_DATE_TIME"},
                    "fake: adjustmentDateTime must be yyyy-mm-dd hh:mm:ss+|-hh:mm",
                    "adjustment_date_time")
        if adj.get("adjustmentType") == "RESTATEMENT":
            rv = adj.get("restatementValue")
            if not isinstance(rv, dict) or not isinstance(rv.get("adjustedValue"),
                                                          (int, float)):
                return ({"fieldError": "REQUIRED"},
                        "fake: a RESTATEMENT needs restatementValue.adjustedValue",
                        "restatement_value")
        key = (adj["conversionAction"], str(adj.get("orderId")))
        with self.st.lock:
            for sub, code in self.st.config["row_errors"].items():
                if sub in str(adj.get("orderId", "")):
                    return ({"conversionAdjustmentUploadError": code},
                            "Injected error %s." % code, None)
            if not adj.get("orderId") or key not in self.st.orders:
                return ({"conversionAdjustmentUploadError": "CONVERSION_NOT_FOUND"},
                        "The conversion for this adjustment was not found.", None)
            if key in self.st.retracted:
                return ({"conversionAdjustmentUploadError": "CONVERSION_ALREADY_RETRACTED"},
                        "The conversion was already retracted.", None)
        return None

    def adjust(self, version, cid, req):
        if req.get("partialFailure") is not True:
            return 400, {"error": google_status(
                400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                [google_error({"partialFailureError": "PARTIAL_FAILURE_MODE_REQUIRED"},
                              "The partial failure field was false in the request. This "
                              "method requires this field be set to true.")], version)}, {}
        adjs = req.get("conversionAdjustments")
        if not isinstance(adjs, list) or not adjs or len(adjs) > MAX_CONVERSIONS:
            return 400, {"error": google_status(
                400, "INVALID_ARGUMENT", "Request contains an invalid argument.",
                [google_error({"conversionAdjustmentUploadError":
                               "TOO_MANY_ADJUSTMENTS_IN_REQUEST"},
                              "fake: 1 to 2000 adjustments per request")], version)}, {}
        validate_only = req.get("validateOnly") is True
        results, errors = [], []
        for i, adj in enumerate(adjs):
            problem = self.adjustment_problem(cid, adj)
            if problem:
                errors.append(google_error(problem[0], problem[1], i, problem[2],
                                           rows="conversionAdjustments"))
                results.append({})
                continue
            if not validate_only:
                with self.st.lock:
                    self.st.adjustments.append(adj)
                    if adj["adjustmentType"] == "RETRACTION":
                        self.st.retracted.add((adj["conversionAction"], str(adj["orderId"])))
            results.append({k: adj[k] for k in ("conversionAction", "orderId",
                                                 "adjustmentType", "adjustmentDateTime")})
        out = {}
        if not validate_only:
            out["results"] = results
        if errors:
            first = errors[0]
            out["partialFailureError"] = google_status(
                3, None, "%s, at conversionAdjustments[%d]" % (
                    first["message"], first["location"]["fieldPathElements"][0]["index"]),
                errors, version)
            del out["partialFailureError"]["status"]
        return 200, out, {}

    # -- conversionActions:mutate -------------------------------------------

    def mutate(self, version, cid, req):
        ops = req.get("operations")
        create = ops[0].get("create") if isinstance(ops, list) and len(ops) == 1 \
            and isinstance(ops[0], dict) else None
        bad = None
        if not isinstance(create, dict):
            bad = ({"requestError": "REQUIRED_FIELD_MISSING"}, "fake: one create operation")
        elif not create.get("name"):
            bad = ({"fieldError": "REQUIRED"}, "The required field was not present.")
        elif create.get("type") != "UPLOAD_CLICKS":
            bad = ({"conversionActionError": "INVALID_CONVERSION_ACTION_TYPE"},
                   "fake: type must be UPLOAD_CLICKS")
        elif create.get("status") != "ENABLED" or create.get("countingType") not in (
                "ONE_PER_CLICK", "MANY_PER_CLICK") or not isinstance(
                create.get("clickThroughLookbackWindowDays"), int) or not create.get(
                "category"):
            bad = ({"fieldError": "INVALID_VALUE"}, "fake: status, countingType, category or "
                   "clickThroughLookbackWindowDays")
        if bad is None:
            with self.st.lock:
                names = self.st.created.setdefault(cid, {})
                if create["name"] in names.values():
                    bad = ({"conversionActionError": "DUPLICATE_NAME"},
                           "A conversion action with this name already exists.")
                else:
                    action_id = str(self.st.next_id)
                    self.st.next_id += 1
                    names[action_id] = create["name"]
        if bad:
            err = google_error(bad[0], bad[1])
            err["location"] = {"fieldPathElements": [{"fieldName": "operations", "index": 0}]}
            return 400, {"error": google_status(400, "INVALID_ARGUMENT",
                                                "Request contains an invalid argument.",
                                                [err], version)}, {}
        return 200, {"results": [{"resourceName": "customers/%s/conversionActions/%s" % (
            cid, action_id)}]}, {}


def add_args(ap):
    ap.add_argument("--oauth-url", default=None,
                    help="fake OAuth server whose /_control/introspect checks bearer tokens")
    ap.add_argument("--developer-token", default=None, help="required developer-token header")


def setup(server, args):
    server.state = State(args.developer_token)
    server.oauth_url = args.oauth_url


def main(argv=None):
    return fake_common.serve(Handler, "Fake Google Ads API (REST).", setup, add_args, argv)


if __name__ == "__main__":
    sys.exit(main())
