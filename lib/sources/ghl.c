/*
 * ghl.c - GoHighLevel (HighLevel) webhooks (PLATFORMS.md "GoHighLevel"):
 * signatures made with HighLevel's own keys, a freshness window on the
 * body's timestamp, dedup on webhookId, 429 when we cannot store (the only
 * status HighLevel retries), and the parser that turns contacts and won
 * opportunities into canonical conversions.
 *
 * Signatures (https://marketplace.gohighlevel.com/docs/webhook/WebhookIntegrationGuide):
 *  - X-GHL-Signature: base64 Ed25519 over the raw body;
 *  - X-WH-Signature (legacy, deprecated 2026-07-01): base64 RSA PKCS#1 v1.5
 *    SHA-256 over the raw body, key from
 *    https://github.com/GoHighLevel/highlevel-api-docs/blob/main/docs/oauth/WebhookAuthentication.md
 *    checked only when X-GHL-Signature is absent, so a forger cannot pick the
 *    weaker scheme while the current one is sent.
 * Both keys are HighLevel's, the same for every customer: they come from
 * [ghl] in the configuration (the file text is read once per config load,
 * so no request reads the disk), else the published keys below.
 *
 * There is no per-source secret, so the locationId in the body is the only
 * thing tying a signed event to one source: when the source has a
 * location_id setting, an event of another location is refused.
 *
 * Conversions (event ids make every redelivery and every later update a
 * no-op through the conversions table's unique (source_id, event_id)):
 *  - ContactCreate → "lead" ("ghl:contact:<id>:lead");
 *  - an Opportunity* event with status won → "purchase" with monetaryValue
 *    and the source's currency ("ghl:opportunity:<id>:won": won, lost, won
 *    again is still one purchase);
 *  - settings "stage_map" {"<pipelineStageId>": "<event>"} → that event
 *    once per opportunity and stage ("ghl:opportunity:<id>:stage:<stage>");
 *  - settings "event_map" {"<type>": "<event>"} → that event once per
 *    type and resource ("ghl:<type>:<id>"); it can also rename or, with "",
 *    switch off the two defaults (keys "ContactCreate" and "won").
 * Everything else (ContactUpdate, ContactDelete, …) is not a conversion.
 */
#include "sources/source.h"
#include "sources/source_json.h"
#include "core/clickid.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GHL_MAX_ID	       128 /* contact, opportunity, stage and webhook ids */
#define GHL_MAX_TEXT	       1024
#define GHL_MAX_EVENT	       64
#define GHL_MAX_SIG	       1024 /* base64 of a 4096-bit RSA signature is 684 */
#define GHL_DEFAULT_MAX_AGE_MS (5 * 60 * 1000LL)

/* HighLevel's Ed25519 webhook key as cited from its Webhook Integration
 * Guide (PLATFORMS.md: unconfirmed at the source, hence overridable by
 * [ghl] ed25519_public_key_file). */
static const char ghl_ed25519_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=\n"
	"-----END PUBLIC KEY-----\n";

/* HighLevel's legacy RSA key, from docs/oauth/WebhookAuthentication.md of
 * GoHighLevel/highlevel-api-docs (URL above). */
static const char ghl_rsa_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC\n"
	"Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6\n"
	"dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB\n"
	"csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv\n"
	"uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF\n"
	"3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU\n"
	"J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp\n"
	"IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN\n"
	"h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC\n"
	"HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ\n"
	"PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk\n"
	"T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==\n"
	"-----END PUBLIC KEY-----\n";

/* DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw key
 * follows it. */
static const unsigned char ed25519_spki_prefix[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
						       0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };

/* ---- body access ---------------------------------------------------------------- */

/* A HighLevel id: a non-empty printable token without spaces, or NULL. */
static const char *jid(const cJSON *obj, const char *key)
{
	const char *s = source_json_str(obj, key);
	size_t n = s ? strnlen(s, GHL_MAX_ID + 1) : 0;

	if (n == 0 || n > GHL_MAX_ID || !text_is_printable_ascii(s, false))
		return NULL;
	return s;
}

/* ---- signatures ---------------------------------------------------------------- */

/* The raw 32-byte key of an Ed25519 public key PEM (SPKI). */
static int ed25519_key_from_pem(const char *pem, unsigned char key[32], struct err *e)
{
	const char *b = strstr(pem, "-----BEGIN PUBLIC KEY-----");
	const char *end;
	unsigned char der[64];
	size_t der_len = 0;

	if (b == NULL)
		return err_set(e, ERR_AUTH, "Ed25519 key is not a PEM public key");
	b += strlen("-----BEGIN PUBLIC KEY-----");
	end = strstr(b, "-----END PUBLIC KEY-----");
	if (end == NULL ||
	    sodium_base642bin(der, sizeof(der), b, (size_t)(end - b), " \t\r\n", &der_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    der_len != sizeof(ed25519_spki_prefix) + 32 ||
	    memcmp(der, ed25519_spki_prefix, sizeof(ed25519_spki_prefix)) != 0)
		return err_set(e, ERR_AUTH, "configured key is not an Ed25519 public key");
	memcpy(key, der + sizeof(ed25519_spki_prefix), 32);
	return 0;
}

/* Standard base64 of at most max bytes into out; false when malformed. */
static bool decode_sig(const char *b64, unsigned char *out, size_t max, size_t *len)
{
	const char *end = NULL;

	return strlen(b64) <= GHL_MAX_SIG &&
	       sodium_base642bin(out, max, b64, strlen(b64), " \t", len, &end,
				 sodium_base64_VARIANT_ORIGINAL) == 0 &&
	       (end == NULL || *end == '\0');
}

static int verify_ed25519(const char *pem, const char *sig_b64, const struct http_req *req,
			  struct err *e)
{
	unsigned char key[32], sig[crypto_sign_BYTES + 4];
	size_t sig_len = 0;
	int rc = ed25519_key_from_pem(pem, key, e);

	if (rc != 0)
		return rc;
	if (!decode_sig(sig_b64, sig, sizeof(sig), &sig_len) || sig_len != crypto_sign_BYTES)
		return err_set(e, ERR_AUTH, "X-GHL-Signature is not a base64 Ed25519 signature");
	if (crypto_sign_verify_detached(sig, req->body, req->body_len, key) != 0)
		return err_set(e, ERR_AUTH, "X-GHL-Signature does not match");
	return 0;
}

/* RSA PKCS#1 v1.5 with SHA-256 (EVP_DigestVerify's default padding for an
 * RSA key).  The PEM is parsed per call: only the legacy header takes this
 * path, and parsing costs less than the 4096-bit verification itself. */
static int verify_rsa(const char *pem, const char *sig_b64, const struct http_req *req,
		      struct err *e)
{
	unsigned char sig[1024];
	size_t sig_len = 0;
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	int result = ERR_AUTH;

	if (!decode_sig(sig_b64, sig, sizeof(sig), &sig_len) || sig_len == 0) {
		err_set(e, ERR_AUTH, "X-WH-Signature is not base64");
		goto out;
	}
	bio = BIO_new_mem_buf(pem, -1);
	key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	if (key == NULL || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		err_set(e, ERR_AUTH, "configured key is not an RSA public key");
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1) {
		err_set(e, ERR_AUTH, "could not set up RSA verification");
		goto out;
	}
	if (EVP_DigestVerify(md, sig, sig_len, req->body, req->body_len) != 1) {
		err_set(e, ERR_AUTH, "X-WH-Signature does not match");
		goto out;
	}
	result = 0;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	BIO_free(bio);
	ERR_clear_error(); /* the loop thread's queue must not grow per refusal */
	return result;
}

/* The body's timestamp within max_age of now, either way. */
static int check_fresh(const cJSON *root, const struct source_ctx *ctx, struct err *e)
{
	int64_t max_age_ms = config_platform_ms(ctx->cfg, "ghl", "max_age", GHL_DEFAULT_MAX_AGE_MS);
	const char *ts = source_json_str(root, "timestamp");
	int64_t t_us, age_ms;

	if (ts == NULL || strlen(ts) > 40 || clock_parse_iso8601(ts, &t_us, NULL) != 0)
		return err_set(e, ERR_AUTH, "body has no valid timestamp");
	age_ms = (ctx->now_us - t_us) / 1000;
	if (age_ms > max_age_ms)
		return err_set(e, ERR_AUTH, "timestamp is %llds old, more than [ghl] max_age",
			       (long long)(age_ms / 1000));
	if (-age_ms > max_age_ms)
		return err_set(e, ERR_AUTH, "timestamp is %llds in the future",
			       (long long)(-age_ms / 1000));
	return 0;
}

/* The source's location_id setting, when set, must be the body's. */
static int check_location(const struct source *src, const cJSON *root, struct err *e)
{
	cJSON *s = src->settings_json ? cJSON_Parse(src->settings_json) : NULL;
	const char *want = source_json_str(s, "location_id");
	const char *got = source_json_str(root, "locationId");
	int rc = 0;

	if (want && want[0] && (got == NULL || strcmp(want, got) != 0))
		rc = err_set(e, ERR_AUTH, "locationId is not this source's location");
	cJSON_Delete(s);
	return rc;
}

static int ghl_verify(const struct source *src, const struct source_ctx *ctx,
		      const struct http_req *req, struct err *e)
{
	const char *ed = http_req_header(req, "X-GHL-Signature");
	const char *rsa = http_req_header(req, "X-WH-Signature");
	const char *ed_pem = config_platform_data(ctx->cfg, "ghl", "ed25519_public_key_file", NULL);
	const char *rsa_pem = config_platform_data(ctx->cfg, "ghl", "rsa_public_key_file", NULL);
	cJSON *root;
	int rc;

	if (ed != NULL)
		rc = verify_ed25519(ed_pem ? ed_pem : ghl_ed25519_pem, ed, req, e);
	else if (rsa != NULL)
		rc = verify_rsa(rsa_pem ? rsa_pem : ghl_rsa_pem, rsa, req, e);
	else
		rc = err_set(e, ERR_AUTH, "missing X-GHL-Signature and X-WH-Signature");
	if (rc != 0)
		return rc;
	/* Signed, so parsing it on the loop is bounded by what HighLevel
	 * sends (and by [server] max_body). */
	root = source_json_parse_object(req->body, req->body_len);
	if (root == NULL)
		return err_set(e, ERR_AUTH, "body is not a JSON object");
	rc = check_fresh(root, ctx, e);
	if (rc == 0)
		rc = check_location(src, root, e);
	cJSON_Delete(root);
	return rc;
}

/* webhookId (stable across HighLevel's retries); without one, the body's
 * SHA-256. */
static int ghl_dedup_key(const struct http_req *req, char *out, size_t outlen, struct err *e)
{
	cJSON *root = source_json_parse_object(req->body, req->body_len);
	const char *id = jid(root, "webhookId");
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1];
	int n;

	if (id) {
		n = snprintf(out, outlen, "webhook:%s", id);
	} else {
		crypto_hash_sha256(h, req->body, req->body_len);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		n = snprintf(out, outlen, "sha256:%s", hex);
	}
	cJSON_Delete(root);
	if (n < 0 || (size_t)n >= outlen || (size_t)n >= SOURCE_DEDUP_MAX)
		return err_set(e, ERR_INVALID, "dedup key too long");
	return 0;
}

/* The body's "type" (ContactCreate, …); "" when none. */
static void ghl_topic(const struct http_req *req, char *out, size_t outlen)
{
	cJSON *root = source_json_parse_object(req->body, req->body_len);
	const char *t = jid(root, "type");

	if (outlen == 0)
		goto out;
	out[0] = '\0';
	if (t && strlen(t) < outlen && strlen(t) < SOURCE_TOPIC_MAX)
		memcpy(out, t, strlen(t) + 1);
out:
	cJSON_Delete(root);
}

static const char *const ghl_stored_headers[] = {
	"X-GHL-Signature",
	"X-WH-Signature",
	NULL,
};

/* ---- parse ---------------------------------------------------------------------- */

/* The settings object (never NULL; cJSON_Delete it). */
static cJSON *settings_of(const struct raw_event *ev)
{
	cJSON *s = ev->settings_json ? cJSON_Parse(ev->settings_json) : NULL;

	if (!cJSON_IsObject(s)) {
		cJSON_Delete(s);
		s = cJSON_CreateObject();
		if (s == NULL)
			abort();
	}
	return s;
}

/* A conversion name from a map setting: the mapped name, def when key is
 * not mapped, NULL when mapped to "" (switched off) or not usable. */
static const char *mapped(const cJSON *settings, const char *map, const char *key, const char *def)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(settings, map);
	const cJSON *v = cJSON_IsObject(m) ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
	size_t n;

	if (v == NULL)
		return def;
	if (!cJSON_IsString(v))
		return NULL;
	n = strlen(v->valuestring);
	if (n == 0 || n > GHL_MAX_EVENT || !text_is_clean(v->valuestring, GHL_MAX_EVENT))
		return NULL;
	return v->valuestring;
}

/* monetaryValue (a JSON number) as a decimal string with at most two
 * decimals; NULL when absent.  ERR_INVALID when it is no sane amount:
 * money is never guessed. */
static int money(const cJSON *root, char **out, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "monetaryValue");
	double cents, off;
	long long c, a;

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v) && text_is_decimal(v->valuestring)) {
		*out = xstrdup(v->valuestring);
		return 0;
	}
	/* NaN fails both comparisons. */
	if (!cJSON_IsNumber(v) || !(v->valuedouble > -1e13 && v->valuedouble < 1e13))
		return err_set(e, ERR_INVALID, "monetaryValue is not an amount");
	cents = v->valuedouble * 100.0;
	/* A JSON amount like 19.99 is not exact in binary: round to cents,
	 * refuse what has more decimals than a currency. */
	c = (long long)(cents + (cents >= 0 ? 0.5 : -0.5));
	off = cents - (double)c;
	if (off > 1e-4 || off < -1e-4)
		return err_set(e, ERR_INVALID, "monetaryValue has more than two decimals");
	a = c < 0 ? -c : c;
	*out = a % 100 == 0 ? xasprintf("%s%lld", c < 0 ? "-" : "", a / 100)
			    : xasprintf("%s%lld.%02lld", c < 0 ? "-" : "", a / 100, a % 100);
	return 0;
}

/* Click ids from an attribution object (attributionSource,
 * lastAttributionSource: gclid, fbclid, fbc, fbp, …, when present). */
static void set_clicks(const cJSON *root, struct conversion *c)
{
	static const char *const objs[] = { "attributionSource", "lastAttributionSource" };
	static const char *const names[] = { "gclid", "gbraid", "wbraid", "fbclid",
					     "fbc",   "fbp",	"ttclid", "ttp" };
	int64_t seen_ms = c->occurred_us / 1000;

	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, objs[i]);

		if (!cJSON_IsObject(a))
			continue;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			const char *v = source_json_str(a, names[k]);

			if (v && v[0] && text_is_clean(v, GHL_MAX_TEXT))
				clickid_from_attribute(c, names[k], v, seen_ms);
		}
	}
}

/* The identifiers a contact (or an event naming one) carries. */
static void set_pii(const cJSON *root, const char *contact_id, struct conversion *c)
{
	static const struct {
		const char *key;
		enum pii_field field;
	} fields[] = {
		{ "email", PII_EMAIL },
		{ "phone", PII_PHONE },
		{ "firstName", PII_FIRST_NAME },
		{ "lastName", PII_LAST_NAME },
		{ "city", PII_CITY },
		{ "state", PII_REGION },
		{ "postalCode", PII_POSTAL },
		{ "country", PII_COUNTRY },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = source_json_str(root, fields[i].key);

		if (v && text_is_clean(v, GHL_MAX_TEXT))
			conv_set_pii(c, fields[i].field, v);
	}
	/* HighLevel's contact id is stable: the external id platforms match
	 * repeat events of one person on. */
	if (contact_id)
		conv_set_pii(c, PII_EXTERNAL_ID, contact_id);
}

/* When it happened: the named date, else the delivery's timestamp, else
 * when we received it. */
static int64_t when(const cJSON *root, const char *date_key, const struct raw_event *ev)
{
	const char *keys[] = { date_key, "timestamp" };
	int64_t us;

	for (size_t i = 0; i < 2; i++) {
		const char *s = keys[i] ? source_json_str(root, keys[i]) : NULL;

		if (s && strlen(s) <= 40 && clock_parse_iso8601(s, &us, NULL) == 0)
			return us;
	}
	return ev->received_us;
}

/* One conversion `event` with id event_id and everything the body says
 * about its person, pushed to out. */
static struct conversion *push(struct conv_list *out, const cJSON *root, const char *event,
			       char *event_id, int64_t occurred_us, const char *contact_id)
{
	struct conversion *c = conv_new();

	c->event = xstrdup(event);
	c->event_id = event_id;
	c->occurred_us = occurred_us;
	set_pii(root, contact_id, c);
	set_clicks(root, c);
	conv_list_push(out, c);
	return c;
}

/* The source's currency setting, upper-cased, or USD. */
static char *currency_of(const cJSON *settings)
{
	const char *cur = source_json_str(settings, "currency");
	char *c;

	if (cur == NULL || strlen(cur) != 3 ||
	    strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != 3)
		return xstrdup("USD");
	c = xstrdup(cur);
	for (char *p = c; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	}
	return c;
}

static int parse_opportunity(const cJSON *root, const cJSON *settings, const char *id,
			     const struct raw_event *ev, struct conv_list *out, struct err *e)
{
	const char *contact = jid(root, "contactId");
	const char *status = source_json_str(root, "status");
	const char *stage = jid(root, "pipelineStageId");
	const char *won = mapped(settings, "event_map", "won", "purchase");
	const char *stage_event = stage ? mapped(settings, "stage_map", stage, NULL) : NULL;
	int64_t at = when(root, NULL, ev);
	char *value = NULL;
	struct conversion *c;
	int rc = money(root, &value, e);

	if (rc != 0)
		return rc;
	if (stage_event) {
		c = push(out, root, stage_event,
			 xasprintf("ghl:opportunity:%s:stage:%s", id, stage), at, contact);
		c->value = value ? xstrdup(value) : NULL;
		c->currency = value ? currency_of(settings) : NULL;
	}
	if (won && status && strcmp(status, "won") == 0) {
		c = push(out, root, won, xasprintf("ghl:opportunity:%s:won", id), at, contact);
		c->order_id = xstrdup(id);
		c->value = value;
		c->currency = value ? currency_of(settings) : NULL;
		value = NULL;
	}
	free(value);
	return 0;
}

static bool is_opportunity_event(const char *type)
{
	return strcmp(type, "OpportunityCreate") == 0 ||
	       strcmp(type, "OpportunityStageUpdate") == 0 ||
	       strcmp(type, "OpportunityStatusUpdate") == 0 ||
	       strcmp(type, "OpportunityMonetaryValueUpdate") == 0 ||
	       strcmp(type, "OpportunityUpdate") == 0;
}

/* Dispatch on the type; root and settings are parsed objects. */
static int parse_type(const cJSON *root, const cJSON *settings, const char *type,
		      const struct raw_event *ev, struct conv_list *out, struct err *e)
{
	const char *id = jid(root, "id");
	const char *name;

	if (is_opportunity_event(type)) {
		if (id == NULL)
			return err_set(e, ERR_INVALID, "opportunity has no usable id");
		return parse_opportunity(root, settings, id, ev, out, e);
	}
	if (strcmp(type, "ContactCreate") == 0) {
		name = mapped(settings, "event_map", "ContactCreate", "lead");
		if (name == NULL)
			return 0;
		if (id == NULL)
			return err_set(e, ERR_INVALID, "contact has no usable id");
		push(out, root, name, xasprintf("ghl:contact:%s:lead", id),
		     when(root, "dateAdded", ev), id);
		return 0;
	}
	/* Any other type only when mapped (ContactUpdate is not a lead). */
	name = mapped(settings, "event_map", type, NULL);
	if (name == NULL)
		return 0;
	if (id == NULL)
		return err_set(e, ERR_INVALID, "%s has no usable id", type);
	push(out, root, name, xasprintf("ghl:%s:%s", type, id), when(root, "dateAdded", ev),
	     jid(root, "contactId"));
	return 0;
}

static int ghl_parse(const struct raw_event *ev, struct conv_list *out, struct err *e)
{
	cJSON *root = source_json_parse_object(ev->body, ev->body_len);
	cJSON *settings = NULL;
	const char *type;
	size_t before = out->n;
	int rc;

	if (root == NULL)
		return err_set(e, ERR_INVALID, "body is not a JSON object");
	type = jid(root, "type");
	if (type == NULL) {
		rc = err_set(e, ERR_INVALID, "body has no type");
		goto out;
	}
	settings = settings_of(ev);
	rc = parse_type(root, settings, type, ev, out, e);
	if (rc != 0) {
		/* Nothing half made: drop what this event pushed. */
		while (out->n > before)
			conv_free(out->v[--out->n]);
	}
out:
	cJSON_Delete(settings);
	cJSON_Delete(root);
	return rc;
}

/* Contact* events are about their own id; the rest name a contactId.
 * A deleted contact is not kept up to date (nothing to add). */
static void ghl_contact(const struct raw_event *ev, struct source_contact *out)
{
	cJSON *root = source_json_parse_object(ev->body, ev->body_len);
	const char *type = jid(root, "type");
	const char *key = NULL;
	struct conversion *c;

	if (type == NULL || strcmp(type, "ContactDelete") == 0)
		goto out;
	key = strncmp(type, "Contact", 7) == 0 ? jid(root, "id") : jid(root, "contactId");
	if (key == NULL || strlen(key) >= sizeof(out->key))
		goto out;
	memcpy(out->key, key, strlen(key) + 1);
	c = conv_new();
	c->occurred_us = when(root, "dateAdded", ev);
	set_pii(root, key, c);
	set_clicks(root, c);
	out->known = c;
out:
	cJSON_Delete(root);
}

/* True when text is a PEM public key (SubjectPublicKeyInfo) of that
 * OpenSSL type (EVP_PKEY_RSA, EVP_PKEY_ED25519). */
static bool pem_is_public_key(const char *text, int type)
{
	BIO *bio = BIO_new_mem_buf(text, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	bool ok = key && EVP_PKEY_base_id(key) == type;

	EVP_PKEY_free(key);
	BIO_free(bio);
	ERR_clear_error();
	return ok;
}

/*
 * The text of a public key file named by a [ghl] key, read at every config
 * load (core/config's load hook) so the HTTP loop never touches the disk
 * to verify a request, a reload picks up a rotated key, and a wrong file
 * fails the start or the reload rather than every webhook with 401.  An
 * empty name reads nothing (the compiled-in key is used).  Public keys: no
 * wiping.
 */
static int load_key_file(const char *path, int type, const char *key, void **data, size_t *len,
			 struct err *e)
{
	enum { KEY_FILE_MAX = 64 * 1024 };
	FILE *f;
	char *buf;
	size_t n;

	*data = NULL;
	*len = 0;
	if (path[0] == '\0')
		return 0;
	f = fopen(path, "r");
	if (f == NULL)
		return err_set(e, ERR_CONFIG, "[ghl] %s: could not open key file \"%s\": %s", key,
			       path, strerror(errno));
	buf = xmalloc(KEY_FILE_MAX + 1);
	n = fread(buf, 1, KEY_FILE_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > KEY_FILE_MAX) {
		free(buf);
		return err_set(e, ERR_CONFIG,
			       "[ghl] %s: key file \"%s\" is empty or larger than %d bytes", key,
			       path, KEY_FILE_MAX);
	}
	buf[n] = '\0';
	if (!pem_is_public_key(buf, type)) {
		free(buf);
		return err_set(e, ERR_CONFIG,
			       "[ghl] %s: key file \"%s\" is not a PEM %s public key", key, path,
			       type == EVP_PKEY_RSA ? "RSA" : "Ed25519");
	}
	*data = buf;
	*len = n;
	return 0;
}

static int load_ed25519_key(const char *path, void **data, size_t *len, struct err *e)
{
	return load_key_file(path, EVP_PKEY_ED25519, "ed25519_public_key_file", data, len, e);
}

static int load_rsa_key(const char *path, void **data, size_t *len, struct err *e)
{
	return load_key_file(path, EVP_PKEY_RSA, "rsa_public_key_file", data, len, e);
}

/* Daemon-wide settings of this kind; registered by source.c. */
static const struct config_platform_key ghl_config_keys[] = {
	{ .section = "ghl",
	  .name = "ed25519_public_key_file",
	  .def = "",
	  .help = "PEM file of HighLevel's Ed25519 webhook public key (X-GHL-Signature); empty "
		  "= the published key compiled in; read at start and on reload",
	  .reloadable = true,
	  .load = load_ed25519_key },
	{ .section = "ghl",
	  .name = "rsa_public_key_file",
	  .def = "",
	  .help = "PEM file of HighLevel's legacy RSA webhook public key (X-WH-Signature, "
		  "checked only without X-GHL-Signature); empty = the published key compiled in",
	  .reloadable = true,
	  .load = load_rsa_key },
	{ .section = "ghl",
	  .name = "max_age",
	  .def = "5m",
	  .help = "GoHighLevel webhooks whose body timestamp is older (or further in the "
		  "future) are refused with 401",
	  .type = CONFIG_P_DURATION,
	  .reloadable = true,
	  .min_ms = 1000,
	  .max_ms = 86400LL * 1000 },
};

const struct source_ops ghl_source_ops = {
	.kind = "ghl",
	.no_secret = true, /* HighLevel signs with its own keys ([ghl] config) */
	.verify = ghl_verify,
	.dedup_key = ghl_dedup_key,
	.topic = ghl_topic,
	.stored_headers = ghl_stored_headers,
	.unavailable_status = 429, /* the only status HighLevel retries */
	.parse = ghl_parse,
	.contact = ghl_contact,
	.config_keys = ghl_config_keys,
	.n_config_keys = sizeof(ghl_config_keys) / sizeof(ghl_config_keys[0]),
};
