/*
 * ctl_audience.c - adsengctl's `audience` commands: customer-list
 * audiences (Google Customer Match) built from the customers of a
 * tenant's sources and synced to a destination's platform.
 *
 * `audience add` creates the platform's list when no id is given and
 * `audience sync` runs a sync now; both go through the sync engine
 * (pipeline/audience_sync.h), the one place that talks to the platform,
 * so the CLI and the daemon's periodic sync behave the same.
 */
#include "admin/ctl.h"
#include "admin/ctl_progress.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/vault.h"
#include "destinations/audience.h"
#include "pipeline/audience_sync.h"
#include "store/admin.h"
#include "store/audience_store.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN  200
#define MAX_SOURCES   64
#define LIST_ID_MAX   32
#define SOURCES_BYTES 4096

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= NAME_MAX_LEN && text_is_clean(s, NAME_MAX_LEN);
}

/* The sync context of adsengctl: its config, connection and the vault. */
static int open_ctx(struct ctl *c, struct audience_sync_ctx *ctx, struct vault **v, struct err *e)
{
	struct config *cfg;
	PGconn *conn;
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	*v = NULL;
	rc = ctl_config(c, &cfg, e);
	if (rc == 0)
		rc = ctl_db(c, &conn, e);
	if (rc == 0)
		rc = vault_open(cfg->master_key_file, v, e);
	if (rc != 0)
		return rc;
	ctx->conn = conn;
	ctx->cfg = cfg;
	ctx->vault = *v;
	return 0;
}

/* Resolve every --sources entry: same tenant as the destination. */
static int find_sources(PGconn *conn, const struct admin_obj *d, const char *const *refs, int n,
			char ids[][37], struct err *e)
{
	for (int i = 0; i < n; i++) {
		struct admin_obj s;
		int rc = ctl_find_source(conn, refs[i], &s, e);

		if (rc != 0)
			return rc;
		if (s.tenant_id != d->tenant_id)
			return err_set(e, ERR_INVALID,
				       "source \"%s\" belongs to tenant \"%s\", destination \"%s\" "
				       "to tenant \"%s\": an audience stays within one tenant",
				       s.name, s.tenant_name, d->name, d->tenant_name);
		memcpy(ids[i], s.id, sizeof(ids[i]));
	}
	return 0;
}

static int emit_added(struct ctl *c, int64_t id, const char *name, const char *list_id,
		      bool created)
{
	cJSON *j;

	if (!c->json) {
		fprintf(c->out, "%" PRId64 "\n", id);
		if (created)
			fprintf(c->out, "created user list %s\n", list_id);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	if (j && (!cJSON_AddNumberToObject(j, "id", (double)id) ||
		  !cJSON_AddStringToObject(j, "name", name) ||
		  !cJSON_AddStringToObject(j, "user_list_id", list_id) ||
		  !cJSON_AddBoolToObject(j, "created_user_list", created))) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

static int run_audience_add(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	struct audience_sync_ctx ctx;
	struct audience_new x = { 0 };
	struct admin_obj d;
	struct vault *v = NULL;
	const char *refs[MAX_SOURCES], *given = ctl_arg(a, "user-list-id");
	char buf[SOURCES_BYTES], ids[MAX_SOURCES][37], list_id[LIST_ID_MAX + 1];
	const char *idp[MAX_SOURCES];
	int n, rc;
	int64_t id = 0;

	x.name = ctl_arg(a, "name");
	if (!name_ok(x.name))
		return ctl_usage_error(c,
				       "invalid audience name: 1 to %d characters, no control "
				       "characters",
				       NAME_MAX_LEN);
	if (given && !text_is_digits(given, LIST_ID_MAX))
		return ctl_usage_error(c, "invalid --user-list-id \"%s\": digits", given);
	n = ctl_arg_list(a, "sources", buf, sizeof(buf), refs, MAX_SOURCES);
	if (n <= 0)
		return ctl_usage_error(c, "--sources needs 1 to %d sources", MAX_SOURCES);
	rc = open_ctx(c, &ctx, &v, &e);
	if (rc == 0)
		rc = ctl_find_destination(ctx.conn, ctl_arg(a, "destination"), &d, &e);
	if (rc == 0 && audience_ops_find(d.kind) == NULL)
		rc = err_set(&e, ERR_INVALID, "destination \"%s\" (%s) cannot hold audiences",
			     d.name, d.kind);
	if (rc == 0)
		rc = find_sources(ctx.conn, &d, refs, n, ids, &e);
	if (rc == 0 && given)
		snprintf(list_id, sizeof(list_id), "%s", given);
	else if (rc == 0)
		rc = audience_sync_create_list(&ctx, d.id, x.name, list_id, sizeof(list_id), &e);
	for (int i = 0; i < n; i++)
		idp[i] = ids[i];
	x.tenant_id = d.tenant_id;
	x.destination_id = d.id;
	x.user_list_id = list_id;
	x.source_ids = idp;
	x.n_sources = (size_t)n;
	if (rc == 0)
		rc = audience_store_add(ctx.conn, ctl_actor(), &x, &id, &e);
	vault_free(v);
	if (rc != 0)
		return ctl_fail(c, &e);
	return emit_added(c, id, x.name, list_id, given == NULL);
}

static cJSON *counts_json(const struct audience_row *r, const struct audience_sync_counts *n,
			  const char *error)
{
	cJSON *j = cJSON_CreateObject();

	if (j && (!cJSON_AddNumberToObject(j, "id", (double)r->id) ||
		  !cJSON_AddStringToObject(j, "name", r->name) ||
		  !cJSON_AddNumberToObject(j, "added", (double)n->added) ||
		  !cJSON_AddNumberToObject(j, "removed", (double)n->removed) ||
		  !cJSON_AddNumberToObject(j, "unchanged", (double)n->unchanged) ||
		  !cJSON_AddNumberToObject(j, "skipped", (double)n->skipped) ||
		  !cJSON_AddItemToObject(j, "error",
					 error ? cJSON_CreateString(error) : cJSON_CreateNull()))) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static void on_progress(void *arg, size_t done, size_t total)
{
	ctl_progress_update(arg, done, total);
}

static int run_audience_sync(struct ctl *c, const struct ctl_args *a)
{
	struct ctl_progress prog;
	struct err e = { 0 }, ae = { 0 };
	struct audience_sync_ctx ctx;
	struct audience_sync_counts n = { 0 };
	struct audience_row r = { 0 };
	struct vault *v = NULL;
	cJSON *j = NULL;
	int rc;

	rc = open_ctx(c, &ctx, &v, &e);
	if (rc == 0)
		rc = audience_store_find(ctx.conn, a->pos[0], &r, &e);
	if (rc != 0) {
		vault_free(v);
		return ctl_fail(c, &e);
	}
	ctl_progress_init(&prog, c, "members sent");
	ctx.progress = on_progress;
	ctx.progress_arg = &prog;
	rc = audience_sync_one(&ctx, r.id, &n, &e);
	ctl_progress_end(&prog);
	vault_free(v);
	j = counts_json(&r, &n, rc == 0 ? NULL : e.msg);
	if (j && audience_store_audit_sync(ctx.conn, ctl_actor(), j, &ae) != 0)
		ctl_warn(c, "%s", ae.msg);
	if (!c->json)
		fprintf(c->out, "audience \"%s\": added %zu, removed %zu, unchanged %zu%s\n",
			r.name, n.added, n.removed, n.unchanged,
			n.skipped ? " (customers without identifiers skipped)" : "");
	else
		(void)ctl_emit_json(c, j); /* frees j */
	if (!c->json)
		cJSON_Delete(j);
	audience_row_cleanup(&r);
	return rc == 0 ? CTL_EXIT_OK : ctl_fail(c, &e);
}

static int run_audience_list(struct ctl *c, const struct ctl_args *a)
{
	static const struct ctl_col cols[] = {
		{ "id", "ID", 0 },
		{ "tenant", "TENANT", 30 },
		{ "name", "NAME", 40 },
		{ "destination", "DESTINATION", 40 },
		{ "user_list_id", "USER_LIST", 0 },
		{ "sources", "SOURCES", 40 },
		{ "members", "MEMBERS", 0 },
		{ "last_sync_at", "LAST_SYNC", 0 },
		{ "last_error", "LAST_ERROR", 60 },
		{ NULL, NULL, 0 },
	};
	struct err e = { 0 };
	const char *tenant = ctl_arg(a, "tenant");
	int64_t tenant_id = 0;
	PGconn *conn;
	cJSON *rows = NULL;

	if (ctl_db(c, &conn, &e) != 0 ||
	    (tenant && ctl_find_tenant(conn, tenant, &tenant_id, &e)) ||
	    audience_store_list(conn, tenant_id, &rows, &e) != 0)
		return ctl_fail(c, &e);
	if (c->json)
		return ctl_emit_json(c, rows);
	ctl_print_table(c, cols, rows);
	cJSON_Delete(rows);
	return CTL_EXIT_OK;
}

static const struct ctl_optspec add_opts[] = {
	{ "destination", CTL_OPT_VALUE, "D", true,
	  "the destination holding the list (id or name; google_datamanager)" },
	{ "name", CTL_OPT_VALUE, "N", true, "a name unique within the tenant (also the list's)" },
	{ "user-list-id", CTL_OPT_VALUE, "ID", false,
	  "an existing Customer Match list (default: create one)" },
	{ "sources", CTL_OPT_LIST, "LIST", true,
	  "the sources whose customers are the members (ids or names)" },
	{ NULL, 0, NULL, false, NULL },
};

static const struct ctl_optspec list_opts[] = {
	{ "tenant", CTL_OPT_VALUE, "T", false, "only this tenant (id or name)" },
	{ NULL, 0, NULL, false, NULL },
};

const struct ctl_cmd ctl_audience_cmds[] = {
	{ "audience", "add", NULL, "add a customer-list audience, print its id",
	  "Add an audience: the customers of the given sources (today: the customers of\n"
	  "their stored conversions), synced to a Customer Match list of the destination.\n"
	  "Without --user-list-id the list is created on the platform first.",
	  add_opts, 0, 0, true, run_audience_add },
	{ "audience", "sync", "NAME", "sync an audience now, print what changed",
	  "Send the members added or changed since the last sync and remove those that\n"
	  "are gone or whose consent is now denied.  The daemon does the same every\n"
	  "[audiences] sync_interval.",
	  NULL, 1, 1, true, run_audience_sync },
	{ "audience", "list", NULL, "list audiences", NULL, list_opts, 0, 0, true,
	  run_audience_list },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
