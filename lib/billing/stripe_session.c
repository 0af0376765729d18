/*
 * stripe_session.c - Stripe Checkout and billing portal sessions (see
 * stripe_session.h).
 *
 * Stripe's API takes application/x-www-form-urlencoded bodies with
 * bracketed keys for nested fields (line_items[0][price]) and HTTP Basic
 * auth with the secret key as the user name and no password
 * (https://docs.stripe.com/api/authentication).  Every POST carries an
 * Idempotency-Key (https://docs.stripe.com/api/idempotent_requests): one
 * random key per operation, reused by the single retry after a transport
 * error or a 5xx, so a session whose answer was lost is not created twice.
 * The secret key file is read at each use (like the CLI's other secret
 * files): a rotated key needs no reload, and it lives in sodium memory only
 * for the request.
 */
#include "billing/stripe_session.h"
#include "core/form.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/secret_file.h"
#include "net/fetch.h"
#include "store/admin.h"
#include "store/billing_store.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRIPE_TIMEOUT_MS 30000
#define SESSION_ID_MAX	  256

/* ---- pure parts ------------------------------------------------------------------------------ */

/* One "key:value" item of a "k:v, k:v" list, trimmed: [*k, *k+*klen). */
static void split_item(const char *p, size_t len, const char **k, size_t *klen, const char **v,
		       size_t *vlen)
{
	const char *colon = memchr(p, ':', len);

	*k = p;
	*klen = colon ? (size_t)(colon - p) : len;
	*v = colon ? colon + 1 : p + len;
	*vlen = colon ? len - *klen - 1 : 0;
	while (*klen && (**k == ' ' || **k == '\t')) {
		(*k)++;
		(*klen)--;
	}
	while (*klen && ((*k)[*klen - 1] == ' ' || (*k)[*klen - 1] == '\t'))
		(*klen)--;
	while (*vlen && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*vlen)--;
	}
	while (*vlen && ((*v)[*vlen - 1] == ' ' || (*v)[*vlen - 1] == '\t'))
		(*vlen)--;
}

bool billing_price_for_plan(const char *plans, const char *plan, char *price, size_t pricelen)
{
	size_t plen = plan ? strlen(plan) : 0;
	const char *p = plans;

	price[0] = '\0';
	if (plans == NULL || plen == 0)
		return false;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p), klen, vlen;
		const char *k, *v;

		split_item(p, len, &k, &klen, &v, &vlen);
		if (klen > 0 && vlen == plen && memcmp(v, plan, plen) == 0 && klen < pricelen) {
			memcpy(price, k, klen);
			price[klen] = '\0';
			return true;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

void billing_checkout_form(struct buf *b, const char *price, int64_t tenant_id,
			   const char *customer, const char *success_url, const char *cancel_url)
{
	char id[24];

	snprintf(id, sizeof(id), "%" PRId64, tenant_id);
	form_append(b, "mode", "subscription");
	form_append(b, "line_items[0][price]", price);
	form_append(b, "line_items[0][quantity]", "1");
	form_append(b, "client_reference_id", id);
	/* Also on the subscription: its customer.subscription.created may
	 * arrive before checkout.session.completed (billing_store.c). */
	form_append(b, "subscription_data[metadata][tenant_id]", id);
	if (customer && customer[0])
		form_append(b, "customer", customer);
	form_append(b, "success_url", success_url);
	form_append(b, "cancel_url", cancel_url);
}

void billing_portal_form(struct buf *b, const char *customer, const char *return_url)
{
	form_append(b, "customer", customer);
	if (return_url && return_url[0])
		form_append(b, "return_url", return_url);
}

static int error_code(long status)
{
	if (status == 401 || status == 403)
		return ERR_AUTH;
	if (status == 429)
		return ERR_BUSY;
	if (status >= 500)
		return ERR_IO;
	return ERR_INVALID;
}

int billing_session_read(long status, const char *body, size_t len, char **url, char *id,
			 size_t idlen, struct err *e)
{
	cJSON *root = cJSON_ParseWithLength(body ? body : "", body ? len : 0);
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "url");
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(root, "id");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "type"));
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message"));
	int rc = 0;

	*url = NULL;
	if (idlen)
		id[0] = '\0';
	if (status < 200 || status > 299) {
		rc = err_set(e, error_code(status), "Stripe answered HTTP %ld: %s: %.200s", status,
			     type ? type : "no error type", msg ? msg : "no message");
	} else if (!cJSON_IsString(u) || u->valuestring[0] == '\0') {
		rc = err_set(e, ERR_IO, "Stripe answered HTTP %ld without a session url", status);
	} else {
		*url = strdup(u->valuestring);
		if (*url == NULL)
			rc = err_set(e, ERR_NOMEM, "out of memory");
		else if (cJSON_IsString(sid) && idlen)
			snprintf(id, idlen, "%s", sid->valuestring);
	}
	cJSON_Delete(root);
	return rc;
}

/* ---- requests -------------------------------------------------------------------------------- */

/* A [stripe] key the stripe source declares (sources/stripe.c), "" when
 * unset or not registered. */
static const char *stripe_key(const struct config *cfg, const char *name)
{
	const char *v = config_platform_value(cfg, "stripe", name);

	return v ? v : "";
}

/* The secret key, read from [stripe] secret_key_file (relative names under
 * $CREDENTIALS_DIRECTORY, as the webhook secret).  sodium_free it. */
static int read_key(const struct config *cfg, char **key, size_t *keylen, struct err *e)
{
	const char *name = stripe_key(cfg, "secret_key_file");
	const char *credsdir = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX];

	if (name == NULL || name[0] == '\0')
		return err_set(e, ERR_CONFIG, "[stripe] secret_key_file is not set");
	if (name[0] != '/' && credsdir && credsdir[0])
		snprintf(path, sizeof(path), "%s/%s", credsdir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	if (sodium_init() < 0)
		return err_set(e, ERR_CONFIG, "could not initialise libsodium");
	return secret_file_read(path, 1024, key, keylen, e);
}

/* "Authorization: Basic base64(key:)" onto req; the scratch is wiped. */
static int add_auth(struct upload_req *req, const char *key, size_t keylen, struct err *e)
{
	size_t rawlen = keylen + 1,
	       b64len = sodium_base64_ENCODED_LEN(keylen + 1, sodium_base64_VARIANT_ORIGINAL);
	char *raw = sodium_malloc(rawlen + 1), *b64 = sodium_malloc(b64len);

	if (raw == NULL || b64 == NULL) {
		sodium_free(raw);
		sodium_free(b64);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	memcpy(raw, key, keylen);
	raw[keylen] = ':';
	sodium_bin2base64(b64, b64len, (const unsigned char *)raw, rawlen,
			  sodium_base64_VARIANT_ORIGINAL);
	upload_req_add_header(req, "Authorization: Basic %s", b64);
	sodium_free(raw);
	sodium_free(b64);
	return 0;
}

/* base + path, malloc'd (a base's trailing slash is dropped). */
static char *join_url(const char *base, const char *path)
{
	size_t blen = strlen(base);
	char *u;

	while (blen && base[blen - 1] == '/')
		blen--;
	u = xmalloc(blen + strlen(path) + 1);
	memcpy(u, base, blen);
	strcpy(u + blen, path);
	return u;
}

/* POST body (form) to {[endpoints] stripe}/path; one retry with the same
 * Idempotency-Key after a transport error or a 5xx. */
static int post_form(const struct config *cfg, const char *path, const struct buf *body, char **url,
		     char *id, size_t idlen, struct err *e)
{
	unsigned char rnd[16];
	char idem[2 * sizeof(rnd) + 1], *key = NULL;
	size_t keylen = 0;
	int rc = read_key(cfg, &key, &keylen, e);

	if (rc != 0)
		return rc;
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(idem, sizeof(idem), rnd, sizeof(rnd));
	for (int attempt = 0; attempt < 2; attempt++) {
		struct upload_req req;
		struct fetch_result res = { 0 };

		upload_req_init(&req);
		req.url = join_url(config_endpoint(cfg, "stripe"), path);
		req.log_url = xstrdup(req.url);
		req.timeout_ms = STRIPE_TIMEOUT_MS;
		rc = add_auth(&req, key, keylen, e);
		if (rc != 0) {
			upload_req_cleanup(&req);
			break;
		}
		upload_req_add_header(&req, "Content-Type: application/x-www-form-urlencoded");
		upload_req_add_header(&req, "Idempotency-Key: adseng-%s", idem);
		buf_append(&req.body, body->data, body->len);
		rc = net_fetch(&req, &res, e); /* takes req */
		if (rc != 0)
			break;
		if (res.resp.transport_error) {
			rc = err_set(e, ERR_IO, "could not reach Stripe: %s",
				     res.resp.transport_msg);
		} else {
			rc = billing_session_read(res.resp.status, res.resp.body, res.resp.body_len,
						  url, id, idlen, e);
		}
		fetch_result_cleanup(&res);
		if (rc != ERR_IO || *url != NULL)
			break;
		log_warn("Stripe request failed, retrying once", "path=%s err=\"%s\"", path,
			 e->msg);
	}
	sodium_free(key);
	return rc;
}

/* ---- operations ------------------------------------------------------------------------------ */

static int audit_session(PGconn *conn, const char *actor, const char *action, int64_t tenant_id,
			 const char *plan, const char *price, const char *session, struct err *e)
{
	cJSON *d = cJSON_CreateObject();
	int rc;

	if (d == NULL || !cJSON_AddNumberToObject(d, "tenant_id", (double)tenant_id) ||
	    (plan && !cJSON_AddStringToObject(d, "plan", plan)) ||
	    (price && !cJSON_AddStringToObject(d, "price", price)) ||
	    !cJSON_AddStringToObject(d, "session", session)) {
		cJSON_Delete(d);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	/* The url itself is a short-lived bearer link: not kept. */
	rc = admin_audit_write(conn, actor, action, d, e);
	cJSON_Delete(d);
	return rc;
}

int billing_checkout_create(PGconn *conn, const struct config *cfg, int64_t tenant_id,
			    const char *plan, const char *actor, char **url, struct err *e)
{
	char price[256], customer[256], session[SESSION_ID_MAX];
	struct buf body;
	int rc;

	*url = NULL;
	if (!billing_price_for_plan(config_platform_value(cfg, "stripe", "plans"), plan, price,
				    sizeof(price)))
		return err_set(e, ERR_INVALID, "no price in [stripe] plans buys plan \"%s\"",
			       plan ? plan : "");
	if (stripe_key(cfg, "success_url")[0] == '\0' || stripe_key(cfg, "cancel_url")[0] == '\0')
		return err_set(e, ERR_CONFIG, "[stripe] success_url and cancel_url must be set");
	rc = billing_store_customer(conn, tenant_id, customer, sizeof(customer), e);
	if (rc != 0)
		return rc;
	buf_init(&body);
	billing_checkout_form(&body, price, tenant_id, customer, stripe_key(cfg, "success_url"),
			      stripe_key(cfg, "cancel_url"));
	rc = post_form(cfg, "/v1/checkout/sessions", &body, url, session, sizeof(session), e);
	buf_cleanup(&body);
	if (rc == 0)
		rc = audit_session(conn, actor, "billing.checkout", tenant_id, plan, price, session,
				   e);
	if (rc != 0) {
		free(*url);
		*url = NULL;
	}
	return rc;
}

int billing_portal_create(PGconn *conn, const struct config *cfg, int64_t tenant_id,
			  const char *actor, char **url, struct err *e)
{
	char customer[256], session[SESSION_ID_MAX];
	struct buf body;
	int rc;

	*url = NULL;
	rc = billing_store_customer(conn, tenant_id, customer, sizeof(customer), e);
	if (rc != 0)
		return rc;
	if (customer[0] == '\0')
		return err_set(e, ERR_CONFLICT,
			       "tenant %" PRId64
			       " has no Stripe customer yet (finish a checkout first)",
			       tenant_id);
	buf_init(&body);
	billing_portal_form(&body, customer, stripe_key(cfg, "portal_return_url"));
	rc = post_form(cfg, "/v1/billing_portal/sessions", &body, url, session, sizeof(session), e);
	buf_cleanup(&body);
	if (rc == 0)
		rc = audit_session(conn, actor, "billing.portal", tenant_id, NULL, NULL, session,
				   e);
	if (rc != 0) {
		free(*url);
		*url = NULL;
	}
	return rc;
}
