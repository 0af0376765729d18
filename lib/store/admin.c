/*
 * admin.c - the admin queries (see admin.h).
 *
 * Two small tools keep the functions short: `struct params` collects bound
 * parameters (text, integers formatted into its own scratch space, binary
 * bytea and arrays), and rows_json() turns any result into the JSON array
 * the CLI prints, choosing each value's JSON type from the column's type
 * oid.  Mutations go through tx_begin()/tx_end() so that a failure at any
 * step, the audit row included, rolls the whole change back.
 */
#include "store/admin.h"
#include "core/clock.h"
#include "store/adjustment_store.h"
#include "store/admin_breaker.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Type oids of result columns (pg_type.dat). */
#define OID_BOOL	16
#define OID_INT8	20
#define OID_INT2	21
#define OID_INT4	23
#define OID_JSON	114
#define OID_TIMESTAMPTZ 1184
#define OID_JSONB	3802
#define OID_TEXTARRAY	1009
#define OID_INT8ARRAY	1016

#define MAX_PARAMS	8
#define SQLSTATE_UNIQUE "23505"

/* ---- parameters ------------------------------------------------------------ */

struct params {
	int n;
	const char *v[MAX_PARAMS];
	int len[MAX_PARAMS];
	int fmt[MAX_PARAMS];
	Oid type[MAX_PARAMS];
	char scratch[MAX_PARAMS][40];
};

static int p_slot(struct params *p)
{
	if (p->n >= MAX_PARAMS)
		abort(); /* a query written with too many parameters: a bug */
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->type[p->n] = 0;
	return p->n++;
}

/* Text parameter; NULL binds SQL NULL.  s must outlive the exec. */
static void p_text(struct params *p, const char *s)
{
	int i = p_slot(p);

	p->v[i] = s;
}

static void p_int64(struct params *p, int64_t v)
{
	int i = p_slot(p);

	snprintf(p->scratch[i], sizeof(p->scratch[i]), "%" PRId64, v);
	p->v[i] = p->scratch[i];
}

/* 0 means "no value" for ids and filters: binds NULL. */
static void p_int64_opt(struct params *p, int64_t v)
{
	if (v == 0)
		p_text(p, NULL);
	else
		p_int64(p, v);
}

static void p_time_opt(struct params *p, bool has, int64_t us)
{
	int i = p_slot(p);

	p->v[i] = NULL;
	if (has) {
		clock_format_utc(us, p->scratch[i], sizeof(p->scratch[i]));
		p->v[i] = p->scratch[i];
	}
}

static void p_bool(struct params *p, bool v)
{
	p_text(p, v ? "true" : "false");
}

/* Binary parameter (bytea, arrays) of the given type oid; data may be
 * NULL for SQL NULL. */
static void p_binary(struct params *p, const void *data, int len, Oid type)
{
	int i = p_slot(p);

	p->v[i] = data;
	p->len[i] = len;
	p->fmt[i] = 1;
	p->type[i] = type;
}

static PGresult *p_exec(PGconn *conn, const char *sql, const struct params *p)
{
	return PQexecParams(conn, sql, p->n, p->type, p->v, p->len, p->fmt, 0);
}

/* ---- results ------------------------------------------------------------- */

/*
 * Like db_check, but with the server's primary message only ("duplicate key
 * value violates …") rather than libpq's multi-line "ERROR:  …" text.
 */
static int check(PGconn *conn, const PGresult *res, const char *what, struct err *e)
{
	const char *primary;
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (primary == NULL || db_is_broken(conn))
		return db_check(conn, res, what, e);
	return err_set(e, ERR_DB, "%s: %s", what, primary);
}

/* Run a statement; on success *out owns the result (PQclear). */
static int run(PGconn *conn, const char *sql, const struct params *p, const char *what,
	       PGresult **out, struct err *e)
{
	PGresult *res = p_exec(conn, sql, p);
	int rc = check(conn, res, what, e);

	if (rc != 0) {
		PQclear(res);
		return rc;
	}
	*out = res;
	return 0;
}

/* Run a statement whose rows are not needed; *count gets the number of
 * rows it affected when count is not NULL. */
static int run_cmd(PGconn *conn, const char *sql, const struct params *p, const char *what,
		   int64_t *count, struct err *e)
{
	PGresult *res = NULL;
	int rc = run(conn, sql, p, what, &res, e);

	if (rc == 0 && count)
		*count = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rc;
}

/* Add item under key; on failure item is freed.  false on failure (also
 * when item is NULL: its allocation failed). */
static bool add(cJSON *obj, const char *key, cJSON *item)
{
	if (item == NULL || obj == NULL) {
		cJSON_Delete(item);
		return false;
	}
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static void put(cJSON *obj, const char *key, cJSON *item, bool *ok)
{
	if (!*ok) {
		cJSON_Delete(item);
		return;
	}
	*ok = add(obj, key, item);
}

static void put_str(cJSON *obj, const char *key, const char *s, bool *ok)
{
	put(obj, key, s ? cJSON_CreateString(s) : cJSON_CreateNull(), ok);
}

static void put_num(cJSON *obj, const char *key, double v, bool *ok)
{
	put(obj, key, cJSON_CreateNumber(v), ok);
}

/* "2026-11-27 10:00:00.5+00" (ISO DateStyle, TimeZone UTC) → RFC 3339
 * "2026-11-27T10:00:00.5Z"; anything else ("infinity") as is. */
static cJSON *timestamp_json(const char *v)
{
	char out[64];
	size_t n = strlen(v);

	if (n < 20 || n >= sizeof(out) || v[10] != ' ' || strcmp(v + n - 3, "+00") != 0)
		return cJSON_CreateString(v);
	memcpy(out, v, n - 3);
	out[10] = 'T';
	out[n - 3] = 'Z';
	out[n - 2] = '\0';
	return cJSON_CreateString(out);
}

static cJSON *value_json(const PGresult *res, int row, int col)
{
	const char *v;

	if (PQgetisnull(res, row, col))
		return cJSON_CreateNull();
	v = PQgetvalue(res, row, col);
	switch (PQftype(res, col)) {
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
		return cJSON_CreateNumber((double)strtoll(v, NULL, 10));
	case OID_BOOL:
		return cJSON_CreateBool(v[0] == 't');
	case OID_JSON:
	case OID_JSONB: {
		cJSON *j = cJSON_Parse(v);

		return j ? j : cJSON_CreateString(v);
	}
	case OID_TIMESTAMPTZ:
		return timestamp_json(v);
	default: /* text, uuid, numeric (money stays a decimal string) */
		return cJSON_CreateString(v);
	}
}

static cJSON *row_json(const PGresult *res, int row)
{
	cJSON *o = cJSON_CreateObject();

	for (int c = 0; o && c < PQnfields(res); c++) {
		if (!add(o, PQfname(res, c), value_json(res, row, c))) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

static cJSON *rows_json(const PGresult *res)
{
	cJSON *a = cJSON_CreateArray();

	for (int r = 0; a && r < PQntuples(res); r++) {
		cJSON *o = row_json(res, r);

		if (o == NULL || !cJSON_AddItemToArray(a, o)) {
			cJSON_Delete(o);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

/* Run a query and return its rows as a JSON array (*out, caller frees). */
static int query_rows(PGconn *conn, const char *sql, const struct params *p, const char *what,
		      cJSON **out, struct err *e)
{
	PGresult *res = NULL;
	int rc = run(conn, sql, p, what, &res, e);

	if (rc != 0)
		return rc;
	*out = rows_json(res);
	PQclear(res);
	if (*out == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* ---- transactions and audit ------------------------------------------------ */

static int tx_begin(PGconn *conn, struct err *e)
{
	return db_exec(conn, "BEGIN", e);
}

/* A consistent read-only view for multi-query reports. */
static int tx_begin_snapshot(PGconn *conn, struct err *e)
{
	return db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", e);
}

/* COMMIT when rc is 0, else ROLLBACK; returns the final result. */
static int tx_end(PGconn *conn, int rc, struct err *e)
{
	PGresult *res;

	if (rc == 0)
		return db_exec(conn, "COMMIT", e);
	res = PQexec(conn, "ROLLBACK");
	PQclear(res);
	return rc;
}

int admin_session_setup(PGconn *conn, struct err *e)
{
	/* client_min_messages: the CLI's stderr is for its own messages, not
	 * "relation … already exists, skipping" notices. */
	return db_exec(conn,
		       "SET TimeZone = 'UTC'; SET DateStyle = 'ISO';"
		       " SET client_min_messages = 'warning'",
		       e);
}

int admin_audit_write(PGconn *conn, const char *actor, const char *action, const cJSON *details,
		      struct err *e)
{
	struct params p = { 0 };
	char *text = details ? cJSON_PrintUnformatted(details) : NULL;
	int rc;

	if (details && text == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	p_text(&p, actor);
	p_text(&p, action);
	p_text(&p, text ? text : "{}");
	rc = run_cmd(conn,
		     "INSERT INTO audit_log (actor, action, details) VALUES ($1, $2, $3::jsonb)",
		     &p, "could not write audit log", NULL, e);
	cJSON_free(text);
	return rc;
}

/* Write the audit row from details built with put_*(); frees details.
 * ok false (an allocation failed while building it) is ERR_NOMEM. */
static int audit(PGconn *conn, const char *actor, const char *action, cJSON *details, bool ok,
		 struct err *e)
{
	int rc;

	if (details == NULL || !ok)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = admin_audit_write(conn, actor, action, details, e);
	cJSON_Delete(details);
	return rc;
}

/* ---- lookups ---------------------------------------------------------------- */

int admin_tenant_find(PGconn *conn, const char *ref, bool ref_is_id, int64_t *id, struct err *e)
{
	struct params p = { 0 };
	PGresult *res = NULL;
	int rc;

	p_text(&p, ref);
	p_text(&p, ref_is_id ? ref : NULL);
	/* An id match wins over a tenant whose name is the same digits. */
	rc = run(conn,
		 "SELECT id FROM tenants WHERE name = $1 OR id = $2::bigint"
		 " ORDER BY (id = $2::bigint) IS TRUE DESC LIMIT 1",
		 &p, "could not look up tenant", &res, e);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 0) {
		rc = ref_is_id ? err_set(e, ERR_NOTFOUND, "no tenant with id %s or named \"%s\"",
					 ref, ref)
			       : err_set(e, ERR_NOTFOUND, "no tenant named \"%s\"", ref);
	} else {
		*id = db_get_int64(res, 0, 0);
	}
	PQclear(res);
	return rc;
}

static const char source_find_sql[] = "SELECT o.id, o.tenant_id, t.name, o.kind, o.name, o.enabled"
				      " FROM sources o JOIN tenants t ON t.id = o.tenant_id"
				      " WHERE o.id = $1::uuid OR o.name = $2"
				      " ORDER BY (o.id = $1::uuid) IS TRUE DESC, t.name LIMIT 3";
static const char destination_find_sql[] =
	"SELECT o.id, o.tenant_id, t.name, o.kind, o.name, o.enabled"
	" FROM destinations o JOIN tenants t ON t.id = o.tenant_id"
	" WHERE o.id = $1::uuid OR o.name = $2"
	" ORDER BY (o.id = $1::uuid) IS TRUE DESC, t.name LIMIT 3";

static void obj_from_row(const PGresult *res, int row, struct admin_obj *o)
{
	snprintf(o->id, sizeof(o->id), "%s", PQgetvalue(res, row, 0));
	o->tenant_id = db_get_int64(res, row, 1);
	snprintf(o->tenant_name, sizeof(o->tenant_name), "%s", PQgetvalue(res, row, 2));
	snprintf(o->kind, sizeof(o->kind), "%s", PQgetvalue(res, row, 3));
	snprintf(o->name, sizeof(o->name), "%s", PQgetvalue(res, row, 4));
	o->enabled = PQgetvalue(res, row, 5)[0] == 't';
}

/* Shared by sources and destinations: by uuid first, else by a name that
 * must be unique across tenants. */
static int obj_find(PGconn *conn, const char *sql, const char *what, const char *ref,
		    bool ref_is_id, struct admin_obj *out, struct err *e)
{
	struct params p = { 0 };
	PGresult *res = NULL;
	char msg[64];
	int rc;

	p_text(&p, ref_is_id ? ref : NULL);
	p_text(&p, ref);
	snprintf(msg, sizeof(msg), "could not look up %s", what);
	rc = run(conn, sql, &p, msg, &res, e);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 0) {
		rc = ref_is_id ? err_set(e, ERR_NOTFOUND, "no %s with id %s", what, ref)
			       : err_set(e, ERR_NOTFOUND, "no %s named \"%s\"", what, ref);
	} else if (PQntuples(res) > 1 &&
		   !(ref_is_id && strcasecmp(PQgetvalue(res, 0, 0), ref) == 0)) {
		rc = err_set(
			e, ERR_CONFLICT,
			"%s name \"%s\" is ambiguous (tenants \"%s\" and \"%s\" both have one): "
			"use its id",
			what, ref, PQgetvalue(res, 0, 2), PQgetvalue(res, 1, 2));
	} else {
		obj_from_row(res, 0, out);
	}
	PQclear(res);
	return rc;
}

int admin_source_find(PGconn *conn, const char *ref, bool ref_is_id, struct admin_obj *out,
		      struct err *e)
{
	return obj_find(conn, source_find_sql, "source", ref, ref_is_id, out, e);
}

int admin_destination_find(PGconn *conn, const char *ref, bool ref_is_id, struct admin_obj *out,
			   struct err *e)
{
	return obj_find(conn, destination_find_sql, "destination", ref, ref_is_id, out, e);
}

/* ---- tenants ------------------------------------------------------------------ */

static int tenant_insert(PGconn *conn, const char *name, const char *plan, const int64_t *quota,
			 int64_t *id, struct err *e)
{
	struct params p = { 0 };
	PGresult *res;
	int rc;

	p_text(&p, name);
	p_text(&p, plan);
	if (quota)
		p_int64(&p, *quota);
	else
		p_text(&p, NULL);
	res = p_exec(conn,
		     "INSERT INTO tenants (name, plan, monthly_quota) VALUES ($1, $2, $3::bigint)"
		     " RETURNING id",
		     &p);
	if (strcmp(db_sqlstate(res), SQLSTATE_UNIQUE) == 0)
		rc = err_set(e, ERR_CONFLICT, "tenant \"%s\" already exists", name);
	else
		rc = check(conn, res, "could not add tenant", e);
	if (rc == 0)
		*id = db_get_int64(res, 0, 0);
	PQclear(res);
	return rc;
}

int admin_tenant_add(PGconn *conn, const char *actor, const char *name, const char *plan,
		     const int64_t *quota, int64_t *id, struct err *e)
{
	cJSON *d;
	bool ok = true;
	int rc;

	rc = tx_begin(conn, e);
	if (rc != 0)
		return rc;
	rc = tenant_insert(conn, name, plan, quota, id, e);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	put_num(d, "id", (double)*id, &ok);
	put_str(d, "name", name, &ok);
	put_str(d, "plan", plan, &ok);
	put(d, "monthly_quota", quota ? cJSON_CreateNumber((double)*quota) : cJSON_CreateNull(),
	    &ok);
	rc = audit(conn, actor, "tenant.add", d, ok, e);
out:
	return tx_end(conn, rc, e);
}

int admin_tenant_list(PGconn *conn, cJSON **out, struct err *e)
{
	struct params p = { 0 };

	return query_rows(conn,
			  "SELECT t.id, t.name, t.plan, t.plan_status, t.monthly_quota,"
			  " (SELECT count(*) FROM sources s WHERE s.tenant_id = t.id) AS sources,"
			  " (SELECT count(*) FROM destinations x WHERE x.tenant_id = t.id)"
			  " AS destinations, t.created_at"
			  " FROM tenants t ORDER BY t.id",
			  &p, "could not list tenants", out, e);
}

/* ---- sources -------------------------------------------------------------------- */

int admin_source_add(PGconn *conn, const char *actor, const struct admin_source_new *s,
		     struct err *e)
{
	struct params p = { 0 };
	PGresult *res = NULL;
	cJSON *d;
	bool ok = true;
	int rc;

	rc = tx_begin(conn, e);
	if (rc != 0)
		return rc;
	p_text(&p, s->id);
	p_int64(&p, s->tenant_id);
	p_text(&p, s->kind);
	p_text(&p, s->name);
	p_binary(&p, s->sealed, (int)s->sealed_len, PGOID_BYTEA);
	p_text(&p, s->settings_json ? s->settings_json : "{}");
	p_binary(&p, s->sealed_rest, (int)s->sealed_rest_len, PGOID_BYTEA);
	res = p_exec(conn,
		     "INSERT INTO sources (id, tenant_id, kind, name, secret, settings,"
		     " rest_credentials) VALUES ($1::uuid, $2::bigint, $3, $4, $5, $6::jsonb, $7)",
		     &p);
	if (strcmp(db_sqlstate(res), SQLSTATE_UNIQUE) == 0)
		rc = err_set(e, ERR_CONFLICT, "the tenant already has a source named \"%s\"",
			     s->name);
	else
		rc = check(conn, res, "could not add source", e);
	PQclear(res);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	put_str(d, "id", s->id, &ok);
	put_num(d, "tenant_id", (double)s->tenant_id, &ok);
	put_str(d, "kind", s->kind, &ok);
	put_str(d, "name", s->name, &ok);
	put_str(d, "settings", s->settings_json ? s->settings_json : "{}", &ok);
	rc = audit(conn, actor, "source.add", d, ok, e);
out:
	return tx_end(conn, rc, e);
}

int admin_source_list(PGconn *conn, int64_t tenant_id, cJSON **out, struct err *e)
{
	struct params p = { 0 };

	p_int64_opt(&p, tenant_id);
	return query_rows(conn,
			  "SELECT s.id, t.name AS tenant, s.tenant_id, s.kind, s.name, s.enabled,"
			  " s.created_at, s.updated_at"
			  " FROM sources s JOIN tenants t ON t.id = s.tenant_id"
			  " WHERE ($1::bigint IS NULL OR s.tenant_id = $1::bigint)"
			  " ORDER BY t.name, s.name",
			  &p, "could not list sources", out, e);
}

int admin_source_set_enabled(PGconn *conn, const char *actor, const char *id, bool enabled,
			     struct err *e)
{
	struct params p = { 0 };
	int64_t n = 0;
	cJSON *d;
	bool ok = true;
	int rc;

	rc = tx_begin(conn, e);
	if (rc != 0)
		return rc;
	p_text(&p, id);
	p_bool(&p, enabled);
	rc = run_cmd(conn,
		     "UPDATE sources SET enabled = $2::boolean, updated_at = now()"
		     " WHERE id = $1::uuid",
		     &p, "could not update source", &n, e);
	if (rc == 0 && n == 0)
		rc = err_set(e, ERR_NOTFOUND, "no source with id %s", id);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	put_str(d, "id", id, &ok);
	rc = audit(conn, actor, enabled ? "source.enable" : "source.disable", d, ok, e);
out:
	return tx_end(conn, rc, e);
}

/* ---- destinations ------------------------------------------------------------- */

static int destination_insert(PGconn *conn, const struct admin_destination_new *x, struct err *e)
{
	struct params p = { 0 };
	PGresult *res;
	int rc;

	p_text(&p, x->id);
	p_int64(&p, x->tenant_id);
	p_text(&p, x->kind);
	p_text(&p, x->name);
	p_binary(&p, x->sealed, (int)x->sealed_len, PGOID_BYTEA);
	p_text(&p, x->settings_json);
	p_bool(&p, x->test_mode);
	res = p_exec(conn,
		     "INSERT INTO destinations"
		     " (id, tenant_id, kind, name, credentials, settings, test_mode)"
		     " VALUES ($1::uuid, $2::bigint, $3, $4, $5, $6::jsonb, $7::boolean)",
		     &p);
	if (strcmp(db_sqlstate(res), SQLSTATE_UNIQUE) == 0)
		rc = err_set(e, ERR_CONFLICT, "the tenant already has a destination named \"%s\"",
			     x->name);
	else
		rc = check(conn, res, "could not add destination", e);
	PQclear(res);
	return rc;
}

int admin_destination_add(PGconn *conn, const char *actor, const struct admin_destination_new *x,
			  struct err *e)
{
	cJSON *d;
	bool ok = true;
	int rc;

	rc = tx_begin(conn, e);
	if (rc != 0)
		return rc;
	rc = destination_insert(conn, x, e);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	put_str(d, "id", x->id, &ok);
	put_num(d, "tenant_id", (double)x->tenant_id, &ok);
	put_str(d, "kind", x->kind, &ok);
	put_str(d, "name", x->name, &ok);
	put(d, "settings", cJSON_Parse(x->settings_json), &ok);
	put(d, "test_mode", cJSON_CreateBool(x->test_mode), &ok);
	rc = audit(conn, actor, "destination.add", d, ok, e);
out:
	return tx_end(conn, rc, e);
}

int admin_destination_list(PGconn *conn, int64_t tenant_id, cJSON **out, struct err *e)
{
	struct params p = { 0 };

	p_int64_opt(&p, tenant_id);
	return query_rows(conn,
			  "SELECT x.id, t.name AS tenant, x.tenant_id, x.kind, x.name, x.enabled,"
			  " x.paused_reason, x.test_mode, x.settings, x.created_at, x.updated_at"
			  " FROM destinations x JOIN tenants t ON t.id = x.tenant_id"
			  " WHERE ($1::bigint IS NULL OR x.tenant_id = $1::bigint)"
			  " ORDER BY t.name, x.name",
			  &p, "could not list destinations", out, e);
}

/* Set enabled/paused_reason; ERR_NOTFOUND when there is no such row. */
static int destination_set_enabled(PGconn *conn, const char *id, bool enabled, const char *reason,
				   struct err *e)
{
	struct params p = { 0 };
	int64_t n = 0;
	int rc;

	p_text(&p, id);
	p_bool(&p, enabled);
	p_text(&p, reason);
	rc = run_cmd(conn,
		     "UPDATE destinations SET enabled = $2::boolean, paused_reason = $3,"
		     " updated_at = now() WHERE id = $1::uuid",
		     &p, "could not update destination", &n, e);
	if (rc == 0 && n == 0)
		rc = err_set(e, ERR_NOTFOUND, "no destination with id %s", id);
	return rc;
}

int admin_destination_pause(PGconn *conn, const char *actor, const char *id, const char *reason,
			    int64_t *held, struct err *e)
{
	struct params p = { 0 };
	cJSON *d;
	bool ok = true;
	int rc;

	*held = 0;
	rc = tx_begin(conn, e);
	if (rc != 0)
		return rc;
	rc = destination_set_enabled(conn, id, false, reason, e);
	if (rc != 0)
		goto out;
	p_text(&p, id);
	rc = run_cmd(conn,
		     "UPDATE deliveries SET state = 'held', updated_at = now()"
		     " WHERE destination_id = $1::uuid AND state = 'pending'",
		     &p, "could not hold deliveries", held, e);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	put_str(d, "id", id, &ok);
	put_str(d, "reason", reason, &ok);
	put_num(d, "held", (double)*held, &ok);
	rc = audit(conn, actor, "destination.pause", d, ok, e);
out:
	return tx_end(conn, rc, e);
}

int admin_destination_resume_in_tx(PGconn *conn, const char *actor, const char *id,
				   int64_t *released, struct err *e)
{
	struct params p = { 0 };
	cJSON *d;
	bool ok = true;
	int rc;

	*released = 0;
	rc = destination_set_enabled(conn, id, true, NULL, e);
	if (rc != 0)
		return rc;
	p_text(&p, id);
	rc = run_cmd(conn,
		     "UPDATE deliveries SET state = 'pending', next_attempt_at = now(),"
		     " updated_at = now() WHERE destination_id = $1::uuid AND state = 'held'",
		     &p, "could not release deliveries", released, e);
	if (rc != 0)
		return rc;
	d = cJSON_CreateObject();
	put_str(d, "id", id, &ok);
	put_num(d, "released", (double)*released, &ok);
	rc = audit(conn, actor, "destination.resume", d, ok, e);
	/* Delivered to the workers' LISTEN at COMMIT, not before. */
	if (rc == 0)
		rc = db_exec(conn, "NOTIFY adseng_deliveries", e);
	return rc;
}

int admin_destination_resume(PGconn *conn, const char *actor, const char *id, int64_t *released,
			     struct err *e)
{
	int rc;

	*released = 0;
	rc = tx_begin(conn, e);
	if (rc != 0)
		return rc;
	rc = admin_destination_resume_in_tx(conn, actor, id, released, e);
	return tx_end(conn, rc, e);
}

/* ---- routes ---------------------------------------------------------------------- */

static int route_upsert(PGconn *conn, const char *source_id, const char *dest_id,
			const char *const *events, int n_events, bool *created, struct err *e)
{
	struct params p = { 0 };
	struct pgarr arr;
	const char *data = NULL;
	PGresult *res = NULL;
	int len = 0, rc;

	pgarr_init(&arr, PGOID_TEXT);
	for (int i = 0; i < n_events; i++)
		pgarr_add_text(&arr, events[i]);
	if (events && n_events > 0)
		data = pgarr_finish(&arr, &len);
	p_text(&p, source_id);
	p_text(&p, dest_id);
	p_binary(&p, data, len, OID_TEXTARRAY);
	rc = run(conn,
		 "INSERT INTO routes (source_id, destination_id, events)"
		 " VALUES ($1::uuid, $2::uuid, $3)"
		 " ON CONFLICT (source_id, destination_id) DO UPDATE SET events = EXCLUDED.events"
		 " RETURNING (xmax = 0) AS created",
		 &p, "could not add route", &res, e);
	if (rc == 0)
		*created = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	pgarr_cleanup(&arr);
	return rc;
}

int admin_route_add(PGconn *conn, const char *actor, const char *source_id, const char *dest_id,
		    const char *const *events, int n_events, bool *created, struct err *e)
{
	cJSON *d, *ev = NULL;
	bool ok = true;
	int rc;

	rc = tx_begin(conn, e);
	if (rc != 0)
		return rc;
	rc = route_upsert(conn, source_id, dest_id, events, n_events, created, e);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	put_str(d, "source_id", source_id, &ok);
	put_str(d, "destination_id", dest_id, &ok);
	if (events && n_events > 0)
		ev = cJSON_CreateStringArray(events, n_events);
	put(d, "events", ev ? ev : cJSON_CreateNull(), &ok);
	put(d, "created", cJSON_CreateBool(*created), &ok);
	rc = audit(conn, actor, "route.add", d, ok, e);
out:
	return tx_end(conn, rc, e);
}

int admin_route_list(PGconn *conn, int64_t tenant_id, cJSON **out, struct err *e)
{
	struct params p = { 0 };

	p_int64_opt(&p, tenant_id);
	return query_rows(conn,
			  "SELECT t.name AS tenant, r.source_id, s.name AS source,"
			  " r.destination_id, x.name AS destination, to_json(r.events) AS events,"
			  " r.created_at"
			  " FROM routes r JOIN sources s ON s.id = r.source_id"
			  " JOIN destinations x ON x.id = r.destination_id"
			  " JOIN tenants t ON t.id = s.tenant_id"
			  " WHERE ($1::bigint IS NULL OR s.tenant_id = $1::bigint)"
			  " ORDER BY t.name, s.name, x.name",
			  &p, "could not list routes", out, e);
}

/* ---- deliveries ------------------------------------------------------------------ */

int admin_deliveries_list(PGconn *conn, const struct admin_delivery_filter *f, cJSON **out,
			  struct err *e)
{
	struct params p = { 0 };

	p_text(&p, f->state);
	p_text(&p, f->destination_id);
	p_int64_opt(&p, f->tenant_id);
	p_time_opt(&p, f->has_since, f->since_us);
	p_int64(&p, f->limit);
	return query_rows(
		conn,
		"SELECT d.id, d.state, d.attempts, x.name AS destination, c.event, c.event_id,"
		" d.next_attempt_at, d.last_status, d.last_error, d.updated_at,"
		" d.destination_id, d.conversion_id"
		" FROM deliveries d JOIN destinations x ON x.id = d.destination_id"
		" JOIN conversions c ON c.id = d.conversion_id"
		" WHERE ($1::text IS NULL OR d.state = $1::text)"
		" AND ($2::uuid IS NULL OR d.destination_id = $2::uuid)"
		" AND ($3::bigint IS NULL OR d.tenant_id = $3::bigint)"
		" AND ($4::timestamptz IS NULL OR d.updated_at >= $4::timestamptz)"
		" ORDER BY d.id DESC LIMIT $5::bigint",
		&p, "could not list deliveries", out, e);
}

/* The first row of a query as an object, or JSON null when there is none. */
static int query_one(PGconn *conn, const char *sql, const struct params *p, const char *what,
		     cJSON **out, struct err *e)
{
	cJSON *rows = NULL, *first;
	int rc = query_rows(conn, sql, p, what, &rows, e);

	if (rc != 0)
		return rc;
	first = cJSON_DetachItemFromArray(rows, 0);
	cJSON_Delete(rows);
	*out = first ? first : cJSON_CreateNull();
	if (*out == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static const char show_delivery_sql[] =
	"SELECT d.id, d.state, d.attempts, d.next_attempt_at, d.lease_until, d.last_status,"
	" d.platform_code, d.last_error, d.created_at, d.updated_at, d.delivered_at,"
	" d.conversion_id, d.destination_id, d.tenant_id, d.request_id"
	" FROM deliveries d WHERE d.id = $1::bigint";
/* The platform's later report on the request that carried it (Data
 * Manager requestStatus, sql/0006); null when there is none. */
static const char show_request_sql[] =
	"SELECT p.request_id, p.status, p.summary, p.events, p.sent_at, p.checked_at, p.polls,"
	" p.next_poll_at FROM deliveries d JOIN platform_requests p"
	" ON p.destination_id = d.destination_id AND p.request_id = d.request_id"
	" WHERE d.id = $1::bigint";
static const char show_conversion_sql[] =
	"SELECT c.id, c.event, c.event_id, c.occurred_at, c.value, c.currency, c.order_id,"
	" c.source_id, s.name AS source, c.raw_event_id, c.created_at, c.payload"
	" FROM deliveries d JOIN conversions c ON c.id = d.conversion_id"
	" LEFT JOIN sources s ON s.id = c.source_id WHERE d.id = $1::bigint";
static const char show_destination_sql[] =
	"SELECT x.id, x.name, x.kind, t.name AS tenant, x.enabled, x.paused_reason,"
	" x.test_mode, x.settings"
	" FROM deliveries d JOIN destinations x ON x.id = d.destination_id"
	" JOIN tenants t ON t.id = x.tenant_id WHERE d.id = $1::bigint";
static const char show_attempts_sql[] =
	"SELECT a.at, a.outcome, a.http_status, a.platform_code, a.latency_ms, a.error"
	" FROM delivery_attempts a WHERE a.delivery_id = $1::bigint ORDER BY a.at";

static int delivery_show_tx(PGconn *conn, int64_t id, cJSON *o, struct err *e)
{
	static const struct {
		const char *key, *sql, *what;
		bool many;
	} parts[] = {
		{ "delivery", show_delivery_sql, "could not read delivery", false },
		{ "conversion", show_conversion_sql, "could not read conversion", false },
		{ "destination", show_destination_sql, "could not read destination", false },
		{ "attempts", show_attempts_sql, "could not read delivery attempts", true },
		{ "platform_request", show_request_sql, "could not read the platform request",
		  false },
	};
	struct params p = { 0 };
	int rc = 0;

	p_int64(&p, id);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && rc == 0; i++) {
		cJSON *v = NULL;

		if (parts[i].many)
			rc = query_rows(conn, parts[i].sql, &p, parts[i].what, &v, e);
		else
			rc = query_one(conn, parts[i].sql, &p, parts[i].what, &v, e);
		if (rc == 0 && i == 0 && cJSON_IsNull(v))
			rc = err_set(e, ERR_NOTFOUND, "no delivery with id %" PRId64, id);
		if (rc == 0 && strcmp(parts[i].key, "destination") == 0)
			rc = admin_breaker_annotate(conn, v, e);
		if (rc == 0 && !add(o, parts[i].key, v))
			rc = err_set(e, ERR_NOMEM, "out of memory");
		else if (rc != 0)
			cJSON_Delete(v);
	}
	return rc;
}

int admin_delivery_show(PGconn *conn, int64_t id, cJSON **out, struct err *e)
{
	cJSON *o = cJSON_CreateObject();
	int rc;

	if (o == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = tx_begin_snapshot(conn, e);
	if (rc != 0)
		goto out;
	rc = delivery_show_tx(conn, id, o, e);
	/* Read only: ending it either way changes nothing. */
	rc = tx_end(conn, rc, e);
out:
	if (rc == 0)
		*out = o;
	else
		cJSON_Delete(o);
	return rc;
}

/* ---- replay ------------------------------------------------------------------- */

/*
 * The filter every replay query shares, over deliveries d and the six
 * parameters bound by replay_params().  The state list can only name
 * failed, dead and held: pending, in_flight and delivered rows never match.
 */
#define REPLAY_MATCH                                                                               \
	"d.state = ANY ($1::text[])"                                                               \
	" AND ($2::uuid IS NULL OR d.destination_id = $2::uuid)"                                   \
	" AND ($3::bigint IS NULL OR d.tenant_id = $3::bigint)"                                    \
	" AND ($4::timestamptz IS NULL OR d.updated_at >= $4::timestamptz)"                        \
	" AND ($5::timestamptz IS NULL OR d.updated_at < $5::timestamptz)"                         \
	" AND ($6::bigint[] IS NULL OR d.id = ANY ($6::bigint[]))"

static const char replay_ids_sql[] =
	"SELECT r.id, d.state, coalesce(" REPLAY_MATCH ", false) AS selected"
	" FROM unnest($6::bigint[]) WITH ORDINALITY AS r (id, ord)"
	" LEFT JOIN deliveries d ON d.id = r.id ORDER BY r.ord";

static const char replay_update_sql[] =
	"WITH c AS (SELECT d.id, d.state, d.destination_id FROM deliveries d"
	" WHERE " REPLAY_MATCH " FOR UPDATE OF d),"
	" u AS (UPDATE deliveries d SET state = 'pending', attempts = 0,"
	" next_attempt_at = now(), lease_until = NULL, updated_at = now()"
	" FROM c WHERE d.id = c.id RETURNING c.destination_id, c.state)"
	" SELECT u.destination_id, x.name AS destination, NOT x.enabled AS paused, u.state,"
	" count(*) AS count FROM u JOIN destinations x ON x.id = u.destination_id"
	" GROUP BY u.destination_id, x.name, x.enabled, u.state"
	" ORDER BY x.name, u.destination_id, u.state";

static const char replay_groups_sql[] =
	"SELECT d.destination_id, x.name AS destination, NOT x.enabled AS paused, d.state,"
	" count(*) AS count FROM deliveries d JOIN destinations x ON x.id = d.destination_id"
	" WHERE " REPLAY_MATCH " GROUP BY d.destination_id, x.name, x.enabled, d.state"
	" ORDER BY x.name, d.destination_id, d.state";

static const char replay_sample_sql[] =
	"SELECT d.id, d.state, x.name AS destination, d.last_error"
	" FROM deliveries d JOIN destinations x ON x.id = d.destination_id"
	" WHERE " REPLAY_MATCH " ORDER BY d.id LIMIT 20"; /* the dry run's sample */

static const char *const replay_state_names[] = { "failed", "dead", "held" };

/* Bind the six REPLAY_MATCH parameters; the arrays must outlive the exec. */
static void replay_params(struct params *p, const struct admin_replay_filter *f,
			  struct pgarr *states, struct pgarr *ids)
{
	const char *data;
	int len = 0;

	for (size_t i = 0; i < 3; i++) {
		if (f->states & (1u << i))
			pgarr_add_text(states, replay_state_names[i]);
	}
	data = pgarr_finish(states, &len);
	p_binary(p, data, len, OID_TEXTARRAY);
	p_text(p, f->destination_id);
	p_int64_opt(p, f->tenant_id);
	p_time_opt(p, f->has_since, f->since_us);
	p_time_opt(p, f->has_until, f->until_us);
	data = NULL;
	len = 0;
	if (f->ids) {
		for (size_t i = 0; i < f->n_ids; i++)
			pgarr_add_int8(ids, f->ids[i]);
		data = pgarr_finish(ids, &len);
	}
	p_binary(p, data, len, OID_INT8ARRAY);
}

static const char *replay_reason(const char *state, bool selected, bool dry_run)
{
	if (state == NULL)
		return "no such delivery";
	if (strcmp(state, "failed") != 0 && strcmp(state, "dead") != 0 &&
	    strcmp(state, "held") != 0)
		return "only failed, dead and held deliveries are replayed";
	if (!selected)
		return "excluded by the other filters (--state, --destination, --tenant, --since, "
		       "--until)";
	return dry_run ? "would be replayed" : "replayed";
}

/* One entry per requested id: what it is and whether it moves. */
static int replay_id_notes(PGconn *conn, const struct params *p, bool dry_run, cJSON *o,
			   struct err *e)
{
	PGresult *res = NULL;
	cJSON *arr = cJSON_CreateArray();
	bool ok = arr != NULL;
	int rc;

	rc = run(conn, replay_ids_sql, p, "could not look up deliveries", &res, e);
	for (int r = 0; rc == 0 && ok && r < PQntuples(res); r++) {
		cJSON *it = cJSON_CreateObject();
		const char *state = db_get_str(res, r, 1);
		bool sel = PQgetvalue(res, r, 2)[0] == 't';

		ok = it != NULL;
		put_num(it, "id", (double)db_get_int64(res, r, 0), &ok);
		put_str(it, "state", state, &ok);
		put(it, "replayed", cJSON_CreateBool(sel && !dry_run), &ok);
		put_str(it, "reason", replay_reason(state, sel, dry_run), &ok);
		if (!ok || !cJSON_AddItemToArray(arr, it)) {
			cJSON_Delete(it);
			ok = false;
		}
	}
	PQclear(res);
	if (rc != 0) {
		cJSON_Delete(arr);
		return rc;
	}
	put(o, "ids", arr, &ok);
	return ok ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* The (destination, state) groups: moved ones (real run) or matching ones
 * (dry run); adds "groups" and "count" to o. */
static int replay_groups(PGconn *conn, const struct params *p, bool dry_run, cJSON *o,
			 int64_t *count, struct err *e)
{
	cJSON *groups = NULL, *g;
	bool ok = true;
	int rc;

	rc = query_rows(conn, dry_run ? replay_groups_sql : replay_update_sql, p,
			dry_run ? "could not count deliveries" : "could not replay deliveries",
			&groups, e);
	if (rc != 0)
		return rc;
	*count = 0;
	cJSON_ArrayForEach (g, groups) {
		*count +=
			(int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "count"));
	}
	put(o, "groups", groups, &ok);
	put_num(o, "count", (double)*count, &ok);
	return ok ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static cJSON *replay_details(const struct admin_replay_filter *f, int64_t count)
{
	cJSON *d = cJSON_CreateObject(), *states = cJSON_CreateArray(), *ids = NULL;
	bool ok = d != NULL;

	for (size_t i = 0; states && i < 3; i++) {
		if ((f->states & (1u << i)) &&
		    !cJSON_AddItemToArray(states, cJSON_CreateString(replay_state_names[i])))
			ok = false;
	}
	put(d, "states", states, &ok);
	put_str(d, "destination_id", f->destination_id, &ok);
	put(d, "tenant_id",
	    f->tenant_id ? cJSON_CreateNumber((double)f->tenant_id) : cJSON_CreateNull(), &ok);
	for (int k = 0; k < 2; k++) {
		char ts[40];
		bool has = k == 0 ? f->has_since : f->has_until;

		clock_format_utc(k == 0 ? f->since_us : f->until_us, ts, sizeof(ts));
		put_str(d, k == 0 ? "since" : "until", has ? ts : NULL, &ok);
	}
	if (f->ids) {
		ids = cJSON_CreateArray();
		for (size_t i = 0; ids && i < f->n_ids; i++) {
			if (!cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)f->ids[i])))
				ok = false;
		}
	}
	put(d, "ids", f->ids ? ids : cJSON_CreateNull(), &ok);
	put_num(d, "count", (double)count, &ok);
	if (!ok) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

static int replay_tx(PGconn *conn, const char *actor, const struct admin_replay_filter *f,
		     bool dry_run, const struct params *p, cJSON *o, struct err *e)
{
	cJSON *sample = NULL;
	int64_t count = 0;
	bool ok = true;
	int rc = 0;

	if (f->ids)
		rc = replay_id_notes(conn, p, dry_run, o, e);
	if (rc == 0)
		rc = replay_groups(conn, p, dry_run, o, &count, e);
	if (rc != 0)
		return rc;
	if (dry_run) {
		rc = query_rows(conn, replay_sample_sql, p, "could not list deliveries", &sample,
				e);
		put(o, "sample", sample, &ok);
		return rc != 0 ? rc : ok ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	}
	rc = audit(conn, actor, "replay", replay_details(f, count), true, e);
	if (rc == 0 && count > 0)
		rc = db_exec(conn, "NOTIFY adseng_deliveries", e);
	return rc;
}

int admin_replay(PGconn *conn, const char *actor, const struct admin_replay_filter *f, bool dry_run,
		 cJSON **out, struct err *e)
{
	struct params p = { 0 };
	struct pgarr states, ids;
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;
	int rc;

	if (f->states == 0 || (f->states & ~7u)) {
		cJSON_Delete(o);
		return err_set(e, ERR_INVALID, "no replayable state selected");
	}
	pgarr_init(&states, PGOID_TEXT);
	pgarr_init(&ids, PGOID_INT8);
	replay_params(&p, f, &states, &ids);
	put(o, "dry_run", cJSON_CreateBool(dry_run), &ok);
	rc = ok ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	if (rc != 0)
		goto out;
	rc = dry_run ? tx_begin_snapshot(conn, e) : tx_begin(conn, e);
	if (rc != 0)
		goto out;
	rc = replay_tx(conn, actor, f, dry_run, &p, o, e);
	rc = tx_end(conn, rc, e);
out:
	pgarr_cleanup(&states);
	pgarr_cleanup(&ids);
	if (rc == 0)
		*out = o;
	else
		cJSON_Delete(o);
	return rc;
}

/* ---- stats ------------------------------------------------------------------------ */

static const char stats_destinations_sql[] =
	"SELECT x.id, x.name, x.kind, t.name AS tenant, x.enabled, x.paused_reason,"
	" count(d.id) FILTER (WHERE d.state = 'pending') AS pending,"
	" count(d.id) FILTER (WHERE d.state = 'in_flight') AS in_flight,"
	" count(d.id) FILTER (WHERE d.state = 'delivered') AS delivered,"
	" count(d.id) FILTER (WHERE d.state = 'failed') AS failed,"
	" count(d.id) FILTER (WHERE d.state = 'dead') AS dead,"
	" count(d.id) FILTER (WHERE d.state = 'held') AS held,"
	" count(d.id) FILTER (WHERE d.state = 'skipped') AS skipped,"
	" floor(extract(epoch FROM now() - min(d.created_at)"
	" FILTER (WHERE d.state = 'pending')))::bigint AS oldest_pending_s,"
	" floor(extract(epoch FROM now() - min(d.next_attempt_at)"
	" FILTER (WHERE d.state = 'pending' AND d.next_attempt_at <= now())))::bigint"
	" AS oldest_due_s,"
	/* Requests the platform reports on later (sql/0006). */
	" (SELECT count(*) FROM platform_requests p WHERE p.destination_id = x.id"
	"  AND p.next_poll_at IS NOT NULL) AS requests_processing,"
	" (SELECT count(*) FROM platform_requests p WHERE p.destination_id = x.id"
	"  AND p.status = 'SUCCESS') AS requests_success,"
	" (SELECT count(*) FROM platform_requests p WHERE p.destination_id = x.id"
	"  AND p.status = 'PARTIAL_SUCCESS') AS requests_partial,"
	" (SELECT count(*) FROM platform_requests p WHERE p.destination_id = x.id"
	"  AND p.status = 'FAILED') AS requests_failed,"
	/* Validation sampling's warnings (sql/0010: a partial index). */
	" (SELECT count(*) FROM delivery_attempts a JOIN deliveries w ON w.id = a.delivery_id"
	"  WHERE a.outcome = 'validation_warning' AND w.destination_id = x.id)"
	" AS validation_warnings"
	" FROM destinations x JOIN tenants t ON t.id = x.tenant_id"
	" LEFT JOIN deliveries d ON d.destination_id = x.id"
	" GROUP BY x.id, t.name ORDER BY t.name, x.name";

static const char stats_raw_sql[] =
	"SELECT count(*) FILTER (WHERE state = 'pending') AS pending,"
	" count(*) FILTER (WHERE state = 'done') AS done,"
	" count(*) FILTER (WHERE state = 'ignored') AS ignored,"
	" count(*) FILTER (WHERE state = 'error') AS error,"
	" floor(extract(epoch FROM now() - min(received_at)"
	" FILTER (WHERE state = 'pending')))::bigint AS oldest_pending_s"
	" FROM raw_event_status";

int admin_stats(PGconn *conn, cJSON **out, struct err *e)
{
	struct params p = { 0 };
	cJSON *o = cJSON_CreateObject(), *dests = NULL, *raw = NULL, *adj = NULL;
	bool ok = o != NULL;
	int rc;

	rc = tx_begin_snapshot(conn, e);
	if (rc == 0)
		rc = query_rows(conn, stats_destinations_sql, &p, "could not count deliveries",
				&dests, e);
	if (rc == 0)
		rc = admin_breaker_annotate(conn, dests, e);
	if (rc == 0)
		rc = query_one(conn, stats_raw_sql, &p, "could not count raw events", &raw, e);
	if (rc == 0)
		rc = adjustment_store_stats(conn, &adj, e);
	rc = tx_end(conn, rc, e);
	put(o, "destinations", dests, &ok);
	put(o, "raw_events", raw, &ok);
	put(o, "adjustments", adj, &ok);
	if (rc == 0 && !ok)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		*out = o;
	else
		cJSON_Delete(o);
	return rc;
}
