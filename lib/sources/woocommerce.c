/*
 * woocommerce.c - WooCommerce webhooks (PLATFORMS.md "WooCommerce"): the
 * activation ping answered without storing, the HMAC check over the raw
 * body, a dedup key that does not trust the delivery id, and the parser that
 * turns a paid order into one canonical "purchase".
 *
 * What WooCommerce sends is read from its own code,
 * https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-webhook.php
 * (deliver(), deliver_ping(), generate_signature(), get_new_delivery_id()):
 *  - deliveries are POSTed over HTTP/1.0 with X-WC-Webhook-Source, -Topic,
 *    -Resource, -Event, -Signature (base64 HMAC-SHA256 of the body), -ID and
 *    -Delivery-ID, where the delivery id is a hash of the webhook id and the
 *    current second: two deliveries in one second share it, so it is never
 *    the dedup key;
 *  - the ping at activation is a form body "webhook_id=N" with no signature
 *    and no X-WC header, and the webhook is only saved if it gets exactly
 *    200;
 *  - nothing is retried, so a refused order is lost (reconcile is the cure).
 *
 * An order becomes a conversion only once it is paid, and order.created
 * often fires before that; every later order.updated still carries the
 * whole order.  So every delivery of a paid order yields the same
 * "purchase" with event_id "woocommerce:order:<id>", and the conversions
 * table's unique (source_id, event_id) turns all but the first into no-ops.
 *
 * The body is outside input even once its HMAC checks out (plugins add to
 * it), so each field is read through a typed accessor and bounded, as in
 * shopify.c.  Only the *_gmt dates are used: they are UTC written without an
 * offset, which clock_parse_iso8601 reads as UTC; the other dates are in the
 * shop's local time.
 */
#include "sources/source.h"
#include "sources/source_json.h"
#include "core/clickid.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WOO_MAX_META  200  /* meta_data entries looked at */
#define WOO_MAX_TEXT  4096 /* URLs, user agents, names */
#define WOO_MAX_TOKEN 256  /* SKUs */
#define WOO_MAX_DATE  32   /* "2026-11-26T20:15:02" and some slack */

#define META_SESSION_ENTRY "_wc_order_attribution_session_entry"
#define META_USER_AGENT	   "_wc_order_attribution_user_agent"

/* ---- requests ---------------------------------------------------------------- */

/* The ping is recognised by its whole body: "webhook_id=" and digits. */
static bool woo_answer_unstored(const struct source *src, const struct http_req *req,
				struct source_answer *ans)
{
	static const char prefix[] = "webhook_id=";
	const size_t plen = sizeof(prefix) - 1;
	size_t digits;

	(void)src;
	/* A signed request is a delivery: it goes through verify. */
	if (http_req_header(req, "X-WC-Webhook-Signature") != NULL)
		return false;
	if (req->body_len <= plen || req->body_len > plen + 20 ||
	    memcmp(req->body, prefix, plen) != 0)
		return false;
	digits = req->body_len - plen;
	for (size_t i = 0; i < digits; i++) {
		if (req->body[plen + i] < '0' || req->body[plen + i] > '9')
			return false;
	}
	ans->status = 200;
	ans->body = "{\"status\":\"ping\"}";
	return true;
}

static int woo_verify(const struct source *src, const struct source_ctx *ctx,
		      const struct http_req *req, struct err *e)
{
	/* No timestamp to check: WooCommerce signs only the body.  ctx is
	 * the clock that ends a rotated-out secret's overlap. */
	return source_verify_hmac_b64(src, ctx, http_req_header(req, "X-WC-Webhook-Signature"),
				      req->body, req->body_len, e);
}

static void woo_topic(const struct http_req *req, char *out, size_t outlen)
{
	const char *v = http_req_header(req, "X-WC-Webhook-Topic");
	size_t n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (v == NULL)
		return;
	n = strnlen(v, SOURCE_TOPIC_MAX);
	/* Not a plain token: no topic we know, so none rather than a cut one. */
	if (n >= SOURCE_TOPIC_MAX || n >= outlen || !text_is_printable_ascii(v, false))
		return;
	memcpy(out, v, n + 1);
}

/* "<id>:<date_modified_gmt>" of the body's resource into out, or false
 * when the body has no exact integer id or no usable date. */
static bool resource_version(const uint8_t *body, size_t len, char *out, size_t outlen)
{
	cJSON *root = cJSON_ParseWithLength((const char *)body, len);
	const cJSON *id =
		cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "id") : NULL;
	const cJSON *mod = cJSON_IsObject(root)
				   ? cJSON_GetObjectItemCaseSensitive(root, "date_modified_gmt")
				   : NULL;
	char ids[24];
	bool ok = false;
	int n;

	if (!source_json_exact_id(id, false, 0, ids))
		goto out;
	if (!cJSON_IsString(mod) || mod->valuestring[0] == '\0' ||
	    strlen(mod->valuestring) > WOO_MAX_DATE ||
	    strspn(mod->valuestring, "0123456789-:T. ") != strlen(mod->valuestring))
		goto out;
	n = snprintf(out, outlen, "%s:%s", ids, mod->valuestring);
	ok = n > 0 && (size_t)n < outlen;
out:
	cJSON_Delete(root);
	return ok;
}

/*
 * topic + resource id + date_modified_gmt: one version of one resource is
 * stored once however often it is delivered, and a real change (a new
 * date_modified_gmt) is a new event.  Without those, the body's SHA-256.
 * This parses the body on the HTTP loop: bounded by [server] max_body, and
 * the headers carry neither the id nor the version.
 */
static int woo_dedup_key(const struct http_req *req, char *out, size_t outlen, struct err *e)
{
	char topic[SOURCE_TOPIC_MAX], version[64];
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1];
	int n;

	woo_topic(req, topic, sizeof(topic));
	if (resource_version(req->body, req->body_len, version, sizeof(version))) {
		n = snprintf(out, outlen, "%s:%s", topic[0] ? topic : "-", version);
	} else {
		crypto_hash_sha256(h, req->body, req->body_len);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		n = snprintf(out, outlen, "%s:sha256:%s", topic[0] ? topic : "-", hex);
	}
	if (n < 0 || (size_t)n >= outlen || (size_t)n >= SOURCE_DEDUP_MAX)
		return err_set(e, ERR_INVALID, "dedup key too long");
	return 0;
}

static const char *const woo_stored_headers[] = {
	"X-WC-Webhook-Topic",
	"X-WC-Webhook-Resource",
	"X-WC-Webhook-Event",
	"X-WC-Webhook-Source",
	"X-WC-Webhook-ID",
	"X-WC-Webhook-Delivery-ID",
	NULL,
};

/* ---- typed access to an untrusted body -------------------------------------------- */

/* A *_gmt date member parsed as UTC; false when absent, null or bad. */
static bool gmt_date(const cJSON *root, const char *key, int64_t *us)
{
	const char *s = source_json_str(root, key);

	return s && s[0] && strlen(s) <= WOO_MAX_DATE && clock_parse_iso8601(s, us, NULL) == 0;
}

/*
 * Paid: status processing or completed, or a payment date.  A payment date
 * on an order now failed, cancelled or refunded does not count: seen for
 * the first time in that state, the sale did not stand.
 */
static bool order_is_paid(const cJSON *root)
{
	const char *status = source_json_str(root, "status");
	int64_t paid_us;

	if (status && (strcmp(status, "processing") == 0 || strcmp(status, "completed") == 0))
		return true;
	if (status && (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0 ||
		       strcmp(status, "refunded") == 0))
		return false;
	return gmt_date(root, "date_paid_gmt", &paid_us);
}

/* ---- parse ---------------------------------------------------------------------- */

/* The meta keys the source's settings map onto click fields, parsed from
 * settings_json ("click_meta_keys": {"_gclid": "gclid"} or ["_gclid"],
 * where a bare key names the field without its leading underscores);
 * NULL when there are none.  The caller frees it with cJSON_Delete. */
static cJSON *settings_meta_keys(const char *settings_json)
{
	cJSON *s = settings_json ? cJSON_Parse(settings_json) : NULL;
	cJSON *keys = cJSON_IsObject(s)
			      ? cJSON_DetachItemFromObjectCaseSensitive(s, "click_meta_keys")
			      : NULL;

	cJSON_Delete(s);
	if (cJSON_IsObject(keys) || cJSON_IsArray(keys))
		return keys;
	cJSON_Delete(keys);
	return NULL;
}

/* The click field the settings give to meta key `key`, or NULL. */
static const char *configured_field(const cJSON *keys, const char *key)
{
	const cJSON *k;

	if (cJSON_IsObject(keys)) {
		k = cJSON_GetObjectItemCaseSensitive(keys, key);
		return cJSON_IsString(k) ? k->valuestring : NULL;
	}
	cJSON_ArrayForEach (k, keys) {
		if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
			return key + strspn(key, "_");
	}
	return NULL;
}

/* What meta_data carries for attribution (pointers into the body). */
struct woo_meta {
	const char *session_entry;
	const char *user_agent;
};

/* Walk meta_data: click fields go to c at once (an explicit cookie such as
 * _fbc carries the real first-seen time, so it beats the fbc rebuilt later
 * from the landing URL's fbclid); the landing URL and user agent are kept. */
static void read_meta(const cJSON *root, const cJSON *keys, struct conversion *c, int64_t seen_ms,
		      struct woo_meta *m)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "meta_data");
	const cJSON *it;
	int n = 0;

	if (!cJSON_IsArray(arr))
		return;
	cJSON_ArrayForEach (it, arr) {
		const char *key = source_json_str(it, "key"), *value = source_json_str(it, "value");
		const char *field;

		if (n++ == WOO_MAX_META)
			break;
		if (key == NULL || value == NULL || value[0] == '\0')
			continue;
		if (strcmp(key, META_SESSION_ENTRY) == 0 && m->session_entry == NULL)
			m->session_entry = value;
		else if (strcmp(key, META_USER_AGENT) == 0 && m->user_agent == NULL)
			m->user_agent = value;
		field = configured_field(keys, key);
		/* Unknown names are ignored by clickid_from_attribute, so the
		 * well-known cookie keys (_fbp, _fbc, _ga, _ttp) work without
		 * settings. */
		clickid_from_attribute(c, field ? field : key, value, seen_ms);
	}
}

static void set_attribution(const cJSON *root, const char *settings_json, struct conversion *c)
{
	cJSON *keys = settings_meta_keys(settings_json);
	struct woo_meta m = { 0 };
	const char *ip = source_json_str(root, "customer_ip_address");
	const char *ua = source_json_str(root, "customer_user_agent");
	int64_t seen_ms = c->occurred_us / 1000;

	read_meta(root, keys, c, seen_ms, &m);
	cJSON_Delete(keys);
	if (text_is_ip(ip))
		c->client_ip = xstrdup(ip);
	/* The checkout's own browser first; the attribution script's copy
	 * (the same browser, seen at the session's start) otherwise. */
	if (ua == NULL || ua[0] == '\0' || !text_is_clean(ua, WOO_MAX_TEXT))
		ua = m.user_agent;
	if (ua && ua[0] && text_is_clean(ua, WOO_MAX_TEXT))
		c->user_agent = xstrdup(ua);
	if (m.session_entry == NULL || !text_is_clean(m.session_entry, WOO_MAX_TEXT) ||
	    !(str_has_prefix(m.session_entry, "https://") ||
	      str_has_prefix(m.session_entry, "http://")))
		return;
	/* A URL curl cannot parse only costs its click ids. */
	if (clickid_from_url(c, m.session_entry, NULL, seen_ms) == 0)
		c->page_url = xstrdup(m.session_entry);
}

static void set_pii(const cJSON *root, struct conversion *c)
{
	const cJSON *bill = source_json_obj(root, "billing");
	const cJSON *ship = source_json_obj(root, "shipping");
	char id[24];

	/* conv_set_pii keeps the first value each scheme accepts: billing is
	 * what the buyer typed for the payment, shipping a fallback. */
	conv_set_pii(c, PII_EMAIL, source_json_str(bill, "email"));
	conv_set_pii(c, PII_PHONE, source_json_str(bill, "phone"));
	conv_set_pii(c, PII_PHONE, source_json_str(ship, "phone"));
	conv_set_pii(c, PII_FIRST_NAME, source_json_str(bill, "first_name"));
	conv_set_pii(c, PII_FIRST_NAME, source_json_str(ship, "first_name"));
	conv_set_pii(c, PII_LAST_NAME, source_json_str(bill, "last_name"));
	conv_set_pii(c, PII_LAST_NAME, source_json_str(ship, "last_name"));
	conv_set_pii(c, PII_CITY, source_json_str(bill, "city"));
	conv_set_pii(c, PII_CITY, source_json_str(ship, "city"));
	conv_set_pii(c, PII_REGION, source_json_str(bill, "state"));
	conv_set_pii(c, PII_POSTAL, source_json_str(bill, "postcode"));
	conv_set_pii(c, PII_POSTAL, source_json_str(ship, "postcode"));
	conv_set_pii(c, PII_COUNTRY, source_json_str(bill, "country"));
	conv_set_pii(c, PII_COUNTRY, source_json_str(ship, "country"));
	/* customer_id 0 is a guest: no id. */
	if (source_json_exact_id(cJSON_GetObjectItemCaseSensitive(root, "customer_id"), false, 1,
				 id))
		conv_set_pii(c, PII_EXTERNAL_ID, id);
}

/*
 * The unit price as a decimal string: the line's subtotal (a string, before
 * discounts, like Shopify's price) divided by the quantity when that is
 * exact in the subtotal's own decimals; NULL otherwise.  Integer arithmetic
 * only: the line's "price" member is a JSON float.
 */
static char *unit_price(const char *subtotal, int64_t qty)
{
	const char *dot;
	int64_t scaled = 0, unit;
	size_t frac = 0;
	bool neg;

	if (subtotal == NULL || qty <= 0 || !text_is_decimal(subtotal))
		return NULL;
	neg = subtotal[0] == '-';
	dot = strchr(subtotal, '.');
	frac = dot ? strlen(dot + 1) : 0;
	if (strlen(subtotal) > 19 || frac > 6)
		return NULL;
	for (const char *p = subtotal + neg; *p; p++) {
		if (*p != '.')
			scaled = scaled * 10 + (*p - '0');
	}
	if (scaled % qty != 0)
		return NULL;
	unit = scaled / qty;
	if (frac == 0)
		return xasprintf("%s%lld", neg ? "-" : "", (long long)unit);
	{
		int64_t p10 = 1;

		for (size_t i = 0; i < frac; i++)
			p10 *= 10;
		return xasprintf("%s%lld.%0*lld", neg ? "-" : "", (long long)(unit / p10),
				 (int)frac, (long long)(unit % p10));
	}
}

/* Item ids after the SKU: the variation's (0 for a simple product), else
 * the product's. */
static const char *const woo_item_ids[] = { "variation_id", "product_id", NULL };

/* subtotal is before the order's discounts, like Shopify's price; older
 * payloads may lack it, then total. */
static char *woo_item_price(const cJSON *li, int64_t qty)
{
	char *p = unit_price(source_json_str(li, "subtotal"), qty);

	if (p == NULL && cJSON_GetObjectItemCaseSensitive(li, "subtotal") == NULL)
		p = unit_price(source_json_str(li, "total"), qty);
	return p;
}

/* Everything but the identity and the money, which can fail. */
static void set_rest(const cJSON *root, const struct raw_event *ev, struct conversion *c)
{
	/* When the buyer ordered; else when it was paid; else when we heard. */
	if (!gmt_date(root, "date_created_gmt", &c->occurred_us) &&
	    !gmt_date(root, "date_paid_gmt", &c->occurred_us))
		c->occurred_us = ev->received_us;
	set_attribution(root, ev->settings_json, c);
	set_pii(root, c);
	source_items_collect(root, "line_items", woo_item_ids, "name", 1, woo_item_price, c);
}

static int woo_parse(const struct raw_event *ev, struct conv_list *out, struct err *e)
{
	cJSON *root = NULL;
	struct conversion *c = NULL;
	char id[24];
	int result = 0;

	if (ev->topic == NULL ||
	    (strcmp(ev->topic, "order.created") != 0 && strcmp(ev->topic, "order.updated") != 0))
		return 0;
	result = ERR_INVALID;
	if (ev->body == NULL || ev->body_len == 0) {
		err_set(e, ERR_INVALID, "empty body");
		goto out;
	}
	root = source_json_parse_object(ev->body, ev->body_len);
	if (root == NULL) {
		err_set(e, ERR_INVALID, "body is not a JSON object");
		goto out;
	}
	if (!source_json_exact_id(cJSON_GetObjectItemCaseSensitive(root, "id"), false, 1, id)) {
		err_set(e, ERR_INVALID, "order has no usable id");
		goto out;
	}
	result = 0;
	if (!order_is_paid(root))
		goto out; /* not a purchase yet: a later order.updated will be */
	c = conv_new();
	c->event = xstrdup("purchase");
	c->event_id = xasprintf("woocommerce:order:%s", id);
	c->order_id = xstrdup(id);
	result = source_json_money(root, "total", c, e);
	if (result < 0)
		goto out;
	set_rest(root, ev, c);
	conv_list_push(out, c);
	c = NULL;
out:
	conv_free(c);
	cJSON_Delete(root);
	return result;
}

/* ---- reconcile through the REST API ------------------------------------------------ */

#define WOO_PER_PAGE 100 /* the API's maximum */

/* https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders:
 * modified_after, dates_are_gmt, orderby, per_page at most 100, page. */
static char *woo_page_url(const char *base_url, const char *since_gmt, int page)
{
	return xasprintf("%s/wp-json/wc/v3/orders?modified_after=%s&dates_are_gmt=true"
			 "&orderby=modified&order=asc&per_page=%d&page=%d",
			 base_url, since_gmt, WOO_PER_PAGE, page);
}

/* Wipe every string of a parsed credentials object before it is freed. */
static void wipe_strings(cJSON *j)
{
	for (cJSON *v = j ? j->child : NULL; v; v = v->next) {
		if (cJSON_IsString(v))
			sodium_memzero(v->valuestring, strlen(v->valuestring));
	}
}

/* "Basic base64(consumer_key:consumer_secret)" (HTTP Basic over TLS is
 * the API's documented scheme for https shops). */
static int woo_auth_header(const char *creds_json, char **out, struct err *e)
{
	cJSON *j = cJSON_Parse(creds_json);
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "consumer_key");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "consumer_secret");
	char *pair = NULL;
	size_t plen, b64len;
	int rc = 0;

	*out = NULL;
	if (!cJSON_IsString(k) || !cJSON_IsString(s)) {
		rc = err_set(e, ERR_INVALID,
			     "the source's REST credentials lack consumer_key or consumer_secret");
		goto out;
	}
	plen = strlen(k->valuestring) + 1 + strlen(s->valuestring);
	b64len = sodium_base64_ENCODED_LEN(plen, sodium_base64_VARIANT_ORIGINAL);
	pair = sodium_malloc(plen + 1);
	*out = sodium_malloc(b64len + 6);
	if (pair == NULL || *out == NULL) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(pair, plen + 1, "%s:%s", k->valuestring, s->valuestring);
	memcpy(*out, "Basic ", 6);
	sodium_bin2base64(*out + 6, b64len, (const unsigned char *)pair, plen,
			  sodium_base64_VARIANT_ORIGINAL);
out:
	if (pair)
		sodium_free(pair);
	wipe_strings(j);
	cJSON_Delete(j);
	if (rc != 0 && *out) {
		sodium_free(*out);
		*out = NULL;
	}
	return rc;
}

static const struct source_rest woo_rest = {
	.topic = "order.updated",
	.topic_header = "X-WC-Webhook-Topic",
	.per_page = WOO_PER_PAGE,
	.page_url = woo_page_url,
	.auth_header = woo_auth_header,
};

const struct source_ops woocommerce_source_ops = {
	.kind = "woocommerce",
	.answer_unstored = woo_answer_unstored,
	.verify = woo_verify,
	.dedup_key = woo_dedup_key,
	.topic = woo_topic,
	.stored_headers = woo_stored_headers,
	.unavailable_status = 503, /* a refused delivery counts towards disabling */
	.parse = woo_parse,
	.rest = &woo_rest,
};
