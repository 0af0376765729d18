/*
 * ctl_token.c - `adsengctl token create`: issue a bearer token for the
 * admin API (http/admin_api.c), signed HS256 with [security]
 * jwt_secret_file (core/jwt.h).  The tenant is resolved in the database
 * so that the token carries its id; the token goes to stdout only.
 *
 * There is no revocation list yet: a token is good until its exp, or
 * until the secret file changes (every token then stops working).  Keep
 * TTLs short.
 */
#include "admin/ctl.h"
#include "core/clock.h"
#include "core/jwt.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <string.h>

#define TTL_DEFAULT_MS (30LL * 86400 * 1000)
#define TTL_MAX_MS     (366LL * 86400 * 1000)

static const struct ctl_optspec create_opts[] = {
	{ "tenant", CTL_OPT_VALUE, "T", false,
	  "the tenant the token may see (name or id; required for role agency)" },
	{ "role", CTL_OPT_VALUE, "ROLE", false, "agency (default: one tenant) or admin (all)" },
	{ "ttl", CTL_OPT_VALUE, "DURATION", false,
	  "lifetime, e.g. 12h, 30d (default 30d, max 366d)" },
	{ "sub", CTL_OPT_VALUE, "NAME", false,
	  "the subject, recorded as the actor (default $USER)" },
	{ NULL, 0, NULL, false, NULL },
};

static int print_token(struct ctl *c, const char *tok, const struct jwt_claims *cl)
{
	cJSON *j;

	if (!c->json) {
		fprintf(c->out, "%s\n", tok);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	if (j && (!cJSON_AddStringToObject(j, "token", tok) ||
		  !cJSON_AddStringToObject(j, "sub", cl->sub) ||
		  !cJSON_AddStringToObject(j, "role", jwt_role_name(cl->role)) ||
		  !(cl->tenant ? cJSON_AddNumberToObject(j, "tenant", (double)cl->tenant)
			       : cJSON_AddNullToObject(j, "tenant")) ||
		  !cJSON_AddNumberToObject(j, "exp", (double)cl->exp))) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

/* Options → claims, without the tenant; a usage exit code or -1. */
static int claims_from_args(struct ctl *c, const struct ctl_args *a, struct jwt_claims *cl)
{
	const char *role = ctl_arg(a, "role"), *ttl = ctl_arg(a, "ttl"), *sub = ctl_arg(a, "sub");
	int64_t ttl_ms = TTL_DEFAULT_MS, now = clock_wall_ms() / 1000;

	if (role && jwt_role_parse(role, &cl->role) != 0)
		return ctl_usage_error(c, "unknown role \"%s\": use agency or admin", role);
	if (ttl &&
	    (config_parse_duration_ms(ttl, &ttl_ms) != 0 || ttl_ms < 60000 || ttl_ms > TTL_MAX_MS))
		return ctl_usage_error(c, "invalid ttl \"%s\": 1m to 366d", ttl);
	if (sub == NULL)
		sub = ctl_actor();
	if (!jwt_sub_is_valid(sub))
		return ctl_usage_error(c,
				       "--sub must be 1 to %d bytes without control characters, "
				       "quotes or backslashes",
				       JWT_SUB_MAX - 1);
	snprintf(cl->sub, sizeof(cl->sub), "%s", sub);
	if (cl->role == JWT_ROLE_AGENCY && ctl_arg(a, "tenant") == NULL)
		return ctl_usage_error(c, "an agency token needs --tenant");
	cl->iat = now;
	cl->exp = now + ttl_ms / 1000;
	return -1;
}

static int run_create(struct ctl *c, const struct ctl_args *a)
{
	struct jwt_claims cl = { .role = JWT_ROLE_AGENCY };
	struct err e = { 0 };
	struct config *cfg;
	PGconn *conn;
	char *key = NULL, *tok = NULL;
	size_t keylen = 0;
	int rc = claims_from_args(c, a, &cl);

	if (rc >= 0)
		return rc;
	if (ctl_config(c, &cfg, &e) != 0 ||
	    jwt_key_load(cfg->jwt_secret_file, &key, &keylen, &e) != 0)
		return ctl_fail(c, &e);
	if (ctl_arg(a, "tenant") &&
	    (ctl_db(c, &conn, &e) != 0 ||
	     ctl_find_tenant(conn, ctl_arg(a, "tenant"), &cl.tenant, &e) != 0)) {
		rc = ctl_fail(c, &e);
		goto out;
	}
	if (jwt_sign((const unsigned char *)key, keylen, &cl, &tok, &e) != 0) {
		rc = ctl_fail(c, &e);
		goto out;
	}
	rc = print_token(c, tok, &cl);
out:
	sodium_free(key);
	free(tok);
	return rc;
}

const struct ctl_cmd ctl_token_cmds[] = {
	{ "token", "create", NULL, "issue a bearer token for the admin API",
	  "Print a JWT (HS256, signed with [security] jwt_secret_file) for the admin API\n"
	  "(/v1/admin/ on [server] admin_listen).  Role agency sees one tenant; role admin\n"
	  "sees every tenant.  Tokens cannot be revoked one by one yet: keep the TTL short;\n"
	  "changing the secret file ends every token.",
	  create_opts, 0, 0, true, run_create },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
