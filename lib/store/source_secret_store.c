/*
 * source_secret_store.c - rotating a source's webhook secret (see
 * source_secret_store.h).
 *
 * The read and the update are separate statements because the re-sealing
 * happens in between, in the caller; instead of holding a row lock across
 * it, the UPDATE matches the sealed bytes it read, so of two concurrent
 * rotations one wins and the other gets ERR_CONFLICT and nothing changes.
 */
#include "store/source_secret_store.h"
#include "store/admin.h"
#include "store/db.h"
#include "core/mem.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BYTEA_OID 17

int source_secret_read(PGconn *conn, const char *id, uint8_t **sealed, size_t *len, struct err *e)
{
	const char *params[1] = { id };
	/* Binary result: the bytea comes as raw bytes. */
	PGresult *res = PQexecParams(conn, "SELECT secret FROM sources WHERE id = $1::uuid", 1,
				     NULL, params, NULL, NULL, 1);
	int rc = db_check(conn, res, "could not read source secret", e);
	size_t n;

	if (rc != 0)
		goto out;
	if (PQntuples(res) == 0) {
		rc = err_set(e, ERR_NOTFOUND, "no source with id %s", id);
		goto out;
	}
	n = (size_t)PQgetlength(res, 0, 0);
	*sealed = xmalloc(n ? n : 1);
	memcpy(*sealed, PQgetvalue(res, 0, 0), n);
	*len = n;
out:
	PQclear(res);
	return rc;
}

/* The UPDATE; *n_rows tells whether the row still held r->expect. */
static int rotate_update(PGconn *conn, struct source_secret_rotation *r, int *n_rows, struct err *e)
{
	char overlap[24];
	const char *v[5] = { r->id, (const char *)r->sealed, (const char *)r->sealed_previous,
			     overlap, (const char *)r->expect };
	const int len[5] = { 0, (int)r->sealed_len, (int)r->sealed_previous_len, 0,
			     (int)r->expect_len };
	const int fmt[5] = { 0, 1, 1, 0, 1 };
	const Oid types[5] = { 0, BYTEA_OID, BYTEA_OID, 0, BYTEA_OID };
	PGresult *res;
	int rc;

	snprintf(overlap, sizeof(overlap), "%lld", (long long)r->overlap_ms);
	res = PQexecParams(conn,
			   "UPDATE sources SET secret = $2, secret_previous = $3,"
			   " secret_previous_until = now() + $4::bigint * interval '1 millisecond',"
			   " updated_at = now()"
			   " WHERE id = $1::uuid AND secret = $5"
			   " RETURNING to_char(secret_previous_until AT TIME ZONE 'UTC',"
			   " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
			   5, types, v, len, fmt, 0);
	rc = db_check(conn, res, "could not rotate source secret", e);
	if (rc == 0) {
		*n_rows = PQntuples(res);
		if (*n_rows == 1)
			snprintf(r->until, sizeof(r->until), "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return rc;
}

static int rotate_audit(PGconn *conn, const char *actor, const struct source_secret_rotation *r,
			struct err *e)
{
	cJSON *d = cJSON_CreateObject();
	int rc;

	/* Never the secrets, not even sealed: only what changed when. */
	if (d == NULL || !cJSON_AddStringToObject(d, "id", r->id) ||
	    !cJSON_AddStringToObject(d, "previous_valid_until", r->until) ||
	    !cJSON_AddNumberToObject(d, "overlap_ms", (double)r->overlap_ms)) {
		cJSON_Delete(d);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	rc = admin_audit_write(conn, actor, "source.rotate_secret", d, e);
	cJSON_Delete(d);
	return rc;
}

int source_secret_rotate(PGconn *conn, const char *actor, struct source_secret_rotation *r,
			 struct err *e)
{
	int n_rows = 0;
	int rc;

	rc = db_exec(conn, "BEGIN", e);
	if (rc != 0)
		return rc;
	rc = rotate_update(conn, r, &n_rows, e);
	if (rc == 0 && n_rows == 0)
		rc = err_set(e, ERR_CONFLICT,
			     "the secret of source %s changed (or the source went) while rotating; "
			     "run the command again",
			     r->id);
	if (rc == 0)
		rc = rotate_audit(conn, actor, r, e);
	if (rc == 0)
		return db_exec(conn, "COMMIT", e);
	/* The error above is the one to report, not the ROLLBACK's. */
	PQclear(PQexec(conn, "ROLLBACK"));
	return rc;
}
