/*
 * conversion_json.c - struct conversion to and from its JSON form: the
 * document stored in conversions (jsonb) and taken by the server-side
 * events API.
 *
 * Writing is plain.  Reading is strict because the same code reads what
 * API clients send: every key must be known and appear once, every value
 * must have the documented type and shape, every string is bounded and
 * valid UTF-8 (PostgreSQL refuses anything else), and an error names the
 * field ("items[2].price: not a decimal number").  Absent strings are
 * omitted on output; on input null is taken as absent.  What conv_to_json
 * writes, conv_from_json reads back unchanged (the row id is not part of
 * the document: it is the row's key).
 */
#include "core/conversion.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKEN 256  /* event ids, order ids, item ids, click ids */
#define MAX_TEXT  4096 /* URLs, user agents, item names */
#define MAX_PII	  1024 /* a normalized clear identifier (pii.c's bound) */
#define MAX_ITEMS 1000
/* Quantities are small; the bound also keeps them within the 15 digits
 * cJSON prints a number with (larger integers would lose digits). */
#define MAX_QUANTITY 1000000000.0

/* ---- writing ------------------------------------------------------------------ */

static void add_str(cJSON *obj, const char *key, const char *v, bool *ok)
{
	if (!*ok || v == NULL)
		return;
	if (cJSON_AddStringToObject(obj, key, v) == NULL)
		*ok = false;
}

static cJSON *add_obj(cJSON *parent, const char *key, bool *ok)
{
	cJSON *o;

	if (!*ok)
		return NULL;
	o = cJSON_AddObjectToObject(parent, key);
	if (o == NULL)
		*ok = false;
	return o;
}

static void add_ids(cJSON *root, const struct conversion *c, bool *ok)
{
	cJSON *ids = NULL;

	for (int s = 0; s < PII_SCHEME__COUNT && *ok; s++) {
		cJSON *so = NULL;

		for (int f = 0; f < PII_FIELD__COUNT && *ok; f++) {
			if (c->ids[s][f] == NULL)
				continue;
			if (ids == NULL)
				ids = add_obj(root, "ids", ok);
			if (so == NULL)
				so = add_obj(ids, pii_scheme_name((enum pii_scheme)s), ok);
			add_str(so, pii_field_key((enum pii_scheme)s, (enum pii_field)f),
				c->ids[s][f], ok);
		}
	}
}

static void add_clicks(cJSON *root, const struct conversion *c, bool *ok)
{
	cJSON *click = NULL;

	for (int i = 0; i < CLICK__COUNT && *ok; i++) {
		if (c->click[i] == NULL)
			continue;
		if (click == NULL)
			click = add_obj(root, "click", ok);
		add_str(click, click_field_name((enum click_field)i), c->click[i], ok);
	}
}

static void add_items(cJSON *root, const struct conversion *c, bool *ok)
{
	cJSON *arr;

	if (!*ok || c->n_items == 0)
		return;
	arr = cJSON_AddArrayToObject(root, "items");
	if (arr == NULL) {
		*ok = false;
		return;
	}
	for (size_t i = 0; i < c->n_items && *ok; i++) {
		const struct conv_item *it = &c->items[i];
		cJSON *o = cJSON_CreateObject();

		if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			*ok = false;
			return;
		}
		add_str(o, "id", it->id, ok);
		add_str(o, "name", it->name, ok);
		add_str(o, "price", it->price, ok);
		if (*ok && cJSON_AddNumberToObject(o, "quantity", (double)it->quantity) == NULL)
			*ok = false;
	}
}

struct cJSON *conv_to_json(const struct conversion *c)
{
	cJSON *root = cJSON_CreateObject();
	bool ok = root != NULL;
	char ts[32];

	clock_format_utc(c->occurred_us, ts, sizeof(ts));
	add_str(root, "event", c->event, &ok);
	add_str(root, "event_id", c->event_id, &ok);
	add_str(root, "occurred_at", ts, &ok);
	if (c->clicked_us != 0) {
		clock_format_utc(c->clicked_us, ts, sizeof(ts));
		add_str(root, "clicked_at", ts, &ok);
	}
	add_str(root, "value", c->value, &ok);
	add_str(root, "currency", c->currency, &ok);
	add_str(root, "order_id", c->order_id, &ok);
	add_str(root, "page_url", c->page_url, &ok);
	add_str(root, "client_ip", c->client_ip, &ok);
	add_str(root, "user_agent", c->user_agent, &ok);
	add_ids(root, c, &ok);
	add_clicks(root, c, &ok);
	add_items(root, c, &ok);
	if (c->consent_ad_user_data || c->consent_ad_personalization) {
		cJSON *co = add_obj(root, "consent", &ok);

		add_str(co, "ad_user_data", c->consent_ad_user_data, &ok);
		add_str(co, "ad_personalization", c->consent_ad_personalization, &ok);
	}
	if (ok && cJSON_AddBoolToObject(root, "test", c->test) == NULL)
		ok = false;
	if (!ok) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* ---- reading ------------------------------------------------------------------ */

/* A string check: true if s is acceptable. */
typedef bool (*str_check_fn)(const char *s);

/* Free text: valid UTF-8 without control characters. */
static bool text_ok(const char *s)
{
	return text_is_clean(s, MAX_TEXT);
}

/* An opaque token: printable ASCII, no spaces, not empty. */
static bool token_ok(const char *s)
{
	if (s[0] == '\0')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7F)
			return false;
	}
	return true;
}

/* An order id may be a shop's display name ("#1042 A"): spaces allowed. */
static bool order_id_ok(const char *s)
{
	if (s[0] == '\0')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p >= 0x7F)
			return false;
	}
	return true;
}

static bool event_name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	}
	return n > 0 && n <= 64;
}

static bool currency_ok(const char *s)
{
	for (int i = 0; i < 3; i++) {
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	}
	return s[3] == '\0';
}

static bool consent_ok(const char *s)
{
	return strcmp(s, "granted") == 0 || strcmp(s, "denied") == 0;
}

/*
 * Copy string member v (named `name` in messages) into *dst: null leaves
 * *dst alone, anything but a string, a string longer than max, invalid
 * UTF-8 or one `check` refuses is ERR_INVALID.
 */
static int take_str(const cJSON *v, const char *name, size_t max, str_check_fn check, char **dst,
		    struct err *e)
{
	const char *s;

	if (cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return err_set(e, ERR_INVALID, "%s: must be a string", name);
	s = v->valuestring;
	if (strnlen(s, max + 1) > max)
		return err_set(e, ERR_INVALID, "%s: longer than %zu bytes", name, max);
	if (!text_is_utf8(s) || (check && !check(s))) {
		/* Echo the value only when it cannot garble a log line. */
		if (order_id_ok(s))
			return err_set(e, ERR_INVALID, "%s: invalid value \"%.64s\"", name, s);
		return err_set(e, ERR_INVALID, "%s: invalid value", name);
	}
	free(*dst);
	*dst = xstrdup(s);
	return 0;
}

/* Run over an object's members, refusing duplicates and unknown keys:
 * keys[] lists the known ones; fn is called with the index of each. */
typedef int (*member_fn)(const cJSON *v, int idx, void *ctx, const char *path, struct err *e);

static int each_member(const cJSON *obj, const char *path, const char *const *keys, int n_keys,
		       member_fn fn, void *ctx, struct err *e)
{
	const char *where = path[0] ? path : "conversion";
	const cJSON *v;
	uint64_t seen = 0;

	if (!cJSON_IsObject(obj))
		return err_set(e, ERR_INVALID, "%s: must be an object", where);
	cJSON_ArrayForEach (v, obj) {
		int idx = -1;
		char sub[128];
		int r;

		for (int i = 0; i < n_keys && v->string; i++) {
			if (strcmp(keys[i], v->string) == 0) {
				idx = i;
				break;
			}
		}
		if (idx < 0)
			return err_set(e, ERR_INVALID, "%s: unknown key \"%.64s\"", where,
				       v->string ? v->string : "");
		if (seen & (1ull << idx))
			return err_set(e, ERR_INVALID, "%s: duplicate key \"%s\"", where,
				       keys[idx]);
		seen |= 1ull << idx;
		if (path[0])
			snprintf(sub, sizeof(sub), "%s.%s", path, keys[idx]);
		else
			snprintf(sub, sizeof(sub), "%s", keys[idx]);
		r = fn(v, idx, ctx, sub, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ids.<scheme>: hashed fields must be SHA-256 hex; clear ones must already
 * be in the scheme's normalized form (normalizing them changes nothing). */
struct ids_ctx {
	struct conversion *c;
	enum pii_scheme scheme;
};

static int ids_field_cb(const cJSON *v, int idx, void *ctx, const char *path, struct err *e)
{
	struct ids_ctx *x = ctx;
	enum pii_field f = (enum pii_field)idx;
	char *s = NULL;
	char norm[2 * MAX_PII];
	int r;

	r = take_str(v, path, MAX_PII, NULL, &s, e);
	if (r < 0 || s == NULL)
		return r;
	if (pii_is_hashed(x->scheme, f)) {
		if (!pii_is_sha256_hex(s)) {
			free(s);
			return err_set(e, ERR_INVALID, "%s: not a SHA-256 hex digest", path);
		}
		for (char *p = s; *p; p++) {
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p + 32);
		}
		x->c->ids[x->scheme][f] = s;
		return 0;
	}
	r = pii_normalize(x->scheme, f, s, norm, sizeof(norm), e);
	if (r == 0 && strcmp(norm, s) != 0)
		r = err_set(e, ERR_INVALID, "not in normalized form");
	if (r < 0) {
		free(s);
		return err_wrap(e, "%s", path);
	}
	x->c->ids[x->scheme][f] = s;
	return 0;
}

static int ids_scheme_cb(const cJSON *v, int idx, void *ctx, const char *path, struct err *e)
{
	struct ids_ctx x = { .c = ctx, .scheme = (enum pii_scheme)idx };
	const char *keys[PII_FIELD__COUNT];

	if (cJSON_IsNull(v))
		return 0;
	for (int f = 0; f < PII_FIELD__COUNT; f++)
		keys[f] = pii_field_key(x.scheme, (enum pii_field)f);
	return each_member(v, path, keys, PII_FIELD__COUNT, ids_field_cb, &x, e);
}

static int read_ids(const cJSON *v, struct conversion *c, const char *path, struct err *e)
{
	const char *keys[PII_SCHEME__COUNT];

	if (cJSON_IsNull(v))
		return 0;
	for (int s = 0; s < PII_SCHEME__COUNT; s++)
		keys[s] = pii_scheme_name((enum pii_scheme)s);
	return each_member(v, path, keys, PII_SCHEME__COUNT, ids_scheme_cb, c, e);
}

static int click_cb(const cJSON *v, int idx, void *ctx, const char *path, struct err *e)
{
	struct conversion *c = ctx;

	return take_str(v, path, 512, token_ok, &c->click[idx], e);
}

static int read_click(const cJSON *v, struct conversion *c, const char *path, struct err *e)
{
	const char *keys[CLICK__COUNT];

	if (cJSON_IsNull(v))
		return 0;
	for (int i = 0; i < CLICK__COUNT; i++)
		keys[i] = click_field_name((enum click_field)i);
	return each_member(v, path, keys, CLICK__COUNT, click_cb, c, e);
}

static const char *const consent_keys[] = { "ad_user_data", "ad_personalization" };

static int consent_cb(const cJSON *v, int idx, void *ctx, const char *path, struct err *e)
{
	struct conversion *c = ctx;

	return take_str(v, path, 16, consent_ok,
			idx == 0 ? &c->consent_ad_user_data : &c->consent_ad_personalization, e);
}

static const char *const item_keys[] = { "id", "name", "price", "quantity" };

static int item_cb(const cJSON *v, int idx, void *ctx, const char *path, struct err *e)
{
	struct conv_item *it = ctx;
	double q;

	switch (idx) {
	case 0:
		return take_str(v, path, MAX_TOKEN, order_id_ok, &it->id, e);
	case 1:
		return take_str(v, path, MAX_TEXT, text_ok, &it->name, e);
	case 2:
		return take_str(v, path, 32, text_is_decimal, &it->price, e);
	default:
		if (!cJSON_IsNumber(v))
			return err_set(e, ERR_INVALID, "%s: must be a number", path);
		q = v->valuedouble;
		if (!(q >= 0 && q <= MAX_QUANTITY) || (double)(int64_t)q != q)
			return err_set(e, ERR_INVALID, "%s: must be a whole number from 0 to %.0f",
				       path, MAX_QUANTITY);
		it->quantity = (int64_t)q;
		return 0;
	}
}

static int read_items(const cJSON *v, struct conversion *c, const char *path, struct err *e)
{
	const cJSON *el;
	int n, i = 0;

	if (cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsArray(v))
		return err_set(e, ERR_INVALID, "%s: must be an array", path);
	n = cJSON_GetArraySize(v);
	if (n > MAX_ITEMS)
		return err_set(e, ERR_INVALID, "%s: more than %d items", path, MAX_ITEMS);
	if (n == 0)
		return 0;
	c->items = xcalloc((size_t)n, sizeof(*c->items));
	cJSON_ArrayForEach (el, v) {
		struct conv_item *it = &c->items[i];
		char sub[64];
		int r;

		snprintf(sub, sizeof(sub), "%s[%d]", path, i);
		it->quantity = 1;
		c->n_items = (size_t)++i; /* counted before filling: conv_free frees it */
		r = each_member(el, sub, item_keys, 4, item_cb, it, e);
		if (r < 0)
			return r;
	}
	return 0;
}

enum top_key {
	K_EVENT,
	K_EVENT_ID,
	K_OCCURRED_AT,
	K_VALUE,
	K_CURRENCY,
	K_ORDER_ID,
	K_PAGE_URL,
	K_CLIENT_IP,
	K_USER_AGENT,
	K_IDS,
	K_CLICK,
	K_ITEMS,
	K_CONSENT,
	K_TEST,
	K_CLICKED_AT,
	K__COUNT
};

static const char *const top_keys[K__COUNT] = {
	[K_EVENT] = "event",	   [K_EVENT_ID] = "event_id",	[K_OCCURRED_AT] = "occurred_at",
	[K_VALUE] = "value",	   [K_CURRENCY] = "currency",	[K_ORDER_ID] = "order_id",
	[K_PAGE_URL] = "page_url", [K_CLIENT_IP] = "client_ip", [K_USER_AGENT] = "user_agent",
	[K_IDS] = "ids",	   [K_CLICK] = "click",		[K_ITEMS] = "items",
	[K_CONSENT] = "consent",   [K_TEST] = "test",		[K_CLICKED_AT] = "clicked_at",
};

struct top_ctx {
	struct conversion *c;
	bool have_time;
};

static int top_cb(const cJSON *v, int idx, void *ctx, const char *path, struct err *e)
{
	struct top_ctx *x = ctx;
	struct conversion *c = x->c;
	char *ts = NULL;
	int r;

	switch ((enum top_key)idx) {
	case K_EVENT:
		return take_str(v, path, 64, event_name_ok, &c->event, e);
	case K_EVENT_ID:
		return take_str(v, path, MAX_TOKEN, token_ok, &c->event_id, e);
	case K_OCCURRED_AT:
		r = take_str(v, path, 64, NULL, &ts, e);
		if (r == 0 && ts) {
			r = clock_parse_iso8601(ts, &c->occurred_us, e);
			if (r < 0)
				err_wrap(e, "%s", path);
			x->have_time = r == 0;
		}
		free(ts);
		return r;
	case K_CLICKED_AT:
		r = take_str(v, path, 64, NULL, &ts, e);
		if (r == 0 && ts) {
			r = clock_parse_iso8601(ts, &c->clicked_us, e);
			if (r < 0)
				err_wrap(e, "%s", path);
		}
		free(ts);
		return r;
	case K_VALUE:
		return take_str(v, path, 32, text_is_decimal, &c->value, e);
	case K_CURRENCY:
		r = take_str(v, path, 3, currency_ok, &c->currency, e);
		for (char *p = c->currency; r == 0 && p && *p; p++) {
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
		}
		return r;
	case K_ORDER_ID:
		return take_str(v, path, MAX_TOKEN, order_id_ok, &c->order_id, e);
	case K_PAGE_URL:
		return take_str(v, path, MAX_TEXT, text_ok, &c->page_url, e);
	case K_CLIENT_IP:
		return take_str(v, path, 64, text_is_ip, &c->client_ip, e);
	case K_USER_AGENT:
		return take_str(v, path, MAX_TEXT, text_ok, &c->user_agent, e);
	case K_IDS:
		return read_ids(v, c, path, e);
	case K_CLICK:
		return read_click(v, c, path, e);
	case K_ITEMS:
		return read_items(v, c, path, e);
	case K_CONSENT:
		if (cJSON_IsNull(v))
			return 0;
		return each_member(v, path, consent_keys, 2, consent_cb, c, e);
	case K_TEST:
		if (!cJSON_IsBool(v))
			return err_set(e, ERR_INVALID, "%s: must be true or false", path);
		c->test = cJSON_IsTrue(v);
		return 0;
	default:
		return err_set(e, ERR_INVALID, "%s: unexpected key", path);
	}
}

int conv_from_json(const struct cJSON *j, struct conversion **out, struct err *e)
{
	struct top_ctx x = { .c = conv_new() };
	int result;

	*out = NULL;
	if (!cJSON_IsObject(j)) {
		result = err_set(e, ERR_INVALID, "conversion must be a JSON object");
		goto out;
	}
	result = each_member(j, "", top_keys, K__COUNT, top_cb, &x, e);
	if (result < 0)
		goto out;
	result = ERR_INVALID;
	if (x.c->event == NULL) {
		err_set(e, ERR_INVALID, "event: missing");
		goto out;
	}
	if (x.c->event_id == NULL) {
		err_set(e, ERR_INVALID, "event_id: missing");
		goto out;
	}
	if (!x.have_time) {
		err_set(e, ERR_INVALID, "occurred_at: missing");
		goto out;
	}
	*out = x.c;
	x.c = NULL;
	result = 0;
out:
	conv_free(x.c);
	return result;
}
