/*
 * test_config.c - the config key table: defaults, INI files, ADSENGD_*
 * environment overrides, validation, reload helpers, printing and the
 * duration / size parsers.
 *
 * Every ADSENGD_* variable is removed before each test, so the results do
 * not depend on the environment the suite runs in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "destinations/dest.h"
#include "sources/source.h"
#include "testutil.h"

#define DAY_MS (86400LL * 1000)

extern char **environ;

static void assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay ? hay : "(null)", needle);
}

static void assert_not_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("\"%s\" contains \"%s\"", hay, needle);
}

/* Remove every ADSENGD_* variable (the suite's own and any inherited). */
static int clear_env(void **state)
{
	(void)state;
	for (;;) {
		char name[256];
		size_t n;
		char **ep;

		for (ep = environ; *ep && strncmp(*ep, "ADSENGD_", 8) != 0; ep++)
			;
		if (*ep == NULL)
			return 0;
		n = strcspn(*ep, "=");
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, *ep, n);
		name[n] = '\0';
		unsetenv(name);
	}
}

/* [meta] api_version: a platform key that destinations/meta_capi.c declares
 * and main() registers, as the daemons do. */
#define META_VERSION(c) config_platform_value((c), "meta", "api_version")

/* Load text as a config file; *path_out (if not NULL) gets the temp path,
 * which the caller removes with drop_file(). */
static int load_text(const char *text, struct config **out, struct err *e, char **path_out)
{
	char *path = test_write_temp(text);
	int rc = config_load(path, out, e);

	if (path_out) {
		*path_out = path;
	} else {
		unlink(path);
		free(path);
	}
	return rc;
}

static void drop_file(char *path)
{
	unlink(path);
	free(path);
}

/* Print to a string (free()). */
static char *print_to_string(const struct config *c, bool show_secrets, bool example)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	if (example)
		config_print_example(f);
	else
		config_print(c, f, show_secrets);
	fclose(f);
	return s;
}

/* The scalar fields, for comparing two configs. */
static void assert_same_config(const struct config *a, const struct config *b)
{
	char diff[512];

	assert_int_equal(a->n_listen, b->n_listen);
	for (int i = 0; i < a->n_listen; i++)
		assert_string_equal(a->listen[i], b->listen[i]);
	assert_string_equal(a->public_url, b->public_url);
	assert_int_equal(a->max_body, b->max_body);
	assert_int_equal(a->request_timeout_ms, b->request_timeout_ms);
	assert_string_equal(a->db_url, b->db_url);
	assert_string_equal(a->master_key_file, b->master_key_file);
	assert_int_equal(a->ingest_queue_max, b->ingest_queue_max);
	assert_int_equal(a->ingest_batch_max, b->ingest_batch_max);
	assert_int_equal(a->ingest_writers, b->ingest_writers);
	assert_int_equal(a->worker_threads, b->worker_threads);
	assert_int_equal(a->worker_batch, b->worker_batch);
	assert_int_equal(a->worker_poll_ms, b->worker_poll_ms);
	assert_int_equal(a->worker_lease_ms, b->worker_lease_ms);
	assert_int_equal(a->worker_max_inflight, b->worker_max_inflight);
	assert_int_equal(a->upload_timeout_ms, b->upload_timeout_ms);
	assert_int_equal(a->retry_base_ms, b->retry_base_ms);
	assert_int_equal(a->retry_cap_ms, b->retry_cap_ms);
	assert_int_equal(a->retry_max_attempts, b->retry_max_attempts);
	assert_string_equal(config_endpoint(a, "meta"), config_endpoint(b, "meta"));
	assert_string_equal(config_endpoint(a, "google_ads"), config_endpoint(b, "google_ads"));
	assert_string_equal(config_endpoint(a, "google_oauth"), config_endpoint(b, "google_oauth"));
	assert_string_equal(config_endpoint(a, "google_datamanager"),
			    config_endpoint(b, "google_datamanager"));
	assert_string_equal(config_endpoint(a, "tiktok"), config_endpoint(b, "tiktok"));
	assert_string_equal(config_endpoint(a, "ga4"), config_endpoint(b, "ga4"));
	assert_string_equal(config_endpoint(a, "stripe"), config_endpoint(b, "stripe"));
	assert_string_equal(META_VERSION(a), META_VERSION(b));
	assert_string_equal(a->log_level, b->log_level);
	config_restart_keys(a, b, diff, sizeof(diff));
	assert_string_equal(diff, "");
}

static void test_defaults(void **state)
{
	struct config *c = NULL;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(config_load(NULL, &c, &e), 0);
	assert_non_null(c);
	assert_null(c->path);
	assert_int_equal(c->n_listen, 1);
	assert_string_equal(c->listen[0], "127.0.0.1:8080");
	assert_string_equal(c->public_url, "http://127.0.0.1:8080");
	assert_int_equal(c->max_body, 2 * 1024 * 1024);
	assert_int_equal(c->request_timeout_ms, 30000);
	assert_string_equal(c->db_url, "postgresql:///adseng?host=/run/postgresql");
	assert_string_equal(c->master_key_file, "/etc/adsengd/master.key");
	assert_int_equal(c->ingest_queue_max, 10000);
	assert_int_equal(c->ingest_batch_max, 500);
	assert_int_equal(c->ingest_writers, 1);
	assert_int_equal(c->worker_threads, 2);
	assert_int_equal(c->worker_batch, 1000);
	assert_int_equal(c->worker_poll_ms, 1000);
	assert_int_equal(c->worker_lease_ms, 120000);
	assert_int_equal(c->worker_max_inflight, 8);
	assert_int_equal(c->upload_timeout_ms, 30000);
	assert_int_equal(c->retry_base_ms, 10000);
	assert_int_equal(c->retry_cap_ms, 6 * 3600000LL);
	assert_int_equal(c->retry_max_attempts, 20);
	assert_string_equal(config_endpoint(c, "meta"), "https://graph.facebook.com");
	assert_string_equal(config_endpoint(c, "google_ads"), "https://googleads.googleapis.com");
	assert_string_equal(config_endpoint(c, "google_oauth"), "https://oauth2.googleapis.com");
	assert_string_equal(config_endpoint(c, "google_datamanager"),
			    "https://datamanager.googleapis.com");
	assert_string_equal(config_endpoint(c, "tiktok"), "https://business-api.tiktok.com");
	assert_string_equal(config_endpoint(c, "ga4"), "https://www.google-analytics.com");
	assert_string_equal(config_endpoint(c, "stripe"), "https://api.stripe.com");
	assert_string_equal(META_VERSION(c), "v24.0");
	assert_string_equal(c->log_level, "info");
	assert_int_equal(atomic_load(&c->refcnt), 1);
	config_unref(c);
}

static const char full_ini[] = "; every key, non-default values\n"
			       "[server]\n"
			       "listen = 0.0.0.0:9000\n"
			       "listen = [::1]:9001\n"
			       "public_url = https://ads.example.com/\n"
			       "max_body = 512KiB\n"
			       "request_timeout = 10s\n"
			       "\n"
			       "[database]\n"
			       "url = postgresql://adseng:s3cretpw@db.internal/adseng\n"
			       "\n"
			       "[security]\n"
			       "master_key_file = master.key\n"
			       "\n"
			       "[ingest]\n"
			       "queue_max = 5000\n"
			       "batch_max = 250\n"
			       "writers = 4\n"
			       "\n"
			       "[workers]\n"
			       "threads = 0\n"
			       "batch = 100\n"
			       "poll_interval = 250ms\n"
			       "lease = 5m\n"
			       "max_inflight = 16\n"
			       "upload_timeout = 10s\n"
			       "\n"
			       "[retry]\n"
			       "base = 1s\n"
			       "cap = 1d\n"
			       "max_attempts = 7\n"
			       "\n"
			       "[endpoints]\n"
			       "meta = http://127.0.0.1:9999/\n"
			       "google_ads = https://ga.example//\n"
			       "google_oauth = https://oauth.example\n"
			       "google_datamanager = https://dm.example/\n"
			       "tiktok = https://tt.example/\n"
			       "ga4 = https://ga4.example/\n"
			       "stripe = https://stripe.example/\n"
			       "\n"
			       "[meta]\n"
			       "api_version = v23.0\n"
			       "\n"
			       "[log]\n"
			       "level = debug\n";

static void test_full_file(void **state)
{
	struct config *c = NULL;
	struct err e = { 0 };
	char *path = NULL;

	(void)state;
	if (load_text(full_ini, &c, &e, &path) != 0)
		fail_msg("config_load: %s", e.msg);
	assert_string_equal(c->path, path);
	/* The file's listen values replace the default, in order. */
	assert_int_equal(c->n_listen, 2);
	assert_string_equal(c->listen[0], "0.0.0.0:9000");
	assert_string_equal(c->listen[1], "[::1]:9001");
	assert_string_equal(c->public_url, "https://ads.example.com");
	assert_int_equal(c->max_body, 512 * 1024);
	assert_int_equal(c->request_timeout_ms, 10000);
	assert_string_equal(c->db_url, "postgresql://adseng:s3cretpw@db.internal/adseng");
	assert_string_equal(c->master_key_file, "master.key");
	assert_int_equal(c->ingest_queue_max, 5000);
	assert_int_equal(c->ingest_batch_max, 250);
	assert_int_equal(c->ingest_writers, 4);
	assert_int_equal(c->worker_threads, 0);
	assert_int_equal(c->worker_batch, 100);
	assert_int_equal(c->worker_poll_ms, 250);
	assert_int_equal(c->worker_lease_ms, 300000);
	assert_int_equal(c->worker_max_inflight, 16);
	assert_int_equal(c->upload_timeout_ms, 10000);
	assert_int_equal(c->retry_base_ms, 1000);
	assert_int_equal(c->retry_cap_ms, DAY_MS);
	assert_int_equal(c->retry_max_attempts, 7);
	/* URLs lose every trailing slash. */
	assert_string_equal(config_endpoint(c, "meta"), "http://127.0.0.1:9999");
	assert_string_equal(config_endpoint(c, "google_ads"), "https://ga.example");
	assert_string_equal(config_endpoint(c, "google_oauth"), "https://oauth.example");
	assert_string_equal(config_endpoint(c, "google_datamanager"), "https://dm.example");
	assert_string_equal(config_endpoint(c, "tiktok"), "https://tt.example");
	assert_string_equal(config_endpoint(c, "ga4"), "https://ga4.example");
	assert_string_equal(config_endpoint(c, "stripe"), "https://stripe.example");
	assert_string_equal(META_VERSION(c), "v23.0");
	assert_string_equal(c->log_level, "debug");
	config_unref(c);
	drop_file(path);
}

/* One value of one key, loaded from a two-line file. */
struct value_case {
	const char *ini;
	size_t offset; /* int64_t field of struct config */
	int64_t want;
};

#define VOFF(f) offsetof(struct config, f)

static const struct value_case value_cases[] = {
	/* durations */
	{ "[workers]\npoll_interval = 250ms\n", VOFF(worker_poll_ms), 250 },
	{ "[workers]\npoll_interval = 10s\n", VOFF(worker_poll_ms), 10000 },
	{ "[workers]\npoll_interval = 10\n", VOFF(worker_poll_ms), 10000 },
	{ "[workers]\npoll_interval = 5m\n", VOFF(worker_poll_ms), 300000 },
	{ "[workers]\npoll_interval = 6h\n", VOFF(worker_poll_ms), 6 * 3600000LL },
	{ "[workers]\npoll_interval = 1d\n", VOFF(worker_poll_ms), DAY_MS },
	{ "[retry]\ncap = 30d\n", VOFF(retry_cap_ms), 30 * DAY_MS },
	/* sizes */
	{ "[server]\nmax_body = 2MiB\n", VOFF(max_body), 2097152 },
	{ "[server]\nmax_body = 512KiB\n", VOFF(max_body), 524288 },
	{ "[server]\nmax_body = 100kB\n", VOFF(max_body), 100000 },
	{ "[server]\nmax_body = 4096\n", VOFF(max_body), 4096 },
	{ "[server]\nmax_body = 1024\n", VOFF(max_body), 1024 },
	{ "[server]\nmax_body = 64MiB\n", VOFF(max_body), 64LL << 20 },
	/* integers at their bounds */
	{ "[workers]\nthreads = 0\n", VOFF(worker_threads), 0 },
	{ "[workers]\nthreads = 64\n", VOFF(worker_threads), 64 },
	{ "[ingest]\nwriters = 16\n", VOFF(ingest_writers), 16 },
	{ "[ingest]\nqueue_max = 1000000\n", VOFF(ingest_queue_max), 1000000 },
	/* sections and keys are matched case-insensitively */
	{ "[INGEST]\nWriters = 3\n", VOFF(ingest_writers), 3 },
	/* comments and surrounding blanks */
	{ "[ingest]\n  writers   =   5   ; five\n", VOFF(ingest_writers), 5 },
	{ "# hash comment\n[ingest]\nwriters = 6\n", VOFF(ingest_writers), 6 },
};

static void test_value_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		const struct value_case *vc = &value_cases[i];
		struct config *c = NULL;
		struct err e = { 0 };
		int64_t got;

		if (load_text(vc->ini, &c, &e, NULL) != 0)
			fail_msg("case %zu (%s): %s", i, vc->ini, e.msg);
		memcpy(&got, (const char *)c + vc->offset, sizeof(got));
		if (got != vc->want)
			fail_msg("case %zu (%s): got %lld, want %lld", i, vc->ini, (long long)got,
				 (long long)vc->want);
		config_unref(c);
	}
}

static void test_level_and_string_values(void **state)
{
	static const char *const levels[] = { "debug", "info", "warn", "warning", "error" };
	struct config *c = NULL;
	struct err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		char ini[64];

		snprintf(ini, sizeof(ini), "[log]\nlevel = %s\n", levels[i]);
		if (load_text(ini, &c, &e, NULL) != 0)
			fail_msg("%s: %s", levels[i], e.msg);
		assert_string_equal(c->log_level, levels[i]);
		config_unref(c);
	}
	/* An empty URL is allowed (stays empty); "/" strips to empty too. */
	assert_int_equal(
		load_text("[endpoints]\ntiktok =\nstripe = https://s.example///\n", &c, &e, NULL),
		0);
	assert_string_equal(config_endpoint(c, "tiktok"), "");
	assert_string_equal(config_endpoint(c, "stripe"), "https://s.example");
	config_unref(c);
}

/*
 * Errors: the message names file:line (or the variable) and the key.
 * want_line < 0 means the message carries no line; "%s" in a want string is
 * replaced by the temp file's path.
 */
struct error_case {
	const char *name;
	const char *ini;
	int want_line;
	const char *want[3]; /* substrings */
};

static const struct error_case error_cases[] = {
	{ "unknown key on line 7",
	  "; adsengd test file\n"
	  "[server]\n"
	  "listen = 127.0.0.1:1\n"
	  "\n"
	  "[ingest]\n"
	  "writers = 2\n"
	  "wrtiers = 3\n"
	  "queue_max = 10\n",
	  7,
	  { "unknown key \"wrtiers\" in [ingest]" } },
	{ "unknown section",
	  "[server]\nlisten = a:1\n[bogus]\nfoo = 1\n",
	  4,
	  { "unknown section [bogus]", "foo" } },
	{ "key before any section", "listen = a:1\n", 1, { "unknown section []", "listen" } },
	{ "bad integer",
	  "[ingest]\nqueue_max = 12abc\n",
	  2,
	  { "[ingest] queue_max", "invalid integer \"12abc\"" } },
	{ "empty integer",
	  "[ingest]\nbatch_max =\n",
	  2,
	  { "[ingest] batch_max", "invalid integer" } },
	{ "integer overflow",
	  "[ingest]\nqueue_max = 99999999999999999999\n",
	  2,
	  { "[ingest] queue_max", "invalid integer" } },
	{ "integer above max",
	  "[ingest]\nwriters = 17\n",
	  2,
	  { "[ingest] writers", "17 is out of range" } },
	{ "integer below min",
	  "[ingest]\nwriters = 0\n",
	  2,
	  { "[ingest] writers", "0 is out of range" } },
	{ "negative integer",
	  "[retry]\nmax_attempts = -3\n",
	  2,
	  { "[retry] max_attempts", "-3 is out of range" } },
	{ "size below min",
	  "[server]\nmax_body = 1023\n",
	  2,
	  { "[server] max_body", "out of range" } },
	{ "size above max",
	  "[server]\nmax_body = 65MiB\n",
	  2,
	  { "[server] max_body", "out of range" } },
	{ "bad size", "[server]\nmax_body = 2 lots\n", 2, { "[server] max_body", "invalid size" } },
	{ "bad duration",
	  "[workers]\n\nlease = 5 parsecs\n",
	  3,
	  { "[workers] lease", "invalid duration", "\"5 parsecs\"" } },
	{ "negative duration",
	  "[workers]\nlease = -5m\n",
	  2,
	  { "[workers] lease", "invalid duration" } },
	{ "duration above max",
	  "[retry]\ncap = 31d\n",
	  2,
	  { "[retry] cap", "31d is out of range" } },
	{ "duration below min",
	  "[workers]\npoll_interval = 9ms\n",
	  2,
	  { "[workers] poll_interval", "out of range" } },
	{ "bad URL scheme",
	  "[endpoints]\nmeta = ftp://graph.example\n",
	  2,
	  { "[endpoints] meta", "\"ftp://graph.example\" is not an http(s) URL" } },
	{ "URL without scheme",
	  "[server]\npublic_url = ads.example.com\n",
	  2,
	  { "[server] public_url", "is not an http(s) URL" } },
	{ "bad log level",
	  "[log]\nlevel = loud\n",
	  2,
	  { "[log] level", "\"loud\" is not one of debug, info, warn, error" } },
	{ "listen without port",
	  "[server]\nlisten = localhost\n",
	  2,
	  { "[server] listen", "host:port" } },
	{ "too many listen values",
	  "[server]\nlisten = a:1\nlisten = a:2\nlisten = a:3\nlisten = a:4\nlisten = a:5\n"
	  "listen = a:6\nlisten = a:7\nlisten = a:8\nlisten = a:9\n",
	  10,
	  { "too many values for [server] listen" } },
	{ "single-valued key set twice",
	  "[ingest]\nwriters = 2\nqueue_max = 5\nwriters = 3\n",
	  4,
	  { "[ingest] writers is set twice" } },
	{ "set twice across two sections of the same name",
	  "[log]\nlevel = info\n[ingest]\nwriters = 2\n[log]\nlevel = warn\n",
	  6,
	  { "[log] level is set twice" } },
	{ "syntax error line",
	  "[server]\nlisten = 127.0.0.1:1\nthis line has no equals sign\n",
	  3,
	  { "syntax error" } },
	{ "unterminated section", "[ingest]\nwriters = 2\n[retry\n", 3, { "syntax error" } },
	{ "validation: retry base above cap",
	  "[retry]\nbase = 1h\ncap = 30m\n",
	  -1,
	  { "[retry] base is larger than [retry] cap" } },
	{ "validation: lease equal to upload_timeout",
	  "[workers]\nlease = 30s\nupload_timeout = 30s\n",
	  -1,
	  { "[workers] lease must be longer than [workers] upload_timeout" } },
	{ "validation: lease shorter than upload_timeout",
	  "[workers]\nlease = 10s\n",
	  -1,
	  { "[workers] lease must be longer than [workers] upload_timeout" } },
	{ "plan quotas: not a number",
	  "[plans]\nquotas = starter:lots\n",
	  -1,
	  { "[plans] quotas", "starter", "whole number" } },
	{ "plan quotas: unknown plan",
	  "[plans]\nquotas = starter:5, gold:10\n",
	  -1,
	  { "[plans] quotas", "unknown plan \"gold\"" } },
};

static void test_error_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *ec = &error_cases[i];
		struct config *c = NULL;
		struct err e = { 0 };
		char *path = NULL;
		char where[600];
		int rc = load_text(ec->ini, &c, &e, &path);

		if (rc != ERR_CONFIG || e.code != ERR_CONFIG)
			fail_msg("%s: rc %d (msg \"%s\"), want ERR_CONFIG", ec->name, rc, e.msg);
		assert_null(c);
		if (ec->want_line >= 0) {
			snprintf(where, sizeof(where), "%s:%d: ", path, ec->want_line);
			if (strncmp(e.msg, where, strlen(where)) != 0)
				fail_msg("%s: \"%s\" does not start with \"%s\"", ec->name, e.msg,
					 where);
		}
		for (int j = 0; j < 3 && ec->want[j]; j++) {
			if (strstr(e.msg, ec->want[j]) == NULL)
				fail_msg("%s: \"%s\" does not contain \"%s\"", ec->name, e.msg,
					 ec->want[j]);
		}
		drop_file(path);
	}
}

/* The bounds themselves are accepted: lease just above upload_timeout,
 * base equal to cap. */
static void test_validation_boundaries(void **state)
{
	struct config *c = NULL;
	struct err e = { 0 };

	(void)state;
	if (load_text("[workers]\nlease = 30001ms\nupload_timeout = 30s\n[retry]\nbase = 1h\n"
		      "cap = 1h\n",
		      &c, &e, NULL) != 0)
		fail_msg("config_load: %s", e.msg);
	assert_int_equal(c->worker_lease_ms, 30001);
	assert_int_equal(c->retry_base_ms, c->retry_cap_ms);
	config_unref(c);
}

static void test_missing_file(void **state)
{
	const char *path = "/nonexistent/adsengd-test.conf";
	struct config *c = NULL;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(config_load(path, &c, &e), ERR_CONFIG);
	assert_null(c);
	assert_contains(e.msg,
			"could not open configuration file \"/nonexistent/adsengd-test.conf\"");
}

/*
 * libinih reads a line into a 200-byte buffer (Debian's build: INI_MAX_LINE
 * 200, on the stack).  A longer line must either be read whole or be
 * reported as too long on its own line; it must not shift the line number
 * of every later message or silently cut the value.
 */
static void long_url(char *out, size_t outlen)
{
	snprintf(out, outlen, "postgresql://adseng@db/adseng?application_name=%0*d", 250, 7);
}

static void test_long_line_keeps_line_numbers(void **state)
{
	char ini[1024], url[400], at7[600], at2[600];
	struct config *c = NULL;
	struct err e = { 0 };
	char *path = NULL;
	int rc;
	bool ok;

	(void)state;
	long_url(url, sizeof(url));
	snprintf(ini, sizeof(ini), "[database]\nurl = %s\n[ingest]\nwriters = 2\n\n\nwrtiers = 3\n",
		 url);
	rc = load_text(ini, &c, &e, &path);
	/* the bad key is named on line 7, or the long line 2 is refused */
	snprintf(at7, sizeof(at7), "%s:7: unknown key \"wrtiers\"", path);
	snprintf(at2, sizeof(at2), "%s:2: ", path);
	ok = rc == ERR_CONFIG &&
	     (strncmp(e.msg, at7, strlen(at7)) == 0 || strncmp(e.msg, at2, strlen(at2)) == 0);
	drop_file(path);
	if (!ok)
		fail_msg("300-byte line 2, bad key on line 7: rc %d \"%s\"", rc, e.msg);
}

static void test_long_line_value(void **state)
{
	char ini[1024], url[400], at2[600];
	struct config *c = NULL;
	struct err e = { 0 };
	char *path = NULL;
	int rc;
	bool ok;

	(void)state;
	long_url(url, sizeof(url));
	snprintf(ini, sizeof(ini), "[database]\nurl = %s\n", url);
	rc = load_text(ini, &c, &e, &path);
	snprintf(at2, sizeof(at2), "%s:2: ", path);
	drop_file(path);
	if (rc == 0) {
		ok = strcmp(c->db_url, url) == 0;
		if (!ok)
			snprintf(e.msg, sizeof(e.msg), "db_url is \"%s\"", c->db_url);
		config_unref(c);
	} else {
		ok = strncmp(e.msg, at2, strlen(at2)) == 0;
	}
	if (!ok)
		fail_msg("300-byte url on line 2 of 2: want it whole or refused at line 2, got rc "
			 "%d "
			 "\"%s\"",
			 rc, e.msg);
}

static void test_env_overrides(void **state)
{
	struct config *c = NULL;
	struct err e = { 0 };

	(void)state;
	setenv("ADSENGD_INGEST_WRITERS", "5", 1);
	setenv("ADSENGD_RETRY_CAP", "2h", 1);
	setenv("ADSENGD_DATABASE_URL", "postgresql://env@db/adseng", 1);
	setenv("ADSENGD_ENDPOINTS_META", "http://127.0.0.1:7000/", 1);
	setenv("ADSENGD_LOG_LEVEL", "error", 1);
	setenv("ADSENGD_SERVER_MAX_BODY", "1MiB", 1);
	setenv("ADSENGD_META_API_VERSION", "v22.0", 1);
	/* The environment wins over the file. */
	if (load_text("[ingest]\nwriters = 3\nqueue_max = 77\n", &c, &e, NULL) != 0)
		fail_msg("config_load: %s", e.msg);
	assert_int_equal(c->ingest_writers, 5);
	assert_int_equal(c->ingest_queue_max, 77);
	assert_int_equal(c->retry_cap_ms, 2 * 3600000LL);
	assert_string_equal(c->db_url, "postgresql://env@db/adseng");
	assert_string_equal(config_endpoint(c, "meta"), "http://127.0.0.1:7000");
	assert_string_equal(c->log_level, "error");
	assert_int_equal(c->max_body, 1 << 20);
	assert_string_equal(META_VERSION(c), "v22.0");
	config_unref(c);

	/* Also without a file. */
	assert_int_equal(config_load(NULL, &c, &e), 0);
	assert_int_equal(c->ingest_writers, 5);
	config_unref(c);
}

static void test_env_listen_list(void **state)
{
	struct config *c = NULL;
	struct err e = { 0 };

	(void)state;
	setenv("ADSENGD_SERVER_LISTEN", "10.0.0.1:80, 10.0.0.2:81,[::]:82", 1);
	/* The variable replaces the file's values, not appends to them. */
	if (load_text("[server]\nlisten = 1.1.1.1:1\nlisten = 2.2.2.2:2\n", &c, &e, NULL) != 0)
		fail_msg("config_load: %s", e.msg);
	assert_int_equal(c->n_listen, 3);
	assert_string_equal(c->listen[0], "10.0.0.1:80");
	assert_string_equal(c->listen[1], "10.0.0.2:81");
	assert_string_equal(c->listen[2], "[::]:82");
	config_unref(c);

	/* An empty list leaves no address, which validation refuses. */
	setenv("ADSENGD_SERVER_LISTEN", "", 1);
	c = NULL;
	assert_int_equal(config_load(NULL, &c, &e), ERR_CONFIG);
	assert_null(c);
	assert_contains(e.msg, "[server] listen: at least one address is required");

	setenv("ADSENGD_SERVER_LISTEN", "a:1,nocolon", 1);
	assert_int_equal(config_load(NULL, &c, &e), ERR_CONFIG);
	assert_contains(e.msg, "ADSENGD_SERVER_LISTEN: ");
	assert_contains(e.msg, "\"nocolon\" is not host:port");
}

static void test_env_errors(void **state)
{
	static const struct {
		const char *var, *value, *want;
	} cases[] = {
		{ "ADSENGD_WORKERS_LEASE", "forever", "[workers] lease: invalid duration" },
		{ "ADSENGD_INGEST_QUEUE_MAX", "lots", "[ingest] queue_max: invalid integer" },
		{ "ADSENGD_INGEST_WRITERS", "99", "[ingest] writers: 99 is out of range" },
		{ "ADSENGD_ENDPOINTS_GA4", "gopher://x", "is not an http(s) URL" },
		{ "ADSENGD_LOG_LEVEL", "chatty", "is not one of debug, info, warn, error" },
		{ "ADSENGD_SERVER_MAX_BODY", "2XiB", "invalid size" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = NULL;
		struct err e = { 0 };
		char prefix[128];

		setenv(cases[i].var, cases[i].value, 1);
		assert_int_equal(config_load(NULL, &c, &e), ERR_CONFIG);
		assert_null(c);
		snprintf(prefix, sizeof(prefix), "%s: ", cases[i].var);
		if (strncmp(e.msg, prefix, strlen(prefix)) != 0)
			fail_msg("%s=%s: \"%s\" does not start with \"%s\"", cases[i].var,
				 cases[i].value, e.msg, prefix);
		assert_contains(e.msg, cases[i].want);
		unsetenv(cases[i].var);
	}
}

static void test_endpoint(void **state)
{
	struct config *c = NULL;
	struct err e = { 0 };

	(void)state;
	if (load_text("[endpoints]\nmeta = http://127.0.0.1:9999/\n", &c, &e, NULL) != 0)
		fail_msg("config_load: %s", e.msg);
	assert_string_equal(config_endpoint(c, "meta"), "http://127.0.0.1:9999");
	assert_string_equal(config_endpoint(c, "google_ads"), "https://googleads.googleapis.com");
	assert_string_equal(config_endpoint(c, "google_oauth"), "https://oauth2.googleapis.com");
	assert_string_equal(config_endpoint(c, "google_datamanager"),
			    "https://datamanager.googleapis.com");
	assert_string_equal(config_endpoint(c, "tiktok"), "https://business-api.tiktok.com");
	assert_string_equal(config_endpoint(c, "ga4"), "https://www.google-analytics.com");
	assert_string_equal(config_endpoint(c, "stripe"), "https://api.stripe.com");
	assert_null(config_endpoint(c, "snapchat"));
	assert_null(config_endpoint(c, ""));
	assert_null(config_endpoint(c, "META"));
	config_unref(c);
}

static const char reload_ini[] = "[server]\n"
				 "listen = 0.0.0.0:9000\n"
				 "[database]\n"
				 "url = postgresql://other@db/adseng\n"
				 "[ingest]\n"
				 "writers = 3\n"
				 "[workers]\n"
				 "batch = 50\n"
				 "lease = 10m\n"
				 "[retry]\n"
				 "max_attempts = 3\n"
				 "[log]\n"
				 "level = debug\n";

static void test_restart_keys(void **state)
{
	struct config *a = NULL, *b = NULL;
	struct err e = { 0 };
	char out[512], small[16];

	(void)state;
	assert_int_equal(config_load(NULL, &a, &e), 0);
	if (load_text(reload_ini, &b, &e, NULL) != 0)
		fail_msg("config_load: %s", e.msg);

	/* Only the non-reloadable keys, in table order; batch, lease,
	 * max_attempts and level change live. */
	config_restart_keys(a, b, out, sizeof(out));
	assert_string_equal(out, "server.listen,database.url,ingest.writers");
	config_restart_keys(b, a, out, sizeof(out));
	assert_string_equal(out, "server.listen,database.url,ingest.writers");
	config_restart_keys(a, a, out, sizeof(out));
	assert_string_equal(out, "");
	/* A buffer too small for a name stays terminated and empty. */
	memset(small, 'x', sizeof(small));
	config_restart_keys(a, b, small, sizeof(small));
	assert_string_equal(small, "");

	config_unref(a);
	config_unref(b);
}

static void test_restart_keys_listen_order(void **state)
{
	struct config *a = NULL, *b = NULL;
	struct err e = { 0 };
	char out[512];

	(void)state;
	assert_int_equal(load_text("[server]\nlisten = a:1\nlisten = b:2\n", &a, &e, NULL), 0);
	assert_int_equal(load_text("[server]\nlisten = b:2\nlisten = a:1\n", &b, &e, NULL), 0);
	config_restart_keys(a, b, out, sizeof(out));
	assert_string_equal(out, "server.listen");
	config_unref(b);
	assert_int_equal(load_text("[server]\nlisten = a:1\n", &b, &e, NULL), 0);
	config_restart_keys(a, b, out, sizeof(out));
	assert_string_equal(out, "server.listen");
	config_unref(a);
	config_unref(b);
}

static void test_keep_restart_keys(void **state)
{
	struct config *old = NULL, *c = NULL;
	struct err e = { 0 };
	char out[512];

	(void)state;
	assert_int_equal(config_load(NULL, &old, &e), 0);
	if (load_text(reload_ini, &c, &e, NULL) != 0)
		fail_msg("config_load: %s", e.msg);
	config_keep_restart_keys(c, old);

	/* The non-reloadable keys are back to old's values… */
	assert_int_equal(c->n_listen, 1);
	assert_string_equal(c->listen[0], "127.0.0.1:8080");
	assert_ptr_not_equal(c->listen[0], old->listen[0]);
	assert_string_equal(c->db_url, old->db_url);
	assert_ptr_not_equal(c->db_url, old->db_url);
	assert_int_equal(c->ingest_writers, 1);
	config_restart_keys(old, c, out, sizeof(out));
	assert_string_equal(out, "");
	/* …and the reloadable ones keep the new values. */
	assert_int_equal(c->worker_batch, 50);
	assert_int_equal(c->worker_lease_ms, 600000);
	assert_int_equal(c->retry_max_attempts, 3);
	assert_string_equal(c->log_level, "debug");

	/* old is untouched and both free cleanly (no double free). */
	assert_string_equal(old->listen[0], "127.0.0.1:8080");
	config_unref(old);
	config_unref(c);
}

static void test_refcount(void **state)
{
	struct config *c = NULL;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(config_load(NULL, &c, &e), 0);
	assert_ptr_equal(config_ref(c), c);
	assert_int_equal(atomic_load(&c->refcnt), 2);
	config_unref(c);
	assert_int_equal(atomic_load(&c->refcnt), 1);
	assert_string_equal(c->listen[0], "127.0.0.1:8080");
	config_unref(c);
	config_unref(NULL);
}

static void test_print_redacts(void **state)
{
	struct config *c = NULL;
	struct err e = { 0 };
	char *s;

	(void)state;
	if (load_text(full_ini, &c, &e, NULL) != 0)
		fail_msg("config_load: %s", e.msg);

	s = print_to_string(c, false, false);
	assert_contains(s, "[database]\nurl = <redacted>\n");
	assert_not_contains(s, "s3cretpw");
	assert_contains(s, "[server]\nlisten = 0.0.0.0:9000\nlisten = [::1]:9001\n");
	assert_contains(s, "public_url = https://ads.example.com\n");
	assert_contains(s, "max_body = 524288\n");
	assert_contains(s, "request_timeout = 10000ms\n");
	assert_contains(s, "poll_interval = 250ms\n");
	assert_contains(s, "\n[log]\nlevel = debug\n");
	free(s);

	s = print_to_string(c, true, false);
	assert_contains(s, "url = postgresql://adseng:s3cretpw@db.internal/adseng\n");
	assert_not_contains(s, "<redacted>");
	free(s);
	config_unref(c);
}

/* What config_print writes (secrets shown) loads back as the same config. */
static void test_print_round_trip(void **state)
{
	struct config *a = NULL, *b = NULL;
	struct err e = { 0 };
	char *s;

	(void)state;
	if (load_text(full_ini, &a, &e, NULL) != 0)
		fail_msg("config_load: %s", e.msg);
	s = print_to_string(a, true, false);
	if (load_text(s, &b, &e, NULL) != 0)
		fail_msg("reloading printed config: %s\n%s", e.msg, s);
	assert_same_config(a, b);
	free(s);
	config_unref(a);
	config_unref(b);
}

/* Every key of the table, by section, in table order. */
static const struct {
	const char *section, *key;
} all_keys[] = {
	{ "server", "listen" },
	{ "server", "public_url" },
	{ "server", "max_body" },
	{ "server", "request_timeout" },
	{ "database", "url" },
	{ "security", "master_key_file" },
	{ "ingest", "queue_max" },
	{ "ingest", "batch_max" },
	{ "ingest", "writers" },
	{ "workers", "threads" },
	{ "workers", "batch" },
	{ "workers", "poll_interval" },
	{ "workers", "lease" },
	{ "workers", "max_inflight" },
	{ "workers", "upload_timeout" },
	{ "retry", "base" },
	{ "retry", "cap" },
	{ "retry", "max_attempts" },
	{ "endpoints", "meta" },
	{ "endpoints", "google_ads" },
	{ "endpoints", "google_oauth" },
	{ "endpoints", "google_datamanager" },
	{ "endpoints", "tiktok" },
	{ "endpoints", "ga4" },
	{ "endpoints", "stripe" },
	{ "meta", "api_version" },
	{ "log", "level" },
};

/* Whether "key = " appears inside [section] of the INI text s. */
static bool section_has_key(const char *s, const char *section, const char *key)
{
	char head[64], line[64];
	const char *start, *end;

	snprintf(head, sizeof(head), "\n[%s]\n", section);
	snprintf(line, sizeof(line), "\n%s = ", key);
	start = strstr(s, head);
	if (start == NULL)
		return false;
	start += strlen(head) - 1;
	end = strstr(start, "\n[");
	for (const char *f = strstr(start, line); f; f = strstr(f + 1, line)) {
		if (end == NULL || f < end)
			return true;
	}
	return false;
}

static void test_print_example(void **state)
{
	struct config *ex = NULL, *def = NULL;
	struct err e = { 0 };
	char *s = print_to_string(NULL, false, true);

	(void)state;
	for (size_t i = 0; i < sizeof(all_keys) / sizeof(all_keys[0]); i++) {
		if (!section_has_key(s, all_keys[i].section, all_keys[i].key))
			fail_msg("example has no \"%s =\" in [%s]", all_keys[i].key,
				 all_keys[i].section);
	}
	assert_contains(s, "ADSENGD_<SECTION>_<KEY>");
	assert_contains(s, "(secret: redacted by `adsengctl config show`)");
	assert_contains(s, "(reloadable)");

	/* The example is itself a valid file that yields the defaults. */
	if (load_text(s, &ex, &e, NULL) != 0)
		fail_msg("loading the example: %s", e.msg);
	assert_int_equal(config_load(NULL, &def, &e), 0);
	assert_same_config(ex, def);
	config_unref(ex);
	config_unref(def);
	free(s);
}

struct parse_case {
	const char *in;
	int rc;
	int64_t want;
};

static const struct parse_case duration_cases[] = {
	{ "0", 0, 0 },
	{ "10", 0, 10000 },
	{ "10s", 0, 10000 },
	{ "10 s", 0, 10000 },
	{ "250ms", 0, 250 },
	{ "1.5s", 0, 1500 },
	{ "0.5ms", 0, 1 },
	{ "5m", 0, 300000 },
	{ "5min", 0, 300000 },
	{ "6h", 0, 21600000 },
	{ "1d", 0, DAY_MS },
	{ "30d", 0, 30 * DAY_MS },
	{ "9e15ms", 0, 9000000000000000LL },
	/* negative */
	{ "-1", ERR_INVALID, 0 },
	{ "-5ms", ERR_INVALID, 0 },
	{ "-0.001s", ERR_INVALID, 0 },
	/* empty, no number, junk suffix, wrong case */
	{ "", ERR_INVALID, 0 },
	{ "s", ERR_INVALID, 0 },
	{ "ms", ERR_INVALID, 0 },
	{ "10x", ERR_INVALID, 0 },
	{ "10ss", ERR_INVALID, 0 },
	{ "10 s junk", ERR_INVALID, 0 },
	{ "10S", ERR_INVALID, 0 },
	{ "10sec", ERR_INVALID, 0 },
	{ "1h30m", ERR_INVALID, 0 },
	/* overflow and non-finite */
	{ "1e300d", ERR_INVALID, 0 },
	{ "9.1e15ms", ERR_INVALID, 0 },
	{ "200000000000d", ERR_INVALID, 0 },
	{ "inf", ERR_INVALID, 0 },
	{ "infinity", ERR_INVALID, 0 },
	{ "nan", ERR_INVALID, 0 },
	{ "nanms", ERR_INVALID, 0 },
	{ "-nan", ERR_INVALID, 0 },
};

static const struct parse_case size_cases[] = {
	{ "0", 0, 0 },
	{ "4096", 0, 4096 },
	{ "1B", 0, 1 },
	{ "100kB", 0, 100000 },
	{ "100KB", 0, 100000 },
	{ "512KiB", 0, 524288 },
	{ "2MiB", 0, 2097152 },
	{ "2 MiB", 0, 2097152 },
	{ "3MB", 0, 3000000 },
	{ "1GiB", 0, 1073741824 },
	{ "2GB", 0, 2000000000 },
	{ "9223372036854775807", 0, INT64_MAX },
	{ "8589934591GiB", 0, 8589934591LL << 30 },
	/* negative */
	{ "-1", ERR_INVALID, 0 },
	{ "-2MiB", ERR_INVALID, 0 },
	/* empty, no number, junk suffix, wrong case, fractions */
	{ "", ERR_INVALID, 0 },
	{ "MiB", ERR_INVALID, 0 },
	{ "2XiB", ERR_INVALID, 0 },
	{ "2mib", ERR_INVALID, 0 },
	{ "2MiBs", ERR_INVALID, 0 },
	{ "2 MiB x", ERR_INVALID, 0 },
	{ "1.5MiB", ERR_INVALID, 0 },
	/* overflow */
	{ "9223372036854775808", ERR_INVALID, 0 },
	{ "99999999999999999999999", ERR_INVALID, 0 },
	{ "8589934592GiB", ERR_INVALID, 0 },
	{ "9223372036854775807kB", ERR_INVALID, 0 },
	{ "9223372036854776KiB", ERR_INVALID, 0 },
};

static void run_parse_table(const char *what, int (*fn)(const char *, int64_t *),
			    const struct parse_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const int64_t sentinel = -424242;
		int64_t got = sentinel;
		int rc = fn(cases[i].in, &got);

		if (rc != cases[i].rc)
			fail_msg("%s(\"%s\"): rc %d (value %lld), want %d", what, cases[i].in, rc,
				 (long long)got, cases[i].rc);
		if (rc == 0 && got != cases[i].want)
			fail_msg("%s(\"%s\"): %lld, want %lld", what, cases[i].in, (long long)got,
				 (long long)cases[i].want);
		if (rc != 0 && got != sentinel)
			fail_msg("%s(\"%s\"): wrote %lld on failure", what, cases[i].in,
				 (long long)got);
	}
}

static void test_parse_duration(void **state)
{
	(void)state;
	run_parse_table("config_parse_duration_ms", config_parse_duration_ms, duration_cases,
			sizeof(duration_cases) / sizeof(duration_cases[0]));
}

static void test_parse_size(void **state)
{
	(void)state;
	run_parse_table("config_parse_size", config_parse_size, size_cases,
			sizeof(size_cases) / sizeof(size_cases[0]));
}

/* The database session limits and the shutdown deadline (defect 4):
 * defaults, values from a file and the environment, bounds, and which of
 * them a SIGHUP may change. */
static void test_session_and_shutdown_keys(void **state)
{
	struct config *a = NULL, *b = NULL;
	struct err e = { 0 };
	char out[512];

	(void)state;
	assert_int_equal(config_load(NULL, &a, &e), 0);
	assert_int_equal(a->shutdown_timeout_ms, 10000);
	assert_int_equal(a->db_statement_timeout_ms, 15000);
	assert_int_equal(a->db_lock_timeout_ms, 5000);
	assert_int_equal(a->db_tcp_user_timeout_ms, 30000);
	assert_int_equal(a->db_keepalives_idle_ms, 15000);
	assert_int_equal(a->db_keepalives_interval_ms, 5000);
	assert_int_equal(a->db_keepalives_count, 3);
	/* Well below the default lease: a stalled statement ends first. */
	assert_true(a->db_statement_timeout_ms * 4 <= a->worker_lease_ms);

	setenv("ADSENGD_DATABASE_LOCK_TIMEOUT", "250ms", 1);
	if (load_text("[server]\nshutdown_timeout = 30s\n"
		      "[database]\nstatement_timeout = 1m\nlock_timeout = 2s\n"
		      "tcp_user_timeout = 0\nkeepalives_idle = 1m\nkeepalives_interval = 2s\n"
		      "keepalives_count = 9\n",
		      &b, &e, NULL) != 0)
		fail_msg("config_load: %s", e.msg);
	unsetenv("ADSENGD_DATABASE_LOCK_TIMEOUT");
	assert_int_equal(b->shutdown_timeout_ms, 30000);
	assert_int_equal(b->db_statement_timeout_ms, 60000);
	assert_int_equal(b->db_lock_timeout_ms, 250); /* the environment wins */
	assert_int_equal(b->db_tcp_user_timeout_ms, 0);
	assert_int_equal(b->db_keepalives_idle_ms, 60000);
	assert_int_equal(b->db_keepalives_interval_ms, 2000);
	assert_int_equal(b->db_keepalives_count, 9);

	/* Sessions are made at start: restart keys; the deadline is read at
	 * SIGTERM: reloadable. */
	config_restart_keys(a, b, out, sizeof(out));
	assert_contains(out, "database.statement_timeout");
	assert_contains(out, "database.lock_timeout");
	assert_contains(out, "database.tcp_user_timeout");
	assert_contains(out, "database.keepalives_idle");
	assert_contains(out, "database.keepalives_interval");
	assert_contains(out, "database.keepalives_count");
	assert_not_contains(out, "shutdown_timeout");
	config_unref(a);
	config_unref(b);
	a = NULL;

	/* Bounds. */
	assert_int_equal(load_text("[server]\nshutdown_timeout = 500ms\n", &a, &e, NULL),
			 ERR_CONFIG);
	assert_contains(e.msg, "[server] shutdown_timeout");
	assert_int_equal(load_text("[database]\nkeepalives_idle = 0\n", &a, &e, NULL), ERR_CONFIG);
	assert_contains(e.msg, "[database] keepalives_idle");
	assert_int_equal(load_text("[database]\nkeepalives_count = 0\n", &a, &e, NULL), ERR_CONFIG);
	assert_int_equal(load_text("[database]\nlock_timeout = soon\n", &a, &e, NULL), ERR_CONFIG);
	assert_contains(e.msg, "invalid duration");
	assert_null(a);
}

#define T(f) cmocka_unit_test_setup_teardown(f, clear_env, clear_env)

/*
 * Platform keys: registering again changes nothing; an unregistered key has
 * no value; a platform key needs a restart like the [endpoints] keys.
 */
static void test_platform_keys(void **state)
{
	struct config *a = NULL, *b = NULL;
	struct err e = { 0 };
	char diff[256];

	(void)state;
	dest_register_config_keys();
	assert_int_equal(config_load(NULL, &a, &e), 0);
	assert_string_equal(META_VERSION(a), "v24.0");
	assert_null(config_platform_value(a, "meta", "no_such_key"));
	assert_null(config_platform_value(a, "nowhere", "api_version"));
	if (load_text("[META]\nAPI_VERSION = v21.0\n", &b, &e, NULL) != 0)
		fail_msg("config_load: %s", e.msg);
	assert_string_equal(META_VERSION(b), "v21.0");
	config_restart_keys(a, b, diff, sizeof(diff));
	assert_string_equal(diff, "meta.api_version");
	config_keep_restart_keys(b, a);
	assert_string_equal(META_VERSION(b), "v24.0");
	config_unref(a);
	config_unref(b);
	assert_int_equal(load_text("[meta]\nversion = v1\n", &a, &e, NULL), ERR_CONFIG);
	assert_contains(e.msg, "unknown key \"version\" in [meta]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_full_file),
		T(test_value_table),
		T(test_level_and_string_values),
		T(test_error_table),
		T(test_validation_boundaries),
		T(test_missing_file),
		T(test_long_line_keeps_line_numbers),
		T(test_long_line_value),
		T(test_env_overrides),
		T(test_env_listen_list),
		T(test_env_errors),
		T(test_endpoint),
		T(test_restart_keys),
		T(test_restart_keys_listen_order),
		T(test_keep_restart_keys),
		T(test_refcount),
		T(test_print_redacts),
		T(test_print_round_trip),
		T(test_print_example),
		T(test_parse_duration),
		T(test_parse_size),
		T(test_session_and_shutdown_keys),
		T(test_platform_keys),
	};

	dest_register_config_keys(); /* as the daemons' main() does */
	source_register_config_keys();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
