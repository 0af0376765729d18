/*
 * audience_store.h - the SQL of customer-list audiences (sql/0005): the
 * catalog rows (audiences), who the members are today (from the stored
 * conversions of the audience's sources), the difference with what was
 * sent (audience_members), and recording what the platform accepted.
 *
 * Platform neutral: the hashing scheme whose identifiers make a member is
 * a parameter.  Every value is a bound parameter; nothing is spliced into
 * SQL text.  Blocking; the connection belongs to the calling thread.
 */
#ifndef ADSENG_STORE_AUDIENCE_STORE_H
#define ADSENG_STORE_AUDIENCE_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/audience_member.h"
#include "core/err.h"
#include "core/pii.h"

struct cJSON;

/* One audience row.  Owned strings; audience_row_cleanup. */
struct audience_row {
	int64_t id;
	int64_t tenant_id;
	char destination_id[37];
	char *name;
	char *user_list_id;
	char *source_ids; /* the uuid[] as PostgreSQL's text ("{a,b}"), passed back as is */
};

void audience_row_cleanup(struct audience_row *a);

struct audience_new {
	int64_t tenant_id;
	const char *destination_id;
	const char *name;
	const char *user_list_id;
	const char *const *source_ids; /* uuids as text */
	size_t n_sources;
};

/* Insert an audience and its audit_log row (audience.add) in one
 * transaction; *id gets its id.  ERR_CONFLICT when the tenant already has
 * an audience of that name. */
int audience_store_add(PGconn *conn, const char *actor, const struct audience_new *a, int64_t *id,
		       struct err *e) WUR;

/* By id (ref all digits) or by name; a name several tenants use is
 * ERR_CONFLICT, none ERR_NOTFOUND. */
int audience_store_find(PGconn *conn, const char *ref, struct audience_row *out, struct err *e) WUR;

/* Every audience whose last sync ended at least interval_ms ago, or never
 * ran: ids malloc'd (free), oldest first. */
int audience_store_due(PGconn *conn, int64_t interval_ms, int64_t **ids, size_t *n,
		       struct err *e) WUR;

/* One row per audience: id, tenant, name, destination, kind, user_list_id,
 * sources (names), members (sent, not removed), created_at, last_sync_at,
 * last_error.  tenant_id 0 = every tenant. */
int audience_store_list(PGconn *conn, int64_t tenant_id, struct cJSON **out, struct err *e) WUR;

/* A customer as the member query found it: the scheme's identifier object
 * of its latest conversion (JSON text) and that conversion's consent. */
typedef int (*audience_candidate_cb)(const char *ids_json, const char *ad_user_data,
				     const char *ad_personalization, void *arg, struct err *e);

/*
 * The customers of a's sources, one call of cb per customer (a non-zero
 * return stops and is returned).  Today: the distinct customers of the
 * stored conversions of those sources (test orders excepted), grouped by
 * their primary identifier (email hash, else phone hash, else address),
 * each with its latest conversion's identifiers and consent.
 */
int audience_store_candidates(PGconn *conn, const struct audience_row *a, enum pii_scheme scheme,
			      audience_candidate_cb cb, void *arg, struct err *e) WUR;

/* What a sync must send: indexes of the members to add (new, changed or
 * removed before) and the sent members to remove (gone, or denied now). */
struct audience_diff {
	size_t *add; /* indexes into the members given */
	size_t n_add;
	struct audience_member *remove; /* key and identifiers as last sent */
	size_t n_remove;
	size_t n_unchanged; /* members already sent as they are */
};

void audience_diff_cleanup(struct audience_diff *d);

/* Diff members m[0..n) (unique keys) with audience_id's sent rows. */
int audience_store_diff(PGconn *conn, int64_t audience_id, const struct audience_member *m,
			size_t n, struct audience_diff *out, struct err *e) WUR;

/* After an accepted addition of m[idx[0..n)] (idx NULL: m[0..n)). */
int audience_store_mark_sent(PGconn *conn, int64_t audience_id, const struct audience_member *m,
			     const size_t *idx, size_t n, struct err *e) WUR;

/* After an accepted removal of m[0..n). */
int audience_store_mark_removed(PGconn *conn, int64_t audience_id, const struct audience_member *m,
				size_t n, struct err *e) WUR;

/* End of a sync: last_sync_at now, last_error error (NULL = finished). */
int audience_store_finish(PGconn *conn, int64_t audience_id, const char *error, struct err *e) WUR;

/* Session advisory lock of one audience's sync (so two daemons, or the
 * daemon and adsengctl, never sync it at once): *got false when another
 * session holds it.  unlock releases it. */
int audience_store_try_lock(PGconn *conn, int64_t audience_id, bool *got, struct err *e) WUR;
void audience_store_unlock(PGconn *conn, int64_t audience_id);

/* The same for the daemon's periodic round: one daemon at a time. */
int audience_store_try_lock_round(PGconn *conn, bool *got, struct err *e) WUR;
void audience_store_unlock_round(PGconn *conn);

/* An audit_log row "audience.sync" with details (NULL = {}), for syncs run
 * by hand. */
int audience_store_audit_sync(PGconn *conn, const char *actor, const struct cJSON *details,
			      struct err *e) WUR;

#endif
