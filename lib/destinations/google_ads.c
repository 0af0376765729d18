/*
 * google_ads.c - the Google Ads API destination (kind google_ads): click
 * conversions of accounts Google still allowlists for the Google Ads API
 * become one POST {base}/{version}/customers/{cid}:uploadClickConversions,
 * and Google's answer (partial failure mode) becomes one outcome per
 * conversion.  New adopters use google_datamanager instead; Google answers
 * them CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE, which pauses the
 * destination with a message saying so.
 *
 * Also here, for the CLI and for later: the conversion adjustments builder
 * (refunds, google_ads.h) and the conversion action create request and its
 * answer (`adsengctl google create-conversion-action`).
 *
 * Wire facts: PLATFORMS.md "Google Ads API"; the REST encoding is proto3
 * JSON (lowerCamelCase fields, enums as strings,
 * https://protobuf.dev/programming-guides/proto3/#json) of the RPC
 * reference, e.g.
 * https://developers.google.com/google-ads/api/reference/rpc/v26/UploadClickConversionsRequest.
 * Facts PLATFORMS.md does not state are cited where they are used.
 *
 * Enhanced conversions for leads (uploads matched only by hashed email or
 * phone, without a click id) are out of scope: accepts() requires a click
 * id, and user identifiers only ride along with one.
 *
 * Everything is pure and may run on any thread.  The access token comes
 * from the pipeline's token cache, the developer token from the
 * credentials; every copy made here of either is wiped before it is freed.
 */
#include "destinations/google_ads.h"
#include "core/config.h"
#include "core/json_build.h"
#include "core/oauth_grant.h"
#include "core/text.h"
#include "destinations/google_common.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GADS_MAX_BATCH	  2000
#define GADS_MAX_AGE_S	  (90 * 24 * 3600)
#define GADS_TOO_RECENT_S (6 * 3600)
#define GADS_DECIMAL_MAX  40
#define GADS_TOKEN_MAX	  4096
#define GADS_DEVTOKEN_MAX 256
#define GADS_SNIPPET	  120
#define GADS_NAME_MAX	  256
#define GADS_ACTION_ID	  20

/* The API versions a destination may pin with --api-version (PLATFORMS.md:
 * v23–v26 live, v26 current). */
static const char *const api_versions[] = { "v23", "v24", "v25", "v26" };

/* ConversionActionCategory values offered by create-conversion-action
 * (https://developers.google.com/google-ads/api/reference/rpc/v26/ConversionActionCategoryEnum.ConversionActionCategory).
 */
static const char *const categories[] = {
	"DEFAULT",	   "PAGE_VIEW",	     "PURCHASE",	 "SIGNUP",
	"DOWNLOAD",	   "ADD_TO_CART",    "BEGIN_CHECKOUT",	 "SUBSCRIBE_PAID",
	"PHONE_CALL_LEAD", "IMPORTED_LEAD",  "SUBMIT_LEAD_FORM", "BOOK_APPOINTMENT",
	"REQUEST_QUOTE",   "GET_DIRECTIONS", "OUTBOUND_CLICK",	 "CONTACT",
	"ENGAGEMENT",	   "STORE_VISIT",    "STORE_SALE",	 "QUALIFIED_LEAD",
	"CONVERTED_LEAD",  "LEAD",
};

/* ---- settings ------------------------------------------------------------- */

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++) {
		if (strcmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

bool google_ads_is_category(const char *s)
{
	return in_list(s, categories, sizeof(categories) / sizeof(categories[0]));
}

/* "v26": a 'v' and 1..3 digits (the config may name a newer version than
 * the ones a destination may pin). */
static bool is_version_shape(const char *s)
{
	return s && s[0] == 'v' && text_is_digits(s + 1, 3);
}

static int gads_validate(const cJSON *settings, const cJSON *creds, bool test_mode, struct err *e)
{
	const cJSON *v;
	int rc = google_validate_common("google_ads", settings, creds, e);

	(void)test_mode; /* validateOnly needs no setting */
	if (rc != 0)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(settings, "api_version");
	if (v && (!cJSON_IsString(v) || !in_list(v->valuestring, api_versions,
						 sizeof(api_versions) / sizeof(api_versions[0]))))
		return err_set(e, ERR_CONFIG,
			       "google_ads: --api-version must be one of v23, v24, v25, v26");
	v = cJSON_GetObjectItemCaseSensitive(creds, "developer_token");
	if (v && (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
		  !text_is_clean(v->valuestring, GADS_DEVTOKEN_MAX)))
		return err_set(e, ERR_CONFIG,
			       "google_ads: credentials developer_token must be a non-empty "
			       "string of at most %d bytes",
			       GADS_DEVTOKEN_MAX);
	return 0;
}

/* A conversion needs a Google click id: the Google Ads API matches click
 * conversions by it.  Uploads matched by user identifiers alone
 * (enhanced conversions for leads) are out of scope. */
static bool gads_accepts(const struct destination *d, const struct conversion *c, char *why,
			 size_t whylen)
{
	(void)d;
	if (c->click[CLICK_GCLID] || c->click[CLICK_GBRAID] || c->click[CLICK_WBRAID])
		return true;
	snprintf(why, whylen,
		 "no Google click id (gclid, gbraid or wbraid): google_ads uploads click "
		 "conversions only");
	return false;
}

/* dest_ops.load: the developer token, from the credentials or else [google]
 * developer_token_file, read once per load rather than per request.  None
 * is not an error here: Google's refusal pauses with its message. */
static int gads_load(struct destination *d, const struct config *cfg, struct err *e)
{
	cJSON *creds = d->creds ? cJSON_Parse(d->creds) : NULL;
	int rc = google_cred_or_file(creds, "developer_token", cfg, "developer_token_file",
				     &d->aux_secret, e);

	json_wipe_strings(creds);
	cJSON_Delete(creds);
	return rc;
}

/* ---- build: shared by every request of this file --------------------------- */

/* creds.developer_token copied (caller frees with dest_secret_free), or NULL. */
static bool is_dev_token(const char *s)
{
	return strlen(s) <= GADS_DEVTOKEN_MAX && text_is_clean(s, GADS_DEVTOKEN_MAX);
}

/* An unusable one is left out: Google's refusal then pauses with its
 * message. */
static char *read_dev_token(const char *creds_text)
{
	struct err e = { 0 };
	char *out = NULL;

	if (dest_creds_secret("google_ads", creds_text, "developer_token", false, is_dev_token,
			      &out, &e) != 0)
		return NULL;
	return out;
}

/* {base}/{version}/customers/{cid}{suffix} with the base's trailing
 * slashes dropped. */
static char *customer_url(const char *base, const char *version, const char *cid,
			  const char *suffix)
{
	size_t blen = strlen(base);

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	return xasprintf("%.*s/%s/customers/%s%s", (int)blen, base, version, cid, suffix);
}

/*
 * The headers of every Google Ads API call
 * (https://developers.google.com/google-ads/api/rest/auth#request_headers):
 * the OAuth2 bearer token, the developer token when there is one (Google
 * answers a request without it with an authentication error, which pauses
 * the destination with Google's message), and login-customer-id only
 * when the destination is reached through a manager account.
 */
static void add_headers(struct upload_req *req, const char *access_token, const char *dev_token,
			const char *login_cid)
{
	upload_req_add_header(req, "Content-Type: application/json");
	upload_req_add_header(req, "Authorization: Bearer %s", access_token);
	if (dev_token)
		upload_req_add_header(req, "developer-token: %s", dev_token);
	if (login_cid)
		upload_req_add_header(req, "login-customer-id: %s", login_cid);
}

/* What a request to destination d needs; strings borrow d's settings. */
struct gads_target {
	char cid[11];
	char login[11];
	bool has_login;
	const char *action; /* conversion action id */
};

static int read_target(const struct destination *d, const char *access_token, bool need_action,
		       struct gads_target *t, struct err *e)
{
	memset(t, 0, sizeof(*t));
	if (!google_customer_id_normalize(dest_settings_str(d->settings, "customer_id"), t->cid))
		return err_set(e, ERR_CONFIG, "google_ads: destination has no valid customer_id");
	t->has_login = google_customer_id_normalize(
		dest_settings_str(d->settings, "login_customer_id"), t->login);
	t->action = dest_settings_str(d->settings, "conversion_action");
	if (need_action && !text_is_digits(t->action, GADS_ACTION_ID))
		return err_set(e, ERR_CONFIG,
			       "google_ads: destination has no conversion action: set "
			       "--conversion-action or run adsengctl google "
			       "create-conversion-action");
	if (d->base_url == NULL || d->base_url[0] == '\0' || !is_version_shape(d->api_version))
		return err_set(e, ERR_CONFIG,
			       "google_ads: destination needs a base URL and an API version "
			       "like \"v26\"");
	if (access_token == NULL || access_token[0] == '\0' ||
	    strlen(access_token) > GADS_TOKEN_MAX)
		return err_set(e, ERR_CONFIG, "google_ads: no OAuth2 access token");
	return 0;
}

/*
 * Unix microseconds as "yyyy-mm-dd hh:mm:ss+00:00", the format of
 * conversionDateTime and adjustmentDateTime
 * (https://developers.google.com/google-ads/api/reference/rpc/v26/ClickConversion):
 * always in UTC, so no time zone database is involved.
 */
static void format_datetime(int64_t us, char out[32])
{
	time_t secs = (time_t)(us / 1000000 - (us % 1000000 < 0 ? 1 : 0));
	struct tm tm;

	if (gmtime_r(&secs, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, 32, "%04d-%02d-%02d %02d:%02d:%02d+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Print root (which it frees) as the request body; ERR_NOMEM. */
static int put_body(struct upload_req *req, cJSON *root, bool ok, struct err *e)
{
	char *text = ok ? cJSON_PrintUnformatted(root) : NULL;

	cJSON_Delete(root);
	if (text == NULL)
		return err_set(e, ERR_NOMEM, "google_ads: out of memory building the request body");
	buf_puts(&req->body, text);
	cJSON_free(text);
	return 0;
}

/* Fill req: URL, headers, body (root, freed). */
static int finish_request(const struct destination *d, const char *access_token,
			  const struct gads_target *t, const char *suffix, cJSON *root, bool ok,
			  struct upload_req *req, struct err *e)
{
	/* Loaded (gads_load) from the credentials or [google]
	 * developer_token_file; a destination not loaded by the pipeline (unit
	 * tests) reads its credentials. */
	char *own = d->aux_secret ? NULL : read_dev_token(d->creds);
	const char *dev = d->aux_secret ? d->aux_secret : own;
	int rc = put_body(req, root, ok, e);

	if (rc == 0) {
		req->url = customer_url(d->base_url, d->api_version, t->cid, suffix);
		req->log_url = xstrdup(req->url);
		add_headers(req, access_token, dev, t->has_login ? t->login : NULL);
	}
	dest_secret_free(own);
	return rc;
}

/* ---- build: click conversions ----------------------------------------------- */

/* One click id, gclid first: Google refuses a conversion with more than
 * one, and gbraid together with wbraid in particular (PLATFORMS.md). */
static void add_click_id(cJSON *o, const struct conversion *c, bool *ok)
{
	static const enum click_field order[] = { CLICK_GCLID, CLICK_GBRAID, CLICK_WBRAID };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (c->click[order[i]]) {
			json_add_string(o, click_field_name(order[i]), c->click[order[i]], ok);
			return;
		}
	}
}

/* userIdentifiers: one identifier per object, Google-scheme SHA-256 only
 * (at most 5 allowed; we have two kinds).  Absent when there are none. */
static void add_user_identifiers(cJSON *o, const struct conversion *c, bool *ok)
{
	const char *email = c->ids[PII_SCHEME_GOOGLE][PII_EMAIL];
	const char *phone = c->ids[PII_SCHEME_GOOGLE][PII_PHONE];
	cJSON *arr;

	email = email && text_is_sha256_hex(email) ? email : NULL;
	phone = phone && text_is_sha256_hex(phone) ? phone : NULL;
	if (!*ok || (email == NULL && phone == NULL))
		return;
	arr = cJSON_CreateArray();
	if (email) {
		cJSON *u = cJSON_CreateObject();

		json_add_string(u, "hashedEmail", email, ok);
		json_attach(arr, NULL, u, ok);
	}
	if (phone) {
		cJSON *u = cJSON_CreateObject();

		json_add_string(u, "hashedPhoneNumber", phone, ok);
		json_attach(arr, NULL, u, ok);
	}
	json_attach(o, "userIdentifiers", arr, ok);
}

/* consent.adUserData in Google Ads' names (GRANTED/DENIED, ConsentStatus,
 * https://developers.google.com/google-ads/api/reference/rpc/v26/Consent),
 * from the conversion, else the destination's default; absent when
 * neither says. */
static void add_consent(cJSON *o, const struct destination *d, const struct conversion *c, bool *ok)
{
	const char *v = c->consent_ad_user_data;
	bool granted = false;
	bool known = false;
	cJSON *consent;

	if (v && (strcmp(v, "granted") == 0 || strcmp(v, "denied") == 0)) {
		granted = strcmp(v, "granted") == 0;
		known = true;
	} else {
		known = google_consent_default(d->settings, &granted);
	}
	if (!known || !*ok)
		return;
	consent = cJSON_CreateObject();
	json_add_string(consent, "adUserData", granted ? "GRANTED" : "DENIED", ok);
	json_attach(o, "consent", consent, ok);
}

static cJSON *build_conversion(const struct destination *d, const char *action_rn,
			       const struct conversion *c, bool *ok)
{
	cJSON *o = cJSON_CreateObject();
	char when[32];

	if (o == NULL) {
		*ok = false;
		return NULL;
	}
	format_datetime(c->occurred_us, when);
	add_click_id(o, c, ok);
	json_add_string(o, "conversionAction", action_rn, ok);
	json_add_string(o, "conversionDateTime", when, ok);
	/* A malformed value is left out rather than guessed at. */
	if (text_is_json_number(c->value, GADS_DECIMAL_MAX))
		json_add_raw(o, "conversionValue", c->value, ok);
	json_add_string(o, "currencyCode", c->currency, ok);
	json_add_string(o, "orderId", c->order_id, ok);
	add_user_identifiers(o, c, ok);
	add_consent(o, d, c, ok);
	return o;
}

/*
 * Build one uploadClickConversions request for n conversions
 * (https://developers.google.com/google-ads/api/reference/rpc/v26/UploadClickConversionsRequest):
 * partialFailure is always true (Google requires it for conversion
 * uploads), validateOnly in test mode.  req must be freshly initialized;
 * it is filled only on success.  ERR_INVALID for a batch size out of
 * 1..2000, ERR_CONFIG for missing settings or access token, ERR_NOMEM.
 */
static int gads_build(const struct destination *d, const char *access_token,
		      struct conversion *const *convs, size_t n, struct upload_req *req,
		      struct err *e)
{
	struct gads_target t;
	cJSON *root, *arr;
	char *action_rn;
	bool ok = true;
	int rc;

	if (n == 0 || n > GADS_MAX_BATCH)
		return err_set(e, ERR_INVALID,
			       "google_ads: batch of %zu conversions (1..%d allowed)", n,
			       GADS_MAX_BATCH);
	rc = read_target(d, access_token, true, &t, e);
	if (rc != 0)
		return rc;
	action_rn = xasprintf("customers/%s/conversionActions/%s", t.cid, t.action);
	root = cJSON_CreateObject();
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < n && arr && ok; i++)
		json_attach(arr, NULL, build_conversion(d, action_rn, convs[i], &ok), &ok);
	json_attach(root, "conversions", arr, &ok);
	json_add_bool(root, "partialFailure", true, &ok);
	if (d->test_mode)
		json_add_bool(root, "validateOnly", true, &ok);
	ok = ok && root != NULL;
	rc = finish_request(d, access_token, &t, ":uploadClickConversions", root, ok, req, e);
	free(action_rn);
	return rc;
}

/* ---- build: adjustments -------------------------------------------------------- */

static cJSON *build_adjustment(const char *action_rn, const struct google_ads_adjustment *a,
			       bool *ok)
{
	cJSON *o = cJSON_CreateObject();
	char when[32];

	if (o == NULL) {
		*ok = false;
		return NULL;
	}
	format_datetime(a->adjusted_us, when);
	json_add_string(o, "conversionAction", action_rn, ok);
	json_add_string(o, "orderId", a->order_id, ok);
	json_add_string(o, "adjustmentDateTime", when, ok);
	json_add_string(o, "adjustmentType",
			a->type == GOOGLE_ADS_RETRACTION ? "RETRACTION" : "RESTATEMENT", ok);
	if (a->type == GOOGLE_ADS_RESTATEMENT) {
		cJSON *rv = cJSON_CreateObject();

		json_add_raw(rv, "adjustedValue", a->value, ok);
		json_add_string(rv, "currencyCode", a->currency, ok);
		json_attach(o, "restatementValue", rv, ok);
	}
	return o;
}

static int check_adjustments(const struct google_ads_adjustment *adj, size_t n, struct err *e)
{
	if (n == 0 || n > GOOGLE_ADS_MAX_ADJUSTMENTS)
		return err_set(e, ERR_INVALID,
			       "google_ads: batch of %zu adjustments (1..%d allowed)", n,
			       GOOGLE_ADS_MAX_ADJUSTMENTS);
	for (size_t i = 0; i < n; i++) {
		if (adj[i].order_id == NULL || adj[i].order_id[0] == '\0')
			return err_set(e, ERR_INVALID, "google_ads: adjustment %zu has no order id",
				       i);
		if (adj[i].type == GOOGLE_ADS_RESTATEMENT &&
		    !text_is_json_number(adj[i].value, GADS_DECIMAL_MAX))
			return err_set(e, ERR_INVALID,
				       "google_ads: restatement %zu needs a decimal value", i);
	}
	return 0;
}

/*
 * uploadConversionAdjustments
 * (https://developers.google.com/google-ads/api/reference/rpc/v26/UploadConversionAdjustmentsRequest,
 * ConversionAdjustment and RestatementValue in the same reference): the
 * conversion is found by conversionAction + orderId; adjustmentDateTime
 * must be later than the conversion and than any earlier adjustment of it.
 */
int google_ads_build_adjustments(const struct destination *d, const char *access_token,
				 const struct google_ads_adjustment *adj, size_t n,
				 struct upload_req *req, struct err *e)
{
	struct gads_target t;
	cJSON *root, *arr;
	char *action_rn;
	bool ok = true;
	int rc = check_adjustments(adj, n, e);

	if (rc == 0)
		rc = read_target(d, access_token, true, &t, e);
	if (rc != 0)
		return rc;
	action_rn = xasprintf("customers/%s/conversionActions/%s", t.cid, t.action);
	root = cJSON_CreateObject();
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < n && arr && ok; i++)
		json_attach(arr, NULL, build_adjustment(action_rn, &adj[i], &ok), &ok);
	json_attach(root, "conversionAdjustments", arr, &ok);
	json_add_bool(root, "partialFailure", true, &ok);
	if (d->test_mode)
		json_add_bool(root, "validateOnly", true, &ok);
	ok = ok && root != NULL;
	rc = finish_request(d, access_token, &t, ":uploadConversionAdjustments", root, ok, req, e);
	free(action_rn);
	return rc;
}

/* ---- conversion actions ------------------------------------------------------------ */

/*
 * conversionActions:mutate with one create operation
 * (https://developers.google.com/google-ads/api/reference/rpc/v26/MutateConversionActionsRequest,
 * PLATFORMS.md).  Google refuses uploads to a new action for about 6 h
 * (TOO_RECENT_CONVERSION_ACTION), which result() retries.
 */
int google_ads_build_conversion_action(const struct google_ads_action_req *r,
				       struct upload_req *req, struct err *e)
{
	const char *category = r->category ? r->category : "PURCHASE";
	cJSON *root, *ops, *op, *create;
	bool ok = true;
	int rc;

	if (r->name == NULL || r->name[0] == '\0' || !text_is_clean(r->name, GADS_NAME_MAX))
		return err_set(e, ERR_INVALID,
			       "conversion action name: 1 to %d characters, no control "
			       "characters",
			       GADS_NAME_MAX);
	if (!google_ads_is_category(category))
		return err_set(e, ERR_INVALID, "unknown conversion action category \"%s\"",
			       category);
	if (r->base_url == NULL || r->base_url[0] == '\0' || !is_version_shape(r->api_version) ||
	    !text_is_digits(r->customer_id, 10) || r->access_token == NULL ||
	    r->developer_token == NULL)
		return err_set(e, ERR_CONFIG,
			       "conversion action request: base URL, API version, customer id, "
			       "access token and developer token are required");
	root = cJSON_CreateObject();
	ops = cJSON_CreateArray();
	op = cJSON_CreateObject();
	create = cJSON_CreateObject();
	json_add_string(create, "name", r->name, &ok);
	json_add_string(create, "type", "UPLOAD_CLICKS", &ok);
	json_add_string(create, "category", category, &ok);
	json_add_string(create, "status", "ENABLED", &ok);
	json_add_string(create, "countingType", "MANY_PER_CLICK", &ok);
	json_add_int(create, "clickThroughLookbackWindowDays", 90, &ok);
	json_attach(op, "create", create, &ok);
	json_attach(ops, NULL, op, &ok);
	json_attach(root, "operations", ops, &ok);
	rc = put_body(req, root, ok && root != NULL, e);
	if (rc != 0)
		return rc;
	req->url = customer_url(r->base_url, r->api_version, r->customer_id,
				"/conversionActions:mutate");
	req->log_url = xstrdup(req->url);
	add_headers(req, r->access_token, r->developer_token, r->login_customer_id);
	return 0;
}

/* ---- reading Google's answers ---------------------------------------------------------- */

/* What one GoogleAdsError says; strings borrow the parsed tree. */
struct gads_error {
	const char *code;    /* the enum name, e.g. "CLICK_NOT_FOUND"; NULL if none */
	const char *message; /* Google's message */
	long row;	     /* conversions[row], -1 when not located at a row */
};

/* The error code's name: errorCode holds one field (the error kind,
 * e.g. "conversionUploadError") whose value is the enum name. */
static const char *error_code_name(const cJSON *err)
{
	const cJSON *ec = cJSON_GetObjectItemCaseSensitive(err, "errorCode");
	const cJSON *f;

	cJSON_ArrayForEach (f, ec) {
		if (cJSON_IsString(f) && f->valuestring[0] != '\0')
			return f->valuestring;
	}
	return NULL;
}

/* location.fieldPathElements[]: the index of the element whose fieldName
 * is "conversions" (or the adjustments' "conversionAdjustments"). */
static long error_row(const cJSON *err)
{
	const cJSON *loc = cJSON_GetObjectItemCaseSensitive(err, "location");
	const cJSON *el;

	cJSON_ArrayForEach (el, cJSON_GetObjectItemCaseSensitive(loc, "fieldPathElements")) {
		const char *name = json_str(el, "fieldName");
		const cJSON *idx = cJSON_GetObjectItemCaseSensitive(el, "index");

		if (name == NULL || (strcmp(name, "conversions") != 0 &&
				     strcmp(name, "conversionAdjustments") != 0))
			continue;
		if (cJSON_IsNumber(idx) && idx->valuedouble >= 0 && idx->valuedouble < 1e9)
			return (long)idx->valuedouble;
		return -1;
	}
	return -1;
}

static void read_error(const cJSON *err, struct gads_error *ge)
{
	ge->code = error_code_name(err);
	ge->message = json_str(err, "message");
	ge->row = error_row(err);
}

/*
 * A google.rpc.Status as REST JSON
 * (https://cloud.google.com/apis/design/errors#http_mapping): {"code",
 * "message", "status", "details": [{"@type":
 * "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
 * "errors": [GoogleAdsError…], "requestId"}]}.  GoogleAdsFailure and
 * GoogleAdsError:
 * https://developers.google.com/google-ads/api/reference/rpc/v26/GoogleAdsFailure,
 * https://developers.google.com/google-ads/api/reference/rpc/v26/GoogleAdsError;
 * the JSON example of https://developers.google.com/google-ads/api/docs/get-started/handle-errors.
 * Calls cb for every GoogleAdsError of every GoogleAdsFailure detail (the
 * @type is not insisted on: its version part changes with the API).
 */
typedef void (*gads_error_cb)(const struct gads_error *ge, void *arg);

static bool is_failure_detail(const cJSON *detail)
{
	const char *type = json_str(detail, "@type");

	return cJSON_IsObject(detail) && (type == NULL || strstr(type, "GoogleAdsFailure"));
}

/* The first GoogleAdsFailure's requestId (for Google's support), or NULL. */
static const char *first_request_id(const cJSON *status)
{
	const cJSON *detail;

	cJSON_ArrayForEach (detail, cJSON_GetObjectItemCaseSensitive(status, "details")) {
		if (is_failure_detail(detail) && json_str(detail, "requestId"))
			return json_str(detail, "requestId");
	}
	return NULL;
}

static void each_error(const cJSON *status, gads_error_cb cb, void *arg)
{
	const cJSON *detail, *err;

	cJSON_ArrayForEach (detail, cJSON_GetObjectItemCaseSensitive(status, "details")) {
		if (!is_failure_detail(detail))
			continue;
		cJSON_ArrayForEach (err, cJSON_GetObjectItemCaseSensitive(detail, "errors")) {
			struct gads_error ge;

			read_error(err, &ge);
			cb(&ge, arg);
		}
	}
}

/* ---- result: per-row outcomes ------------------------------------------------------------ */

/* How bad an outcome is, to keep the worst when a row has several errors. */
static int severity(enum outcome_kind k)
{
	switch (k) {
	case OUTCOME_DELIVERED:
		return 0;
	case OUTCOME_RETRY:
		return 1;
	case OUTCOME_SPLIT:
		return 2;
	case OUTCOME_FAILED:
		return 3;
	default:
		return 4;
	}
}

static bool has_prefix(const char *s, const char *p)
{
	return s && strncmp(s, p, strlen(p)) == 0;
}

/*
 * One error code → outcome (PLATFORMS.md "Outcomes";
 * https://developers.google.com/google-ads/api/reference/rpc/v26/ConversionUploadErrorEnum.ConversionUploadError,
 * https://developers.google.com/google-ads/api/reference/rpc/v26/NotAllowlistedErrorEnum.NotAllowlistedError).
 * *retry_after_s is set for TOO_RECENT_*: Google says to try again after
 * 6 hours.
 */
static enum outcome_kind classify_code(const char *code, size_t n, long *retry_after_s)
{
	*retry_after_s = -1;
	if (code == NULL)
		return OUTCOME_FAILED;
	if (strcmp(code, "CLICK_CONVERSION_ALREADY_EXISTS") == 0 ||
	    strcmp(code, "ORDER_ID_ALREADY_IN_USE") == 0)
		return OUTCOME_DELIVERED; /* a retry of an accepted upload */
	if (strcmp(code, "TOO_RECENT_EVENT") == 0 ||
	    strcmp(code, "TOO_RECENT_CONVERSION_ACTION") == 0) {
		*retry_after_s = GADS_TOO_RECENT_S;
		return OUTCOME_RETRY;
	}
	if (strcmp(code, "TRANSIENT_ERROR") == 0 || strcmp(code, "RESOURCE_EXHAUSTED") == 0 ||
	    strcmp(code, "RESOURCE_TEMPORARILY_EXHAUSTED") == 0 ||
	    strcmp(code, "INTERNAL_ERROR") == 0)
		return OUTCOME_RETRY;
	if (strcmp(code, "TOO_MANY_CONVERSIONS_IN_REQUEST") == 0)
		return n > 1 ? OUTCOME_SPLIT : OUTCOME_FAILED;
	if (strcmp(code, "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE") == 0 ||
	    has_prefix(code, "DEVELOPER_TOKEN_"))
		return OUTCOME_PAUSE;
	return OUTCOME_FAILED;
}

/* The outcome message for an error: Google's message (or code), with the
 * operator's way out for a refusal of the whole API, and the request id
 * for Google's support. */
static void error_message(const struct gads_error *ge, const char *request_id, char *out,
			  size_t outlen)
{
	struct buf b;

	buf_init(&b);
	if (ge->code && strcmp(ge->code, "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE") == 0)
		buf_puts(&b, "the Google Ads API refuses click conversion uploads for this account "
			     "(not allowlisted): use a google_datamanager destination instead; ");
	else if (has_prefix(ge->code, "DEVELOPER_TOKEN_"))
		buf_puts(&b, "developer token refused (the destination's credentials "
			     "developer_token, or [google] developer_token_file): ");
	buf_puts(&b, ge->message ? ge->message : ge->code ? ge->code : "Google Ads API error");
	if (request_id)
		buf_printf(&b, " (request_id %s)", request_id);
	text_copy_line(out, outlen, b.data ? b.data : "");
	buf_cleanup(&b);
}

struct row_state {
	struct outcome *out;
	size_t n;
	bool *seen; /* rows with an error */
	const char *request_id;
	bool unlocated; /* an error not at any row: applies to the rows without one */
	struct outcome whole;
};

static void set_outcome(struct outcome *o, const struct gads_error *ge, enum outcome_kind k,
			long retry, const char *request_id)
{
	o->kind = k;
	o->retry_after_s = retry;
	text_copy_line(o->platform_code, sizeof(o->platform_code), ge->code ? ge->code : "");
	error_message(ge, request_id, o->message, sizeof(o->message));
}

static void row_error_cb(const struct gads_error *ge, void *arg)
{
	struct row_state *st = arg;
	long retry;
	enum outcome_kind k = classify_code(ge->code, st->n, &retry);
	struct outcome *o;

	if (ge->row < 0 || (size_t)ge->row >= st->n) {
		if (!st->unlocated || severity(k) > severity(st->whole.kind))
			set_outcome(&st->whole, ge, k, retry, st->request_id);
		st->unlocated = true;
		return;
	}
	o = &st->out[ge->row];
	if (st->seen[ge->row] && severity(k) <= severity(o->kind))
		return;
	st->seen[ge->row] = true;
	set_outcome(o, ge, k, retry, st->request_id);
}

/*
 * 2xx with partialFailureError
 * (https://developers.google.com/google-ads/api/docs/best-practices/partial-failures):
 * rows named by location.fieldPathElements get their error's outcome, the
 * others were accepted.  An error located at no row (the request as a
 * whole) applies to every row without one of its own.
 */
static void partial_failure(const cJSON *pfe, size_t n, struct outcome *out)
{
	struct row_state st = { .out = out, .n = n };

	st.request_id = first_request_id(pfe);
	st.seen = xcalloc(n ? n : 1, sizeof(bool));
	outcome_fill(out, n, OUTCOME_DELIVERED, -1, "", "");
	each_error(pfe, row_error_cb, &st);
	for (size_t i = 0; i < n; i++) {
		if (!st.seen[i] && st.unlocated)
			out[i] = st.whole;
	}
	free(st.seen);
}

/* ---- result: whole-request errors ------------------------------------------------------------ */

struct whole_state {
	const char *code; /* the first error code */
	const char *message;
	bool dev_token;	  /* a DEVELOPER_TOKEN_* error */
	bool not_allowed; /* CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE */
	bool retry;	  /* a code that says "try again" */
	bool split;	  /* TOO_MANY_CONVERSIONS_IN_REQUEST */
};

static void whole_error_cb(const struct gads_error *ge, void *arg)
{
	struct whole_state *ws = arg;
	long retry;
	enum outcome_kind k = classify_code(ge->code, 2, &retry);

	if (ws->code == NULL) {
		ws->code = ge->code;
		ws->message = ge->message;
	}
	ws->dev_token = ws->dev_token || has_prefix(ge->code, "DEVELOPER_TOKEN_");
	ws->not_allowed =
		ws->not_allowed ||
		(ge->code && strcmp(ge->code, "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE") == 0);
	ws->retry = ws->retry || k == OUTCOME_RETRY;
	ws->split = ws->split || k == OUTCOME_SPLIT;
}

/*
 * Whole-request answers, in order of precedence: a developer token or
 * allowlist refusal pauses (a fresh access token would not help); 401 is
 * the access token (REAUTH: refreshed once and resent); 429,
 * RESOURCE_EXHAUSTED, 408, 5xx and transient codes retry; 403 /
 * PERMISSION_DENIED pause; too many conversions splits; any other 4xx
 * carrying Google's error fails the batch.  A 4xx without Google's error
 * object is not Google's answer (a proxy, a wrong [endpoints]
 * google_ads) and retries, like 1xx/3xx, staying visible in last_error.
 */
static enum outcome_kind classify_whole(long status, const char *grpc_status,
					const struct whole_state *ws, bool google, size_t n)
{
	bool exhausted = grpc_status && strcmp(grpc_status, "RESOURCE_EXHAUSTED") == 0;
	bool denied = grpc_status && strcmp(grpc_status, "PERMISSION_DENIED") == 0;

	if (ws->dev_token || ws->not_allowed)
		return OUTCOME_PAUSE;
	if (status == 401)
		return OUTCOME_REAUTH;
	if (status == 408 || status == 429 || status >= 500 || exhausted || ws->retry)
		return OUTCOME_RETRY;
	if (status == 403 || denied)
		return OUTCOME_PAUSE;
	if (ws->split)
		return n > 1 ? OUTCOME_SPLIT : OUTCOME_FAILED;
	if (status < 400 || !google)
		return OUTCOME_RETRY;
	return OUTCOME_FAILED;
}

static void whole_request(const struct upload_resp *resp, const cJSON *tree, size_t n,
			  struct outcome *out)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(tree, "error");
	struct whole_state ws = { 0 };
	const char *request_id = first_request_id(status);
	const char *grpc = json_str(status, "status");
	struct gads_error ge = { 0 };
	enum outcome_kind kind;
	char msg[sizeof(out->message)];
	struct buf b;

	each_error(status, whole_error_cb, &ws);
	kind = classify_whole(resp->status, grpc, &ws, cJSON_IsObject(status), n);
	ge.code = ws.code ? ws.code : grpc;
	ge.message = ws.message ? ws.message : json_str(status, "message");
	buf_init(&b);
	if (ge.message == NULL) {
		buf_printf(&b, "HTTP %ld", resp->status);
		if (resp->body && resp->body_len > 0)
			buf_printf(&b, ": %.*s", GADS_SNIPPET, resp->body);
		ge.message = b.data;
	}
	error_message(&ge, request_id, msg, sizeof(msg));
	outcome_fill(out, n, kind, kind == OUTCOME_RETRY ? resp->retry_after_s : -1,
		     ge.code ? ge.code : "", msg);
	/* outcome_fill's snprintf may cut a code mid-character: recopy. */
	for (size_t i = 0; i < n; i++)
		text_copy_line(out[i].platform_code, sizeof(out[i].platform_code),
			       ge.code ? ge.code : "");
	buf_cleanup(&b);
}

/*
 * One outcome per conversion in out[0..n).  resp is borrowed; convs are
 * not looked at (Google names rows by index).
 */
static void gads_result(const struct destination *d, const struct upload_resp *resp,
			struct conversion *const *convs, size_t n, struct outcome *out)
{
	const cJSON *pfe;
	cJSON *tree = NULL;

	(void)d;
	(void)convs;
	if (outcome_fill_transport(resp, out, n))
		return;
	if (resp->body && resp->body_len > 0)
		tree = cJSON_ParseWithLength(resp->body, resp->body_len);
	if (resp->status >= 200 && resp->status <= 299) {
		pfe = cJSON_GetObjectItemCaseSensitive(tree, "partialFailureError");
		if (cJSON_IsObject(pfe) && cJSON_GetArraySize(pfe) > 0)
			partial_failure(pfe, n, out);
		else
			outcome_fill(out, n, OUTCOME_DELIVERED, -1, "", "");
	} else {
		whole_request(resp, tree, n, out);
	}
	cJSON_Delete(tree);
}

/*
 * The adjustments hook (dest.h): the generic records as
 * google_ads_adjustment, found by order id (the orderId click uploads
 * carry; a conversion without one cannot be adjusted, which the builder
 * refuses).
 */
static int gads_build_adjustments_op(const struct destination *d, const char *access_token,
				     const struct dest_adjustment *adj, size_t n,
				     struct upload_req *req, struct err *e)
{
	struct google_ads_adjustment *g;
	int rc;

	if (n == 0 || n > GOOGLE_ADS_MAX_ADJUSTMENTS)
		return google_ads_build_adjustments(d, access_token, NULL, n, req, e);
	g = xcalloc(n, sizeof(*g));
	for (size_t i = 0; i < n; i++) {
		g[i].type = adj[i].kind == DEST_ADJ_RETRACTION ? GOOGLE_ADS_RETRACTION
							       : GOOGLE_ADS_RESTATEMENT;
		g[i].order_id = adj[i].order_id;
		g[i].adjusted_us = adj[i].adjusted_us;
		g[i].value = adj[i].value;
		g[i].currency = adj[i].currency;
	}
	rc = google_ads_build_adjustments(d, access_token, g, n, req, e);
	free(g);
	return rc;
}

/* uploadConversionAdjustments answers like uploadClickConversions
 * (partialFailureError rows under "conversionAdjustments", error_row). */
static void gads_adjustments_result(const struct destination *d, const struct upload_resp *resp,
				    size_t n, struct outcome *out)
{
	gads_result(d, resp, NULL, n, out);
}

/* ---- conversion action answer ------------------------------------------------------------------
 */

int google_ads_parse_conversion_action(const struct upload_resp *resp, char id[24],
				       char resource_name[128], struct err *e)
{
	struct outcome o;
	cJSON *tree = NULL;
	const char *rn, *slash;
	int rc = ERR_INVALID;

	id[0] = resource_name[0] = '\0';
	if (resp->transport_error)
		return err_set(e, ERR_IO, "could not reach the Google Ads API: %s",
			       resp->transport_msg);
	if (resp->status < 200 || resp->status > 299) {
		tree = resp->body ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
		whole_request(resp, tree, 1, &o);
		cJSON_Delete(tree);
		rc = o.kind == OUTCOME_RETRY			       ? ERR_IO
		     : o.kind == OUTCOME_REAUTH || resp->status == 403 ? ERR_AUTH
								       : ERR_INVALID;
		return err_set(
			e, rc, "Google Ads API refused the conversion action (HTTP %ld%s%s): %s",
			resp->status, o.platform_code[0] ? ", " : "", o.platform_code, o.message);
	}
	tree = cJSON_ParseWithLength(resp->body ? resp->body : "", resp->body_len);
	rn = json_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tree, "results"), 0),
		      "resourceName");
	slash = rn ? strrchr(rn, '/') : NULL;
	if (rn == NULL || slash == NULL || !str_has_prefix(rn, "customers/") ||
	    !strstr(rn, "/conversionActions/") || !text_is_digits(slash + 1, GADS_ACTION_ID) ||
	    strlen(rn) >= 128) {
		err_set(e, ERR_INVALID,
			"the Google Ads API answer has no conversion action resource name");
		goto out;
	}
	snprintf(id, 24, "%s", slash + 1);
	snprintf(resource_name, 128, "%s", rn);
	rc = 0;
out:
	cJSON_Delete(tree);
	return rc;
}

/* ---- registration ------------------------------------------------------------------------------
 */

const struct dest_ops google_ads_dest_ops = {
	.kind = "google_ads",
	.endpoint_key = "google_ads",
	.config_keys = google_config_keys,
	.n_config_keys = GOOGLE_N_CONFIG_KEYS,
	.api_version_key = &google_config_keys[GOOGLE_KEY_ADS_API_VERSION],
	.max_batch = GADS_MAX_BATCH,
	.max_age_s = GADS_MAX_AGE_S,
	.age_from_click = true,
	.accepts = gads_accepts,
	.prepare_settings = google_prepare_settings,
	.validate = gads_validate,
	.auth_grant = google_auth_grant,
	.oauth_scopes = GOOGLE_SCOPE_ADWORDS,
	.oauth_provider = GOOGLE_OAUTH_PROVIDER,
	.load = gads_load,
	/* Google Ads API quotas are per developer token and shared by every
	 * destination of the daemon; two requests of up to 2000 conversions
	 * each keep a slow Google from holding a worker's slots. */
	.default_max_inflight = 2,
	/* validateOnly: Google checks the upload and stores nothing
	 * (UploadClickConversionsRequest.validate_only). */
	.test_prepare = dest_test_prepare_test_mode,
	.build = gads_build,
	.result = gads_result,
	.build_adjustments = gads_build_adjustments_op,
	.adjustments_result = gads_adjustments_result,
	.max_adjustments = GOOGLE_ADS_MAX_ADJUSTMENTS,
};
