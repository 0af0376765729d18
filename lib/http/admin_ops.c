/*
 * admin_ops.c - the admin API's route table, the helpers its handlers
 * share (admin_ops.h), and the handlers of tenants and routes (sources and
 * destinations: admin_ops_catalog.c; conversions, deliveries, replay and
 * stats: admin_ops_activity.c).  One static
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
#include "http/admin_ops.h"
#include "http/server.h"
#include "core/clock.h"
#include "store/admin.h"
#include "store/admin_pages.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- answers ----------------------------------------------------------------------- */

/* A 422: the request is well formed but cannot be done. */
int aop_unprocessable(struct admin_job *job, struct err *e, const char *msg)
{
	char copy[sizeof(e->msg)];

	/* msg may be e->msg itself (a store error passed on). */
	snprintf(copy, sizeof(copy), "%s", msg);
	job->status = 422;
	return err_set(e, ERR_INVALID, "%s", copy);
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

int aop_list(PGconn *conn, const struct admin_job *job, aop_page_fn fn, cJSON **out, struct err *e)
{
	struct admin_page pg;
	cJSON *rows = NULL;
	bool more = false;
	int rc;

	aop_page_of(job, &pg);
	rc = fn(conn, &pg, &rows, &more, e);
	return rc == 0 ? aop_page_answer(job, rows, more, out, e) : rc;
}

/* {"items": rows, "next_cursor": …} with the last row's key when more
 * follow; takes rows. */
int aop_page_answer(const struct admin_job *job, cJSON *rows, bool more, cJSON **out, struct err *e)
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
void aop_page_of(const struct admin_job *job, struct admin_page *pg)
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
int aop_body_str(const struct admin_job *job, const char *field, bool required, size_t max,
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
int aop_body_uuid(const struct admin_job *job, const char *field, const char **out, struct err *e)
{
	int rc = aop_body_str(job, field, true, 36, out, e);

	if (rc == 0 && !admin_is_uuid(*out))
		return err_set(e, ERR_INVALID, "%s: an id (uuid)", field);
	return rc;
}

/* Fields a route does not know are refused, so a typo is not a no-op. */
int aop_body_only(const struct admin_job *job, const char *const *fields, struct err *e)
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

/* The one object id of kind the token may see, as its list row; 404
 * otherwise (missing or another tenant's: the same answer). */
int aop_get_one(PGconn *conn, const struct admin_job *job, aop_page_fn fn, const char *what,
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
int aop_own(PGconn *conn, const struct admin_job *job, aop_page_fn fn, const char *what,
	    const char *id, struct err *e)
{
	cJSON *row = NULL;
	int rc;

	int64_t n;

	if ((fn == admin_tenant_page && !admin_parse_id(id, &n)) ||
	    (fn != admin_tenant_page && !admin_is_uuid(id)))
		return err_set(e, ERR_NOTFOUND, "no %s %s", what, id);
	rc = aop_get_one(conn, job, fn, what, id, &row, e);
	cJSON_Delete(row);
	return rc;
}

/* The tenant a new object goes to: an agency token's own (a "tenant" in
 * the body is refused), an admin's from the body (required). */
int aop_body_tenant(PGconn *conn, struct admin_job *job, int64_t *tenant, struct err *e)
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
	rc = aop_own(conn, job, admin_tenant_page, "tenant", text, e);
	if (rc == ERR_NOTFOUND)
		return aop_unprocessable(job, e, "tenant: no such tenant");
	return rc;
}

/* ---- tenants ------------------------------------------------------------------------ */

static int tenants_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			struct err *e)
{
	(void)cfg;
	return aop_list(conn, job, admin_tenant_page, out, e);
}

static int tenant_get(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		      struct err *e)
{
	int64_t id;

	(void)cfg;
	if (!admin_parse_id(job->param[0], &id))
		return err_set(e, ERR_NOTFOUND, "no tenant %s", job->param[0]);
	return aop_get_one(conn, job, admin_tenant_page, "tenant", job->param[0], out, e);
}

static int tenant_create(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e)
{
	static const char *const fields[] = { "name", "plan", NULL };
	const char *name, *plan;
	char text[24];
	int64_t id = 0;
	int rc = aop_body_only(job, fields, e);

	(void)cfg;
	if (rc == 0)
		rc = aop_body_str(job, "name", true, 200, &name, e);
	if (rc == 0)
		rc = aop_body_str(job, "plan", false, 32, &plan, e);
	if (rc != 0)
		return rc;
	if (plan && !is_plan(plan))
		return aop_unprocessable(job, e, "plan: starter, professional or enterprise");
	rc = admin_tenant_add(conn, job->who.sub, name, plan ? plan : "starter", NULL, &id, e);
	if (rc != 0)
		return rc;
	snprintf(text, sizeof(text), "%" PRId64, id);
	job->status = 201;
	return aop_get_one(conn, job, admin_tenant_page, "tenant", text, out, e);
}

static int tenant_update(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e)
{
	static const char *const fields[] = { "name", "plan", NULL };
	const char *name = NULL, *plan = NULL;
	int64_t id, released = 0;
	int rc = aop_own(conn, job, admin_tenant_page, "tenant", job->param[0], e);

	if (rc == 0)
		rc = aop_body_only(job, fields, e);
	if (rc == 0)
		rc = aop_body_str(job, "name", false, 200, &name, e);
	if (rc == 0)
		rc = aop_body_str(job, "plan", false, 32, &plan, e);
	if (rc != 0)
		return rc;
	if (plan && !is_plan(plan))
		return aop_unprocessable(job, e, "plan: starter, professional or enterprise");
	if (name == NULL && plan == NULL)
		return err_set(e, ERR_INVALID, "name: give name and/or plan");
	(void)admin_parse_id(job->param[0], &id);
	rc = admin_tenant_update(conn, job->who.sub, id, name, plan, &cfg->plan_quotas, &released,
				 e);
	if (rc == 0)
		rc = tenant_get(conn, cfg, job, out, e);
	if (rc == 0 && plan && !cJSON_AddNumberToObject(*out, "released", (double)released))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	return rc;
}

static int tenant_disable(PGconn *conn, const struct config *cfg, struct admin_job *job,
			  cJSON **out, struct err *e)
{
	int64_t id, sources = 0;
	int rc = aop_own(conn, job, admin_tenant_page, "tenant", job->param[0], e);

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

/* ---- routes ------------------------------------------------------------------------ */

static int routes_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		       struct err *e)
{
	(void)cfg;
	return aop_list(conn, job, admin_route_page, out, e);
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
static int owner_of(PGconn *conn, const struct admin_job *job, aop_page_fn fn, const char *what,
		    const char *id, int64_t *tenant, struct err *e)
{
	const cJSON *t;
	cJSON *row = NULL;
	int rc = aop_get_one(conn, job, fn, what, id, &row, e);

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
	int rc = aop_body_only(job, fields, e);

	(void)cfg;
	if (rc == 0)
		rc = aop_body_uuid(job, "source_id", &src, e);
	if (rc == 0)
		rc = aop_body_uuid(job, "destination_id", &dst, e);
	if (rc == 0)
		rc = body_events(job, events, &n, e);
	if (rc == 0)
		rc = owner_of(conn, job, admin_source_page, "source", src, &ts, e);
	if (rc == 0)
		rc = owner_of(conn, job, admin_destination_page, "destination", dst, &td, e);
	if (rc == 0 && ts != td)
		rc = aop_unprocessable(job, e,
				       "destination_id: a destination of the source's tenant");
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
	rc = aop_own(conn, job, admin_source_page, "source", src, e);
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
	LIST("sources", false, 0, ADMIN_KEY_UUID, aop_sources_list),
	ONE(ADMIN_POST, "sources", false, aop_source_create),
	ONE(ADMIN_GET, "sources/{id}", false, aop_source_get),
	ONE(ADMIN_PATCH, "sources/{id}", false, aop_source_update),
	ONE(ADMIN_POST, "sources/{id}/disable", false, aop_source_disable),
	ONE(ADMIN_POST, "sources/{id}/enable", false, aop_source_enable),
	LIST("destinations", false, 0, ADMIN_KEY_UUID, aop_destinations_list),
	ONE(ADMIN_POST, "destinations", false, aop_destination_create),
	ONE(ADMIN_GET, "destinations/{id}", false, aop_destination_get),
	ONE(ADMIN_PATCH, "destinations/{id}", false, aop_destination_update),
	ONE(ADMIN_POST, "destinations/{id}/pause", false, aop_destination_pause),
	ONE(ADMIN_POST, "destinations/{id}/resume", false, aop_destination_resume),
	ONE(ADMIN_POST, "destinations/{id}/test", false, aop_destination_test),
	ONE(ADMIN_POST, "destinations/{id}/disable", false, aop_destination_disable),
	LIST("routes", false, 0, ADMIN_KEY_UUID2, routes_list),
	ONE(ADMIN_POST, "routes", false, route_create),
	ONE(ADMIN_DELETE, "routes/{source_id}/{destination_id}", false, route_delete),
	LIST("conversions", false, AQ_SINCE | AQ_UNTIL | AQ_EVENT | AQ_SOURCE, ADMIN_KEY_INT,
	     aop_conversions_list),
	LIST("deliveries", false, AQ_STATE | AQ_DESTINATION | AQ_SINCE | AQ_UNTIL, ADMIN_KEY_INT,
	     aop_deliveries_list),
	ONE(ADMIN_GET, "deliveries/{id}", false, aop_delivery_get),
	ONE(ADMIN_POST, "replay", false, aop_replay),
	ONE(ADMIN_GET, "stats", false, aop_stats),
	ONE(ADMIN_POST, "billing/checkout", false, aop_billing_checkout),
	ONE(ADMIN_POST, "billing/portal", false, aop_billing_portal),
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
