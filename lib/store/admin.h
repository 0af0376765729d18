/*
 * admin.h - the SQL behind the admin CLI (adsengctl) and, later, the admin
 * HTTP API: catalog changes (tenants, sources, destinations, routes),
 * delivery listings, replay and stats.
 *
 * Every value is a bound parameter of PQexecParams; nothing is spliced into
 * SQL text.  Every mutating function runs one transaction that also writes
 * its audit_log row, and rolls back on any failure.  Listings come back as
 * a cJSON array of objects whose keys are the column names: integers as
 * numbers, booleans, json/jsonb parsed, numeric as decimal strings (money
 * is never a float), timestamps as RFC 3339 UTC strings, SQL NULL as null.
 * Sealed secrets are written here but never selected.
 *
 * The connection must have been opened by the calling thread; functions
 * block.  Timestamps are formatted on the assumption that the session
 * TimeZone is UTC (admin_session_setup).
 */
#ifndef ADSENG_STORE_ADMIN_H
#define ADSENG_STORE_ADMIN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct cJSON;

/* Session settings the formatting here relies on: TimeZone UTC, ISO
 * DateStyle, and no NOTICE chatter.  0 or ERR_DB. */
int admin_session_setup(PGconn *conn, struct err *e) WUR;

/* Write one audit_log row (details may be NULL = {}) in the caller's
 * transaction.  0 or ERR_DB. */
int admin_audit_write(PGconn *conn, const char *actor, const char *action,
		      const struct cJSON *details, struct err *e) WUR;

/* ---- lookups ------------------------------------------------------------- */

/* A source or destination found by id or unique name. */
struct admin_obj {
	char id[37];
	int64_t tenant_id;
	char tenant_name[128];
	char kind[32];
	char name[256]; /* for messages; cut if longer */
	bool enabled;
};

/*
 * Find a tenant by name, or when ref_is_id (all digits, see ctl_ref_kind)
 * by id first and then by name.  ERR_NOTFOUND with "no tenant named \"x\""
 * when there is none.
 */
int admin_tenant_find(PGconn *conn, const char *ref, bool ref_is_id, int64_t *id,
		      struct err *e) WUR;

/*
 * Find a source / destination by name, or when ref_is_id (ref is a uuid)
 * by id first and then by name.  A name that rows of several tenants share
 * is ERR_CONFLICT ("… is ambiguous: use its id"); ERR_NOTFOUND when there
 * is none.
 */
int admin_source_find(PGconn *conn, const char *ref, bool ref_is_id, struct admin_obj *out,
		      struct err *e) WUR;
int admin_destination_find(PGconn *conn, const char *ref, bool ref_is_id, struct admin_obj *out,
			   struct err *e) WUR;

/* ---- tenants, sources, destinations, routes ------------------------------- */

/* Insert a tenant (quota NULL = unlimited); *id receives its id.
 * ERR_CONFLICT when the name is taken. */
int admin_tenant_add(PGconn *conn, const char *actor, const char *name, const char *plan,
		     const int64_t *quota, int64_t *id, struct err *e) WUR;
int admin_tenant_list(PGconn *conn, struct cJSON **out, struct err *e) WUR;
/* Rename a tenant and/or change its plan (NULL = keep).  With a plan and
 * q (the configured quotas; NULL = none), deliveries held for quota that
 * the new plan admits are released in the same transaction (*released
 * counts conversions; quota_store.h).  ERR_NOTFOUND, ERR_CONFLICT (name
 * taken), ERR_INVALID (not a plan). */
struct plan_quotas;
int admin_tenant_update(PGconn *conn, const char *actor, int64_t id, const char *name,
			const char *plan, const struct plan_quotas *q, int64_t *released,
			struct err *e) WUR;
/* Mark a tenant disabled and disable its sources (*sources counts them) in
 * one transaction; deliveries already queued still go.  ERR_NOTFOUND. */
int admin_tenant_disable(PGconn *conn, const char *actor, int64_t id, int64_t *sources,
			 struct err *e) WUR;

struct admin_source_new {
	const char *id; /* uuid the secret was sealed for */
	int64_t tenant_id;
	const char *kind;
	const char *name;
	const uint8_t *sealed; /* vault_seal output, AD "source:<id>:secret" */
	size_t sealed_len;
	/* Optional: the settings jsonb as text (NULL = "{}") and the sealed
	 * REST credentials (NULL = none; AD "source:<id>:rest_credentials"). */
	const char *settings_json;
	const uint8_t *sealed_rest;
	size_t sealed_rest_len;
};
/* ERR_CONFLICT when the tenant already has a source of that name. */
int admin_source_add(PGconn *conn, const char *actor, const struct admin_source_new *s,
		     struct err *e) WUR;
/* tenant_id 0 = every tenant.  Never selects the secret. */
int admin_source_list(PGconn *conn, int64_t tenant_id, struct cJSON **out, struct err *e) WUR;
int admin_source_set_enabled(PGconn *conn, const char *actor, const char *id, bool enabled,
			     struct err *e) WUR;

/* Set a source's own ingest rate limit (settings.ratelimit_rate/_burst),
 * or with rate 0 remove it (the [ratelimit] defaults apply again).
 * Audited as source.rate_limit; ERR_NOTFOUND for an unknown id. */
int admin_source_set_rate_limit(PGconn *conn, const char *actor, const char *id, int64_t rate,
				int64_t burst, struct err *e) WUR;
/* Rename a source (name NULL = keep) and merge settings_json (an object's
 * text, NULL = none) into its settings key by key.  Audited as
 * source.update; ERR_NOTFOUND, ERR_CONFLICT for a name the tenant has. */
int admin_source_update(PGconn *conn, const char *actor, const char *id, const char *name,
			const char *settings_json, struct err *e) WUR;

struct admin_destination_new {
	const char *id;
	int64_t tenant_id;
	const char *kind;
	const char *name;
	const char *settings_json; /* object text */
	const uint8_t *sealed;	   /* AD "destination:<id>:credentials" */
	size_t sealed_len;
	bool test_mode;
};
int admin_destination_add(PGconn *conn, const char *actor, const struct admin_destination_new *d,
			  struct err *e) WUR;
/* tenant_id 0 = every tenant.  Never selects the credentials. */
int admin_destination_list(PGconn *conn, int64_t tenant_id, struct cJSON **out, struct err *e) WUR;
/* One transaction: disable with reason (NULL = none), every pending
 * delivery of it → held (*held counts them). */
int admin_destination_pause(PGconn *conn, const char *actor, const char *id, const char *reason,
			    int64_t *held, struct err *e) WUR;
/* One transaction: enable, clear the reason, every held delivery of it →
 * pending and due now (*released counts them), NOTIFY adseng_deliveries. */
int admin_destination_resume(PGconn *conn, const char *actor, const char *id, int64_t *released,
			     struct err *e) WUR;
/* The same inside the caller's transaction (the OAuth callback stores a
 * new refresh token and resumes in one); the caller commits or rolls
 * back. */
int admin_destination_resume_in_tx(PGconn *conn, const char *actor, const char *id,
				   int64_t *released, struct err *e) WUR;

/* Create or replace the route source → destination (events NULL or n 0 =
 * every event); *created tells which. */
int admin_route_add(PGconn *conn, const char *actor, const char *source_id, const char *dest_id,
		    const char *const *events, int n_events, bool *created, struct err *e) WUR;
int admin_route_list(PGconn *conn, int64_t tenant_id, struct cJSON **out, struct err *e) WUR;
/* Delete the route source → destination; ERR_NOTFOUND when there is none. */
int admin_route_delete(PGconn *conn, const char *actor, const char *source_id, const char *dest_id,
		       struct err *e) WUR;

/* ---- deliveries ------------------------------------------------------------ */

struct admin_delivery_filter {
	const char *state;	    /* NULL = any */
	const char *destination_id; /* NULL = any */
	int64_t tenant_id;	    /* 0 = any */
	bool has_since, has_until;
	int64_t since_us, until_us; /* since <= updated_at < until */
	int64_t before_id;	    /* id < before_id (the API's cursor); 0 = none */
	int64_t limit;
};
/* Newest first: id, state, attempts, destination, event, event_id,
 * next_attempt_at, last_status, last_error, updated_at. */
int admin_deliveries_list(PGconn *conn, const struct admin_delivery_filter *f, struct cJSON **out,
			  struct err *e) WUR;

/* {"delivery":{…}, "conversion":{…, "payload":{…}}, "destination":{…,
 *  "breaker":{…}}, "attempts":[…]} with every attempt in order (the breaker
 *  as store/admin_breaker.h describes it).  ERR_NOTFOUND. */
int admin_delivery_show(PGconn *conn, int64_t id, struct cJSON **out, struct err *e) WUR;

/* Replayable states (bit values match enum ctl_state_bit). */
#define ADMIN_REPLAY_FAILED 1u
#define ADMIN_REPLAY_DEAD   2u
#define ADMIN_REPLAY_HELD   4u

struct admin_replay_filter {
	unsigned states; /* ADMIN_REPLAY_* bits, at least one */
	const char *destination_id;
	int64_t tenant_id;
	bool has_since, has_until; /* on updated_at: since <= t < until */
	int64_t since_us, until_us;
	const int64_t *ids; /* NULL = any */
	size_t n_ids;
	/* The real run moves rows in batches: after each, when set, called
	 * with the rows moved so far and the number that matched at the start
	 * (on the caller's thread, inside the transaction). */
	void (*progress)(void *arg, int64_t done, int64_t total);
	void *progress_arg;
};

/*
 * Move the matching failed/dead/held deliveries back to pending (attempts
 * 0, due now, no lease) in one transaction with an audit_log row and a
 * NOTIFY; with dry_run nothing changes.  *out:
 *   {"dry_run":b, "count":N,
 *    "groups":[{"destination_id","destination","paused","state","count"}],
 *    "sample":[{"id","state","destination","last_error"}]   (dry run, ≤ 20),
 *    "ids":[{"id","state","replayed","reason"}]   (for each filter id)}
 */
int admin_replay(PGconn *conn, const char *actor, const struct admin_replay_filter *f, bool dry_run,
		 struct cJSON **out, struct err *e) WUR;

/* {"destinations":[{id, name, kind, tenant, enabled, paused_reason, pending,
 *  in_flight, delivered, failed, dead, held, skipped, oldest_pending_s,
 *  oldest_due_s, breaker (store/admin_breaker.h)}],
 *  "raw_events":{pending, done, ignored, error, oldest_pending_s},
 *  "adjustments": adjustment_store_stats (by state, and per destination)} */
int admin_stats(PGconn *conn, struct cJSON **out, struct err *e) WUR;

#endif
