/*
 * ingest.h - the path from a verified webhook to a committed raw event.
 *
 * The HTTP loop hands each verified request to ingest_submit() as a job
 * that owns copies of its inputs.  Writer threads (each with its own
 * blocking PostgreSQL connection) take whatever is queued, up to a batch,
 * write it with one statement and one COMMIT (ingest_store.h), and hand the
 * jobs back to the loop thread, which only then answers 200.  The queue is
 * bounded by count and by bytes: when it is full the caller answers 503
 * with Retry-After.  A row the database refuses for its data fails only
 * its own job (INGEST_REJECTED); the rest of the batch commits.  When
 * the database is unreachable the writers fail jobs at once (503) and
 * retry the connection once a second.
 */
#ifndef ADSENG_PIPELINE_INGEST_H
#define ADSENG_PIPELINE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "pipeline/runtime.h"
#include "sources/source.h"

struct event_base;

enum ingest_status {
	INGEST_ACCEPTED,    /* committed; raw_id set */
	INGEST_DUPLICATE,   /* this source already has this dedup key */
	INGEST_UNAVAILABLE, /* not stored: database unreachable or failed */
	INGEST_REJECTED	    /* not stored: the database refused this row's data */
};

struct ingest_job {
	struct ingest_job *next;
	/* Who to answer: an index into the HTTP loop's request table and the
	 * generation it had, so a hung-up client's slot is never confused with
	 * a newer request (STYLE.md threads rule 3). */
	uint32_t slot;
	uint32_t gen;
	/* Inputs, owned by the job. */
	char source_id[37];
	char kind[32];	     /* the source's kind, for the metrics */
	char request_id[65]; /* for log lines about it (http_request_id) */
	char *dedup_key;
	char *topic;
	char *headers_json;
	size_t headers_len;
	uint8_t *body;
	size_t body_len;
	/* The answer to INGEST_UNAVAILABLE, from the source's kind (503, or
	 * 429 for senders that retry nothing else). */
	int unavailable_status;
	/* A request carrying several events (source_ops.items): their keys
	 * and verdicts, n 0 otherwise.  A writer sets each keyed item's
	 * status (new or duplicate) with the job's; ops answers with them. */
	struct source_items items;
	const struct source_ops *ops;
	/* Result, set by a writer. */
	enum ingest_status status;
	int64_t raw_id;
	int64_t enqueued_us;
};

void ingest_job_free(struct ingest_job *job);

/* Called on the loop thread for every finished job; it owns the job. */
typedef void (*ingest_done_cb)(struct ingest_job *job, void *arg);

struct ingest_opts {
	const char *db_url;
	/* The daemon's runtime (or NULL): the writers' sessions get the
	 * [database] limits of its config, and ingest_stop is bounded by its
	 * stop deadline. */
	struct runtime *rt;
	int writers;
	size_t queue_max;
	/* Bytes of bodies and headers held by jobs from ingest_submit() until
	 * they are handed back to done_cb; one job is always let in. */
	size_t queue_bytes;
	size_t batch_max;
};

struct ingest;

/*
 * Start the writer threads.  `loop` is the HTTP loop's event_base (made
 * thread-aware with evthread_use_pthreads()); done_cb runs on it.
 * Must be called on the loop thread.
 */
int ingest_new(struct event_base *loop, const struct ingest_opts *opts, ingest_done_cb done_cb,
	       void *done_arg, struct ingest **out, struct err *e) WUR;

/* Queue a job (any thread).  0, or ERR_BUSY when the queue is full (by
 * count or by queue_bytes) or the ingest is stopping; the caller keeps the
 * job then. */
int ingest_submit(struct ingest *in, struct ingest_job *job) WUR;

/* Whether the writers reach the database (for /readyz and fast 503s). */
bool ingest_is_ready(const struct ingest *in);

/* Jobs queued and not yet taken by a writer. */
size_t ingest_queued(struct ingest *in);

/* Bytes of the jobs submitted and not yet handed back (the [ingest]
 * queue_bytes budget in use). */
size_t ingest_held_bytes(struct ingest *in);

/* Stop: refuse new jobs, let writers finish what is queued, join them.
 * Finished jobs are still delivered to done_cb when the loop next runs.
 * Bounded by the runtime's stop deadline (see worker_pool_stop): past its
 * cancel point writers' statements are canceled and what is left queued
 * is failed (503); a writer still stuck at the deadline is left behind
 * (ingest_free then frees nothing it uses). */
void ingest_stop(struct ingest *in);

/* Free after ingest_stop (runs remaining completions' callbacks first). */
void ingest_free(struct ingest *in);

#endif
