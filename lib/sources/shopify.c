/*
 * shopify.c - Shopify webhooks: HMAC check over the raw body, dedup key
 * and topic for the ingest path, and the parser that turns a stored order
 * or checkout into a canonical conversion (PLATFORMS.md "Shopify").
 *
 * orders/create and orders/paid both become one "purchase" whose event_id
 * is derived from the order id only, so whichever arrives second dedups
 * against the first in the conversions table; checkouts/create becomes a
 * "begin_checkout".  Other topics are not conversions.
 *
 * The body is outside input even after its HMAC checks out (a shop's own
 * apps write most of it, and unapproved apps get PII as null), so every
 * field may be missing, null or of the wrong type: each is read through a
 * typed accessor and bounded before it is kept.  Every string kept obeys
 * the same rules conv_from_json enforces, so what this parser produces
 * survives the JSON round trip through the database.
 */
#include "sources/source.h"
#include "core/text.h"
#include "core/clickid.h"
#include "core/clock.h"
#include "core/mem.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOPIFY_MAX_ITEMS 1000		     /* line items kept; the rest are dropped */
#define SHOPIFY_MAX_ATTRS 100		     /* note_attributes looked at */
#define SHOPIFY_MAX_TEXT  4096		     /* URLs, user agents, titles */
#define SHOPIFY_MAX_TOKEN 256		     /* ids, SKUs, tokens */
#define MAX_EXACT_INT	  9007199254740992.0 /* 2^53 */

enum shopify_kind { KIND_NONE, KIND_ORDER, KIND_CHECKOUT };

/* A Shopify header, with or without the "X-" prefix (newer "events"
 * deliveries drop it); the prefixed form wins when both are present. */
static const char *shopify_header(const struct http_req *req, const char *suffix)
{
	char name[64];
	const char *v;

	snprintf(name, sizeof(name), "X-Shopify-%s", suffix);
	v = http_req_header(req, name);
	if (v == NULL)
		v = http_req_header(req, name + 2);
	return v;
}

static bool printable_ascii(const char *s, bool allow_space)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < (allow_space ? 0x20 : 0x21) || *p >= 0x7F)
			return false;
	}
	return true;
}

static int shopify_verify(const struct source *src, const struct source_ctx *ctx,
			  const struct http_req *req, struct err *e)
{
	(void)ctx; /* no timestamp window yet (issue 7: X-Shopify-Triggered-At) */
	return source_verify_hmac_b64(src, shopify_header(req, "Hmac-Sha256"), req->body,
				      req->body_len, e);
}

static int shopify_dedup_key(const struct http_req *req, char *out, size_t outlen, struct err *e)
{
	const char *v = shopify_header(req, "Webhook-Id");
	size_t n;

	if (v == NULL || v[0] == '\0')
		return err_set(e, ERR_INVALID, "missing X-Shopify-Webhook-Id header");
	n = strnlen(v, SOURCE_DEDUP_MAX);
	if (n >= SOURCE_DEDUP_MAX || n >= outlen)
		return err_set(e, ERR_INVALID, "X-Shopify-Webhook-Id header too long");
	if (!printable_ascii(v, false))
		return err_set(e, ERR_INVALID,
			       "X-Shopify-Webhook-Id header has invalid characters");
	memcpy(out, v, n + 1);
	return 0;
}

static void shopify_topic(const struct http_req *req, char *out, size_t outlen)
{
	const char *v = shopify_header(req, "Topic");
	size_t n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (v == NULL)
		return;
	n = strnlen(v, SOURCE_TOPIC_MAX);
	/* A topic that does not fit, or is not a plain token, is no topic we
	 * know: store none rather than a truncated one. */
	if (n >= SOURCE_TOPIC_MAX || n >= outlen || !printable_ascii(v, false))
		return;
	memcpy(out, v, n + 1);
}

static const char *const shopify_stored_headers[] = {
	"X-Shopify-Topic",
	"Shopify-Topic",
	"X-Shopify-Shop-Domain",
	"Shopify-Shop-Domain",
	"X-Shopify-API-Version",
	"Shopify-API-Version",
	"X-Shopify-Webhook-Id",
	"Shopify-Webhook-Id",
	"X-Shopify-Event-Id",
	"Shopify-Event-Id",
	"X-Shopify-Triggered-At",
	"Shopify-Triggered-At",
	NULL,
};

/* ---- typed access to an untrusted body ---------------------------------------- */

static const char *jstr(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *jobj(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

	return cJSON_IsObject(v) ? v : NULL;
}

/* An id value as decimal text into out (24 bytes): a JSON number that is
 * a whole number below 2^53 (above it, a double has lost digits), or a
 * string of at most 19 digits (int64 range). */
static bool exact_id(const cJSON *v, char out[24])
{
	if (cJSON_IsString(v) && text_is_digits(v->valuestring, 19)) {
		memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
		return true;
	}
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < MAX_EXACT_INT &&
	    (double)(int64_t)v->valuedouble == v->valuedouble) {
		snprintf(out, 24, "%lld", (long long)v->valuedouble);
		return true;
	}
	return false;
}

/*
 * A Shopify object's id as decimal text into out (24 bytes).  Ids are
 * int64 and cJSON reads numbers as doubles, so the GraphQL id
 * ("gid://shopify/Order/5551234567890", exact text) is preferred and the
 * "id" member used only when exact_id() trusts it.  ERR_NOTFOUND when there
 * is no id at all, ERR_INVALID when there is one that cannot be trusted.
 */
static int shopify_id(const cJSON *obj, const char *gid_prefix, char out[24])
{
	const char *gid = jstr(obj, "admin_graphql_api_id");
	const cJSON *v;
	size_t plen = strlen(gid_prefix);

	if (gid && strncmp(gid, gid_prefix, plen) == 0 && text_is_digits(gid + plen, 19)) {
		memcpy(out, gid + plen, strlen(gid + plen) + 1);
		return 0;
	}
	v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, "id") : NULL;
	if (v == NULL || cJSON_IsNull(v))
		return ERR_NOTFOUND;
	return exact_id(v, out) ? 0 : ERR_INVALID;
}

/* The shop's domain from the stored headers (names case-insensitive), if
 * it looks like a host name; heap, caller frees.  The header is not
 * covered by the HMAC, hence the strict check before it goes into a URL. */
static char *shop_domain(const char *headers_json)
{
	cJSON *h = headers_json ? cJSON_Parse(headers_json) : NULL;
	const cJSON *v;
	char *dom = NULL;

	if (!cJSON_IsObject(h))
		goto out;
	cJSON_ArrayForEach (v, h) {
		const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
		size_t n;

		if (v->string == NULL || s == NULL ||
		    !(str_ieq(v->string, "X-Shopify-Shop-Domain") ||
		      str_ieq(v->string, "Shopify-Shop-Domain")))
			continue;
		n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
		if (n == 0 || n > 253 || s[n] != '\0' || s[0] == '.' || s[0] == '-')
			continue;
		dom = xstrdup(s);
		for (char *p = dom; *p; p++) {
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
		}
		break;
	}
out:
	cJSON_Delete(h);
	return dom;
}

/* ---- parse ---------------------------------------------------------------------- */

static enum shopify_kind topic_kind(const char *topic)
{
	if (topic == NULL)
		return KIND_NONE;
	if (strcmp(topic, "orders/create") == 0 || strcmp(topic, "orders/paid") == 0)
		return KIND_ORDER;
	if (strcmp(topic, "checkouts/create") == 0)
		return KIND_CHECKOUT;
	return KIND_NONE;
}

static int set_identity(const cJSON *root, enum shopify_kind kind, struct conversion *c,
			struct err *e)
{
	const char *token;
	char id[24];
	int r;

	if (kind == KIND_ORDER) {
		r = shopify_id(root, "gid://shopify/Order/", id);
		if (r < 0)
			return err_set(e, ERR_INVALID, "order has %s id",
				       r == ERR_NOTFOUND ? "no"
							 : "an unusable (inexact or non-numeric)");
		c->event = xstrdup("purchase");
		c->event_id = xasprintf("shopify:order:%s", id);
		c->order_id = xstrdup(id);
		return 0;
	}
	token = jstr(root, "token");
	if (token && token[0] && strlen(token) <= 128 && printable_ascii(token, false)) {
		c->event_id = xasprintf("shopify:checkout:%s", token);
	} else {
		r = shopify_id(root, "gid://shopify/Checkout/", id);
		if (r < 0)
			return err_set(e, ERR_INVALID,
				       "checkout has neither a token nor a usable id");
		c->event_id = xasprintf("shopify:checkout:%s", id);
	}
	c->event = xstrdup("begin_checkout");
	return 0;
}

static int set_money(const cJSON *root, struct conversion *c, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "total_price");
	const char *cur = jstr(root, "currency");

	if (v && !cJSON_IsNull(v)) {
		/* Money is never guessed: a total that is not a decimal string
		 * makes the event an error, kept for reprocessing. */
		if (!cJSON_IsString(v) || !text_is_decimal(v->valuestring))
			return err_set(e, ERR_INVALID, "total_price is not a decimal string");
		c->value = xstrdup(v->valuestring);
	}
	if (cur && strlen(cur) == 3 &&
	    strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 3) {
		c->currency = xstrdup(cur);
		for (char *p = c->currency; *p; p++) {
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
		}
	}
	return 0;
}

static void set_client(const cJSON *root, struct conversion *c)
{
	const cJSON *cd = jobj(root, "client_details");
	const char *ip = jstr(cd, "browser_ip");
	const char *ua = jstr(cd, "user_agent");

	if (!text_is_ip(ip))
		ip = jstr(root, "browser_ip");
	if (text_is_ip(ip))
		c->client_ip = xstrdup(ip);
	if (ua && ua[0] && text_is_clean(ua, SHOPIFY_MAX_TEXT))
		c->user_agent = xstrdup(ua);
}

/* page_url and click ids.  Cart attributes come first: an explicit _fbc
 * cookie carries the real first-seen time, better than one rebuilt from
 * the landing URL's fbclid. */
static void set_attribution(const cJSON *root, struct conversion *c, const char *domain,
			    int64_t seen_ms)
{
	const char *landing = jstr(root, "landing_site");
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(root, "note_attributes");
	const cJSON *a;
	char base[300];
	int n = 0;

	if (cJSON_IsArray(attrs)) {
		cJSON_ArrayForEach (a, attrs) {
			if (n++ == SHOPIFY_MAX_ATTRS)
				break;
			clickid_from_attribute(c, jstr(a, "name"), jstr(a, "value"), seen_ms);
		}
	}
	if (landing == NULL || landing[0] == '\0' ||
	    !text_is_clean(landing, SHOPIFY_MAX_TEXT - 300))
		return;
	if (domain) {
		snprintf(base, sizeof(base), "https://%s/", domain);
		if (landing[0] == '/')
			c->page_url = xasprintf("https://%s%s", domain, landing);
	}
	if (c->page_url == NULL)
		c->page_url = xstrdup(landing);
	/* A landing URL curl cannot parse only costs its click ids. */
	(void)clickid_from_url(c, landing, domain ? base : NULL, seen_ms);
}

static void set_pii(const cJSON *root, struct conversion *c)
{
	const cJSON *cust = jobj(root, "customer");
	const cJSON *bill = jobj(root, "billing_address");
	char id[24];

	/* Candidates in order of trust; conv_set_pii keeps the first value
	 * each scheme accepts, so an invalid first one falls through. */
	conv_set_pii(c, PII_EMAIL, jstr(root, "email"));
	conv_set_pii(c, PII_EMAIL, jstr(root, "contact_email"));
	conv_set_pii(c, PII_EMAIL, jstr(cust, "email"));
	conv_set_pii(c, PII_PHONE, jstr(root, "phone"));
	conv_set_pii(c, PII_PHONE, jstr(cust, "phone"));
	conv_set_pii(c, PII_PHONE, jstr(bill, "phone"));
	conv_set_pii(c, PII_FIRST_NAME, jstr(bill, "first_name"));
	conv_set_pii(c, PII_FIRST_NAME, jstr(cust, "first_name"));
	conv_set_pii(c, PII_LAST_NAME, jstr(bill, "last_name"));
	conv_set_pii(c, PII_LAST_NAME, jstr(cust, "last_name"));
	conv_set_pii(c, PII_CITY, jstr(bill, "city"));
	conv_set_pii(c, PII_REGION, jstr(bill, "province_code"));
	conv_set_pii(c, PII_POSTAL, jstr(bill, "zip"));
	conv_set_pii(c, PII_COUNTRY, jstr(bill, "country_code"));
	if (cust && shopify_id(cust, "gid://shopify/Customer/", id) == 0)
		conv_set_pii(c, PII_EXTERNAL_ID, id);
}

/* Item id: the SKU when it is a usable token, else the variant's or the
 * product's id.  Items with none are useless to the platforms: skipped.
 * out holds SHOPIFY_MAX_TOKEN + 1 bytes. */
static bool item_id(const cJSON *li, char *out)
{
	const char *sku = jstr(li, "sku");

	if (sku && sku[0] && strlen(sku) <= SHOPIFY_MAX_TOKEN && printable_ascii(sku, true)) {
		memcpy(out, sku, strlen(sku) + 1);
		return true;
	}
	return exact_id(cJSON_GetObjectItemCaseSensitive(li, "variant_id"), out) ||
	       exact_id(cJSON_GetObjectItemCaseSensitive(li, "product_id"), out);
}

static void set_items(const cJSON *root, struct conversion *c)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "line_items");
	const cJSON *li;
	int size;
	size_t cap;

	if (!cJSON_IsArray(arr))
		return;
	size = cJSON_GetArraySize(arr);
	cap = size > SHOPIFY_MAX_ITEMS ? SHOPIFY_MAX_ITEMS : (size_t)size;
	if (cap == 0)
		return;
	c->items = xcalloc(cap, sizeof(*c->items));
	cJSON_ArrayForEach (li, arr) {
		char id[SHOPIFY_MAX_TOKEN + 1];
		const char *title = jstr(li, "title"), *price = jstr(li, "price");
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(li, "quantity");
		struct conv_item *it;

		if (c->n_items == cap)
			break;
		if (!cJSON_IsObject(li) || !item_id(li, id))
			continue;
		it = &c->items[c->n_items++];
		it->id = xstrdup(id);
		if (title && title[0] && text_is_clean(title, SHOPIFY_MAX_TEXT))
			it->name = xstrdup(title);
		if (price && text_is_decimal(price))
			it->price = xstrdup(price);
		it->quantity = 1;
		if (cJSON_IsNumber(q) && q->valuedouble >= 0 && q->valuedouble < 1e9 &&
		    (double)(int64_t)q->valuedouble == q->valuedouble)
			it->quantity = (int64_t)q->valuedouble;
	}
}

static int shopify_parse(const struct raw_event *ev, struct conv_list *out, struct err *e)
{
	enum shopify_kind kind = topic_kind(ev->topic);
	cJSON *root = NULL;
	struct conversion *c = NULL;
	char *domain = NULL;
	const char *created, *end = NULL;
	int result = 0;

	if (kind == KIND_NONE)
		return 0;
	result = ERR_INVALID;
	if (ev->body == NULL || ev->body_len == 0) {
		err_set(e, ERR_INVALID, "empty body");
		goto out;
	}
	root = cJSON_ParseWithLengthOpts((const char *)ev->body, ev->body_len, &end, false);
	/* cJSON stops after the value; anything but white space after it
	 * means the body is not one JSON document. */
	while (root && end && (size_t)(end - (const char *)ev->body) < ev->body_len &&
	       strchr(" \t\r\n", *end) && *end)
		end++;
	if (!cJSON_IsObject(root) || end == NULL ||
	    (size_t)(end - (const char *)ev->body) != ev->body_len) {
		err_set(e, ERR_INVALID, "body is not a JSON object");
		goto out;
	}
	c = conv_new();
	result = set_identity(root, kind, c, e);
	if (result < 0)
		goto out;
	result = set_money(root, c, e);
	if (result < 0)
		goto out;
	/* created_at is when the buyer acted; without a usable one, when we
	 * heard of it. */
	created = jstr(root, "created_at");
	if (created == NULL || clock_parse_iso8601(created, &c->occurred_us, NULL) < 0)
		c->occurred_us = ev->received_us;
	c->test = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "test"));
	domain = shop_domain(ev->headers_json);
	set_client(root, c);
	set_attribution(root, c, domain, c->occurred_us / 1000);
	set_pii(root, c);
	set_items(root, c);
	conv_list_push(out, c);
	c = NULL;
	result = 0;
out:
	conv_free(c);
	free(domain);
	cJSON_Delete(root);
	return result;
}

const struct source_ops shopify_source_ops = {
	.kind = "shopify",
	.verify = shopify_verify,
	.dedup_key = shopify_dedup_key,
	.topic = shopify_topic,
	.stored_headers = shopify_stored_headers,
	.unavailable_status = 503, /* Shopify retries any non-2xx */
	.parse = shopify_parse,
};
