/*
 * ctl_adjust.c - `adsengctl adjustments list`: the changes stored against
 * conversions after they were recorded (refunds, order edits) and their
 * state per destination.  A thin front end over adjustment_store_list; the
 * counts per state are part of `stats` (ctl_deliveries.c).
 */
#include "admin/ctl.h"
#include "store/adjustment_store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADJ_LIMIT_DEFAULT 50
#define ADJ_LIMIT_MAX	  100000

static bool is_adjustment_state(const char *s)
{
	static const char *const states[] = { "pending", "in_flight", "delivered",
					      "failed",	 "dead",      "not_supported" };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		if (strcmp(s, states[i]) == 0)
			return true;
	}
	return false;
}

/* Text mode: each adjustment's deliveries as "name: state" in one column. */
static void add_delivery_text(cJSON *rows)
{
	cJSON *row;

	cJSON_ArrayForEach (row, rows) {
		const cJSON *d, *ds = cJSON_GetObjectItemCaseSensitive(row, "deliveries");
		size_t len = 1, at = 0;
		char *text;

		cJSON_ArrayForEach (d, ds) {
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(d, "destination");
			const cJSON *state = cJSON_GetObjectItemCaseSensitive(d, "state");

			len += (cJSON_IsString(name) ? strlen(name->valuestring) : 1) +
			       (cJSON_IsString(state) ? strlen(state->valuestring) : 1) + 4;
		}
		text = calloc(1, len);
		if (text == NULL)
			continue;
		cJSON_ArrayForEach (d, ds) {
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(d, "destination");
			const cJSON *state = cJSON_GetObjectItemCaseSensitive(d, "state");

			at += (size_t)snprintf(text + at, len - at, "%s%s: %s", at ? ", " : "",
					       cJSON_IsString(name) ? name->valuestring : "?",
					       cJSON_IsString(state) ? state->valuestring : "?");
		}
		cJSON_AddStringToObject(row, "deliveries_text", at ? text : "-");
		free(text);
	}
}

static int run_adjustments_list(struct ctl *c, const struct ctl_args *a)
{
	static const struct ctl_col cols[] = {
		{ "id", "ID", 0 },
		{ "conversion_id", "CONVERSION", 0 },
		{ "event_id", "EVENT_ID", 40 },
		{ "kind", "KIND", 0 },
		{ "value", "VALUE", 0 },
		{ "currency", "CURRENCY", 0 },
		{ "reason", "REASON", 30 },
		{ "occurred_at", "OCCURRED_AT", 0 },
		{ "deliveries_text", "DELIVERIES", 80 },
		{ NULL, NULL, 0 },
	};
	const char *conv = ctl_arg(a, "conversion"), *limit = ctl_arg(a, "limit");
	const char *state = ctl_arg(a, "state");
	int64_t conv_id = 0, lim = ADJ_LIMIT_DEFAULT;
	struct err e = { 0 };
	PGconn *conn;
	cJSON *rows = NULL;

	if (conv && ctl_parse_int64(conv, 1, INT64_MAX, &conv_id) != 0)
		return ctl_usage_error(c, "invalid conversion id \"%s\"", conv);
	if (limit && ctl_parse_int64(limit, 1, ADJ_LIMIT_MAX, &lim) != 0)
		return ctl_usage_error(c, "invalid limit \"%s\": 1 to %d", limit, ADJ_LIMIT_MAX);
	if (state && !is_adjustment_state(state))
		return ctl_usage_error(c,
				       "unknown state \"%s\": use pending, in_flight, delivered, "
				       "failed, dead or not_supported",
				       state);
	if (ctl_db(c, &conn, &e) != 0 ||
	    adjustment_store_list(conn, conv_id, state, (int)lim, &rows, &e) != 0)
		return ctl_fail(c, &e);
	if (c->json)
		return ctl_emit_json(c, rows);
	add_delivery_text(rows);
	ctl_print_table(c, cols, rows);
	cJSON_Delete(rows);
	return CTL_EXIT_OK;
}

static const struct ctl_optspec list_opts[] = {
	{ "conversion", CTL_OPT_VALUE, "ID", false, "only adjustments of this conversion" },
	{ "state", CTL_OPT_VALUE, "S", false,
	  "only adjustments with a delivery in state S: pending, in_flight, delivered, failed, "
	  "dead or not_supported" },
	{ "limit", CTL_OPT_VALUE, "N", false, "at most N rows, newest first (default 50)" },
	{ NULL, 0, NULL, false, NULL },
};

const struct ctl_cmd ctl_adjust_cmds[] = {
	{ "adjustments", "list", NULL, "list adjustments (refunds, order edits), newest first",
	  "Changes stored against conversions after they were recorded: a retraction (a full\n"
	  "refund) or a restatement with the new value (a partial refund, an order edit after\n"
	  "delivery), each with its state per destination the conversion was routed to.\n"
	  "Destinations whose platform has no adjustment API (Meta, TikTok, GA4, sGTM, Data\n"
	  "Manager) show not_supported.",
	  list_opts, 0, 0, true, run_adjustments_list },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
