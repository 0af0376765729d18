/*
 * tiktok.c - the TikTok Events API 2.0 destination: a batch of canonical
 * conversions becomes one POST to {base}/open_api/v1.3/event/track/, and
 * TikTok's answer becomes one outcome per conversion.
 *
 * Wire facts are in PLATFORMS.md ("TikTok Events API 2.0"); the request
 * follows TikTok's own example of the endpoint (Events API 2.0, web events:
 * https://business-api.tiktok.com/portal/docs?id=1771101303391745): header
 * Access-Token, a JSON body {event_source: "web", event_source_id: pixel
 * code, data: [...]}.  Identifiers leave only as the TikTok scheme's
 * SHA-256 hashes (core/pii.h: email trimmed and lower-cased, phone E.164
 * with '+', external_id).
 *
 * TikTok answers errors with HTTP 200 and a non-zero "code"
 * ({"code","message","request_id"}); the codes are the Business API's
 * common ones (40100 rate limit, 40001/40002 refused request, 40105 bad
 * token, 5xxxx TikTok's side).  TikTok documents no partial failure: a bad
 * event rejects the request, so the classifier answers SPLIT and the
 * pipeline bisects until the bad event stands alone and fails, as for Meta.
 *
 * Event names are mapped from the canonical ones by a table that settings
 * may override per destination (settings.event_map, `--event-map`), since
 * which of CompletePayment and Purchase TikTok counts is not settled
 * (PLATFORMS.md).  A conversion whose event has no mapping is not sent
 * (accepts): TikTok would reject it and take its batch down with it.
 *
 * All entry points are pure (no network, no globals) and may be called
 * from any thread.  The access token is read from the credentials JSON for
 * the duration of build() only; it travels in a header, never in the URL,
 * and every copy made here is wiped (upload_req_cleanup wipes the header).
 */
#include "destinations/dest.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json_build.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIKTOK_MAX_BATCH    1000
#define TIKTOK_MAX_AGE_S    (7 * 24 * 3600) /* unconfirmed (PLATFORMS.md): Meta's */
#define TIKTOK_PIXEL_MAX    64
#define TIKTOK_TOKEN_MAX    4096
#define TIKTOK_TEC_MAX	    128
#define TIKTOK_EVENT_MAX    64
#define TIKTOK_MAP_MAX	    64 /* entries in settings.event_map */
#define TIKTOK_DECIMAL_MAX  40
#define TIKTOK_BODY_SNIPPET 120
#define TIKTOK_PATH	    "/open_api/v1.3/event/track/"
#define TIKTOK_CODE_RATE    40100L
#define TIKTOK_CODE_TOKEN   40105L
#define TIKTOK_CODE_MAX	    999999999L

/* Canonical event names (DESIGN §4) → TikTok standard events, unless the
 * destination's settings.event_map says otherwise. */
static const struct {
	const char *canonical;
	const char *tiktok;
} default_events[] = {
	{ "purchase", "CompletePayment" },
	{ "lead", "SubmitForm" },
	{ "begin_checkout", "InitiateCheckout" },
	{ "add_to_cart", "AddToCart" },
	{ "complete_registration", "CompleteRegistration" },
	{ "view_content", "ViewContent" },
	{ "contact", "Contact" },
};

/* user keys of the hashed identifiers; the TikTok scheme carries no
 * others (pii_scheme_carries). */
static const struct {
	enum pii_field field;
	const char *key;
} user_ids[] = {
	{ PII_EMAIL, "email" },
	{ PII_PHONE, "phone" },
	{ PII_EXTERNAL_ID, "external_id" },
};

/* What result() reads from TikTok's answer; strings borrow the tree. */
struct tiktok_answer {
	bool json; /* the body is a JSON object with a usable "code" */
	long code; /* -1 when absent */
	const char *message;
	const char *request_id;
};

/* ---- small predicates --------------------------------------------------- */

/* 1..max ASCII letters and digits: pixel codes look like
 * "COQDA8RC77U2TMR44LI0"; nothing that could bend the JSON or a log. */
static bool is_alnum_word(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] && i <= max; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return i <= max;
}

/* A TikTok event name: a letter, then letters, digits or '_' (standard
 * events are CamelCase words; custom ones follow the same shape). */
static bool is_event_name(const char *s)
{
	size_t i;

	if (s == NULL || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 0; s[i] && i <= TIKTOK_EVENT_MAX; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '_'))
			return false;
	}
	return i <= TIKTOK_EVENT_MAX;
}

/* Printable ASCII without space: the token goes into a header line, where
 * a CR or LF would start another header. */
static bool is_header_token(const char *s)
{
	size_t n = 0;

	if (s == NULL || s[0] == '\0')
		return false;
	for (; s[n]; n++) {
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7F)
			return false;
	}
	return n <= TIKTOK_TOKEN_MAX;
}

/* The TikTok event for a canonical one: settings.event_map first, then
 * the defaults; NULL when neither maps it. */
static const char *tiktok_event_name(const cJSON *settings, const char *canonical)
{
	const cJSON *map = cJSON_GetObjectItemCaseSensitive(settings, "event_map");
	const char *v;

	if (canonical == NULL)
		return NULL;
	v = json_str(map, canonical);
	if (v)
		return v;
	for (size_t i = 0; i < sizeof(default_events) / sizeof(default_events[0]); i++) {
		if (strcmp(canonical, default_events[i].canonical) == 0)
			return default_events[i].tiktok;
	}
	return NULL;
}

/* ---- settings ------------------------------------------------------------- */

/* One "canonical=TikTokName" pair of an --event-map list into map. */
static int parse_map_pair(cJSON *map, const char *pair, size_t len, struct err *e)
{
	const char *eq = memchr(pair, '=', len);
	char key[TIKTOK_EVENT_MAX + 1], val[TIKTOK_EVENT_MAX + 1];
	size_t klen, vlen;

	if (eq == NULL)
		return err_set(e, ERR_CONFIG, "tiktok: --event-map wants event=TikTokEvent pairs");
	klen = (size_t)(eq - pair);
	vlen = len - klen - 1;
	if (klen == 0 || klen > TIKTOK_EVENT_MAX || vlen == 0 || vlen > TIKTOK_EVENT_MAX)
		return err_set(e, ERR_CONFIG,
			       "tiktok: --event-map names are 1 to %d characters each",
			       TIKTOK_EVENT_MAX);
	memcpy(key, pair, klen);
	key[klen] = '\0';
	memcpy(val, eq + 1, vlen);
	val[vlen] = '\0';
	if (cJSON_HasObjectItem(map, key))
		return err_set(e, ERR_CONFIG, "tiktok: --event-map names \"%s\" twice", key);
	if (cJSON_AddStringToObject(map, key, val) == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * `--event-map purchase=Purchase,lead=Contact` arrives as a string; store
 * it as the object the builder reads ({"purchase":"Purchase",…}).  An
 * object is left as it is (validate checks it).
 */
static int tiktok_prepare_settings(cJSON *settings, struct err *e)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, "event_map");
	cJSON *map;
	const char *p;
	int rc = 0;

	if (!cJSON_IsString(v))
		return 0;
	map = cJSON_CreateObject();
	if (map == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (p = v->valuestring; rc == 0 && *p;) {
		size_t len = strcspn(p, ",");

		rc = parse_map_pair(map, p, len, e);
		p += len;
		if (*p == ',')
			p++;
	}
	if (rc == 0 && cJSON_GetArraySize(map) == 0)
		rc = err_set(e, ERR_CONFIG, "tiktok: --event-map is empty");
	if (rc == 0 && !cJSON_ReplaceItemInObjectCaseSensitive(settings, "event_map", map))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc != 0)
		cJSON_Delete(map);
	return rc;
}

static int validate_event_map(const cJSON *map, struct err *e)
{
	const cJSON *it;

	if (map == NULL)
		return 0;
	if (!cJSON_IsObject(map) || cJSON_GetArraySize(map) > TIKTOK_MAP_MAX)
		return err_set(e, ERR_CONFIG,
			       "tiktok: settings.event_map must be an object of at most %d "
			       "event names",
			       TIKTOK_MAP_MAX);
	cJSON_ArrayForEach (it, map) {
		if (it->string == NULL || it->string[0] == '\0' ||
		    !text_is_clean(it->string, TIKTOK_EVENT_MAX) || !cJSON_IsString(it) ||
		    !is_event_name(it->valuestring))
			return err_set(e, ERR_CONFIG,
				       "tiktok: settings.event_map maps events to TikTok event "
				       "names (letters, digits, '_'; e.g. CompletePayment)");
	}
	return 0;
}

static int tiktok_validate(const cJSON *settings, const cJSON *creds, bool test_mode, struct err *e)
{
	const cJSON *v;
	int rc;

	if (!cJSON_IsObject(settings))
		return err_set(e, ERR_CONFIG, "tiktok: settings must be a JSON object");
	if (!is_alnum_word(dest_settings_str(settings, "pixel_id"), TIKTOK_PIXEL_MAX))
		return err_set(e, ERR_CONFIG,
			       "tiktok: the pixel code is required (--pixel-id): letters and "
			       "digits");
	v = cJSON_GetObjectItemCaseSensitive(settings, "test_event_code");
	if (v && (!cJSON_IsString(v) || !text_is_clean(v->valuestring, TIKTOK_TEC_MAX) ||
		  v->valuestring[0] == '\0'))
		return err_set(e, ERR_CONFIG,
			       "tiktok: settings.test_event_code must be a non-empty string");
	/* As for Meta: test orders must reach TikTok marked as tests, and a
	 * test event code outside test mode would quietly turn every real
	 * conversion into a test event TikTok does not count. */
	if (test_mode && v == NULL)
		return err_set(e, ERR_CONFIG,
			       "tiktok: test mode needs a test event code (--test-event-code)");
	if (!test_mode && v != NULL)
		return err_set(e, ERR_CONFIG,
			       "tiktok: a test event code makes every event a test event that "
			       "TikTok does not count; add --test-mode to say so");
	rc = validate_event_map(cJSON_GetObjectItemCaseSensitive(settings, "event_map"), e);
	if (rc != 0)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(creds, "access_token");
	if (!cJSON_IsString(v) || !is_header_token(v->valuestring))
		return err_set(e, ERR_CONFIG,
			       "tiktok: credentials need an access_token: a non-empty string of "
			       "at most %d printable characters without spaces",
			       TIKTOK_TOKEN_MAX);
	return 0;
}

/* The event can be sent: it maps to a TikTok event. */
static bool tiktok_accepts(const struct destination *d, const struct conversion *c, char *why,
			   size_t whylen)
{
	if (tiktok_event_name(d->settings, c->event) != NULL)
		return true;
	snprintf(why, whylen, "no TikTok event for \"%s\": map one with --event-map %s=TikTokEvent",
		 c->event ? c->event : "", c->event ? c->event : "event");
	return false;
}

/* ---- build: the body -------------------------------------------------------- */

/* user: the TikTok scheme's hashes (only 64-hex values leave: anything
 * else was not hashed by us), then the plain click and browser ids. */
static void add_user(cJSON *ev, const struct conversion *c, bool *ok)
{
	cJSON *user = cJSON_CreateObject();

	for (size_t i = 0; i < sizeof(user_ids) / sizeof(user_ids[0]) && user; i++) {
		const char *h = c->ids[PII_SCHEME_TIKTOK][user_ids[i].field];

		if (h && text_is_sha256_hex(h))
			json_add_string_array1(user, user_ids[i].key, h, ok);
	}
	json_add_string(user, "ttclid", c->click[CLICK_TTCLID], ok);
	json_add_string(user, "ttp", c->click[CLICK_TTP], ok);
	json_add_string(user, "ip", c->client_ip, ok);
	json_add_string(user, "user_agent", c->user_agent, ok);
	/* Always present, even empty, as in TikTok's example. */
	json_attach(ev, "user", user, ok);
}

/* contents[] from the line items that have an id; content_type with it. */
static void add_contents(cJSON *props, const struct conversion *c, bool *ok)
{
	cJSON *contents = cJSON_CreateArray();

	for (size_t i = 0; i < c->n_items && contents && *ok; i++) {
		const struct conv_item *it = &c->items[i];
		cJSON *o;

		if (it->id == NULL)
			continue;
		o = cJSON_CreateObject();
		json_add_string(o, "content_id", it->id, ok);
		json_add_string(o, "content_name", it->name, ok);
		if (text_is_json_number(it->price, TIKTOK_DECIMAL_MAX))
			json_add_raw(o, "price", it->price, ok);
		if (it->quantity > 0)
			json_add_int(o, "quantity", it->quantity, ok);
		json_attach(contents, NULL, o, ok);
	}
	if (contents && cJSON_GetArraySize(contents) > 0) {
		json_attach(props, "contents", contents, ok);
		json_add_string(props, "content_type", "product", ok);
	} else {
		json_attach(NULL, NULL, contents, ok); /* frees it, flags a failed create */
	}
}

static void add_properties(cJSON *ev, const struct conversion *c, bool *ok)
{
	cJSON *props = cJSON_CreateObject();

	/* A malformed value is left out rather than guessed at. */
	if (text_is_json_number(c->value, TIKTOK_DECIMAL_MAX))
		json_add_raw(props, "value", c->value, ok);
	json_add_string(props, "currency", c->currency, ok);
	json_add_string(props, "order_id", c->order_id, ok);
	if (c->n_items > 0 && props)
		add_contents(props, c, ok);
	if (props && cJSON_GetArraySize(props) == 0) {
		cJSON_Delete(props);
		return;
	}
	json_attach(ev, "properties", props, ok);
}

static cJSON *build_event(const struct destination *d, const struct conversion *c, bool *ok)
{
	cJSON *ev = cJSON_CreateObject();

	if (ev == NULL) {
		*ok = false;
		return NULL;
	}
	/* accepts() kept unmapped events out; an empty name here is a bug
	 * TikTok rejects (and bisection isolates), never a guess. */
	json_add_string(ev, "event", tiktok_event_name(d->settings, c->event), ok);
	json_add_string(ev, "event_id", c->event_id, ok);
	json_add_int(ev, "event_time", clock_us_to_s(c->occurred_us), ok);
	add_user(ev, c, ok);
	add_properties(ev, c, ok);
	if (c->page_url) {
		cJSON *page = cJSON_CreateObject();

		json_add_string(page, "url", c->page_url, ok);
		json_attach(ev, "page", page, ok);
	}
	return ev;
}

/* The whole body as JSON text (caller frees with cJSON_free), or NULL when
 * out of memory. */
static char *build_body(const struct destination *d, const char *pixel, const char *tec,
			struct conversion *const *convs, size_t n)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *data = cJSON_CreateArray();
	bool ok = root != NULL;
	char *text = NULL;

	json_add_string(root, "event_source", "web", &ok);
	json_add_string(root, "event_source_id", pixel, &ok);
	json_add_string(root, "test_event_code", tec, &ok);
	for (size_t i = 0; i < n && data && ok; i++)
		json_attach(data, NULL, build_event(d, convs[i], &ok), &ok);
	json_attach(root, "data", data, &ok);
	if (ok)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* ---- build: the token ------------------------------------------------------- */

/*
 * Build one request for n conversions.  req must be freshly initialized
 * (upload_req_init); it is filled only on success.  The conversions and d
 * are borrowed.  ERR_CONFIG when the destination lacks a pixel code, a
 * usable token or a base URL; ERR_INVALID for a batch size out of
 * 1..max_batch; ERR_NOMEM when the body could not be built.  access_token
 * is unused: TikTok's token is the destination's own credential.
 */
static int tiktok_build(const struct destination *d, const char *access_token,
			struct conversion *const *convs, size_t n, struct upload_req *req,
			struct err *e)
{
	const char *pixel = dest_settings_str(d->settings, "pixel_id");
	const char *tec = dest_settings_str(d->settings, "test_event_code");
	char *token = NULL;
	char *body = NULL;
	size_t base_len;
	int result = ERR_INVALID;

	(void)access_token;
	if (n == 0 || n > TIKTOK_MAX_BATCH) {
		err_set(e, ERR_INVALID, "tiktok: batch of %zu events (1..%d allowed)", n,
			TIKTOK_MAX_BATCH);
		goto out;
	}
	result = ERR_CONFIG;
	if (!is_alnum_word(pixel, TIKTOK_PIXEL_MAX)) {
		err_set(e, ERR_CONFIG, "tiktok: destination has no valid settings.pixel_id");
		goto out;
	}
	if (d->base_url == NULL || d->base_url[0] == '\0') {
		err_set(e, ERR_CONFIG, "tiktok: destination has no base URL ([endpoints] tiktok)");
		goto out;
	}
	result = dest_creds_secret("tiktok", d->creds, "access_token", true, is_header_token,
				   &token, e);
	if (result < 0)
		goto out;
	body = build_body(d, pixel, tec && tec[0] ? tec : NULL, convs, n);
	if (body == NULL) {
		result = err_set(e, ERR_NOMEM, "tiktok: out of memory building the request body");
		goto out;
	}
	base_len = strlen(d->base_url);
	while (base_len > 0 && d->base_url[base_len - 1] == '/')
		base_len--;
	req->log_url = xasprintf("%.*s%s", (int)base_len, d->base_url, TIKTOK_PATH);
	req->url = xstrdup(req->log_url);
	upload_req_add_header(req, "Content-Type: application/json");
	upload_req_add_header(req, "Access-Token: %s", token);
	buf_puts(&req->body, body);
	result = 0;
out:
	dest_secret_free(token);
	cJSON_free(body);
	return result;
}

/* ---- result ------------------------------------------------------------------- */

/* Fill a from the body; *tree receives the parsed body (caller deletes). */
static void parse_answer(const struct upload_resp *resp, struct tiktok_answer *a, cJSON **tree)
{
	memset(a, 0, sizeof(*a));
	a->code = -1;
	*tree = NULL;
	if (resp->body == NULL || resp->body_len == 0)
		return;
	*tree = cJSON_ParseWithLength(resp->body, resp->body_len);
	if (!cJSON_IsObject(*tree))
		return;
	a->code = json_code(cJSON_GetObjectItemCaseSensitive(*tree, "code"), TIKTOK_CODE_MAX);
	a->json = a->code >= 0;
	a->request_id = json_str(*tree, "request_id");
	/* A message without a code is not TikTok's answer: quoted raw. */
	if (a->json)
		a->message = json_str(*tree, "message");
}

/*
 * TikTok's code to an outcome (issue 8 and PLATFORMS.md): 0 delivered;
 * 40100 (rate limit) and 5xxxx (TikTok's side) retry with backoff; 40105
 * (access token) pauses; 40001/40002 and any other 4xxxx reject the
 * request, so a batch is bisected and a lone event fails with TikTok's
 * message.  The meanings are the Business API's common codes (40001 no
 * permission, 40002 bad parameters, 40100 rate limit, 40105 bad token; as
 * listed, e.g., in
 * https://help.sleekflow.io/en_US/tiktok-business-messaging/troubleshooting-your-tiktok-business-messaging-channels).
 * A code of no known family retries: nothing is lost, and last_error
 * shows it.
 */
static enum outcome_kind classify_code(long code, size_t n)
{
	if (code == 0)
		return OUTCOME_DELIVERED;
	if (code == TIKTOK_CODE_RATE || (code >= 50000 && code <= 59999))
		return OUTCOME_RETRY;
	if (code == TIKTOK_CODE_TOKEN)
		return OUTCOME_PAUSE;
	if (code >= 40000 && code <= 49999)
		return n > 1 ? OUTCOME_SPLIT : OUTCOME_FAILED;
	return OUTCOME_RETRY;
}

/*
 * HTTP first: 401/403 are a refused token or permission (pause); 408, 429
 * and 5xx are transient.  Otherwise TikTok's code decides, on any status.
 * Without one, a 2xx is an answer we cannot read and anything else is not
 * TikTok's (a proxy, a wrong [endpoints] tiktok): both retry, which TikTok's
 * deduplication (event_id + event + pixel) makes safe.
 */
static enum outcome_kind classify(long status, const struct tiktok_answer *a, size_t n)
{
	if (status == 401 || status == 403)
		return OUTCOME_PAUSE;
	if (status == 408 || status == 429 || status >= 500)
		return OUTCOME_RETRY;
	if (a->json)
		return classify_code(a->code, n);
	return OUTCOME_RETRY;
}

/* TikTok's message, else the HTTP status and the start of the body; the
 * request id for TikTok support. */
static void describe(const struct upload_resp *resp, const struct tiktok_answer *a, char *out,
		     size_t outlen)
{
	struct buf b;

	buf_init(&b);
	if (a->message)
		buf_puts(&b, a->message);
	else if (a->json)
		buf_printf(&b, "TikTok code %ld", a->code);
	else
		buf_printf(&b, "HTTP %ld", resp->status);
	if (!a->json && resp->body && resp->body_len > 0)
		buf_printf(&b, ": %.*s", TIKTOK_BODY_SNIPPET, resp->body);
	if (a->request_id)
		buf_printf(&b, " (request_id %s)", a->request_id);
	text_copy_line(out, outlen, b.data ? b.data : "");
	buf_cleanup(&b);
}

/*
 * One outcome per conversion in out[0..n).  TikTok answers for the request
 * as a whole, so every outcome is the same.  resp is borrowed; convs are
 * not looked at.
 */
static void tiktok_result(const struct destination *d, const struct upload_resp *resp,
			  struct conversion *const *convs, size_t n, struct outcome *out)
{
	struct tiktok_answer a;
	enum outcome_kind kind;
	cJSON *tree = NULL;
	char code[32] = "";
	char msg[sizeof(out->message)];

	(void)d;
	(void)convs;
	if (outcome_fill_transport(resp, out, n))
		return;
	parse_answer(resp, &a, &tree);
	kind = classify(resp->status, &a, n);
	if (a.json)
		snprintf(code, sizeof(code), "%ld", a.code);
	if (kind == OUTCOME_DELIVERED)
		msg[0] = '\0';
	else
		describe(resp, &a, msg, sizeof(msg));
	outcome_fill(out, n, kind, kind == OUTCOME_RETRY ? resp->retry_after_s : -1,
		     kind == OUTCOME_DELIVERED ? "" : code, msg);
	cJSON_Delete(tree);
}

/*
 * `destination test`: the synthetic purchase carries a test event code, so
 * TikTok shows it under Test Events and does not count it (Events API 2.0:
 * test_event_code, from Events Manager > the pixel > Test Events).  A
 * destination outside test mode has none configured (validate forbids it):
 * the operator gives one, else the test is refused.
 */
static int tiktok_test_prepare(struct destination *d, const struct dest_test_opts *o, struct err *e)
{
	const char *tec = o && o->test_event_code
				  ? o->test_event_code
				  : dest_settings_str(d->settings, "test_event_code");

	if (tec == NULL || tec[0] == '\0' || !text_is_clean(tec, TIKTOK_TEC_MAX))
		return err_set(
			e, ERR_CONFIG,
			"tiktok: without a test event code TikTok would count the test "
			"purchase; give --test-event-code (Events Manager > the pixel > Test "
			"Events)");
	d->test_mode = true;
	return dest_settings_set_str(d->settings, "test_event_code", tec, e);
}

/* Daemon-wide settings of this kind; registered by dest.c. */
static const struct config_platform_key tiktok_config_keys[] = {
	{ .section = "endpoints",
	  .name = "tiktok",
	  .def = "https://business-api.tiktok.com",
	  .help = "TikTok Events API base URL",
	  .type = CONFIG_P_URL,
	  .reloadable = true },
};

const struct dest_ops tiktok_dest_ops = {
	.kind = "tiktok",
	.endpoint_key = "tiktok",
	.config_keys = tiktok_config_keys,
	.n_config_keys = sizeof(tiktok_config_keys) / sizeof(tiktok_config_keys[0]),
	.max_batch = TIKTOK_MAX_BATCH,
	.max_age_s = TIKTOK_MAX_AGE_S,
	.accepts = tiktok_accepts,
	.prepare_settings = tiktok_prepare_settings,
	.validate = tiktok_validate,
	/* As Meta: up to 1000 events a request, and its 40100 rate limit
	 * answers are better met with few parallel requests than many. */
	.default_max_inflight = 4,
	.test_prepare = tiktok_test_prepare,
	.build = tiktok_build,
	.result = tiktok_result,
};
