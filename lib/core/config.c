/*
 * config.c - the key table and the loader.
 *
 * The table holds the platform-neutral keys.  Settings of one platform
 * ([meta] api_version, [endpoints] tiktok, [ghl] max_age) are declared by
 * its destination or source file and registered at startup
 * (config_add_platform_key): core may not include destinations or sources
 * (STYLE.md), so the data flows down through registration instead, and
 * adding a platform never touches this file.  Registered keys become
 * ordinary entries whose slots are struct config's platform arrays; a key
 * may carry a load hook that reads the file it names at every load.
 *
 * libinih reports a parse error's line but calls our handler without one,
 * so we feed it lines through ini_parse_stream() with our own reader that
 * counts them: the handler then knows the line of the key it is given.
 */
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/quota.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* T_CHOICE: a string that must be one of the key's choices. */
enum cfg_type { T_STRING, T_LIST, T_INT, T_DURATION, T_SIZE, T_URL, T_LEVEL, T_CHOICE };

struct cfg_key {
	const char *section;
	const char *name;
	enum cfg_type type;
	size_t offset; /* into struct config */
	const char *def;
	bool reloadable;
	bool secret;
	int64_t min, max; /* for numbers */
	const char *help;
};

/* The values a T_CHOICE key takes (NULL-terminated), by key. */
static const char *const log_formats[] = { "text", "json", NULL };
static const struct {
	const char *section, *name;
	const char *const *choices;
} choice_keys[] = { { "log", "format", log_formats } };

static const char *const *key_choices(const struct cfg_key *k)
{
	for (size_t i = 0; i < sizeof(choice_keys) / sizeof(choice_keys[0]); i++) {
		if (strcmp(choice_keys[i].section, k->section) == 0 &&
		    strcmp(choice_keys[i].name, k->name) == 0)
			return choice_keys[i].choices;
	}
	abort(); /* a T_CHOICE key without an entry above */
}

#define OFF(f) offsetof(struct config, f)
#define DAY_MS (86400LL * 1000)

static const struct cfg_key keys[] = {
	{ "server", "listen", T_LIST, OFF(listen), "127.0.0.1:8080", false, false, 0, 0,
	  "host:port to serve HTTP on; repeat the key for several" },
	{ "server", "public_url", T_URL, OFF(public_url), "http://127.0.0.1:8080", false, false, 0,
	  0, "external base URL, used to print webhook URLs" },
	{ "server", "max_body", T_SIZE, OFF(max_body), "2MiB", false, false, 1024,
	  64LL * 1024 * 1024, "largest request body accepted (413 above it)" },
	{ "server", "request_timeout", T_DURATION, OFF(request_timeout_ms), "30s", false, false,
	  1000, DAY_MS, "idle/read timeout of a client connection" },
	{ "server", "shutdown_timeout", T_DURATION, OFF(shutdown_timeout_ms), "10s", true, false,
	  1000, 3600000,
	  "longest stop after SIGTERM; statements still running near its end are canceled "
	  "and the daemon exits (leases bring work back); below systemd's TimeoutStopSec" },
	{ "server", "admin_listen", T_STRING, OFF(admin_listen), "127.0.0.1:8081", false, false, 0,
	  0,
	  "host:port of the admin API (/v1/admin/, JWT bearer tokens); served only when "
	  "[security] jwt_secret_file is set; keep it on loopback or a private network" },
	{ "server", "max_connections", T_INT, OFF(max_connections), "1024", false, false, 1,
	  1000000,
	  "most client connections open at once; beyond it the server stops accepting "
	  "(new ones wait in the kernel's backlog) until one closes" },
	{ "server", "metrics_listen", T_STRING, OFF(metrics_listen), "127.0.0.1:9187", false, false,
	  0, 0,
	  "host:port of a separate listener for GET /metrics (Prometheus) and GET /status "
	  "(HTML status page), loopback by default; empty serves both on the [server] listen "
	  "addresses instead" },
	{ "server", "metrics_interval", T_DURATION, OFF(metrics_interval_ms), "15s", true, false,
	  100, 3600000,
	  "how often the control thread runs the one query behind the metrics that need SQL "
	  "and refreshes the per-minute activity of /status; scrapes, /status and STATUS= "
	  "read its last result" },
	{ "database", "url", T_STRING, OFF(db_url), "postgresql:///adseng?host=/run/postgresql",
	  false, true, 0, 0, "libpq connection string or URI" },
	{ "database", "statement_timeout", T_DURATION, OFF(db_statement_timeout_ms), "15s", false,
	  false, 0, DAY_MS,
	  "longest statement of the daemon's sessions (not adsengctl's), so a stalled "
	  "database cannot freeze a thread; at most half of [workers] lease (0 = that)" },
	{ "database", "lock_timeout", T_DURATION, OFF(db_lock_timeout_ms), "5s", false, false, 0,
	  DAY_MS,
	  "longest wait for a lock (0 = none): a table locked by a migration or by hand fails "
	  "the statement, which is retried later, instead of freezing the thread" },
	{ "database", "tcp_user_timeout", T_DURATION, OFF(db_tcp_user_timeout_ms), "30s", false,
	  false, 0, DAY_MS,
	  "drop a TCP connection whose sent data stays unacknowledged this long (0 = the "
	  "kernel's, about 15 minutes); no effect on Unix sockets" },
	{ "database", "keepalives_idle", T_DURATION, OFF(db_keepalives_idle_ms), "15s", false,
	  false, 1000, DAY_MS,
	  "TCP keepalive: idle time before the first probe (whole seconds); with interval and "
	  "count, a silent dead server is noticed within idle + interval * count" },
	{ "database", "keepalives_interval", T_DURATION, OFF(db_keepalives_interval_ms), "5s",
	  false, false, 1000, DAY_MS, "TCP keepalive: time between probes (whole seconds)" },
	{ "database", "keepalives_count", T_INT, OFF(db_keepalives_count), "3", false, false, 1,
	  100, "TCP keepalive: unanswered probes before the connection is dropped" },
	{ "security", "master_key_file", T_STRING, OFF(master_key_file), "/etc/adsengd/master.key",
	  false, false, 0, 0,
	  "32 random bytes (raw or 64 hex); a relative name is looked up in "
	  "$CREDENTIALS_DIRECTORY" },
	{ "security", "jwt_secret_file", T_STRING, OFF(jwt_secret_file), "", false, false, 0, 0,
	  "HS256 key of the admin API's tokens (at least 32 bytes; `adsengctl token create` "
	  "signs with it); a relative name is looked up in $CREDENTIALS_DIRECTORY; empty = "
	  "no admin API" },
	{ "ingest", "queue_max", T_INT, OFF(ingest_queue_max), "10000", false, false, 1, 1000000,
	  "webhooks waiting for COMMIT before the server answers 503" },
	{ "ingest", "queue_bytes", T_SIZE, OFF(ingest_queue_bytes), "256MiB", false, false, 1024,
	  64LL * 1024 * 1024 * 1024,
	  "bytes of webhook bodies and headers waiting for COMMIT before the server answers "
	  "503 (one webhook is always let in)" },
	{ "ingest", "batch_max", T_INT, OFF(ingest_batch_max), "500", false, false, 1, 10000,
	  "most webhooks committed in one transaction" },
	{ "ingest", "writers", T_INT, OFF(ingest_writers), "1", false, false, 1, 16,
	  "ingest writer threads (each one database connection); one writer makes the "
	  "largest commits, more only help when inserting takes longer than fsync" },
	{ "ratelimit", "rate", T_INT, OFF(ratelimit_rate), "50", true, false, 0, 1000000,
	  "webhooks per second per source, per daemon (above: 429 with Retry-After, nothing "
	  "stored); 0 = no limit; source add --rate-limit sets a source's own" },
	{ "ratelimit", "burst", T_INT, OFF(ratelimit_burst), "200", true, false, 1, 10000000,
	  "webhooks a source may send at once (the token bucket's size)" },
	{ "ratelimit", "admin_rate", T_INT, OFF(ratelimit_admin_rate), "20", true, false, 0, 100000,
	  "admin API requests per second per token (its sub and tenant), per daemon (above: "
	  "429 with Retry-After); 0 = no limit" },
	{ "ratelimit", "admin_burst", T_INT, OFF(ratelimit_admin_burst), "100", true, false, 1,
	  1000000, "admin API requests a token may send at once (the token bucket's size)" },
	{ "workers", "threads", T_INT, OFF(worker_threads), "2", false, false, 0, 64,
	  "worker threads (each one database connection and one curl multi); 0 makes an "
	  "ingest-only node" },
	{ "workers", "batch", T_INT, OFF(worker_batch), "1000", true, false, 1, 10000,
	  "raw events normalized / deliveries claimed per transaction" },
	{ "workers", "poll_interval", T_DURATION, OFF(worker_poll_ms), "1s", true, false, 10,
	  DAY_MS, "how often workers look for due work without a notification" },
	{ "workers", "lease", T_DURATION, OFF(worker_lease_ms), "2m", true, false, 1000, DAY_MS,
	  "how long a claimed delivery stays in_flight before another worker may retry it" },
	{ "workers", "max_inflight", T_INT, OFF(worker_max_inflight), "8", true, false, 1, 1000,
	  "concurrent uploads per worker thread" },
	{ "workers", "upload_timeout", T_DURATION, OFF(upload_timeout_ms), "30s", true, false, 100,
	  DAY_MS, "total time allowed for one upload request" },
	{ "workers", "status_check", T_DURATION, OFF(status_check_ms), "1m", true, false, 100,
	  DAY_MS,
	  "how often the control thread looks for accepted platform requests whose processing "
	  "status is due to be queried (Data Manager requestStatus)" },
	{ "retry", "base", T_DURATION, OFF(retry_base_ms), "10s", true, false, 1, DAY_MS,
	  "backoff base: retry n waits random(0, min(cap, base*2^n))" },
	{ "retry", "cap", T_DURATION, OFF(retry_cap_ms), "6h", true, false, 1, 30 * DAY_MS,
	  "longest backoff between two attempts" },
	{ "retry", "max_attempts", T_INT, OFF(retry_max_attempts), "20", true, false, 1, 1000,
	  "attempts before a delivery is dead" },
	{ "breaker", "failures", T_INT, OFF(breaker_failures), "3", true, false, 1, 1000,
	  "consecutive failed requests (no answer, 5xx, 429) that open a destination's circuit "
	  "breaker: until a probe succeeds, none of its deliveries is sent or spends an attempt" },
	{ "breaker", "cooldown", T_DURATION, OFF(breaker_cooldown_ms), "5s", true, false, 100,
	  DAY_MS,
	  "wait before the first probe of an open breaker; doubles after each failed probe, "
	  "randomized between half and all of it (a Retry-After waits as long as asked)" },
	{ "breaker", "cooldown_cap", T_DURATION, OFF(breaker_cooldown_cap_ms), "1m", true, false,
	  100, DAY_MS, "longest wait between two probes" },
	{ "audiences", "sync_interval", T_DURATION, OFF(audience_sync_interval_ms), "6h", true,
	  false, 0, 30 * DAY_MS,
	  "how often the daemon syncs each customer-list audience (adsengctl audience) with "
	  "its platform; one daemon at a time; 0 = only by hand (adsengctl audience sync)" },
	{ "plans", "quotas", T_STRING, OFF(plan_quotas_text), "", true, false, 0, 0,
	  "conversions per calendar month (UTC) per plan: \"starter:1000, enterprise:0\" (0 "
	  "or unlisted = unlimited; empty = no quotas); over it deliveries are held" },
	{ "oauth", "state_ttl", T_DURATION, OFF(oauth_state_ttl_ms), "15m", true, false, 1000,
	  DAY_MS,
	  "how long a consent link of `adsengctl destination authorize` can be used (once)" },
	{ "log", "level", T_LEVEL, OFF(log_level), "info", true, false, 0, 0,
	  "debug, info, warn or error" },
	{ "log", "format", T_CHOICE, OFF(log_format), "text", true, false, 0, 0,
	  "text (logfmt: ts=… level=… msg=\"…\" key=value…) or json (one object per line); "
	  "under journald (JOURNAL_STREAM) lines carry a <N> priority prefix and no timestamp" },
};

#define N_CORE_KEYS (sizeof(keys) / sizeof(keys[0]))
#define N_KEYS_MAX  (N_CORE_KEYS + CONFIG_MAX_PLATFORM_KEYS)

/*
 * Keys that platforms declare (config_add_platform_key): turned into
 * ordinary entries whose slot is struct config's platform[slot] (strings,
 * URLs) or platform_ms[slot] (durations), so parsing, env overrides,
 * printing and reload treat them like core keys without naming any
 * platform here.  Kept grouped by section (a section's keys print under
 * one header whatever order the platforms registered them in); the slot is
 * the registration number.  Written only before threads start.
 */
struct platform_entry {
	struct cfg_key key;
	const struct config_platform_key *decl;
	size_t slot;
};

static struct platform_entry platform_keys[CONFIG_MAX_PLATFORM_KEYS];
static size_t n_platform_keys;

static size_t n_keys(void)
{
	return N_CORE_KEYS + n_platform_keys;
}

/* Key i of the core table followed by the platform keys. */
static const struct cfg_key *key_at(size_t i)
{
	return i < N_CORE_KEYS ? &keys[i] : &platform_keys[i - N_CORE_KEYS].key;
}

/* The entry of [section] name: ignoring case as the file does (register),
 * or exactly as code names it (the accessors). */
static const struct platform_entry *platform_find(const char *section, const char *name,
						  bool any_case)
{
	for (size_t i = 0; i < n_platform_keys; i++) {
		const struct cfg_key *k = &platform_keys[i].key;

		if (any_case
			    ? strcasecmp(k->section, section) == 0 && strcasecmp(k->name, name) == 0
			    : strcmp(k->section, section) == 0 && strcmp(k->name, name) == 0)
			return &platform_keys[i];
	}
	return NULL;
}

void config_add_platform_key(const struct config_platform_key *k)
{
	size_t at = n_platform_keys, slot = n_platform_keys;
	struct cfg_key key = { .section = k->section,
			       .name = k->name,
			       .type = T_STRING,
			       .offset = OFF(platform) + slot * sizeof(char *),
			       .def = k->def,
			       .reloadable = k->reloadable,
			       .min = k->min_ms,
			       .max = k->max_ms,
			       .help = k->help };

	if (platform_find(k->section, k->name, true))
		return;
	/* Raise CONFIG_MAX_PLATFORM_KEYS; a hook's data must follow reloads. */
	if (n_platform_keys >= CONFIG_MAX_PLATFORM_KEYS || (k->load && !k->reloadable))
		abort();
	if (k->type == CONFIG_P_URL) {
		key.type = T_URL;
	} else if (k->type == CONFIG_P_DURATION) {
		key.type = T_DURATION;
		key.offset = OFF(platform_ms) + slot * sizeof(int64_t);
	}
	/* After the last key of the same section, if any. */
	for (size_t i = 0; i < n_platform_keys; i++) {
		if (strcasecmp(platform_keys[i].key.section, k->section) == 0)
			at = i + 1;
	}
	memmove(&platform_keys[at + 1], &platform_keys[at],
		(n_platform_keys - at) * sizeof(platform_keys[0]));
	platform_keys[at] = (struct platform_entry){ .key = key, .decl = k, .slot = slot };
	n_platform_keys++;
}

const char *config_platform_value(const struct config *c, const char *section, const char *name)
{
	const struct platform_entry *p = platform_find(section, name, false);

	if (p == NULL || p->key.type == T_DURATION)
		return NULL;
	return c->platform[p->slot];
}

int64_t config_platform_ms(const struct config *c, const char *section, const char *name,
			   int64_t def)
{
	const struct platform_entry *p = platform_find(section, name, false);

	if (c == NULL || p == NULL || p->key.type != T_DURATION)
		return def;
	return c->platform_ms[p->slot];
}

const void *config_platform_data(const struct config *c, const char *section, const char *name,
				 size_t *len)
{
	const struct platform_entry *p = platform_find(section, name, false);

	if (c == NULL || p == NULL)
		return NULL;
	if (len)
		*len = c->platform_data_len[p->slot];
	return c->platform_data[p->slot];
}

int config_parse_duration_ms(const char *s, int64_t *out_ms)
{
	char *end;
	double v;
	int64_t mult;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v >= 0)) /* also refuses NaN */
		return ERR_INVALID;
	while (*end == ' ')
		end++;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else if (strcmp(end, "d") == 0)
		mult = DAY_MS;
	else
		return ERR_INVALID;
	if (v * (double)mult > 9e15)
		return ERR_INVALID;
	*out_ms = (int64_t)(v * (double)mult + 0.5);
	return 0;
}

int config_parse_size(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = { { "", 1 },	  { "B", 1 },		{ "kB", 1000 },
		      { "KB", 1000 },	  { "KiB", 1024 },	{ "MB", 1000000 },
		      { "MiB", 1 << 20 }, { "GB", 1000000000 }, { "GiB", 1 << 30 } };
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0)
		return ERR_INVALID;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > INT64_MAX / units[i].mult)
				return ERR_INVALID;
			*out = v * units[i].mult;
			return 0;
		}
	}
	return ERR_INVALID;
}

static char **str_slot(struct config *c, const struct cfg_key *k)
{
	return (char **)((char *)c + k->offset);
}

static int64_t *int_slot(struct config *c, const struct cfg_key *k)
{
	return (int64_t *)((char *)c + k->offset);
}

/* Set one key from text.  `where` names the origin for messages. */
static int set_value(struct config *c, const struct cfg_key *k, const char *value,
		     const char *where, struct err *e)
{
	int64_t v = 0;
	int rc = 0;

	switch (k->type) {
	case T_LIST:
		if (c->n_listen >= CONFIG_MAX_LISTEN)
			return err_set(e, ERR_CONFIG, "%s: too many values for [%s] %s (max %d)",
				       where, k->section, k->name, CONFIG_MAX_LISTEN);
		if (value[0] == '\0' || strchr(value, ':') == NULL)
			return err_set(e, ERR_CONFIG, "%s: [%s] %s: \"%s\" is not host:port", where,
				       k->section, k->name, value);
		c->listen[c->n_listen++] = xstrdup(value);
		return 0;
	case T_URL:
		if (value[0] != '\0' && !str_has_prefix(value, "http://") &&
		    !str_has_prefix(value, "https://"))
			return err_set(e, ERR_CONFIG, "%s: [%s] %s: \"%s\" is not an http(s) URL",
				       where, k->section, k->name, value);
		/* fall through: stored like a string, without a trailing '/' */
		__attribute__((fallthrough));
	case T_STRING: {
		char **slot = str_slot(c, k);
		size_t n = strlen(value);

		if (k->type == T_URL)
			while (n > 0 && value[n - 1] == '/')
				n--;
		free(*slot);
		*slot = xstrndup(value, n);
		return 0;
	}
	case T_CHOICE: {
		const char *const *ch = key_choices(k);
		size_t i = 0;

		while (ch[i] && strcmp(ch[i], value) != 0)
			i++;
		if (ch[i] == NULL)
			return err_set(e, ERR_CONFIG, "%s: [%s] %s: \"%s\" is not one of %s%s%s",
				       where, k->section, k->name, value, ch[0], ch[1] ? ", " : "",
				       ch[1] ? ch[1] : "");
		free(*str_slot(c, k));
		*str_slot(c, k) = xstrdup(value);
		return 0;
	}
	case T_LEVEL:
		if (log_parse_level(value) < 0)
			return err_set(e, ERR_CONFIG,
				       "%s: [%s] %s: \"%s\" is not one of debug, info, warn, error",
				       where, k->section, k->name, value);
		free(*str_slot(c, k));
		*str_slot(c, k) = xstrdup(value);
		return 0;
	case T_INT: {
		char *end;

		errno = 0;
		v = strtoll(value, &end, 10);
		if (end == value || *end || errno)
			rc = ERR_INVALID;
		break;
	}
	case T_DURATION:
		rc = config_parse_duration_ms(value, &v);
		break;
	case T_SIZE:
		rc = config_parse_size(value, &v);
		break;
	}
	if (rc != 0)
		return err_set(e, ERR_CONFIG, "%s: [%s] %s: invalid %s \"%s\"", where, k->section,
			       k->name,
			       k->type == T_INT	       ? "integer"
			       : k->type == T_DURATION ? "duration (e.g. 10s, 250ms, 6h)"
						       : "size (e.g. 2MiB)",
			       value);
	if (v < k->min || v > k->max)
		return err_set(e, ERR_CONFIG, "%s: [%s] %s: %s is out of range", where, k->section,
			       k->name, value);
	*int_slot(c, k) = v;
	return 0;
}

/* The key [section] name, and its index into key_at() in *idx. */
static const struct cfg_key *find_key(const char *section, const char *name, bool *section_ok,
				      size_t *idx)
{
	*section_ok = false;
	for (size_t i = 0; i < n_keys(); i++) {
		const struct cfg_key *k = key_at(i);

		if (strcasecmp(k->section, section) != 0)
			continue;
		*section_ok = true;
		if (strcasecmp(k->name, name) == 0) {
			*idx = i;
			return k;
		}
	}
	return NULL;
}

struct parse_ctx {
	struct config *cfg;
	const char *path;
	FILE *f;
	int line;
	bool seen[N_KEYS_MAX];
	bool listen_from_file;
	struct err *e;
	int rc;
};

/*
 * libinih reads through a fixed line buffer (200 bytes in Debian's build)
 * and would hand us a longer line in pieces, each counted as a line.
 * Refuse such a line by name instead: stop the parse (return NULL) with an
 * error that says where.
 */
static char *reader_cb(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	char *r;
	size_t n;

	if (ctx->rc != 0)
		return NULL;
	r = fgets(str, num, ctx->f);
	if (r == NULL)
		return NULL;
	ctx->line++;
	n = strlen(r);
	if (n > 0 && r[n - 1] != '\n' && !feof(ctx->f)) {
		ctx->rc = err_set(ctx->e, ERR_CONFIG, "%s:%d: line longer than %d bytes", ctx->path,
				  ctx->line, num - 2);
		return NULL;
	}
	return r;
}

static int handler_cb(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	const struct cfg_key *k;
	char where[600];
	bool section_ok;
	size_t idx;

	if (ctx->rc != 0)
		return 0;
	snprintf(where, sizeof(where), "%s:%d", ctx->path, ctx->line);
	k = find_key(section, name, &section_ok, &idx);
	if (k == NULL) {
		if (!section_ok)
			ctx->rc = err_set(ctx->e, ERR_CONFIG, "%s: unknown section [%s] (key %s)",
					  where, section, name);
		else
			ctx->rc = err_set(ctx->e, ERR_CONFIG, "%s: unknown key \"%s\" in [%s]",
					  where, name, section);
		return 0;
	}
	if (k->type == T_LIST) {
		if (!ctx->listen_from_file) {
			/* The first value from the file replaces the default. */
			for (int i = 0; i < ctx->cfg->n_listen; i++)
				free(ctx->cfg->listen[i]);
			ctx->cfg->n_listen = 0;
			ctx->listen_from_file = true;
		}
	} else if (ctx->seen[idx]) {
		ctx->rc = err_set(ctx->e, ERR_CONFIG, "%s: [%s] %s is set twice", where, k->section,
				  k->name);
		return 0;
	}
	ctx->seen[idx] = true;
	ctx->rc = set_value(ctx->cfg, k, value, where, ctx->e);
	return ctx->rc == 0;
}

static int load_file(struct config *c, const char *path, struct err *e)
{
	struct parse_ctx ctx = { .cfg = c, .path = path, .e = e };
	int rc;

	ctx.f = fopen(path, "r");
	if (ctx.f == NULL)
		return err_set(e, ERR_CONFIG, "could not open configuration file \"%s\": %s", path,
			       strerror(errno));
	rc = ini_parse_stream(reader_cb, &ctx, handler_cb, &ctx);
	fclose(ctx.f);
	if (ctx.rc != 0)
		return ctx.rc;
	if (rc > 0)
		return err_set(e, ERR_CONFIG, "%s:%d: syntax error", path, rc);
	if (rc < 0)
		return err_set(e, ERR_CONFIG, "could not read configuration file \"%s\"", path);
	return 0;
}

static void env_name(const struct cfg_key *k, char *out, size_t outlen)
{
	size_t o = (size_t)snprintf(out, outlen, "ADSENGD_%s_%s", k->section, k->name);

	for (size_t i = 0; i < o && i < outlen; i++)
		out[i] = (char)toupper((unsigned char)out[i]);
}

static int load_env(struct config *c, struct err *e)
{
	for (size_t i = 0; i < n_keys(); i++) {
		const struct cfg_key *k = key_at(i);
		char name[128];
		const char *v;
		int rc;

		env_name(k, name, sizeof(name));
		v = getenv(name);
		if (v == NULL)
			continue;
		if (k->type == T_LIST) {
			/* Comma-separated list replaces the file's values. */
			char *copy = xstrdup(v), *save = NULL;

			for (int j = 0; j < c->n_listen; j++)
				free(c->listen[j]);
			c->n_listen = 0;
			rc = 0;
			for (char *t = strtok_r(copy, ", ", &save); t && rc == 0;
			     t = strtok_r(NULL, ", ", &save))
				rc = set_value(c, k, t, name, e);
			free(copy);
		} else {
			rc = set_value(c, k, v, name, e);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int validate(const struct config *c, struct err *e)
{
	if (c->n_listen == 0)
		return err_set(e, ERR_CONFIG, "[server] listen: at least one address is required");
	if (c->retry_base_ms > c->retry_cap_ms)
		return err_set(e, ERR_CONFIG, "[retry] base is larger than [retry] cap");
	if (c->breaker_cooldown_ms > c->breaker_cooldown_cap_ms)
		return err_set(e, ERR_CONFIG,
			       "[breaker] cooldown is larger than [breaker] cooldown_cap");
	if (c->worker_lease_ms <= c->upload_timeout_ms)
		return err_set(e, ERR_CONFIG,
			       "[workers] lease must be longer than [workers] upload_timeout");
	return 0;
}

/* Run the load hook of every platform key that has one (a key file read
 * for the HTTP loop); the data belongs to c. */
static int load_platform_data(struct config *c, struct err *e)
{
	for (size_t i = 0; i < n_platform_keys; i++) {
		const struct platform_entry *p = &platform_keys[i];
		const char *v = p->key.type == T_DURATION ? "" : c->platform[p->slot];
		int rc;

		if (p->decl->load == NULL)
			continue;
		rc = p->decl->load(v ? v : "", &c->platform_data[p->slot],
				   &c->platform_data_len[p->slot], e);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int config_load(const char *path, struct config **out, struct err *e)
{
	struct config *c = xcalloc(1, sizeof(*c));
	int rc;

	atomic_init(&c->refcnt, 1);
	for (size_t i = 0; i < n_keys(); i++) {
		rc = set_value(c, key_at(i), key_at(i)->def, "default", e);
		if (rc != 0)
			goto fail;
	}
	if (path) {
		c->path = xstrdup(path);
		rc = load_file(c, path, e);
		if (rc != 0)
			goto fail;
	}
	rc = load_env(c, e);
	if (rc != 0)
		goto fail;
	rc = validate(c, e);
	if (rc == 0)
		rc = load_platform_data(c, e);
	if (rc == 0)
		rc = quota_parse(c->plan_quotas_text, &c->plan_quotas, e);
	if (rc != 0)
		goto fail;
	*out = c;
	return 0;
fail:
	config_unref(c);
	return rc;
}

struct config *config_ref(struct config *c)
{
	atomic_fetch_add(&c->refcnt, 1);
	return c;
}

void config_unref(struct config *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refcnt, 1) != 1)
		return;
	/* Every key registered so far: a slot of a key registered after c
	 * was loaded is NULL (calloc). */
	for (size_t i = 0; i < n_keys(); i++) {
		const struct cfg_key *k = key_at(i);

		if (k->type == T_STRING || k->type == T_URL || k->type == T_LEVEL ||
		    k->type == T_CHOICE)
			free(*str_slot(c, k));
	}
	for (int i = 0; i < c->n_listen; i++)
		free(c->listen[i]);
	for (size_t i = 0; i < n_platform_keys; i++) {
		const struct platform_entry *p = &platform_keys[i];
		void *data = c->platform_data[p->slot];

		if (data && p->decl->unload)
			p->decl->unload(data, c->platform_data_len[p->slot]);
		else
			free(data);
	}
	free(c->path);
	free(c);
}

const char *config_endpoint(const struct config *c, const char *key)
{
	return config_platform_value(c, "endpoints", key);
}

static void format_value(const struct config *c, const struct cfg_key *k, bool show_secrets,
			 char *out, size_t outlen)
{
	const void *slot = (const char *)c + k->offset;

	if (k->secret && !show_secrets) {
		snprintf(out, outlen, "<redacted>");
		return;
	}
	switch (k->type) {
	case T_LIST:
		out[0] = '\0';
		return;
	case T_STRING:
	case T_URL:
	case T_LEVEL:
	case T_CHOICE: {
		/* NULL: a platform key registered after c was loaded. */
		const char *v = *(char *const *)slot;

		snprintf(out, outlen, "%s", v ? v : "");
		return;
	}
	case T_INT:
	case T_SIZE:
		snprintf(out, outlen, "%lld", (long long)*(const int64_t *)slot);
		return;
	case T_DURATION:
		snprintf(out, outlen, "%lldms", (long long)*(const int64_t *)slot);
		return;
	}
}

void config_restart_keys(const struct config *a, const struct config *b, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n_keys(); i++) {
		const struct cfg_key *k = key_at(i);
		char va[512], vb[512];
		bool differ;

		if (k->reloadable)
			continue;
		if (k->type == T_LIST) {
			differ = a->n_listen != b->n_listen;
			for (int j = 0; !differ && j < a->n_listen; j++)
				differ = strcmp(a->listen[j], b->listen[j]) != 0;
		} else {
			format_value(a, k, true, va, sizeof(va));
			format_value(b, k, true, vb, sizeof(vb));
			differ = strcmp(va, vb) != 0;
		}
		if (differ && o + 64 < outlen)
			o += (size_t)snprintf(out + o, outlen - o, "%s%s.%s", o ? "," : "",
					      k->section, k->name);
	}
}

void config_keep_restart_keys(struct config *c, const struct config *old)
{
	for (size_t i = 0; i < n_keys(); i++) {
		const struct cfg_key *k = key_at(i);

		if (k->reloadable)
			continue;
		switch (k->type) {
		case T_LIST:
			for (int j = 0; j < c->n_listen; j++)
				free(c->listen[j]);
			for (int j = 0; j < old->n_listen; j++)
				c->listen[j] = xstrdup(old->listen[j]);
			c->n_listen = old->n_listen;
			break;
		case T_STRING:
		case T_URL:
		case T_LEVEL:
		case T_CHOICE: {
			const char *ov = *str_slot((struct config *)old, k);

			free(*str_slot(c, k));
			*str_slot(c, k) = ov ? xstrdup(ov) : NULL;
			break;
		}
		case T_INT:
		case T_DURATION:
		case T_SIZE:
			*int_slot(c, k) = *int_slot((struct config *)old, k);
			break;
		}
	}
}

void config_print(const struct config *c, FILE *f, bool show_secrets)
{
	const char *section = "";

	for (size_t i = 0; i < n_keys(); i++) {
		const struct cfg_key *k = key_at(i);
		char v[1024];

		if (strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(f, "%s[%s]\n", i ? "\n" : "", section);
		}
		if (k->type == T_LIST) {
			for (int j = 0; j < c->n_listen; j++)
				fprintf(f, "%s = %s\n", k->name, c->listen[j]);
			continue;
		}
		format_value(c, k, show_secrets, v, sizeof(v));
		fprintf(f, "%s = %s\n", k->name, v);
	}
}

size_t config_key_count(void)
{
	return n_keys();
}

void config_key_doc(size_t i, struct config_key_doc *out)
{
	const struct cfg_key *k = key_at(i);

	*out = (struct config_key_doc){ .section = k->section,
					.name = k->name,
					.def = k->def,
					.help = k->help,
					.reloadable = k->reloadable,
					.secret = k->secret };
}

void config_print_example(FILE *f)
{
	const char *section = "";

	fprintf(f, "; adsengd configuration: every key, with its default.\n"
		   "; Each key may be overridden by the environment variable\n"
		   "; ADSENGD_<SECTION>_<KEY> (e.g. ADSENGD_DATABASE_URL).\n"
		   "; Keys marked (reloadable) take effect on SIGHUP; the others need a "
		   "restart.\n");
	for (size_t i = 0; i < n_keys(); i++) {
		const struct cfg_key *k = key_at(i);

		if (strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(f, "\n[%s]\n", section);
		}
		fprintf(f, "; %s%s%s\n", k->help, k->reloadable ? " (reloadable)" : "",
			k->secret ? " (secret: redacted by `adsengctl config show`)" : "");
		fprintf(f, "%s = %s\n", k->name, k->def);
	}
}
