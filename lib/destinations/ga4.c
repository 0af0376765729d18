/*
 * ga4.c - the GA4 Measurement Protocol destination (`ga4`) and the
 * server-side Google Tag Manager destination (`sgtm`), which takes the same
 * body at the container's own /mp/collect.
 *
 * Wire facts are in PLATFORMS.md ("GA4 Measurement Protocol / server-side
 * GTM"); the body follows the Measurement Protocol reference
 * (https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference):
 * POST {base}/mp/collect?measurement_id=…&api_secret=…, a JSON body
 * {client_id, user_id, timestamp_micros, consent, user_data, events[≤25]},
 * and user-provided data as in
 * https://developers.google.com/analytics/devguides/collection/ga4/uid-data
 * (sha256_email_address[], sha256_phone_number[], address[] with hashed
 * names and clear city/region/postal_code/country: Google's hashing scheme,
 * core/pii.h, computed at normalization).
 *
 * One request carries one user (one client_id): batch_key gives the
 * client_id and the pipeline cuts a request wherever it changes.  The
 * client_id is the `_ga` cookie's id (core/clickid.c turns "GA1.1.X.Y" into
 * "X.Y"); without one a stable id is derived from the customer or the order
 * and the delivery's outcome message says so ("derived_client_id").
 *
 * GA4 answers 2xx to everything, even garbage (reference, "Transport"), so
 * only 5xx and transport errors retry and a 2xx is delivered.  In test mode
 * a ga4 destination sends to the validation server instead
 * (https://developers.google.com/analytics/devguides/collection/protocol/ga4/validating-events):
 * its {"validationMessages":[{fieldPath, description, validationCode}]}
 * becomes the outcome message, and VALUE_INVALID / NAME_INVALID fail the
 * request's events.  Outside test mode, `--validate-sample F` sends that
 * fraction of requests to the validation server first (dest_ops.check_*):
 * its messages become warnings on the deliveries, and the events a
 * VALUE_INVALID / NAME_INVALID message names fail instead of being sent.  sGTM containers answer
 * with real status codes: non-2xx is an error, 5xx and 429 retry.
 *
 * The api_secret travels in the query string by protocol: req->url carries
 * it, req->log_url never does.  All entry points are pure and may be called
 * from any thread.
 */
#include "destinations/dest.h"
#include "core/config.h"
#include "core/json_build.h"
#include "core/pii.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GA4_MAX_BATCH	   25		/* events per request (reference) */
#define GA4_MAX_AGE_S	   (72 * 3600)	/* timestamp_micros backdates up to 72 h */
#define GA4_MAX_BODY	   (130 * 1000) /* "< 130 KB" (PLATFORMS.md), kept under */
#define GA4_MID_MAX	   32
#define GA4_SECRET_MAX	   128
#define GA4_CLIENT_ID_MAX  100
#define GA4_URL_MAX	   512
#define GA4_PREVIEW_MAX	   512
#define GA4_DECIMAL_MAX	   40
#define GA4_BODY_SNIPPET   120
#define GA4_PATH	   "/mp/collect"
#define GA4_DEBUG_PATH	   "/debug/mp/collect"
#define GA4_DERIVED_PREFIX "derived_client_id"

/* ---- small predicates ------------------------------------------------------ */

/* Characters of s all in [A-Za-z0-9] plus the extra ones, 1..max long. */
static bool is_word(const char *s, size_t max, const char *extra)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] && i <= max; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      strchr(extra, c)))
			return false;
	}
	return i <= max;
}

/* "G-XXXXXXX": the id goes into the query unencoded, so only letters and
 * digits after the prefix. */
static bool is_measurement_id(const char *s)
{
	return s && strncmp(s, "G-", 2) == 0 && is_word(s + 2, GA4_MID_MAX, "");
}

/* API secrets from the GA UI are URL-safe base64-ish words; anything else
 * would need encoding in the query (or could bend it). */
static bool is_api_secret(const char *s)
{
	return is_word(s, GA4_SECRET_MAX, "_-");
}

/* A client id as gtag.js writes it ("1234567890.1732662000") or any
 * similar word; it is JSON-escaped, the check only keeps junk out. */
static bool is_client_id(const char *s)
{
	return is_word(s, GA4_CLIENT_ID_MAX, "._-");
}

/* An http(s) URL without query, fragment, spaces or control characters:
 * "/mp/collect?…" is appended to it. */
static bool is_container_url(const char *s)
{
	if (s == NULL || !text_is_clean(s, GA4_URL_MAX))
		return false;
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return false;
	return strpbrk(s, "?# ") == NULL && strlen(s) > 8;
}

/* A 64-hex hash (text_is_sha256_hex wants a string). */
static bool is_hash(const char *s)
{
	return s != NULL && text_is_sha256_hex(s);
}

static bool is_sgtm(const struct destination *d)
{
	return strcmp(d->ops->kind, "sgtm") == 0;
}

/* ---- client id ------------------------------------------------------------- */

/*
 * The conversion's client_id into out; returns whether it was derived.
 * Derived ids hash the most stable identity known (the customer id, then
 * the email, the phone, the order) into the cookie's "N.N" shape, so one
 * customer's orders keep one GA user and the same order always gets the
 * same id on a retry.
 */
static bool ga4_client_id(const struct conversion *c, char *out, size_t len)
{
	const char *const *g = (const char *const *)c->ids[PII_SCHEME_GOOGLE];
	const char *basis = NULL;
	char hex[PII_HASH_HEX_LEN + 1];
	char buf[512];
	unsigned long a, b;

	if (is_client_id(c->click[CLICK_GA_CLIENT_ID])) {
		snprintf(out, len, "%s", c->click[CLICK_GA_CLIENT_ID]);
		return false;
	}
	if (g[PII_EXTERNAL_ID])
		basis = g[PII_EXTERNAL_ID];
	else if (g[PII_EMAIL])
		basis = g[PII_EMAIL];
	else if (g[PII_PHONE])
		basis = g[PII_PHONE];
	else if (c->order_id)
		basis = c->order_id;
	else
		basis = c->event_id ? c->event_id : "";
	snprintf(buf, sizeof(buf), "adseng-client-id:%s", basis);
	pii_sha256_hex(buf, strlen(buf), hex);
	/* 8 hex digits each: a 32-bit "random" part and a second part, as
	 * the cookie's random.timestamp. */
	snprintf(buf, sizeof(buf), "%.8s", hex);
	a = strtoul(buf, NULL, 16);
	snprintf(buf, sizeof(buf), "%.8s", hex + 8);
	b = strtoul(buf, NULL, 16);
	snprintf(out, len, "%lu.%lu", a, b);
	return true;
}

/* dest_ops.batch_key: one request per client_id (one user). */
static void ga4_batch_key(const struct destination *d, const struct conversion *c, char *out,
			  size_t len)
{
	(void)d;
	ga4_client_id(c, out, len);
}

/* ---- settings -------------------------------------------------------------- */

static int validate_secret(const cJSON *creds, bool required, const char *kind, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(creds, "api_secret");

	if (v == NULL && !required)
		return 0;
	if (!cJSON_IsString(v) || !is_api_secret(v->valuestring))
		return err_set(e, ERR_CONFIG,
			       "%s: credentials need an api_secret (Admin > Data Streams > "
			       "Measurement Protocol API secrets): letters, digits, '_' and '-', "
			       "at most %d",
			       kind, GA4_SECRET_MAX);
	return 0;
}

static int ga4_validate(const cJSON *settings, const cJSON *creds, bool test_mode, struct err *e)
{
	const cJSON *v;

	(void)test_mode; /* test mode sends to the validation server: nothing to add */
	if (!cJSON_IsObject(settings))
		return err_set(e, ERR_CONFIG, "ga4: settings must be a JSON object");
	if (!is_measurement_id(dest_settings_str(settings, "measurement_id")))
		return err_set(e, ERR_CONFIG,
			       "ga4: the measurement id is required (--measurement-id G-XXXXXXX)");
	v = cJSON_GetObjectItemCaseSensitive(settings, "validate_sample");
	if (v && (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1)))
		return err_set(e, ERR_CONFIG,
			       "ga4: --validate-sample is a fraction from 0 to 1, e.g. 0.01");
	return validate_secret(creds, true, "ga4", e);
}

static int sgtm_validate(const cJSON *settings, const cJSON *creds, bool test_mode, struct err *e)
{
	const cJSON *v;
	const char *mid;

	(void)test_mode;
	if (!cJSON_IsObject(settings))
		return err_set(e, ERR_CONFIG, "sgtm: settings must be a JSON object");
	if (!is_container_url(dest_settings_str(settings, "url")))
		return err_set(
			e, ERR_CONFIG,
			"sgtm: the container URL is required (--url https://sgtm.example.com): "
			"http(s), no query or fragment");
	mid = dest_settings_str(settings, "measurement_id");
	if (cJSON_HasObjectItem(settings, "measurement_id") && !is_measurement_id(mid))
		return err_set(e, ERR_CONFIG, "sgtm: --measurement-id looks like G-XXXXXXX");
	v = cJSON_GetObjectItemCaseSensitive(settings, "gtm_preview");
	if (v && (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
		  !is_word(v->valuestring, GA4_PREVIEW_MAX, "+/=_-.")))
		return err_set(e, ERR_CONFIG,
			       "sgtm: --gtm-preview is the X-Gtm-Server-Preview header value from "
			       "the container's preview mode (a base64 word)");
	return validate_secret(creds, false, "sgtm", e);
}

/* ---- build: the body ------------------------------------------------------- */

/* key: [val] (user_data takes arrays of hashes). */
static void add_hash_array(cJSON *obj, const char *key, const char *val, bool *ok)
{
	cJSON *arr;

	if (!*ok || !is_hash(val))
		return;
	arr = cJSON_CreateArray();
	if (arr)
		json_attach(arr, NULL, cJSON_CreateString(val), ok);
	json_attach(obj, key, arr, ok);
}

/* user_data: Google scheme hashes; only 64-hex values leave as hashes, and
 * the address's clear fields only next to a hashed name. */
static void add_user_data(cJSON *root, const struct conversion *c, bool *ok)
{
	char *const *g = c->ids[PII_SCHEME_GOOGLE];
	cJSON *ud = cJSON_CreateObject();
	cJSON *addr;

	add_hash_array(ud, "sha256_email_address", g[PII_EMAIL], ok);
	add_hash_array(ud, "sha256_phone_number", g[PII_PHONE], ok);
	if (is_hash(g[PII_FIRST_NAME]) || is_hash(g[PII_LAST_NAME])) {
		cJSON *arr = cJSON_CreateArray();

		addr = cJSON_CreateObject();
		if (is_hash(g[PII_FIRST_NAME]))
			json_add_string(addr, "sha256_first_name", g[PII_FIRST_NAME], ok);
		if (is_hash(g[PII_LAST_NAME]))
			json_add_string(addr, "sha256_last_name", g[PII_LAST_NAME], ok);
		json_add_string(addr, "city", g[PII_CITY], ok);
		json_add_string(addr, "region", g[PII_REGION], ok);
		json_add_string(addr, "postal_code", g[PII_POSTAL], ok);
		json_add_string(addr, "country", g[PII_COUNTRY], ok);
		json_attach(arr, NULL, addr, ok);
		json_attach(ud, "address", arr, ok);
	}
	if (ud && cJSON_GetArraySize(ud) == 0) {
		cJSON_Delete(ud);
		return;
	}
	json_attach(root, "user_data", ud, ok);
}

/* "granted" → "GRANTED"; anything else unknown (NULL). */
static const char *consent_word(const char *v)
{
	if (v && strcmp(v, "granted") == 0)
		return "GRANTED";
	if (v && strcmp(v, "denied") == 0)
		return "DENIED";
	return NULL;
}

static void add_consent(cJSON *root, const struct conversion *c, bool *ok)
{
	const char *ud = consent_word(c->consent_ad_user_data);
	const char *ap = consent_word(c->consent_ad_personalization);
	cJSON *o;

	if (ud == NULL && ap == NULL)
		return;
	o = cJSON_CreateObject();
	json_add_string(o, "ad_user_data", ud, ok);
	json_add_string(o, "ad_personalization", ap, ok);
	json_attach(root, "consent", o, ok);
}

static void add_items(cJSON *params, const struct conversion *c, bool *ok)
{
	cJSON *items = cJSON_CreateArray();

	for (size_t i = 0; i < c->n_items && items && *ok; i++) {
		const struct conv_item *it = &c->items[i];
		cJSON *o;

		if (it->id == NULL && it->name == NULL)
			continue; /* GA4 needs one of them */
		o = cJSON_CreateObject();
		json_add_string(o, "item_id", it->id, ok);
		json_add_string(o, "item_name", it->name, ok);
		if (text_is_json_number(it->price, GA4_DECIMAL_MAX))
			json_add_raw(o, "price", it->price, ok);
		if (it->quantity > 0)
			json_add_int(o, "quantity", it->quantity, ok);
		json_attach(items, NULL, o, ok);
	}
	if (items && cJSON_GetArraySize(items) > 0)
		json_attach(params, "items", items, ok);
	else
		json_attach(NULL, NULL, items, ok); /* frees it, flags a failed create */
}

/* transaction_id: the order id, else our event id; never "" (GA4 would
 * dedupe every such purchase into one). */
static const char *transaction_id(const struct conversion *c)
{
	if (c->order_id && c->order_id[0])
		return c->order_id;
	return c->event_id && c->event_id[0] ? c->event_id : "unknown";
}

static cJSON *build_event(const struct conversion *c, bool with_items, bool *ok)
{
	cJSON *ev = cJSON_CreateObject();
	cJSON *params = cJSON_CreateObject();

	json_add_string(ev, "name", c->event ? c->event : "purchase", ok);
	json_add_string(params, "transaction_id", transaction_id(c), ok);
	if (text_is_json_number(c->value, GA4_DECIMAL_MAX))
		json_add_raw(params, "value", c->value, ok);
	json_add_string(params, "currency", c->currency, ok);
	if (with_items && c->n_items > 0 && params)
		add_items(params, c, ok);
	/* Without it GA4 counts no engaged user (reference, "events"). */
	json_add_int(params, "engagement_time_msec", 1, ok);
	json_attach(ev, "params", params, ok);
	if (ev == NULL)
		*ok = false;
	return ev;
}

/*
 * The whole body as JSON text (caller frees with cJSON_free), or NULL when
 * out of memory.  All convs share the client id (batch_key); the request's
 * timestamp_micros is the latest event's: one per request in the
 * reference, and the latest keeps every event inside the 72 h window.
 */
static char *build_body(const char *client_id, struct conversion *const *convs, size_t n,
			bool with_items)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *events = cJSON_CreateArray();
	const struct conversion *first = convs[0];
	const char *uid = first->ids[PII_SCHEME_GOOGLE][PII_EXTERNAL_ID];
	int64_t ts = 0;
	bool ok = root != NULL;
	char *text = NULL;

	for (size_t i = 0; i < n; i++)
		ts = convs[i]->occurred_us > ts ? convs[i]->occurred_us : ts;
	json_add_string(root, "client_id", client_id, &ok);
	/* The customer id, hashed by the Google scheme: an id, never PII. */
	if (is_hash(uid))
		json_add_string(root, "user_id", uid, &ok);
	if (ts > 0)
		json_add_int(root, "timestamp_micros", ts, &ok);
	add_consent(root, first, &ok);
	add_user_data(root, first, &ok);
	for (size_t i = 0; i < n && events && ok; i++)
		json_attach(events, NULL, build_event(convs[i], with_items, &ok), &ok);
	json_attach(root, "events", events, &ok);
	if (ok)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* ---- build: the request ------------------------------------------------------ */

/* base without trailing slashes, as a length. */
static int base_len(const char *base)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return (int)n;
}

/* The body for n conversions of one client id; dropped items if the full
 * body would break GA4's size limit (the purchase still counts). */
static char *body_for(struct conversion *const *convs, size_t n, bool *derived, struct err *e)
{
	char cid[GA4_CLIENT_ID_MAX + 1];
	char *body;

	*derived = ga4_client_id(convs[0], cid, sizeof(cid));
	body = build_body(cid, convs, n, true);
	if (body && strlen(body) >= GA4_MAX_BODY) {
		cJSON_free(body);
		body = build_body(cid, convs, n, false);
	}
	if (body == NULL)
		err_set(e, ERR_NOMEM, "out of memory building the request body");
	return body;
}

/*
 * Build one request for n conversions of one client id (batch_key), to
 * the validation server when debug.  req must be freshly initialized; it
 * is filled only on success.  ERR_CONFIG without a usable measurement id,
 * secret or URL; ERR_INVALID for a batch size out of 1..25; ERR_NOMEM.
 */
static int build_request(const struct destination *d, struct conversion *const *convs, size_t n,
			 bool debug, struct upload_req *req, struct err *e)
{
	const char *mid = dest_settings_str(d->settings, "measurement_id");
	const char *base = is_sgtm(d) ? dest_settings_str(d->settings, "url") : d->base_url;
	const char *path = debug ? GA4_DEBUG_PATH : GA4_PATH;
	const char *preview = dest_settings_str(d->settings, "gtm_preview");
	char *secret = NULL, *body = NULL;
	bool derived;
	int result = ERR_INVALID;

	if (n == 0 || n > GA4_MAX_BATCH) {
		err_set(e, ERR_INVALID, "%s: batch of %zu events (1..%d allowed)", d->kind, n,
			GA4_MAX_BATCH);
		goto out;
	}
	result = ERR_CONFIG;
	if (mid ? !is_measurement_id(mid) : !is_sgtm(d)) {
		err_set(e, ERR_CONFIG, "%s: destination has no valid settings.measurement_id",
			d->kind);
		goto out;
	}
	if (base == NULL || !(is_sgtm(d) ? is_container_url(base) : base[0] != '\0')) {
		err_set(e, ERR_CONFIG, "%s: destination has no base URL", d->kind);
		goto out;
	}
	result = dest_creds_secret(d->kind, d->creds, "api_secret", !is_sgtm(d), is_api_secret,
				   &secret, e);
	if (result < 0)
		goto out;
	body = body_for(convs, n, &derived, e);
	if (body == NULL) {
		result = ERR_NOMEM;
		goto out;
	}
	req->log_url = xasprintf("%.*s%s%s%s", base_len(base), base, path,
				 mid ? "?measurement_id=" : "", mid ? mid : "");
	if (secret)
		req->url = xasprintf("%s%sapi_secret=%s", req->log_url, mid ? "&" : "?", secret);
	else
		req->url = xstrdup(req->log_url);
	upload_req_add_header(req, "Content-Type: application/json");
	if (is_sgtm(d) && d->test_mode && preview)
		upload_req_add_header(req, "X-Gtm-Server-Preview: %s", preview);
	buf_puts(&req->body, body);
	result = 0;
out:
	dest_secret_free(secret);
	cJSON_free(body);
	return result;
}

/* dest_ops.build: the collect endpoint, or in test mode (ga4) the
 * validation server only. */
static int ga4_build(const struct destination *d, const char *access_token,
		     struct conversion *const *convs, size_t n, struct upload_req *req,
		     struct err *e)
{
	(void)access_token;
	return build_request(d, convs, n, !is_sgtm(d) && d->test_mode, req, e);
}

/* dest_ops.check_build: the same body to the validation server. */
static int ga4_check_build(const struct destination *d, const char *access_token,
			   struct conversion *const *convs, size_t n, struct upload_req *req,
			   struct err *e)
{
	(void)access_token;
	return build_request(d, convs, n, true, req, e);
}

/* ---- result ------------------------------------------------------------------- */

/*
 * Which event a fatal message is about: GA4 names it in the description
 * ("Event at index: [0] has invalid name …", validating-events page).
 * Without an index every event is marked: the request is what is wrong.
 */
static void mark_bad(const char *desc, bool *bad, size_t n)
{
	const char *p = desc ? strstr(desc, "index: [") : NULL;
	char *end = NULL;
	unsigned long i;

	if (bad == NULL)
		return;
	if (p) {
		p += strlen("index: [");
		i = (*p >= '0' && *p <= '9') ? strtoul(p, &end, 10) : n;
		if (i < n && end && *end == ']') {
			bad[i] = true;
			return;
		}
	}
	for (size_t k = 0; k < n; k++)
		bad[k] = true;
}

/*
 * Read a validation server answer into msg (one line: "CODE fieldPath:
 * description; …", empty when there are no messages); returns whether a
 * message makes the events invalid (VALUE_INVALID, NAME_INVALID: GA4 would
 * drop them), marking in bad[0..n) (may be NULL) the events they name.  A
 * body that is not such an answer yields "" and false.
 */
static bool ga4_validation_read(const char *body, size_t len, char *msg, size_t msglen, bool *bad,
				size_t n)
{
	cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "validationMessages");
	const cJSON *m;

	if (!cJSON_IsArray(arr))
		arr = NULL;
	struct buf b;
	bool fatal = false;

	buf_init(&b);
	cJSON_ArrayForEach (m, arr) {
		const char *code = json_str(m, "validationCode");
		const char *path = json_str(m, "fieldPath");
		const char *desc = json_str(m, "description");

		if (!cJSON_IsObject(m))
			continue;
		if (code &&
		    (strcmp(code, "VALUE_INVALID") == 0 || strcmp(code, "NAME_INVALID") == 0)) {
			fatal = true;
			mark_bad(desc, bad, n);
		}
		buf_printf(&b, "%s%s %s: %s", b.len ? "; " : "", code ? code : "?",
			   path ? path : "", desc ? desc : "");
	}
	text_copy_line(msg, msglen, b.data ? b.data : "");
	buf_cleanup(&b);
	cJSON_Delete(root);
	return fatal;
}

/* ga4: only 5xx retries (GA4 answers 2xx to anything it received); any
 * other non-2xx means the request itself is wrong (reference: "don't retry
 * the same request"). */
static enum outcome_kind classify_ga4(long status)
{
	if (status >= 200 && status <= 299)
		return OUTCOME_DELIVERED;
	if (status >= 500)
		return OUTCOME_RETRY;
	return OUTCOME_FAILED;
}

/* sgtm: a container answers like any HTTP service. */
static enum outcome_kind classify_sgtm(long status)
{
	if (status >= 200 && status <= 299)
		return OUTCOME_DELIVERED;
	if (status >= 500 || status == 429 || status == 408)
		return OUTCOME_RETRY;
	return OUTCOME_FAILED;
}

/* The per-conversion note of a delivered event: the derived client id. */
static void note_derived(const struct conversion *c, struct outcome *o)
{
	char cid[GA4_CLIENT_ID_MAX + 1];
	char tmp[sizeof(o->message)];

	if (c == NULL || !ga4_client_id(c, cid, sizeof(cid)))
		return;
	snprintf(tmp, sizeof(tmp), "%s %s: no _ga cookie%s%s", GA4_DERIVED_PREFIX, cid,
		 o->message[0] ? "; " : "", o->message);
	memcpy(o->message, tmp, sizeof(tmp));
}

/*
 * One outcome per conversion in out[0..n).  GA4 and sGTM answer for the
 * request as a whole; delivered events whose client id was derived carry
 * a note saying so.  resp and convs are borrowed.
 */
static void ga4_result(const struct destination *d, const struct upload_resp *resp,
		       struct conversion *const *convs, size_t n, struct outcome *out)
{
	enum outcome_kind kind;
	char msg[sizeof(out->message)] = "";
	char code[32] = "";

	if (outcome_fill_transport(resp, out, n))
		return;
	kind = is_sgtm(d) ? classify_sgtm(resp->status) : classify_ga4(resp->status);
	if (kind == OUTCOME_DELIVERED && !is_sgtm(d) && d->test_mode &&
	    ga4_validation_read(resp->body, resp->body_len, msg, sizeof(msg), NULL, n)) {
		kind = OUTCOME_FAILED;
		snprintf(code, sizeof(code), "validation");
	} else if (kind != OUTCOME_DELIVERED) {
		char raw[sizeof(msg)];

		snprintf(code, sizeof(code), "%ld", resp->status);
		snprintf(raw, sizeof(raw), "HTTP %ld%s%.*s", resp->status,
			 resp->body_len ? ": " : "", GA4_BODY_SNIPPET,
			 resp->body ? resp->body : "");
		text_copy_line(msg, sizeof(msg), raw);
	}
	outcome_fill(out, n, kind, kind == OUTCOME_RETRY ? resp->retry_after_s : -1, code, msg);
	for (size_t i = 0; i < n && kind == OUTCOME_DELIVERED && convs; i++)
		note_derived(convs[i], &out[i]);
}

/* settings.validate_sample, 0 when absent. */
static double sample_fraction(const cJSON *settings)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, "validate_sample");

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/*
 * dest_ops.check_wanted: the sampled fraction of requests, picked by a
 * hash of the first event's id rather than at random, so a retry of a
 * sampled request is sampled again and a test can ask for "all" (1.0).
 * Test mode sends to the validation server anyway.
 */
static bool ga4_check_wanted(const struct destination *d, struct conversion *const *convs, size_t n)
{
	double f = sample_fraction(d->settings);
	char hex[PII_HASH_HEX_LEN + 1];
	char head[9];
	const char *id;

	if (d->test_mode || n == 0 || f <= 0)
		return false;
	if (f >= 1)
		return true;
	id = convs[0]->event_id ? convs[0]->event_id : "";
	pii_sha256_hex(id, strlen(id), hex);
	snprintf(head, sizeof(head), "%.8s", hex);
	return (double)strtoul(head, NULL, 16) / 4294967296.0 < f;
}

/*
 * dest_ops.check_result: the validation server's answer.  Events named by
 * a VALUE_INVALID / NAME_INVALID message fail with the messages; the
 * others go, the messages (if any) as their warning.  An answer that is
 * not the validation server's (transport, non-2xx) lets them all go
 * silently: the check is a sample, not a gate.
 */
static void ga4_check_result(const struct destination *d, const struct upload_resp *resp,
			     struct conversion *const *convs, size_t n, struct outcome *out)
{
	char msg[sizeof(out->message)] = "";
	char note[sizeof(out->message)];
	bool *bad = xcalloc(n ? n : 1, sizeof(*bad));

	(void)d;
	(void)convs;
	if (!resp->transport_error && resp->status >= 200 && resp->status <= 299)
		ga4_validation_read(resp->body, resp->body_len, msg, sizeof(msg), bad, n);
	snprintf(note, sizeof(note), "%s%s", msg[0] ? "validation: " : "", msg);
	outcome_fill(out, n, OUTCOME_DELIVERED, -1, "", note);
	for (size_t i = 0; i < n; i++) {
		if (!bad[i])
			continue;
		out[i].kind = OUTCOME_FAILED;
		snprintf(out[i].platform_code, sizeof(out[i].platform_code), "validation");
	}
	free(bad);
}

/* `--validate-sample 0.01` arrives as a string: store the number. */
static int ga4_prepare_settings(cJSON *settings, struct err *e)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, "validate_sample");
	cJSON *num;
	char *end;
	double f;

	if (!cJSON_IsString(v))
		return 0;
	f = strtod(v->valuestring, &end);
	if (end == v->valuestring || *end != '\0')
		return err_set(e, ERR_CONFIG,
			       "ga4: --validate-sample is a fraction from 0 to 1, e.g. 0.01");
	num = cJSON_CreateNumber(f);
	if (num == NULL ||
	    !cJSON_ReplaceItemInObjectCaseSensitive(settings, "validate_sample", num)) {
		cJSON_Delete(num);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

/*
 * dest_ops.test_prepare of sgtm: test mode sends the container's preview
 * header when one is known (opts first, else --gtm-preview), so the
 * request shows in the container's preview; without one it is an ordinary
 * request (a container has no dry run).
 */
static int sgtm_test_prepare(struct destination *d, const struct dest_test_opts *o, struct err *e)
{
	d->test_mode = true;
	if (o == NULL || o->gtm_preview == NULL)
		return 0;
	if (!is_word(o->gtm_preview, GA4_PREVIEW_MAX, "+/=_-."))
		return err_set(e, ERR_CONFIG,
			       "sgtm: --gtm-preview is the X-Gtm-Server-Preview header value from "
			       "the container's preview mode (a base64 word)");
	return dest_settings_set_str(d->settings, "gtm_preview", o->gtm_preview, e);
}

/*
 * dest_ops.test_note of sgtm: a 2xx with an empty body is what a container
 * answers when no client claims the path (issue 8): the request went
 * nowhere, though nothing failed.  A container whose GA4 client took it
 * may answer the same, so this is a warning to check the preview, not an
 * error.
 */
static void sgtm_test_note(const struct destination *d, const struct upload_resp *resp, char *out,
			   size_t len)
{
	(void)d;
	out[0] = '\0';
	if (!resp->transport_error && resp->status >= 200 && resp->status <= 299 &&
	    resp->body_len == 0)
		snprintf(out, len,
			 "the container answered %ld with an empty body: unless its preview shows "
			 "the event, no client claims %s (add a GA4 client to the container)",
			 resp->status, GA4_PATH);
}

/* Daemon-wide settings of this kind; registered by dest.c. */
static const struct config_platform_key ga4_config_keys[] = {
	{ .section = "endpoints",
	  .name = "ga4",
	  .def = "https://www.google-analytics.com",
	  .help = "GA4 Measurement Protocol base URL",
	  .type = CONFIG_P_URL,
	  .reloadable = true },
};

const struct dest_ops ga4_dest_ops = {
	.kind = "ga4",
	.endpoint_key = "ga4",
	.config_keys = ga4_config_keys,
	.n_config_keys = sizeof(ga4_config_keys) / sizeof(ga4_config_keys[0]),
	.max_batch = GA4_MAX_BATCH,
	.max_age_s = GA4_MAX_AGE_S,
	.prepare_settings = ga4_prepare_settings,
	.validate = ga4_validate,
	.batch_key = ga4_batch_key,
	.check_wanted = ga4_check_wanted,
	.check_build = ga4_check_build,
	.check_result = ga4_check_result,
	/* One user per request, so requests are small and many; GA4 answers
	 * at once and has no documented request rate limit.  16 lets a
	 * worker's slots go to GA4 when nothing else is waiting. */
	.default_max_inflight = 16,
	/* The validation server only (test mode): nothing is collected. */
	.test_prepare = dest_test_prepare_test_mode,
	.build = ga4_build,
	.result = ga4_result,
};

/* sgtm sends to settings.url; its endpoint_key only satisfies the loader,
 * which wants every kind to have a base URL. */
const struct dest_ops sgtm_dest_ops = {
	.kind = "sgtm",
	.endpoint_key = "ga4",
	.config_keys = ga4_config_keys,
	.n_config_keys = sizeof(ga4_config_keys) / sizeof(ga4_config_keys[0]),
	.max_batch = GA4_MAX_BATCH,
	.max_age_s = GA4_MAX_AGE_S,
	.validate = sgtm_validate,
	.batch_key = ga4_batch_key,
	/* As ga4: small per-user requests, to the agency's own container,
	 * which scales with its instances. */
	.default_max_inflight = 16,
	.test_prepare = sgtm_test_prepare,
	.test_note = sgtm_test_note,
	.build = ga4_build,
	.result = ga4_result,
};
