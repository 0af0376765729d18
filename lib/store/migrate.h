/*
 * migrate.h - schema migrations compiled into the binary from sql/NNNN_*.sql
 * (cmake/embed_sql.cmake), applied in version order, each in its own
 * transaction under an advisory lock, recorded in schema_migrations.
 */
#ifndef ADSENG_STORE_MIGRATE_H
#define ADSENG_STORE_MIGRATE_H

#include <libpq-fe.h>

#include "core/err.h"

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrate_all[];
extern const int migrate_count;

/*
 * Apply every migration not yet recorded.  Safe to run concurrently from
 * several hosts (the advisory lock serializes them; the loser finds the
 * versions applied).  *applied receives how many this call applied.
 */
int migrate_apply(PGconn *conn, int *applied, struct err *e) WUR;

/* The highest applied version (0 when none); ERR_DB on failure. */
int migrate_current_version(PGconn *conn, int *version, struct err *e) WUR;

/* The highest version compiled in. */
int migrate_latest_version(void);

#endif
