/*
 * admin_core.c - what every admin query file uses (admin_int.h): `struct
 * params` collects bound parameters (text, integers formatted into its own
 * scratch space, binary bytea and arrays), rows_json() turns any result
 * into the JSON array the CLI prints, choosing each value's JSON type from
 * the column's type oid, and mutations go through tx_begin()/tx_end() so
 * that a failure at any step, the audit row included, rolls the whole
 * change back.  Also the lookups by name or id (admin.h).
 */
#include "store/admin.h"
#include "core/clock.h"
#include "store/adjustment_store.h"
#include "store/admin_breaker.h"
#include "store/admin_int.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- parameters ------------------------------------------------------------ */

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
void adm_p_text(struct params *p, const char *s)
{
	int i = p_slot(p);

	p->v[i] = s;
}

void adm_p_int64(struct params *p, int64_t v)
{
	int i = p_slot(p);

	snprintf(p->scratch[i], sizeof(p->scratch[i]), "%" PRId64, v);
	p->v[i] = p->scratch[i];
}

/* 0 means "no value" for ids and filters: binds NULL. */
void adm_p_int64_opt(struct params *p, int64_t v)
{
	if (v == 0)
		adm_p_text(p, NULL);
	else
		adm_p_int64(p, v);
}

void adm_p_time_opt(struct params *p, bool has, int64_t us)
{
	int i = p_slot(p);

	p->v[i] = NULL;
	if (has) {
		clock_format_utc(us, p->scratch[i], sizeof(p->scratch[i]));
		p->v[i] = p->scratch[i];
	}
}

void adm_p_bool(struct params *p, bool v)
{
	adm_p_text(p, v ? "true" : "false");
}

/* Binary parameter (bytea, arrays) of the given type oid; data may be
 * NULL for SQL NULL. */
void adm_p_binary(struct params *p, const void *data, int len, Oid type)
{
	int i = p_slot(p);

	p->v[i] = data;
	p->len[i] = len;
	p->fmt[i] = 1;
	p->type[i] = type;
}

PGresult *adm_p_exec(PGconn *conn, const char *sql, const struct params *p)
{
	static const struct params none;

	if (p == NULL)
		p = &none;
	return PQexecParams(conn, sql, p->n, p->type, p->v, p->len, p->fmt, 0);
}

/* ---- results ------------------------------------------------------------- */

/*
 * Like db_check, but with the server's primary message only ("duplicate key
 * value violates …") rather than libpq's multi-line "ERROR:  …" text.
 */
int adm_check(PGconn *conn, const PGresult *res, const char *what, struct err *e)
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
int adm_run(PGconn *conn, const char *sql, const struct params *p, const char *what, PGresult **out,
	    struct err *e)
{
	PGresult *res = adm_p_exec(conn, sql, p);
	int rc = adm_check(conn, res, what, e);

	if (rc != 0) {
		PQclear(res);
		return rc;
	}
	*out = res;
	return 0;
}

/* Run a statement whose rows are not needed; *count gets the number of
 * rows it affected when count is not NULL. */
int adm_run_cmd(PGconn *conn, const char *sql, const struct params *p, const char *what,
		int64_t *count, struct err *e)
{
	PGresult *res = NULL;
	int rc = adm_run(conn, sql, p, what, &res, e);

	if (rc == 0 && count)
		*count = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rc;
}

/* Add item under key; on failure item is freed.  false on failure (also
 * when item is NULL: its allocation failed). */
bool adm_add(cJSON *obj, const char *key, cJSON *item)
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

void adm_put(cJSON *obj, const char *key, cJSON *item, bool *ok)
{
	if (!*ok) {
		cJSON_Delete(item);
		return;
	}
	*ok = adm_add(obj, key, item);
}

void adm_put_str(cJSON *obj, const char *key, const char *s, bool *ok)
{
	adm_put(obj, key, s ? cJSON_CreateString(s) : cJSON_CreateNull(), ok);
}

void adm_put_num(cJSON *obj, const char *key, double v, bool *ok)
{
	adm_put(obj, key, cJSON_CreateNumber(v), ok);
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
		if (!adm_add(o, PQfname(res, c), value_json(res, row, c))) {
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
int adm_query_rows(PGconn *conn, const char *sql, const struct params *p, const char *what,
		   cJSON **out, struct err *e)
{
	PGresult *res = NULL;
	int rc = adm_run(conn, sql, p, what, &res, e);

	if (rc != 0)
		return rc;
	*out = rows_json(res);
	PQclear(res);
	if (*out == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* ---- transactions and audit ------------------------------------------------ */

int adm_tx_begin(PGconn *conn, struct err *e)
{
	return db_exec(conn, "BEGIN", e);
}

/* A consistent read-only view for multi-query reports. */
int adm_tx_begin_snapshot(PGconn *conn, struct err *e)
{
	return db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", e);
}

/* COMMIT when rc is 0, else ROLLBACK; returns the final result. */
int adm_tx_end(PGconn *conn, int rc, struct err *e)
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
	adm_p_text(&p, actor);
	adm_p_text(&p, action);
	adm_p_text(&p, text ? text : "{}");
	rc = adm_run_cmd(
		conn, "INSERT INTO audit_log (actor, action, details) VALUES ($1, $2, $3::jsonb)",
		&p, "could not write audit log", NULL, e);
	cJSON_free(text);
	return rc;
}

/* Write the audit row from details built with put_*(); frees details.
 * ok false (an allocation failed while building it) is ERR_NOMEM. */
int adm_audit(PGconn *conn, const char *actor, const char *action, cJSON *details, bool ok,
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

	adm_p_text(&p, ref);
	adm_p_text(&p, ref_is_id ? ref : NULL);
	/* An id match wins over a tenant whose name is the same digits. */
	rc = adm_run(conn,
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

	adm_p_text(&p, ref_is_id ? ref : NULL);
	adm_p_text(&p, ref);
	snprintf(msg, sizeof(msg), "could not look up %s", what);
	rc = adm_run(conn, sql, &p, msg, &res, e);
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
