/*
 * request_store.h - requests a platform accepted and reports on later
 * (table platform_requests, sql/0006_platform_requests.sql): claim the
 * ones due for a status query, record what the platform said.
 *
 * Rows are written by delivery_store_record when a delivery is recorded
 * delivered with a request id.  Statements are sent unprepared: they run a
 * few times a minute at most.  Any thread with its own connection.
 */
#ifndef ADSENG_STORE_REQUEST_STORE_H
#define ADSENG_STORE_REQUEST_STORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct platform_request {
	int64_t id;
	char destination_id[37];
	char request_id[96];
	int32_t polls; /* including this one */
	int64_t age_s; /* since it was sent */
};

/*
 * Claim up to limit due rows (next_poll_at passed), ordered by due time:
 * each is pushed lease_ms ahead and its polls counted, so another daemon
 * does not query it at the same time and a crash only delays it.  *rows
 * is an array the caller frees (NULL when *n is 0).
 */
int request_store_claim(PGconn *conn, int limit, int64_t lease_ms, struct platform_request **rows,
			size_t *n, struct err *e) WUR;

/* Record the platform's answer: status (its word) and a one-line summary;
 * next_poll_ms < 0 makes it final, else it is due again after that. */
int request_store_finish(PGconn *conn, int64_t id, const char *status, const char *summary,
			 int64_t next_poll_ms, struct err *e) WUR;

#endif
