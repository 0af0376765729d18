/*
 * google_common.c - settings, consent and OAuth2 grant shared by the Google
 * Ads destinations (google_common.h).
 */
#include "destinations/google_common.h"
#include "core/config.h"
#include "core/json_build.h"
#include "core/mem.h"
#include "core/oauth_grant.h"
#include "core/secret_file.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define CLIENT_SECRET_MAX 1024
#define TOKEN_MAX	  4096

const struct config_platform_key google_config_keys[GOOGLE_N_CONFIG_KEYS] = {
	{ .section = "google",
	  .name = "client_id_file",
	  .def = "",
	  .help = "file holding the OAuth2 client id, used when a destination's credentials have "
		  "none" },
	{ .section = "google",
	  .name = "client_secret_file",
	  .def = "",
	  .help = "file holding the OAuth2 client secret, used when a destination's credentials "
		  "have none" },
	{ .section = "google",
	  .name = "developer_token_file",
	  .def = "",
	  .help = "file holding a Google Ads API developer token, used by google_ads destinations "
		  "and create-conversion-action when the credentials carry no developer_token" },
	{ .section = "google",
	  .name = "auth_url",
	  .def = "https://accounts.google.com/o/oauth2/v2/auth",
	  .help = "Google's OAuth2 consent page (adsengctl destination authorize)" },
	[GOOGLE_KEY_ADS_API_VERSION] = { .section = "google",
					 .name = "ads_api_version",
					 .def = "v26",
					 .help = "Google Ads API version of google_ads "
						 "destinations "
						 "without --api-version, and of "
						 "create-conversion-action" },
	[GOOGLE_KEY_DATAMANAGER_API_VERSION] = { .section = "google",
						 .name = "datamanager_api_version",
						 .def = "v1",
						 .help = "Data Manager API version for "
							 "google_datamanager destinations that do "
							 "not set --api-version" },
	[GOOGLE_KEY_DATAMANAGER_STATUS_DELAY] = { .section = "google",
						  .name = "datamanager_status_delay",
						  .def = "30m",
						  .help = "how long after Data Manager accepted a "
							  "request its processing status is first "
							  "queried (requestStatus:retrieve; then "
							  "doubling, at most 6h)" },
	{ .section = "endpoints",
	  .name = "google_ads",
	  .def = "https://googleads.googleapis.com",
	  .help = "Google Ads API base URL",
	  .type = CONFIG_P_URL,
	  .reloadable = true },
	{ .section = "endpoints",
	  .name = "google_oauth",
	  .def = "https://oauth2.googleapis.com",
	  .help = "Google OAuth2 token endpoint base URL",
	  .type = CONFIG_P_URL,
	  .reloadable = true },
	{ .section = "endpoints",
	  .name = "google_datamanager",
	  .def = "https://datamanager.googleapis.com",
	  .help = "Google Data Manager API base URL",
	  .type = CONFIG_P_URL,
	  .reloadable = true },
};
const size_t google_n_config_keys = sizeof(google_config_keys) / sizeof(google_config_keys[0]);

bool google_customer_id_normalize(const char *in, char out[11])
{
	size_t n = 0;

	if (in == NULL)
		return false;
	for (; *in; in++) {
		if (*in == '-')
			continue;
		if (*in < '0' || *in > '9' || n == 10)
			return false;
		out[n++] = *in;
	}
	out[n] = '\0';
	return n == 10;
}

bool google_consent_default(const cJSON *settings, bool *granted)
{
	const char *v = dest_settings_str(settings, "consent");

	if (v && strcmp(v, "granted") == 0) {
		*granted = true;
		return true;
	}
	if (v && strcmp(v, "denied") == 0) {
		*granted = false;
		return true;
	}
	return false;
}

/* Replace settings[key] (a string) with value. */
static int set_str(cJSON *settings, const char *key, const char *value, struct err *e)
{
	cJSON *v = cJSON_CreateString(value);

	if (v == NULL || !cJSON_ReplaceItemInObjectCaseSensitive(settings, key, v)) {
		cJSON_Delete(v);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int prepare_customer_id(cJSON *settings, const char *key, struct err *e)
{
	const char *v = dest_settings_str(settings, key);
	char id[11];

	if (v == NULL)
		return 0;
	if (!google_customer_id_normalize(v, id))
		return err_set(e, ERR_CONFIG,
			       "settings.%s must be a 10-digit Google Ads customer id "
			       "(hyphens allowed)",
			       key);
	return set_str(settings, key, id, e);
}

/* "customers/1234567890/conversionActions/555" → "555"; digits stay. */
static int prepare_conversion_action(cJSON *settings, struct err *e)
{
	const char *v = dest_settings_str(settings, "conversion_action");
	const char *slash;

	if (v == NULL)
		return 0;
	slash = strrchr(v, '/');
	if (slash && str_has_prefix(v, "customers/") && strstr(v, "/conversionActions/"))
		v = slash + 1;
	if (!text_is_digits(v, 20))
		return err_set(e, ERR_CONFIG,
			       "settings.conversion_action must be a conversion action id "
			       "(digits) or its resource name");
	return v == dest_settings_str(settings, "conversion_action")
		       ? 0
		       : set_str(settings, "conversion_action", v, e);
}

int google_prepare_settings(cJSON *settings, struct err *e)
{
	const char *consent;
	char low[16];
	int rc;

	if (!cJSON_IsObject(settings))
		return err_set(e, ERR_CONFIG, "settings must be a JSON object");
	rc = prepare_customer_id(settings, "customer_id", e);
	if (rc == 0)
		rc = prepare_customer_id(settings, "login_customer_id", e);
	if (rc == 0)
		rc = prepare_conversion_action(settings, e);
	consent = dest_settings_str(settings, "consent");
	if (rc == 0 && consent && strlen(consent) < sizeof(low)) {
		size_t i = 0;

		for (; consent[i]; i++)
			low[i] = (char)(consent[i] >= 'A' && consent[i] <= 'Z' ? consent[i] + 32
									       : consent[i]);
		low[i] = '\0';
		rc = set_str(settings, "consent", low, e);
	}
	return rc;
}

static bool is_optional_secret(const cJSON *creds, const char *key, size_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(creds, key);

	return v == NULL || (cJSON_IsString(v) && v->valuestring[0] != '\0' &&
			     strlen(v->valuestring) <= max && text_is_clean(v->valuestring, max));
}

int google_validate_common(const char *kind, const cJSON *settings, const cJSON *creds,
			   struct err *e)
{
	const char *consent = dest_settings_str(settings, "consent");
	char id[11];

	if (!cJSON_IsObject(settings))
		return err_set(e, ERR_CONFIG, "%s: settings must be a JSON object", kind);
	if (!google_customer_id_normalize(dest_settings_str(settings, "customer_id"), id))
		return err_set(e, ERR_CONFIG,
			       "%s: --customer-id is required: a 10-digit Google Ads customer id",
			       kind);
	if (cJSON_GetObjectItemCaseSensitive(settings, "login_customer_id") &&
	    !google_customer_id_normalize(dest_settings_str(settings, "login_customer_id"), id))
		return err_set(e, ERR_CONFIG,
			       "%s: --login-customer-id must be a 10-digit customer id", kind);
	if (cJSON_GetObjectItemCaseSensitive(settings, "conversion_action") &&
	    !text_is_digits(dest_settings_str(settings, "conversion_action"), 20))
		return err_set(e, ERR_CONFIG, "%s: --conversion-action must be an id (digits)",
			       kind);
	if (cJSON_GetObjectItemCaseSensitive(settings, "consent") &&
	    (consent == NULL ||
	     (strcmp(consent, "granted") != 0 && strcmp(consent, "denied") != 0 &&
	      strcmp(consent, "unspecified") != 0)))
		return err_set(e, ERR_CONFIG,
			       "%s: --consent must be granted, denied or unspecified", kind);
	if (!is_optional_secret(creds, "client_id", 1024) ||
	    !is_optional_secret(creds, "client_secret", CLIENT_SECRET_MAX) ||
	    !is_optional_secret(creds, "refresh_token", TOKEN_MAX))
		return err_set(e, ERR_CONFIG,
			       "%s: credentials client_id, client_secret and refresh_token must be "
			       "non-empty strings when present",
			       kind);
	return 0;
}

int google_cred_or_file(const cJSON *creds, const char *key, const struct config *cfg,
			const char *file_key, char **out, struct err *e)
{
	const char *v = json_str(creds, key);
	const char *path;
	char *s = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (v) {
		*out = xstrdup(v);
		return 0;
	}
	path = file_key ? config_platform_value(cfg, "google", file_key) : NULL;
	if (path == NULL || path[0] == '\0')
		return 0;
	rc = secret_file_read(path, CLIENT_SECRET_MAX, &s, &n, e);
	if (rc != 0)
		return err_set(e, ERR_CONFIG, "[google] %s: %s", file_key, e->msg);
	*out = xstrdup(s);
	sodium_free(s);
	return 0;
}

int google_auth_grant(const struct destination *d, const struct config *cfg, struct oauth_grant *g,
		      struct err *e)
{
	const char *base = config_endpoint(cfg, "google_oauth");
	cJSON *creds = d->creds ? cJSON_Parse(d->creds) : NULL;
	size_t blen;
	int rc;

	memset(g, 0, sizeof(*g));
	if (!cJSON_IsObject(creds)) {
		rc = err_set(e, ERR_CONFIG, "%s: credentials are not a JSON object", d->kind);
		goto out;
	}
	if (base == NULL || base[0] == '\0') {
		rc = err_set(e, ERR_CONFIG, "no [endpoints] google_oauth configured");
		goto out;
	}
	blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	g->token_url = xasprintf("%.*s/token", (int)blen, base);
	rc = google_cred_or_file(creds, "client_id", cfg, "client_id_file", &g->client_id, e);
	if (rc == 0)
		rc = google_cred_or_file(creds, "client_secret", cfg, "client_secret_file",
					 &g->client_secret, e);
	if (rc == 0)
		rc = google_cred_or_file(creds, "refresh_token", cfg, NULL, &g->refresh_token, e);
	if (rc == 0 && (g->client_id == NULL || g->client_secret == NULL))
		rc = err_set(e, ERR_CONFIG,
			     "%s: no OAuth client: put client_id and client_secret in the "
			     "credentials file or set [google] client_id_file and "
			     "client_secret_file",
			     d->kind);
out:
	if (rc != 0)
		oauth_grant_cleanup(g);
	json_wipe_strings(creds);
	cJSON_Delete(creds);
	return rc;
}
