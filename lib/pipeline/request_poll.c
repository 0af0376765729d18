/*
 * request_poll.c - status queries of accepted platform requests
 * (request_poll.h).
 */
#include "pipeline/request_poll.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/oauth_grant.h"
#include "net/fetch.h"
#include "net/oauth.h"
#include "store/request_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_BATCH	    20
#define POLL_LEASE_MS	    (10 * 60 * 1000)
#define POLL_TIMEOUT_MS	    5000 /* bounds a stop of the control thread too */
#define POLL_MAX_AGE_S	    (3 * 86400)
#define POLL_MAX_DELAY_MS   (6 * 3600 * 1000LL)
#define POLL_FIRST_DELAY_MS (30 * 60 * 1000LL)

/* The delay before query number polls + 1: the kind's first delay,
 * doubling, at most six hours. */
static int64_t next_delay_ms(const struct dest_ops *ops, const struct config *cfg, int32_t polls)
{
	const struct config_platform_key *k = ops->status_delay_key;
	const char *v = k ? config_platform_value(cfg, k->section, k->name) : NULL;
	int64_t d = POLL_FIRST_DELAY_MS;

	if (v && config_parse_duration_ms(v, &d) != 0)
		d = POLL_FIRST_DELAY_MS;
	for (int32_t i = 1; i < polls && d < POLL_MAX_DELAY_MS; i++)
		d *= 2;
	return d < POLL_MAX_DELAY_MS ? d : POLL_MAX_DELAY_MS;
}

/* The access token for d into tok (empty for kinds without auth). */
static int poll_token(struct runtime *rt, const struct destination *d, const struct config *cfg,
		      char *tok, struct err *e)
{
	struct oauth_grant g = { 0 };
	int rc;

	tok[0] = '\0';
	if (d->ops->auth_grant == NULL)
		return 0;
	rc = d->ops->auth_grant(d, cfg, &g, e);
	if (rc == 0)
		rc = oauth_cache_get_wait(rt->oauth, d->id, &g, POLL_TIMEOUT_MS, tok, e);
	oauth_grant_cleanup(&g);
	return rc;
}

/* One status query; st filled (DEST_REQ_RETRY with a reason when the
 * query could not be made). */
static void query(const struct destination *d, const char *request_id, const char *tok,
		  struct dest_request_status *st)
{
	struct upload_req req;
	struct fetch_result res;
	struct err e = { 0 };

	upload_req_init(&req);
	if (d->ops->status_build(d, tok[0] ? tok : NULL, request_id, &req, &e) != 0) {
		st->state = DEST_REQ_RETRY;
		snprintf(st->summary, sizeof(st->summary), "could not build the query: %s", e.msg);
		upload_req_cleanup(&req);
		return;
	}
	req.timeout_ms = POLL_TIMEOUT_MS;
	if (net_fetch(&req, &res, &e) != 0) {
		st->state = DEST_REQ_RETRY;
		snprintf(st->summary, sizeof(st->summary), "%s", e.msg);
		return;
	}
	d->ops->status_parse(&res.resp, st);
	fetch_result_cleanup(&res);
}

/* Query one request (a refused token is refreshed once) and store the
 * answer. */
static int poll_one(PGconn *conn, struct runtime *rt, const struct config *cfg,
		    const struct destination *d, const struct platform_request *r, struct err *e)
{
	struct dest_request_status st = { .state = DEST_REQ_RETRY };
	char tok[OAUTH_TOKEN_MAX + 1];
	struct err te = { 0 };
	int64_t next = next_delay_ms(d->ops, cfg, r->polls);
	bool final;

	for (int tries = 0; tries < 2; tries++) {
		if (poll_token(rt, d, cfg, tok, &te) != 0) {
			st.state = DEST_REQ_RETRY;
			snprintf(st.summary, sizeof(st.summary), "no access token: %s", te.msg);
			break;
		}
		memset(&st, 0, sizeof(st));
		query(d, r->request_id, tok, &st);
		if (st.state != DEST_REQ_REAUTH)
			break;
		oauth_cache_invalidate(rt->oauth, d->id, tok);
	}
	sodium_memzero(tok, sizeof(tok));
	final = st.state == DEST_REQ_SUCCESS || st.state == DEST_REQ_PARTIAL ||
		st.state == DEST_REQ_FAILED || st.state == DEST_REQ_GONE;
	if (!final && r->age_s > POLL_MAX_AGE_S) {
		final = true;
		snprintf(st.status, sizeof(st.status), "UNKNOWN");
		char last[sizeof(st.summary)];

		memcpy(last, st.summary, sizeof(last));
		snprintf(st.summary, sizeof(st.summary),
			 "no final status after three days; last: %.400s", last);
	}
	if (st.state == DEST_REQ_PARTIAL || st.state == DEST_REQ_FAILED)
		log_warn("platform reports unprocessed events",
			 "destination=%s request_id=%s status=%s summary=\"%s\"", d->id,
			 r->request_id, st.status, st.summary);
	return request_store_finish(conn, r->id, st.status[0] ? st.status : NULL,
				    st.summary[0] ? st.summary : NULL, final ? -1 : next, e);
}

int request_poll_run(PGconn *conn, struct runtime *rt, const struct config *cfg,
		     struct dest_cache *dests, bool (*stop)(void *), void *stop_arg, struct err *e)
{
	struct platform_request *rows = NULL;
	size_t n = 0;
	int rc;

	rc = request_store_claim(conn, POLL_BATCH, POLL_LEASE_MS, &rows, &n, e);
	for (size_t i = 0; rc == 0 && i < n && !stop(stop_arg); i++) {
		struct dest_entry *dest = NULL;
		struct err de = { 0 };
		int drc = dest_cache_get(dests, conn, cfg, rt->vault, rows[i].destination_id, &dest,
					 &de);

		if (drc == ERR_DB) {
			rc = err_set(e, ERR_DB, "%s", de.msg);
			break;
		}
		if (drc != 0)
			rc = request_store_finish(conn, rows[i].id, "GONE", de.msg, -1, e);
		else if (dest->d.ops->status_build == NULL || dest->d.ops->status_parse == NULL)
			rc = request_store_finish(conn, rows[i].id, "UNSUPPORTED",
						  "the destination kind has no status query", -1,
						  e);
		else
			rc = poll_one(conn, rt, cfg, &dest->d, &rows[i], e);
		dest_entry_unref(dest);
	}
	free(rows);
	return rc;
}
