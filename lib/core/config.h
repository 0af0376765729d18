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
#define CONFIG_MAX_PLATFORM_KEYS 64

/*
 * A daemon-wide setting that a platform declares for itself ([meta]
 * api_version, [endpoints] tiktok, [ghl] max_age), rather than a field of
 * struct config per platform.  Core holds no platform names: each
 * destination or source file lists its keys in its ops, and
 * destinations/dest.c and sources/source.c register them
 * (dest_register_config_keys, source_register_config_keys) before any
 * config is loaded.  Such a key behaves like every other key: file, env
 * ADSENGD_<SECTION>_<KEY>, `config show`, `config example`, reload.  All
 * strings are static.
 */
enum config_ptype {
	CONFIG_P_STRING = 0, /* config_platform_value */
	CONFIG_P_URL,	     /* http(s), stored without a trailing '/' */
	CONFIG_P_DURATION    /* "5m"; config_platform_ms */
};

struct config_platform_key {
	const char *section; /* "meta" */
	const char *name;    /* "api_version" */
	const char *def;     /* "v24.0" */
	const char *help;
	enum config_ptype type;
	bool reloadable;	/* false: a change needs a restart */
	int64_t min_ms, max_ms; /* CONFIG_P_DURATION bounds */
	/*
	 * Optional: what the value names (a key or secret file), read at every
	 * load, so a request never touches the disk, a bad file fails the start
	 * or the reload, and a reload picks up a rotated file.  Gets the value
	 * ("" too); fills *data (NULL = nothing, e.g. no file named) and *len,
	 * owned by the config and released with unload (free when NULL).  Only
	 * for reloadable keys.  ERR_CONFIG with a message naming the key.
	 */
	int (*load)(const char *value, void **data, size_t *len, struct err *e);
	void (*unload)(void *data, size_t len);
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
	/* [plans]: the text of quotas and its parsed table. */
	char *plan_quotas_text;
	struct plan_quotas plan_quotas;
	/* [oauth] */
	int64_t oauth_state_ttl_ms;
	/* [log] */
	char *log_level;
	char *log_format; /* "text" or "json" */
	/* Platform keys, by registration slot: the value of a string or URL
	 * key, of a duration key, and what a key's load hook read. */
	char *platform[CONFIG_MAX_PLATFORM_KEYS];
	int64_t platform_ms[CONFIG_MAX_PLATFORM_KEYS];
	void *platform_data[CONFIG_MAX_PLATFORM_KEYS];
	size_t platform_data_len[CONFIG_MAX_PLATFORM_KEYS];
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

/* The value of string or URL platform key [section] name in c (borrowed
 * from c), or NULL when no such key was registered when c was loaded. */
const char *config_platform_value(const struct config *c, const char *section, const char *name);

/* The milliseconds of duration platform key [section] name in c, or def
 * when no such key was registered (a test's hand-made config). */
int64_t config_platform_ms(const struct config *c, const char *section, const char *name,
			   int64_t def);

/* What the load hook of platform key [section] name read for c (borrowed;
 * *len set when len is not NULL), or NULL: no hook, nothing named, or c
 * NULL. */
const void *config_platform_data(const struct config *c, const char *section, const char *name,
				 size_t *len);

/* The base URL of an [endpoints] key ("meta"): the platform key of that
 * name, declared by the platform; NULL if none is registered. */
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
