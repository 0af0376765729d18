/*
 * db.h - thin helpers over libpq shared by every store module: connect,
 * run a statement and translate failures into struct err, and tell a lost
 * connection (retry later, 503) from a statement error (a bug or bad data).
 *
 * The daemon's threads (ingest writers, workers, the control thread) hold
 * their connection in a struct db_link: one place that connects with the
 * session limits (statement and lock timeouts, TCP keepalives), backs off
 * between attempts, recovers a connection after a failed statement, and
 * lets the main thread cancel a statement and bound the thread's stop.
 * adsengctl connects with plain db_connect(): a migration may rightly wait
 * or run long.
 *
 * A PGconn belongs to one thread; only db_link_join() is meant for
 * another thread.
 */
#ifndef ADSENG_STORE_DB_H
#define ADSENG_STORE_DB_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"

/* Limits of a daemon session (all in ms; 0 = none / the default). */
struct db_session {
	int64_t statement_timeout_ms;
	int64_t lock_timeout_ms;
	int64_t tcp_user_timeout_ms;
	int64_t keepalives_idle_ms;
	int64_t keepalives_interval_ms;
	int64_t keepalives_count;
};

/* The [database] limits of cfg; statement_timeout is capped at half of
 * [workers] lease, so that a stalled statement ends long before the
 * leases of the thread's uploads run out. */
void db_session_from_config(struct db_session *s, const struct config *cfg);

#define DB_PARAMS_MAX 10

/* The keyword/value arrays for PQconnectdbParams (expand_dbname = 1). */
struct db_params {
	const char *keys[DB_PARAMS_MAX + 1];
	const char *vals[DB_PARAMS_MAX + 1];
	char options[1024];
	char num[4][24];
};

/*
 * Fill p for connecting to url as application_name with the limits of s
 * (NULL: none).  url_options is the "options" the url already carries (or
 * NULL): the session's "-c name=value" switches are appended to it, so
 * they win over it without dropping it.  Pure; p keeps pointers to url
 * and application_name.  ERR_INVALID when the options do not fit.
 */
int db_params_build(struct db_params *p, const char *url, const char *application_name,
		    const struct db_session *s, const char *url_options) WUR;

/* The "options" a libpq URI or key=value string sets (malloc'd, free()),
 * or NULL when none or the url does not parse. */
char *db_url_options(const char *url);

/* Connect (blocking) with `application_name` set; ERR_DB on failure. */
int db_connect(const char *url, const char *application_name, PGconn **out, struct err *e) WUR;

/* db_connect with the limits of s (NULL: none). */
int db_connect_session(const char *url, const char *application_name, const struct db_session *s,
		       PGconn **out, struct err *e) WUR;

/* After connecting: prepare statements, LISTEN ...; 0 or ERR_DB. */
typedef int (*db_setup_cb)(PGconn *conn, void *arg, struct err *e);

struct db_link {
	PGconn *conn;	     /* NULL while disconnected; the owner thread's */
	char name[64];	     /* application_name, also named in log lines */
	int64_t next_try_ms; /* monotonic: no connection attempt before */
	int64_t backoff_ms;  /* the longest wait after the next failure */
	bool connected_once;
	atomic_bool shut;	   /* stopping late: no reconnects */
	pthread_mutex_t cancel_mu; /* guards cancel (any thread may cancel) */
	PGcancel *cancel;
	struct log_ratelimit rl;
};

/* Embedded lifecycle; cleanup closes the connection. */
void db_link_init(struct db_link *l, const char *name);
void db_link_cleanup(struct db_link *l);

/*
 * Owner thread: make sure l->conn is usable.  0 when it is (*fresh set
 * when it was just made: notifications may have been missed), ERR_BUSY
 * while the backoff lasts or once shut, ERR_DB when connecting or setup
 * failed (logged, rate limited; the next try waits longer, up to 5 s).
 */
int db_link_ensure(struct db_link *l, const char *url, const struct db_session *s,
		   db_setup_cb setup, void *arg, bool *fresh) WUR;

/* Owner thread: close the connection; the next try waits the backoff. */
void db_link_drop(struct db_link *l);

/*
 * Owner thread, after a failed statement: drop a broken connection; on a
 * live one end a transaction the failure aborted (a statement or lock
 * timeout, a cancel) with ROLLBACK, so the next statement works.  Returns
 * whether the connection is still there.
 */
bool db_link_recover(struct db_link *l);

/* Milliseconds until the next connection attempt may be made (>= 0). */
int64_t db_link_wait_ms(const struct db_link *l);

/* Whether db_link_join() gave up waiting and shut the link. */
bool db_link_is_shut(struct db_link *l);

/*
 * Main thread: join `thread`, which uses the n links.  Waits until
 * cancel_at_ms (monotonic); then shuts the links (no reconnects) and
 * cancels their statements every 100 ms (from a helper thread: PQcancel
 * blocks while it connects) until give_up_ms.  Each wait lasts at least
 * 50 ms, so a thread asked late still has a moment.  Returns true when
 * joined; false when the thread is still running then (it is left
 * behind: the caller must not free what it uses).  cancel_at_ms == 0:
 * wait for ever.
 */
bool db_link_join(pthread_t thread, struct db_link *const *links, size_t n, int64_t cancel_at_ms,
		  int64_t give_up_ms);

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
