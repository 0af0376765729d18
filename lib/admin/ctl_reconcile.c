/*
 * ctl_reconcile.c - `adsengctl source reconcile SOURCE --since T` and
 * `… --interval D`: the CLI's front end of pipeline/reconcile.h, which
 * pages through the sender's own API (WooCommerce never retries a webhook)
 * and stores what its webhooks missed through the ingest path.  The
 * daemon runs the same operation every --interval.
 */
#include "admin/ctl.h"
#include "admin/ctl_progress.h"
#include "admin/ctl_reconcile.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/vault.h"
#include "pipeline/reconcile.h"
#include "sources/source.h"
#include "store/admin.h"
#include "store/reconcile_store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* The longest interval, and the shortest (a shop's API is not a queue). */
#define INTERVAL_MAX_MS (7LL * 24 * 3600 * 1000)
#define INTERVAL_MIN_MS (60LL * 1000)

static int report(struct ctl *c, const char *source_id, int64_t since_us,
		  const struct reconcile_stats *st)
{
	if (!c->json) {
		fprintf(c->out,
			"pages %ld orders %ld not_conversions %ld present %ld stored %ld "
			"already_stored %ld\n",
			st->pages, st->items, st->not_conversions, st->present, st->stored,
			st->duplicates);
		return CTL_EXIT_OK;
	}
	return ctl_emit_json(c, reconcile_stats_json(source_id, since_us, st));
}

static void on_progress(void *arg, long items)
{
	ctl_progress_update(arg, (size_t)items, 0);
}

static int run_once(struct ctl *c, PGconn *conn, const struct admin_obj *src, const char *since)
{
	struct ctl_progress prog;
	struct reconcile_ctx ctx = {
		.conn = conn, .actor = ctl_actor(), .progress = on_progress, .progress_arg = &prog
	};
	struct reconcile_stats st;
	struct config *cfg;
	struct vault *v = NULL;
	struct err e = { 0 };
	int64_t since_us;
	int rc;

	if (ctl_parse_time(since, clock_wall_ms() * 1000, &since_us, &e) != 0)
		return ctl_usage_error(c, "invalid --since: %s", e.msg);
	rc = ctl_config(c, &cfg, &e);
	if (rc == 0)
		rc = vault_open(cfg->master_key_file, &v, &e);
	if (rc == 0) {
		ctx.vault = v;
		ctl_progress_init(&prog, c, "orders examined");
		rc = reconcile_source(&ctx, src->id, since_us, &st, &e);
		ctl_progress_end(&prog);
	}
	vault_free(v);
	if (rc != 0)
		return ctl_fail(c, &e);
	return report(c, src->id, since_us, &st);
}

static int set_interval(struct ctl *c, PGconn *conn, const struct admin_obj *src, const char *d)
{
	int64_t ms = 0;
	struct err e = { 0 };

	if (strcmp(d, "off") != 0 && (config_parse_duration_ms(d, &ms) != 0 ||
				      (ms != 0 && ms < INTERVAL_MIN_MS) || ms > INTERVAL_MAX_MS))
		return ctl_usage_error(c,
				       "invalid --interval \"%s\": a duration from 1m to 7d "
				       "(such as 1h), or off",
				       d);
	if (reconcile_store_set_interval(conn, ctl_actor(), src->id, ms / 1000, &e) != 0)
		return ctl_fail(c, &e);
	if (ms == 0)
		fprintf(c->out, "source %s: periodic reconcile off\n", src->name);
	else
		fprintf(c->out, "source %s: reconciled every %s by the daemon\n", src->name, d);
	return CTL_EXIT_OK;
}

int ctl_run_source_reconcile(struct ctl *c, const struct ctl_args *a)
{
	const char *since = ctl_arg(a, "since"), *interval = ctl_arg(a, "interval");
	const struct source_ops *ops;
	struct admin_obj src;
	struct err e = { 0 };
	PGconn *conn;

	if ((since == NULL) == (interval == NULL))
		return ctl_usage_error(c, "give either --since T (run now) or --interval D");
	if (ctl_db(c, &conn, &e) != 0 || ctl_find_source(conn, a->pos[0], &src, &e) != 0)
		return ctl_fail(c, &e);
	ops = source_ops_find(src.kind);
	if (ops == NULL || ops->rest == NULL) {
		err_set(&e, ERR_INVALID,
			"source \"%s\" is a %s source: only sources whose platform lists "
			"its orders (woocommerce) are reconciled",
			src.name, src.kind);
		return ctl_fail(c, &e);
	}
	if (since)
		return run_once(c, conn, &src, since);
	return set_interval(c, conn, &src, interval);
}

const struct ctl_optspec ctl_reconcile_opts[] = {
	{ "since", CTL_OPT_VALUE, "T", false,
	  "run now: orders modified since T (RFC 3339, or an age such as 2h, 3d)" },
	{ "interval", CTL_OPT_VALUE, "D", false,
	  "let the daemon run it every D (1m..7d, e.g. 1h), from where its last good run "
	  "started; off stops it" },
	{ NULL, CTL_OPT_FLAG, NULL, false, NULL },
};
