/*
 * reconcile.h - fetch back, through a sender's own API, the events its
 * webhooks may have missed, and store those that are not conversions yet
 * through the ingest path's own INSERT (same dedup key as a webhook of the
 * same version), marked with the header X-Adseng-Reconciled.  Stage 1 of a
 * running daemon then converts and delivers them like any webhook.
 *
 * One operation for both front ends: `adsengctl source reconcile` and the
 * daemon's periodic run (settings.reconcile_interval_s, see
 * reconcile_run_due).  Blocking (network and database): a CLI or a
 * housekeeping thread, never an event loop.
 */
#ifndef ADSENG_PIPELINE_RECONCILE_H
#define ADSENG_PIPELINE_RECONCILE_H

#include "core/err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct cJSON;
struct vault;

struct reconcile_ctx {
	PGconn *conn;
	const struct vault *vault; /* opens the sealed REST credentials */
	const char *actor;	   /* of the audit_log row of each run */
	/* Optional: items examined so far, after each page (a CLI's progress
	 * line; the total is unknown). */
	void (*progress)(void *arg, long items);
	void *progress_arg;
	/* Polled between pages; NULL = never stop early. */
	bool (*should_stop)(void *arg);
	void *stop_arg;
};

struct reconcile_stats {
	long pages, items;    /* what the sender listed */
	long not_conversions; /* its parser made nothing of them (unpaid) */
	long present;	      /* already a conversion */
	long stored;	      /* stored now */
	long duplicates;      /* that version was stored, still waiting */
};

/*
 * Reconcile source_id: the items modified since since_us (unix µs).
 * ERR_INVALID when the source's kind has no API for it (source_ops.rest),
 * or it lacks settings.store_url or REST credentials.  Writes an audit_log
 * row ("source.reconcile", with the counts or the error) either way.
 */
int reconcile_source(const struct reconcile_ctx *ctx, const char *source_id, int64_t since_us,
		     struct reconcile_stats *st, struct err *e) WUR;

/* The counts as a JSON object (source_id, since, and each count). */
struct cJSON *reconcile_stats_json(const char *source_id, int64_t since_us,
				   const struct reconcile_stats *st);

/*
 * Run every source whose reconcile interval has passed, one claim at a
 * time (reconcile_store_claim): a failed run is logged and tried again
 * an interval later from where the last good run started; the others go
 * on.  Returns an error only when the database
 * fails (the caller reconnects).  *ran counts the runs attempted.
 */
int reconcile_run_due(const struct reconcile_ctx *ctx, int *ran, struct err *e) WUR;

#endif
