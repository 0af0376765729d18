/*
 * ctl_oauth.c - `adsengctl destination authorize ID`: the consent link of
 * an OAuth2 destination (Google), printed for the operator to open or to
 * send to the account owner.
 *
 * The link carries a signed, expiring, single-use state (core/oauth_state.h)
 * whose nonce is recorded here (store/oauth_store.h); the daemon's callback
 * (http/oauth_callback.c) takes it from there.  The OAuth client id comes
 * from the destination's auth hook (its credentials, or [google]
 * client_id_file), so the link names the client the code is later
 * exchanged with.
 */
#include "admin/ctl.h"
#include "core/clock.h"
#include "core/json_build.h"
#include "core/mem.h"
#include "core/oauth_grant.h"
#include "core/oauth_state.h"
#include "core/text.h"
#include "core/vault.h"
#include "destinations/dest.h"
#include "store/admin.h"
#include "store/catalog_store.h"
#include "store/oauth_store.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REDIRECT_MAX 1024

/* The OAuth client id of destination row (credentials opened with v). */
static int client_id_of(const struct dest_row *row, const struct dest_ops *ops,
			const struct config *cfg, const struct vault *v, char **out, struct err *e)
{
	struct destination d = { 0 };
	struct oauth_grant g = { 0 };
	char ad[VAULT_AD_MAX];
	unsigned char *creds = NULL;
	size_t creds_len = 0;
	int rc;

	vault_ad(ad, "destination", row->id, "credentials");
	rc = vault_unseal(v, row->credentials, row->credentials_len, ad, &creds, &creds_len, e);
	if (rc != 0)
		return rc;
	memcpy(d.id, row->id, sizeof(d.id));
	d.tenant_id = row->tenant_id;
	d.name = row->name;
	snprintf(d.kind, sizeof(d.kind), "%s", row->kind);
	d.enabled = row->enabled;
	d.test_mode = row->test_mode;
	d.settings = cJSON_Parse(row->settings_json);
	d.creds = (char *)creds;
	d.ops = ops;
	rc = ops->auth_grant(&d, cfg, &g, e);
	if (rc == 0)
		*out = xstrdup(g.client_id);
	oauth_grant_cleanup(&g);
	cJSON_Delete(d.settings);
	vault_free_plain(creds);
	return rc;
}

/* A new state for dest_id, signed with the key derived from v, recorded. */
static int new_state(struct ctl *c, PGconn *conn, const struct vault *v, const char *dest_id,
		     const char *redirect, struct oauth_state *st, char token[OAUTH_STATE_MAX + 1],
		     struct err *e)
{
	unsigned char key[OAUTH_STATE_KEY_LEN];
	int64_t ttl_s = (c->cfg->oauth_state_ttl_ms + 999) / 1000;
	int rc;

	rc = oauth_state_new(dest_id, (int64_t)time(NULL) + ttl_s, st, e);
	if (rc == 0)
		rc = vault_derive_key(v, OAUTH_STATE_KDF_CONTEXT, key, e);
	if (rc == 0) {
		oauth_state_sign(key, st, token);
		rc = oauth_store_state_add(conn, ctl_actor(), st, redirect, e);
	}
	sodium_memzero(key, sizeof(key));
	return rc;
}

static int emit(struct ctl *c, const char *url, const struct oauth_state *st, const char *redirect)
{
	char when[32];
	cJSON *j;
	bool ok = true;

	clock_format_utc(st->expires_at * 1000000, when, sizeof(when));
	if (!c->json) {
		fprintf(c->out, "%s\n", url);
		fprintf(c->errf,
			"adsengctl: open this link to authorize destination %s; it can be used "
			"once, until %s, and returns to %s\n",
			st->dest_id, when, redirect);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	json_add_string(j, "url", url, &ok);
	json_add_string(j, "expires_at", when, &ok);
	json_add_string(j, "destination_id", st->dest_id, &ok);
	json_add_string(j, "redirect_uri", redirect, &ok);
	if (!ok) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

/* Everything after the destination is found and known to use consent. */
static int authorize(struct ctl *c, PGconn *conn, const struct dest_row *row,
		     const struct dest_ops *ops, const char *redirect_opt, struct err *e)
{
	const char *auth_url = config_platform_value(c->cfg, ops->oauth_provider, "auth_url");
	struct vault *v = NULL;
	struct oauth_state st;
	char token[OAUTH_STATE_MAX + 1];
	char *client_id = NULL, *redirect = NULL;
	struct buf url;
	int rc;

	buf_init(&url);
	if (auth_url == NULL || auth_url[0] == '\0')
		return err_set(e, ERR_CONFIG, "[%s] auth_url is not set", ops->oauth_provider);
	redirect = redirect_opt ? xstrdup(redirect_opt)
				: oauth_redirect_uri(c->cfg->public_url, ops->oauth_provider);
	rc = vault_open(c->cfg->master_key_file, &v, e);
	if (rc == 0)
		rc = client_id_of(row, ops, c->cfg, v, &client_id, e);
	if (rc == 0)
		rc = new_state(c, conn, v, row->id, redirect, &st, token, e);
	if (rc == 0)
		rc = oauth_consent_url(&url,
				       &(struct oauth_consent){ .auth_url = auth_url,
								.client_id = client_id,
								.redirect_uri = redirect,
								.scopes = ops->oauth_scopes,
								.state = token },
				       e);
	if (rc == 0)
		rc = emit(c, url.data, &st, redirect) == CTL_EXIT_OK
			     ? 0
			     : err_set(e, ERR_NOMEM, "out of memory");
	vault_free(v);
	free(client_id);
	free(redirect);
	buf_cleanup(&url);
	return rc;
}

/* An operator-given redirect URI: absolute http(s), printable, bounded. */
static bool redirect_ok(const char *s)
{
	return (str_has_prefix(s, "https://") || str_has_prefix(s, "http://")) &&
	       strlen(s) <= REDIRECT_MAX && text_is_clean(s, REDIRECT_MAX) &&
	       strchr(s, ' ') == NULL && strchr(s, '#') == NULL;
}

static int run_destination_authorize(struct ctl *c, const struct ctl_args *a)
{
	const char *redirect = ctl_arg(a, "redirect-uri");
	struct err e = { 0 };
	struct admin_obj obj;
	struct dest_row row = { 0 };
	const struct dest_ops *ops;
	struct config *cfg;
	PGconn *conn;
	int rc;

	if (redirect && !redirect_ok(redirect))
		return ctl_usage_error(c, "--redirect-uri must be an absolute http(s) URL without "
					  "spaces or a fragment");
	if (ctl_config(c, &cfg, &e) != 0 || ctl_db(c, &conn, &e) != 0 ||
	    ctl_find_destination(conn, a->pos[0], &obj, &e) != 0)
		return ctl_fail(c, &e);
	ops = dest_ops_find(obj.kind);
	if (ops == NULL || ops->oauth_scopes == NULL || ops->oauth_provider == NULL ||
	    ops->auth_grant == NULL) {
		err_set(&e, ERR_INVALID,
			"destination \"%s\" is of kind %s, which is not authorized by OAuth "
			"consent",
			obj.name, obj.kind);
		return ctl_fail(c, &e);
	}
	rc = catalog_load_destination(conn, obj.id, &row, &e);
	if (rc == 0)
		rc = authorize(c, conn, &row, ops, redirect, &e);
	catalog_dest_row_cleanup(&row);
	return rc == 0 ? CTL_EXIT_OK : ctl_fail(c, &e);
}

static const struct ctl_optspec authorize_opts[] = {
	{ "redirect-uri", CTL_OPT_VALUE, "URI", false,
	  "where the consent page returns to (default {[server] public_url}/oauth/PROVIDER/"
	  "callback; must be a redirect URI of the OAuth client and reach this daemon's "
	  "callback)" },
	{ NULL, 0, NULL, false, NULL },
};

const struct ctl_cmd ctl_oauth_cmds[] = {
	{ "destination", "authorize", "ID", "print the OAuth consent link of a Google destination",
	  "Print the consent URL for the destination (uuid or unique name): whoever opens\n"
	  "it signs in to the ad account and grants access; the daemon's callback then\n"
	  "stores the refresh token and, if the destination was paused for\n"
	  "reauthorization, resumes it and releases its held deliveries.  The link can be\n"
	  "used once, within [oauth] state_ttl.  --json prints {url, expires_at, ...}.",
	  authorize_opts, 1, 1, true, run_destination_authorize },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
