/*
 * ctl_source_limit.c - `adsengctl source rate-limit SOURCE R[/B]|default`.
 *
 * A thin front end: the spec is parsed by core/ratelimit (the same parser
 * as `source add --rate-limit`), the change is store/admin's
 * admin_source_set_rate_limit() (audited; the catalog NOTIFY makes running
 * daemons pick it up), and this prints the result.
 */
#include "admin/ctl_source_limit.h"
#include "core/ratelimit.h"
#include "store/admin.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static int print_result(struct ctl *c, const struct admin_obj *src, int64_t rate, int64_t burst)
{
	cJSON *j;
	bool ok;

	if (!c->json) {
		if (rate)
			fprintf(c->out,
				"source \"%s\" (%s): at most %lld webhooks/s, bursts of %lld\n",
				src->name, src->id, (long long)rate, (long long)burst);
		else
			fprintf(c->out, "source \"%s\" (%s): the [ratelimit] defaults\n", src->name,
				src->id);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	ok = j && cJSON_AddStringToObject(j, "id", src->id) &&
	     cJSON_AddStringToObject(j, "name", src->name);
	if (ok && rate)
		ok = cJSON_AddNumberToObject(j, "rate", (double)rate) &&
		     cJSON_AddNumberToObject(j, "burst", (double)burst);
	else if (ok)
		ok = cJSON_AddNullToObject(j, "rate") && cJSON_AddNullToObject(j, "burst");
	if (!ok) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

int ctl_run_source_rate_limit(struct ctl *c, const struct ctl_args *a)
{
	const char *spec = a->pos[1];
	int64_t rate = 0, burst = 0;
	struct err e = { 0 };
	struct admin_obj src;
	PGconn *conn;

	if (strcmp(spec, "default") != 0 && ratelimit_parse_spec(spec, &rate, &burst, &e) != 0)
		return ctl_usage_error(c, "%s", e.msg);
	if (ctl_db(c, &conn, &e) != 0 || ctl_find_source(conn, a->pos[0], &src, &e) != 0 ||
	    admin_source_set_rate_limit(conn, ctl_actor(), src.id, rate, burst, &e) != 0)
		return ctl_fail(c, &e);
	return print_result(c, &src, rate, burst);
}
