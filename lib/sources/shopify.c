/*
 * shopify.c - Shopify webhooks: HMAC check over the raw body, dedup key
 * and topic for the ingest path, and the parser that turns a stored order
 * or checkout into a canonical conversion (PLATFORMS.md "Shopify").
 *
 * orders/create and orders/paid both become one "purchase" whose event_id
 * is derived from the order id only, so whichever arrives second dedups
 * against the first in the conversions table; checkouts/create becomes a
 * "begin_checkout".  Other topics are not conversions; the customer and
 * privacy topics are shopify_customer.c's.
 *
 * orders/updated and refunds/create are no new conversion: the adjust hook
 * reports them as changes to the order's purchase (the order's new total;
 * the money a refund returned), and stage 1 decides against what is stored
 * whether that updates the purchase, becomes an adjustment, or is nothing.
 *
 * The body is outside input even after its HMAC checks out (a shop's own
 * apps write most of it, and unapproved apps get PII as null), so every
 * field may be missing, null or of the wrong type: each is read through a
 * typed accessor and bounded before it is kept.  Every string kept obeys
 * the same rules conv_from_json enforces, so what this parser produces
 * survives the JSON round trip through the database.
 */
#include "sources/shopify_int.h"
#include "sources/source_json.h"
#include "core/text.h"
#include "core/clickid.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOPIFY_MAX_ATTRS	   100			/* note_attributes looked at */
#define SHOPIFY_MAX_TEXT	   4096			/* URLs, user agents, titles */
#define SHOPIFY_MAX_TOKEN	   256			/* ids, SKUs, tokens */
#define SHOPIFY_MAX_AGE_DEFAULT_MS (24LL * 3600 * 1000) /* [shopify] max_age unregistered */

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

/*
 * Freshness: refuse a delivery whose X-Shopify-Triggered-At is older than
 * [shopify] max_age, so a captured request is not accepted again once its
 * dedup key has been purged.  The header is not covered by the HMAC (only
 * the body is), so this stops a replay of the request as captured, not one
 * whose sender rewrites the header.
 *
 * A missing header is accepted: older API versions do not send it (the
 * 2019-04 reference lists only Topic, Hmac-Sha256, Shop-Domain and
 * API-Version, https://help.shopify.com/en/api/reference/events/webhook),
 * and the version that added it is not in Shopify's changelog; today's
 * reference lists it with every delivery
 * (https://shopify.dev/docs/apps/build/webhooks/delivery-structure).
 * A header that is present but unreadable is refused.  A time in the
 * future (clock skew) is accepted.  No config (unit tests of the other
 * checks): no window.
 */
static int shopify_check_fresh(const struct source_ctx *ctx, const struct http_req *req,
			       struct err *e)
{
	const char *v = shopify_header(req, "Triggered-At");
	struct err pe = { 0 };
	int64_t at_us, max_us;

	if (v == NULL || ctx == NULL || ctx->cfg == NULL)
		return 0;
	if (clock_parse_iso8601(v, &at_us, &pe) != 0)
		return err_set(e, ERR_AUTH, "X-Shopify-Triggered-At is not a timestamp");
	max_us = config_platform_ms(ctx->cfg, "shopify", "max_age", SHOPIFY_MAX_AGE_DEFAULT_MS) *
		 1000;
	if (ctx->now_us - at_us > max_us)
		return err_set(e, ERR_AUTH,
			       "X-Shopify-Triggered-At is %lld s old, more than [shopify] max_age",
			       (long long)((ctx->now_us - at_us) / 1000000));
	return 0;
}

/* Daemon-wide settings of this kind; registered by source.c. */
static const struct config_platform_key shopify_config_keys[] = {
	{ .section = "shopify",
	  .name = "max_age",
	  .def = "24h",
	  .help = "oldest X-Shopify-Triggered-At accepted: an older webhook is answered 401 and "
		  "not stored, so a captured request cannot be replayed once its dedup key is "
		  "purged",
	  .type = CONFIG_P_DURATION,
	  .reloadable = true,
	  .min_ms = 1000,
	  .max_ms = 30LL * 86400 * 1000 },
};

static int shopify_verify(const struct source *src, const struct source_ctx *ctx,
			  const struct http_req *req, struct err *e)
{
	int rc = source_verify_hmac_b64(src, ctx, shopify_header(req, "Hmac-Sha256"), req->body,
					req->body_len, e);

	if (rc != 0)
		return rc;
	return shopify_check_fresh(ctx, req, e);
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
	if (!text_is_printable_ascii(v, false))
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
	if (n >= SOURCE_TOPIC_MAX || n >= outlen || !text_is_printable_ascii(v, false))
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

/*
 * A Shopify object's id as decimal text into out (24 bytes).  Ids are
 * int64 and cJSON reads numbers as doubles, so the GraphQL id
 * ("gid://shopify/Order/5551234567890", exact text) is preferred and the
 * "id" member used only when exact_id() trusts it.  ERR_NOTFOUND when there
 * is no id at all, ERR_INVALID when there is one that cannot be trusted.
 */
int shopify_id(const cJSON *obj, const char *gid_prefix, char out[24])
{
	const char *gid = source_json_str(obj, "admin_graphql_api_id");
	const cJSON *v;
	size_t plen = strlen(gid_prefix);

	if (gid && strncmp(gid, gid_prefix, plen) == 0 && text_is_digits(gid + plen, 19)) {
		memcpy(out, gid + plen, strlen(gid + plen) + 1);
		return 0;
	}
	v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, "id") : NULL;
	if (v == NULL || cJSON_IsNull(v))
		return ERR_NOTFOUND;
	return source_json_exact_id(v, true, 0, out) ? 0 : ERR_INVALID;
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
	token = source_json_str(root, "token");
	if (token && token[0] && strlen(token) <= 128 && text_is_printable_ascii(token, false)) {
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

static void set_client(const cJSON *root, struct conversion *c)
{
	const cJSON *cd = source_json_obj(root, "client_details");
	const char *ip = source_json_str(cd, "browser_ip");
	const char *ua = source_json_str(cd, "user_agent");

	if (!text_is_ip(ip))
		ip = source_json_str(root, "browser_ip");
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
	const char *landing = source_json_str(root, "landing_site");
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(root, "note_attributes");
	const cJSON *a;
	char base[300];
	int n = 0;

	if (cJSON_IsArray(attrs)) {
		cJSON_ArrayForEach (a, attrs) {
			if (n++ == SHOPIFY_MAX_ATTRS)
				break;
			clickid_from_attribute(c, source_json_str(a, "name"),
					       source_json_str(a, "value"), seen_ms);
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
	const cJSON *cust = source_json_obj(root, "customer");
	const cJSON *bill = source_json_obj(root, "billing_address");
	char id[24];

	/* Candidates in order of trust; conv_set_pii keeps the first value
	 * each scheme accepts, so an invalid first one falls through. */
	conv_set_pii(c, PII_EMAIL, source_json_str(root, "email"));
	conv_set_pii(c, PII_EMAIL, source_json_str(root, "contact_email"));
	conv_set_pii(c, PII_EMAIL, source_json_str(cust, "email"));
	conv_set_pii(c, PII_PHONE, source_json_str(root, "phone"));
	conv_set_pii(c, PII_PHONE, source_json_str(cust, "phone"));
	conv_set_pii(c, PII_PHONE, source_json_str(bill, "phone"));
	conv_set_pii(c, PII_FIRST_NAME, source_json_str(bill, "first_name"));
	conv_set_pii(c, PII_FIRST_NAME, source_json_str(cust, "first_name"));
	conv_set_pii(c, PII_LAST_NAME, source_json_str(bill, "last_name"));
	conv_set_pii(c, PII_LAST_NAME, source_json_str(cust, "last_name"));
	conv_set_pii(c, PII_CITY, source_json_str(bill, "city"));
	conv_set_pii(c, PII_REGION, source_json_str(bill, "province_code"));
	conv_set_pii(c, PII_POSTAL, source_json_str(bill, "zip"));
	conv_set_pii(c, PII_COUNTRY, source_json_str(bill, "country_code"));
	if (cust && shopify_id(cust, "gid://shopify/Customer/", id) == 0)
		conv_set_pii(c, PII_EXTERNAL_ID, id);
}

/* Item ids after the SKU: the variant's, else the product's. */
static const char *const shopify_item_ids[] = { "variant_id", "product_id", NULL };

/* Shopify's line item price is the unit price, as decimal text. */
static char *shopify_item_price(const cJSON *li, int64_t qty)
{
	const char *price = source_json_str(li, "price");

	(void)qty;
	return price && text_is_decimal(price) ? xstrdup(price) : NULL;
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
		return shopify_parse_other(ev, e);
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
	result = source_json_money(root, "total_price", c, e);
	if (result < 0)
		goto out;
	/* created_at is when the buyer acted; without a usable one, when we
	 * heard of it. */
	created = source_json_str(root, "created_at");
	if (created == NULL || clock_parse_iso8601(created, &c->occurred_us, NULL) < 0)
		c->occurred_us = ev->received_us;
	c->test = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "test"));
	domain = shop_domain(ev->headers_json);
	set_client(root, c);
	set_attribution(root, c, domain, c->occurred_us / 1000);
	set_pii(root, c);
	source_items_collect(root, "line_items", shopify_item_ids, "title", 0, shopify_item_price,
			     c);
	conv_list_push(out, c);
	c = NULL;
	result = 0;
out:
	conv_free(c);
	free(domain);
	cJSON_Delete(root);
	return result;
}

/* ---- adjust: order edits and refunds ------------------------------------------- */

/* Money in millionths: enough for every ISO 4217 exponent (at most 4) and,
 * in an int64, for totals up to 10^12. */
#define MONEY_SCALE	 1000000LL
#define MONEY_INT_DIGITS 12
#define MONEY_FRAC_MAX	 6

/* s (a non-negative decimal string) in millionths; false when it is not one
 * or does not fit. */
static bool money_parse(const char *s, int64_t *out)
{
	int64_t whole = 0, frac = 0, scale = MONEY_SCALE;
	const char *p = s;
	int n = 0;

	if (s == NULL || !text_is_decimal(s) || s[0] == '-')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (++n > MONEY_INT_DIGITS)
			return false;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++, n = 0; *p; p++) {
			if (++n > MONEY_FRAC_MAX)
				return false;
			scale /= 10;
			frac += (*p - '0') * scale;
		}
	}
	*out = whole * MONEY_SCALE + frac;
	return true;
}

/* Millionths as decimal text with at least two decimals ("41.5" → "41.50"). */
static char *money_format(int64_t v)
{
	char frac[8];
	int len;

	snprintf(frac, sizeof(frac), "%06lld", (long long)(v % MONEY_SCALE));
	for (len = 6; len > 2 && frac[len - 1] == '0'; len--)
		frac[len - 1] = '\0';
	return xasprintf("%lld.%s", (long long)(v / MONEY_SCALE), frac);
}

/* An ISO 4217 code in upper case, or NULL when s is none. */
static char *currency_code(const char *s)
{
	char *c;

	if (s == NULL || strlen(s) != 3 ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != 3)
		return NULL;
	c = xstrdup(s);
	for (char *p = c; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	}
	return c;
}

/* When the change happened: the first usable time of keys, else receipt. */
static int64_t change_time(const cJSON *root, const char *const *keys, int64_t received_us)
{
	int64_t at;

	for (; *keys; keys++) {
		const char *v = source_json_str(root, *keys);

		if (v && clock_parse_iso8601(v, &at, NULL) == 0)
			return at;
	}
	return received_us;
}

/*
 * orders/updated: the order's total_price as its new value.  Not
 * current_total_price: the Order resource documents that one as moving with
 * edits, returns and refunds alike
 * (https://shopify.dev/docs/api/admin-rest/latest/resources/order), and refunds/create
 * reports each refund already; total_price is what the purchase was
 * recorded with.  The key names the update (updated_at + total), so a
 * reprocessed event does not restate twice.
 */
static int adjust_order(const cJSON *root, const struct raw_event *ev,
			struct source_adjust_list *out, struct err *e)
{
	static const char *const when[] = { "updated_at", NULL };
	const cJSON *tp = cJSON_GetObjectItemCaseSensitive(root, "total_price");
	const char *updated = source_json_str(root, "updated_at");
	struct source_adjustment *a;
	int64_t total;
	char id[24];
	int r = shopify_id(root, "gid://shopify/Order/", id);

	if (r < 0)
		return err_set(e, ERR_INVALID, "order has %s id",
			       r == ERR_NOTFOUND ? "no" : "an unusable (inexact or non-numeric)");
	if (tp == NULL || cJSON_IsNull(tp))
		return 0; /* nothing said about the value */
	if (!cJSON_IsString(tp) || !money_parse(tp->valuestring, &total))
		return err_set(e, ERR_INVALID, "total_price is not a non-negative decimal string");
	a = source_adjust_list_add(out);
	a->op = SOURCE_ADJUST_TOTAL;
	a->event_id = xasprintf("shopify:order:%s", id);
	a->amount = money_format(total);
	a->currency = currency_code(source_json_str(root, "currency"));
	a->reason = xstrdup("order updated");
	if (updated && text_is_printable_ascii(updated, false) && strlen(updated) <= 64)
		a->key = xasprintf("shopify:order_update:%s:%s", updated, a->amount);
	a->occurred_us = change_time(root, when, ev->received_us);
	return 0;
}

/*
 * The money a refund returned: the sum of its successful "refund"
 * transactions (a refund that only restocks moves none), in their one
 * currency.  Refund resource:
 * https://shopify.dev/docs/api/admin-rest/latest/resources/refund
 * (transactions[] with kind, status, amount as a decimal string, currency).
 */
static int refund_money(const cJSON *root, int64_t *sum, char **currency, struct err *e)
{
	const cJSON *txs = cJSON_GetObjectItemCaseSensitive(root, "transactions");
	const cJSON *t;
	size_t n = 0;

	*sum = 0;
	*currency = NULL;
	if (!cJSON_IsArray(txs))
		return 0;
	cJSON_ArrayForEach (t, txs) {
		const char *kind = source_json_str(t, "kind");
		const char *status = source_json_str(t, "status");
		char *cur;
		int64_t amt;

		if (n++ == SHOPIFY_MAX_ATTRS)
			return err_set(e, ERR_INVALID, "refund has too many transactions");
		if (kind == NULL || strcmp(kind, "refund") != 0 || status == NULL ||
		    strcmp(status, "success") != 0)
			continue;
		if (!money_parse(source_json_str(t, "amount"), &amt) || *sum > INT64_MAX - amt)
			return err_set(e, ERR_INVALID,
				       "refund transaction amount is not a usable decimal string");
		*sum += amt;
		cur = currency_code(source_json_str(t, "currency"));
		if (*currency && cur && strcmp(*currency, cur) != 0) {
			free(cur);
			return err_set(e, ERR_INVALID, "refund transactions in several currencies");
		}
		if (*currency == NULL)
			*currency = cur;
		else
			free(cur);
	}
	return 0;
}

/* refunds/create: the money returned, keyed by the refund's id (the same
 * refund under two webhook ids is one change). */
static int adjust_refund(const cJSON *root, const struct raw_event *ev,
			 struct source_adjust_list *out, struct err *e)
{
	static const char *const when[] = { "processed_at", "created_at", NULL };
	const char *note = source_json_str(root, "note");
	struct source_adjustment *a;
	char order[24], refund[24];
	char *currency = NULL;
	int64_t sum;
	int r;

	if (!source_json_exact_id(cJSON_GetObjectItemCaseSensitive(root, "order_id"), true, 1,
				  order))
		return err_set(e, ERR_INVALID, "refund has no usable order_id");
	r = shopify_id(root, "gid://shopify/Refund/", refund);
	if (r < 0)
		return err_set(e, ERR_INVALID, "refund has %s id",
			       r == ERR_NOTFOUND ? "no" : "an unusable (inexact or non-numeric)");
	r = refund_money(root, &sum, &currency, e);
	if (r < 0 || sum == 0) {
		free(currency);
		return r; /* an error, or a refund that moved no money */
	}
	a = source_adjust_list_add(out);
	a->op = SOURCE_ADJUST_REFUND;
	a->event_id = xasprintf("shopify:order:%s", order);
	a->amount = money_format(sum);
	a->currency = currency;
	a->reason = note && note[0] && text_is_clean(note, 200) ? xasprintf("refund: %s", note)
								: xstrdup("refund");
	a->key = xasprintf("shopify:refund:%s", refund);
	a->occurred_us = change_time(root, when, ev->received_us);
	return 0;
}

static int shopify_adjust(const struct raw_event *ev, struct source_adjust_list *out, struct err *e)
{
	bool order = ev->topic && strcmp(ev->topic, "orders/updated") == 0;
	bool refund = ev->topic && strcmp(ev->topic, "refunds/create") == 0;
	cJSON *root;
	int rc;

	if (!order && !refund)
		return 0;
	root = ev->body ? source_json_parse_object(ev->body, ev->body_len) : NULL;
	if (root == NULL)
		return err_set(e, ERR_INVALID, "body is not a JSON object");
	rc = order ? adjust_order(root, ev, out, e) : adjust_refund(root, ev, out, e);
	cJSON_Delete(root);
	return rc; /* on error nothing was added: each step fails before adding */
}

/* app/uninstalled: the shop removed the app, so its webhooks stop and
 * its secret is void; the source is disabled, and its data kept for the
 * operator (and for shop/redact, which Shopify sends 48 h after the
 * uninstall: PLATFORMS.md "Shopify"). */
static enum source_action shopify_action(const struct raw_event *ev, char *key)
{
	key[0] = '\0';
	if (ev->topic != NULL && strcmp(ev->topic, "app/uninstalled") == 0)
		return SOURCE_ACTION_DISABLE;
	/* customers/redact, shop/redact, customers/data_request */
	return shopify_privacy_action(ev, key);
}

const struct source_ops shopify_source_ops = {
	.kind = "shopify",
	.verify = shopify_verify,
	.dedup_key = shopify_dedup_key,
	.topic = shopify_topic,
	.stored_headers = shopify_stored_headers,
	.unavailable_status = 503, /* Shopify retries any non-2xx */
	.parse = shopify_parse,
	.adjust = shopify_adjust,
	.action = shopify_action,
	.contact = shopify_contact,
	.names = shopify_names,
	.disabled_topics = shopify_privacy_topics,
	.config_keys = shopify_config_keys,
	.n_config_keys = sizeof(shopify_config_keys) / sizeof(shopify_config_keys[0]),
};
