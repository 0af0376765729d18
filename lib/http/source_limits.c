/*
 * source_limits.c - the per-source token bucket on ingest (README "Rate
 * limits").  Every request to a known source takes a token before its body
 * is read, verified or queued; an empty bucket answers 429 with the
 * seconds until the next token in Retry-After, and nothing is stored.
 *
 * The buckets belong to the HTTP loop thread, like the source snapshot
 * they follow: one per source, in an array parallel to the snapshot's
 * sorted sources, so a lookup is the source's index (no hash, no lock)
 * and the array is bounded by the sources there are.  When a new snapshot
 * arrives the buckets of the sources that stay are carried over (an edit
 * or a reload that keeps a limit does not refill anyone's bucket; one that
 * raises the burst adds the growth at once, core/ratelimit.h), new sources start
 * full, and those that disappeared are dropped with the old array.  A
 * source's own limit (settings.ratelimit_rate / ratelimit_burst, set by
 * `source add --rate-limit`) is read from its settings then, once, not per
 * request; the [ratelimit] defaults are read from the live config on every
 * request, so a reload applies at once.  The arithmetic is core/ratelimit.
 *
 * Limits are per daemon instance: two daemons behind a balancer let a
 * source through up to twice the rate.
 */
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/ratelimit.h"
#include "http/server_int.h"
#include "pipeline/telemetry.h"

#include <cjson/cJSON.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct source_limit {
	struct ratelimit_bucket bucket;
	int64_t rate, burst; /* the source's own limit; rate 0 = the config's */
};

/* A positive whole number settings[name], else 0. */
static int64_t settings_int(const cJSON *settings, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, name);

	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1) || v->valuedouble > 1e7)
		return 0;
	return (int64_t)v->valuedouble;
}

/* The source's own limit from its settings JSON (rate 0 when none). */
static void read_override(const struct source *src, struct source_limit *l)
{
	cJSON *j = src->settings_json ? cJSON_Parse(src->settings_json) : NULL;

	l->rate = settings_int(j, "ratelimit_rate");
	l->burst = l->rate ? settings_int(j, "ratelimit_burst") : 0;
	if (l->rate && l->burst == 0)
		l->burst = l->rate * 4;
	cJSON_Delete(j);
}

static struct ratelimit_policy policy_of(const struct source_limit *l, const struct config *cfg)
{
	if (l->rate)
		return (struct ratelimit_policy){ (double)l->rate, (double)l->burst };
	return (struct ratelimit_policy){ (double)cfg->ratelimit_rate,
					  (double)cfg->ratelimit_burst };
}

void http_limits_swap(struct http_server *s, const struct source_set *set)
{
	struct source_limit *limits = NULL;
	struct config *cfg = runtime_config(s->rt);
	int64_t now = clock_mono_us();

	if (set && set->n)
		limits = xcalloc(set->n, sizeof(*limits));
	for (size_t i = 0; limits && i < set->n; i++) {
		const struct source *old = source_set_find(s->sources, set->v[i].id);
		struct ratelimit_policy p;

		read_override(&set->v[i], &limits[i]);
		p = policy_of(&limits[i], cfg);
		if (old && s->limits)
			limits[i].bucket = s->limits[old - s->sources->v].bucket;
		else
			ratelimit_init(&limits[i].bucket, &p, now);
	}
	config_unref(cfg);
	free(s->limits);
	s->limits = limits;
}

bool http_limits_allow(struct http_server *s, struct evhttp_request *req, const struct source *src,
		       const char *request_id)
{
	struct source_limit *l;
	struct ratelimit_policy p;
	struct config *cfg;
	int64_t retry = 1;
	char v[24];
	int suppressed;
	bool ok;

	if (s->limits == NULL || s->sources == NULL)
		return true;
	l = &s->limits[src - s->sources->v];
	cfg = runtime_config(s->rt);
	p = policy_of(l, cfg);
	config_unref(cfg);
	ok = ratelimit_take(&l->bucket, &p, clock_mono_us(), &retry);
	if (ok)
		return true;
	if (log_ratelimit_allow(&s->rl_limited, 60, &suppressed))
		log_info("webhook rate limited",
			 "source=%s request_id=%s status=429 rate=%.0f burst=%.0f "
			 "retry_after=%lld suppressed=%d",
			 src->id, request_id, p.rate, p.burst, (long long)retry, suppressed);
	/* Set before http_reply_error, which then keeps ours. */
	snprintf(v, sizeof(v), "%lld", (long long)retry);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
	telemetry_ingest_answered(src->kind, 429);
	http_reply_error(req, 429, "rate_limited",
			 "too many requests for this source; retry after Retry-After seconds");
	return false;
}

void http_limits_cleanup(struct http_server *s)
{
	free(s->limits);
	s->limits = NULL;
}
