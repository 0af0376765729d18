/*
 * ctl_misc.c - adsengctl's housekeeping commands: `migrate` (apply the
 * embedded sql/ migrations), `config show|example` and `keygen` (a new
 * vault master key).  Only migrate needs the database.
 */
#include "admin/ctl.h"
#include "core/vault.h"
#include "store/db.h"
#include "store/migrate.h"

#include <cjson/cJSON.h>

static int run_migrate(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	PGconn *conn;
	int applied = 0, version = 0;
	cJSON *j;

	(void)a;
	if (ctl_db(c, &conn, &e) != 0 || migrate_apply(conn, &applied, &e) != 0 ||
	    migrate_current_version(conn, &version, &e) != 0)
		return ctl_fail(c, &e);
	if (!c->json) {
		fprintf(c->out, "applied %d migration%s (schema version %d)\n", applied,
			applied == 1 ? "" : "s", version);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	if (j && (!cJSON_AddNumberToObject(j, "applied", applied) ||
		  !cJSON_AddNumberToObject(j, "schema_version", version))) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

static int run_config_show(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	struct config *cfg;

	if (ctl_config(c, &cfg, &e) != 0)
		return ctl_fail(c, &e);
	if (cfg->path)
		fprintf(c->out, "; from %s and the environment\n", cfg->path);
	else
		fprintf(c->out, "; built-in defaults and the environment (no file)\n");
	config_print(cfg, c->out, ctl_flag(a, "show-secrets"));
	return CTL_EXIT_OK;
}

static int run_config_example(struct ctl *c, const struct ctl_args *a)
{
	(void)a;
	config_print_example(c->out);
	return CTL_EXIT_OK;
}

static int run_keygen(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };

	if (vault_generate_key_file(a->pos[0], &e) != 0)
		return ctl_fail(c, &e);
	fprintf(c->out, "wrote a new master key to %s\n", a->pos[0]);
	return CTL_EXIT_OK;
}

static const struct ctl_optspec config_show_opts[] = {
	{ "show-secrets", CTL_OPT_FLAG, NULL, false, "print secret values instead of <redacted>" },
	{ NULL, 0, NULL, false, NULL },
};

const struct ctl_cmd ctl_misc_cmds[] = {
	{ "migrate", NULL, NULL, "apply the database migrations (idempotent)",
	  "Apply every migration compiled into adsengctl that the database of [database] url\n"
	  "has not recorded yet, each in its own transaction under an advisory lock.",
	  NULL, 0, 0, true, run_migrate },
	{ "config", "show", NULL, "print the effective configuration",
	  "Print every configuration key with its effective value: the file, then the\n"
	  "ADSENGD_* environment variables.  Secrets are redacted unless --show-secrets.",
	  config_show_opts, 0, 0, false, run_config_show },
	{ "config", "example", NULL, "print a documented example configuration", NULL, NULL, 0, 0,
	  false, run_config_example },
	{ "keygen", NULL, "FILE", "write a new random master key to FILE",
	  "Write 32 random bytes as 64 hex digits to FILE (created with mode 0600; it must\n"
	  "not exist), for [security] master_key_file.",
	  NULL, 1, 1, false, run_keygen },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
