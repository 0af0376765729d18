/*
 * ctl_catalog_edit.c - adsengctl's catalog changes beyond add: `tenant
 * update`, `tenant disable` and `route delete`.  Thin front ends of
 * store/admin.h (admin_tenant_update, admin_tenant_disable,
 * admin_route_delete), the same operations the admin API calls for PATCH
 * /tenants/{id}, POST /tenants/{id}/disable and DELETE /routes/{s}/{d}.
 */
#include "admin/ctl.h"
#include "store/admin.h"

#include <cjson/cJSON.h>
#include <string.h>

/* {"key": value, ...} pairs as JSON, or "what" as a line of text. */
static int emit_done(struct ctl *c, cJSON *j, const char *text)
{
	if (c->json)
		return ctl_emit_json(c, j);
	cJSON_Delete(j);
	fprintf(c->out, "%s\n", text);
	return CTL_EXIT_OK;
}

static int run_tenant_update(struct ctl *c, const struct ctl_args *a)
{
	const char *name = ctl_arg(a, "name"), *plan = ctl_arg(a, "plan");
	struct err e = { 0 };
	struct config *cfg;
	int64_t id, released = 0;
	PGconn *conn;
	cJSON *j;

	if (name == NULL && plan == NULL)
		return ctl_usage_error(c, "nothing to update: give --name and/or --plan");
	if (plan && strcmp(plan, "starter") != 0 && strcmp(plan, "professional") != 0 &&
	    strcmp(plan, "enterprise") != 0)
		return ctl_usage_error(c, "--plan: starter, professional or enterprise");
	if (ctl_config(c, &cfg, &e) != 0 || ctl_db(c, &conn, &e) != 0 ||
	    ctl_find_tenant(conn, a->pos[0], &id, &e) != 0 ||
	    admin_tenant_update(conn, ctl_actor(), id, name, plan, &cfg->plan_quotas, &released,
				&e) != 0)
		return ctl_fail(c, &e);
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "id", (double)id);
	cJSON_AddNumberToObject(j, "released", (double)released);
	return emit_done(c, j, "updated");
}

static int run_tenant_disable(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	int64_t id, sources = 0;
	char text[96];
	PGconn *conn;
	cJSON *j;

	if (ctl_db(c, &conn, &e) != 0 || ctl_find_tenant(conn, a->pos[0], &id, &e) != 0 ||
	    admin_tenant_disable(conn, ctl_actor(), id, &sources, &e) != 0)
		return ctl_fail(c, &e);
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "id", (double)id);
	cJSON_AddNumberToObject(j, "sources_disabled", (double)sources);
	snprintf(text, sizeof(text), "disabled tenant %lld and %lld source%s", (long long)id,
		 (long long)sources, sources == 1 ? "" : "s");
	return emit_done(c, j, text);
}

static int run_route_delete(struct ctl *c, const struct ctl_args *a)
{
	struct admin_obj s, d;
	struct err e = { 0 };
	PGconn *conn;
	cJSON *j;

	if (ctl_db(c, &conn, &e) != 0 || ctl_find_source(conn, a->pos[0], &s, &e) != 0 ||
	    ctl_find_destination(conn, a->pos[1], &d, &e) != 0 ||
	    admin_route_delete(conn, ctl_actor(), s.id, d.id, &e) != 0)
		return ctl_fail(c, &e);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "source_id", s.id);
	cJSON_AddStringToObject(j, "destination_id", d.id);
	return emit_done(c, j, "deleted");
}

static const struct ctl_optspec update_opts[] = {
	{ "name", CTL_OPT_VALUE, "N", false, "the new name" },
	{ "plan", CTL_OPT_VALUE, "starter|professional|enterprise", false, "the new plan" },
	{ NULL, 0, NULL, false, NULL },
};

const struct ctl_cmd ctl_catalog_edit_cmds[] = {
	{ "tenant", "update", "TENANT", "rename a tenant or change its plan",
	  "Rename the tenant (id or name) and/or change its plan.  Audited.", update_opts, 1, 1,
	  true, run_tenant_update },
	{ "tenant", "disable", "TENANT", "disable a tenant and its sources",
	  "Mark the tenant disabled and disable its sources (their webhooks are refused).\n"
	  "Deliveries already queued still go; nothing is deleted.  Audited.",
	  NULL, 1, 1, true, run_tenant_disable },
	{ "route", "delete", "SOURCE DESTINATION", "delete the route source -> destination",
	  "Delete the route (ids or names).  Conversions already routed keep their\n"
	  "deliveries.  Audited.",
	  NULL, 2, 2, true, run_route_delete },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
