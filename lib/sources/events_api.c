/*
 * events_api.c - the server-side events API (events_api.h): source kind
 * "api", served at POST /v1/events/{source_id}.
 *
 * Auth is the source's API key as "Authorization: Bearer <key>".  The key
 * is made by `adsengctl source add --kind api` (new_secret below), printed
 * once and stored only sealed, in the column every source keeps its
 * signing secret in; the daemon holds it opened in sodium_malloc memory
 * and compares in constant time.  During a `rotate-secret` overlap the
 * previous key is accepted too, until its end.
 *
 * A request is stored whole, as one raw event, like every webhook; its
 * dedup key is the body's SHA-256, so a sender that retries the very same
 * request after a timeout stores nothing twice.  The unit the sender cares
 * about is the item: each valid item's event_id is claimed for the source
 * in the transaction that stores the request (source_ops.items, the
 * ingest path's per-item keys), and the answer says per item whether it
 * was accepted, a duplicate, or invalid and why.  Stage 1 converts only the
 * items that were accepted, by the positions stored with the raw event.
 *
 * Items are read in the canonical shape of DESIGN §4: clear identifiers in
 * "user" (normalized and hashed here, per scheme, like every source's),
 * everything else as the stored form reads it (conv_from_json), so an API
 * client may also send identifiers already hashed in "ids".
 */
#include "sources/events_api.h"
#include "sources/source.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/pii.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_PREFIX    "ak_"
#define KEY_BYTES     32
#define MAX_USER_TEXT 4096 /* a user agent */
#define MAX_USER_PII  1024 /* a clear identifier (pii.c's bound) */
#define MAX_EMAIL     254  /* RFC 5321's path limit less the brackets */

/* ---- one item ------------------------------------------------------------------ */

/* "user" members that are not identifiers a scheme hashes. */
enum { USER_IP = -1, USER_AGENT = -2 };

static const struct {
	const char *key;
	int field; /* enum pii_field, or USER_IP / USER_AGENT */
} user_keys[] = {
	{ "email", PII_EMAIL },
	{ "phone", PII_PHONE },
	{ "first_name", PII_FIRST_NAME },
	{ "last_name", PII_LAST_NAME },
	{ "city", PII_CITY },
	{ "region", PII_REGION },
	{ "postal_code", PII_POSTAL },
	{ "country", PII_COUNTRY },
	{ "external_id", PII_EXTERNAL_ID },
	{ "ip", USER_IP },
	{ "user_agent", USER_AGENT },
};

#define N_USER_KEYS (sizeof(user_keys) / sizeof(user_keys[0]))

static bool present(const cJSON *v)
{
	return v != NULL && !cJSON_IsNull(v);
}

/* One character of a date-time shape: 'd' a digit, 'T' either case. */
static bool shape_char_ok(char want, char c)
{
	if (want == 'd')
		return c >= '0' && c <= '9';
	if (want == 'T')
		return c == 'T' || c == 't';
	return c == want;
}

/*
 * RFC 3339's date-time (section 5.6): "2026-11-27T10:00:00Z",
 * "…T10:00:00.5+01:00"; T and Z in either case.  An offset is required:
 * a time without one is ambiguous, and guessing UTC is how events land an
 * hour off.  Ranges (month 13, Feb 30) are clock_parse_iso8601's check.
 */
static bool rfc3339_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	const char *p = s;

	/* Stops at the NUL of a short string: no shape character is NUL. */
	for (size_t i = 0; i < sizeof(shape) - 1; i++, p++) {
		if (!shape_char_ok(shape[i], *p))
			return false;
	}
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	if (*p != '+' && *p != '-')
		return false;
	return p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' && p[3] == ':' &&
	       p[4] >= '0' && p[4] <= '9' && p[5] >= '0' && p[5] <= '9' && p[6] == '\0';
}

/*
 * local@domain.tld: one '@' with something before it, a domain of labels
 * joined by single dots (at least two labels), no white space or control
 * characters inside (around it is trimmed, as normalization does).
 * Deliberately loose beyond that (quoted local parts and international
 * addresses exist); the point is to refuse what cannot be an address (a
 * name, a phone number, "n/a").  A SHA-256 hex digest is an email hashed
 * by the sender, and passes.
 */
static bool email_ok(const char *s)
{
	const char *at, *d, *end;
	size_t n;

	s += strspn(s, " \t");
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	end = s + n;
	if (n == 64 && strspn(s, "0123456789abcdefABCDEF") == 64)
		return true;
	at = memchr(s, '@', n);
	if (n > MAX_EMAIL || at == NULL || at == s || memchr(at + 1, '@', (size_t)(end - at - 1)))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; p < (const unsigned char *)end;
	     p++) {
		if (*p <= 0x20 || *p == 0x7F)
			return false;
	}
	d = at + 1;
	if (d == end || *d == '.' || end[-1] == '.' || memchr(d, '.', (size_t)(end - d)) == NULL)
		return false;
	for (const char *p = d; p < end; p++) {
		if ((p[0] == '.' && p + 1 < end && p[1] == '.') || strchr("()<>,;:\\\"[]", *p))
			return false;
	}
	return true;
}

/* A required string member: present, a string, not empty. */
static int required_str(const cJSON *item, const char *key, const cJSON **out, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, key);

	*out = v;
	if (!present(v))
		return err_set(e, ERR_INVALID, "%s is required", key);
	if (!cJSON_IsString(v))
		return err_set(e, ERR_INVALID, "%s must be a string", key);
	if (v->valuestring[0] == '\0')
		return err_set(e, ERR_INVALID, "%s is required", key);
	return 0;
}

static int check_time(const cJSON *item, int64_t now_us, struct err *e)
{
	const cJSON *v;
	struct err pe = { 0 };
	int64_t at;
	int rc = required_str(item, "occurred_at", &v, e);

	if (rc != 0)
		return rc;
	if (strlen(v->valuestring) > 64 || !rfc3339_ok(v->valuestring) ||
	    clock_parse_iso8601(v->valuestring, &at, &pe) != 0)
		return err_set(e, ERR_INVALID,
			       "occurred_at must be RFC 3339, e.g. 2026-11-27T10:00:00Z");
	/* Both sides are far inside int64 (years 0..9999 in µs): no overflow. */
	if (now_us != EVENTS_NO_CLOCK && at - now_us > EVENTS_MAX_FUTURE_US)
		return err_set(e, ERR_INVALID, "occurred_at is more than 5 minutes in the future");
	return 0;
}

/* The rules an API client most often gets wrong, each with a message
 * that says what to send (the rest are conv_from_json's). */
static int check_rules(const cJSON *item, int64_t now_us, struct err *e)
{
	const cJSON *v;
	int rc;

	rc = required_str(item, "event", &v, e);
	if (rc == 0)
		rc = required_str(item, "event_id", &v, e);
	if (rc != 0)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(item, "value");
	if (present(v) && (!cJSON_IsString(v) || !text_is_decimal(v->valuestring)))
		return err_set(e, ERR_INVALID, "value must be a decimal string, e.g. \"199.00\"");
	v = cJSON_GetObjectItemCaseSensitive(item, "currency");
	if (present(v) && (!cJSON_IsString(v) || strlen(v->valuestring) != 3 ||
			   strspn(v->valuestring, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3))
		return err_set(e, ERR_INVALID, "currency must be ISO 4217 (3 upper-case letters)");
	return check_time(item, now_us, e);
}

static int user_field(const char *key)
{
	for (size_t i = 0; i < N_USER_KEYS; i++) {
		if (strcmp(user_keys[i].key, key) == 0)
			return (int)i;
	}
	return -1;
}

/* One "user" member: a known key once, a bounded clean string or null. */
static int check_user_member(const cJSON *v, uint32_t *seen, struct err *e)
{
	int i = v->string ? user_field(v->string) : -1;
	const char *s;

	if (i < 0)
		return err_set(e, ERR_INVALID, "user: unknown key \"%.64s\"",
			       v->string && text_is_printable_ascii(v->string, false) ? v->string
										      : "?");
	if (*seen & (1u << i))
		return err_set(e, ERR_INVALID, "user: duplicate key \"%s\"", user_keys[i].key);
	*seen |= 1u << i;
	if (cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return err_set(e, ERR_INVALID, "user.%s must be a string", user_keys[i].key);
	s = v->valuestring;
	if (!text_is_clean(s, user_keys[i].field == USER_AGENT ? MAX_USER_TEXT : MAX_USER_PII))
		return err_set(e, ERR_INVALID, "user.%s: too long or not clean UTF-8 text",
			       user_keys[i].key);
	if (user_keys[i].field == PII_EMAIL && s[0] != '\0' && !email_ok(s))
		return err_set(e, ERR_INVALID, "user.email does not look like an email");
	if (user_keys[i].field == USER_IP && s[0] != '\0' && !text_is_ip(s))
		return err_set(e, ERR_INVALID, "user.ip must be an IPv4 or IPv6 address");
	return 0;
}

static int check_user(const cJSON *user, struct err *e)
{
	const cJSON *v;
	uint32_t seen = 0;

	if (!cJSON_IsObject(user))
		return err_set(e, ERR_INVALID, "user must be an object");
	cJSON_ArrayForEach (v, user) {
		int rc = check_user_member(v, &seen, e);

		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The one "user" member of item (NULL when none) and its position. */
static int find_user(cJSON *item, cJSON **user, int *at, struct err *e)
{
	cJSON *v;
	int i = 0;

	*user = NULL;
	cJSON_ArrayForEach (v, item) {
		if (v->string && strcmp(v->string, "user") == 0) {
			if (*user)
				return err_set(e, ERR_INVALID,
					       "conversion: duplicate key \"user\"");
			*user = v;
			*at = i;
		}
		i++;
	}
	return 0;
}

/* The clear identifiers as every source gives them: normalized and hashed
 * per scheme (a value a scheme refuses is left out for that scheme). */
static void fill_user(struct conversion *c, const cJSON *user)
{
	const cJSON *v;

	cJSON_ArrayForEach (v, user) {
		int i = user_field(v->string);

		if (i < 0 || !cJSON_IsString(v) || v->valuestring[0] == '\0')
			continue;
		if (user_keys[i].field >= 0)
			conv_set_pii(c, (enum pii_field)user_keys[i].field, v->valuestring);
		else if (user_keys[i].field == USER_IP && c->client_ip == NULL)
			c->client_ip = xstrdup(v->valuestring);
		else if (user_keys[i].field == USER_AGENT && c->user_agent == NULL)
			c->user_agent = xstrdup(v->valuestring);
	}
}

int events_item_check(cJSON *item, int64_t now_us, struct conversion **out, struct err *e)
{
	struct conversion *c = NULL;
	cJSON *user = NULL;
	int at = 0, rc;

	if (out)
		*out = NULL;
	if (!cJSON_IsObject(item))
		return err_set(e, ERR_INVALID, "conversion must be a JSON object");
	rc = check_rules(item, now_us, e);
	if (rc == 0)
		rc = find_user(item, &user, &at, e);
	if (rc == 0 && present(user))
		rc = check_user(user, e);
	if (rc != 0)
		return rc;
	/* The rest is the stored form's shape, which has no "user". */
	if (user)
		cJSON_DetachItemViaPointer(item, user);
	rc = conv_from_json(item, &c, e);
	if (user && !cJSON_InsertItemInArray(item, at, user))
		cJSON_AddItemToObject(item, "user", user); /* only on a short list */
	if (rc != 0)
		return rc;
	if (out == NULL) {
		conv_free(c);
		return 0;
	}
	if (present(user))
		fill_user(c, user);
	*out = c;
	return 0;
}

/* ---- the request --------------------------------------------------------------- */

int events_body_parse(const uint8_t *body, size_t len, cJSON **out, struct err *e)
{
	const char *end = NULL;
	cJSON *root;
	int n;

	*out = NULL;
	if (body == NULL || len == 0)
		return err_set(e, ERR_INVALID, "empty body: send a JSON array of conversions");
	root = cJSON_ParseWithLengthOpts((const char *)body, len, &end, false);
	while (root && end && (size_t)(end - (const char *)body) < len && *end != '\0' &&
	       strchr(" \t\r\n", *end))
		end++;
	if (root == NULL || end == NULL || (size_t)(end - (const char *)body) != len) {
		cJSON_Delete(root);
		return err_set(e, ERR_INVALID, "the body is not valid JSON");
	}
	if (!cJSON_IsArray(root)) {
		cJSON_Delete(root);
		return err_set(e, ERR_INVALID, "the body must be a JSON array of conversions");
	}
	n = cJSON_GetArraySize(root);
	if (n < 1 || n > EVENTS_MAX_ITEMS) {
		cJSON_Delete(root);
		return err_set(e, ERR_INVALID, "the array must hold 1 to %d conversions, not %d",
			       EVENTS_MAX_ITEMS, n);
	}
	*out = root;
	return 0;
}

/* ---- source_ops ----------------------------------------------------------------- */

/* "Bearer <key>" against each live key, in constant time for a key of
 * the right length (the length of a generated key is no secret). */
static int api_verify(const struct source *src, const struct source_ctx *ctx,
		      const struct http_req *req, struct err *e)
{
	const char *h = http_req_header(req, "Authorization");
	size_t len;

	if (h == NULL || h[0] == '\0')
		return err_set(e, ERR_AUTH, "missing Authorization header (Bearer API key)");
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return err_set(e, ERR_AUTH, "Authorization is not a Bearer API key");
	h += 7;
	while (*h == ' ')
		h++;
	len = strlen(h);
	for (int i = 0; i < src->n_secrets; i++) {
		/* An empty secret would match an empty token: never a key. */
		if (src->secret_len[i] == 0 || src->secret_len[i] != len ||
		    !source_secret_is_live(src, i, ctx ? ctx->now_us : INT64_MAX))
			continue;
		if (sodium_memcmp(src->secret[i], h, len) == 0)
			return 0;
	}
	return err_set(e, ERR_AUTH, "API key does not match");
}

/* The body's SHA-256: a request retried byte for byte is the same raw
 * event; each item is deduplicated on its own anyway. */
static int api_dedup_key(const struct http_req *req, char *out, size_t outlen, struct err *e)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1];

	crypto_hash_sha256(h, req->body, req->body_len);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	if ((size_t)snprintf(out, outlen, "body:%s", hex) >= outlen)
		return err_set(e, ERR_INVALID, "dedup key buffer too small");
	return 0;
}

static void api_topic(const struct http_req *req, char *out, size_t outlen)
{
	(void)req;
	snprintf(out, outlen, "events");
}

static int api_items(const struct source_ctx *ctx, const struct http_req *req,
		     struct source_items *out, struct err *e)
{
	cJSON *root, *item;
	size_t k = 0;
	int rc;

	out->v = NULL;
	out->n = 0;
	rc = events_body_parse(req->body, req->body_len, &root, e);
	if (rc != 0)
		return rc;
	out->n = (size_t)cJSON_GetArraySize(root);
	out->v = xcalloc(out->n, sizeof(*out->v)); /* bounded: EVENTS_MAX_ITEMS */
	cJSON_ArrayForEach (item, root) {
		struct source_item *it = &out->v[k++];
		struct err ie = { 0 };

		if (events_item_check(item, ctx->now_us, NULL, &ie) != 0) {
			it->status = SOURCE_ITEM_INVALID;
			it->error = xstrdup(ie.msg);
			continue;
		}
		/* conv_from_json checked it: a printable token. */
		it->key = xstrdup(cJSON_GetObjectItemCaseSensitive(item, "event_id")->valuestring);
		it->status = SOURCE_ITEM_NEW;
	}
	cJSON_Delete(root);
	return 0;
}

static const char *status_name(enum source_item_status s)
{
	switch (s) {
	case SOURCE_ITEM_NEW:
		return "accepted";
	case SOURCE_ITEM_DUPLICATE:
		return "duplicate";
	default:
		return "invalid";
	}
}

/* {"results":[{"status":"accepted","event_id":"…"},
 *             {"status":"invalid","error":"…"}, …]} */
static char *api_items_answer(const struct source_items *items)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = root ? cJSON_AddArrayToObject(root, "results") : NULL;
	char *text = NULL;

	if (arr == NULL)
		goto out;
	for (size_t k = 0; k < items->n; k++) {
		const struct source_item *it = &items->v[k];
		cJSON *o = cJSON_CreateObject();

		if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			goto out;
		}
		if (!cJSON_AddStringToObject(o, "status", status_name(it->status)) ||
		    (it->key && !cJSON_AddStringToObject(o, "event_id", it->key)) ||
		    (it->error && !cJSON_AddStringToObject(o, "error", it->error)))
			goto out;
	}
	text = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return text;
}

/* Convert the items the receipt accepted (ev->items_new), and only them.
 * One of them failing now means the checks changed since (a new version
 * reprocessing): the event is marked error rather than losing an item
 * that was answered "accepted". */
static int api_parse(const struct raw_event *ev, struct conv_list *out, struct err *e)
{
	struct conv_list got;
	cJSON *root = NULL;
	int rc;

	conv_list_init(&got);
	if (!ev->has_items)
		return err_set(e, ERR_INVALID, "stored without the verdicts on its items");
	rc = events_body_parse(ev->body, ev->body_len, &root, e);
	for (size_t k = 0; rc == 0 && k < ev->n_items_new; k++) {
		int32_t at = ev->items_new[k];
		cJSON *item = at >= 0 ? cJSON_GetArrayItem(root, at) : NULL;
		struct conversion *c = NULL;

		if (item == NULL) {
			rc = err_set(e, ERR_INVALID, "item %d: not in the body", (int)at);
		} else if (events_item_check(item, EVENTS_NO_CLOCK, &c, e) != 0) {
			rc = err_wrap(e, "item %d", (int)at);
		} else {
			conv_list_push(&got, c);
		}
	}
	cJSON_Delete(root);
	if (rc == 0) {
		for (size_t k = 0; k < got.n; k++)
			conv_list_push(out, conv_ref(got.v[k]));
	}
	conv_list_cleanup(&got);
	return rc;
}

/* "ak_" and 32 random bytes in URL-safe base64 (no padding): safe in a
 * header and a shell, recognisable in a leaked-secret scan. */
static void api_new_secret(char out[SOURCE_SECRET_NEW_MAX])
{
	unsigned char raw[KEY_BYTES];
	size_t pre = sizeof(KEY_PREFIX) - 1;

	randombytes_buf(raw, sizeof(raw));
	memcpy(out, KEY_PREFIX, pre);
	sodium_bin2base64(out + pre, SOURCE_SECRET_NEW_MAX - pre, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

static const char *const api_stored_headers[] = { "User-Agent", "Content-Type", NULL };

const struct source_ops events_api_source_ops = {
	.kind = "api",
	.verify = api_verify,
	.dedup_key = api_dedup_key,
	.topic = api_topic,
	/* Never Authorization: the key is a secret. */
	.stored_headers = api_stored_headers,
	.parse = api_parse,
	.route = "/v1/events/",
	.items = api_items,
	.items_answer = api_items_answer,
	.new_secret = api_new_secret,
};
