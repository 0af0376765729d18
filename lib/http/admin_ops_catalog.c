/*
 * admin_ops_catalog.c - the admin API's handlers for sources and
 * destinations (admin_ops.h): list, get, create, update, enable/disable,
 * pause/resume and test, each a thin call of the store or pipeline
 * operation the CLI uses, scoped to the token's tenant.  Worker thread.
 */
#include "http/admin_int.h"
#include "http/admin_ops.h"
#include "pipeline/admin_view.h"
#include "pipeline/catalog.h"
#include "pipeline/dest_probe.h"
#include "pipeline/runtime.h"
#include "store/admin.h"
#include "store/admin_pages.h"
#include "store/dest_admin_store.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sources ----------------------------------------------------------------------- */

int aop_sources_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		     struct err *e)
{
	struct admin_page pg;
	cJSON *rows = NULL;
	bool more = false;
	int rc;

	aop_page_of(job, &pg);
	rc = admin_source_page(conn, &pg, &rows, &more, e);
	if (rc != 0)
		return rc;
	admin_view_sources(cfg, rows);
	return aop_page_answer(job, rows, more, out, e);
}

/* One source with its webhook URL; 404 for another tenant's. */
static int source_show(PGconn *conn, const struct config *cfg, const struct admin_job *job,
		       const char *id, cJSON **out, struct err *e)
{
	cJSON *rows;
	int rc;

	if (!admin_is_uuid(id))
		return err_set(e, ERR_NOTFOUND, "no source %s", id);
	rc = aop_get_one(conn, job, admin_source_page, "source", id, out, e);
	if (rc != 0)
		return rc;
	/* admin_view_sources works on a list: lend it a one-row array. */
	rows = cJSON_CreateArray();
	if (rows == NULL || !cJSON_AddItemReferenceToArray(rows, *out)) {
		cJSON_Delete(rows);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	admin_view_sources(cfg, rows);
	cJSON_Delete(rows);
	return 0;
}

int aop_source_get(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		   struct err *e)
{
	return source_show(conn, cfg, job, job->param[0], out, e);
}

/* "rate_limit": null (remove), or {"rate": R, "burst": B?} (B default 4R,
 * as the CLI's --rate-limit R). */
static int body_rate_limit(const struct admin_job *job, bool *has, int64_t *rate, int64_t *burst,
			   struct err *e)
{
	const cJSON *rl = cJSON_GetObjectItemCaseSensitive(job->body, "rate_limit");
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(rl, "rate");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(rl, "burst");

	*has = rl != NULL;
	*rate = *burst = 0;
	if (rl == NULL || cJSON_IsNull(rl))
		return 0;
	if (!cJSON_IsObject(rl) || !cJSON_IsNumber(r) || r->valuedouble < 1 ||
	    r->valuedouble > 1000000 || r->valuedouble != (double)(int64_t)r->valuedouble)
		return err_set(
			e, ERR_INVALID,
			"rate_limit: null or {\"rate\": 1..1000000, \"burst\": 1..10000000}");
	*rate = (int64_t)r->valuedouble;
	*burst = *rate * 4;
	if (b == NULL)
		return 0;
	if (!cJSON_IsNumber(b) || b->valuedouble < 1 || b->valuedouble > 10000000 ||
	    b->valuedouble != (double)(int64_t)b->valuedouble)
		return err_set(e, ERR_INVALID, "rate_limit.burst: 1..10000000");
	*burst = (int64_t)b->valuedouble;
	return 0;
}

/* "settings": an object for a source of kind (checked as the CLI's options
 * are: 422 otherwise); the rate limit has its own field, so its keys are
 * refused here. */
static int body_settings(struct admin_job *job, const char *kind, char **text, struct err *e)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(job->body, "settings");

	*text = NULL;
	if (s == NULL)
		return 0;
	if (!cJSON_IsObject(s))
		return err_set(e, ERR_INVALID, "settings: an object");
	if (cJSON_GetObjectItemCaseSensitive(s, "ratelimit_rate") ||
	    cJSON_GetObjectItemCaseSensitive(s, "ratelimit_burst"))
		return err_set(e, ERR_INVALID, "settings: set the rate limit with rate_limit");
	if (catalog_source_settings_check(kind, s, e) != 0)
		return aop_unprocessable(job, e, e->msg);
	*text = cJSON_PrintUnformatted(s);
	return *text ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* Wipe every string under j: a secret of the body must not linger in
 * freed memory. */
static void json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (cJSON_IsString(j) && j->valuestring)
			sodium_memzero(j->valuestring, strlen(j->valuestring));
		json_wipe(j->child);
	}
}

/* An object field as text (malloc'd, *out NULL when absent). */
static int body_object_text(const struct admin_job *job, const char *field, bool required,
			    char **out, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(job->body, field);

	*out = NULL;
	if (v == NULL && !required)
		return 0;
	if (!cJSON_IsObject(v))
		return err_set(e, ERR_INVALID, "%s: %san object", field,
			       required ? "required, " : "");
	*out = cJSON_PrintUnformatted(v);
	return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* A catalog failure as an answer: what the kind refuses is 422. */
static int catalog_fail(struct admin_job *job, int rc)
{
	if (rc == ERR_CONFIG || rc == ERR_INVALID)
		job->status = 422;
	return rc;
}

/* "rest_credentials": absent, or the shop's {"consumer_key",
 * "consumer_secret"} (WooCommerce REST API), as text; as the CLI's
 * --rest-credentials-file checks it, never quoting it. */
static int body_rest_credentials(const struct admin_job *job, char **rest, struct err *e)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(job->body, "rest_credentials");

	if (r && (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "consumer_key")) ||
		  !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "consumer_secret"))))
		return err_set(e, ERR_INVALID,
			       "rest_credentials: an object with \"consumer_key\" "
			       "and \"consumer_secret\"");
	return body_object_text(job, "rest_credentials", false, rest, e);
}

/* POST /sources {tenant?, kind, name, secret?, settings?, rest_credentials?}:
 * as `adsengctl source add`; the answer is the new source with its
 * webhook_url, and for a kind that generates its key, that key ("api_key"),
 * this once. */
int aop_source_create(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		      struct err *e)
{
	static const char *const fields[] = { "tenant", "kind",	    "name",
					      "secret", "settings", "rest_credentials",
					      NULL };
	struct catalog_source s = { 0 };
	char id[37], *settings = NULL, *rest = NULL, *key = NULL;
	int rc = aop_body_only(job, fields, e);

	if (rc == 0)
		rc = aop_body_tenant(conn, job, &s.tenant_id, e);
	if (rc == 0)
		rc = aop_body_str(job, "kind", true, 31, &s.kind, e);
	if (rc == 0)
		rc = aop_body_str(job, "name", true, CATALOG_NAME_MAX, &s.name, e);
	if (rc == 0 && !catalog_name_ok(s.name))
		rc = err_set(e, ERR_INVALID, "name: 1 to %d bytes, no control characters",
			     CATALOG_NAME_MAX);
	if (rc == 0)
		rc = aop_body_str(job, "secret", false, 4096, &s.secret, e);
	s.secret_len = s.secret ? strlen(s.secret) : 0;
	if (rc == 0)
		rc = body_settings(job, s.kind, &settings, e);
	if (rc == 0)
		rc = body_rest_credentials(job, &rest, e);
	s.settings_json = settings;
	s.rest = rest;
	s.rest_len = rest ? strlen(rest) : 0;
	if (rc == 0)
		rc = catalog_fail(job, catalog_source_add(conn, job->rt->vault, job->who.sub, &s,
							  id, &key, e));
	json_wipe(job->body);
	if (rest) {
		sodium_memzero(rest, strlen(rest));
		free(rest);
	}
	free(settings);
	if (rc == 0) {
		job->status = 201;
		rc = source_show(conn, cfg, job, id, out, e);
	}
	if (rc == 0 && key && !cJSON_AddStringToObject(*out, "api_key", key))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (key)
		sodium_free(key);
	return rc;
}

int aop_source_update(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		      struct err *e)
{
	static const char *const fields[] = { "name", "rate_limit", "settings", NULL };
	const char *id = job->param[0], *name = NULL;
	int64_t rate = 0, burst = 0;
	char *settings = NULL, kind[32] = "";
	bool has_rl = false;
	cJSON *row = NULL;
	int rc = admin_is_uuid(id)
			 ? aop_get_one(conn, job, admin_source_page, "source", id, &row, e)
			 : err_set(e, ERR_NOTFOUND, "no source %s", id);

	if (rc == 0)
		snprintf(kind, sizeof(kind), "%s",
			 cJSON_IsString(cJSON_GetObjectItemCaseSensitive(row, "kind"))
				 ? cJSON_GetObjectItemCaseSensitive(row, "kind")->valuestring
				 : "");
	cJSON_Delete(row);
	if (rc == 0)
		rc = aop_body_only(job, fields, e);
	if (rc == 0)
		rc = aop_body_str(job, "name", false, 200, &name, e);
	if (rc == 0)
		rc = body_rate_limit(job, &has_rl, &rate, &burst, e);
	if (rc == 0)
		rc = body_settings(job, kind, &settings, e);
	if (rc == 0 && name == NULL && settings == NULL && !has_rl)
		rc = err_set(e, ERR_INVALID, "name: give name, rate_limit and/or settings");
	/* Two audited steps, each its own transaction: a failure of the
	 * second leaves the first done, and the answer says which failed. */
	if (rc == 0 && (name || settings))
		rc = admin_source_update(conn, job->who.sub, id, name, settings, e);
	if (rc == 0 && has_rl)
		rc = admin_source_set_rate_limit(conn, job->who.sub, id, rate, burst, e);
	free(settings);
	return rc == 0 ? source_show(conn, cfg, job, id, out, e) : rc;
}

static int source_set_enabled(PGconn *conn, const struct config *cfg, struct admin_job *job,
			      bool enabled, cJSON **out, struct err *e)
{
	const char *id = job->param[0];
	int rc = aop_own(conn, job, admin_source_page, "source", id, e);

	if (rc == 0)
		rc = admin_source_set_enabled(conn, job->who.sub, id, enabled, e);
	return rc == 0 ? source_show(conn, cfg, job, id, out, e) : rc;
}

int aop_source_disable(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		       struct err *e)
{
	return source_set_enabled(conn, cfg, job, false, out, e);
}

int aop_source_enable(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		      struct err *e)
{
	return source_set_enabled(conn, cfg, job, true, out, e);
}

/* ---- destinations ------------------------------------------------------------------- */

int aop_destinations_list(PGconn *conn, const struct config *cfg, struct admin_job *job,
			  cJSON **out, struct err *e)
{
	(void)cfg;
	return aop_list(conn, job, admin_destination_page, out, e);
}

int aop_destination_get(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			struct err *e)
{
	(void)cfg;
	if (!admin_is_uuid(job->param[0]))
		return err_set(e, ERR_NOTFOUND, "no destination %s", job->param[0]);
	return aop_get_one(conn, job, admin_destination_page, "destination", job->param[0], out, e);
}

/* POST /destinations {tenant?, kind, name, settings, credentials,
 * test_mode?}: as `adsengctl destination add` (settings keys as its
 * options, with underscores); the credentials are sealed and never shown. */
int aop_destination_create(PGconn *conn, const struct config *cfg, struct admin_job *job,
			   cJSON **out, struct err *e)
{
	static const char *const fields[] = { "tenant",	     "kind",	  "name", "settings",
					      "credentials", "test_mode", NULL };
	const cJSON *tm = cJSON_GetObjectItemCaseSensitive(job->body, "test_mode");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(job->body, "settings");
	struct catalog_destination d = { 0 };
	char id[37], *creds = NULL;
	int rc = aop_body_only(job, fields, e);

	if (rc == 0)
		rc = aop_body_tenant(conn, job, &d.tenant_id, e);
	if (rc == 0)
		rc = aop_body_str(job, "kind", true, 31, &d.kind, e);
	if (rc == 0)
		rc = aop_body_str(job, "name", true, CATALOG_NAME_MAX, &d.name, e);
	if (rc == 0 && !catalog_name_ok(d.name))
		rc = err_set(e, ERR_INVALID, "name: 1 to %d bytes, no control characters",
			     CATALOG_NAME_MAX);
	if (rc == 0 && st && !cJSON_IsObject(st))
		rc = err_set(e, ERR_INVALID, "settings: an object");
	if (rc == 0 && tm && !cJSON_IsBool(tm))
		rc = err_set(e, ERR_INVALID, "test_mode: true or false");
	if (rc == 0)
		rc = body_object_text(job, "credentials", true, &creds, e);
	d.test_mode = cJSON_IsTrue(tm);
	d.creds = creds;
	d.creds_len = creds ? strlen(creds) : 0;
	d.settings = st ? cJSON_Duplicate(st, true) : cJSON_CreateObject();
	if (rc == 0 && d.settings == NULL)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = catalog_fail(job, catalog_destination_add(conn, job->rt->vault, job->who.sub,
							       &d, id, e));
	json_wipe(job->body);
	if (creds) {
		sodium_memzero(creds, strlen(creds));
		free(creds);
	}
	cJSON_Delete(d.settings);
	if (rc != 0)
		return rc;
	(void)cfg;
	job->status = 201;
	return aop_get_one(conn, job, admin_destination_page, "destination", id, out, e);
}

/* PATCH {"settings": {...}}: merged key by key as `adsengctl destination
 * update` does, after the settings every kind shares are checked. */
int aop_destination_update(PGconn *conn, const struct config *cfg, struct admin_job *job,
			   cJSON **out, struct err *e)
{
	static const char *const fields[] = { "settings", NULL };
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(job->body, "settings");
	cJSON *patch = NULL;
	int rc = aop_own(conn, job, admin_destination_page, "destination", job->param[0], e);

	if (rc == 0)
		rc = aop_body_only(job, fields, e);
	if (rc == 0 && !cJSON_IsObject(s))
		rc = err_set(e, ERR_INVALID, "settings: required, an object");
	if (rc != 0)
		return rc;
	patch = cJSON_Duplicate(s, true);
	if (patch == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = dest_prepare_common_settings(patch, e);
	if (rc == ERR_CONFIG)
		rc = aop_unprocessable(job, e, e->msg);
	if (rc == 0)
		rc = dest_admin_merge_settings(conn, job->who.sub, job->param[0], patch, e);
	cJSON_Delete(patch);
	return rc == 0 ? aop_destination_get(conn, cfg, job, out, e) : rc;
}

/* POST pause ({"reason"?}) / resume: hold or release the destination's
 * deliveries exactly as `adsengctl destination pause|resume`. */
static int destination_hold(PGconn *conn, struct admin_job *job, bool pause, const char *verb,
			    cJSON **out, struct err *e)
{
	static const char *const fields[] = { "reason", NULL };
	const char *id = job->param[0], *why = NULL;
	char reason[300];
	int64_t n = 0;
	int rc = aop_own(conn, job, admin_destination_page, "destination", id, e);

	if (rc == 0)
		rc = aop_body_only(job, fields, e);
	if (rc == 0)
		rc = aop_body_str(job, "reason", false, 255, &why, e);
	if (rc != 0)
		return rc;
	if (why)
		snprintf(reason, sizeof(reason), "%s", why);
	else
		snprintf(reason, sizeof(reason), "%s by %s", verb, job->who.sub);
	if (pause)
		rc = admin_destination_pause(conn, job->who.sub, id, reason, &n, e);
	else
		rc = admin_destination_resume(conn, job->who.sub, id, &n, e);
	if (rc != 0)
		return rc;
	rc = aop_get_one(conn, job, admin_destination_page, "destination", id, out, e);
	if (rc == 0 && !cJSON_AddNumberToObject(*out, pause ? "held" : "released", (double)n))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	return rc;
}

int aop_destination_pause(PGconn *conn, const struct config *cfg, struct admin_job *job,
			  cJSON **out, struct err *e)
{
	(void)cfg;
	return destination_hold(conn, job, true, "paused", out, e);
}

int aop_destination_resume(PGconn *conn, const struct config *cfg, struct admin_job *job,
			   cJSON **out, struct err *e)
{
	(void)cfg;
	return destination_hold(conn, job, false, NULL, out, e);
}

/* POST disable: the destination stops and its pending deliveries wait in
 * held, as a pause whose reason says who disabled it (resume enables it
 * again; nothing is deleted, deliveries are never dropped). */
int aop_destination_disable(PGconn *conn, const struct config *cfg, struct admin_job *job,
			    cJSON **out, struct err *e)
{
	(void)cfg;
	return destination_hold(conn, job, true, "disabled", out, e);
}

/* POST test ({"test_event_code"?, "gtm_preview"?}): one synthetic purchase
 * in the platform's test mode, as `adsengctl destination test`; the answer
 * is dest_probe_result_json, whatever the platform said (200). */
int aop_destination_test(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e)
{
	static const char *const fields[] = { "test_event_code", "gtm_preview", NULL };
	struct dest_test_opts opts = { NULL, NULL };
	struct dest_probe_result r = { 0 };
	int rc = aop_own(conn, job, admin_destination_page, "destination", job->param[0], e);

	if (rc == 0)
		rc = aop_body_only(job, fields, e);
	if (rc == 0)
		rc = aop_body_str(job, "test_event_code", false, 128, &opts.test_event_code, e);
	if (rc == 0)
		rc = aop_body_str(job, "gtm_preview", false, 1024, &opts.gtm_preview, e);
	if (rc != 0)
		return rc;
	rc = dest_probe_run(conn, cfg, job->rt->vault, job->rt->oauth, job->param[0], &opts,
			    job->who.sub, &r, e);
	/* Nothing was sent: the destination cannot be tested as it is. */
	if (rc == ERR_CONFIG || rc == ERR_AUTH || rc == ERR_CRYPTO)
		rc = aop_unprocessable(job, e, e->msg);
	else if (rc == ERR_IO)
		job->status = 502;
	if (rc == 0) {
		*out = dest_probe_result_json(&r);
		if (*out == NULL)
			rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	dest_probe_result_cleanup(&r);
	return rc;
}
