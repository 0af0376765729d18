/*
 * admin_raw.h - the SQL behind the admin commands on raw events (the
 * webhooks as received, before stage 1): `adsengctl reprocess`.
 *
 * Same conventions as store/admin.h: bound parameters only, one
 * transaction per mutation with its audit_log row, results as cJSON,
 * timestamps as RFC 3339 UTC strings.  The connection belongs to the
 * calling thread; functions block.
 */
#ifndef ADSENG_STORE_ADMIN_RAW_H
#define ADSENG_STORE_ADMIN_RAW_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct cJSON;

/* Which raw events to reprocess: named ones, or one source's over a time
 * range (raw_events has no index on source_id: the range bounds the
 * partitions scanned).  Only events in state 'error' ever match. */
struct admin_reprocess_filter {
	const int64_t *ids; /* NULL = any */
	size_t n_ids;
	const char *source_id; /* uuid text, or NULL = any */
	bool has_since, has_until;
	int64_t since_us, until_us; /* on received_at: since <= t < until */
};

/* How many matches admin_reprocess lists in "sample". */
#define ADMIN_REPROCESS_SAMPLE 20

/*
 * Put the matching raw events in 'error' back in the queue of stage 1:
 * state 'received', error and processed_at cleared, a raw_queue row each,
 * an audit_log row "reprocess" and a NOTIFY adseng_raw, in one
 * transaction.  Stage 1 then parses them again (after a parser fix); a
 * conversion that already exists is not duplicated.  With dry_run nothing
 * changes.  f needs ids or a source.  *out (caller frees):
 *   {"dry_run":b, "count":N,
 *    "sample":[{"id","source_id","received_at","topic","error"}] (≤ 20,
 *              the errors as they were),
 *    "ids":[{"id","state","reprocessed","reason"}]   (for each filter id)}
 * ERR_INVALID for an empty filter, ERR_DB.
 */
int admin_reprocess(PGconn *conn, const char *actor, const struct admin_reprocess_filter *f,
		    bool dry_run, struct cJSON **out, struct err *e) WUR;

#endif
