/*
 * db.h - thin helpers over libpq shared by every store module: connect,
 * run a statement and translate failures into struct err, and tell a lost
 * connection (retry later, 503) from a statement error (a bug or bad data).
 *
 * A PGconn belongs to one thread; nothing here locks.
 */
#ifndef ADSENG_STORE_DB_H
#define ADSENG_STORE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

/* Connect (blocking) with `application_name` set; ERR_DB on failure. */
int db_connect(const char *url, const char *application_name, PGconn **out, struct err *e) WUR;

/* True when the connection is unusable and must be re-established. */
bool db_is_broken(const PGconn *conn);

/*
 * Check a result: PGRES_COMMAND_OK / TUPLES_OK → 0.  Otherwise fill e with
 * "<what>: <server message>" (the SQLSTATE kept in e->msg) and return
 * ERR_DB.  Does not clear res.
 */
int db_check(PGconn *conn, const PGresult *res, const char *what, struct err *e) WUR;

/* Run a parameterless command; 0 or ERR_DB. */
int db_exec(PGconn *conn, const char *sql, struct err *e) WUR;

/* The SQLSTATE of a failed result ("23505"), or "" */
const char *db_sqlstate(const PGresult *res);

/*
 * True when a statement failed because of the data it was given, so that
 * running it again with the same data fails again: data exceptions (class
 * 22: bad encoding, out of range, invalid JSON), integrity violations
 * (class 23) other than the unique and exclusion conflicts concurrent
 * writers cause, and program limits (class 54: a value too large to
 * index).  Everything else -- deadlock, serialization failure, lock or
 * statement timeout, out of disk or memory, shutdown, a lost connection
 * ("" or NULL) -- is the moment's fault, not the data's: retry later.
 * Pure; any thread.
 */
bool db_sqlstate_is_data_error(const char *sqlstate);

/* Parse a text column value as int64 (0 when NULL). */
int64_t db_get_int64(const PGresult *res, int row, int col);
/* A text column or NULL when SQL NULL. */
const char *db_get_str(const PGresult *res, int row, int col);

#endif
