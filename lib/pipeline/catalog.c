/*
 * catalog.c - adding sources and destinations for the CLI and the admin
 * API (catalog.h): kind checks, sealing, insert.
 */
#include "pipeline/catalog.h"
#include "destinations/dest.h"
#include "sources/source.h"
#include "store/admin.h"
#include "store/pgarr.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

bool catalog_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > CATALOG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

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

static bool url_ok(const cJSON *v)
{
	const char *u = cJSON_GetStringValue(v);
	size_t n = u ? strlen(u) : 0;

	return u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) &&
	       catalog_name_ok(u) && strpbrk(u, " \t?#") == NULL && u[n - 1] != '/';
}

/* {"KEY": value} with names as the catalog's and values that pass ok
 * (NULL: strings of at most 64 bytes). */
static bool map_ok(const cJSON *m, bool (*ok)(const char *))
{
	const cJSON *it;

	if (!cJSON_IsObject(m))
		return false;
	cJSON_ArrayForEach (it, m) {
		if (!catalog_name_ok(it->string) || !cJSON_IsString(it) ||
		    (ok ? !ok(it->valuestring) : strlen(it->valuestring) > 64))
			return false;
	}
	return true;
}

static bool currency_ok(const cJSON *v)
{
	const char *c = cJSON_GetStringValue(v);

	return c && strlen(c) == 3 && strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 3;
}

int catalog_source_settings_check(const char *kind, const cJSON *settings, struct err *e)
{
	bool woo = strcmp(kind, "woocommerce") == 0, ghl = strcmp(kind, "ghl") == 0;
	const cJSON *it;

	cJSON_ArrayForEach (it, settings) {
		const char *k = it->string;

		if ((strcmp(k, "store_url") == 0 || strcmp(k, "click_meta_keys") == 0) && !woo)
			return err_set(e, ERR_CONFIG, "settings.%s: for kind woocommerce", k);
		if ((strcmp(k, "location_id") == 0 || strcmp(k, "currency") == 0 ||
		     strcmp(k, "stage_map") == 0 || strcmp(k, "event_map") == 0) &&
		    !ghl)
			return err_set(e, ERR_CONFIG, "settings.%s: for kind ghl", k);
		if (strcmp(k, "store_url") == 0 && !url_ok(it))
			return err_set(e, ERR_CONFIG,
				       "settings.store_url: an http(s) URL without "
				       "query or trailing slash");
		if (strcmp(k, "click_meta_keys") == 0 && !map_ok(it, click_field_ok))
			return err_set(e, ERR_CONFIG,
				       "settings.click_meta_keys: {\"KEY\": FIELD}, FIELD one of "
				       "gclid, gbraid, wbraid, fbclid, ttclid, fbp, fbc, ttp, "
				       "ga_client_id");
		if (strcmp(k, "location_id") == 0 &&
		    (!catalog_name_ok(cJSON_GetStringValue(it)) || strpbrk(it->valuestring, " \t")))
			return err_set(e, ERR_CONFIG, "settings.location_id: a location id");
		if (strcmp(k, "currency") == 0 && !currency_ok(it))
			return err_set(e, ERR_CONFIG,
				       "settings.currency: 3 upper-case letters (ISO 4217)");
		if ((strcmp(k, "stage_map") == 0 || strcmp(k, "event_map") == 0) &&
		    !map_ok(it, NULL))
			return err_set(e, ERR_CONFIG, "settings.%s: {\"KEY\": \"event\"}", k);
	}
	return 0;
}

/* Seal plain for column of row id of table; *sealed malloc'd. */
static int seal(const struct vault *v, const char *table, const char *id, const char *column,
		const char *plain, size_t len, uint8_t **sealed, size_t *sealed_len, struct err *e)
{
	char ad[VAULT_AD_MAX];

	vault_ad(ad, table, id, column);
	return vault_seal(v, plain, len, ad, sealed, sealed_len, e);
}

/* The secret the kind wants: ERR_CONFIG when s does not fit it. */
static int source_secret_check(const struct source_ops *ops, const struct catalog_source *s,
			       struct err *e)
{
	if (ops->new_secret && s->secret)
		return err_set(e, ERR_CONFIG, "kind %s generates its key: give no secret",
			       ops->kind);
	if (ops->no_secret && s->secret)
		return err_set(e, ERR_CONFIG,
			       "kind %s is signed with the platform's keys: give no secret",
			       ops->kind);
	if (!ops->no_secret && !ops->new_secret && s->secret == NULL)
		return err_set(e, ERR_CONFIG, "kind %s needs a secret", ops->kind);
	return 0;
}

int catalog_source_add(PGconn *conn, const struct vault *v, const char *actor,
		       const struct catalog_source *s, char id[37], char **api_key, struct err *e)
{
	const struct source_ops *ops = source_ops_find(s->kind);
	struct admin_source_new row = { 0 };
	uint8_t *sealed = NULL, *sealed_rest = NULL;
	const char *secret = s->secret ? s->secret : "";
	size_t secret_len = s->secret ? s->secret_len : 0;
	int rc;

	*api_key = NULL;
	if (ops == NULL)
		return err_set(e, ERR_CONFIG, "unknown source kind \"%s\"", s->kind);
	rc = source_secret_check(ops, s, e);
	if (rc != 0)
		return rc;
	if (ops->new_secret) {
		*api_key = sodium_malloc(SOURCE_SECRET_NEW_MAX);
		if (*api_key == NULL)
			return err_set(e, ERR_NOMEM, "out of memory");
		ops->new_secret(*api_key);
		secret = *api_key;
		secret_len = strlen(*api_key);
	}
	uuid_generate(id);
	/* A kind signed with the platform's own keys stores an empty secret
	 * (the column holds a sealed value for every source). */
	rc = seal(v, "source", id, "secret", secret, secret_len, &sealed, &row.sealed_len, e);
	if (rc == 0 && s->rest)
		rc = seal(v, "source", id, "rest_credentials", s->rest, s->rest_len, &sealed_rest,
			  &row.sealed_rest_len, e);
	row.id = id;
	row.tenant_id = s->tenant_id;
	row.kind = s->kind;
	row.name = s->name;
	row.sealed = sealed;
	row.sealed_rest = sealed_rest;
	row.settings_json = s->settings_json;
	if (rc == 0)
		rc = admin_source_add(conn, actor, &row, e);
	free(sealed);
	free(sealed_rest);
	if (rc != 0 && *api_key) {
		sodium_free(*api_key);
		*api_key = NULL;
	}
	return rc;
}

/* Wipe every string of a JSON tree (parsed credentials). */
static void json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (cJSON_IsString(j) && j->valuestring)
			sodium_memzero(j->valuestring, strlen(j->valuestring));
		json_wipe(j->child);
	}
}

/* Normalize the settings and check them with the credentials. */
static int destination_check(const struct dest_ops *ops, struct catalog_destination *d,
			     struct err *e)
{
	cJSON *creds;
	int rc = dest_prepare_common_settings(d->settings, e);

	/* Normalized first (Google customer ids lose their hyphens): what is
	 * validated and stored is the normalized form. */
	if (rc == 0 && ops->prepare_settings)
		rc = ops->prepare_settings(d->settings, e);
	if (rc != 0)
		return rc;
	creds = cJSON_ParseWithLength(d->creds, d->creds_len);
	/* Never quote the credentials: they are a secret. */
	if (!cJSON_IsObject(creds))
		rc = err_set(e, ERR_INVALID, "credentials: not a JSON object");
	else if (ops->validate)
		rc = ops->validate(d->settings, creds, d->test_mode, e);
	json_wipe(creds);
	cJSON_Delete(creds);
	return rc;
}

int catalog_destination_add(PGconn *conn, const struct vault *v, const char *actor,
			    struct catalog_destination *d, char id[37], struct err *e)
{
	const struct dest_ops *ops = dest_ops_find(d->kind);
	struct admin_destination_new row = { 0 };
	uint8_t *sealed = NULL;
	char *settings = NULL;
	int rc;

	if (ops == NULL)
		return err_set(e, ERR_CONFIG, "unknown destination kind \"%s\"", d->kind);
	rc = destination_check(ops, d, e);
	if (rc != 0)
		return rc;
	settings = cJSON_PrintUnformatted(d->settings);
	if (settings == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	uuid_generate(id);
	rc = seal(v, "destination", id, "credentials", d->creds, d->creds_len, &sealed,
		  &row.sealed_len, e);
	row.id = id;
	row.tenant_id = d->tenant_id;
	row.kind = d->kind;
	row.name = d->name;
	row.settings_json = settings;
	row.sealed = sealed;
	row.test_mode = d->test_mode;
	if (rc == 0)
		rc = admin_destination_add(conn, actor, &row, e);
	free(sealed);
	cJSON_free(settings);
	return rc;
}
