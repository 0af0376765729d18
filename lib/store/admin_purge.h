/*
 * admin_purge.h - retention of raw events: `adsengctl purge --older-than
 * AGE` (DESIGN §4 "CLI").  Raw webhook bodies are the only place clear PII
 * is kept (DESIGN §3), so an operator must be able to bound how long.
 *
 * What goes: raw events received before the cutoff, and the inbound dedup
 * keys (ingest_keys, ingest_item_keys) of the same age.  Whole monthly
 * partitions entirely before the cutoff are detached (CONCURRENTLY, so
 * ingest is never blocked) and dropped; in the partition that straddles
 * the cutoff the older rows are deleted in id ranges, one short statement
 * each.  What never goes: a raw event still waiting for stage 1 (a row in
 * raw_queue), whatever its age, since it was acknowledged and is not
 * converted yet; its partition is kept whole.  Conversions, deliveries
 * and attempts are not touched (they hold hashes, not clear PII).
 *
 * Same conventions as store/admin.h; the connection must not be inside a
 * transaction (DETACH CONCURRENTLY cannot run in one).  Blocks.
 */
#ifndef ADSENG_STORE_ADMIN_PURGE_H
#define ADSENG_STORE_ADMIN_PURGE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct cJSON;

/* The youngest cutoff accepted: senders retry for up to 3 days (Stripe),
 * and a dedup key must outlive every retry of its webhook. */
#define ADMIN_PURGE_MIN_AGE_US (7LL * 86400 * 1000000)

struct admin_purge_opts {
	int64_t before_us; /* unix µs: raw events received before it go */
	bool dry_run;	   /* count, change nothing */
	const char *actor; /* of the audit_log row "purge" */
	/* Called after each unit of work (a partition, an id range) with the
	 * units done and planned; may be NULL. */
	void (*progress)(void *arg, size_t done, size_t total);
	void *progress_arg;
};

/*
 * Purge as described above.  before_us must be at least
 * ADMIN_PURGE_MIN_AGE_US before now (ERR_INVALID otherwise).  *out
 * (caller frees), also filled when a later step failed (then rc < 0 and
 * "error" says which step):
 *   {"dry_run":b, "before":"RFC 3339", "raw_events":N, "ingest_keys":N,
 *    "item_keys":N, "partitions_dropped":["raw_events_202601",…],
 *    "kept_pending":N (raw events kept because stage 1 has not taken them),
 *    "partitions_kept":[{"name","reason"}]}
 * Unless dry_run, an audit_log row "purge" records the same object.
 */
int admin_purge(PGconn *conn, const struct admin_purge_opts *o, struct cJSON **out,
		struct err *e) WUR;

#endif
