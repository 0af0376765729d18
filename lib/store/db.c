/*
 * db.c - libpq helpers, and struct db_link: the daemon threads' one way
 * to connect, reconnect and be stopped (see db.h).
 */
#include "store/db.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/thread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LINK_BACKOFF_MIN_MS  1000
#define LINK_BACKOFF_MAX_MS  5000
#define LINK_CANCEL_EVERY_MS 100
/* A thread asked to stop late (an earlier one took all the time) still
 * gets this long to notice before it is left behind. */
#define LINK_LAST_CHANCE_MS 50

void db_session_from_config(struct db_session *s, const struct config *cfg)
{
	int64_t cap = cfg->worker_lease_ms / 2;

	s->statement_timeout_ms = cfg->db_statement_timeout_ms;
	if (s->statement_timeout_ms == 0 || s->statement_timeout_ms > cap)
		s->statement_timeout_ms = cap;
	s->lock_timeout_ms = cfg->db_lock_timeout_ms;
	s->tcp_user_timeout_ms = cfg->db_tcp_user_timeout_ms;
	s->keepalives_idle_ms = cfg->db_keepalives_idle_ms;
	s->keepalives_interval_ms = cfg->db_keepalives_interval_ms;
	s->keepalives_count = cfg->db_keepalives_count;
}

/* libpq takes keepalive times in whole seconds: round up, at least 1. */
static long long whole_seconds(int64_t ms)
{
	long long sec = (long long)((ms + 999) / 1000);

	return sec < 1 ? 1 : sec;
}

int db_params_build(struct db_params *p, const char *url, const char *application_name,
		    const struct db_session *s, const char *url_options)
{
	size_t k = 0;
	int n;

	memset(p, 0, sizeof(*p));
	p->keys[k] = "dbname";
	p->vals[k++] = url;
	p->keys[k] = "application_name";
	p->vals[k++] = application_name;
	p->keys[k] = "connect_timeout";
	p->vals[k++] = "5";
	if (s == NULL)
		return 0;
	/* Appended after the url's own switches: the later -c wins. */
	n = snprintf(p->options, sizeof(p->options),
		     "%s%s-c statement_timeout=%lld -c lock_timeout=%lld",
		     url_options ? url_options : "", url_options && url_options[0] ? " " : "",
		     (long long)s->statement_timeout_ms, (long long)s->lock_timeout_ms);
	if (n < 0 || (size_t)n >= sizeof(p->options))
		return ERR_INVALID;
	snprintf(p->num[0], sizeof(p->num[0]), "%lld", whole_seconds(s->keepalives_idle_ms));
	snprintf(p->num[1], sizeof(p->num[1]), "%lld", whole_seconds(s->keepalives_interval_ms));
	snprintf(p->num[2], sizeof(p->num[2]), "%lld", (long long)s->keepalives_count);
	snprintf(p->num[3], sizeof(p->num[3]), "%lld", (long long)s->tcp_user_timeout_ms);
	p->keys[k] = "options";
	p->vals[k++] = p->options;
	p->keys[k] = "keepalives";
	p->vals[k++] = "1";
	p->keys[k] = "keepalives_idle";
	p->vals[k++] = p->num[0];
	p->keys[k] = "keepalives_interval";
	p->vals[k++] = p->num[1];
	p->keys[k] = "keepalives_count";
	p->vals[k++] = p->num[2];
	p->keys[k] = "tcp_user_timeout";
	p->vals[k++] = p->num[3];
	return 0;
}

char *db_url_options(const char *url)
{
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	char *found = NULL;

	if (opts == NULL)
		return NULL; /* PQconnectdbParams reports the bad url */
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (strcmp(o->keyword, "options") == 0 && o->val)
			found = strdup(o->val);
	}
	PQconninfoFree(opts);
	return found;
}

int db_connect_session(const char *url, const char *application_name, const struct db_session *s,
		       PGconn **out, struct err *e)
{
	struct db_params *p = calloc(1, sizeof(*p));
	char *uopts = s ? db_url_options(url) : NULL;
	PGconn *conn = NULL;
	int rc = ERR_NOMEM;

	if (p == NULL) {
		rc = err_set(e, ERR_NOMEM, "could not allocate a database connection");
		goto out;
	}
	if (db_params_build(p, url, application_name, s, uopts) != 0) {
		rc = err_set(e, ERR_CONFIG, "the url's \"options\" are too long");
		goto out;
	}
	/* expand_dbname=1: `url` may be a URI or a key=value string; later
	 * entries override what it says about the others. */
	conn = PQconnectdbParams(p->keys, p->vals, 1);
	if (conn == NULL) {
		rc = err_set(e, ERR_NOMEM, "could not allocate a database connection");
		goto out;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		char msg[400];
		size_t n;

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		PQfinish(conn);
		rc = err_set(e, ERR_DB, "could not connect to database: %s", msg);
		goto out;
	}
	*out = conn;
	rc = 0;
out:
	free(uopts);
	free(p);
	return rc;
}

int db_connect(const char *url, const char *application_name, PGconn **out, struct err *e)
{
	return db_connect_session(url, application_name, NULL, out, e);
}

void db_link_init(struct db_link *l, const char *name)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->backoff_ms = LINK_BACKOFF_MIN_MS;
	atomic_init(&l->shut, false);
	pthread_mutex_init(&l->cancel_mu, NULL);
}

void db_link_cleanup(struct db_link *l)
{
	db_link_drop(l);
	pthread_mutex_destroy(&l->cancel_mu);
}

static void link_wait_more(struct db_link *l)
{
	/* Jitter: several threads (and daemons) do not retry in step. */
	l->next_try_ms = clock_mono_ms() + l->backoff_ms / 2 +
			 (int64_t)(backoff_rand01() * (double)(l->backoff_ms / 2));
	l->backoff_ms *= 2;
	if (l->backoff_ms > LINK_BACKOFF_MAX_MS)
		l->backoff_ms = LINK_BACKOFF_MAX_MS;
}

int db_link_ensure(struct db_link *l, const char *url, const struct db_session *s,
		   db_setup_cb setup, void *arg, bool *fresh)
{
	struct err e = { 0 };
	PGconn *conn = NULL;
	PGcancel *cancel;
	int suppressed;

	*fresh = false;
	if (atomic_load(&l->shut))
		return ERR_BUSY;
	if (l->conn)
		return 0;
	if (clock_mono_ms() < l->next_try_ms)
		return ERR_BUSY;
	if (db_connect_session(url, l->name, s, &conn, &e) != 0 ||
	    (setup && setup(conn, arg, &e) != 0)) {
		PQfinish(conn);
		link_wait_more(l);
		if (log_ratelimit_allow(&l->rl, 6, &suppressed))
			log_warn("could not reach the database",
				 "thread=%s err=\"%s\" suppressed=%d", l->name, e.msg, suppressed);
		return ERR_DB;
	}
	if (l->connected_once)
		log_info("reconnected to the database", "thread=%s", l->name);
	cancel = PQgetCancel(conn);
	pthread_mutex_lock(&l->cancel_mu);
	l->cancel = cancel;
	pthread_mutex_unlock(&l->cancel_mu);
	l->conn = conn;
	l->connected_once = true;
	l->backoff_ms = LINK_BACKOFF_MIN_MS;
	*fresh = true;
	return 0;
}

/* Forget l->conn without closing it (db_link_drop closes it). */
static void db_link_forget(struct db_link *l)
{
	PGcancel *cancel;

	if (l->conn == NULL)
		return;
	pthread_mutex_lock(&l->cancel_mu);
	cancel = l->cancel;
	l->cancel = NULL;
	pthread_mutex_unlock(&l->cancel_mu);
	PQfreeCancel(cancel);
	l->conn = NULL;
	link_wait_more(l);
}

void db_link_drop(struct db_link *l)
{
	PGconn *conn = l->conn;

	db_link_forget(l);
	PQfinish(conn);
}

bool db_link_recover(struct db_link *l)
{
	if (l->conn == NULL)
		return false;
	if (db_is_broken(l->conn)) {
		db_link_drop(l);
		return false;
	}
	if (PQtransactionStatus(l->conn) == PQTRANS_INERROR) {
		PGresult *res = PQexec(l->conn, "ROLLBACK");

		PQclear(res);
		if (db_is_broken(l->conn)) {
			db_link_drop(l);
			return false;
		}
	}
	return true;
}

int64_t db_link_wait_ms(const struct db_link *l)
{
	int64_t left = l->next_try_ms - clock_mono_ms();

	return left > 0 ? left : 0;
}

bool db_link_is_shut(struct db_link *l)
{
	return atomic_load(&l->shut);
}

/*
 * Cancels for a thread that is late: a detached helper sends them every
 * 100 ms until the thread is joined or the deadline passes.  PQcancel
 * blocks while it connects, so the main thread does not call it itself,
 * and the helper owns the PGcancel it was handed (valid without its
 * connection) so that nothing it touches can be freed under it.
 */
struct canceler {
	PGcancel *cancel;
	int64_t until_ms;
	atomic_bool done;
	atomic_int refs;
};

static void canceler_unref(struct canceler *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	PQfreeCancel(c->cancel);
	free(c);
}

static void *canceler_main(void *arg)
{
	struct canceler *c = arg;
	const struct timespec pause = { 0, LINK_CANCEL_EVERY_MS * 1000000L };
	char msg[256];

	/* Again and again: a cancel that arrives between two statements is
	 * ignored by the server, and the thread may start another. */
	while (!atomic_load(&c->done) && clock_mono_ms() < c->until_ms) {
		PQcancel(c->cancel, msg, sizeof(msg));
		nanosleep(&pause, NULL);
	}
	canceler_unref(c);
	return NULL;
}

/* Shut l (no reconnects) and start cancelling its statements; NULL when
 * there is nothing to cancel. */
static struct canceler *link_shut(struct db_link *l, int64_t until_ms)
{
	struct canceler *c;
	struct err e;
	pthread_t t;

	atomic_store(&l->shut, true);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&l->cancel_mu);
	c->cancel = l->cancel;
	l->cancel = NULL;
	pthread_mutex_unlock(&l->cancel_mu);
	if (c->cancel == NULL) {
		free(c);
		return NULL;
	}
	c->until_ms = until_ms;
	atomic_init(&c->done, false);
	atomic_init(&c->refs, 2);
	if (thread_start(&t, "db-cancel", canceler_main, c, &e) != 0) {
		PQfreeCancel(c->cancel);
		free(c);
		return NULL;
	}
	/* Nobody joins it: it ends by itself (canceler_main). */
	pthread_detach(t);
	log_info("canceling a statement to stop in time", "thread=%s", l->name);
	return c;
}

/* pthread_timedjoin_np for at most ms milliseconds; true when joined. */
static bool join_for(pthread_t thread, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(thread, NULL, &ts) == 0;
}

bool db_link_join(pthread_t thread, struct db_link *const *links, size_t n, int64_t cancel_at_ms,
		  int64_t give_up_ms)
{
	struct canceler **cs;
	int64_t left;
	bool joined;

	if (cancel_at_ms == 0)
		return pthread_join(thread, NULL) == 0;
	left = cancel_at_ms - clock_mono_ms();
	if (join_for(thread, left > LINK_LAST_CHANCE_MS ? left : LINK_LAST_CHANCE_MS))
		return true;
	cs = calloc(n ? n : 1, sizeof(*cs));
	for (size_t i = 0; i < n && cs; i++)
		cs[i] = link_shut(links[i], give_up_ms);
	left = give_up_ms - clock_mono_ms();
	joined = join_for(thread, left > LINK_LAST_CHANCE_MS ? left : LINK_LAST_CHANCE_MS);
	for (size_t i = 0; i < n && cs; i++) {
		if (cs[i]) {
			atomic_store(&cs[i]->done, true);
			canceler_unref(cs[i]);
		}
	}
	free(cs);
	return joined;
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
