/*
 * ctl_deliveries.c - adsengctl's view of the delivery queue: `deliveries
 * list|show`, `replay` (failed/dead/held back to pending) and `stats`
 * (backlog per destination, and the age of the oldest pending row: the
 * signal that tells a stuck pipeline from a quiet one).
 */
#include "admin/ctl.h"
#include "admin/ctl_progress.h"
#include "core/clock.h"
#include "core/mem.h"
#include "store/admin.h"
#include "store/quota_store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX	   100000
#define REPLAY_MAX_IDS	   1000

/* ---- shared helpers ------------------------------------------------------------ */

static int64_t now_us(void)
{
	return clock_wall_ms() * 1000;
}

static const char *str_of(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));

	return s ? s : "";
}

static int64_t num_of(const cJSON *obj, const char *key)
{
	return (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* A destination's circuit breaker in words: "closed", "closed (2
 * failures)", "open until T", "half-open (probing)". */
static void breaker_text(const cJSON *dest, char *out, size_t len)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(dest, "breaker");
	const char *state = str_of(b, "state");
	int64_t failures = num_of(b, "failures");

	if (strcmp(state, "open") == 0)
		snprintf(out, len, "open until %s", str_of(b, "retry_at"));
	else if (strcmp(state, "half_open") == 0)
		snprintf(out, len, "half-open (probing)");
	else if (failures > 0)
		snprintf(out, len, "closed (%lld failure%s)", (long long)failures,
			 failures == 1 ? "" : "s");
	else
		snprintf(out, len, "closed");
}

/* Parse an optional TIME option; usage error when malformed. */
static int time_opt(struct ctl *c, const struct ctl_args *a, const char *name, bool *has,
		    int64_t *us)
{
	struct err e = { 0 };
	const char *v = ctl_arg(a, name);

	*has = v != NULL;
	if (v && ctl_parse_time(v, now_us(), us, &e) != 0)
		return ctl_usage_error(c, "--%s: %s", name, e.msg);
	return 0;
}

/* Resolve the optional --destination and --tenant filters. */
static int resolve_filters(struct ctl *c, const struct ctl_args *a, PGconn **conn,
			   struct admin_obj *dest, bool *has_dest, int64_t *tenant_id,
			   struct err *e)
{
	const char *d = ctl_arg(a, "destination"), *t = ctl_arg(a, "tenant");
	int rc = ctl_db(c, conn, e);

	*has_dest = d != NULL;
	*tenant_id = 0;
	if (rc == 0 && d)
		rc = ctl_find_destination(*conn, d, dest, e);
	if (rc == 0 && t)
		rc = ctl_find_tenant(*conn, t, tenant_id, e);
	return rc;
}

/* ---- deliveries list ---------------------------------------------------------------- */

static int run_deliveries_list(struct ctl *c, const struct ctl_args *a)
{
	static const struct ctl_col cols[] = {
		{ "id", "ID", 0 },
		{ "state", "STATE", 0 },
		{ "attempts", "ATTEMPTS", 0 },
		{ "destination", "DESTINATION", 30 },
		{ "event", "EVENT", 20 },
		{ "event_id", "EVENT_ID", 40 },
		{ "next_attempt_at", "NEXT_ATTEMPT_AT", 0 },
		{ "last_status", "LAST_STATUS", 0 },
		{ "last_error", "LAST_ERROR", 60 },
		{ NULL, NULL, 0 },
	};
	struct err e = { 0 };
	struct admin_delivery_filter f = { .limit = LIST_LIMIT_DEFAULT };
	struct admin_obj dest;
	const char *limit = ctl_arg(a, "limit");
	bool has_dest;
	PGconn *conn;
	cJSON *rows = NULL;

	f.state = ctl_arg(a, "state");
	if (f.state && !ctl_is_delivery_state(f.state))
		return ctl_usage_error(c,
				       "unknown state \"%s\": use pending, in_flight, delivered, "
				       "failed, dead, held or skipped",
				       f.state);
	if (limit && ctl_parse_int64(limit, 1, LIST_LIMIT_MAX, &f.limit) != 0)
		return ctl_usage_error(c, "invalid limit \"%s\": 1 to %d", limit, LIST_LIMIT_MAX);
	if (time_opt(c, a, "since", &f.has_since, &f.since_us) != 0)
		return CTL_EXIT_USAGE;
	if (resolve_filters(c, a, &conn, &dest, &has_dest, &f.tenant_id, &e) != 0)
		return ctl_fail(c, &e);
	f.destination_id = has_dest ? dest.id : NULL;
	if (admin_deliveries_list(conn, &f, &rows, &e) != 0)
		return ctl_fail(c, &e);
	if (c->json)
		return ctl_emit_json(c, rows);
	ctl_print_table(c, cols, rows);
	cJSON_Delete(rows);
	return CTL_EXIT_OK;
}

/* ---- deliveries show ---------------------------------------------------------------- */

/* "  label  value" lines for the given keys of obj. */
static void print_fields(struct ctl *c, const cJSON *obj, const char *const *keys)
{
	for (; *keys; keys++) {
		char *t = ctl_value_text(cJSON_GetObjectItemCaseSensitive(obj, *keys));

		if (t[0])
			fprintf(c->out, "  %-16s %s\n", *keys, t);
		else
			fprintf(c->out, "  %s\n", *keys);
		free(t);
	}
}

/* Pretty JSON, every line indented. */
static void print_indented_json(struct ctl *c, const cJSON *v, const char *indent)
{
	char *text = cJSON_Print(v), *save = NULL;

	if (text == NULL)
		return;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		fprintf(c->out, "%s%s\n", indent, line);
	cJSON_free(text);
}

static void print_breaker(struct ctl *c, const cJSON *dest)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(dest, "breaker");
	char text[96];

	breaker_text(dest, text, sizeof(text));
	fprintf(c->out, "  %-16s %s\n", "breaker", text);
	if (strcmp(str_of(b, "state"), "closed") != 0 || num_of(b, "failures") > 0)
		fprintf(c->out, "  %-16s %s\n", "breaker_error", str_of(b, "last_error"));
}

static void print_delivery(struct ctl *c, const cJSON *show)
{
	static const char *const dkeys[] = { "state",	     "attempts",    "next_attempt_at",
					     "lease_until",  "last_status", "platform_code",
					     "last_error",   "created_at",  "updated_at",
					     "delivered_at", "request_id",  NULL };
	static const char *const ckeys[] = { "event",	   "event_id",	"occurred_at",
					     "value",	   "currency",	"order_id",
					     "source",	   "source_id", "raw_event_id",
					     "created_at", NULL };
	static const char *const rkeys[] = { "status",	   "summary", "events",	      "sent_at",
					     "checked_at", "polls",   "next_poll_at", NULL };
	static const char *const xkeys[] = { "id",	"kind",		 "tenant",
					     "enabled", "paused_reason", "test_mode",
					     NULL };
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(show, "delivery");
	const cJSON *conv = cJSON_GetObjectItemCaseSensitive(show, "conversion");
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(show, "destination");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(show, "platform_request");

	fprintf(c->out, "delivery %lld\n", (long long)num_of(d, "id"));
	print_fields(c, d, dkeys);
	fprintf(c->out, "\ndestination \"%s\"\n", str_of(x, "name"));
	print_fields(c, x, xkeys);
	print_breaker(c, x);
	if (cJSON_IsObject(req)) {
		fprintf(c->out, "\nplatform request %s\n", str_of(req, "request_id"));
		print_fields(c, req, rkeys);
	}
	fprintf(c->out, "\nconversion %lld\n", (long long)num_of(conv, "id"));
	print_fields(c, conv, ckeys);
	fprintf(c->out, "  payload\n");
	print_indented_json(c, cJSON_GetObjectItemCaseSensitive(conv, "payload"), "    ");
}

static int run_deliveries_show(struct ctl *c, const struct ctl_args *a)
{
	static const struct ctl_col cols[] = {
		{ "at", "AT", 0 },
		{ "outcome", "OUTCOME", 0 },
		{ "http_status", "HTTP_STATUS", 0 },
		{ "platform_code", "PLATFORM_CODE", 0 },
		{ "latency_ms", "LATENCY_MS", 0 },
		{ "error", "ERROR", 0 },
		{ NULL, NULL, 0 },
	};
	struct err e = { 0 };
	PGconn *conn;
	cJSON *show = NULL, *attempts;
	int64_t id;

	if (ctl_parse_int64(a->pos[0], 1, INT64_MAX, &id) != 0)
		return ctl_usage_error(c, "invalid delivery id \"%s\"", a->pos[0]);
	if (ctl_db(c, &conn, &e) != 0 || admin_delivery_show(conn, id, &show, &e) != 0)
		return ctl_fail(c, &e);
	if (c->json)
		return ctl_emit_json(c, show);
	print_delivery(c, show);
	attempts = cJSON_GetObjectItemCaseSensitive(show, "attempts");
	fprintf(c->out, "\nattempts (%d)\n", cJSON_GetArraySize(attempts));
	if (cJSON_GetArraySize(attempts) > 0)
		ctl_print_table(c, cols, attempts);
	cJSON_Delete(show);
	return CTL_EXIT_OK;
}

/* ---- replay --------------------------------------------------------------------------- */

struct replay_opts {
	struct admin_replay_filter f;
	int64_t ids[REPLAY_MAX_IDS];
	struct admin_obj dest;
	bool dry_run;
};

/* --state values into the bit set; the default depends on --id. */
static int replay_states(struct ctl *c, const struct ctl_args *a, bool have_ids, unsigned *mask)
{
	struct err e = { 0 };
	const char *states[8];
	char buf[512];
	int n = ctl_arg_list(a, "state", buf, sizeof(buf), states, 8);

	if (n < 0)
		return ctl_usage_error(c, "too many --state values");
	*mask = 0;
	for (int i = 0; i < n; i++) {
		if (ctl_parse_replay_state(states[i], mask, &e) != 0)
			return ctl_usage_error(c, "%s", e.msg);
	}
	/* Naming ids is explicit enough to include held ones. */
	if (n == 0)
		*mask = CTL_STATE_FAILED | CTL_STATE_DEAD | (have_ids ? CTL_STATE_HELD : 0);
	return 0;
}

static bool have_id(const int64_t *ids, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == id)
			return true;
	}
	return false;
}

/* --id values and positional ids, deduplicated, in order. */
static int replay_ids(struct ctl *c, const struct ctl_args *a, struct replay_opts *o)
{
	const char *items[REPLAY_MAX_IDS];
	char *buf = xmalloc(65536);
	int n = ctl_arg_list(a, "id", buf, 65536, items, REPLAY_MAX_IDS);
	int rc = 0;

	for (int i = 0; n >= 0 && i < a->n_pos; i++) {
		if (n >= REPLAY_MAX_IDS)
			n = -1;
		else
			items[n++] = a->pos[i];
	}
	if (n < 0)
		rc = ctl_usage_error(c, "too many delivery ids (at most %d)", REPLAY_MAX_IDS);
	for (int i = 0; rc == 0 && i < n; i++) {
		int64_t id;

		if (ctl_parse_int64(items[i], 1, INT64_MAX, &id) != 0)
			rc = ctl_usage_error(c, "invalid delivery id \"%s\"", items[i]);
		else if (!have_id(o->ids, o->f.n_ids, id))
			o->ids[o->f.n_ids++] = id;
	}
	if (rc == 0 && o->f.n_ids > 0)
		o->f.ids = o->ids;
	free(buf);
	return rc;
}

static int replay_parse(struct ctl *c, const struct ctl_args *a, struct replay_opts *o)
{
	int rc = replay_ids(c, a, o);

	if (rc == 0)
		rc = replay_states(c, a, o->f.ids != NULL, &o->f.states);
	if (rc == 0)
		rc = time_opt(c, a, "since", &o->f.has_since, &o->f.since_us);
	if (rc == 0)
		rc = time_opt(c, a, "until", &o->f.has_until, &o->f.until_us);
	o->dry_run = ctl_flag(a, "dry-run");
	return rc;
}

/* Warn once per paused destination with replayed rows: they are pending
 * but the workers skip a paused destination until it is resumed.  The
 * groups of one destination are adjacent (admin_replay orders them so). */
static void replay_warn_paused(struct ctl *c, const cJSON *res, bool dry_run)
{
	const cJSON *groups = cJSON_GetObjectItemCaseSensitive(res, "groups");
	const cJSON *g = groups ? groups->child : NULL;

	while (g) {
		const cJSON *first = g;
		const char *id = str_of(g, "destination_id");
		int64_t n = 0;

		for (; g && strcmp(str_of(g, "destination_id"), id) == 0; g = g->next)
			n += num_of(g, "count");
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(first, "paused")))
			continue;
		ctl_warn(c,
			 "destination \"%s\" is paused: %lld replayed %s %s not be sent until "
			 "\"adsengctl destination resume %s\"",
			 str_of(first, "destination"), (long long)n,
			 n == 1 ? "delivery" : "deliveries", dry_run ? "would" : "will", id);
	}
}

static void replay_print(struct ctl *c, const cJSON *res, bool dry_run)
{
	static const struct ctl_col gcols[] = {
		{ "destination", "DESTINATION", 40 },
		{ "state", "STATE", 0 },
		{ "count", "COUNT", 0 },
		{ "paused", "PAUSED", 0 },
		{ NULL, NULL, 0 },
	};
	static const struct ctl_col scols[] = {
		{ "id", "ID", 0 },
		{ "state", "STATE", 0 },
		{ "destination", "DESTINATION", 30 },
		{ "last_error", "LAST_ERROR", 80 },
		{ NULL, NULL, 0 },
	};
	const cJSON *groups = cJSON_GetObjectItemCaseSensitive(res, "groups"), *it;
	int64_t count = num_of(res, "count");

	cJSON_ArrayForEach (it, cJSON_GetObjectItemCaseSensitive(res, "ids")) {
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "replayed")) &&
		    !(dry_run && strcmp(str_of(it, "reason"), "would be replayed") == 0))
			fprintf(c->out, "delivery %lld%s%s: not replayed: %s\n",
				(long long)num_of(it, "id"), str_of(it, "state")[0] ? " is " : "",
				str_of(it, "state"), str_of(it, "reason"));
	}
	if (count > 0)
		ctl_print_table(c, gcols, groups);
	if (!dry_run) {
		fprintf(c->out, "replayed %lld deliveries\n", (long long)count);
		return;
	}
	if (count > 0) {
		fprintf(c->out, "\ndeliveries that would move (first %d):\n",
			cJSON_GetArraySize(cJSON_GetObjectItem(res, "sample")));
		ctl_print_table(c, scols, cJSON_GetObjectItemCaseSensitive(res, "sample"));
	}
	fprintf(c->out, "dry run: would replay %lld deliveries; nothing changed\n",
		(long long)count);
}

static void replay_progress_cb(void *arg, int64_t done, int64_t total)
{
	ctl_progress_update(arg, (size_t)done, (size_t)total);
}

static int run_replay(struct ctl *c, const struct ctl_args *a)
{
	struct ctl_progress prog;
	struct err e = { 0 };
	struct replay_opts *o = xcalloc(1, sizeof(*o));
	bool has_dest;
	PGconn *conn;
	cJSON *res = NULL;
	int rc = replay_parse(c, a, o);

	if (rc != 0)
		goto out;
	if (resolve_filters(c, a, &conn, &o->dest, &has_dest, &o->f.tenant_id, &e) != 0) {
		rc = ctl_fail(c, &e);
		goto out;
	}
	o->f.destination_id = has_dest ? o->dest.id : NULL;
	/* Rows moved so far, on a terminal only (ctl_progress.h). */
	ctl_progress_init(&prog, c, "deliveries replayed");
	o->f.progress = prog.on ? replay_progress_cb : NULL;
	o->f.progress_arg = &prog;
	rc = admin_replay(conn, ctl_actor(), &o->f, o->dry_run, &res, &e);
	ctl_progress_end(&prog);
	if (rc != 0) {
		rc = ctl_fail(c, &e);
		goto out;
	}
	replay_warn_paused(c, res, o->dry_run);
	if (c->json) {
		rc = ctl_emit_json(c, res);
		res = NULL;
	} else {
		replay_print(c, res, o->dry_run);
	}
out:
	cJSON_Delete(res);
	free(o);
	return rc;
}

/* ---- stats ------------------------------------------------------------------------------ */

/* "12 ok, 1 partial, 0 failed, 3 processing" for destinations whose
 * platform reports on requests later; "-" for the others. */
static void requests_text(const cJSON *row, char *out, size_t outlen)
{
	int64_t ok = num_of(row, "requests_success"), part = num_of(row, "requests_partial");
	int64_t bad = num_of(row, "requests_failed"), proc = num_of(row, "requests_processing");

	if (ok + part + bad + proc == 0)
		snprintf(out, outlen, "-");
	else
		snprintf(out, outlen, "%lld ok, %lld partial, %lld failed, %lld processing",
			 (long long)ok, (long long)part, (long long)bad, (long long)proc);
}

/* Text mode: ages as "5m2s", a status word. */
static void stats_humanize(cJSON *dests)
{
	static const char *const ages[][2] = { { "oldest_pending_s", "oldest_pending" },
					       { "oldest_due_s", "oldest_due" } };
	cJSON *row;
	char text[96];

	cJSON_ArrayForEach (row, dests) {
		for (size_t i = 0; i < 2; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, ages[i][0]);
			char age[32] = "";

			if (cJSON_IsNumber(v))
				ctl_format_age((int64_t)v->valuedouble, age, sizeof(age));
			cJSON_AddStringToObject(row, ages[i][1], age);
		}
		/* A grant that needs renewing is the one pause an operator
		 * must act on with a browser: say so in the table. */
		cJSON_AddStringToObject(
			row, "status",
			cJSON_IsTrue(cJSON_GetObjectItem(row, "enabled")) ? "enabled"
			: str_has_prefix(str_of(row, "paused_reason"), "reauthorize")
				? "paused (reauthorize)"
				: "paused");
		requests_text(row, text, sizeof(text));
		cJSON_AddStringToObject(row, "requests_text", text);
		breaker_text(row, text, sizeof(text));
		cJSON_AddStringToObject(row, "breaker_text", text);
	}
}

/* Adjustment deliveries by state (adjustment_store_stats): one total line,
 * then one line per destination that has any. */
static void adjustments_print(struct ctl *c, const cJSON *adj)
{
	static const char *const states[] = { "pending", "in_flight", "delivered",
					      "failed",	 "dead",      "not_supported" };
	const cJSON *d, *dests = cJSON_GetObjectItemCaseSensitive(adj, "destinations");

	if (!cJSON_IsObject(adj))
		return;
	fprintf(c->out, "adjustments:");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		fprintf(c->out, "%s %lld %s", i ? "," : "", (long long)num_of(adj, states[i]),
			states[i]);
	fprintf(c->out, "\n");
	cJSON_ArrayForEach (d, dests) {
		fprintf(c->out, "  %s (%s):", str_of(d, "name"), str_of(d, "kind"));
		for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			fprintf(c->out, "%s %lld %s", i ? "," : "", (long long)num_of(d, states[i]),
				states[i]);
		fprintf(c->out, "\n");
	}
}

/* Usage against quota this month (quota_store.h), one line per tenant. */
static void usage_print(struct ctl *c, const cJSON *usage)
{
	const cJSON *u;

	if (!cJSON_IsArray(usage) || cJSON_GetArraySize(usage) == 0)
		return;
	fprintf(c->out, "\nusage this month (UTC):\n");
	cJSON_ArrayForEach (u, usage) {
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(u, "quota");
		char quota[32] = "unlimited";

		if (cJSON_IsNumber(q))
			snprintf(quota, sizeof(quota), "%lld", (long long)q->valuedouble);
		fprintf(c->out, "  %s (%s): %lld of %s, %lld held for quota\n",
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "tenant")),
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "plan")),
			(long long)num_of(u, "used"), quota, (long long)num_of(u, "held"));
	}
}

static void stats_print(struct ctl *c, cJSON *st)
{
	static const struct ctl_col cols[] = {
		{ "name", "DESTINATION", 30 },
		{ "tenant", "TENANT", 20 },
		{ "kind", "KIND", 0 },
		{ "status", "STATUS", 0 },
		{ "breaker_text", "BREAKER", 0 },
		{ "pending", "PENDING", 0 },
		{ "in_flight", "IN_FLIGHT", 0 },
		{ "delivered", "DELIVERED", 0 },
		{ "failed", "FAILED", 0 },
		{ "dead", "DEAD", 0 },
		{ "held", "HELD", 0 },
		{ "skipped", "SKIPPED", 0 },
		{ "oldest_pending", "OLDEST_PENDING", 0 },
		{ "oldest_due", "OLDEST_DUE", 0 },
		{ "requests_text", "PLATFORM_REQUESTS", 0 },
		{ "validation_warnings", "VALIDATION_WARNINGS", 0 },
		{ NULL, NULL, 0 },
	};
	cJSON *dests = cJSON_GetObjectItemCaseSensitive(st, "destinations");
	const cJSON *raw = cJSON_GetObjectItemCaseSensitive(st, "raw_events");
	const cJSON *oldest = cJSON_GetObjectItemCaseSensitive(raw, "oldest_pending_s");
	char age[32] = "-";

	stats_humanize(dests);
	ctl_print_table(c, cols, dests);
	if (cJSON_IsNumber(oldest))
		ctl_format_age((int64_t)oldest->valuedouble, age, sizeof(age));
	fprintf(c->out,
		"\nraw events: %lld pending, %lld done, %lld ignored, %lld error; oldest pending "
		"%s\n",
		(long long)num_of(raw, "pending"), (long long)num_of(raw, "done"),
		(long long)num_of(raw, "ignored"), (long long)num_of(raw, "error"), age);
	adjustments_print(c, cJSON_GetObjectItemCaseSensitive(st, "adjustments"));
	usage_print(c, cJSON_GetObjectItemCaseSensitive(st, "usage"));
}

static int run_stats(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	PGconn *conn;
	cJSON *st = NULL;

	struct config *cfg;

	(void)a;
	if (ctl_config(c, &cfg, &e) != 0 || ctl_db(c, &conn, &e) != 0 ||
	    admin_stats(conn, &st, &e) != 0)
		return ctl_fail(c, &e);
	if (admin_usage_add(conn, cfg, 0, st, &e) != 0) {
		cJSON_Delete(st);
		return ctl_fail(c, &e);
	}
	if (c->json)
		return ctl_emit_json(c, st);
	stats_print(c, st);
	cJSON_Delete(st);
	return CTL_EXIT_OK;
}

/* ---- the table --------------------------------------------------------------------------- */

static const struct ctl_optspec list_opts[] = {
	{ "state", CTL_OPT_VALUE, "S", false,
	  "pending, in_flight, delivered, failed, dead, held or skipped (a test order "
	  "towards a destination not in test mode)" },
	{ "destination", CTL_OPT_VALUE, "D", false, "only this destination (id or unique name)" },
	{ "tenant", CTL_OPT_VALUE, "T", false, "only this tenant (id or name)" },
	{ "since", CTL_OPT_VALUE, "TIME", false,
	  "updated at or after TIME: RFC 3339 or an age (30m, 2h, 7d)" },
	{ "limit", CTL_OPT_VALUE, "N", false, "at most N rows, newest first (default 50)" },
	{ NULL, 0, NULL, false, NULL },
};

static const struct ctl_optspec replay_opts[] = {
	{ "state", CTL_OPT_LIST, "failed|dead|held", false,
	  "states to replay (default failed and dead; with --id also held)" },
	{ "destination", CTL_OPT_VALUE, "D", false, "only this destination (id or unique name)" },
	{ "tenant", CTL_OPT_VALUE, "T", false, "only this tenant (id or name)" },
	{ "since", CTL_OPT_VALUE, "TIME", false,
	  "updated at or after TIME (RFC 3339 or 30m, 2h, 7d)" },
	{ "until", CTL_OPT_VALUE, "TIME", false, "updated before TIME" },
	{ "id", CTL_OPT_LIST, "ID", false, "only these deliveries (repeat, or ID,ID,...)" },
	{ "dry-run", CTL_OPT_FLAG, NULL, false, "change nothing, show what would move and why" },
	{ NULL, 0, NULL, false, NULL },
};

const struct ctl_cmd ctl_deliveries_cmds[] = {
	{ "deliveries", "list", NULL, "list deliveries, newest first", NULL, list_opts, 0, 0, true,
	  run_deliveries_list },
	{ "deliveries", "show", "ID", "a delivery, its conversion and every upload attempt", NULL,
	  NULL, 1, 1, true, run_deliveries_show },
	{ "replay", NULL, "[ID...]", "move failed/dead/held deliveries back to pending",
	  "Move the matching deliveries back to pending with attempts 0, due now, in one\n"
	  "transaction recorded in the audit log, then wake the workers.  Only failed, dead\n"
	  "and held deliveries move: pending, in_flight, delivered and skipped ones named by\n"
	  "--id are reported and left alone.  Delivery ids may also be given as arguments.\n"
	  "Rows move in batches of 5000; on a terminal, stderr shows how many have moved\n"
	  "(rate and ETA), nothing when piped or with --json.",
	  replay_opts, 0, CTL_MAX_POS, true, run_replay },
	{ "stats", NULL, NULL, "backlog and outcomes per destination, raw event counts",
	  "Per destination: its circuit breaker (closed, open until the time its probe may\n"
	  "go, half-open while the probe is out), deliveries per state (skipped: test orders\n"
	  "not sent to a destination outside test mode), the age of the oldest pending\n"
	  "delivery and how long the oldest due one has waited (growing while workers run\n"
	  "= stuck).\n"
	  "Then the raw events per state, and adjustments (refunds, order edits) per state,\n"
	  "in total and per destination (not_supported: the platform has no adjustment API).",
	  NULL, 0, 0, true, run_stats },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
