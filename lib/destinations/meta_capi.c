/*
 * meta_capi.c - the Meta Conversions API destination: a batch of canonical
 * conversions becomes one POST to {base}/{version}/{pixel_id}/events, and
 * Meta's answer becomes one outcome per conversion.
 *
 * Wire facts are in PLATFORMS.md ("Meta Conversions API"); details it does
 * not pin down cite Meta's pages where they are used.  Meta has no partial
 * failure: a 400 rejects the whole batch, so the classifier answers SPLIT
 * and the pipeline bisects until the bad events stand alone and fail.
 *
 * Both entry points are pure (no network, no globals) and may be called
 * from any thread.  The access token (and the optional app secret) are
 * read from the destination's credentials JSON for the duration of build()
 * only, and every copy this file makes of them is wiped before it is
 * freed.  The token travels in the request body, never in the URL, where
 * proxies and load balancers log it.
 */
#include "destinations/dest.h"
#include "core/config.h"
#include "core/form.h"
#include "core/clock.h"
#include "core/json_build.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_MAX_BATCH	    1000
#define META_MAX_AGE_S	    (7 * 24 * 3600)
#define META_PIXEL_ID_MAX   32
#define META_TOKEN_MAX	    4096
#define META_SECRET_MAX	    256
#define META_PROOF_HEX	    (2 * crypto_auth_hmacsha256_BYTES)
#define META_DECIMAL_MAX    40
#define META_BODY_SNIPPET   120
#define META_CODE_MAX	    1000000000L
#define META_TEC_MAX	    128
#define META_SUBCODE_ABSENT (-1L)

/* Canonical event names (DESIGN §4) → Meta standard events; anything else
 * is sent unchanged as a custom event. */
static const struct {
	const char *canonical;
	const char *meta;
} event_names[] = {
	{ "purchase", "Purchase" },
	{ "begin_checkout", "InitiateCheckout" },
	{ "lead", "Lead" },
	{ "add_to_cart", "AddToCart" },
	{ "complete_registration", "CompleteRegistration" },
	{ "view_content", "ViewContent" },
};

/* user_data keys, all hashed (PLATFORMS.md; Meta's customer information
 * parameters:
 * https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters).
 * Kept here rather than borrowed from pii.h: they are this wire format's
 * names, and Meta accepts each as an array of strings. */
static const char *const user_keys[PII_FIELD__COUNT] = {
	[PII_EMAIL] = "em",	[PII_PHONE] = "ph",	   [PII_FIRST_NAME] = "fn",
	[PII_LAST_NAME] = "ln", [PII_CITY] = "ct",	   [PII_REGION] = "st",
	[PII_POSTAL] = "zp",	[PII_COUNTRY] = "country", [PII_EXTERNAL_ID] = "external_id",
};

/* The action_source values Meta accepts:
 * https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/server-event
 */
static const char *const action_sources[] = {
	"email",
	"website",
	"app",
	"phone_call",
	"chat",
	"physical_store",
	"system_generated",
	"business_messaging",
	"other",
};

/* Graph error codes that mean "try again later" (throttling, downtime). */
static const long retry_codes[] = { 1, 2, 4, 17, 341, 613 };

/* What result() reads from Meta's error object; strings borrow the tree. */
struct meta_error {
	long code;    /* -1 when absent */
	long subcode; /* META_SUBCODE_ABSENT when absent */
	bool transient;
	bool graph; /* the body is a Graph API error object */
	const char *message;
	const char *user_msg;
	const char *fbtrace_id;
};

/* ---- small predicates ------------------------------------------------- */

/* "v24.0": a 'v', digits, a dot, digits. */
static bool is_api_version(const char *s)
{
	const char *dot;
	char major[8];

	if (s == NULL || s[0] != 'v')
		return false;
	dot = strchr(s, '.');
	if (dot == NULL || dot - (s + 1) < 1 || (size_t)(dot - (s + 1)) >= sizeof(major))
		return false;
	memcpy(major, s + 1, (size_t)(dot - (s + 1)));
	major[dot - (s + 1)] = '\0';
	return text_is_digits(major, sizeof(major)) && text_is_digits(dot + 1, 4);
}

static bool is_action_source(const char *s)
{
	for (size_t i = 0; i < sizeof(action_sources) / sizeof(action_sources[0]); i++) {
		if (strcmp(s, action_sources[i]) == 0)
			return true;
	}
	return false;
}

static bool is_retry_code(long code)
{
	for (size_t i = 0; i < sizeof(retry_codes) / sizeof(retry_codes[0]); i++) {
		if (code == retry_codes[i])
			return true;
	}
	return false;
}

static const char *meta_event_name(const char *canonical)
{
	if (canonical == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++) {
		if (strcmp(canonical, event_names[i].canonical) == 0)
			return event_names[i].meta;
	}
	return canonical;
}

/* ---- validate ---------------------------------------------------------- */

static int meta_validate(const cJSON *settings, const cJSON *creds, bool test_mode, struct err *e)
{
	const cJSON *v;

	if (!cJSON_IsObject(settings))
		return err_set(e, ERR_CONFIG, "meta_capi: settings must be a JSON object");
	if (!text_is_digits(dest_settings_str(settings, "pixel_id"), META_PIXEL_ID_MAX))
		return err_set(e, ERR_CONFIG,
			       "meta_capi: settings.pixel_id is required: a string of digits");
	v = cJSON_GetObjectItemCaseSensitive(settings, "test_event_code");
	if (v && (!cJSON_IsString(v) || v->valuestring[0] == '\0'))
		return err_set(e, ERR_CONFIG,
			       "meta_capi: settings.test_event_code must be a non-empty string");
	/* Test mode lets test orders through; without a test_event_code Meta
	 * would count them as real purchases.  And a test_event_code makes
	 * every event of the destination a test event that Meta does not count:
	 * outside test mode that would quietly lose real conversions, so the
	 * two go together. */
	if (test_mode && v == NULL)
		return err_set(e, ERR_CONFIG,
			       "meta_capi: test mode needs a test event code (--test-event-code)");
	if (!test_mode && v != NULL)
		return err_set(e, ERR_CONFIG,
			       "meta_capi: a test event code makes every event a test event that "
			       "Meta does not count; add --test-mode to say so");
	v = cJSON_GetObjectItemCaseSensitive(settings, "api_version");
	if (v && (!cJSON_IsString(v) || !is_api_version(v->valuestring)))
		return err_set(e, ERR_CONFIG,
			       "meta_capi: settings.api_version must look like \"v24.0\"");
	v = cJSON_GetObjectItemCaseSensitive(settings, "action_source");
	if (v && (!cJSON_IsString(v) || !is_action_source(v->valuestring)))
		return err_set(e, ERR_CONFIG,
			       "meta_capi: settings.action_source must be one of Meta's values "
			       "(website, system_generated, physical_store, …)");
	v = cJSON_GetObjectItemCaseSensitive(creds, "access_token");
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
		return err_set(e, ERR_CONFIG,
			       "meta_capi: credentials need a non-empty access_token string");
	if (strlen(v->valuestring) > META_TOKEN_MAX)
		return err_set(e, ERR_CONFIG, "meta_capi: access_token is longer than %d bytes",
			       META_TOKEN_MAX);
	v = cJSON_GetObjectItemCaseSensitive(creds, "app_secret");
	if (v && (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
		  strlen(v->valuestring) > META_SECRET_MAX))
		return err_set(e, ERR_CONFIG,
			       "meta_capi: credentials.app_secret must be a non-empty string of at "
			       "most %d bytes",
			       META_SECRET_MAX);
	return 0;
}

/* ---- build: the token and the URL ---------------------------------------- */

static bool is_meta_token(const char *s)
{
	return strlen(s) <= META_TOKEN_MAX;
}

static bool is_meta_secret(const char *s)
{
	return strlen(s) <= META_SECRET_MAX;
}

/* The access token and, when the credentials have one, the app secret
 * (NULL when absent; caller frees both with dest_secret_free). */
static int read_creds(const char *creds, char **token, char **secret, struct err *e)
{
	int rc = dest_creds_secret("meta_capi", creds, "access_token", true, is_meta_token, token,
				   e);

	if (rc == 0) {
		rc = dest_creds_secret("meta_capi", creds, "app_secret", false, is_meta_secret,
				       secret, e);
		if (rc != 0) {
			dest_secret_free(*token);
			*token = NULL;
		}
	}
	return rc;
}

/*
 * appsecret_proof: the lowercase hex HMAC-SHA256 of the access token keyed
 * with the app secret (https://developers.facebook.com/docs/graph-api/guides/secure-requests).
 * out receives META_PROOF_HEX digits and a NUL.  The MAC state is wiped.
 */
static void appsecret_proof(const char *token, const char *secret, char out[META_PROOF_HEX + 1])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, strlen(token));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, META_PROOF_HEX + 1, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(mac, sizeof(mac));
}

/*
 * The events edge
 * (https://developers.facebook.com/documentation/ads-commerce/conversions-api/using-the-api):
 * POST {base}/{version}/{pixel}/events.  No query string: the token goes
 * in the body (see build_form), so url and log_url are the same.
 */
static void build_urls(const struct destination *d, const char *pixel, struct upload_req *req)
{
	size_t base_len = strlen(d->base_url);

	while (base_len > 0 && d->base_url[base_len - 1] == '/')
		base_len--;
	req->log_url =
		xasprintf("%.*s/%s/%s/events", (int)base_len, d->base_url, d->api_version, pixel);
	req->url = xstrdup(req->log_url);
}

/*
 * The request body, application/x-www-form-urlencoded:
 *   data=<JSON array>[&test_event_code=…]&access_token=…[&appsecret_proof=…]
 * Meta's own example of the events edge sends data and access_token as
 * form fields (curl -F, using-the-api page above); a JSON body carrying
 * access_token is not documented, a form body is.  The buffer is sized
 * first and the values are encoded straight into it, so neither a realloc
 * nor a temporary leaves an unwiped copy of the token; upload_req_cleanup
 * wipes the body.
 */
static void build_form(struct upload_req *req, const char *data_json, const char *tec,
		       const char *token, const char *proof)
{
	struct buf *b = &req->body;
	size_t need = strlen("data=") + form_encoded_len(data_json) + strlen("&access_token=") +
		      form_encoded_len(token);

	if (tec)
		need += strlen("&test_event_code=") + form_encoded_len(tec);
	if (proof)
		need += strlen("&appsecret_proof=") + strlen(proof);
	buf_reserve(b, need);
	buf_puts(b, "data=");
	form_put(b, data_json);
	if (tec) {
		buf_puts(b, "&test_event_code=");
		form_put(b, tec);
	}
	buf_puts(b, "&access_token=");
	form_put(b, token);
	if (proof) {
		buf_puts(b, "&appsecret_proof=");
		buf_puts(b, proof);
	}
}

/* ---- build: the JSON body ------------------------------------------------ */

static void add_user_data(cJSON *ev, const struct conversion *c, bool *ok)
{
	cJSON *ud = cJSON_CreateObject();

	for (int f = 0; f < PII_FIELD__COUNT && ud; f++) {
		const char *h = c->ids[PII_SCHEME_META][f];

		if (h && text_is_sha256_hex(h))
			json_add_string_array1(ud, user_keys[f], h, ok);
	}
	json_add_string(ud, "client_ip_address", c->client_ip, ok);
	json_add_string(ud, "client_user_agent", c->user_agent, ok);
	json_add_string(ud, "fbc", c->click[CLICK_FBC], ok);
	json_add_string(ud, "fbp", c->click[CLICK_FBP], ok);
	/* Always present, even empty: Meta requires the object. */
	json_attach(ev, "user_data", ud, ok);
}

static int64_t add_saturating(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* contents, content_ids, content_type and num_items from the line items.
 * Items without an id cannot be matched to a catalog and are left out of
 * contents, but still count in num_items. */
static void add_contents(cJSON *cd, const struct conversion *c, bool *ok)
{
	cJSON *contents = cJSON_CreateArray();
	cJSON *ids = cJSON_CreateArray();
	int64_t num_items = 0;

	for (size_t i = 0; i < c->n_items && contents && ids && *ok; i++) {
		const struct conv_item *it = &c->items[i];
		cJSON *o;

		if (it->quantity > 0)
			num_items = add_saturating(num_items, it->quantity);
		if (it->id == NULL)
			continue;
		o = cJSON_CreateObject();
		json_add_string(o, "id", it->id, ok);
		if (it->quantity > 0)
			json_add_int(o, "quantity", it->quantity, ok);
		if (text_is_json_number(it->price, META_DECIMAL_MAX))
			json_add_raw(o, "item_price", it->price, ok);
		json_attach(contents, NULL, o, ok);
		json_attach(ids, NULL, cJSON_CreateString(it->id), ok);
	}
	if (contents && cJSON_GetArraySize(contents) > 0) {
		json_attach(cd, "contents", contents, ok);
		json_attach(cd, "content_ids", ids, ok);
		json_add_string(cd, "content_type", "product", ok);
	} else {
		json_attach(NULL, NULL, contents, ok); /* frees it, flags a failed create */
		json_attach(NULL, NULL, ids, ok);
	}
	if (num_items > 0)
		json_add_int(cd, "num_items", num_items, ok);
}

static void add_custom_data(cJSON *ev, const struct conversion *c, bool *ok)
{
	bool has_value = text_is_json_number(c->value, META_DECIMAL_MAX);
	cJSON *cd;

	if (!has_value && c->currency == NULL && c->order_id == NULL && c->n_items == 0)
		return;
	cd = cJSON_CreateObject();
	/* A malformed value is left out rather than guessed at: Meta then
	 * rejects a Purchase without one, and bisection fails only it. */
	if (has_value)
		json_add_raw(cd, "value", c->value, ok);
	json_add_string(cd, "currency", c->currency, ok);
	json_add_string(cd, "order_id", c->order_id, ok);
	if (c->n_items > 0)
		add_contents(cd, c, ok);
	if (cd && cJSON_GetArraySize(cd) == 0) {
		cJSON_Delete(cd);
		return;
	}
	json_attach(ev, "custom_data", cd, ok);
}

/*
 * settings.action_source wins.  Otherwise "website" needs both the page URL
 * and the browser's user agent, which Meta requires of website events
 * (https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters):
 * without them the event is reported as "system_generated" rather than
 * sent to be rejected.
 */
static const char *event_action_source(const struct destination *d, const struct conversion *c)
{
	const char *set = dest_settings_str(d->settings, "action_source");

	if (set && set[0] != '\0')
		return set;
	if (c->page_url && c->user_agent)
		return "website";
	return "system_generated";
}

static cJSON *build_event(const struct destination *d, const struct conversion *c, bool *ok)
{
	cJSON *ev = cJSON_CreateObject();

	if (ev == NULL) {
		*ok = false;
		return NULL;
	}
	json_add_string(ev, "event_name", meta_event_name(c->event), ok);
	json_add_int(ev, "event_time", clock_us_to_s(c->occurred_us), ok);
	json_add_string(ev, "event_id", c->event_id, ok);
	json_add_string(ev, "action_source", event_action_source(d, c), ok);
	json_add_string(ev, "event_source_url", c->page_url, ok);
	add_user_data(ev, c, ok);
	add_custom_data(ev, c, ok);
	return ev;
}

/* The events as a JSON array, as text (caller frees with cJSON_free), or
 * NULL when out of memory. */
static char *build_data(const struct destination *d, struct conversion *const *convs, size_t n)
{
	cJSON *data = cJSON_CreateArray();
	bool ok = data != NULL;
	char *text = NULL;

	for (size_t i = 0; i < n && data && ok; i++)
		json_attach(data, NULL, build_event(d, convs[i], &ok), &ok);
	if (ok)
		text = cJSON_PrintUnformatted(data);
	cJSON_Delete(data);
	return text;
}

/*
 * Build one request for n conversions.  req must be freshly initialized
 * (upload_req_init); it is filled only on success.  The conversions and d
 * are borrowed.  ERR_CONFIG when the destination lacks pixel_id, the
 * token, base_url or api_version, or has an unusable app_secret;
 * ERR_INVALID for a batch size out of 1..max_batch; ERR_NOMEM when the
 * body could not be built.  access_token is unused: Meta's token is the
 * destination's own credential.
 */
static int meta_build(const struct destination *d, const char *access_token,
		      struct conversion *const *convs, size_t n, struct upload_req *req,
		      struct err *e)
{
	const char *pixel = dest_settings_str(d->settings, "pixel_id");
	const char *tec = dest_settings_str(d->settings, "test_event_code");
	char *token = NULL;
	char *secret = NULL;
	char *data = NULL;
	char proof[META_PROOF_HEX + 1];
	int result = ERR_INVALID;

	(void)access_token;

	if (n == 0 || n > META_MAX_BATCH) {
		err_set(e, ERR_INVALID, "meta_capi: batch of %zu events (1..%d allowed)", n,
			META_MAX_BATCH);
		goto out;
	}
	result = ERR_CONFIG;
	if (!text_is_digits(pixel, META_PIXEL_ID_MAX)) {
		err_set(e, ERR_CONFIG, "meta_capi: destination has no valid settings.pixel_id");
		goto out;
	}
	if (d->base_url == NULL || d->base_url[0] == '\0' || !is_api_version(d->api_version)) {
		err_set(e, ERR_CONFIG,
			"meta_capi: destination needs a base URL and an API "
			"version like \"v24.0\"");
		goto out;
	}
	result = read_creds(d->creds, &token, &secret, e);
	if (result < 0)
		goto out;
	data = build_data(d, convs, n);
	if (data == NULL) {
		result =
			err_set(e, ERR_NOMEM, "meta_capi: out of memory building the request body");
		goto out;
	}
	if (secret)
		appsecret_proof(token, secret, proof);
	build_urls(d, pixel, req);
	upload_req_add_header(req, "Content-Type: application/x-www-form-urlencoded");
	build_form(req, data, tec && tec[0] != '\0' ? tec : NULL, token, secret ? proof : NULL);
	result = 0;
out:
	sodium_memzero(proof, sizeof(proof));
	dest_secret_free(token);
	dest_secret_free(secret);
	cJSON_free(data);
	return result;
}

/* ---- result ------------------------------------------------------------ */

/* Fill me from {"error": {...}}; *tree receives the parsed body (caller
 * deletes), NULL when the body is not JSON. */
static void parse_error(const struct upload_resp *resp, struct meta_error *me, cJSON **tree)
{
	const cJSON *err;
	long sub;

	memset(me, 0, sizeof(*me));
	me->code = -1;
	me->subcode = META_SUBCODE_ABSENT;
	*tree = NULL;
	if (resp->body == NULL || resp->body_len == 0)
		return;
	*tree = cJSON_ParseWithLength(resp->body, resp->body_len);
	err = cJSON_GetObjectItemCaseSensitive(*tree, "error");
	if (!cJSON_IsObject(err))
		return;
	me->graph = true;
	me->code = json_code(cJSON_GetObjectItemCaseSensitive(err, "code"), META_CODE_MAX);
	sub = json_code(cJSON_GetObjectItemCaseSensitive(err, "error_subcode"), META_CODE_MAX);
	if (sub >= 0)
		me->subcode = sub;
	me->transient = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(err, "is_transient"));
	me->message = json_str(err, "message");
	me->user_msg = json_str(err, "error_user_msg");
	me->fbtrace_id = json_str(err, "fbtrace_id");
}

/*
 * PLATFORMS.md's rules, in order of precedence: anything transient (Meta's
 * own flag, throttling codes, 408/429/5xx) is retried; token and permission
 * problems (190, 10, 200–299, 401/403) pause the destination; any other
 * non-2xx is Meta rejecting the batch, which is bisected down to the
 * single event that then fails.  Code 100 with subcode 33 ("object does
 * not exist or missing permissions") is a wrong pixel id or a token
 * without access to it: every event would fail, so it pauses too
 * (https://developers.facebook.com/docs/graph-api/guides/error-handling).
 * 1xx/3xx are not Meta's answers (a proxy, a wrong base URL) and retry,
 * and so does a 4xx without a Graph error object: a proxy's 400 or a wrong
 * [endpoints] meta must not fail good events for ever — they retry with
 * backoff and stay visible (last_error) until someone fixes the URL.
 */
static enum outcome_kind classify(long status, const struct meta_error *me, size_t n)
{
	if (me->transient || is_retry_code(me->code) || status == 408 || status == 429 ||
	    status >= 500)
		return OUTCOME_RETRY;
	if (me->code == 190 || me->code == 10 || (me->code >= 200 && me->code <= 299) ||
	    (me->code == 100 && me->subcode == 33) || status == 401 || status == 403)
		return OUTCOME_PAUSE;
	if (status < 400 || !me->graph)
		return OUTCOME_RETRY;
	return n > 1 ? OUTCOME_SPLIT : OUTCOME_FAILED;
}

/* The outcome message: Meta's message and user message, else the HTTP
 * status and the start of the body; the fbtrace id for Meta support. */
static void describe(const struct upload_resp *resp, const struct meta_error *me, char *out,
		     size_t outlen)
{
	struct buf b;

	buf_init(&b);
	if (me->message)
		buf_puts(&b, me->message);
	else
		buf_printf(&b, "HTTP %ld", resp->status);
	if (me->user_msg)
		buf_printf(&b, ": %s", me->user_msg);
	if (me->message == NULL && resp->body && resp->body_len > 0)
		buf_printf(&b, ": %.*s", META_BODY_SNIPPET, resp->body);
	if (me->fbtrace_id)
		buf_printf(&b, " (fbtrace_id %s)", me->fbtrace_id);
	text_copy_line(out, outlen, b.data ? b.data : "");
	buf_cleanup(&b);
}

/*
 * One outcome per conversion in out[0..n).  Meta answers for the batch as
 * a whole, so every outcome is the same.  resp is borrowed; convs are not
 * looked at (no per-event errors to map).
 */
static void meta_result(const struct destination *d, const struct upload_resp *resp,
			struct conversion *const *convs, size_t n, struct outcome *out)
{
	struct meta_error me;
	enum outcome_kind kind;
	cJSON *tree = NULL;
	char code[32] = "";
	char msg[sizeof(out->message)];

	(void)d;
	(void)convs;
	if (outcome_fill_transport(resp, out, n))
		return;
	if (resp->status >= 200 && resp->status <= 299) {
		outcome_fill(out, n, OUTCOME_DELIVERED, -1, "", "");
		return;
	}
	parse_error(resp, &me, &tree);
	kind = classify(resp->status, &me, n);
	if (me.code >= 0 && me.subcode != META_SUBCODE_ABSENT)
		snprintf(code, sizeof(code), "%ld/%ld", me.code, me.subcode);
	else if (me.code >= 0)
		snprintf(code, sizeof(code), "%ld", me.code);
	describe(resp, &me, msg, sizeof(msg));
	outcome_fill(out, n, kind, kind == OUTCOME_RETRY ? resp->retry_after_s : -1, code, msg);
	cJSON_Delete(tree);
}

/* Daemon-wide settings of this kind; registered by dest.c. */
static const struct config_platform_key meta_config_keys[] = {
	{ .section = "meta",
	  .name = "api_version",
	  .def = "v24.0",
	  .help = "Graph API version for destinations that do not set --api-version" },
	{ .section = "endpoints",
	  .name = "meta",
	  .def = "https://graph.facebook.com",
	  .help = "Meta Graph API base URL",
	  .type = CONFIG_P_URL,
	  .reloadable = true },
};

/*
 * `destination test`: a test event code makes the synthetic purchase a test
 * event (Events Manager > Test events), which Meta shows but does not count
 * (https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api#testEvents).
 * Without one the purchase would be counted: refused.
 */
static int meta_test_prepare(struct destination *d, const struct dest_test_opts *o, struct err *e)
{
	const char *tec = o && o->test_event_code
				  ? o->test_event_code
				  : dest_settings_str(d->settings, "test_event_code");

	if (tec == NULL || tec[0] == '\0' || !text_is_clean(tec, META_TEC_MAX))
		return err_set(e, ERR_CONFIG,
			       "meta_capi: without a test event code Meta would count the test "
			       "purchase; give --test-event-code (Events Manager > the pixel > "
			       "Test events)");
	d->test_mode = true;
	return dest_settings_set_str(d->settings, "test_event_code", tec, e);
}

const struct dest_ops meta_capi_dest_ops = {
	.kind = "meta_capi",
	.endpoint_key = "meta",
	.config_keys = meta_config_keys,
	.n_config_keys = sizeof(meta_config_keys) / sizeof(meta_config_keys[0]),
	.api_version_key = &meta_config_keys[0],
	.max_batch = META_MAX_BATCH,
	.max_age_s = META_MAX_AGE_S,
	.validate = meta_validate,
	/* Meta takes 1000 events a request and answers in well under a
	 * second; 4 requests are 4000 events in flight, and keep half of a
	 * worker's default 8 slots for the other platforms when Meta slows
	 * down. */
	.default_max_inflight = 4,
	.test_prepare = meta_test_prepare,
	.build = meta_build,
	.result = meta_result,
};
