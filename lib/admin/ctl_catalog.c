/*
 * ctl_catalog.c - adsengctl's catalog commands: tenants, sources,
 * destinations and the routes between them.
 *
 * Secrets (a source's signing secret, a destination's credentials) come
 * only from files, are read into sodium_malloc memory, sealed with the
 * vault under the row id before they reach the database, and are never
 * printed: the messages about them name the file, not its content.
 * Argument values are checked before anything is opened, so a usage error
 * exits 2 without touching the database.
 */
#include "admin/ctl.h"
#include "admin/ctl_reconcile.h"
#include "admin/ctl_source_limit.h"
#include "admin/ctl_source_secret.h"
#include "core/mem.h"
#include "core/ratelimit.h"
#include "core/vault.h"
#include "destinations/dest.h"
#include "pipeline/admin_view.h"
#include "pipeline/catalog.h"
#include "sources/source.h"
#include "store/admin.h"
#include "store/pgarr.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200
#define SECRET_MAX   4096
#define CREDS_MAX    65536

/* ---- shared helpers ---------------------------------------------------------- */

/* A name as the catalog stores it: 1..NAME_MAX_LEN bytes, no control
 * characters (they would garble listings and logs). */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

/* The optional --tenant filter of a listing: *id 0 when absent. */
static int tenant_filter(struct ctl *c, const struct ctl_args *a, PGconn **conn, int64_t *id,
			 struct err *e)
{
	const char *ref = ctl_arg(a, "tenant");
	int rc = ctl_db(c, conn, e);

	*id = 0;
	if (rc == 0 && ref)
		rc = ctl_find_tenant(*conn, ref, id, e);
	return rc;
}

/* Print rows as JSON or as a table; frees rows. */
static int emit_rows(struct ctl *c, cJSON *rows, const struct ctl_col *cols)
{
	if (c->json)
		return ctl_emit_json(c, rows);
	ctl_print_table(c, cols, rows);
	cJSON_Delete(rows);
	return CTL_EXIT_OK;
}

/* A small result object {"k": "v", …} printed as JSON, or "k v" lines. */
static int emit_pairs(struct ctl *c, const char *const *kv, size_t n)
{
	cJSON *j;

	if (!c->json) {
		for (size_t i = 0; i + 1 < n; i += 2)
			fprintf(c->out, "%s %s\n", kv[i], kv[i + 1]);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	for (size_t i = 0; j && i + 1 < n; i += 2) {
		if (!cJSON_AddStringToObject(j, kv[i], kv[i + 1])) {
			cJSON_Delete(j);
			j = NULL;
		}
	}
	return ctl_emit_json(c, j);
}

/* Wipe every string value of a parsed credentials tree (j and its
 * siblings, recursively); the caller then frees the root. */
static void json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (cJSON_IsString(j) && j->valuestring)
			sodium_memzero(j->valuestring, strlen(j->valuestring));
		json_wipe(j->child);
	}
}

/* ---- tenant ----------------------------------------------------------------------- */

static int run_tenant_add(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	const char *name = a->pos[0], *plan = ctl_arg(a, "plan"), *quota_s = ctl_arg(a, "quota");
	int64_t quota = 0, id = 0;
	PGconn *conn;
	char idtext[24];

	if (!name_ok(name))
		return ctl_usage_error(c,
				       "invalid tenant name: 1 to %d characters, no control "
				       "characters",
				       NAME_MAX_LEN);
	if (plan == NULL)
		plan = "starter";
	if (strcmp(plan, "starter") != 0 && strcmp(plan, "professional") != 0 &&
	    strcmp(plan, "enterprise") != 0)
		return ctl_usage_error(c,
				       "invalid plan \"%s\": use starter, professional or "
				       "enterprise",
				       plan);
	if (quota_s && ctl_parse_int64(quota_s, 0, INT64_MAX, &quota) != 0)
		return ctl_usage_error(c, "invalid quota \"%s\": a non-negative integer", quota_s);
	if (ctl_db(c, &conn, &e) != 0 ||
	    admin_tenant_add(conn, ctl_actor(), name, plan, quota_s ? &quota : NULL, &id, &e) != 0)
		return ctl_fail(c, &e);
	snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
	if (!c->json) {
		fprintf(c->out, "%s\n", idtext);
		return CTL_EXIT_OK;
	}
	{
		cJSON *j = cJSON_CreateObject();

		if (j && (!cJSON_AddNumberToObject(j, "id", (double)id) ||
			  !cJSON_AddStringToObject(j, "name", name) ||
			  !cJSON_AddStringToObject(j, "plan", plan))) {
			cJSON_Delete(j);
			j = NULL;
		}
		return ctl_emit_json(c, j);
	}
}

static int run_tenant_list(struct ctl *c, const struct ctl_args *a)
{
	static const struct ctl_col cols[] = {
		{ "id", "ID", 0 },
		{ "name", "NAME", 40 },
		{ "plan", "PLAN", 0 },
		{ "plan_status", "STATUS", 0 },
		{ "monthly_quota", "QUOTA", 0 },
		{ "sources", "SOURCES", 0 },
		{ "destinations", "DESTINATIONS", 0 },
		{ "created_at", "CREATED", 0 },
		{ NULL, NULL, 0 },
	};
	struct err e = { 0 };
	PGconn *conn;
	cJSON *rows = NULL;

	(void)a;
	if (ctl_db(c, &conn, &e) != 0 || admin_tenant_list(conn, &rows, &e) != 0)
		return ctl_fail(c, &e);
	return emit_rows(c, rows, cols);
}

/* ---- source ----------------------------------------------------------------------- */

/* Where the platform sends (shared with the admin HTTP API). */
static char *webhook_url(const struct config *cfg, const char *kind, const char *id)
{
	return admin_view_webhook_url(cfg, kind, id);
}

/* The click fields clickid_from_attribute() knows (core/clickid.h). */
static bool click_field_ok(const char *f)
{
	static const char *const fields[] = { "gclid", "gbraid", "wbraid", "fbclid",	  "ttclid",
					      "fbp",   "fbc",	 "ttp",	   "ga_client_id" };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(f, fields[i]) == 0)
			return true;
	}
	return false;
}

/* --click-meta-keys "_gclid,_my_fbc=fbc" into settings.click_meta_keys:
 * {"_gclid": "gclid", "_my_fbc": "fbc"} (a bare key names the field
 * without its leading underscores). */
static int add_meta_keys(cJSON *settings, const char *list, struct err *e)
{
	cJSON *keys = cJSON_AddObjectToObject(settings, "click_meta_keys");
	char *copy = xstrdup(list), *save = NULL;
	int rc = 0;

	for (char *tok = strtok_r(copy, ",", &save); keys && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *field;

		if (eq)
			*eq = '\0';
		field = eq ? eq + 1 : tok + strspn(tok, "_");
		if (tok[0] == '\0' || !name_ok(tok) || !click_field_ok(field)) {
			rc = err_set(
				e, ERR_INVALID,
				"invalid --click-meta-keys entry \"%s\": KEY or KEY=FIELD, FIELD "
				"one of gclid, gbraid, wbraid, fbclid, ttclid, fbp, fbc, ttp, "
				"ga_client_id",
				tok);
			break;
		}
		if (!cJSON_AddStringToObject(keys, tok, field))
			keys = NULL;
	}
	free(copy);
	if (rc == 0 && keys == NULL)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	return rc;
}

/* An http(s) URL without white space or control characters, stored
 * without its trailing slashes (paths are appended to it). */
static int add_store_url(cJSON *settings, const char *url, struct err *e)
{
	char *u;
	size_t n;
	int rc = 0;

	if (!(str_has_prefix(url, "https://") || str_has_prefix(url, "http://")) || !name_ok(url) ||
	    strpbrk(url, " \t?#") != NULL)
		return err_set(e, ERR_INVALID,
			       "invalid --store-url \"%s\": an http(s) URL without query", url);
	u = xstrdup(url);
	n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
	if (!cJSON_AddStringToObject(settings, "store_url", u))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	free(u);
	return rc;
}

/* A GHL map option "KEY=event,KEY2=event2" into settings[name] as
 * {"KEY": "event"}; an empty event switches a default off. */
static int add_name_map(cJSON *settings, const char *name, const char *opt, const char *list,
			struct err *e)
{
	cJSON *map = cJSON_AddObjectToObject(settings, name);
	char *copy = xstrdup(list), *save = NULL;
	int rc = 0;

	for (char *tok = strtok_r(copy, ",", &save); map && tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (eq == NULL || eq == tok || !name_ok(tok) || strlen(eq + 1) > 64 ||
		    strpbrk(tok, " \t") != NULL) {
			rc = err_set(e, ERR_INVALID, "invalid --%s entry \"%s\": KEY=EVENT", opt,
				     tok);
			break;
		}
		*eq = '\0';
		if (!cJSON_AddStringToObject(map, tok, eq + 1))
			map = NULL;
	}
	free(copy);
	if (rc == 0 && map == NULL)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	return rc;
}

/* --location-id, --currency, --stage-map, --event-map of a GHL source. */
static int add_ghl_settings(cJSON *settings, const struct ctl_args *a, struct err *e)
{
	const char *loc = ctl_arg(a, "location-id"), *cur = ctl_arg(a, "currency");
	const char *stages = ctl_arg(a, "stage-map"), *events = ctl_arg(a, "event-map");
	int rc = 0;

	if (loc && (!name_ok(loc) || strpbrk(loc, " \t") != NULL))
		return err_set(e, ERR_INVALID, "invalid --location-id \"%s\"", loc);
	if (cur && (strlen(cur) != 3 || strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3))
		return err_set(e, ERR_INVALID,
			       "invalid --currency \"%s\": 3 upper-case letters (ISO 4217)", cur);
	if (loc && !cJSON_AddStringToObject(settings, "location_id", loc))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0 && !cJSON_AddStringToObject(settings, "currency", cur ? cur : "USD"))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0 && stages)
		rc = add_name_map(settings, "stage_map", "stage-map", stages, e);
	if (rc == 0 && events)
		rc = add_name_map(settings, "event_map", "event-map", events, e);
	return rc;
}

/* --rate-limit RATE[/BURST]: the source's own token bucket on ingest
 * (settings.ratelimit_rate, ratelimit_burst; http/source_limits.c). */
static int add_rate_limit(cJSON *settings, const char *spec, struct err *e)
{
	int64_t rate, burst;
	int rc = ratelimit_parse_spec(spec, &rate, &burst, e);

	if (rc != 0)
		return rc;
	if (!cJSON_AddNumberToObject(settings, "ratelimit_rate", (double)rate) ||
	    !cJSON_AddNumberToObject(settings, "ratelimit_burst", (double)burst))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* The settings of `source add` as JSON text (*out, cJSON_free), from the
 * options of WooCommerce and GHL; ERR_INVALID for a usage error. */
static int source_settings(const struct ctl_args *a, const char *kind, char **out, struct err *e)
{
	const char *url = ctl_arg(a, "store-url"), *keys = ctl_arg(a, "click-meta-keys");
	bool ghl = strcmp(kind, "ghl") == 0;
	cJSON *settings;
	int rc = 0;

	*out = NULL;
	if ((url || keys || ctl_arg(a, "rest-credentials-file")) &&
	    strcmp(kind, "woocommerce") != 0)
		return err_set(e, ERR_INVALID,
			       "--store-url, --rest-credentials-file and --click-meta-keys are "
			       "for --kind woocommerce");
	if (!ghl && (ctl_arg(a, "location-id") || ctl_arg(a, "currency") ||
		     ctl_arg(a, "stage-map") || ctl_arg(a, "event-map")))
		return err_set(e, ERR_INVALID,
			       "--location-id, --currency, --stage-map and --event-map are for "
			       "--kind ghl");
	settings = cJSON_CreateObject();
	if (settings == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (url)
		rc = add_store_url(settings, url, e);
	if (rc == 0 && keys)
		rc = add_meta_keys(settings, keys, e);
	if (rc == 0 && ghl)
		rc = add_ghl_settings(settings, a, e);
	if (rc == 0 && ctl_arg(a, "rate-limit"))
		rc = add_rate_limit(settings, ctl_arg(a, "rate-limit"), e);
	if (rc == 0 && (*out = cJSON_PrintUnformatted(settings)) == NULL)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	cJSON_Delete(settings);
	return rc;
}

/* The REST credentials file, when given: a JSON object with the shop's
 * "consumer_key" and "consumer_secret" (WooCommerce → Settings →
 * Advanced → REST API).  *rest is sodium_malloc'd (NULL when absent). */
static int read_rest_credentials(const char *path, char **rest, size_t *len, struct err *e)
{
	cJSON *j;
	int rc;

	*rest = NULL;
	if (path == NULL)
		return 0;
	rc = secret_file_read(path, CREDS_MAX, rest, len, e);
	if (rc != 0)
		return rc;
	j = cJSON_Parse(*rest);
	/* Never quote the file: it is a secret. */
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "consumer_key")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "consumer_secret")))
		rc = err_set(e, ERR_INVALID,
			     "REST credentials file \"%s\" is not a JSON object with "
			     "\"consumer_key\" and \"consumer_secret\"",
			     path);
	json_wipe(j);
	cJSON_Delete(j);
	if (rc != 0) {
		sodium_free(*rest);
		*rest = NULL;
	}
	return rc;
}

/* Everything after the argument checks: read the secret (unless the kind
 * takes none or generates one: *key then), then catalog_source_add seals
 * and inserts. */
static int source_add(struct ctl *c, const struct ctl_args *a, struct catalog_source *s,
		      char id[37], char **key, struct err *e)
{
	const char *secret_file = ctl_arg(a, "secret-file");
	char *secret = NULL, *rest = NULL;
	struct config *cfg;
	struct vault *v = NULL;
	PGconn *conn;
	int rc = 0;

	if (secret_file)
		rc = secret_file_read(secret_file, SECRET_MAX, &secret, &s->secret_len, e);
	s->secret = secret;
	if (rc == 0)
		rc = read_rest_credentials(ctl_arg(a, "rest-credentials-file"), &rest, &s->rest_len,
					   e);
	s->rest = rest;
	if (rc == 0)
		rc = ctl_db(c, &conn, e);
	if (rc == 0)
		rc = ctl_find_tenant(conn, ctl_arg(a, "tenant"), &s->tenant_id, e);
	if (rc == 0)
		rc = ctl_config(c, &cfg, e);
	if (rc == 0)
		rc = vault_open(cfg->master_key_file, &v, e);
	if (rc == 0)
		rc = catalog_source_add(conn, v, ctl_actor(), s, id, key, e);
	vault_free(v);
	if (secret)
		sodium_free(secret); /* wipes it */
	if (rest)
		sodium_free(rest);
	return rc;
}

/* The usage checks of `source add` that depend on the kind; 0 or a
 * message in e. */
static int check_secret_args(const struct ctl_args *a, const struct source_ops *ops, struct err *e)
{
	if (ops->new_secret && ctl_arg(a, "secret-file"))
		return err_set(e, ERR_INVALID,
			       "--kind %s generates its key (printed once): no --secret-file",
			       ops->kind);
	if (ops->no_secret && ctl_arg(a, "secret-file"))
		return err_set(e, ERR_INVALID,
			       "--kind %s is signed with the platform's keys: no --secret-file",
			       ops->kind);
	if (!ops->no_secret && !ops->new_secret && ctl_arg(a, "secret-file") == NULL)
		return err_set(e, ERR_INVALID, "--kind %s needs --secret-file", ops->kind);
	return 0;
}

/* Print the new source: id and URL, and a generated key, which is shown
 * this once and never again. */
static int print_source(struct ctl *c, const char *id, const char *url, const char *key)
{
	if (key == NULL)
		return emit_pairs(c, (const char *const[]){ "id", id, "webhook_url", url }, 4);
	if (!c->json)
		ctl_warn(c, "the API key is shown only now; store it, it cannot be read back");
	return emit_pairs(c, (const char *const[]){ "id", id, "webhook_url", url, "api_key", key },
			  6);
}

static int run_source_add(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	struct catalog_source s = { 0 };
	const struct source_ops *ops;
	struct config *cfg;
	char *url, *settings = NULL, *key = NULL;
	char id[37];
	int rc;

	s.kind = ctl_arg(a, "kind");
	s.name = ctl_arg(a, "name");
	ops = source_ops_find(s.kind);
	if (ops == NULL)
		return ctl_usage_error(c, "unknown source kind \"%s\"", s.kind);
	if (check_secret_args(a, ops, &e) != 0)
		return ctl_usage_error(c, "%s", e.msg);
	if (!name_ok(s.name))
		return ctl_usage_error(c,
				       "invalid source name: 1 to %d characters, no control "
				       "characters",
				       NAME_MAX_LEN);
	rc = source_settings(a, s.kind, &settings, &e);
	if (rc == ERR_INVALID)
		return ctl_usage_error(c, "%s", e.msg);
	if (rc != 0)
		return ctl_fail(c, &e);
	s.settings_json = settings;
	rc = ctl_config(c, &cfg, &e);
	if (rc == 0)
		rc = source_add(c, a, &s, id, &key, &e);
	cJSON_free(settings);
	if (rc == 0) {
		url = webhook_url(cfg, s.kind, id);
		rc = print_source(c, id, url, key);
		free(url);
	} else {
		rc = ctl_fail(c, &e);
	}
	if (key)
		sodium_free(key); /* wipes it */
	return rc;
}

static int run_source_list(struct ctl *c, const struct ctl_args *a)
{
	static const struct ctl_col cols[] = {
		{ "id", "ID", 0 },	     { "tenant", "TENANT", 30 },
		{ "kind", "KIND", 0 },	     { "name", "NAME", 40 },
		{ "enabled", "ENABLED", 0 }, { "webhook_url", "WEBHOOK_URL", 0 },
		{ NULL, NULL, 0 },
	};
	struct err e = { 0 };
	struct config *cfg;
	PGconn *conn;
	int64_t tenant_id;
	cJSON *rows = NULL;

	if (ctl_config(c, &cfg, &e) != 0 || tenant_filter(c, a, &conn, &tenant_id, &e) != 0 ||
	    admin_source_list(conn, tenant_id, &rows, &e) != 0)
		return ctl_fail(c, &e);
	admin_view_sources(cfg, rows);
	return emit_rows(c, rows, cols);
}

static int set_source_enabled(struct ctl *c, const struct ctl_args *a, bool enabled)
{
	struct err e = { 0 };
	struct admin_obj src;
	PGconn *conn;
	cJSON *j;

	if (ctl_db(c, &conn, &e) != 0 || ctl_find_source(conn, a->pos[0], &src, &e) != 0 ||
	    admin_source_set_enabled(conn, ctl_actor(), src.id, enabled, &e) != 0)
		return ctl_fail(c, &e);
	if (!c->json) {
		fprintf(c->out, "%s source \"%s\" (%s)\n", enabled ? "enabled" : "disabled",
			src.name, src.id);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	if (j && (!cJSON_AddStringToObject(j, "id", src.id) ||
		  !cJSON_AddStringToObject(j, "name", src.name) ||
		  !cJSON_AddBoolToObject(j, "enabled", enabled))) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

static int run_source_disable(struct ctl *c, const struct ctl_args *a)
{
	return set_source_enabled(c, a, false);
}

static int run_source_enable(struct ctl *c, const struct ctl_args *a)
{
	return set_source_enabled(c, a, true);
}

/* ---- destination -------------------------------------------------------------------- */

/* Option → settings key, for every platform identifier option. */
static const char *const settings_map[][2] = {
	{ "pixel-id", "pixel_id" },
	{ "test-event-code", "test_event_code" },
	{ "api-version", "api_version" },
	{ "customer-id", "customer_id" },
	{ "login-customer-id", "login_customer_id" },
	{ "conversion-action", "conversion_action" },
	{ "measurement-id", "measurement_id" },
	{ "url", "url" },
	{ "gtm-preview", "gtm_preview" },
	{ "validate-sample", "validate_sample" },
	{ "consent", "consent" },
	{ "event-map", "event_map" },
	{ "max-inflight", "max_inflight" },
};

static cJSON *build_settings(const struct ctl_args *a)
{
	cJSON *s = cJSON_CreateObject();

	for (size_t i = 0; s && i < sizeof(settings_map) / sizeof(settings_map[0]); i++) {
		const char *v = ctl_arg(a, settings_map[i][0]);

		if (v && !cJSON_AddStringToObject(s, settings_map[i][1], v)) {
			cJSON_Delete(s);
			return NULL;
		}
	}
	return s;
}

/* The credentials file must hold a JSON object (said here with its path;
 * the kind's own checks are catalog_destination_add's). */
static int check_credentials(const char *creds_text, const char *path, struct err *e)
{
	cJSON *creds = cJSON_Parse(creds_text);
	int rc = 0;

	/* Never quote the file: it is a secret. */
	if (!cJSON_IsObject(creds))
		rc = err_set(e, ERR_INVALID, "credentials file \"%s\" is not a JSON object", path);
	json_wipe(creds);
	cJSON_Delete(creds);
	return rc;
}

/* Everything after the argument checks: read the credentials, then
 * catalog_destination_add checks, seals and inserts. */
static int destination_add(struct ctl *c, const struct ctl_args *a, struct catalog_destination *x,
			   char id[37], struct err *e)
{
	const char *path = ctl_arg(a, "credentials-file");
	char *creds = NULL;
	struct config *cfg;
	struct vault *v = NULL;
	PGconn *conn;
	int rc;

	x->settings = build_settings(a);
	if (x->settings == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = secret_file_read(path, CREDS_MAX, &creds, &x->creds_len, e);
	x->creds = creds;
	if (rc == 0)
		rc = check_credentials(creds, path, e);
	if (rc == 0)
		rc = ctl_db(c, &conn, e);
	if (rc == 0)
		rc = ctl_find_tenant(conn, ctl_arg(a, "tenant"), &x->tenant_id, e);
	if (rc == 0)
		rc = ctl_config(c, &cfg, e);
	if (rc == 0)
		rc = vault_open(cfg->master_key_file, &v, e);
	if (rc == 0)
		rc = catalog_destination_add(conn, v, ctl_actor(), x, id, e);
	vault_free(v);
	if (creds)
		sodium_free(creds); /* wipes it */
	cJSON_Delete(x->settings);
	x->settings = NULL;
	return rc;
}

static int run_destination_add(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	struct catalog_destination x = { 0 };
	const struct dest_ops *ops;
	char id[37];

	x.kind = ctl_arg(a, "kind");
	x.name = ctl_arg(a, "name");
	x.test_mode = ctl_flag(a, "test-mode");
	ops = dest_ops_find(x.kind);
	if (ops == NULL)
		return ctl_usage_error(c, "unknown destination kind \"%s\"", x.kind);
	if (!name_ok(x.name))
		return ctl_usage_error(c,
				       "invalid destination name: 1 to %d characters, no "
				       "control characters",
				       NAME_MAX_LEN);
	if (destination_add(c, a, &x, id, &e) != 0)
		return ctl_fail(c, &e);
	if (!c->json) {
		fprintf(c->out, "%s\n", id);
		return CTL_EXIT_OK;
	}
	return emit_pairs(c, (const char *const[]){ "id", id, "kind", x.kind, "name", x.name }, 6);
}

static int run_destination_list(struct ctl *c, const struct ctl_args *a)
{
	static const struct ctl_col cols[] = {
		{ "id", "ID", 0 },
		{ "tenant", "TENANT", 30 },
		{ "kind", "KIND", 0 },
		{ "name", "NAME", 40 },
		{ "enabled", "ENABLED", 0 },
		{ "test_mode", "TEST", 0 },
		{ "paused_reason", "PAUSED_REASON", 60 },
		{ NULL, NULL, 0 },
	};
	struct err e = { 0 };
	PGconn *conn;
	int64_t tenant_id;
	cJSON *rows = NULL;

	if (tenant_filter(c, a, &conn, &tenant_id, &e) != 0 ||
	    admin_destination_list(conn, tenant_id, &rows, &e) != 0)
		return ctl_fail(c, &e);
	return emit_rows(c, rows, cols);
}

/* Report a pause/resume: key is "held" or "released". */
static int emit_pause(struct ctl *c, const struct admin_obj *d, const char *key, int64_t n)
{
	cJSON *j;

	if (!c->json) {
		if (strcmp(key, "held") == 0)
			fprintf(c->out,
				"paused destination \"%s\" (%s): %lld pending deliveries held\n",
				d->name, d->id, (long long)n);
		else
			fprintf(c->out,
				"resumed destination \"%s\" (%s): %lld held deliveries released\n",
				d->name, d->id, (long long)n);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	if (j && (!cJSON_AddStringToObject(j, "id", d->id) ||
		  !cJSON_AddStringToObject(j, "name", d->name) ||
		  !cJSON_AddNumberToObject(j, key, (double)n))) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

static int run_destination_pause(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	struct admin_obj d;
	const char *reason = ctl_arg(a, "reason");
	char deflt[160];
	PGconn *conn;
	int64_t held = 0;

	if (reason == NULL) {
		snprintf(deflt, sizeof(deflt), "paused by %s", ctl_actor());
		reason = deflt;
	}
	if (ctl_db(c, &conn, &e) != 0 || ctl_find_destination(conn, a->pos[0], &d, &e) != 0 ||
	    admin_destination_pause(conn, ctl_actor(), d.id, reason, &held, &e) != 0)
		return ctl_fail(c, &e);
	return emit_pause(c, &d, "held", held);
}

static int run_destination_resume(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	struct admin_obj d;
	PGconn *conn;
	int64_t released = 0;

	if (ctl_db(c, &conn, &e) != 0 || ctl_find_destination(conn, a->pos[0], &d, &e) != 0 ||
	    admin_destination_resume(conn, ctl_actor(), d.id, &released, &e) != 0)
		return ctl_fail(c, &e);
	return emit_pause(c, &d, "released", released);
}

/* ---- route ------------------------------------------------------------------------------ */

static int emit_route(struct ctl *c, const struct admin_obj *s, const struct admin_obj *d,
		      const struct ctl_events *ev, bool created)
{
	const char *list[CTL_MAX_EVENTS];
	cJSON *j;

	for (int i = 0; ev && i < ev->n; i++)
		list[i] = ev->v[i];
	if (!c->json) {
		fprintf(c->out,
			"%s route \"%s\" -> \"%s\" (events: ", created ? "added" : "updated",
			s->name, d->name);
		for (int i = 0; ev && i < ev->n; i++)
			fprintf(c->out, "%s%s", i ? "," : "", ev->v[i]);
		fprintf(c->out, "%s)\n", ev ? "" : "all");
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	if (j &&
	    (!cJSON_AddStringToObject(j, "source_id", s->id) ||
	     !cJSON_AddStringToObject(j, "destination_id", d->id) ||
	     !cJSON_AddItemToObject(
		     j, "events", ev ? cJSON_CreateStringArray(list, ev->n) : cJSON_CreateNull()) ||
	     !cJSON_AddBoolToObject(j, "created", created))) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

static int run_route_add(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	struct ctl_events ev;
	struct admin_obj s, d;
	const char *events = ctl_arg(a, "events");
	const char *list[CTL_MAX_EVENTS];
	bool created = false;
	PGconn *conn;

	if (events && ctl_parse_events(events, &ev, &e) != 0)
		return ctl_usage_error(c, "%s", e.msg);
	for (int i = 0; events && i < ev.n; i++)
		list[i] = ev.v[i];
	if (ctl_db(c, &conn, &e) != 0 || ctl_find_source(conn, a->pos[0], &s, &e) != 0 ||
	    ctl_find_destination(conn, a->pos[1], &d, &e) != 0)
		return ctl_fail(c, &e);
	if (s.tenant_id != d.tenant_id) {
		err_set(&e, ERR_INVALID,
			"source \"%s\" belongs to tenant \"%s\" but destination \"%s\" to tenant "
			"\"%s\": a route stays within one tenant",
			s.name, s.tenant_name, d.name, d.tenant_name);
		return ctl_fail(c, &e);
	}
	if (admin_route_add(conn, ctl_actor(), s.id, d.id, events ? list : NULL, events ? ev.n : 0,
			    &created, &e) != 0)
		return ctl_fail(c, &e);
	return emit_route(c, &s, &d, events ? &ev : NULL, created);
}

static int run_route_list(struct ctl *c, const struct ctl_args *a)
{
	static const struct ctl_col cols[] = {
		{ "tenant", "TENANT", 30 },
		{ "source", "SOURCE", 40 },
		{ "destination", "DESTINATION", 40 },
		{ "events", "EVENTS", 0 },
		{ NULL, NULL, 0 },
	};
	struct err e = { 0 };
	PGconn *conn;
	int64_t tenant_id;
	cJSON *rows = NULL, *row;

	if (tenant_filter(c, a, &conn, &tenant_id, &e) != 0 ||
	    admin_route_list(conn, tenant_id, &rows, &e) != 0)
		return ctl_fail(c, &e);
	if (!c->json) {
		cJSON_ArrayForEach (row, rows) {
			if (cJSON_IsNull(cJSON_GetObjectItem(row, "events")))
				cJSON_ReplaceItemInObjectCaseSensitive(row, "events",
								       cJSON_CreateString("(all)"));
		}
	}
	return emit_rows(c, rows, cols);
}

/* ---- the table ------------------------------------------------------------------------- */

#define OPT_JSON_ONLY                                                                              \
	{                                                                                          \
		NULL, 0, NULL, false, NULL                                                         \
	}

static const struct ctl_optspec tenant_add_opts[] = {
	{ "plan", CTL_OPT_VALUE, "starter|professional|enterprise", false,
	  "billing plan (default starter)" },
	{ "quota", CTL_OPT_VALUE, "N", false, "monthly conversion quota (default: none)" },
	OPT_JSON_ONLY,
};

static const struct ctl_optspec tenant_filter_opts[] = {
	{ "tenant", CTL_OPT_VALUE, "T", false, "only this tenant (id or name)" },
	OPT_JSON_ONLY,
};

static const struct ctl_optspec source_add_opts[] = {
	{ "tenant", CTL_OPT_VALUE, "T", true, "the tenant (id or name)" },
	{ "kind", CTL_OPT_VALUE, "K", true,
	  "the platform: shopify, woocommerce, ghl, or api (the server-side events API)" },
	{ "name", CTL_OPT_VALUE, "N", true, "a name unique within the tenant" },
	{ "secret-file", CTL_OPT_VALUE, "F", false,
	  "file holding the webhook signing secret (trailing whitespace ignored); required "
	  "except for kinds signed with the platform's keys (ghl) and api, whose key is "
	  "generated" },
	{ "location-id", CTL_OPT_VALUE, "L", false,
	  "ghl: the HighLevel location (sub-account) id; events of other locations are "
	  "refused" },
	{ "currency", CTL_OPT_VALUE, "C", false,
	  "ghl: ISO 4217 currency of opportunity values (default USD)" },
	{ "stage-map", CTL_OPT_VALUE, "LIST", false,
	  "ghl: conversions by pipeline stage id, e.g. abc=qualified_lead,def=booked" },
	{ "event-map", CTL_OPT_VALUE, "LIST", false,
	  "ghl: conversions by webhook type (won = a won opportunity), e.g. "
	  "InvoicePaid=purchase,ContactCreate=lead; an empty name switches one off" },
	{ "rate-limit", CTL_OPT_VALUE, "R[/B]", false,
	  "this source's own ingest limit: R webhooks per second, bursts of B (default "
	  "4 * R), instead of [ratelimit] rate and burst; over it: 429 with Retry-After" },
	{ "store-url", CTL_OPT_VALUE, "URL", false,
	  "woocommerce: the shop's URL (for reconcile through its REST API)" },
	{ "rest-credentials-file", CTL_OPT_VALUE, "F", false,
	  "woocommerce: JSON file {\"consumer_key\", \"consumer_secret\"} of a read-only "
	  "REST API key, sealed like the secret" },
	{ "click-meta-keys", CTL_OPT_VALUE, "LIST", false,
	  "woocommerce: order meta keys carrying click ids, e.g. _gclid,_my_fbc=fbc (a bare "
	  "key names the field without its leading underscores)" },
	OPT_JSON_ONLY,
};

static const struct ctl_optspec destination_add_opts[] = {
	{ "tenant", CTL_OPT_VALUE, "T", true, "the tenant (id or name)" },
	{ "kind", CTL_OPT_VALUE, "K", true, "the platform: meta_capi, google_ads, ..." },
	{ "name", CTL_OPT_VALUE, "N", true, "a name unique within the tenant" },
	{ "credentials-file", CTL_OPT_VALUE, "F", true, "JSON file of the platform credentials" },
	{ "pixel-id", CTL_OPT_VALUE, "P", false, "Meta pixel / TikTok pixel code" },
	{ "test-event-code", CTL_OPT_VALUE, "C", false, "Meta / TikTok test event code" },
	{ "event-map", CTL_OPT_VALUE, "LIST", false,
	  "TikTok: event names by canonical event, e.g. purchase=Purchase,lead=Contact" },
	{ "api-version", CTL_OPT_VALUE, "V", false, "platform API version (e.g. v24.0)" },
	{ "customer-id", CTL_OPT_VALUE, "ID", false, "Google Ads customer id" },
	{ "login-customer-id", CTL_OPT_VALUE, "ID", false, "Google Ads manager account id" },
	{ "conversion-action", CTL_OPT_VALUE, "A", false, "Google Ads conversion action" },
	{ "measurement-id", CTL_OPT_VALUE, "ID", false, "GA4 measurement id" },
	{ "url", CTL_OPT_VALUE, "URL", false, "server-side GTM container URL" },
	{ "gtm-preview", CTL_OPT_VALUE, "H", false,
	  "sGTM: X-Gtm-Server-Preview header value, sent in test mode" },
	{ "validate-sample", CTL_OPT_VALUE, "F", false,
	  "GA4: fraction of requests checked first at /debug/mp/collect (0..1)" },
	{ "consent", CTL_OPT_VALUE, "C", false,
	  "Google: consent sent when the source gives none: granted, denied or unspecified "
	  "(default; then no consent is sent)" },
	{ "max-inflight", CTL_OPT_VALUE, "N", false,
	  "requests a worker may have in flight to it (1..1000; default per kind: meta_capi, "
	  "tiktok 4, google 2, ga4, sgtm 16)" },
	{ "test-mode", CTL_OPT_FLAG, NULL, false,
	  "test mode: test orders are delivered here (as test events: meta_capi and "
	  "tiktok need --test-event-code); other destinations skip them" },
	OPT_JSON_ONLY,
};

static const struct ctl_optspec pause_opts[] = {
	{ "reason", CTL_OPT_VALUE, "TEXT", false, "why (default \"paused by <user>\")" },
	OPT_JSON_ONLY,
};

static const struct ctl_optspec route_add_opts[] = {
	{ "events", CTL_OPT_VALUE, "LIST", false,
	  "comma-separated events to forward, e.g. purchase,lead (default: all)" },
	OPT_JSON_ONLY,
};

const struct ctl_cmd ctl_catalog_cmds[] = {
	{ "tenant", "add", "NAME", "add a tenant (an agency), print its id", NULL, tenant_add_opts,
	  1, 1, true, run_tenant_add },
	{ "tenant", "list", NULL, "list tenants", NULL, NULL, 0, 0, true, run_tenant_list },
	{ "source", "add", NULL, "add a webhook source, print its id and webhook URL",
	  "Add an inbound source.  The secret is read from the file, sealed with the master\n"
	  "key and stored; it is never printed.  Prints the id and the webhook URL to give\n"
	  "the platform ([server] public_url/v1/webhooks/KIND/ID).  A ghl source takes no\n"
	  "secret: HighLevel signs with its own keys ([ghl] in the configuration).  An api\n"
	  "source (POST /v1/events/ID) gets a generated API key, printed this once.",
	  source_add_opts, 0, 0, true, run_source_add },
	{ "source", "list", NULL, "list sources (never their secrets)", NULL, tenant_filter_opts, 0,
	  0, true, run_source_list },
	{ "source", "disable", "ID", "stop accepting a source's webhooks (answered 404)", NULL,
	  NULL, 1, 1, true, run_source_disable },
	{ "source", "enable", "ID", "accept a source's webhooks again", NULL, NULL, 1, 1, true,
	  run_source_enable },
	{ "source", "reconcile", "SOURCE", "store the orders a WooCommerce shop's webhooks missed",
	  "Page through the shop's REST API (GET {store_url}/wp-json/wc/v3/orders, orders\n"
	  "modified since --since) with the source's REST credentials, and store every paid\n"
	  "order that has no conversion yet as a raw event marked X-Adseng-Reconciled; a\n"
	  "running adsengd converts and delivers it like a webhook.  Safe to repeat.\n"
	  "With --interval instead, the daemon does it every D, each run from where the last\n"
	  "good one started (less 10 minutes).  Every run is audited.",
	  ctl_reconcile_opts, 1, 1, true, ctl_run_source_reconcile },
	{ "source", "rate-limit", "SOURCE R[/B]|default",
	  "set a source's own ingest rate limit, or go back to [ratelimit]",
	  "At most R webhooks a second with bursts of B (default 4 * R) from this source,\n"
	  "per daemon; above it the answer is 429 with Retry-After and nothing is stored.\n"
	  "\"default\" removes the source's own limit.  Running daemons pick the change up\n"
	  "by themselves.  Audited.",
	  NULL, 2, 2, true, ctl_run_source_rate_limit },
	{ "source", "rotate-secret", "ID",
	  "replace a source's signing secret, keeping the old one a while",
	  "The new secret is accepted at once; the old one until the overlap ends (default\n"
	  "24h), so deliveries the platform signed before the switch still pass.  Running\n"
	  "daemons pick the change up by themselves.  Audited.",
	  ctl_rotate_secret_opts, 1, 1, true, ctl_run_source_rotate_secret },
	{ "destination", "add", NULL, "add an ad platform destination, print its id",
	  "Add a destination.  The credentials file is JSON (meta_capi, tiktok:\n"
	  "{\"access_token\"}; ga4, sgtm: {\"api_secret\"}; google_ads: {\"client_id\",\n"
	  "\"client_secret\", \"refresh_token\"[, \"developer_token\"]}); it is checked with the\n"
	  "platform's rules, sealed with the master key and stored, never printed.",
	  destination_add_opts, 0, 0, true, run_destination_add },
	{ "destination", "list", NULL, "list destinations (never their credentials)", NULL,
	  tenant_filter_opts, 0, 0, true, run_destination_list },
	{ "destination", "pause", "ID", "stop deliveries to a destination, hold pending ones",
	  "Disable the destination and move its pending deliveries to held, in one\n"
	  "transaction.  ID is its uuid or its name when that is unique.",
	  pause_opts, 1, 1, true, run_destination_pause },
	{ "destination", "resume", "ID", "resume a destination, release held deliveries",
	  "Enable the destination and move its held deliveries back to pending, due now,\n"
	  "in one transaction, then wake the workers.",
	  NULL, 1, 1, true, run_destination_resume },
	{ "route", "add", "SOURCE DEST", "feed a source's conversions to a destination",
	  "Create (or replace the events of) the route from SOURCE to DEST, each named by id\n"
	  "or unique name; both must belong to the same tenant.",
	  route_add_opts, 2, 2, true, run_route_add },
	{ "route", "list", NULL, "list routes", NULL, tenant_filter_opts, 0, 0, true,
	  run_route_list },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
