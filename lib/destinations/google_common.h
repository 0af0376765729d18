/*
 * google_common.h - what the two Google Ads destinations share
 * (google_datamanager.c, google_ads.c): the [google] config keys, the
 * OAuth2 grant (auth hook), customer id and consent settings.
 *
 * Wire facts: ../shared/DATAMANAGER.md and PLATFORMS.md "Google Ads API".
 */
#ifndef ADSENG_DESTINATIONS_GOOGLE_COMMON_H
#define ADSENG_DESTINATIONS_GOOGLE_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "destinations/dest.h"

struct cJSON;

/* dest_ops.oauth_provider of both kinds: the consent callback is
 * /oauth/google/callback and the consent page [google] auth_url. */
#define GOOGLE_OAUTH_PROVIDER "google"

/* OAuth2 scopes per API (consent URL). */
#define GOOGLE_SCOPE_DATAMANAGER "https://www.googleapis.com/auth/datamanager"
#define GOOGLE_SCOPE_ADWORDS	 "https://www.googleapis.com/auth/adwords"

/* The [google] keys both kinds list in their dest_ops.config_keys:
 * client_id_file, client_secret_file, developer_token_file, auth_url,
 * ads_api_version, datamanager_api_version, datamanager_status_delay, and
 * the [endpoints] google_ads, google_oauth and google_datamanager.  The
 * count and the indexes of the version and delay keys are constants so a
 * dest_ops initializer can use them. */
#define GOOGLE_N_CONFIG_KEYS		    10
#define GOOGLE_KEY_ADS_API_VERSION	    4 /* google_ads' api_version_key */
#define GOOGLE_KEY_DATAMANAGER_API_VERSION  5 /* google_datamanager's api_version_key */
#define GOOGLE_KEY_DATAMANAGER_STATUS_DELAY 6 /* google_datamanager's status_delay_key */
extern const struct config_platform_key google_config_keys[GOOGLE_N_CONFIG_KEYS];
extern const size_t google_n_config_keys;

/* A customer id as Google shows it ("123-456-7890") or plain: out gets the
 * 10 digits.  false when it is not 10 digits after dropping hyphens. */
bool google_customer_id_normalize(const char *in, char out[11]);

/* Consent setting → Google's value: "granted"/"denied" → true with
 * *granted set; "unspecified"/absent → false (send no consent). */
bool google_consent_default(const struct cJSON *settings, bool *granted);

/*
 * dest_ops.prepare_settings of both kinds: customer_id and
 * login_customer_id lose their hyphens (stored as 10 digits),
 * conversion_action given as a resource name
 * ("customers/1/conversionActions/555") becomes its id, consent is
 * lower-cased.  ERR_CONFIG naming the setting when one is malformed.
 */
int google_prepare_settings(struct cJSON *settings, struct err *e);

/* The checks both kinds share at `destination add`: settings (customer_id
 * required, login_customer_id/conversion_action/consent well-formed) and
 * credentials (client_id/client_secret/refresh_token strings when given).
 * kind names the destination kind in messages. */
int google_validate_common(const char *kind, const struct cJSON *settings,
			   const struct cJSON *creds, struct err *e);

/* creds[key] copied into *out, else the content of the file named by
 * [google] file_key (NULL: none), else *out NULL (not an error).  Free
 * with dest_secret_free.  ERR_CONFIG when the file cannot be read. */
int google_cred_or_file(const struct cJSON *creds, const char *key, const struct config *cfg,
			const char *file_key, char **out, struct err *e) WUR;

/*
 * dest_ops.auth_grant of both kinds: token URL {[endpoints] google_oauth}/token,
 * client id and secret from the credentials or else from [google]
 * client_id_file / client_secret_file, the refresh token from the
 * credentials (absent until authorized).  Reads those files (small, local)
 * only when the credentials lack the value.
 */
int google_auth_grant(const struct destination *d, const struct config *cfg, struct oauth_grant *g,
		      struct err *e);

#endif
