/*
 * config.h - the daemon's configuration: one table of every key (name,
 * type, default, reloadable, secret, help) drives INI parsing (libinih),
 * ADSENGD_<SECTION>_<KEY> environment overrides, the documented example in
 * conf/adsengd.conf and `adsengctl config show`.
 *
 * A struct config is immutable once loaded and reference counted: the main
 * thread publishes a new one on SIGHUP (only if it validates) and threads
 * that read it take a reference for as long as they use it.
 */
#ifndef ADSENG_CORE_CONFIG_H
#define ADSENG_CORE_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/quota.h"

#define CONFIG_MAX_LISTEN 8
/* Most platform keys registered with config_add_platform_key. */
#define CONFIG_MAX_PLATFORM_KEYS 32

/*
 * A daemon-wide setting that a destination kind declares for itself
 * ([meta] api_version), rather than a field of struct config per platform.
 * Core holds no platform names: each destination file lists its keys in its
 * dest_ops and destinations/dest.c registers them (dest_register_config_keys)
 * before any config is loaded.  Such a key is a string, needs a restart to
 * change, is not secret, and behaves like every other key: file, env
 * ADSENGD_<SECTION>_<KEY>, `config show`, `config example`.  All strings
 * are static.
 */
struct config_platform_key {
	const char *section; /* "meta" */
	const char *name;    /* "api_version" */
	const char *def;     /* "v24.0" */
	const char *help;
};

struct config {
	atomic_int refcnt;
	char *path; /* the file it came from, or NULL */

	/* [server] */
	char *listen[CONFIG_MAX_LISTEN];
	int n_listen;
	char *admin_listen;
	char *public_url;
	char *metrics_listen; /* "" = /metrics on the listen addresses */
	int64_t metrics_interval_ms;
	int64_t max_body;
	int64_t request_timeout_ms;
	int64_t shutdown_timeout_ms;
	int64_t max_connections;
	/* [database] */
	char *db_url;
	int64_t db_statement_timeout_ms; /* 0 = none */
	int64_t db_lock_timeout_ms;	 /* 0 = none */
	int64_t db_tcp_user_timeout_ms;	 /* 0 = the kernel's */
	int64_t db_keepalives_idle_ms;
	int64_t db_keepalives_interval_ms;
	int64_t db_keepalives_count;
	/* [security] */
	char *master_key_file;
	char *jwt_secret_file; /* "" = no admin API */
	/* [ingest] */
	int64_t ingest_queue_max;
	int64_t ingest_queue_bytes;
	int64_t ingest_batch_max;
	int64_t ingest_writers;
	/* [ratelimit] */
	int64_t ratelimit_rate; /* per source, per second; 0 = none */
	int64_t ratelimit_burst;
	/* [workers] */
	int64_t worker_threads;
	int64_t worker_batch;
	int64_t worker_poll_ms;
	int64_t worker_lease_ms;
	int64_t worker_max_inflight;
	int64_t upload_timeout_ms;
	int64_t status_check_ms;
	/* [retry] */
	int64_t retry_base_ms;
	int64_t retry_cap_ms;
	int64_t retry_max_attempts;
	/* [breaker] */
	int64_t breaker_failures;
	int64_t breaker_cooldown_ms;
	int64_t breaker_cooldown_cap_ms;
	/* [audiences] */
	int64_t audience_sync_interval_ms; /* 0 = no periodic sync */
	/* [endpoints] */
	char *ep_meta;
	char *ep_google_ads;
	char *ep_google_oauth;
	char *ep_google_datamanager;
	char *ep_tiktok;
	char *ep_ga4;
	char *ep_stripe;
	/* [ghl]: HighLevel signs its webhooks with its own keys; the key files'
	 * text is read at load (NULL = use the compiled-in published keys). */
	char *ghl_ed25519_key_file;
	char *ghl_rsa_key_file;
	char *ghl_ed25519_key_pem;
	char *ghl_rsa_key_pem;
	int64_t ghl_max_age_ms;
	/* [stripe]: the daemon's own billing webhooks.  The secret's text is
	 * read at load into sodium_malloc memory (NULL = none configured). */
	char *stripe_webhook_secret_file;
	char *stripe_webhook_secret;
	size_t stripe_webhook_secret_len;
	int64_t stripe_tolerance_ms;
	char *stripe_plans;
	char *stripe_secret_key_file; /* read at each use (billing_session.c) */
	char *stripe_success_url;
	char *stripe_cancel_url;
	char *stripe_portal_return_url;
	/* [plans]: the text of quotas and its parsed table. */
	char *plan_quotas_text;
	struct plan_quotas plan_quotas;
	/* [oauth] */
	int64_t oauth_state_ttl_ms;
	/* [shopify] */
	int64_t shopify_max_age_ms;
	/* [log] */
	char *log_level;
	char *log_format; /* "text" or "json" */
	/* Platform keys, in registration order (config_platform_value). */
	char *platform[CONFIG_MAX_PLATFORM_KEYS];
};

/*
 * Build a config from defaults, then the INI file at path (NULL = none),
 * then ADSENGD_* environment variables.  Unknown sections or keys, bad
 * values and duplicates of single-valued keys fail with a message naming
 * file, line and key.  On success *out has one reference.
 */
int config_load(const char *path, struct config **out, struct err *e) WUR;

struct config *config_ref(struct config *c);
void config_unref(struct config *c);

/*
 * Make k a known key of every config loaded from now on, placed after the
 * core keys in `config example` and `config show`.  A key already known
 * (same section and name) is ignored, so registering twice is harmless.
 * k must be static.  Main thread, before any config_load and before other
 * threads start (the key list is then read without a lock).  More than
 * CONFIG_MAX_PLATFORM_KEYS is a programming error and aborts.
 */
void config_add_platform_key(const struct config_platform_key *k);

/* The value of platform key [section] name in c (borrowed from c), or NULL
 * when that key was not registered when c was loaded. */
const char *config_platform_value(const struct config *c, const char *section, const char *name);

/* The base URL of an [endpoints] key ("meta"), or NULL if unknown. */
const char *config_endpoint(const struct config *c, const char *key);

/* Keys that differ between a and b and cannot change without a restart,
 * written comma-separated into out (empty when none). */
void config_restart_keys(const struct config *a, const struct config *b, char *out, size_t outlen);

/* For SIGHUP: copy every key that needs a restart from old into c, so the
 * published config changes only what can change live. */
void config_keep_restart_keys(struct config *c, const struct config *old);

/* Print every key as INI, secrets redacted unless show_secrets. */
void config_print(const struct config *c, FILE *f, bool show_secrets);

/* Print the documented example (all keys, defaults, help). */
void config_print_example(FILE *f);

/* One key as documentation (adsengd.conf(5) is generated from these). */
struct config_key_doc {
	const char *section, *name, *def, *help;
	bool reloadable, secret;
};

/* The number of keys (core, then platform keys in registration order),
 * and key i of them. */
size_t config_key_count(void);
void config_key_doc(size_t i, struct config_key_doc *out);

/* Parse "10s", "250ms", "5m", "6h", "30d" (bare number = seconds). */
int config_parse_duration_ms(const char *s, int64_t *out_ms) WUR;
/* Parse "2MiB", "512KiB", "1GiB", "100kB", bare bytes. */
int config_parse_size(const char *s, int64_t *out) WUR;

#endif
