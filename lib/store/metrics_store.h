/*
 * metrics_store.h - the one query behind the metrics that need SQL
 * (pipeline/telemetry.h): every destination with its breaker and pause,
 * its deliveries counted by unfinished state with the age of the oldest
 * due one, and the raw events still waiting for stage 1.  Run by the
 * control thread every few seconds, never per scrape.  Delivered rows
 * (the bulk of the table) are not counted: their rate is an in-process
 * counter.
 */
#ifndef ADSENG_STORE_METRICS_STORE_H
#define ADSENG_STORE_METRICS_STORE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/err.h"

/* The unfinished delivery states, in the order of metrics_dest.count. */
#define METRICS_DELIVERY_STATES 5
extern const char *const metrics_delivery_states[METRICS_DELIVERY_STATES];

struct metrics_dest {
	char id[37];
	char kind[32];
	char name[96];
	char breaker[16]; /* closed, open, half_open */
	int paused;	  /* paused_reason set */
	int reauthorize;  /* paused because an operator must re-authorize */
	double count[METRICS_DELIVERY_STATES];
	double oldest_due_s; /* age of the oldest due pending delivery; 0 = none */
	double due;	     /* pending deliveries due now */
};

struct metrics_rows {
	struct metrics_dest *dests; /* malloc'd */
	size_t n_dests;
	double raw_pending;  /* rows of raw_queue */
	double raw_oldest_s; /* age of the oldest of them; 0 = none */
};

/* Run the query (one statement, one round trip) into out; 0 or ERR_DB.
 * Any thread with its own connection. */
int metrics_store_load(PGconn *conn, struct metrics_rows *out, struct err *e) WUR;

/* Free what metrics_store_load() filled in; r is then empty. */
void metrics_rows_cleanup(struct metrics_rows *r);

#endif
