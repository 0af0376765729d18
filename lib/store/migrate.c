/*
 * migrate.c - apply the embedded migrations.
 */
#include "store/migrate.h"
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An arbitrary constant shared by every adsengd/adsengctl. */
#define MIGRATE_LOCK_KEY 0x4164456e67L /* "AdEng" */

int migrate_latest_version(void)
{
	int v = 0;

	for (int i = 0; i < migrate_count; i++) {
		if (migrate_all[i].version > v)
			v = migrate_all[i].version;
	}
	return v;
}

static int ensure_table(PGconn *conn, struct err *e)
{
	return db_exec(conn,
		       "CREATE TABLE IF NOT EXISTS schema_migrations ("
		       " version int PRIMARY KEY, name text NOT NULL,"
		       " applied_at timestamptz NOT NULL DEFAULT now())",
		       e);
}

int migrate_current_version(PGconn *conn, int *version, struct err *e)
{
	PGresult *res;
	int rc;

	res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	if (PQresultStatus(res) != PGRES_TUPLES_OK && strcmp(db_sqlstate(res), "42P01") == 0) {
		PQclear(res);
		*version = 0; /* undefined_table: nothing applied yet */
		return 0;
	}
	rc = db_check(conn, res, "could not read schema_migrations", e);
	if (rc == 0)
		*version = (int)db_get_int64(res, 0, 0);
	PQclear(res);
	return rc;
}

/* Apply one migration if it is not recorded yet, in one transaction. */
static int apply_one(PGconn *conn, const struct migration *m, int *applied, struct err *e)
{
	char sql[256];
	PGresult *res = NULL;
	int rc;

	rc = db_exec(conn, "BEGIN", e);
	if (rc != 0)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%ld)", MIGRATE_LOCK_KEY);
	rc = db_exec(conn, sql, e);
	if (rc != 0)
		goto rollback;
	snprintf(sql, sizeof(sql), "SELECT 1 FROM schema_migrations WHERE version = %d",
		 m->version);
	res = PQexec(conn, sql);
	rc = db_check(conn, res, "could not read schema_migrations", e);
	if (rc != 0)
		goto rollback;
	if (PQntuples(res) > 0) {
		PQclear(res);
		return db_exec(conn, "COMMIT", e);
	}
	PQclear(res);
	res = PQexec(conn, m->sql);
	rc = db_check(conn, res, m->name, e);
	PQclear(res);
	res = NULL;
	if (rc != 0)
		goto rollback;
	{
		const char *params[2];
		char v[16];

		snprintf(v, sizeof(v), "%d", m->version);
		params[0] = v;
		params[1] = m->name;
		res = PQexecParams(conn,
				   "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
				   2, NULL, params, NULL, NULL, 0);
		rc = db_check(conn, res, "could not record migration", e);
		PQclear(res);
		res = NULL;
		if (rc != 0)
			goto rollback;
	}
	rc = db_exec(conn, "COMMIT", e);
	if (rc == 0)
		(*applied)++;
	return rc;
rollback:
	PQclear(res);
	{
		PGresult *r = PQexec(conn, "ROLLBACK");

		PQclear(r);
	}
	return rc;
}

int migrate_apply(PGconn *conn, int *applied, struct err *e)
{
	int rc;

	*applied = 0;
	/* Serialize the CREATE TABLE IF NOT EXISTS itself too: two concurrent
	 * creators can collide on the catalog's unique index. */
	{
		char sql[128];

		snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%ld)", MIGRATE_LOCK_KEY);
		rc = db_exec(conn, sql, e);
		if (rc != 0)
			return rc;
		rc = ensure_table(conn, e);
		snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%ld)", MIGRATE_LOCK_KEY);
		if (db_exec(conn, sql, NULL) != 0 && rc == 0)
			rc = err_set(e, ERR_DB, "could not release the migration lock");
		if (rc != 0)
			return rc;
	}
	for (int i = 0; i < migrate_count; i++) {
		rc = apply_one(conn, &migrate_all[i], applied, e);
		if (rc != 0)
			return rc;
	}
	return 0;
}
