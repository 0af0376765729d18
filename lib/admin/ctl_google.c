/*
 * ctl_google.c - adsengctl's Google Ads commands:
 * `google create-conversion-action DEST --name N [--category C]`, which
 * creates the offline (UPLOAD_CLICKS) conversion action a google_ads or
 * google_datamanager destination uploads to, stores its id on the
 * destination (audited, store/admin_google.c) and prints it.
 *
 * The command talks to Google itself, blocking (net_fetch): it gets an
 * access token with the destination's OAuth2 grant (dest_ops.auth_grant,
 * core/oauth_grant.h), then calls the Google Ads API
 * ({[endpoints] google_ads}/{version}/customers/{cid}/conversionActions:mutate,
 * built by destinations/google_ads.c).  Data Manager destinations use the
 * Google Ads API for this too, so they need the adwords scope in their
 * grant and a developer token.  The developer token comes from the
 * destination's credentials, else [google] developer_token_file.  Secrets
 * stay in memory that is wiped; Google's error messages are printed as
 * Google wrote them.
 */
#include "admin/ctl.h"
#include "core/json_build.h"
#include "core/mem.h"
#include "core/oauth_grant.h"
#include "core/vault.h"
#include "destinations/dest.h"
#include "destinations/google_ads.h"
#include "destinations/google_common.h"
#include "net/fetch.h"
#include "store/admin.h"
#include "store/admin_google.h"
#include "store/catalog_store.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define DEVTOKEN_MAX 256

/* The destination as the command needs it: row, decrypted credentials,
 * and a struct destination for auth_grant.  Owned; target_cleanup. */
struct target {
	struct dest_row row;
	struct destination d;
	unsigned char *creds; /* vault_free_plain */
};

static void target_cleanup(struct target *t)
{
	cJSON_Delete(t->d.settings);
	vault_free_plain(t->creds);
	catalog_dest_row_cleanup(&t->row);
	memset(t, 0, sizeof(*t));
}

/* Load destination id, open its credentials with the master key. */
static int target_load(struct config *cfg, PGconn *conn, const char *id, struct target *t,
		       struct err *e)
{
	struct vault *v = NULL;
	char ad[VAULT_AD_MAX];
	size_t len = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = catalog_load_destination(conn, id, &t->row, e);
	if (rc == 0)
		rc = vault_open(cfg->master_key_file, &v, e);
	if (rc != 0)
		return rc;
	vault_ad(ad, "destination", id, "credentials");
	rc = vault_unseal(v, t->row.credentials, t->row.credentials_len, ad, &t->creds, &len, e);
	vault_free(v);
	if (rc != 0)
		return rc;
	memcpy(t->d.id, t->row.id, sizeof(t->d.id));
	snprintf(t->d.kind, sizeof(t->d.kind), "%s", t->row.kind);
	t->d.tenant_id = t->row.tenant_id;
	t->d.name = t->row.name;
	t->d.test_mode = t->row.test_mode;
	t->d.creds = (char *)t->creds;
	t->d.ops = dest_ops_find(t->row.kind);
	t->d.settings = cJSON_Parse(t->row.settings_json);
	if (!cJSON_IsObject(t->d.settings))
		return err_set(e, ERR_CONFIG, "destination settings are not a JSON object");
	return 0;
}

/* An access token for t (caller wipes it with dest_secret_free): refresh
 * with the destination's grant at Google's token endpoint. */
static int access_token(struct config *cfg, const struct target *t, char **out, struct err *e)
{
	struct oauth_grant g;
	struct oauth_token tok = { 0 };
	struct upload_req req;
	struct fetch_result res = { 0 };
	int rc;

	*out = NULL;
	rc = t->d.ops->auth_grant(&t->d, cfg, &g, e);
	if (rc != 0)
		return rc;
	upload_req_init(&req);
	if (g.refresh_token == NULL)
		rc = err_set(e, ERR_CONFIG,
			     "destination \"%s\" is not authorized yet: run adsengctl destination "
			     "authorize %s",
			     t->row.name, t->row.id);
	if (rc == 0)
		rc = oauth_refresh_request(&g, &req, e);
	if (rc == 0)
		rc = net_fetch(&req, &res, e); /* takes req */
	else
		upload_req_cleanup(&req);
	if (rc == 0)
		rc = oauth_token_parse(&res.resp, &tok, e);
	if (rc == 0)
		*out = xstrdup(tok.access_token);
	oauth_token_cleanup(&tok);
	fetch_result_cleanup(&res);
	oauth_grant_cleanup(&g);
	return rc;
}

/* The developer token: the destination's credentials, else [google]
 * developer_token_file.  Caller frees with dest_secret_free. */
static int developer_token(struct config *cfg, const struct target *t, char **out, struct err *e)
{
	cJSON *creds = cJSON_Parse(t->d.creds);
	int rc = google_cred_or_file(creds, "developer_token", cfg, "developer_token_file", out, e);

	json_wipe_strings(creds);
	cJSON_Delete(creds);
	if (rc == 0 && *out == NULL)
		rc = err_set(e, ERR_CONFIG,
			     "no Google Ads API developer token: put developer_token in the "
			     "destination's credentials or set [google] developer_token_file");
	return rc;
}

/* The API version: a google_ads destination's own, else [google]
 * ads_api_version (Data Manager destinations have no Ads API version). */
static const char *api_version(struct config *cfg, const struct target *t)
{
	const char *v = strcmp(t->row.kind, "google_ads") == 0
				? dest_settings_str(t->d.settings, "api_version")
				: NULL;
	const char *c = config_platform_value(cfg, "google", "ads_api_version");

	return v ? v : c ? c : google_config_keys[GOOGLE_KEY_ADS_API_VERSION].def;
}

struct created {
	char id[24];
	char resource_name[128];
};

/* Get the tokens, send the create request, read Google's answer. */
static int create_action(struct config *cfg, const struct target *t, const char *name,
			 const char *category, struct created *out, struct err *e)
{
	struct google_ads_action_req r = { 0 };
	struct upload_req req;
	struct fetch_result res = { 0 };
	char *token = NULL, *dev = NULL;
	int rc = access_token(cfg, t, &token, e);

	if (rc == 0)
		rc = developer_token(cfg, t, &dev, e);
	if (rc != 0)
		goto out;
	r.base_url = config_endpoint(cfg, "google_ads");
	r.api_version = api_version(cfg, t);
	r.customer_id = dest_settings_str(t->d.settings, "customer_id");
	r.login_customer_id = dest_settings_str(t->d.settings, "login_customer_id");
	r.access_token = token;
	r.developer_token = dev;
	r.name = name;
	r.category = category;
	upload_req_init(&req);
	rc = google_ads_build_conversion_action(&r, &req, e);
	if (rc != 0) {
		upload_req_cleanup(&req);
		goto out;
	}
	rc = net_fetch(&req, &res, e);
	if (rc == 0)
		rc = google_ads_parse_conversion_action(&res.resp, out->id, out->resource_name, e);
out:
	fetch_result_cleanup(&res);
	dest_secret_free(token);
	dest_secret_free(dev);
	return rc;
}

static int emit_created(struct ctl *c, const struct target *t, const struct created *cr,
			const char *name)
{
	cJSON *j;
	bool ok = true;

	if (!c->json) {
		fprintf(c->out, "%s\n", cr->id);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	json_add_string(j, "destination", t->row.id, &ok);
	json_add_string(j, "conversion_action", cr->id, &ok);
	json_add_string(j, "resource_name", cr->resource_name, &ok);
	json_add_string(j, "name", name, &ok);
	if (!ok) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

static int run_create_conversion_action(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	const char *name = ctl_arg(a, "name"), *category = ctl_arg(a, "category");
	struct admin_obj obj;
	struct target t = { 0 };
	struct created cr = { 0 };
	struct config *cfg;
	PGconn *conn;
	int rc;

	if (category && !google_ads_is_category(category))
		return ctl_usage_error(c,
				       "unknown --category \"%s\": use a Google Ads conversion "
				       "action category such as PURCHASE, LEAD, SIGNUP",
				       category);
	if (ctl_config(c, &cfg, &e) != 0 || ctl_db(c, &conn, &e) != 0 ||
	    ctl_find_destination(conn, a->pos[0], &obj, &e) != 0)
		return ctl_fail(c, &e);
	if (strcmp(obj.kind, "google_ads") != 0 && strcmp(obj.kind, "google_datamanager") != 0) {
		err_set(&e, ERR_INVALID,
			"destination \"%s\" is a %s destination: conversion actions belong to "
			"google_ads and google_datamanager destinations",
			obj.name, obj.kind);
		return ctl_fail(c, &e);
	}
	rc = target_load(cfg, conn, obj.id, &t, &e);
	if (rc == 0 && (t.d.ops == NULL || t.d.ops->auth_grant == NULL))
		rc = err_set(&e, ERR_CONFIG, "destination kind %s is not built in", obj.kind);
	if (rc == 0)
		rc = create_action(cfg, &t, name, category, &cr, &e);
	if (rc == 0)
		rc = admin_google_set_conversion_action(conn, ctl_actor(), obj.id, cr.id, name,
							cr.resource_name, &e);
	if (rc != 0) {
		if (cr.id[0])
			ctl_warn(c, "Google created conversion action %s, but it was not stored",
				 cr.id);
		target_cleanup(&t);
		return ctl_fail(c, &e);
	}
	rc = emit_created(c, &t, &cr, name);
	target_cleanup(&t);
	return rc;
}

static const struct ctl_optspec create_action_opts[] = {
	{ "name", CTL_OPT_VALUE, "N", true, "the conversion action's name in Google Ads" },
	{ "category", CTL_OPT_VALUE, "C", false,
	  "PURCHASE (default), LEAD, SIGNUP, SUBMIT_LEAD_FORM, … (Google's categories)" },
	{ NULL, 0, NULL, false, NULL },
};

const struct ctl_cmd ctl_google_cmds[] = {
	{ "google", "create-conversion-action", "DEST",
	  "create the offline conversion action a Google destination uploads to",
	  "Create an UPLOAD_CLICKS conversion action (enabled, many per click, 90-day\n"
	  "click-through window) in the destination's Google Ads account through the Google\n"
	  "Ads API, store its id as the destination's conversion action (audited) and print\n"
	  "it.  DEST is a google_ads or google_datamanager destination (id or unique name),\n"
	  "already authorized.  The developer token comes from the destination's\n"
	  "credentials or [google] developer_token_file.  Google refuses uploads to a new\n"
	  "action for about 6 hours; they are retried.",
	  create_action_opts, 1, 1, true, run_create_conversion_action },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
