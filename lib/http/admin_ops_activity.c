/*
 * admin_ops_activity.c - the admin API's handlers for what flows through
 * the catalog (admin_ops.h): conversions and deliveries (pages, one with
 * its attempts), replay and stats, scoped to the token's tenant.  Worker
 * thread.
 */
#include "core/clock.h"
#include "http/admin_int.h"
#include "http/admin_ops.h"
#include "store/admin.h"
#include "store/admin_pages.h"
#include "store/quota_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_MAX_IDS 1000 /* ids one replay may name */

/* ---- conversions, deliveries --------------------------------------------------------- */

int aop_conversions_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e)
{
	struct admin_conversion_filter f = { 0 };
	struct admin_page pg;
	cJSON *rows = NULL;
	bool more = false;
	int rc;

	(void)cfg;
	aop_page_of(job, &pg);
	f.has_since = job->q.has_since;
	f.since_us = job->q.since_us;
	f.has_until = job->q.has_until;
	f.until_us = job->q.until_us;
	f.event = job->q.event[0] ? job->q.event : NULL;
	f.source_id = job->q.source[0] ? job->q.source : NULL;
	rc = admin_conversion_page(conn, &f, &pg, &rows, &more, e);
	return rc == 0 ? aop_page_answer(job, rows, more, out, e) : rc;
}

int aop_deliveries_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			struct err *e)
{
	struct admin_delivery_filter f = { 0 };
	struct admin_page pg;
	cJSON *rows = NULL;
	int rc;

	(void)cfg;
	aop_page_of(job, &pg);
	f.state = job->q.state[0] ? job->q.state : NULL;
	f.destination_id = job->q.destination[0] ? job->q.destination : NULL;
	f.tenant_id = pg.tenant_id;
	f.has_since = job->q.has_since;
	f.since_us = job->q.since_us;
	f.has_until = job->q.has_until;
	f.until_us = job->q.until_us;
	if (pg.after)
		(void)admin_parse_id(pg.after, &f.before_id);
	f.limit = pg.limit + 1; /* one more: does another page follow? */
	rc = admin_deliveries_list(conn, &f, &rows, e);
	if (rc != 0)
		return rc;
	if (cJSON_GetArraySize(rows) > pg.limit) {
		cJSON_DeleteItemFromArray(rows, (int)pg.limit);
		return aop_page_answer(job, rows, true, out, e);
	}
	return aop_page_answer(job, rows, false, out, e);
}

/* One delivery with its attempts; another tenant's is 404. */
int aop_delivery_get(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		     struct err *e)
{
	const cJSON *tid;
	int64_t id;
	int rc;

	(void)cfg;
	if (!admin_parse_id(job->param[0], &id))
		return err_set(e, ERR_NOTFOUND, "no delivery %s", job->param[0]);
	rc = admin_delivery_show(conn, id, out, e);
	if (rc != 0 || job->tenant == 0)
		return rc;
	tid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(*out, "delivery"),
					       "tenant_id");
	if (!cJSON_IsNumber(tid) || (int64_t)tid->valuedouble != job->tenant) {
		cJSON_Delete(*out);
		*out = NULL;
		return err_set(e, ERR_NOTFOUND, "no delivery %" PRId64, id);
	}
	return 0;
}

/* ---- replay ------------------------------------------------------------------------ */

/* One state name's bit into *mask. */
static int state_bit(const cJSON *v, const char *const names[3], unsigned *mask, struct err *e)
{
	for (unsigned i = 0; i < 3; i++) {
		if (cJSON_IsString(v) && strcmp(v->valuestring, names[i]) == 0) {
			*mask |= 1u << i;
			return 0;
		}
	}
	return err_set(e, ERR_INVALID, "state: failed, dead or held");
}

/* "state": "failed" or ["failed", "dead", "held"] into ADMIN_REPLAY_*;
 * absent: failed and dead (and held when ids are named), as the CLI. */
static int body_states(const struct admin_job *job, bool have_ids, unsigned *mask, struct err *e)
{
	static const char *const names[] = { "failed", "dead", "held" }; /* ADMIN_REPLAY_* bits */
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(job->body, "state"), *it;

	*mask = 0;
	if (st == NULL) {
		*mask = ADMIN_REPLAY_FAILED | ADMIN_REPLAY_DEAD |
			(have_ids ? ADMIN_REPLAY_HELD : 0);
		return 0;
	}
	if (cJSON_IsString(st))
		return state_bit(st, names, mask, e);
	if (!cJSON_IsArray(st) || cJSON_GetArraySize(st) == 0)
		return err_set(e, ERR_INVALID, "state: failed, dead, held or a list of them");
	cJSON_ArrayForEach (it, st) {
		if (state_bit(it, names, mask, e) != 0)
			return ERR_INVALID;
	}
	return 0;
}

/* "ids": [positive integers], at most REPLAY_MAX_IDS, duplicates dropped. */
static int body_ids(const struct admin_job *job, int64_t *ids, size_t *n, struct err *e)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(job->body, "ids"), *it;

	*n = 0;
	if (arr == NULL)
		return 0;
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > REPLAY_MAX_IDS)
		return err_set(e, ERR_INVALID, "ids: an array of at most %d delivery ids",
			       REPLAY_MAX_IDS);
	cJSON_ArrayForEach (it, arr) {
		bool dup = false;

		if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 9e15 ||
		    it->valuedouble != (double)(int64_t)it->valuedouble)
			return err_set(e, ERR_INVALID, "ids: delivery ids (positive integers)");
		for (size_t i = 0; i < *n; i++)
			dup = dup || ids[i] == (int64_t)it->valuedouble;
		if (!dup)
			ids[(*n)++] = (int64_t)it->valuedouble;
	}
	return 0;
}

static int body_time(const struct admin_job *job, const char *field, bool *has, int64_t *us,
		     struct err *e)
{
	const char *v = NULL;
	struct err ignored = { 0 };
	int rc = aop_body_str(job, field, false, 64, &v, e);

	*has = v != NULL;
	if (rc == 0 && v && clock_parse_iso8601(v, us, &ignored) != 0)
		rc = err_set(e, ERR_INVALID, "%s: an RFC 3339 time (2026-11-28T10:00:00Z)", field);
	return rc;
}

/* The filters of the replay body into f (ids into the caller's array). */
static int replay_filter(PGconn *conn, struct admin_job *job, struct admin_replay_filter *f,
			 int64_t *ids, bool *dry_run, struct err *e)
{
	static const char *const fields[] = { "state", "destination", "tenant",	 "since",
					      "until", "ids",	      "dry_run", NULL };
	const cJSON *dry = cJSON_GetObjectItemCaseSensitive(job->body, "dry_run");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(job->body, "tenant");
	int rc = aop_body_only(job, fields, e);

	if (rc == 0)
		rc = body_ids(job, ids, &f->n_ids, e);
	f->ids = f->n_ids ? ids : NULL;
	if (rc == 0)
		rc = body_states(job, f->ids != NULL, &f->states, e);
	if (rc == 0)
		rc = body_time(job, "since", &f->has_since, &f->since_us, e);
	if (rc == 0)
		rc = body_time(job, "until", &f->has_until, &f->until_us, e);
	if (rc == 0 && dry && !cJSON_IsBool(dry))
		rc = err_set(e, ERR_INVALID, "dry_run: true or false");
	*dry_run = cJSON_IsTrue(dry);
	if (rc == 0 && t && (job->tenant != 0 || !cJSON_IsNumber(t) || t->valuedouble < 1))
		rc = err_set(e, ERR_INVALID, "tenant: a tenant id, admin tokens only");
	/* An agency's replay never leaves its tenant: every query of
	 * admin_replay filters on d.tenant_id. */
	f->tenant_id = job->tenant != 0 ? job->tenant : t ? (int64_t)t->valuedouble : 0;
	if (rc == 0)
		rc = aop_body_str(job, "destination", false, 36, &f->destination_id, e);
	if (rc == 0 && f->destination_id)
		rc = aop_own(conn, job, admin_destination_page, "destination", f->destination_id,
			     e);
	return rc;
}

int aop_replay(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
	       struct err *e)
{
	struct admin_replay_filter f = { 0 };
	int64_t *ids = calloc(REPLAY_MAX_IDS, sizeof(*ids));
	bool dry_run = false;
	int rc;

	(void)cfg;
	if (ids == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = replay_filter(conn, job, &f, ids, &dry_run, e);
	if (rc == 0)
		rc = admin_replay(conn, job->who.sub, &f, dry_run, out, e);
	free(ids);
	return rc;
}

/* ---- stats ----------------------------------------------------------------------- */

/* Keep only what an agency token may see of admin_stats: its tenant's
 * destinations (matched by tenant name, which is unique; the totals of raw
 * events and adjustments span every tenant and are left out). */
static int stats_scope(PGconn *conn, const struct admin_job *job, cJSON *st, struct err *e)
{
	cJSON *dests = cJSON_GetObjectItemCaseSensitive(st, "destinations"), *tenant = NULL;
	char id[24];
	const char *name;
	int rc;

	snprintf(id, sizeof(id), "%" PRId64, job->tenant);
	rc = aop_get_one(conn, job, admin_tenant_page, "tenant", id, &tenant, e);
	if (rc == ERR_NOTFOUND)
		rc = 0; /* a token of a deleted tenant sees nothing */
	if (rc != 0)
		return rc;
	name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tenant, "name"));
	for (int i = cJSON_GetArraySize(dests) - 1; i >= 0; i--) {
		const char *tn = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(dests, i), "tenant"));

		if (name == NULL || tn == NULL || strcmp(tn, name) != 0)
			cJSON_DeleteItemFromArray(dests, i);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(st, "raw_events");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "adjustments");
	cJSON_Delete(tenant);
	return 0;
}

int aop_stats(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
	      struct err *e)
{
	int rc = admin_stats(conn, out, e);

	if (rc == 0 && job->tenant != 0)
		rc = stats_scope(conn, job, *out, e);
	/* Usage against quota, as `adsengctl stats` shows it (the token's
	 * tenant only for an agency). */
	if (rc == 0)
		rc = admin_usage_add(conn, cfg, job->tenant, *out, e);
	return rc;
}
