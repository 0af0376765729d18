/*
 * audience_sync.c - syncing customer-list audiences (audience_sync.h).
 *
 * One sync: lock → load the audience and its destination (credentials
 * opened by the vault, through a private dest_cache) → the members now
 * (store query, one platform member per customer) → the diff with what was
 * sent → additions, then removals, each in chunks, each chunk recorded
 * after its 2xx → last_sync_at / last_error.  The access token comes from
 * the daemon's token cache (net/oauth.h, shared with the workers) when
 * there is something to send; a 401 drops it there, refreshes once more
 * and resends the chunk.
 */
#include "pipeline/audience_sync.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/oauth_grant.h"
#include "net/oauth.h"
#include "destinations/audience.h"
#include "net/fetch.h"
#include "pipeline/dest_cache.h"
#include "store/audience_store.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One sync's state. */
struct sync {
	const struct audience_sync_ctx *ctx;
	struct audience_row a;
	struct dest_cache cache;
	struct dest_entry *dest;
	const struct audience_ops *ops;
	char token[OAUTH_TOKEN_MAX + 1]; /* access token, "" until needed; wiped */
	struct oauth_cache *own_oauth;	 /* without ctx->oauth (the CLI) */
	struct audience_member *m;
	size_t n, cap;
	size_t skipped;
	size_t sent, to_send; /* members, for ctx->progress */
};

/* ---- the access token ---------------------------------------------------------- */

/* How long a sync waits for a token refresh (its own or a worker's). */
#define TOKEN_WAIT_MS 30000

static void token_drop(struct sync *s)
{
	sodium_memzero(s->token, sizeof(s->token));
}

/* The cache the sync's tokens come from: the daemon's (shared with the
 * workers, so a sync joins their refresh and they reuse its token), or,
 * for the CLI, one of its own. */
static int token_cache(struct sync *s, struct oauth_cache **out, struct err *e)
{
	if (s->ctx->oauth) {
		*out = s->ctx->oauth;
		return 0;
	}
	if (s->own_oauth == NULL && oauth_cache_new(&s->own_oauth, e) != 0)
		return ERR_NOMEM;
	*out = s->own_oauth;
	return 0;
}

/* An access token from the destination's grant through the token cache.
 * ERR_AUTH ("reauthorize: …") when the grant is refused or incomplete,
 * ERR_IO when the token endpoint could not answer. */
static int token_get(struct sync *s, struct err *e)
{
	const struct destination *d = &s->dest->d;
	struct oauth_cache *cache;
	struct oauth_grant g = { 0 };
	int rc;

	if (d->ops->auth_grant == NULL)
		return err_set(e, ERR_CONFIG, "destination kind %s has no OAuth grant", d->kind);
	rc = token_cache(s, &cache, e);
	if (rc == 0)
		rc = d->ops->auth_grant(d, s->ctx->cfg, &g, e);
	if (rc == 0)
		rc = oauth_cache_get_wait(cache, d->id, &g, TOKEN_WAIT_MS, s->token, e);
	oauth_grant_cleanup(&g);
	if (rc == ERR_CONFIG)
		return err_set(e, ERR_AUTH,
			       "reauthorize: destination \"%s\" has no refresh token (adsengctl "
			       "destination authorize)",
			       d->name);
	if (rc == ERR_AUTH)
		err_wrap(e, "reauthorize");
	return rc;
}

/* The platform refused the token: drop it from the cache too, so the next
 * get refreshes it (for the workers as well). */
static void token_refused(struct sync *s)
{
	struct oauth_cache *cache = s->ctx->oauth ? s->ctx->oauth : s->own_oauth;

	if (cache)
		oauth_cache_invalidate(cache, s->dest->d.id, s->token);
	token_drop(s);
}

/* ---- sending ------------------------------------------------------------------- */

/* Builds one request with the current token. */
typedef int (*build_fn)(struct sync *s, const void *arg, struct upload_req *req, struct err *e);

/*
 * Send what build makes until the platform answers for good: 0 on a 2xx
 * (resp handed to on_ok when not NULL), a 401 refreshes the token once and
 * resends; ERR_AUTH after a second 401 or a refused grant, ERR_IO for a
 * transient failure, ERR_INVALID for a refusal (the platform's message).
 */
static int send_request(struct sync *s, build_fn build, const void *arg,
			int (*on_ok)(struct sync *, const struct upload_resp *, void *,
				     struct err *),
			void *ok_arg, struct err *e)
{
	char msg[256];
	int rc = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		struct upload_req req;
		struct fetch_result res;
		enum audience_result r;

		if (s->token[0] == '\0' && (rc = token_get(s, e)) != 0)
			return rc;
		upload_req_init(&req);
		rc = build(s, arg, &req, e);
		if (rc != 0) {
			upload_req_cleanup(&req);
			return rc;
		}
		rc = net_fetch(&req, &res, e);
		if (rc != 0)
			return rc;
		r = s->ops->classify(&res.resp, msg, sizeof(msg));
		if (r == AUDIENCE_OK)
			rc = on_ok ? on_ok(s, &res.resp, ok_arg, e) : 0;
		else if (r == AUDIENCE_REAUTH)
			rc = err_set(e, ERR_AUTH, "reauthorize: the access token was refused: %s",
				     msg);
		else
			rc = err_set(e, r == AUDIENCE_RETRY ? ERR_IO : ERR_INVALID, "%s", msg);
		fetch_result_cleanup(&res);
		if (r != AUDIENCE_REAUTH)
			return rc;
		token_refused(s); /* one fresh token, one more try */
	}
	return rc;
}

struct chunk {
	const struct audience_member *m; /* contiguous members */
	size_t n;
	bool remove;
};

static int build_chunk(struct sync *s, const void *arg, struct upload_req *req, struct err *e)
{
	const struct chunk *c = arg;

	return s->ops->build_members(&s->dest->d, s->token, s->a.user_list_id, c->remove, c->m,
				     c->n, req, e);
}

static bool stopping(const struct sync *s)
{
	return s->ctx->should_stop && s->ctx->should_stop(s->ctx->stop_arg);
}

/* n more members were sent: tell ctx->progress. */
static void report(struct sync *s, size_t n)
{
	s->sent += n;
	if (s->ctx->progress)
		s->ctx->progress(s->ctx->progress_arg, s->sent, s->to_send);
}

/* Additions m[idx[0..n)], chunk by chunk; *done counts accepted ones. */
static int send_additions(struct sync *s, const size_t *idx, size_t n, size_t *done, struct err *e)
{
	size_t max = s->ops->max_members;
	struct audience_member *buf = xcalloc(max, sizeof(*buf));
	int rc = 0;

	for (size_t off = 0; off < n && rc == 0; off += max) {
		struct chunk c = { buf, n - off < max ? n - off : max, false };

		if (stopping(s)) {
			rc = err_set(e, ERR_BUSY, "stopped (the daemon is stopping)");
			break;
		}
		/* Shallow copies: the strings stay s->m's. */
		for (size_t i = 0; i < c.n; i++)
			buf[i] = s->m[idx[off + i]];
		rc = send_request(s, build_chunk, &c, NULL, NULL, e);
		if (rc == 0)
			rc = audience_store_mark_sent(s->ctx->conn, s->a.id, s->m, idx + off, c.n,
						      e);
		if (rc == 0) {
			*done += c.n;
			report(s, c.n);
		}
	}
	free(buf);
	return rc;
}

static int send_removals(struct sync *s, const struct audience_member *m, size_t n, size_t *done,
			 struct err *e)
{
	size_t max = s->ops->max_members;
	int rc = 0;

	for (size_t off = 0; off < n && rc == 0; off += max) {
		struct chunk c = { m + off, n - off < max ? n - off : max, true };

		if (stopping(s))
			return err_set(e, ERR_BUSY, "stopped (the daemon is stopping)");
		rc = send_request(s, build_chunk, &c, NULL, NULL, e);
		if (rc == 0)
			rc = audience_store_mark_removed(s->ctx->conn, s->a.id, c.m, c.n, e);
		if (rc == 0) {
			*done += c.n;
			report(s, c.n);
		}
	}
	return rc;
}

/* ---- members ------------------------------------------------------------------- */

static int candidate_cb(const char *ids_json, const char *ad_user_data,
			const char *ad_personalization, void *arg, struct err *e)
{
	struct sync *s = arg;
	cJSON *ids = cJSON_Parse(ids_json);
	struct err me = { 0 };
	int rc;

	(void)e;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->m = xrealloc(s->m, s->cap * sizeof(*s->m));
	}
	rc = ids ? s->ops->member(&s->dest->d, ids, ad_user_data, ad_personalization, &s->m[s->n],
				  &me)
		 : ERR_INVALID;
	cJSON_Delete(ids);
	if (rc == 0)
		s->n++;
	else
		s->skipped++; /* nothing to match on: not a member */
	return 0;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct audience_member *)a)->key,
		      ((const struct audience_member *)b)->key);
}

/* The members now, sorted, one per key (a key the store's grouping split
 * in two keeps its first member). */
static int load_members(struct sync *s, struct err *e)
{
	size_t o = 0;
	int rc = audience_store_candidates(s->ctx->conn, &s->a, s->ops->scheme, candidate_cb, s, e);

	if (rc != 0 || s->n == 0)
		return rc;
	qsort(s->m, s->n, sizeof(*s->m), by_key);
	for (size_t i = 0; i < s->n; i++) {
		if (o > 0 && strcmp(s->m[o - 1].key, s->m[i].key) == 0) {
			audience_member_cleanup(&s->m[i]);
			continue;
		}
		s->m[o++] = s->m[i];
	}
	s->n = o;
	return 0;
}

/* ---- one audience -------------------------------------------------------------- */

static void sync_cleanup(struct sync *s)
{
	token_drop(s);
	oauth_cache_free(s->own_oauth);
	for (size_t i = 0; i < s->n; i++)
		audience_member_cleanup(&s->m[i]);
	free(s->m);
	dest_entry_unref(s->dest);
	dest_cache_cleanup(&s->cache);
	audience_row_cleanup(&s->a);
}

static int sync_load(struct sync *s, int64_t audience_id, struct err *e)
{
	char ref[24];
	int rc;

	snprintf(ref, sizeof(ref), "%" PRId64, audience_id);
	rc = audience_store_find(s->ctx->conn, ref, &s->a, e);
	if (rc == 0)
		rc = dest_cache_get(&s->cache, s->ctx->conn, s->ctx->cfg, s->ctx->vault,
				    s->a.destination_id, &s->dest, e);
	if (rc != 0)
		return rc;
	s->ops = audience_ops_find(s->dest->d.kind);
	if (s->ops == NULL)
		return err_set(e, ERR_CONFIG, "destinations of kind %s have no audiences",
			       s->dest->d.kind);
	/* Paused by an operator (or for reauthorization): nothing is sent to
	 * it until it is resumed, audiences included. */
	if (!s->dest->d.enabled)
		return err_set(e, ERR_CONFIG, "destination \"%s\" is paused", s->dest->d.name);
	return 0;
}

static int sync_run(struct sync *s, int64_t audience_id, struct audience_sync_counts *out,
		    struct err *e)
{
	struct audience_diff diff = { 0 };
	int rc;

	rc = sync_load(s, audience_id, e);
	if (rc == 0)
		rc = load_members(s, e);
	if (rc == 0)
		rc = audience_store_diff(s->ctx->conn, s->a.id, s->m, s->n, &diff, e);
	if (rc != 0)
		return rc;
	out->skipped = s->skipped;
	out->unchanged = diff.n_unchanged;
	s->to_send = diff.n_add + diff.n_remove;
	rc = send_additions(s, diff.add, diff.n_add, &out->added, e);
	if (rc == 0)
		rc = send_removals(s, diff.remove, diff.n_remove, &out->removed, e);
	audience_diff_cleanup(&diff);
	return rc;
}

int audience_sync_one(const struct audience_sync_ctx *ctx, int64_t audience_id,
		      struct audience_sync_counts *out, struct err *e)
{
	struct sync s = { .ctx = ctx };
	struct err fe = { 0 };
	bool got = false;
	int rc;

	memset(out, 0, sizeof(*out));
	dest_cache_init(&s.cache);
	rc = audience_store_try_lock(ctx->conn, audience_id, &got, e);
	if (rc == 0 && !got)
		rc = err_set(e, ERR_BUSY, "audience %" PRId64 " is being synced by another session",
			     audience_id);
	if (rc != 0) {
		sync_cleanup(&s);
		return rc;
	}
	rc = sync_run(&s, audience_id, out, e);
	/* A stop leaves the audience due, so the next start finishes it. */
	if (rc != ERR_BUSY && rc != ERR_DB && rc != ERR_NOTFOUND &&
	    audience_store_finish(ctx->conn, audience_id, rc == 0 ? NULL : e->msg, &fe) != 0 &&
	    rc == 0) {
		*e = fe;
		rc = fe.code;
	}
	audience_store_unlock(ctx->conn, audience_id);
	sync_cleanup(&s);
	return rc;
}

int audience_sync_due(const struct audience_sync_ctx *ctx, int64_t interval_ms, struct err *e)
{
	int64_t *ids = NULL;
	size_t n = 0;
	bool got = false;
	int rc;

	rc = audience_store_try_lock_round(ctx->conn, &got, e);
	if (rc != 0 || !got)
		return rc;
	rc = audience_store_due(ctx->conn, interval_ms, &ids, &n, e);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct audience_sync_counts c;
		struct err se = { 0 };
		int r;

		if (ctx->should_stop && ctx->should_stop(ctx->stop_arg))
			break;
		r = audience_sync_one(ctx, ids[i], &c, &se);
		if (r == 0)
			log_info("audience synced",
				 "audience=%" PRId64 " added=%zu removed=%zu"
				 " unchanged=%zu skipped=%zu",
				 ids[i], c.added, c.removed, c.unchanged, c.skipped);
		else if (r == ERR_DB)
			rc = err_set(e, ERR_DB, "%s", se.msg);
		else if (r != ERR_BUSY)
			log_warn("audience sync failed",
				 "audience=%" PRId64 " added=%zu"
				 " removed=%zu err=\"%s\"",
				 ids[i], c.added, c.removed, se.msg);
	}
	free(ids);
	audience_store_unlock_round(ctx->conn);
	return rc;
}

/* ---- creating a list --------------------------------------------------------------- */

struct create_arg {
	const char *name;
	char *list_id;
	size_t len;
};

static int build_create(struct sync *s, const void *arg, struct upload_req *req, struct err *e)
{
	const struct create_arg *c = arg;

	return s->ops->build_create_list(&s->dest->d, s->token, c->name,
					 "Customers synced by AdsEngineer", req, e);
}

static int on_created(struct sync *s, const struct upload_resp *resp, void *arg, struct err *e)
{
	struct create_arg *c = arg;

	return s->ops->parse_create_list(resp, c->list_id, c->len, e);
}

int audience_sync_create_list(const struct audience_sync_ctx *ctx, const char *dest_id,
			      const char *name, char *list_id, size_t len, struct err *e)
{
	struct sync s = { .ctx = ctx };
	struct create_arg c = { name, list_id, len };
	int rc;

	dest_cache_init(&s.cache);
	rc = dest_cache_get(&s.cache, ctx->conn, ctx->cfg, ctx->vault, dest_id, &s.dest, e);
	if (rc == 0) {
		s.ops = audience_ops_find(s.dest->d.kind);
		if (s.ops == NULL)
			rc = err_set(e, ERR_CONFIG, "destinations of kind %s have no audiences",
				     s.dest->d.kind);
	}
	if (rc == 0)
		rc = send_request(&s, build_create, &c, on_created, &c, e);
	sync_cleanup(&s);
	return rc;
}
