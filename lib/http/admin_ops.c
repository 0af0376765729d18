/*
 * admin_ops.c - the admin API's route table and its handlers.  One static
 * table says, for every route, its method, path (with {params}), whether
 * it needs an admin token, which query parameters it takes, the key its
 * cursor carries, and the handler; admin_api.c dispatches from it and
 * `adsengd --admin-routes` prints it (the OpenAPI test compares the two).
 *
 * Handlers run on the admin worker thread (they block on SQL) and are
 * thin: they check the body's fields (400 names the field), scope the
 * object to the token's tenant (another tenant's is 404, as if it did not
 * exist), and call the same store/pipeline operations as adsengctl, with
 * the token's sub as the audit actor.  Lists are pages:
 * {"items": [...], "next_cursor": "..." | null}.
 */
#include "http/admin_int.h"
#include "http/server.h"
#include "core/clock.h"
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

#define REPLAY_MAX_IDS 1000

/* ---- answers ----------------------------------------------------------------------- */

/* A 422: the request is well formed but cannot be done. */
static int unprocessable(struct admin_job *job, struct err *e, const char *msg)
{
	job->status = 422;
	return err_set(e, ERR_INVALID, "%s", msg);
}

/* The text of a row's key field (a number or a string) into buf. */
static void key_text(const cJSON *row, const char *field, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, field);

	if (cJSON_IsNumber(v))
		snprintf(buf, len, "%" PRId64, (int64_t)v->valuedouble);
	else
		snprintf(buf, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* {"items": rows, "next_cursor": …} with the last row's key when more
 * follow; takes rows. */
static int page_answer(const struct admin_job *job, cJSON *rows, bool more, cJSON **out,
		       struct err *e)
{
	const cJSON *last = cJSON_GetArrayItem(rows, cJSON_GetArraySize(rows) - 1);
	char a[ADMIN_PARAM_MAX], b[ADMIN_PARAM_MAX];
	bool two = job->route->key == ADMIN_KEY_UUID2;
	char *cursor = NULL;
	cJSON *next;

	if (more && last) {
		key_text(last, two ? "source_id" : "id", a, sizeof(a));
		key_text(last, "destination_id", b, sizeof(b));
		cursor = admin_cursor_encode(a, two ? b : NULL);
	}
	next = cursor ? cJSON_CreateString(cursor) : cJSON_CreateNull();
	free(cursor);
	*out = cJSON_CreateObject();
	if (*out == NULL || next == NULL || !cJSON_AddItemToObject(*out, "items", rows)) {
		cJSON_Delete(next);
		cJSON_Delete(rows);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	if (!cJSON_AddItemToObject(*out, "next_cursor", next)) {
		cJSON_Delete(next);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

/* The page of job's query, scoped to the token's tenant (an admin may
 * narrow with ?tenant=; an agency's ?tenant= of another matches nothing). */
static void page_of(const struct admin_job *job, struct admin_page *pg)
{
	memset(pg, 0, sizeof(*pg));
	pg->after = job->q.has_cursor ? job->q.after : NULL;
	pg->after2 = job->q.has_cursor && job->q.after2[0] ? job->q.after2 : NULL;
	pg->limit = job->q.limit;
	pg->tenant_id = job->tenant;
	if (job->q.tenant) {
		if (job->tenant == 0)
			pg->tenant_id = job->q.tenant;
		else if (job->q.tenant != job->tenant)
			pg->tenant_id = -1; /* matches nothing */
	}
}

/* ---- body fields ------------------------------------------------------------------- */

/* A string field: absent → *out NULL (400 when required); 1..max bytes. */
static int body_str(const struct admin_job *job, const char *field, bool required, size_t max,
		    const char **out, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(job->body, field);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v)) {
		if (required)
			return err_set(e, ERR_INVALID, "%s: required", field);
		return 0;
	}
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) > max)
		return err_set(e, ERR_INVALID, "%s: a string of 1 to %zu bytes", field, max);
	*out = v->valuestring;
	return 0;
}

/* A uuid field (required). */
static int body_uuid(const struct admin_job *job, const char *field, const char **out,
		     struct err *e)
{
	int rc = body_str(job, field, true, 36, out, e);

	if (rc == 0 && !admin_is_uuid(*out))
		return err_set(e, ERR_INVALID, "%s: an id (uuid)", field);
	return rc;
}

/* Fields a route does not know are refused, so a typo is not a no-op. */
static int body_only(const struct admin_job *job, const char *const *fields, struct err *e)
{
	const cJSON *f;

	cJSON_ArrayForEach (f, job->body) {
		size_t i = 0;

		while (fields[i] && strcmp(fields[i], f->string) != 0)
			i++;
		if (fields[i] == NULL)
			return err_set(e, ERR_INVALID, "%s: not a field of this request",
				       f->string);
	}
	return 0;
}

static bool is_plan(const char *s)
{
	return strcmp(s, "starter") == 0 || strcmp(s, "professional") == 0 ||
	       strcmp(s, "enterprise") == 0;
}

/* ---- scoping ------------------------------------------------------------------------ */

typedef int (*page_fn)(PGconn *, const struct admin_page *, cJSON **, bool *, struct err *);

/* The one object id of kind the token may see, as its list row; 404
 * otherwise (missing or another tenant's: the same answer). */
static int get_one(PGconn *conn, const struct admin_job *job, page_fn fn, const char *what,
		   const char *id, cJSON **out, struct err *e)
{
	struct admin_page pg = { .limit = 1, .tenant_id = job->tenant, .only = id };
	cJSON *rows = NULL;
	bool more;
	int rc = fn(conn, &pg, &rows, &more, e);

	if (rc != 0)
		return rc;
	*out = cJSON_DetachItemFromArray(rows, 0);
	cJSON_Delete(rows);
	if (*out == NULL)
		return err_set(e, ERR_NOTFOUND, "no %s %s", what, id);
	return 0;
}

/* Check that the object exists and the token may touch it. */
static int own(PGconn *conn, const struct admin_job *job, page_fn fn, const char *what,
	       const char *id, struct err *e)
{
	cJSON *row = NULL;
	int rc;

	int64_t n;

	if ((fn == admin_tenant_page && !admin_parse_id(id, &n)) ||
	    (fn != admin_tenant_page && !admin_is_uuid(id)))
		return err_set(e, ERR_NOTFOUND, "no %s %s", what, id);
	rc = get_one(conn, job, fn, what, id, &row, e);
	cJSON_Delete(row);
	return rc;
}

/* The tenant a new object goes to: an agency token's own (a "tenant" in
 * the body is refused), an admin's from the body (required). */
static int body_tenant(PGconn *conn, struct admin_job *job, int64_t *tenant, struct err *e)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(job->body, "tenant");
	char text[24];
	int rc;

	if (job->tenant != 0) {
		if (t)
			return err_set(e, ERR_INVALID,
				       "tenant: an agency token adds to its own "
				       "tenant only; leave it out");
		*tenant = job->tenant;
		return 0;
	}
	if (!cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > 9e15)
		return err_set(e, ERR_INVALID, "tenant: required, a tenant id");
	*tenant = (int64_t)t->valuedouble;
	snprintf(text, sizeof(text), "%" PRId64, *tenant);
	rc = own(conn, job, admin_tenant_page, "tenant", text, e);
	if (rc == ERR_NOTFOUND)
		return unprocessable(job, e, "tenant: no such tenant");
	return rc;
}

/* ---- tenants ------------------------------------------------------------------------ */

static int tenants_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			struct err *e)
{
	struct admin_page pg;
	cJSON *rows = NULL;
	bool more = false;
	int rc;

	(void)cfg;
	page_of(job, &pg);
	rc = admin_tenant_page(conn, &pg, &rows, &more, e);
	return rc == 0 ? page_answer(job, rows, more, out, e) : rc;
}

static int tenant_get(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		      struct err *e)
{
	int64_t id;

	(void)cfg;
	if (!admin_parse_id(job->param[0], &id))
		return err_set(e, ERR_NOTFOUND, "no tenant %s", job->param[0]);
	return get_one(conn, job, admin_tenant_page, "tenant", job->param[0], out, e);
}

static int tenant_create(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e)
{
	static const char *const fields[] = { "name", "plan", NULL };
	const char *name, *plan;
	char text[24];
	int64_t id = 0;
	int rc = body_only(job, fields, e);

	(void)cfg;
	if (rc == 0)
		rc = body_str(job, "name", true, 200, &name, e);
	if (rc == 0)
		rc = body_str(job, "plan", false, 32, &plan, e);
	if (rc != 0)
		return rc;
	if (plan && !is_plan(plan))
		return unprocessable(job, e, "plan: starter, professional or enterprise");
	rc = admin_tenant_add(conn, job->who.sub, name, plan ? plan : "starter", NULL, &id, e);
	if (rc != 0)
		return rc;
	snprintf(text, sizeof(text), "%" PRId64, id);
	job->status = 201;
	return get_one(conn, job, admin_tenant_page, "tenant", text, out, e);
}

static int tenant_update(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e)
{
	static const char *const fields[] = { "name", "plan", NULL };
	const char *name = NULL, *plan = NULL;
	int64_t id;
	int rc = own(conn, job, admin_tenant_page, "tenant", job->param[0], e);

	if (rc == 0)
		rc = body_only(job, fields, e);
	if (rc == 0)
		rc = body_str(job, "name", false, 200, &name, e);
	if (rc == 0)
		rc = body_str(job, "plan", false, 32, &plan, e);
	if (rc != 0)
		return rc;
	if (plan && !is_plan(plan))
		return unprocessable(job, e, "plan: starter, professional or enterprise");
	if (name == NULL && plan == NULL)
		return err_set(e, ERR_INVALID, "name: give name and/or plan");
	(void)admin_parse_id(job->param[0], &id);
	rc = admin_tenant_update(conn, job->who.sub, id, name, plan, e);
	return rc == 0 ? tenant_get(conn, cfg, job, out, e) : rc;
}

static int tenant_disable(PGconn *conn, const struct config *cfg, struct admin_job *job,
			  cJSON **out, struct err *e)
{
	int64_t id, sources = 0;
	int rc = own(conn, job, admin_tenant_page, "tenant", job->param[0], e);

	if (rc != 0)
		return rc;
	(void)admin_parse_id(job->param[0], &id);
	rc = admin_tenant_disable(conn, job->who.sub, id, &sources, e);
	if (rc == 0)
		rc = tenant_get(conn, cfg, job, out, e);
	if (rc == 0 && !cJSON_AddNumberToObject(*out, "sources_disabled", (double)sources))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	return rc;
}

/* ---- sources ----------------------------------------------------------------------- */

static int sources_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			struct err *e)
{
	struct admin_page pg;
	cJSON *rows = NULL;
	bool more = false;
	int rc;

	page_of(job, &pg);
	rc = admin_source_page(conn, &pg, &rows, &more, e);
	if (rc != 0)
		return rc;
	admin_view_sources(cfg, rows);
	return page_answer(job, rows, more, out, e);
}

/* One source with its webhook URL; 404 for another tenant's. */
static int source_show(PGconn *conn, const struct config *cfg, const struct admin_job *job,
		       const char *id, cJSON **out, struct err *e)
{
	cJSON *rows;
	int rc;

	if (!admin_is_uuid(id))
		return err_set(e, ERR_NOTFOUND, "no source %s", id);
	rc = get_one(conn, job, admin_source_page, "source", id, out, e);
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

static int source_get(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
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

/* "settings": an object merged into the source's; the rate limit has its
 * own field, so its keys are refused here. */
static int body_settings(const struct admin_job *job, char **text, struct err *e)
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

/* POST /sources {tenant?, kind, name, secret?, settings?, rest_credentials?}:
 * as `adsengctl source add`; the answer is the new source with its
 * webhook_url, and for a kind that generates its key, that key ("api_key"),
 * this once. */
static int source_create(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e)
{
	static const char *const fields[] = { "tenant", "kind",	    "name",
					      "secret", "settings", "rest_credentials",
					      NULL };
	struct catalog_source s = { 0 };
	char id[37], *settings = NULL, *rest = NULL, *key = NULL;
	int rc = body_only(job, fields, e);

	if (rc == 0)
		rc = body_tenant(conn, job, &s.tenant_id, e);
	if (rc == 0)
		rc = body_str(job, "kind", true, 31, &s.kind, e);
	if (rc == 0)
		rc = body_str(job, "name", true, CATALOG_NAME_MAX, &s.name, e);
	if (rc == 0 && !catalog_name_ok(s.name))
		rc = err_set(e, ERR_INVALID, "name: 1 to %d bytes, no control characters",
			     CATALOG_NAME_MAX);
	if (rc == 0)
		rc = body_str(job, "secret", false, 4096, &s.secret, e);
	s.secret_len = s.secret ? strlen(s.secret) : 0;
	if (rc == 0)
		rc = body_settings(job, &settings, e);
	if (rc == 0)
		rc = body_object_text(job, "rest_credentials", false, &rest, e);
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

static int source_update(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e)
{
	static const char *const fields[] = { "name", "rate_limit", "settings", NULL };
	const char *id = job->param[0], *name = NULL;
	int64_t rate = 0, burst = 0;
	char *settings = NULL;
	bool has_rl = false;
	int rc = own(conn, job, admin_source_page, "source", id, e);

	if (rc == 0)
		rc = body_only(job, fields, e);
	if (rc == 0)
		rc = body_str(job, "name", false, 200, &name, e);
	if (rc == 0)
		rc = body_rate_limit(job, &has_rl, &rate, &burst, e);
	if (rc == 0)
		rc = body_settings(job, &settings, e);
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
	int rc = own(conn, job, admin_source_page, "source", id, e);

	if (rc == 0)
		rc = admin_source_set_enabled(conn, job->who.sub, id, enabled, e);
	return rc == 0 ? source_show(conn, cfg, job, id, out, e) : rc;
}

static int source_disable(PGconn *conn, const struct config *cfg, struct admin_job *job,
			  cJSON **out, struct err *e)
{
	return source_set_enabled(conn, cfg, job, false, out, e);
}

static int source_enable(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e)
{
	return source_set_enabled(conn, cfg, job, true, out, e);
}

/* ---- destinations ------------------------------------------------------------------- */

static int destinations_list(PGconn *conn, const struct config *cfg, struct admin_job *job,
			     cJSON **out, struct err *e)
{
	struct admin_page pg;
	cJSON *rows = NULL;
	bool more = false;
	int rc;

	(void)cfg;
	page_of(job, &pg);
	rc = admin_destination_page(conn, &pg, &rows, &more, e);
	return rc == 0 ? page_answer(job, rows, more, out, e) : rc;
}

static int destination_get(PGconn *conn, const struct config *cfg, struct admin_job *job,
			   cJSON **out, struct err *e)
{
	(void)cfg;
	if (!admin_is_uuid(job->param[0]))
		return err_set(e, ERR_NOTFOUND, "no destination %s", job->param[0]);
	return get_one(conn, job, admin_destination_page, "destination", job->param[0], out, e);
}

/* POST /destinations {tenant?, kind, name, settings, credentials,
 * test_mode?}: as `adsengctl destination add` (settings keys as its
 * options, with underscores); the credentials are sealed and never shown. */
static int destination_create(PGconn *conn, const struct config *cfg, struct admin_job *job,
			      cJSON **out, struct err *e)
{
	static const char *const fields[] = { "tenant",	     "kind",	  "name", "settings",
					      "credentials", "test_mode", NULL };
	const cJSON *tm = cJSON_GetObjectItemCaseSensitive(job->body, "test_mode");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(job->body, "settings");
	struct catalog_destination d = { 0 };
	char id[37], *creds = NULL;
	int rc = body_only(job, fields, e);

	if (rc == 0)
		rc = body_tenant(conn, job, &d.tenant_id, e);
	if (rc == 0)
		rc = body_str(job, "kind", true, 31, &d.kind, e);
	if (rc == 0)
		rc = body_str(job, "name", true, CATALOG_NAME_MAX, &d.name, e);
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
	return get_one(conn, job, admin_destination_page, "destination", id, out, e);
}

/* PATCH {"settings": {...}}: merged key by key as `adsengctl destination
 * update` does, after the settings every kind shares are checked. */
static int destination_update(PGconn *conn, const struct config *cfg, struct admin_job *job,
			      cJSON **out, struct err *e)
{
	static const char *const fields[] = { "settings", NULL };
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(job->body, "settings");
	cJSON *patch = NULL;
	int rc = own(conn, job, admin_destination_page, "destination", job->param[0], e);

	if (rc == 0)
		rc = body_only(job, fields, e);
	if (rc == 0 && !cJSON_IsObject(s))
		rc = err_set(e, ERR_INVALID, "settings: required, an object");
	if (rc != 0)
		return rc;
	patch = cJSON_Duplicate(s, true);
	if (patch == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = dest_prepare_common_settings(patch, e);
	if (rc == ERR_CONFIG)
		rc = unprocessable(job, e, e->msg);
	if (rc == 0)
		rc = dest_admin_merge_settings(conn, job->who.sub, job->param[0], patch, e);
	cJSON_Delete(patch);
	return rc == 0 ? destination_get(conn, cfg, job, out, e) : rc;
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
	int rc = own(conn, job, admin_destination_page, "destination", id, e);

	if (rc == 0)
		rc = body_only(job, fields, e);
	if (rc == 0)
		rc = body_str(job, "reason", false, 255, &why, e);
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
	rc = get_one(conn, job, admin_destination_page, "destination", id, out, e);
	if (rc == 0 && !cJSON_AddNumberToObject(*out, pause ? "held" : "released", (double)n))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	return rc;
}

static int destination_pause(PGconn *conn, const struct config *cfg, struct admin_job *job,
			     cJSON **out, struct err *e)
{
	(void)cfg;
	return destination_hold(conn, job, true, "paused", out, e);
}

static int destination_resume(PGconn *conn, const struct config *cfg, struct admin_job *job,
			      cJSON **out, struct err *e)
{
	(void)cfg;
	return destination_hold(conn, job, false, NULL, out, e);
}

/* POST disable: the destination stops and its pending deliveries wait in
 * held, as a pause whose reason says who disabled it (resume enables it
 * again; nothing is deleted, deliveries are never dropped). */
static int destination_disable(PGconn *conn, const struct config *cfg, struct admin_job *job,
			       cJSON **out, struct err *e)
{
	(void)cfg;
	return destination_hold(conn, job, true, "disabled", out, e);
}

/* POST test ({"test_event_code"?, "gtm_preview"?}): one synthetic purchase
 * in the platform's test mode, as `adsengctl destination test`; the answer
 * is dest_probe_result_json, whatever the platform said (200). */
static int destination_test(PGconn *conn, const struct config *cfg, struct admin_job *job,
			    cJSON **out, struct err *e)
{
	static const char *const fields[] = { "test_event_code", "gtm_preview", NULL };
	struct dest_test_opts opts = { NULL, NULL };
	struct dest_probe_result r = { 0 };
	int rc = own(conn, job, admin_destination_page, "destination", job->param[0], e);

	if (rc == 0)
		rc = body_only(job, fields, e);
	if (rc == 0)
		rc = body_str(job, "test_event_code", false, 128, &opts.test_event_code, e);
	if (rc == 0)
		rc = body_str(job, "gtm_preview", false, 1024, &opts.gtm_preview, e);
	if (rc != 0)
		return rc;
	rc = dest_probe_run(conn, cfg, job->rt->vault, job->rt->oauth, job->param[0], &opts,
			    job->who.sub, &r, e);
	/* Nothing was sent: the destination cannot be tested as it is. */
	if (rc == ERR_CONFIG || rc == ERR_AUTH || rc == ERR_CRYPTO)
		rc = unprocessable(job, e, e->msg);
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

/* ---- routes ------------------------------------------------------------------------ */

static int routes_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		       struct err *e)
{
	struct admin_page pg;
	cJSON *rows = NULL;
	bool more = false;
	int rc;

	(void)cfg;
	page_of(job, &pg);
	rc = admin_route_page(conn, &pg, &rows, &more, e);
	return rc == 0 ? page_answer(job, rows, more, out, e) : rc;
}

/* "events": absent or null (every event) or an array of 1..64 names. */
static int body_events(const struct admin_job *job, const char **names, int *n, struct err *e)
{
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(job->body, "events"), *it;

	*n = 0;
	if (ev == NULL || cJSON_IsNull(ev))
		return 0;
	if (!cJSON_IsArray(ev) || cJSON_GetArraySize(ev) < 1 || cJSON_GetArraySize(ev) > 64)
		return err_set(e, ERR_INVALID, "events: null or an array of 1 to 64 event names");
	cJSON_ArrayForEach (it, ev) {
		if (!cJSON_IsString(it) || it->valuestring[0] == '\0' ||
		    strlen(it->valuestring) > 100)
			return err_set(e, ERR_INVALID, "events: names of 1 to 100 bytes");
		names[(*n)++] = it->valuestring;
	}
	return 0;
}

/* The tenant of a source or destination row the token may touch. */
static int owner_of(PGconn *conn, const struct admin_job *job, page_fn fn, const char *what,
		    const char *id, int64_t *tenant, struct err *e)
{
	const cJSON *t;
	cJSON *row = NULL;
	int rc = get_one(conn, job, fn, what, id, &row, e);

	if (rc != 0)
		return rc;
	t = cJSON_GetObjectItemCaseSensitive(row, "tenant_id");
	*tenant = cJSON_IsNumber(t) ? (int64_t)t->valuedouble : 0;
	cJSON_Delete(row);
	return 0;
}

static int route_create(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			struct err *e)
{
	static const char *const fields[] = { "source_id", "destination_id", "events", NULL };
	const char *src, *dst, *events[64];
	int64_t ts = 0, td = 0;
	int n = 0;
	bool created = false;
	int rc = body_only(job, fields, e);

	(void)cfg;
	if (rc == 0)
		rc = body_uuid(job, "source_id", &src, e);
	if (rc == 0)
		rc = body_uuid(job, "destination_id", &dst, e);
	if (rc == 0)
		rc = body_events(job, events, &n, e);
	if (rc == 0)
		rc = owner_of(conn, job, admin_source_page, "source", src, &ts, e);
	if (rc == 0)
		rc = owner_of(conn, job, admin_destination_page, "destination", dst, &td, e);
	if (rc == 0 && ts != td)
		rc = unprocessable(job, e, "destination_id: a destination of the source's tenant");
	if (rc == 0)
		rc = admin_route_add(conn, job->who.sub, src, dst, n ? events : NULL, n, &created,
				     e);
	if (rc != 0)
		return rc;
	job->status = created ? 201 : 200;
	*out = cJSON_CreateObject();
	if (*out == NULL || !cJSON_AddStringToObject(*out, "source_id", src) ||
	    !cJSON_AddStringToObject(*out, "destination_id", dst) ||
	    !cJSON_AddItemToObject(*out, "events",
				   n ? cJSON_CreateStringArray(events, n) : cJSON_CreateNull()) ||
	    !cJSON_AddBoolToObject(*out, "created", created))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static int route_delete(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			struct err *e)
{
	const char *src = job->param[0], *dst = job->param[1];
	int rc;

	(void)cfg;
	if (!admin_is_uuid(src) || !admin_is_uuid(dst))
		return err_set(e, ERR_NOTFOUND, "no such route");
	/* The source decides whose route it is (both ends are one tenant's). */
	rc = own(conn, job, admin_source_page, "source", src, e);
	if (rc == 0)
		rc = admin_route_delete(conn, job->who.sub, src, dst, e);
	if (rc != 0)
		return rc;
	*out = cJSON_CreateObject();
	if (*out == NULL || !cJSON_AddStringToObject(*out, "source_id", src) ||
	    !cJSON_AddStringToObject(*out, "destination_id", dst) ||
	    !cJSON_AddBoolToObject(*out, "deleted", true))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* ---- conversions, deliveries --------------------------------------------------------- */

static int conversions_list(PGconn *conn, const struct config *cfg, struct admin_job *job,
			    cJSON **out, struct err *e)
{
	struct admin_conversion_filter f = { 0 };
	struct admin_page pg;
	cJSON *rows = NULL;
	bool more = false;
	int rc;

	(void)cfg;
	page_of(job, &pg);
	f.has_since = job->q.has_since;
	f.since_us = job->q.since_us;
	f.has_until = job->q.has_until;
	f.until_us = job->q.until_us;
	f.event = job->q.event[0] ? job->q.event : NULL;
	f.source_id = job->q.source[0] ? job->q.source : NULL;
	rc = admin_conversion_page(conn, &f, &pg, &rows, &more, e);
	return rc == 0 ? page_answer(job, rows, more, out, e) : rc;
}

static int deliveries_list(PGconn *conn, const struct config *cfg, struct admin_job *job,
			   cJSON **out, struct err *e)
{
	struct admin_delivery_filter f = { 0 };
	struct admin_page pg;
	cJSON *rows = NULL;
	int rc;

	(void)cfg;
	page_of(job, &pg);
	f.state = job->q.state[0] ? job->q.state : NULL;
	f.destination_id = job->q.destination[0] ? job->q.destination : NULL;
	f.tenant_id = pg.tenant_id;
	f.has_since = job->q.has_since;
	f.since_us = job->q.since_us;
	f.has_until = job->q.has_until;
	f.until_us = job->q.until_us;
	if (pg.after)
		(void)admin_parse_id(pg.after, &f.before_id);
	f.limit = pg.limit + 1; /* one more: does another page follow? */
	rc = admin_deliveries_list(conn, &f, &rows, e);
	if (rc != 0)
		return rc;
	if (cJSON_GetArraySize(rows) > pg.limit) {
		cJSON_DeleteItemFromArray(rows, (int)pg.limit);
		return page_answer(job, rows, true, out, e);
	}
	return page_answer(job, rows, false, out, e);
}

/* One delivery with its attempts; another tenant's is 404. */
static int delivery_get(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			struct err *e)
{
	const cJSON *tid;
	int64_t id;
	int rc;

	(void)cfg;
	if (!admin_parse_id(job->param[0], &id))
		return err_set(e, ERR_NOTFOUND, "no delivery %s", job->param[0]);
	rc = admin_delivery_show(conn, id, out, e);
	if (rc != 0 || job->tenant == 0)
		return rc;
	tid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(*out, "delivery"),
					       "tenant_id");
	if (!cJSON_IsNumber(tid) || (int64_t)tid->valuedouble != job->tenant) {
		cJSON_Delete(*out);
		*out = NULL;
		return err_set(e, ERR_NOTFOUND, "no delivery %" PRId64, id);
	}
	return 0;
}

/* ---- replay ------------------------------------------------------------------------ */

/* One state name's bit into *mask. */
static int state_bit(const cJSON *v, const char *const names[3], unsigned *mask, struct err *e)
{
	for (unsigned i = 0; i < 3; i++) {
		if (cJSON_IsString(v) && strcmp(v->valuestring, names[i]) == 0) {
			*mask |= 1u << i;
			return 0;
		}
	}
	return err_set(e, ERR_INVALID, "state: failed, dead or held");
}

/* "state": "failed" or ["failed", "dead", "held"] into ADMIN_REPLAY_*;
 * absent: failed and dead (and held when ids are named), as the CLI. */
static int body_states(const struct admin_job *job, bool have_ids, unsigned *mask, struct err *e)
{
	static const char *const names[] = { "failed", "dead", "held" }; /* ADMIN_REPLAY_* bits */
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(job->body, "state"), *it;

	*mask = 0;
	if (st == NULL) {
		*mask = ADMIN_REPLAY_FAILED | ADMIN_REPLAY_DEAD |
			(have_ids ? ADMIN_REPLAY_HELD : 0);
		return 0;
	}
	if (cJSON_IsString(st))
		return state_bit(st, names, mask, e);
	if (!cJSON_IsArray(st) || cJSON_GetArraySize(st) == 0)
		return err_set(e, ERR_INVALID, "state: failed, dead, held or a list of them");
	cJSON_ArrayForEach (it, st) {
		if (state_bit(it, names, mask, e) != 0)
			return ERR_INVALID;
	}
	return 0;
}

/* "ids": [positive integers], at most REPLAY_MAX_IDS, duplicates dropped. */
static int body_ids(const struct admin_job *job, int64_t *ids, size_t *n, struct err *e)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(job->body, "ids"), *it;

	*n = 0;
	if (arr == NULL)
		return 0;
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > REPLAY_MAX_IDS)
		return err_set(e, ERR_INVALID, "ids: an array of at most %d delivery ids",
			       REPLAY_MAX_IDS);
	cJSON_ArrayForEach (it, arr) {
		bool dup = false;

		if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 9e15 ||
		    it->valuedouble != (double)(int64_t)it->valuedouble)
			return err_set(e, ERR_INVALID, "ids: delivery ids (positive integers)");
		for (size_t i = 0; i < *n; i++)
			dup = dup || ids[i] == (int64_t)it->valuedouble;
		if (!dup)
			ids[(*n)++] = (int64_t)it->valuedouble;
	}
	return 0;
}

static int body_time(const struct admin_job *job, const char *field, bool *has, int64_t *us,
		     struct err *e)
{
	const char *v = NULL;
	struct err ignored = { 0 };
	int rc = body_str(job, field, false, 64, &v, e);

	*has = v != NULL;
	if (rc == 0 && v && clock_parse_iso8601(v, us, &ignored) != 0)
		rc = err_set(e, ERR_INVALID, "%s: an RFC 3339 time (2026-11-28T10:00:00Z)", field);
	return rc;
}

/* The filters of the replay body into f (ids into the caller's array). */
static int replay_filter(PGconn *conn, struct admin_job *job, struct admin_replay_filter *f,
			 int64_t *ids, bool *dry_run, struct err *e)
{
	static const char *const fields[] = { "state", "destination", "tenant",	 "since",
					      "until", "ids",	      "dry_run", NULL };
	const cJSON *dry = cJSON_GetObjectItemCaseSensitive(job->body, "dry_run");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(job->body, "tenant");
	int rc = body_only(job, fields, e);

	if (rc == 0)
		rc = body_ids(job, ids, &f->n_ids, e);
	f->ids = f->n_ids ? ids : NULL;
	if (rc == 0)
		rc = body_states(job, f->ids != NULL, &f->states, e);
	if (rc == 0)
		rc = body_time(job, "since", &f->has_since, &f->since_us, e);
	if (rc == 0)
		rc = body_time(job, "until", &f->has_until, &f->until_us, e);
	if (rc == 0 && dry && !cJSON_IsBool(dry))
		rc = err_set(e, ERR_INVALID, "dry_run: true or false");
	*dry_run = cJSON_IsTrue(dry);
	if (rc == 0 && t && (job->tenant != 0 || !cJSON_IsNumber(t) || t->valuedouble < 1))
		rc = err_set(e, ERR_INVALID, "tenant: a tenant id, admin tokens only");
	/* An agency's replay never leaves its tenant: every query of
	 * admin_replay filters on d.tenant_id. */
	f->tenant_id = job->tenant != 0 ? job->tenant : t ? (int64_t)t->valuedouble : 0;
	if (rc == 0)
		rc = body_str(job, "destination", false, 36, &f->destination_id, e);
	if (rc == 0 && f->destination_id)
		rc = own(conn, job, admin_destination_page, "destination", f->destination_id, e);
	return rc;
}

static int replay(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		  struct err *e)
{
	struct admin_replay_filter f = { 0 };
	int64_t *ids = calloc(REPLAY_MAX_IDS, sizeof(*ids));
	bool dry_run = false;
	int rc;

	(void)cfg;
	if (ids == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = replay_filter(conn, job, &f, ids, &dry_run, e);
	if (rc == 0)
		rc = admin_replay(conn, job->who.sub, &f, dry_run, out, e);
	free(ids);
	return rc;
}

/* ---- stats ----------------------------------------------------------------------- */

/* Keep only what an agency token may see of admin_stats: its tenant's
 * destinations (matched by tenant name, which is unique; the totals of raw
 * events and adjustments span every tenant and are left out). */
static int stats_scope(PGconn *conn, const struct admin_job *job, cJSON *st, struct err *e)
{
	cJSON *dests = cJSON_GetObjectItemCaseSensitive(st, "destinations"), *tenant = NULL;
	char id[24];
	const char *name;
	int rc;

	snprintf(id, sizeof(id), "%" PRId64, job->tenant);
	rc = get_one(conn, job, admin_tenant_page, "tenant", id, &tenant, e);
	if (rc == ERR_NOTFOUND)
		rc = 0; /* a token of a deleted tenant sees nothing */
	if (rc != 0)
		return rc;
	name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tenant, "name"));
	for (int i = cJSON_GetArraySize(dests) - 1; i >= 0; i--) {
		const char *tn = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(dests, i), "tenant"));

		if (name == NULL || tn == NULL || strcmp(tn, name) != 0)
			cJSON_DeleteItemFromArray(dests, i);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(st, "raw_events");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "adjustments");
	cJSON_Delete(tenant);
	return 0;
}

static int stats(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		 struct err *e)
{
	int rc = admin_stats(conn, out, e);

	(void)cfg;
	if (rc == 0 && job->tenant != 0)
		rc = stats_scope(conn, job, *out, e);
	return rc;
}

/* ---- the table ---------------------------------------------------------------------- */

#define LIST(path, admin, extra, key, fn)                                                          \
	{                                                                                          \
		ADMIN_GET, path, admin, AQ_LIST | (extra), key, fn                                 \
	}
#define ONE(method, path, admin, fn)                                                               \
	{                                                                                          \
		method, path, admin, 0, ADMIN_KEY_NONE, fn                                         \
	}

static const struct admin_route routes[] = {
	LIST("tenants", true, 0, ADMIN_KEY_INT, tenants_list),
	ONE(ADMIN_POST, "tenants", true, tenant_create),
	ONE(ADMIN_GET, "tenants/{id}", false, tenant_get),
	ONE(ADMIN_PATCH, "tenants/{id}", true, tenant_update),
	ONE(ADMIN_POST, "tenants/{id}/disable", true, tenant_disable),
	LIST("sources", false, 0, ADMIN_KEY_UUID, sources_list),
	ONE(ADMIN_POST, "sources", false, source_create),
	ONE(ADMIN_GET, "sources/{id}", false, source_get),
	ONE(ADMIN_PATCH, "sources/{id}", false, source_update),
	ONE(ADMIN_POST, "sources/{id}/disable", false, source_disable),
	ONE(ADMIN_POST, "sources/{id}/enable", false, source_enable),
	LIST("destinations", false, 0, ADMIN_KEY_UUID, destinations_list),
	ONE(ADMIN_POST, "destinations", false, destination_create),
	ONE(ADMIN_GET, "destinations/{id}", false, destination_get),
	ONE(ADMIN_PATCH, "destinations/{id}", false, destination_update),
	ONE(ADMIN_POST, "destinations/{id}/pause", false, destination_pause),
	ONE(ADMIN_POST, "destinations/{id}/resume", false, destination_resume),
	ONE(ADMIN_POST, "destinations/{id}/test", false, destination_test),
	ONE(ADMIN_POST, "destinations/{id}/disable", false, destination_disable),
	LIST("routes", false, 0, ADMIN_KEY_UUID2, routes_list),
	ONE(ADMIN_POST, "routes", false, route_create),
	ONE(ADMIN_DELETE, "routes/{source_id}/{destination_id}", false, route_delete),
	LIST("conversions", false, AQ_SINCE | AQ_UNTIL | AQ_EVENT | AQ_SOURCE, ADMIN_KEY_INT,
	     conversions_list),
	LIST("deliveries", false, AQ_STATE | AQ_DESTINATION | AQ_SINCE | AQ_UNTIL, ADMIN_KEY_INT,
	     deliveries_list),
	ONE(ADMIN_GET, "deliveries/{id}", false, delivery_get),
	ONE(ADMIN_POST, "replay", false, replay),
	ONE(ADMIN_GET, "stats", false, stats),
};

const struct admin_route *admin_routes(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void admin_routes_print(FILE *f)
{
	enum { N = sizeof(routes) / sizeof(routes[0]) };
	char lines[N][160], *sorted[N], method[16];

	for (size_t i = 0; i < N; i++) {
		admin_methods_text(routes[i].method, method, sizeof(method));
		snprintf(lines[i], sizeof(lines[i]), "%s /v1/admin/%s", method, routes[i].path);
		sorted[i] = lines[i];
	}
	qsort(sorted, N, sizeof(sorted[0]), line_cmp);
	for (size_t i = 0; i < N; i++)
		fprintf(f, "%s\n", sorted[i]);
}

void http_admin_print_routes(FILE *f)
{
	admin_routes_print(f);
}
