/*
 * google_datamanager.c - the Google Data Manager API destination (the path
 * for Google Ads click conversions since 2026): a batch of conversions
 * becomes one POST {base}/{version}/events:ingest, and Google's answer one
 * outcome per conversion.  Also the status-poll hooks of
 * google_datamanager.h.
 *
 * Wire facts: ../shared/DATAMANAGER.md; the protos of
 * google/ads/datamanager/v1 in googleapis/googleapis (event.proto,
 * destination.proto, user_data.proto, consent.proto, device_info.proto,
 * ingestion_service.proto); errors: Google's error model
 * (https://cloud.google.com/apis/design/errors: over HTTP the body is
 * {"error": {"code", "message", "status", "details": [{"@type": …}]}}) as
 * Data Manager uses it
 * (https://developers.google.com/data-manager/api/devguides/concepts/understand-errors:
 * fast fail, the whole request is refused, google.rpc.BadRequest names
 * the fields).
 *
 * Data Manager has no partial failure: one bad event refuses the request.
 * The field violations say which events ("events[3].adIdentifiers.gclid"):
 * those fail with Google's description and the others come back RESEND,
 * which the pipeline sends again at once without them.
 *
 * The OAuth access token comes from the pipeline's token cache (auth hook:
 * google_auth_grant) and rides only in the Authorization header, which
 * upload_req_cleanup wipes.  Every function here is pure and may be called
 * from any thread.
 */
#include "destinations/google_datamanager.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json_build.h"
#include "core/text.h"
#include "destinations/google_common.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GDM_KIND	      "google_datamanager"
#define GDM_MAX_BATCH	      2000 /* IngestEventsRequest.events: "At most 2000" */
#define GDM_MAX_AGE_S	      (90 * 24 * 3600)
#define GDM_MAX_IDENTIFIERS   10 /* UserData: "At most 10 userIdentifiers" */
#define GDM_DECIMAL_MAX	      40
#define GDM_TOKEN_MAX	      4096
#define GDM_POSTAL_MAX	      32
#define GDM_VERSION_MAX	      16
#define GDM_BODY_SNIPPET      120
#define GDM_RETRY_DELAY_MAX_S 86400
#define GDM_INT64_DIGITS      18 /* below 2^63 whatever the digits */
#define GDM_INDEX_DIGITS      6	 /* events[i]: i < GDM_MAX_BATCH */
#define GDM_REQUEST_ID_MAX    95 /* outcome.request_id holds 95 + NUL */

#define TYPE_BAD_REQUEST "type.googleapis.com/google.rpc.BadRequest"
#define TYPE_RETRY_INFO	 "type.googleapis.com/google.rpc.RetryInfo"

#define NO_CONVERSION_ACTION                                                                       \
	GDM_KIND ": no conversion action: run adsengctl google create-conversion-action"

/* The [google] key of the API version (google_config_keys[] in
 * google_common.c); test_google_datamanager checks it names the key. */
#define GDM_VERSION_KEY (&google_config_keys[GOOGLE_KEY_DATAMANAGER_API_VERSION])

/*
 * Where a customer's IP address must not be sent: the EEA, the United
 * Kingdom and Switzerland.  device_info.proto (ip_address): "Google Ads
 * does not support IP address matching for end users in the European
 * Economic Area (EEA), United Kingdom (UK), or Switzerland (CH)".  EEA =
 * the 27 EU member states (European Commission,
 * https://food.ec.europa.eu/…/eu-countries_en lists them with their codes;
 * Greece is GR in ISO 3166-1) plus Iceland, Liechtenstein and Norway
 * (Agreement on the EEA), and EU territories that have their own ISO code
 * (Åland, and France's outermost regions, TFEU art. 349/355).  Lower case,
 * as the Google-scheme country field holds it.
 */
static const char eea_uk_ch[][3] = {
	/* EU */
	"at", "be", "bg", "hr", "cy", "cz", "dk", "ee", "fi", "fr", "de", "gr", "hu", "ie", "it",
	"lv", "lt", "lu", "mt", "nl", "pl", "pt", "ro", "sk", "si", "es", "se",
	/* EU territories with their own code */
	"ax", "gf", "gp", "mq", "re", "yt", "mf",
	/* rest of the EEA */
	"is", "li", "no",
	/* United Kingdom, Switzerland */
	"gb", "ch"
};

/* What result() reads from {"error": {...}}; strings borrow tree. */
struct gdm_error {
	cJSON *tree;
	const cJSON *details;
	const char *status;  /* "INVALID_ARGUMENT", NULL when absent */
	const char *message; /* developer-facing message */
	bool google;	     /* the body is Google's error object */
	long retry_delay_s;  /* google.rpc.RetryInfo, -1 when absent */
};

/* ---- small predicates ----------------------------------------------------- */

static bool is_hash(const char *s)
{
	return s != NULL && text_is_sha256_hex(s);
}

static bool is_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Two ASCII letters (the Google-scheme country is lower case). */
static bool is_region(const char *s)
{
	return s != NULL && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z' &&
	       s[2] == '\0';
}

static bool is_postal(const char *s)
{
	return is_set(s) && text_is_clean(s, GDM_POSTAL_MAX);
}

/* "v1", "v2beta": 'v', digits, then letters or digits. */
static bool is_api_version(const char *s)
{
	size_t i = 1;

	if (s == NULL || s[0] != 'v' || s[1] < '0' || s[1] > '9' || strlen(s) > GDM_VERSION_MAX)
		return false;
	for (; s[i]; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	}
	return true;
}

/* A request id as Google hands them out (a UUID) and as it can ride in a
 * query string unencoded: 1..95 of RFC 3986's unreserved characters.  Only
 * such ids are stored, so every stored one can be polled. */
static bool is_request_id(const char *s)
{
	size_t i = 0;

	for (; s && s[i]; i++) {
		if (i == GDM_REQUEST_ID_MAX ||
		    !((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("-._~", s[i]) != NULL))
			return false;
	}
	return i > 0;
}

/* Whether the customer's IP may be sent: the country is known and outside
 * eea_uk_ch.  Unknown counts as inside: an IP withheld costs a little
 * matching, an IP sent for an EEA customer breaks Google's rule. */
static bool may_send_ip(const struct conversion *c)
{
	const char *country = c->ids[PII_SCHEME_GOOGLE][PII_COUNTRY];

	if (!is_region(country))
		return false;
	for (size_t i = 0; i < sizeof(eea_uk_ch) / sizeof(eea_uk_ch[0]); i++) {
		if (strcmp(country, eea_uk_ch[i]) == 0)
			return false;
	}
	return true;
}

/* The click id sent (Google takes one of them), *key its JSON name. */
static const char *click_id(const struct conversion *c, const char **key)
{
	static const struct {
		enum click_field f;
		const char *key;
	} order[] = { { CLICK_GCLID, "gclid" },
		      { CLICK_GBRAID, "gbraid" },
		      { CLICK_WBRAID, "wbraid" } };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (is_set(c->click[order[i].f]) && text_is_clean(c->click[order[i].f], 512)) {
			*key = order[i].key;
			return c->click[order[i].f];
		}
	}
	return NULL;
}

/* All four address fields usable: Google refuses an address without any
 * of them (user_data.proto: AddressInfo, all four "Required"). */
static bool has_address(const struct conversion *c)
{
	char *const *g = c->ids[PII_SCHEME_GOOGLE];

	return is_hash(g[PII_FIRST_NAME]) && is_hash(g[PII_LAST_NAME]) &&
	       is_region(g[PII_COUNTRY]) && is_postal(g[PII_POSTAL]);
}

/* How many userIdentifiers c gets: one email, one phone, one address. */
_Static_assert(3 <= GDM_MAX_IDENTIFIERS, "an event never has more identifiers than Google takes");
static size_t identifier_count(const struct conversion *c)
{
	return (size_t)is_hash(c->ids[PII_SCHEME_GOOGLE][PII_EMAIL]) +
	       (size_t)is_hash(c->ids[PII_SCHEME_GOOGLE][PII_PHONE]) + (size_t)has_address(c);
}

/* ---- accepts, validate ------------------------------------------------------ */

static bool gdm_accepts(const struct destination *d, const struct conversion *c, char *why,
			size_t whylen)
{
	const char *key;

	(void)d;
	if (click_id(c, &key) != NULL || identifier_count(c) > 0)
		return true;
	snprintf(why, whylen, "no click id or user identifier");
	return false;
}

static int gdm_validate(const cJSON *settings, const cJSON *creds, bool test_mode, struct err *e)
{
	const cJSON *v;
	int rc;

	/* Test mode needs nothing more: it sends validateOnly, which Google
	 * checks and does not record. */
	(void)test_mode;
	rc = google_validate_common(GDM_KIND, settings, creds, e);
	if (rc != 0)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(settings, "api_version");
	if (v && (!cJSON_IsString(v) || !is_api_version(v->valuestring)))
		return err_set(e, ERR_CONFIG,
			       GDM_KIND ": --api-version must look like \"v1\" (Data Manager API)");
	return 0;
}

/* ---- build: one event --------------------------------------------------------- */

static void add_identifier(cJSON *ids, const char *key, const char *hash, bool *ok)
{
	cJSON *o;

	if (!*ok || !is_hash(hash))
		return;
	o = cJSON_CreateObject();
	json_add_string(o, key, hash, ok);
	json_attach(ids, NULL, o, ok);
}

static void add_address(cJSON *ids, const struct conversion *c, bool *ok)
{
	char *const *g = c->ids[PII_SCHEME_GOOGLE];
	char region[3];
	cJSON *o, *a;

	if (!*ok || !has_address(c))
		return;
	region[0] = (char)(g[PII_COUNTRY][0] - 'a' + 'A');
	region[1] = (char)(g[PII_COUNTRY][1] - 'a' + 'A');
	region[2] = '\0';
	a = cJSON_CreateObject();
	json_add_string(a, "givenName", g[PII_FIRST_NAME], ok);
	json_add_string(a, "familyName", g[PII_LAST_NAME], ok);
	json_add_string(a, "regionCode", region, ok);
	json_add_string(a, "postalCode", g[PII_POSTAL], ok);
	o = cJSON_CreateObject();
	json_attach(o, "address", a, ok);
	json_attach(ids, NULL, o, ok);
}

/* userData.userIdentifiers, one identifier per element
 * (user_data.proto: UserIdentifier is a oneof); *any set when added. */
static void add_user_data(cJSON *ev, const struct conversion *c, bool *any, bool *ok)
{
	cJSON *ud, *ids;

	if (!*ok || identifier_count(c) == 0)
		return;
	ud = cJSON_CreateObject();
	ids = cJSON_CreateArray();
	add_identifier(ids, "emailAddress", c->ids[PII_SCHEME_GOOGLE][PII_EMAIL], ok);
	add_identifier(ids, "phoneNumber", c->ids[PII_SCHEME_GOOGLE][PII_PHONE], ok);
	add_address(ids, c, ok);
	json_attach(ud, "userIdentifiers", ids, ok);
	json_attach(ev, "userData", ud, ok);
	*any = true;
}

/* adIdentifiers: the click id and the landing page's device (IP only
 * where may_send_ip); absent when there is none of them. */
static void add_ad_identifiers(cJSON *ev, const struct conversion *c, bool *ok)
{
	const char *key = NULL;
	const char *click = click_id(c, &key);
	const char *ip = text_is_ip(c->client_ip) && may_send_ip(c) ? c->client_ip : NULL;
	const char *ua =
		is_set(c->user_agent) && text_is_clean(c->user_agent, 1024) ? c->user_agent : NULL;
	cJSON *ai, *dev;

	if (!*ok || (click == NULL && ip == NULL && ua == NULL))
		return;
	ai = cJSON_CreateObject();
	if (click)
		json_add_string(ai, key, click, ok);
	if (ip || ua) {
		dev = cJSON_CreateObject();
		json_add_string(dev, "ipAddress", ip, ok);
		json_add_string(dev, "userAgent", ua, ok);
		json_attach(ai, "landingPageDeviceInfo", dev, ok);
	}
	json_attach(ev, "adIdentifiers", ai, ok);
}

/* "granted"/"denied" → Data Manager's ConsentStatus (consent.proto), else
 * the destination's default (dflt: 1 granted, 0 denied, -1 none). */
static const char *consent_status(const char *conv, int dflt)
{
	if (conv && strcmp(conv, "granted") == 0)
		return "CONSENT_GRANTED";
	if (conv && strcmp(conv, "denied") == 0)
		return "CONSENT_DENIED";
	return dflt < 0 ? NULL : dflt ? "CONSENT_GRANTED" : "CONSENT_DENIED";
}

static void add_consent(cJSON *ev, const struct conversion *c, int dflt, bool *ok)
{
	const char *ud = consent_status(c->consent_ad_user_data, dflt);
	const char *ap = consent_status(c->consent_ad_personalization, dflt);
	cJSON *co;

	if (!*ok || (ud == NULL && ap == NULL))
		return;
	co = cJSON_CreateObject();
	json_add_string(co, "adUserData", ud, ok);
	json_add_string(co, "adPersonalization", ap, ok);
	json_attach(ev, "consent", co, ok);
}

static cJSON *build_event(const struct conversion *c, int consent_dflt, bool *any_user_data,
			  bool *ok)
{
	cJSON *ev = cJSON_CreateObject();
	char ts[40];

	if (ev == NULL) {
		*ok = false;
		return NULL;
	}
	/* The dedup key: the order id, stable across retries and resends (a
	 * repeat is an adjustment, not a second conversion). */
	json_add_string(ev, "transactionId", is_set(c->order_id) ? c->order_id : c->event_id, ok);
	/* ProtoJSON Timestamp: RFC 3339; "Z" is the offset of UTC. */
	clock_format_utc(c->occurred_us, ts, sizeof(ts));
	json_add_string(ev, "eventTimestamp", ts, ok);
	json_add_string(ev, "eventSource", "WEB", ok);
	if (text_is_json_number(c->value, GDM_DECIMAL_MAX))
		json_add_raw(ev, "conversionValue", c->value, ok);
	if (is_set(c->currency))
		json_add_string(ev, "currency", c->currency, ok);
	add_ad_identifiers(ev, c, ok);
	add_user_data(ev, c, any_user_data, ok);
	add_consent(ev, c, consent_dflt, ok);
	return ev;
}

/* ---- build: the request --------------------------------------------------------- */

static void add_account(cJSON *dst, const char *key, const char *id, bool *ok)
{
	cJSON *a = cJSON_CreateObject();

	json_add_string(a, "accountType", "GOOGLE_ADS", ok);
	json_add_string(a, "accountId", id, ok);
	json_attach(dst, key, a, ok);
}

/* destinations[0]: the account that owns the conversion action, the
 * manager account when there is one, the action. */
static cJSON *build_destination(const struct destination *d, const char *customer,
				const char *login, const char *action, bool *ok)
{
	cJSON *arr = cJSON_CreateArray();
	cJSON *dst = cJSON_CreateObject();

	json_add_string(dst, "reference", d->id[0] ? d->id : "d1", ok);
	add_account(dst, "operatingAccount", customer, ok);
	if (login)
		add_account(dst, "loginAccount", login, ok);
	json_add_string(dst, "productDestinationId", action, ok);
	json_attach(arr, NULL, dst, ok);
	return arr;
}

/* The JSON body as text (cJSON_free), NULL when out of memory. */
static char *build_body(const struct destination *d, const char *customer, const char *login,
			const char *action, struct conversion *const *convs, size_t n)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *events = cJSON_CreateArray();
	bool ok = root != NULL && events != NULL;
	bool any_user_data = false, granted;
	int dflt = google_consent_default(d->settings, &granted) ? granted : -1;
	char *text = NULL;

	for (size_t i = 0; i < n && ok; i++)
		json_attach(events, NULL, build_event(convs[i], dflt, &any_user_data, &ok), &ok);
	json_attach(root, "destinations", build_destination(d, customer, login, action, &ok), &ok);
	/* Required whenever userData is present (ingestion_service.proto). */
	if (any_user_data)
		json_add_string(root, "encoding", "HEX", &ok);
	json_add_bool(root, "validateOnly", d->test_mode, &ok);
	json_attach(root, "events", events, &ok); /* frees events when it cannot attach */
	if (ok)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* Base URL without trailing '/', its length in *len; NULL when unset. */
static const char *base_url(const struct destination *d, int *len)
{
	size_t n;

	if (d->base_url == NULL || d->base_url[0] == '\0')
		return NULL;
	n = strlen(d->base_url);
	while (n > 0 && d->base_url[n - 1] == '/')
		n--;
	*len = (int)n;
	return d->base_url;
}

/* The pieces every request of d needs: base URL, version, token. */
static int check_transport(const struct destination *d, const char *token, struct err *e)
{
	int blen;

	if (base_url(d, &blen) == NULL || !is_api_version(d->api_version))
		return err_set(e, ERR_CONFIG,
			       GDM_KIND ": destination needs a base URL ([endpoints] "
					"google_datamanager) and an API version like \"v1\"");
	if (!is_set(token) || !text_is_clean(token, GDM_TOKEN_MAX) || strchr(token, ' '))
		return err_set(e, ERR_CONFIG, GDM_KIND ": no usable OAuth access token");
	return 0;
}

/*
 * Build one request for n conversions.  req must be upload_req_init'ed;
 * it is filled only on success.  ERR_CONFIG without a customer id,
 * conversion action (NO_CONVERSION_ACTION: the pipeline pauses the
 * destination with it), base URL, API version or access token;
 * ERR_INVALID for n outside 1..GDM_MAX_BATCH; ERR_NOMEM.
 */
static int gdm_build(const struct destination *d, const char *access_token,
		     struct conversion *const *convs, size_t n, struct upload_req *req,
		     struct err *e)
{
	const char *action = dest_settings_str(d->settings, "conversion_action");
	const char *login_s = dest_settings_str(d->settings, "login_customer_id");
	char customer[11], login[11];
	char *body;
	int blen = 0;
	int rc;

	if (n == 0 || n > GDM_MAX_BATCH)
		return err_set(e, ERR_INVALID, GDM_KIND ": batch of %zu events (1..%d allowed)", n,
			       GDM_MAX_BATCH);
	if (!google_customer_id_normalize(dest_settings_str(d->settings, "customer_id"), customer))
		return err_set(e, ERR_CONFIG, GDM_KIND ": destination has no valid customer id");
	if (login_s && !google_customer_id_normalize(login_s, login))
		return err_set(e, ERR_CONFIG, GDM_KIND ": login customer id is not 10 digits");
	if (!text_is_digits(action, 20))
		return err_set(e, ERR_CONFIG, NO_CONVERSION_ACTION);
	rc = check_transport(d, access_token, e);
	if (rc != 0)
		return rc;
	body = build_body(d, customer, login_s ? login : NULL, action, convs, n);
	if (body == NULL)
		return err_set(e, ERR_NOMEM, GDM_KIND ": out of memory building the request body");
	base_url(d, &blen);
	req->method = UPLOAD_POST;
	req->url = xasprintf("%.*s/%s/events:ingest", blen, d->base_url, d->api_version);
	req->log_url = xstrdup(req->url);
	upload_req_add_header(req, "Authorization: Bearer %s", access_token);
	upload_req_add_header(req, "Content-Type: application/json");
	buf_puts(&req->body, body);
	cJSON_free(body);
	return 0;
}

/* ---- result: Google's error object ------------------------------------------------ */

/* "30s", "1.5s" (ProtoJSON Duration) → whole seconds rounded up; -1 when
 * it is not one. */
static long parse_duration_s(const char *s)
{
	long v = 0;
	size_t i = 0;
	bool frac = false;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i >= 7)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9'; i++)
			frac |= s[i] != '0';
	}
	if (s[i] != 's' || s[i + 1] != '\0')
		return -1;
	v += frac;
	return v > GDM_RETRY_DELAY_MAX_S ? GDM_RETRY_DELAY_MAX_S : v;
}

static const char *detail_type(const cJSON *det)
{
	return json_str(det, "@type");
}

/* Fill g from the body; g->tree is the parsed body (NULL when not JSON). */
static void parse_error(const struct upload_resp *resp, struct gdm_error *g)
{
	const cJSON *err, *det;

	memset(g, 0, sizeof(*g));
	g->retry_delay_s = -1;
	if (resp->body == NULL || resp->body_len == 0)
		return;
	g->tree = cJSON_ParseWithLength(resp->body, resp->body_len);
	err = cJSON_GetObjectItemCaseSensitive(g->tree, "error");
	if (!cJSON_IsObject(err))
		return;
	g->google = true;
	g->status = json_str(err, "status");
	g->message = json_str(err, "message");
	g->details = cJSON_GetObjectItemCaseSensitive(err, "details");
	if (!cJSON_IsArray(g->details))
		g->details = NULL;
	cJSON_ArrayForEach (det, g->details) {
		const char *type = detail_type(det);

		if (type && strcmp(type, TYPE_RETRY_INFO) == 0)
			g->retry_delay_s = parse_duration_s(json_str(det, "retryDelay"));
	}
}

/* "events[12].adIdentifiers.gclid" → 12 and ".adIdentifiers.gclid";
 * false when field is not about events[i] with i < n. */
static bool event_index(const char *field, size_t n, size_t *idx, const char **rest)
{
	size_t i = strlen("events["), v = 0, digits = 0;

	if (field == NULL || strncmp(field, "events[", i) != 0)
		return false;
	for (; field[i] >= '0' && field[i] <= '9'; i++, digits++) {
		if (digits == GDM_INDEX_DIGITS)
			return false;
		v = v * 10 + (size_t)(field[i] - '0');
	}
	if (digits == 0 || field[i] != ']' || v >= n)
		return false;
	*idx = v;
	*rest = field + i + 1;
	return true;
}

/* out[i] FAILED with the violation's description (and the field within
 * the event), code = its reason, else the error's status. */
static void fail_violation(struct outcome *o, const cJSON *fv, const char *rest,
			   const struct gdm_error *g)
{
	const char *desc = json_str(fv, "description");
	const char *reason = json_str(fv, "reason");
	char msg[sizeof(o->message)];

	if (rest[0] == '.')
		rest++;
	if (desc && rest[0])
		snprintf(msg, sizeof(msg), "%s (field %s)", desc, rest);
	else if (desc)
		snprintf(msg, sizeof(msg), "%s", desc);
	else
		snprintf(msg, sizeof(msg), "invalid field %s", rest[0] ? rest : "(event)");
	o->kind = OUTCOME_FAILED;
	o->retry_after_s = -1;
	text_copy_line(o->platform_code, sizeof(o->platform_code),
		       reason	   ? reason
		       : g->status ? g->status
				   : "");
	text_copy_line(o->message, sizeof(o->message), msg);
}

/* Fail the events the BadRequest details name (the first violation of an
 * event wins); returns how many. */
static size_t fail_violations(const struct gdm_error *g, size_t n, struct outcome *out)
{
	const cJSON *det, *fv;
	size_t failed = 0;

	cJSON_ArrayForEach (det, g->details) {
		const char *type = detail_type(det);
		const cJSON *fvs = cJSON_GetObjectItemCaseSensitive(det, "fieldViolations");

		if (type == NULL || strcmp(type, TYPE_BAD_REQUEST) != 0 || !cJSON_IsArray(fvs))
			continue;
		cJSON_ArrayForEach (fv, fvs) {
			const char *rest;
			size_t i;

			if (!event_index(json_str(fv, "field"), n, &i, &rest) ||
			    out[i].kind == OUTCOME_FAILED)
				continue;
			fail_violation(&out[i], fv, rest, g);
			failed++;
		}
	}
	return failed;
}

/* Google's message, else the HTTP status and the start of the body. */
static void describe(const struct upload_resp *resp, const struct gdm_error *g, char *out,
		     size_t outlen)
{
	struct buf b;

	buf_init(&b);
	if (g->message)
		buf_puts(&b, g->message);
	else
		buf_printf(&b, "HTTP %ld", resp->status);
	if (g->message == NULL && resp->body && resp->body_len > 0)
		buf_printf(&b, ": %.*s", GDM_BODY_SNIPPET, resp->body);
	text_copy_line(out, outlen, b.data ? b.data : "");
	buf_cleanup(&b);
}

/* requestId of a 2xx answer into o->request_id (left empty when absent or
 * odd: validateOnly answers carry none). */
static void take_request_id(const struct upload_resp *resp, struct outcome *out, size_t n)
{
	cJSON *tree = resp->body_len ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
	const char *id = json_str(tree, "requestId");

	if (is_request_id(id)) {
		for (size_t i = 0; i < n; i++)
			snprintf(out[i].request_id, sizeof(out[i].request_id), "%s", id);
	}
	cJSON_Delete(tree);
}

/*
 * DATAMANAGER.md "Answers": 2xx delivered (accepted for processing, with
 * its requestId); 401 REAUTH; 408/429/5xx and transport errors RETRY
 * (Retry-After, else google.rpc.RetryInfo); a 400 naming events fails
 * them and resends the rest; any other 4xx FAILED (permanent, whether or
 * not the body is Google's); 1xx/3xx are no answer of Google's: RETRY.
 */
static void gdm_result(const struct destination *d, const struct upload_resp *resp,
		       struct conversion *const *convs, size_t n, struct outcome *out)
{
	struct gdm_error g;
	char msg[sizeof(out->message)];
	char code[sizeof(out->platform_code)];
	long after;

	(void)d;
	(void)convs;
	memset(out, 0, n * sizeof(*out));
	if (outcome_fill_transport(resp, out, n))
		return;
	if (resp->status >= 200 && resp->status <= 299) {
		outcome_fill(out, n, OUTCOME_DELIVERED, -1, "", "");
		take_request_id(resp, out, n);
		return;
	}
	parse_error(resp, &g);
	describe(resp, &g, msg, sizeof(msg));
	/* Google's status word, kept to one line like every outside text. */
	text_copy_line(code, sizeof(code), g.status ? g.status : "");
	after = resp->retry_after_s >= 0 ? resp->retry_after_s : g.retry_delay_s;
	if (resp->status == 401) {
		outcome_fill(out, n, OUTCOME_REAUTH, -1, code, msg);
	} else if (resp->status == 408 || resp->status == 429 || resp->status >= 500 ||
		   resp->status < 400) {
		outcome_fill(out, n, OUTCOME_RETRY, after, code, msg);
	} else if (resp->status == 400 && g.google) {
		outcome_fill(out, n, OUTCOME_RESEND, -1, code,
			     "not sent: Google refused the request for other events in it");
		if (fail_violations(&g, n, out) == 0)
			outcome_fill(out, n, OUTCOME_FAILED, -1, code, msg);
	} else {
		outcome_fill(out, n, OUTCOME_FAILED, -1, code, msg);
	}
	cJSON_Delete(g.tree);
}

/* ---- diagnostics: requestStatus:retrieve ---------------------------------------- */

const char *gdm_request_status_name(enum gdm_request_status s)
{
	switch (s) {
	case GDM_PROCESSING:
		return "PROCESSING";
	case GDM_SUCCESS:
		return "SUCCESS";
	case GDM_PARTIAL_SUCCESS:
		return "PARTIAL_SUCCESS";
	case GDM_FAILED:
		return "FAILED";
	case GDM_UNKNOWN:
		break;
	}
	return "UNKNOWN";
}

int gdm_build_status_request(const struct destination *d, const char *access_token,
			     const char *request_id, struct upload_req *req, struct err *e)
{
	int blen = 0;
	int rc;

	rc = check_transport(d, access_token, e);
	if (rc != 0)
		return rc;
	if (!is_request_id(request_id))
		return err_set(e, ERR_INVALID, GDM_KIND ": not a Data Manager request id");
	base_url(d, &blen);
	req->method = UPLOAD_GET;
	req->url = xasprintf("%.*s/%s/requestStatus:retrieve?requestId=%s", blen, d->base_url,
			     d->api_version, request_id);
	req->log_url = xstrdup(req->url);
	upload_req_add_header(req, "Authorization: Bearer %s", access_token);
	return 0;
}

/* An int64 ProtoJSON sends as a string ("2"), or a small JSON number;
 * absent = 0 (proto3 omits zeros).  false when neither. */
static bool json_count(const cJSON *v, int64_t *out)
{
	if (v == NULL) {
		*out = 0;
		return true;
	}
	if (cJSON_IsString(v) && text_is_digits(v->valuestring, GDM_INT64_DIGITS)) {
		*out = strtoll(v->valuestring, NULL, 10);
		return true;
	}
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9007199254740991.0 &&
	    v->valuedouble == (double)(int64_t)v->valuedouble) {
		*out = (int64_t)v->valuedouble;
		return true;
	}
	return false;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static enum gdm_request_status status_from_name(const char *s)
{
	static const enum gdm_request_status all[] = { GDM_PROCESSING, GDM_SUCCESS,
						       GDM_PARTIAL_SUCCESS, GDM_FAILED };

	for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, gdm_request_status_name(all[i])) == 0)
			return all[i];
	}
	return GDM_UNKNOWN;
}

/* Add one errorCounts[] entry; false when its count is malformed. */
static bool add_error_count(struct gdm_status *st, const cJSON *ec)
{
	const char *reason = json_str(ec, "reason");
	char r[sizeof(st->errors[0].reason)];
	int64_t count;

	if (!json_count(cJSON_GetObjectItemCaseSensitive(ec, "recordCount"), &count))
		return false;
	/* proto3 leaves out the zero enum value */
	text_copy_line(r, sizeof(r), reason ? reason : "PROCESSING_ERROR_REASON_UNSPECIFIED");
	for (size_t i = 0; i < st->n_errors; i++) {
		if (strcmp(st->errors[i].reason, r) == 0) {
			st->errors[i].records = add_sat(st->errors[i].records, count);
			return true;
		}
	}
	if (st->n_errors == GDM_MAX_ERROR_REASONS) {
		st->n_reasons_dropped++;
		return true;
	}
	memcpy(st->errors[st->n_errors].reason, r, sizeof(r));
	st->errors[st->n_errors++].records = count;
	return true;
}

/* One requestStatusPerDestination[] element; *seen counts its status. */
static bool add_destination(struct gdm_status *st, const cJSON *rs, size_t seen[5])
{
	const cJSON *evs = cJSON_GetObjectItemCaseSensitive(rs, "eventsIngestionStatus");
	const cJSON *ecs = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(rs, "errorInfo"), "errorCounts");
	const cJSON *list = cJSON_IsArray(ecs) ? ecs : NULL;
	const cJSON *ec;
	int64_t count;

	if (!cJSON_IsObject(rs))
		return false;
	seen[status_from_name(json_str(rs, "requestStatus"))]++;
	if (cJSON_IsObject(evs)) {
		if (!json_count(cJSON_GetObjectItemCaseSensitive(evs, "recordCount"), &count))
			return false;
		st->record_count = add_sat(st->record_count < 0 ? 0 : st->record_count, count);
	}
	cJSON_ArrayForEach (ec, list) {
		if (!cJSON_IsObject(ec) || !add_error_count(st, ec))
			return false;
	}
	return true;
}

int gdm_parse_status(const char *body, size_t len, struct gdm_status *st, struct err *e)
{
	cJSON *tree = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(tree, "requestStatusPerDestination");
	const cJSON *rs;
	size_t seen[5] = { 0 };
	int rc = ERR_INVALID;

	memset(st, 0, sizeof(*st));
	st->record_count = -1;
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
		err_set(e, ERR_INVALID, "request status: no requestStatusPerDestination");
		goto out;
	}
	cJSON_ArrayForEach (rs, arr) {
		if (!add_destination(st, rs, seen)) {
			err_set(e, ERR_INVALID, "request status: malformed destination status");
			goto out;
		}
		st->n_destinations++;
	}
	if (seen[GDM_PROCESSING])
		st->status = GDM_PROCESSING;
	else if (seen[GDM_UNKNOWN])
		st->status = GDM_UNKNOWN;
	else if (seen[GDM_SUCCESS] == st->n_destinations)
		st->status = GDM_SUCCESS;
	else if (seen[GDM_FAILED] == st->n_destinations)
		st->status = GDM_FAILED;
	else
		st->status = GDM_PARTIAL_SUCCESS;
	rc = 0;
out:
	if (rc != 0) {
		memset(st, 0, sizeof(*st));
		st->record_count = -1;
	}
	cJSON_Delete(tree);
	return rc;
}

void gdm_status_summary(const struct gdm_status *st, char *out, size_t outlen)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, gdm_request_status_name(st->status));
	if (st->record_count >= 0)
		buf_printf(&b, ": %" PRId64 " records", st->record_count);
	for (size_t i = 0; i < st->n_errors; i++)
		buf_printf(&b, "%s%" PRId64 " %s", i ? ", " : "; errors: ", st->errors[i].records,
			   st->errors[i].reason);
	if (st->n_reasons_dropped)
		buf_printf(&b, " and %zu more reasons", st->n_reasons_dropped);
	text_copy_line(out, outlen, b.data);
	buf_cleanup(&b);
}

/*
 * dest_ops.status_parse: the answer to gdm_build_status_request's query.
 * 200 → the request's status (PROCESSING, and an unknown status, ask again
 * later); 401 → REAUTH; 404, or a 400 (Google does not know the id) →
 * GONE; anything else, or a 200 that does not parse → RETRY.
 */
static void gdm_status_parse_resp(const struct upload_resp *resp, struct dest_request_status *st)
{
	struct gdm_error g;
	struct gdm_status s;
	struct err e = { 0 };

	memset(st, 0, sizeof(*st));
	if (resp->transport_error) {
		st->state = DEST_REQ_RETRY;
		text_copy_line(st->summary, sizeof(st->summary), resp->transport_msg);
		return;
	}
	if (resp->status == 200) {
		if (gdm_parse_status(resp->body, resp->body_len, &s, &e) != 0) {
			st->state = DEST_REQ_RETRY;
			text_copy_line(st->summary, sizeof(st->summary), e.msg);
			return;
		}
		st->state = s.status == GDM_SUCCESS	      ? DEST_REQ_SUCCESS
			    : s.status == GDM_PARTIAL_SUCCESS ? DEST_REQ_PARTIAL
			    : s.status == GDM_FAILED	      ? DEST_REQ_FAILED
							      : DEST_REQ_PROCESSING;
		snprintf(st->status, sizeof(st->status), "%s", gdm_request_status_name(s.status));
		gdm_status_summary(&s, st->summary, sizeof(st->summary));
		return;
	}
	parse_error(resp, &g);
	describe(resp, &g, st->summary, sizeof(st->summary));
	st->state = resp->status == 401				 ? DEST_REQ_REAUTH
		    : resp->status == 404 || resp->status == 400 ? DEST_REQ_GONE
								 : DEST_REQ_RETRY;
	if (st->state == DEST_REQ_GONE)
		text_copy_line(st->status, sizeof(st->status), g.status ? g.status : "NOT_FOUND");
	cJSON_Delete(g.tree);
}

/* ---- ops ------------------------------------------------------------------------ */

const struct dest_ops google_datamanager_dest_ops = {
	.kind = GDM_KIND,
	.endpoint_key = "google_datamanager",
	.config_keys = google_config_keys,
	.n_config_keys = GOOGLE_N_CONFIG_KEYS,
	.api_version_key = GDM_VERSION_KEY,
	.max_batch = GDM_MAX_BATCH,
	.max_age_s = GDM_MAX_AGE_S,
	.age_from_click = true,
	.accepts = gdm_accepts,
	.prepare_settings = google_prepare_settings,
	.validate = gdm_validate,
	.auth_grant = google_auth_grant,
	/* adwords too: `adsengctl google create-conversion-action` creates
	 * the action a Data Manager destination uploads to through the Google
	 * Ads API with this destination's own grant (issue 6). */
	.oauth_scopes = GOOGLE_SCOPE_DATAMANAGER " " GOOGLE_SCOPE_ADWORDS,
	.oauth_provider = GOOGLE_OAUTH_PROVIDER,
	/* As google_ads: large batches, quotas shared per project. */
	.default_max_inflight = 2,
	/* validateOnly: Data Manager checks the request and ingests nothing
	 * (IngestEventsRequest.validateOnly). */
	.test_prepare = dest_test_prepare_test_mode,
	.build = gdm_build,
	.status_build = gdm_build_status_request,
	.status_parse = gdm_status_parse_resp,
	.status_delay_key = &google_config_keys[GOOGLE_KEY_DATAMANAGER_STATUS_DELAY],
	.result = gdm_result,
};
