/*
 * dest_probe.c - `destination test` (dest_probe.h): load, switch to the
 * kind's test mode, build a synthetic purchase, send it once, read the
 * answer with the kind's own classifier, audit.
 *
 * The synthetic purchase looks like a small real order (one item, an
 * email and a phone hashed by every scheme, a GA client id, a TEST-NET
 * address) so that each platform's validation has something to judge;
 * its event id is unique, so a platform that deduplicates never swallows
 * a second test.
 */
#include "pipeline/dest_probe.h"
#include "core/clock.h"
#include "core/json_build.h"
#include "core/mem.h"
#include "core/oauth_grant.h"
#include "core/pii.h"
#include "core/text.h"
#include "net/fetch.h"
#include "net/oauth.h"
#include "pipeline/dest_cache.h"
#include "store/admin.h"
#include "store/pgarr.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A token refresh may take this long before the test gives up. */
#define PROBE_TOKEN_TIMEOUT_MS 30000
#define PROBE_BODY_MAX	       (64 * 1024)

/* The synthetic purchase (caller frees with conv_free). */
static struct conversion *probe_conversion(const char *event_id)
{
	struct conversion *c = conv_new();

	c->event = xstrdup("purchase");
	c->event_id = xstrdup(event_id);
	c->occurred_us = clock_wall_ms() * 1000;
	c->value = xstrdup("1.00");
	c->currency = xstrdup("USD");
	c->order_id = xstrdup(event_id);
	c->client_ip = xstrdup("192.0.2.1"); /* TEST-NET-1: nobody's address */
	c->user_agent = xstrdup("adsengctl destination test");
	c->test = true;
	conv_set_pii(c, PII_EMAIL, "adseng-test@example.com");
	conv_set_pii(c, PII_PHONE, "+15555550100");
	conv_set_click(c, CLICK_GA_CLIENT_ID, "1234567890.1700000000");
	c->items = xcalloc(1, sizeof(*c->items));
	c->items[0].id = xstrdup("ADSENG-TEST");
	c->items[0].name = xstrdup("AdsEngineer test item");
	c->items[0].price = xstrdup("1.00");
	c->items[0].quantity = 1;
	c->n_items = 1;
	return c;
}

/* The access token of an OAuth2 kind into *tok (dest_secret_free), through
 * the token cache; *tok stays NULL for kinds without one. */
static int probe_token(const struct destination *d, const struct config *cfg,
		       struct oauth_cache *oauth, char **tok, struct err *e)
{
	struct oauth_grant g = { 0 };
	char buf[OAUTH_TOKEN_MAX + 1];
	int rc;

	*tok = NULL;
	if (d->ops->auth_grant == NULL)
		return 0;
	if (oauth == NULL)
		return err_set(e, ERR_CONFIG, "%s: no OAuth token cache to get a token with",
			       d->kind);
	rc = d->ops->auth_grant(d, cfg, &g, e);
	if (rc == 0 && g.refresh_token == NULL)
		rc = err_set(e, ERR_CONFIG,
			     "destination \"%s\" is not authorized yet: run adsengctl destination "
			     "authorize %s",
			     d->name, d->id);
	if (rc == 0)
		rc = oauth_cache_get_wait(oauth, d->id, &g, PROBE_TOKEN_TIMEOUT_MS, buf, e);
	if (rc == 0)
		*tok = xstrdup(buf);
	sodium_memzero(buf, sizeof(buf));
	oauth_grant_cleanup(&g);
	return rc;
}

/* Read the answer into out with the kind's classifier and test note. */
static void probe_read(const struct destination *d, struct conversion *conv,
		       const struct upload_resp *resp, struct dest_probe_result *out)
{
	struct outcome o = { 0 };

	out->answered = !resp->transport_error;
	out->status = resp->transport_error ? 0 : resp->status;
	out->latency_ms = resp->latency_ms;
	out->body = xstrndup(resp->body ? resp->body : "",
			     resp->body_len < PROBE_BODY_MAX ? resp->body_len : PROBE_BODY_MAX);
	d->ops->result(d, resp, &conv, 1, &o);
	snprintf(out->outcome, sizeof(out->outcome), "%s", outcome_kind_name(o.kind));
	snprintf(out->platform_code, sizeof(out->platform_code), "%s", o.platform_code);
	snprintf(out->message, sizeof(out->message), "%s", o.message);
	if (d->ops->test_note)
		d->ops->test_note(d, resp, out->warning, sizeof(out->warning));
}

static int probe_audit(PGconn *conn, const char *actor, const struct dest_probe_result *r,
		       struct err *e)
{
	cJSON *d = cJSON_CreateObject();
	bool ok = d != NULL;
	int rc;

	json_add_string(d, "id", r->dest_id, &ok);
	json_add_string(d, "kind", r->kind, &ok);
	json_add_string(d, "event_id", r->event_id, &ok);
	if (r->answered)
		json_add_int(d, "status", r->status, &ok);
	json_add_string(d, "outcome", r->outcome, &ok);
	if (r->warning[0])
		json_add_string(d, "warning", r->warning, &ok);
	rc = ok ? admin_audit_write(conn, actor, "destination.test", d, e)
		: err_set(e, ERR_NOMEM, "out of memory");
	cJSON_Delete(d);
	return rc;
}

/* Build and send the test request for d (in test mode now). */
static int probe_send(const struct destination *d, const char *token, struct conversion *conv,
		      long timeout_ms, struct dest_probe_result *out, struct err *e)
{
	struct upload_req req;
	struct fetch_result res = { 0 };
	char why[256];
	int rc;

	if (d->ops->accepts && !d->ops->accepts(d, conv, why, sizeof(why)))
		return err_set(e, ERR_CONFIG, "%s: the test purchase would not be sent: %s",
			       d->kind, why);
	upload_req_init(&req);
	rc = d->ops->build(d, token, &conv, 1, &req, e);
	if (rc != 0) {
		upload_req_cleanup(&req);
		return rc;
	}
	req.timeout_ms = timeout_ms;
	out->url = xstrdup(req.log_url ? req.log_url : "");
	rc = net_fetch(&req, &res, e); /* takes req */
	if (rc != 0)
		return rc;
	probe_read(d, conv, &res.resp, out);
	fetch_result_cleanup(&res);
	return 0;
}

int dest_probe_run(PGconn *conn, const struct config *cfg, const struct vault *vault,
		   struct oauth_cache *oauth, const char *dest_id,
		   const struct dest_test_opts *opts, const char *actor,
		   struct dest_probe_result *out, struct err *e)
{
	struct dest_cache cache;
	struct dest_entry *ent = NULL;
	struct conversion *conv = NULL;
	char *token = NULL;
	char uuid[37];
	int rc;

	memset(out, 0, sizeof(*out));
	dest_cache_init(&cache);
	/* A private cache: the entry is this call's own, so test_prepare may
	 * change it without touching what a worker sends. */
	rc = dest_cache_get(&cache, conn, cfg, vault, dest_id, &ent, e);
	if (rc != 0)
		goto out;
	snprintf(out->dest_id, sizeof(out->dest_id), "%s", ent->d.id);
	snprintf(out->kind, sizeof(out->kind), "%s", ent->d.kind);
	if (ent->d.ops->test_prepare == NULL) {
		rc = err_set(e, ERR_CONFIG, "%s: this kind has no test mode; nothing was sent",
			     ent->d.kind);
		goto out;
	}
	rc = ent->d.ops->test_prepare(&ent->d, opts, e);
	if (rc != 0)
		goto out;
	rc = probe_token(&ent->d, cfg, oauth, &token, e);
	if (rc != 0)
		goto out;
	uuid_generate(uuid);
	snprintf(out->event_id, sizeof(out->event_id), "adseng-test:%s", uuid);
	conv = probe_conversion(out->event_id);
	rc = probe_send(&ent->d, token, conv, (long)cfg->upload_timeout_ms, out, e);
	if (rc != 0)
		goto out;
	rc = probe_audit(conn, actor, out, e);
out:
	conv_free(conv);
	dest_secret_free(token);
	dest_entry_unref(ent);
	dest_cache_cleanup(&cache);
	return rc;
}

void dest_probe_result_cleanup(struct dest_probe_result *r)
{
	free(r->url);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

cJSON *dest_probe_result_json(const struct dest_probe_result *r)
{
	cJSON *j = cJSON_CreateObject();
	bool ok = j != NULL;

	json_add_string(j, "destination", r->dest_id, &ok);
	json_add_string(j, "kind", r->kind, &ok);
	json_add_string(j, "event_id", r->event_id, &ok);
	json_add_string(j, "url", r->url ? r->url : "", &ok);
	if (r->answered)
		json_add_int(j, "status", r->status, &ok);
	else if (ok && !cJSON_AddNullToObject(j, "status"))
		ok = false;
	json_add_string(j, "body", r->body ? r->body : "", &ok);
	json_add_int(j, "latency_ms", r->latency_ms, &ok);
	json_add_string(j, "outcome", r->outcome, &ok);
	json_add_string(j, "platform_code", r->platform_code, &ok);
	json_add_string(j, "message", r->message, &ok);
	json_add_string(j, "warning", r->warning, &ok);
	if (!ok) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}
