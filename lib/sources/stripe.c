/*
 * stripe.c - Stripe's webhooks for the daemon's own billing (PLATFORMS.md
 * "Stripe"): not a shop's orders but our tenants' subscriptions, so they
 * never make conversions; stage 1 turns them into billing changes
 * (SOURCE_ACTION_BILLING → store/billing_store.c).
 *
 * Why a source kind and not a handler of its own: a Stripe event must be
 * stored durably before it is answered and applied exactly once, which is
 * what the ingest path (group commit, ingest_keys dedup, 200 after COMMIT,
 * 503 while the database is down) and stage 1 (one transaction with the
 * raw event's mark) already do for every source.  The only difference is
 * that the secret is the daemon's ([stripe] webhook_secret_file), not the
 * source's, which is what no_secret is for; the operator adds one source of
 * kind "stripe" (under the operator's own tenant) and gives Stripe the URL
 * /v1/webhooks/stripe (kind_route: served by that one source) or
 * /v1/webhooks/stripe/{source id}.
 *
 * The signature, from Stripe's documentation
 * (https://docs.stripe.com/webhooks#verify-manually, formerly
 * https://stripe.com/docs/webhooks/signatures#verify-manually):
 * Stripe-Signature is "t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]"; the
 * signed payload is the t value as sent, '.', and the raw body; v1 is the
 * lowercase hex HMAC-SHA256 of it keyed by the endpoint's whole whsec_…
 * secret.  Several v1 appear while a secret is rolled: any may match.  t
 * is checked against a tolerance (Stripe's libraries default to 300 s) to
 * refuse replays; a retry carries a fresh t, so the dedup key is the event
 * id (evt_…), which stays the same.  Stripe retries every non-2xx answer
 * for up to three days, so a refusal (401 here, as for every source) of a
 * genuine event is not lost: it comes back once the secret is right.
 *
 * Stripe does not deliver in order: each change carries the event's own
 * `created`, and billing_store.c applies only what is not older than what
 * it applied last.
 */
#include "sources/stripe.h"
#include "sources/source.h"
#include "sources/source_json.h"
#include "core/config.h"
#include "core/secret_file.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRIPE_DEFAULT_TOLERANCE_S 300

/* ---- Stripe-Signature ------------------------------------------------------- */

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 64 hex digits [v, v + len) into out; false otherwise. */
static bool hex32(const char *v, size_t len, uint8_t out[32])
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = hex_nibble(v[2 * i]), lo = hex_nibble(v[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* The t value [v, v + len): 1 to 18 digits (no sign, no overflow). */
static bool parse_t(const char *v, size_t len, struct stripe_sig *out)
{
	int64_t t = 0;

	if (len == 0 || len > 18)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		t = t * 10 + (v[i] - '0');
	}
	out->t = t;
	memcpy(out->t_text, v, len);
	out->t_text[len] = '\0';
	return true;
}

/* One "key=value" element [p, p + len). */
static void parse_element(const char *p, size_t len, struct stripe_sig *out, bool *have_t)
{
	const char *eq = memchr(p, '=', len);
	size_t klen, vlen;

	if (eq == NULL)
		return;
	klen = (size_t)(eq - p);
	vlen = len - klen - 1;
	if (klen == 1 && p[0] == 't' && !*have_t)
		*have_t = parse_t(eq + 1, vlen, out);
	else if (klen == 2 && p[0] == 'v' && p[1] == '1' && out->n_v1 < STRIPE_MAX_V1 &&
		 hex32(eq + 1, vlen, out->v1[out->n_v1]))
		out->n_v1++;
}

int stripe_sig_parse(const char *header, struct stripe_sig *out, struct err *e)
{
	bool have_t = false;
	const char *p = header;

	memset(out, 0, sizeof(*out));
	if (header == NULL)
		return err_set(e, ERR_AUTH, "missing Stripe-Signature header");
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		/* Stripe sends no spaces; tolerate them around elements. */
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		parse_element(p, len, out, &have_t);
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (!have_t)
		return err_set(e, ERR_AUTH, "Stripe-Signature has no timestamp");
	if (out->n_v1 == 0)
		return err_set(e, ERR_AUTH, "Stripe-Signature has no v1 signature");
	return 0;
}

int stripe_sig_verify(const char *header, const uint8_t *body, size_t body_len,
		      const unsigned char *secret, size_t secret_len, int64_t now_s,
		      int64_t tolerance_s, struct err *e)
{
	crypto_auth_hmacsha256_state st;
	struct stripe_sig sig;
	uint8_t mac[32];
	bool match = false;
	int rc;

	rc = stripe_sig_parse(header, &sig, e);
	if (rc != 0)
		return rc;
	if (secret == NULL || secret_len == 0)
		return err_set(e, ERR_AUTH, "no Stripe webhook secret configured");
	if (sig.t < now_s - tolerance_s || sig.t > now_s + tolerance_s)
		return err_set(e, ERR_AUTH, "Stripe-Signature timestamp outside the tolerance");
	crypto_auth_hmacsha256_init(&st, secret, secret_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)sig.t_text, strlen(sig.t_text));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, body, body_len);
	crypto_auth_hmacsha256_final(&st, mac);
	/* Every candidate is compared, each in constant time. */
	for (size_t i = 0; i < sig.n_v1; i++)
		match |= sodium_memcmp(mac, sig.v1[i], sizeof(mac)) == 0;
	sodium_memzero(&st, sizeof(st));
	if (!match)
		return err_set(e, ERR_AUTH, "Stripe-Signature does not match");
	return 0;
}

/* ---- events ----------------------------------------------------------------- */

bool stripe_plan_for_price(const char *plans, const char *price, char *plan, size_t planlen)
{
	size_t plen = strlen(price);
	const char *p = plans;

	plan[0] = '\0';
	if (plans == NULL || plen == 0)
		return false;
	while (*p) {
		const char *end = strchr(p, ','), *colon;
		size_t len, klen;

		while (*p == ' ' || *p == '\t')
			p++;
		len = end ? (size_t)(end - p) : strlen(p);
		colon = memchr(p, ':', len);
		klen = colon ? (size_t)(colon - p) : 0;
		while (klen && (p[klen - 1] == ' ' || p[klen - 1] == '\t'))
			klen--;
		if (colon && klen == plen && memcmp(p, price, plen) == 0) {
			const char *v = colon + 1;
			size_t vlen = len - (size_t)(colon - p) - 1;

			while (vlen && (*v == ' ' || *v == '\t')) {
				v++;
				vlen--;
			}
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen == 0 || vlen >= planlen)
				return false;
			memcpy(plan, v, vlen);
			plan[vlen] = '\0';
			return true;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

/* obj[key] as a bounded string into out ("" when absent, null or too long). */
static void copy_str(const cJSON *obj, const char *key, char *out, size_t outlen)
{
	const char *v = source_json_str(obj, key);

	out[0] = '\0';
	if (v && strlen(v) < outlen)
		memcpy(out, v, strlen(v) + 1);
}

/* The first item's price id of a subscription. */
static void first_price(const cJSON *sub, char *out, size_t outlen)
{
	const cJSON *items = source_json_obj(sub, "items");
	const cJSON *data = items ? cJSON_GetObjectItemCaseSensitive(items, "data") : NULL;
	const cJSON *first = cJSON_IsArray(data) ? cJSON_GetArrayItem(data, 0) : NULL;

	out[0] = '\0';
	if (first)
		copy_str(source_json_obj(first, "price"), "id", out, outlen);
}

static int read_subscription(const cJSON *obj, const char *plans, struct billing_change *c,
			     struct err *e)
{
	c->op = BILLING_SUBSCRIPTION;
	copy_str(obj, "id", c->subscription, sizeof(c->subscription));
	copy_str(obj, "customer", c->customer, sizeof(c->customer));
	copy_str(obj, "status", c->status, sizeof(c->status));
	copy_str(source_json_obj(obj, "metadata"), "tenant_id", c->tenant_ref,
		 sizeof(c->tenant_ref));
	first_price(obj, c->price, sizeof(c->price));
	if (c->subscription[0] == '\0' || c->status[0] == '\0')
		return err_set(e, ERR_INVALID, "subscription without id or status");
	stripe_plan_for_price(plans, c->price, c->plan, sizeof(c->plan));
	return 0;
}

static int read_object(const char *type, const cJSON *obj, const char *plans,
		       struct billing_change *c, struct err *e)
{
	if (strcmp(type, "checkout.session.completed") == 0) {
		copy_str(obj, "client_reference_id", c->tenant_ref, sizeof(c->tenant_ref));
		copy_str(obj, "customer", c->customer, sizeof(c->customer));
		copy_str(obj, "subscription", c->subscription, sizeof(c->subscription));
		/* A checkout we did not start names none of our tenants. */
		if (c->tenant_ref[0] != '\0' && c->customer[0] != '\0')
			c->op = BILLING_LINK;
		return 0;
	}
	if (strncmp(type, "customer.subscription.", 22) == 0) {
		const char *what = type + 22;

		if (strcmp(what, "created") && strcmp(what, "updated") && strcmp(what, "deleted"))
			return 0;
		c->deleted = strcmp(what, "deleted") == 0;
		return read_subscription(obj, plans, c, e);
	}
	if (strcmp(type, "invoice.paid") == 0 || strcmp(type, "invoice.payment_failed") == 0) {
		copy_str(obj, "customer", c->customer, sizeof(c->customer));
		copy_str(obj, "subscription", c->subscription, sizeof(c->subscription));
		if (c->customer[0] == '\0')
			return err_set(e, ERR_INVALID, "invoice without customer");
		c->op = strcmp(type, "invoice.paid") == 0 ? BILLING_PAID : BILLING_PAYMENT_FAILED;
	}
	return 0;
}

int stripe_event_read(const uint8_t *body, size_t len, const char *plans,
		      struct billing_change *out, struct err *e)
{
	cJSON *root = source_json_parse_object(body, len);
	const cJSON *created, *obj;
	int rc = ERR_INVALID;

	memset(out, 0, sizeof(*out));
	if (root == NULL)
		return err_set(e, ERR_INVALID, "body is not a JSON object");
	copy_str(root, "id", out->event_id, sizeof(out->event_id));
	copy_str(root, "type", out->type, sizeof(out->type));
	created = cJSON_GetObjectItemCaseSensitive(root, "created");
	if (out->event_id[0] == '\0' || out->type[0] == '\0' || !cJSON_IsNumber(created) ||
	    created->valuedouble < 0 || created->valuedouble > 1e12) {
		err_set(e, ERR_INVALID, "not a Stripe event (id, type, created)");
		goto out;
	}
	out->event_at = (int64_t)created->valuedouble;
	obj = source_json_obj(source_json_obj(root, "data"), "object");
	if (obj == NULL) {
		err_set(e, ERR_INVALID, "event without data.object");
		goto out;
	}
	rc = read_object(out->type, obj, plans, out, e);
out:
	if (rc != 0)
		out->op = BILLING_NONE;
	cJSON_Delete(root);
	return rc;
}

/* ---- source_ops ------------------------------------------------------------- */

static int stripe_verify(const struct source *src, const struct source_ctx *ctx,
			 const struct http_req *req, struct err *e)
{
	const struct config *cfg = ctx->cfg;
	int64_t tol =
		config_platform_ms(cfg, "stripe", "tolerance", STRIPE_DEFAULT_TOLERANCE_S * 1000) /
		1000;
	size_t secret_len = 0;
	const void *secret =
		config_platform_data(cfg, "stripe", "webhook_secret_file", &secret_len);

	(void)src;
	return stripe_sig_verify(http_req_header(req, "Stripe-Signature"), req->body, req->body_len,
				 secret, secret_len, ctx->now_us / 1000000, tol, e);
}

/* The body's top-level string `key` into out; false when absent. */
static bool body_str(const struct http_req *req, const char *key, char *out, size_t outlen)
{
	cJSON *root = source_json_parse_object(req->body, req->body_len);
	const char *v = source_json_str(root, key);
	bool ok = v && v[0] && strlen(v) < outlen;

	if (ok)
		memcpy(out, v, strlen(v) + 1);
	cJSON_Delete(root);
	return ok;
}

/* The event id: a retry has a new t and signature but the same id. */
static int stripe_dedup_key(const struct http_req *req, char *out, size_t outlen, struct err *e)
{
	if (!body_str(req, "id", out, outlen))
		return err_set(e, ERR_INVALID, "Stripe event without an id");
	return 0;
}

static void stripe_topic(const struct http_req *req, char *out, size_t outlen)
{
	if (!body_str(req, "type", out, outlen))
		out[0] = '\0';
}

/* Never conversions; a body that is no event is marked error. */
static int stripe_parse(const struct raw_event *ev, struct conv_list *out, struct err *e)
{
	struct billing_change c;

	(void)out;
	return stripe_event_read(ev->body, ev->body_len, NULL, &c, e);
}

static enum source_action stripe_action(const struct raw_event *ev, char *key)
{
	struct billing_change c;
	struct err e = { 0 };

	(void)key;
	if (stripe_event_read(ev->body, ev->body_len, NULL, &c, &e) != 0 || c.op == BILLING_NONE)
		return SOURCE_ACTION_NONE;
	return SOURCE_ACTION_BILLING;
}

static int stripe_billing(const struct raw_event *ev, const struct config *cfg,
			  struct billing_change *out, struct err *e)
{
	return stripe_event_read(ev->body, ev->body_len,
				 cfg ? config_platform_value(cfg, "stripe", "plans") : NULL, out,
				 e);
}

static const char *const stripe_headers[] = { "Stripe-Signature", NULL };

/*
 * The signing secret named by [stripe] webhook_secret_file, read at every
 * config load (core/config's load hook: the HTTP loop never touches the
 * disk, a reload picks up a rolled secret) into sodium_malloc memory.  A
 * relative name is taken under $CREDENTIALS_DIRECTORY when that is set
 * (systemd LoadCredential=).  An empty name reads nothing: Stripe webhooks
 * are then refused.
 */
static int load_webhook_secret(const char *name, void **data, size_t *len, struct err *e)
{
	const char *credsdir = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX], *secret = NULL;
	int rc;

	*data = NULL;
	*len = 0;
	if (name[0] == '\0')
		return 0;
	/* The daemon loads its config before it initialises libsodium, and
	 * sodium_malloc needs it; a second call is a no-op. */
	if (sodium_init() < 0)
		return err_set(e, ERR_CONFIG, "could not initialise libsodium");
	if (name[0] != '/' && credsdir && credsdir[0])
		snprintf(path, sizeof(path), "%s/%s", credsdir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	rc = secret_file_read(path, 1024, &secret, len, e);
	if (rc != 0) {
		char why[sizeof(e->msg)];

		snprintf(why, sizeof(why), "%s", e->msg);
		return err_set(e, ERR_CONFIG, "[stripe] webhook_secret_file: %s", why);
	}
	*data = secret;
	return 0;
}

static void unload_webhook_secret(void *data, size_t len)
{
	(void)len;
	sodium_free(data); /* wipes it */
}

/* Daemon-wide settings of this kind; registered by source.c. */
static const struct config_platform_key stripe_config_keys[] = {
	{ .section = "stripe",
	  .name = "webhook_secret_file",
	  .def = "",
	  .help = "file holding the Stripe endpoint's signing secret (whsec_...), may be relative "
		  "to $CREDENTIALS_DIRECTORY; empty = Stripe webhooks refused",
	  .reloadable = true,
	  .load = load_webhook_secret,
	  .unload = unload_webhook_secret },
	{ .section = "stripe",
	  .name = "tolerance",
	  .def = "5m",
	  .help = "Stripe webhooks whose signed timestamp (t=) is further from now are refused "
		  "(replay window)",
	  .type = CONFIG_P_DURATION,
	  .reloadable = true,
	  .min_ms = 1000,
	  .max_ms = 86400LL * 1000 },
	{ .section = "stripe",
	  .name = "plans",
	  .def = "",
	  .help = "Stripe price ids and the plan each one buys: \"price_a:starter, "
		  "price_b:professional\"",
	  .reloadable = true },
	{ .section = "endpoints",
	  .name = "stripe",
	  .def = "https://api.stripe.com",
	  .help = "Stripe API base URL",
	  .type = CONFIG_P_URL,
	  .reloadable = true },
	/* Checkout and billing portal sessions (pipeline/stripe_session.c). */
	{ .section = "stripe",
	  .name = "secret_key_file",
	  .def = "",
	  .help = "file of the Stripe secret API key (sk_... or rk_...) for Checkout and portal "
		  "sessions, may be relative to $CREDENTIALS_DIRECTORY; read at each use",
	  .reloadable = true },
	{ .section = "stripe",
	  .name = "success_url",
	  .def = "",
	  .help = "where Stripe Checkout sends the customer after paying (success_url)",
	  .reloadable = true },
	{ .section = "stripe",
	  .name = "cancel_url",
	  .def = "",
	  .help = "where Stripe Checkout sends the customer who goes back (cancel_url)",
	  .reloadable = true },
	{ .section = "stripe",
	  .name = "portal_return_url",
	  .def = "",
	  .help = "where the Stripe billing portal's back link leads (return_url)",
	  .reloadable = true },
};

const struct source_ops stripe_source_ops = {
	.kind = "stripe",
	.no_secret = true,  /* the daemon's [stripe] webhook_secret_file */
	.kind_route = true, /* POST /v1/webhooks/stripe */
	.verify = stripe_verify,
	.dedup_key = stripe_dedup_key,
	.topic = stripe_topic,
	.stored_headers = stripe_headers,
	.parse = stripe_parse,
	.action = stripe_action,
	.billing = stripe_billing,
	.config_keys = stripe_config_keys,
	.n_config_keys = sizeof(stripe_config_keys) / sizeof(stripe_config_keys[0]),
};
