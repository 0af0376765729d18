/*
 * db.c - libpq helpers.
 */
#include "store/db.h"

#include <stdlib.h>
#include <string.h>

int db_connect(const char *url, const char *application_name, PGconn **out, struct err *e)
{
	const char *keys[] = { "dbname", "application_name", "connect_timeout", NULL };
	const char *vals[] = { url, application_name, "5", NULL };
	PGconn *conn;

	/* expand_dbname=1: `url` may be a URI or a key=value string; later
	 * entries override what it says about application_name. */
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL)
		return err_set(e, ERR_NOMEM, "could not allocate a database connection");
	if (PQstatus(conn) != CONNECTION_OK) {
		char msg[400];
		size_t n;

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		PQfinish(conn);
		return err_set(e, ERR_DB, "could not connect to database: %s", msg);
	}
	*out = conn;
	return 0;
}

bool db_is_broken(const PGconn *conn)
{
	return conn == NULL || PQstatus(conn) != CONNECTION_OK;
}

int db_check(PGconn *conn, const PGresult *res, const char *what, struct err *e)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *msg;
	char clean[400];
	size_t n;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	msg = res ? PQresultErrorMessage(res) : "";
	if (msg == NULL || msg[0] == '\0')
		msg = PQerrorMessage(conn);
	snprintf(clean, sizeof(clean), "%s", msg);
	n = strlen(clean);
	while (n > 0 && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
		clean[--n] = '\0';
	return err_set(e, ERR_DB, "%s: %s", what, clean);
}

int db_exec(PGconn *conn, const char *sql, struct err *e)
{
	PGresult *res = PQexec(conn, sql);
	int rc = db_check(conn, res, "could not execute statement", e);

	PQclear(res);
	return rc;
}

const char *db_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

bool db_sqlstate_is_data_error(const char *sqlstate)
{
	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return false;
	if (strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "54", 2) == 0)
		return true;
	/* 23505 and 23P01: another transaction holds the conflicting row; it
	 * may commit or roll back, so the outcome can change on a retry. */
	return strncmp(sqlstate, "23", 2) == 0 && strcmp(sqlstate, "23505") != 0 &&
	       strcmp(sqlstate, "23P01") != 0;
}

int64_t db_get_int64(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

const char *db_get_str(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}
