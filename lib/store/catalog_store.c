/*
 * catalog_store.c - SELECTs of sources and destinations.  Sealed columns
 * are fetched in binary so no bytea escaping is involved.
 */
#include "store/catalog_store.h"
#include "core/mem.h"
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *copy_bytes(const PGresult *res, int row, int col, size_t *len)
{
	size_t n;
	uint8_t *p;

	if (PQgetisnull(res, row, col)) {
		*len = 0;
		return NULL;
	}
	n = (size_t)PQgetlength(res, row, col);
	p = xmalloc(n ? n : 1);
	memcpy(p, PQgetvalue(res, row, col), n);
	*len = n;
	return p;
}

static int64_t get_be64(const PGresult *res, int row, int col)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(res, row, col);
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return (int64_t)v;
}

int catalog_load_sources(PGconn *conn, struct source_row **rows, size_t *n, struct err *e)
{
	/* Binary results: id::text, kind and settings::text are text (raw
	 * bytes), tenant_id int8 big-endian, enabled one byte, the sealed
	 * secrets raw bytea. */
	/* A previous secret whose overlap has ended is not even fetched; one
	 * still in its overlap comes with its end, which the daemon checks
	 * per request (nothing reloads the cache when the overlap ends). */
	PGresult *res = PQexecParams(
		conn,
		"SELECT id::text, tenant_id, kind, enabled, secret,"
		" CASE WHEN secret_previous_until IS NULL OR secret_previous_until > now()"
		" THEN secret_previous END, settings::text,"
		" (extract(epoch FROM secret_previous_until) * 1000000)::int8"
		" FROM sources ORDER BY id",
		0, NULL, NULL, NULL, NULL, 1);
	struct source_row *v = NULL;
	int rc = db_check(conn, res, "could not load sources", e);
	int nt;

	if (rc != 0)
		goto out;
	nt = PQntuples(res);
	v = xcalloc((size_t)(nt ? nt : 1), sizeof(*v));
	for (int i = 0; i < nt; i++) {
		snprintf(v[i].id, sizeof(v[i].id), "%.*s", PQgetlength(res, i, 0),
			 PQgetvalue(res, i, 0));
		v[i].tenant_id = get_be64(res, i, 1);
		snprintf(v[i].kind, sizeof(v[i].kind), "%.*s", PQgetlength(res, i, 2),
			 PQgetvalue(res, i, 2));
		v[i].enabled = PQgetvalue(res, i, 3)[0] != 0;
		v[i].secret = copy_bytes(res, i, 4, &v[i].secret_len);
		v[i].secret_previous = copy_bytes(res, i, 5, &v[i].secret_previous_len);
		v[i].settings_json = xstrdup(PQgetvalue(res, i, 6)); /* NOT NULL column */
		if (!PQgetisnull(res, i, 7))
			v[i].secret_previous_until_us = get_be64(res, i, 7);
	}
	*rows = v;
	*n = (size_t)nt;
out:
	PQclear(res);
	return rc;
}

void catalog_free_sources(struct source_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].secret);
		free(rows[i].secret_previous);
		free(rows[i].settings_json);
	}
	free(rows);
}

int catalog_load_destination(PGconn *conn, const char *id, struct dest_row *out, struct err *e)
{
	const char *params[1] = { id };
	PGresult *res = PQexecParams(conn,
				     "SELECT id::text, tenant_id, name, kind, enabled, test_mode, "
				     "settings::text, credentials FROM destinations WHERE id = $1",
				     1, NULL, params, NULL, NULL, 1);
	int rc = db_check(conn, res, "could not load destination", e);

	memset(out, 0, sizeof(*out));
	if (rc != 0)
		goto out;
	if (PQntuples(res) == 0) {
		rc = err_set(e, ERR_NOTFOUND, "no destination %s", id);
		goto out;
	}
	snprintf(out->id, sizeof(out->id), "%.*s", PQgetlength(res, 0, 0), PQgetvalue(res, 0, 0));
	out->tenant_id = get_be64(res, 0, 1);
	out->name = xstrndup(PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
	snprintf(out->kind, sizeof(out->kind), "%.*s", PQgetlength(res, 0, 3),
		 PQgetvalue(res, 0, 3));
	out->enabled = PQgetvalue(res, 0, 4)[0] != 0;
	out->test_mode = PQgetvalue(res, 0, 5)[0] != 0;
	out->settings_json = xstrndup(PQgetvalue(res, 0, 6), (size_t)PQgetlength(res, 0, 6));
	out->credentials = copy_bytes(res, 0, 7, &out->credentials_len);
out:
	PQclear(res);
	return rc;
}

void catalog_dest_row_cleanup(struct dest_row *r)
{
	free(r->name);
	free(r->settings_json);
	free(r->credentials);
	memset(r, 0, sizeof(*r));
}

int catalog_load_source_rest(PGconn *conn, const char *id, struct source_rest_row *out,
			     struct err *e)
{
	const char *params[1] = { id };
	/* Binary: settings::text as raw text, rest_credentials raw bytea. */
	PGresult *res = PQexecParams(conn,
				     "SELECT settings::text, rest_credentials, kind FROM sources "
				     "WHERE id = $1::uuid",
				     1, NULL, params, NULL, NULL, 1);
	int rc = db_check(conn, res, "could not load the source", e);

	memset(out, 0, sizeof(*out));
	if (rc != 0)
		goto out;
	if (PQntuples(res) != 1) {
		rc = err_set(e, ERR_NOTFOUND, "no source %s", id);
		goto out;
	}
	out->settings_json = xstrndup(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	out->sealed = copy_bytes(res, 0, 1, &out->sealed_len);
	snprintf(out->kind, sizeof(out->kind), "%.*s", PQgetlength(res, 0, 2),
		 PQgetvalue(res, 0, 2));
out:
	PQclear(res);
	return rc;
}

void catalog_source_rest_cleanup(struct source_rest_row *r)
{
	free(r->settings_json);
	free(r->sealed);
	memset(r, 0, sizeof(*r));
}

int catalog_conversion_exists(PGconn *conn, const char *source_id, const char *event_id, bool *have,
			      struct err *e)
{
	const char *params[2] = { source_id, event_id };
	/* The (source_id, event_id) unique index answers it. */
	PGresult *res = PQexecParams(conn,
				     "SELECT 1 FROM conversions WHERE source_id = $1::uuid "
				     "AND event_id = $2",
				     2, NULL, params, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not look up a conversion", e);

	if (rc == 0)
		*have = PQntuples(res) > 0;
	PQclear(res);
	return rc;
}
