/*
 * catalog.h - adding a source or a destination: the checks that depend on
 * the kind, sealing its secret or credentials with the master key, and
 * the insert with its audit row (store/admin.h).  The CLI (`adsengctl
 * source add`, `destination add`) and the admin API (`POST
 * /v1/admin/sources`, `/destinations`) both call these; they only differ
 * in where the secret comes from (a file, a JSON body).  It lives in
 * pipeline because it needs both the source and destination registries,
 * the vault and the store.
 *
 * The calling thread's connection; blocks.
 */
#ifndef ADSENG_PIPELINE_CATALOG_H
#define ADSENG_PIPELINE_CATALOG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/vault.h"

struct cJSON;

#define CATALOG_NAME_MAX 200

/* A name as the catalog stores it: 1..CATALOG_NAME_MAX bytes, no control
 * characters (they would garble listings and logs). */
bool catalog_name_ok(const char *s);

/*
 * Check a source's settings object (from the admin API; the CLI builds
 * them from checked options) the way `source add`'s options are checked:
 * store_url (an http(s) URL without query or trailing slash) and
 * click_meta_keys ({"KEY": click field}) for woocommerce only;
 * location_id, currency (ISO 4217), stage_map and event_map ({"KEY":
 * event}) for ghl only.  Other keys are left to their readers.  0, or
 * ERR_CONFIG naming the key.
 */
int catalog_source_settings_check(const char *kind, const struct cJSON *settings,
				  struct err *e) WUR;

struct catalog_source {
	int64_t tenant_id;
	const char *kind, *name;
	const char *secret; /* NULL: none given (kinds that need none, or generate one) */
	size_t secret_len;
	const char *rest; /* REST credentials JSON text, NULL = none */
	size_t rest_len;
	const char *settings_json; /* object text, NULL = {} */
};

/*
 * Add source s: its kind must exist (ERR_CONFIG otherwise) and get a
 * secret the way it wants one (given, none for kinds signed with the
 * platform's keys, or generated for kinds with new_secret: then *api_key
 * is the key, sodium_malloc'd, shown once and never stored in clear; the
 * caller sodium_frees it).  id receives the new uuid.  ERR_CONFIG for a
 * secret given to a kind that takes none or missing for one that needs
 * it, ERR_CONFLICT for a name the tenant has, ERR_DB, ERR_CRYPTO.
 */
int catalog_source_add(PGconn *conn, const struct vault *v, const char *actor,
		       const struct catalog_source *s, char id[37], char **api_key,
		       struct err *e) WUR;

struct catalog_destination {
	int64_t tenant_id;
	const char *kind, *name;
	bool test_mode;
	struct cJSON *settings; /* as given (strings, as the CLI's options); normalized in place */
	const char *creds;	/* the credentials' JSON object text (secret) */
	size_t creds_len;
};

/*
 * Add destination d: its kind must exist, its settings are normalized by
 * the kind (dest_prepare_common_settings, prepare_settings) and checked
 * with its credentials (validate); then the credentials are sealed and the
 * row inserted.  ERR_CONFIG / ERR_INVALID for an unknown kind or unusable
 * settings or credentials (the message never quotes a credential),
 * ERR_CONFLICT, ERR_DB, ERR_CRYPTO.
 */
int catalog_destination_add(PGconn *conn, const struct vault *v, const char *actor,
			    struct catalog_destination *d, char id[37], struct err *e) WUR;

#endif
