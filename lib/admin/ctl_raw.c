/*
 * ctl_raw.c - adsengctl's commands on raw events (webhooks as received):
 * `reprocess`, which sends raw events that stage 1 marked 'error' through
 * normalization again, typically after a parser fix; and `purge`, the
 * retention of raw events and their dedup keys.  The SQL lives in
 * store/admin_raw.c and store/admin_purge.c.
 */
#include "admin/ctl.h"
#include "admin/ctl_progress.h"
#include "core/clock.h"
#include "core/mem.h"
#include "store/admin.h"
#include "store/admin_purge.h"
#include "store/admin_raw.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define REPROCESS_MAX_IDS 1000
#define IDS_BUF		  65536

struct reprocess_opts {
	struct admin_reprocess_filter f;
	int64_t ids[REPROCESS_MAX_IDS];
	bool dry_run;
};

static const char *str_of(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));

	return s ? s : "";
}

static int64_t num_of(const cJSON *obj, const char *key)
{
	return (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* --raw-event values, deduplicated, in order. */
static int reprocess_ids(struct ctl *c, const struct ctl_args *a, struct reprocess_opts *o)
{
	const char *items[REPROCESS_MAX_IDS];
	char *buf = xmalloc(IDS_BUF);
	int n = ctl_arg_list(a, "raw-event", buf, IDS_BUF, items, REPROCESS_MAX_IDS);
	int rc = 0;

	if (n < 0)
		rc = ctl_usage_error(c, "too many raw event ids (at most %d)", REPROCESS_MAX_IDS);
	for (int i = 0; rc == 0 && i < n; i++) {
		int64_t id;
		bool seen = false;

		if (ctl_parse_int64(items[i], 1, INT64_MAX, &id) != 0) {
			rc = ctl_usage_error(c, "invalid raw event id \"%s\"", items[i]);
			break;
		}
		for (size_t k = 0; k < o->f.n_ids; k++)
			seen = seen || o->ids[k] == id;
		if (!seen)
			o->ids[o->f.n_ids++] = id;
	}
	if (rc == 0 && o->f.n_ids > 0)
		o->f.ids = o->ids;
	free(buf);
	return rc;
}

static int time_opt(struct ctl *c, const struct ctl_args *a, const char *name, bool *has,
		    int64_t *us)
{
	struct err e = { 0 };
	const char *v = ctl_arg(a, name);

	*has = v != NULL;
	if (v && ctl_parse_time(v, clock_wall_ms() * 1000, us, &e) != 0)
		return ctl_usage_error(c, "--%s: %s", name, e.msg);
	return 0;
}

/*
 * Either --raw-event ID... or --source S --since T [--until T]: the two
 * ways DESIGN §4 names.  --since is required with --source because raw
 * events are found by time (no index on source_id).
 */
static int reprocess_parse(struct ctl *c, const struct ctl_args *a, struct reprocess_opts *o)
{
	bool by_source = ctl_arg(a, "source") != NULL;
	int rc = reprocess_ids(c, a, o);

	if (rc != 0)
		return rc;
	if (o->f.ids && by_source)
		return ctl_usage_error(c, "give either --raw-event or --source, not both");
	if (!o->f.ids && !by_source)
		return ctl_usage_error(c, "give --raw-event ID or --source S --since TIME");
	if (o->f.ids && (ctl_arg(a, "since") || ctl_arg(a, "until")))
		return ctl_usage_error(c, "--since and --until go with --source");
	if (by_source && !ctl_arg(a, "since"))
		return ctl_usage_error(c, "--source needs --since TIME");
	rc = time_opt(c, a, "since", &o->f.has_since, &o->f.since_us);
	if (rc == 0)
		rc = time_opt(c, a, "until", &o->f.has_until, &o->f.until_us);
	o->dry_run = ctl_flag(a, "dry-run");
	return rc;
}

static void reprocess_print(struct ctl *c, const cJSON *res, bool dry_run)
{
	static const struct ctl_col cols[] = {
		{ "id", "ID", 0 },
		{ "source_id", "SOURCE", 0 },
		{ "received_at", "RECEIVED_AT", 0 },
		{ "topic", "TOPIC", 24 },
		{ "error", "ERROR", 60 },
		{ NULL, NULL, 0 },
	};
	const cJSON *it, *sample = cJSON_GetObjectItemCaseSensitive(res, "sample");
	int64_t count = num_of(res, "count");

	cJSON_ArrayForEach (it, cJSON_GetObjectItemCaseSensitive(res, "ids")) {
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "reprocessed")) &&
		    !(dry_run && strcmp(str_of(it, "reason"), "would be reprocessed") == 0))
			fprintf(c->out, "raw event %lld%s%s: not reprocessed: %s\n",
				(long long)num_of(it, "id"), str_of(it, "state")[0] ? " is " : "",
				str_of(it, "state"), str_of(it, "reason"));
	}
	if (count > 0) {
		if (count > cJSON_GetArraySize(sample))
			fprintf(c->out, "the first %d of them:\n", cJSON_GetArraySize(sample));
		ctl_print_table(c, cols, sample);
	}
	if (dry_run)
		fprintf(c->out, "dry run: would reprocess %lld raw events; nothing changed\n",
			(long long)count);
	else
		fprintf(c->out, "reprocessed %lld raw events: queued for stage 1 again\n",
			(long long)count);
}

static int run_reprocess(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	struct reprocess_opts *o = xcalloc(1, sizeof(*o));
	struct admin_obj src;
	const char *source = ctl_arg(a, "source");
	PGconn *conn;
	cJSON *res = NULL;
	int rc = reprocess_parse(c, a, o);

	if (rc != 0)
		goto out;
	if (ctl_db(c, &conn, &e) != 0 || (source && ctl_find_source(conn, source, &src, &e) != 0)) {
		rc = ctl_fail(c, &e);
		goto out;
	}
	o->f.source_id = source ? src.id : NULL;
	if (admin_reprocess(conn, ctl_actor(), &o->f, o->dry_run, &res, &e) != 0) {
		rc = ctl_fail(c, &e);
		goto out;
	}
	if (c->json) {
		rc = ctl_emit_json(c, res);
		res = NULL;
	} else {
		reprocess_print(c, res, o->dry_run);
		rc = CTL_EXIT_OK;
	}
out:
	cJSON_Delete(res);
	free(o);
	return rc;
}

static void purge_progress(void *arg, size_t done, size_t total)
{
	ctl_progress_update(arg, done, total);
}

static void purge_print(struct ctl *c, const cJSON *res)
{
	const cJSON *d, *dropped = cJSON_GetObjectItemCaseSensitive(res, "partitions_dropped");
	const cJSON *kept = cJSON_GetObjectItemCaseSensitive(res, "partitions_kept");
	bool dry = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "dry_run"));

	fprintf(c->out, "%s %lld raw events received before %s, %lld dedup keys, %lld item keys\n",
		dry ? "dry run: would purge" : "purged", (long long)num_of(res, "raw_events"),
		str_of(res, "before"), (long long)num_of(res, "ingest_keys"),
		(long long)num_of(res, "item_keys"));
	cJSON_ArrayForEach (d, dropped)
		fprintf(c->out, "%s partition %s\n", dry ? "would drop" : "dropped",
			cJSON_GetStringValue(d));
	cJSON_ArrayForEach (d, kept)
		fprintf(c->out, "kept partition %s: %s\n", str_of(d, "name"), str_of(d, "reason"));
	if (num_of(res, "kept_pending") > 0)
		fprintf(c->out, "kept %lld older raw events still waiting for stage 1\n",
			(long long)num_of(res, "kept_pending"));
}

static int run_purge(struct ctl *c, const struct ctl_args *a)
{
	struct admin_purge_opts o = { .dry_run = ctl_flag(a, "dry-run"), .actor = ctl_actor() };
	struct ctl_progress prog;
	struct err e = { 0 };
	PGconn *conn;
	cJSON *res = NULL;
	int rc;

	if (ctl_parse_time(ctl_arg(a, "older-than"), clock_wall_ms() * 1000, &o.before_us, &e) != 0)
		return ctl_usage_error(c, "--older-than: %s", e.msg);
	if (ctl_db(c, &conn, &e) != 0)
		return ctl_fail(c, &e);
	o.progress = purge_progress;
	o.progress_arg = &prog;
	ctl_progress_init(&prog, c, "purge steps");
	rc = admin_purge(conn, &o, &res, &e);
	ctl_progress_end(&prog);
	if (res && c->json) {
		if (ctl_print_json(c, res) != 0 && rc == 0)
			rc = err_set(&e, ERR_NOMEM, "out of memory");
	} else if (res) {
		purge_print(c, res);
	}
	cJSON_Delete(res);
	return rc != 0 ? ctl_fail(c, &e) : CTL_EXIT_OK;
}

static const struct ctl_optspec purge_opts[] = {
	{ "older-than", CTL_OPT_VALUE, "AGE", true,
	  "purge raw events received before now minus AGE (30d, 12w; at least 7d) or before an "
	  "RFC 3339 time" },
	{ "dry-run", CTL_OPT_FLAG, NULL, false, "count, change nothing" },
	{ NULL, 0, NULL, false, NULL },
};

static const struct ctl_optspec reprocess_opts[] = {
	{ "raw-event", CTL_OPT_LIST, "ID", false, "these raw events (repeat, or ID,ID,...)" },
	{ "source", CTL_OPT_VALUE, "S", false,
	  "the raw events of this source (id or unique name)" },
	{ "since", CTL_OPT_VALUE, "TIME", false,
	  "with --source: received at or after TIME (RFC 3339 or 30m, 2h, 7d)" },
	{ "until", CTL_OPT_VALUE, "TIME", false, "with --source: received before TIME" },
	{ "dry-run", CTL_OPT_FLAG, NULL, false, "change nothing, show what would be reprocessed" },
	{ NULL, 0, NULL, false, NULL },
};

const struct ctl_cmd ctl_raw_cmds[] = {
	{ "reprocess", NULL, NULL, "re-run normalization of raw events in error",
	  "Name the raw events with --raw-event ID..., or a source's with --source S --since\n"
	  "TIME [--until TIME].\n\n"
	  "Put raw events that stage 1 marked 'error' back in its queue (state and error\n"
	  "cleared), in one transaction recorded in the audit log, then wake the workers:\n"
	  "after a parser fix they are parsed again.  A conversion that already exists is\n"
	  "not made twice.  Only events in error move; done, ignored and pending ones named\n"
	  "by --raw-event are reported and left alone.",
	  reprocess_opts, 0, 0, true, run_reprocess },
	{ "purge", NULL, NULL, "delete raw events and dedup keys older than an age",
	  "Retention of what is received (raw webhook bodies are where clear PII is kept):\n"
	  "raw events received before the cutoff and the inbound dedup keys of the same age go.\n"
	  "Whole monthly partitions before the cutoff are detached concurrently and dropped,\n"
	  "so ingest is never blocked; in the month of the cutoff the older rows are deleted\n"
	  "in short batches.  A raw event still waiting for stage 1 is never purged, whatever\n"
	  "its age, nor its partition.  Conversions, deliveries and attempts stay.  The cutoff\n"
	  "must be at least 7 days back (senders retry for days; a dedup key must outlive\n"
	  "every retry).  One audit_log row \"purge\" records the counts.  Run it from cron or\n"
	  "a systemd timer.",
	  purge_opts, 0, 0, true, run_purge },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
