/*
 * test_err_log.c - struct err (set, wrap, clear, truncation) and the log
 * helpers: logfmt quoting, level names, the rate limit, and log_write's
 * line format (stderr captured into a temporary file).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/* An err followed by bytes that must never be written. */
struct guarded_err {
	struct err e;
	char canary[64];
};

static void guard_init(struct guarded_err *g)
{
	memset(g, 0x5a, sizeof(*g));
	err_clear(&g->e);
}

static void assert_guard_intact(const struct guarded_err *g)
{
	for (size_t i = 0; i < sizeof(g->canary); i++) {
		if ((unsigned char)g->canary[i] != 0x5a)
			fail_msg("byte %zu past struct err was written", i);
	}
}

static void test_err_set(void **state)
{
	struct err e;

	(void)state;
	memset(&e, 0x7f, sizeof(e));
	assert_int_equal(err_set(&e, ERR_DB, "could not connect to database \"%s\": %s", "adseng",
				 "timeout"),
			 ERR_DB);
	assert_int_equal(e.code, ERR_DB);
	assert_string_equal(e.msg, "could not connect to database \"adseng\": timeout");
	/* A second set replaces both. */
	assert_int_equal(err_set(&e, ERR_INVALID, "bad %d", 42), ERR_INVALID);
	assert_int_equal(e.code, ERR_INVALID);
	assert_string_equal(e.msg, "bad 42");
	/* NULL err: nothing written, code still returned. */
	assert_int_equal(err_set(NULL, ERR_IO, "ignored %s", "x"), ERR_IO);
	assert_int_equal(err_set(NULL, ERR_OK, "ok"), ERR_OK);
}

static void test_err_set_truncates(void **state)
{
	char *big = malloc(5000);
	struct guarded_err g;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	guard_init(&g);
	assert_int_equal(err_set(&g.e, ERR_TOOBIG, "head:%s", big), ERR_TOOBIG);
	assert_int_equal(strlen(g.e.msg), sizeof(g.e.msg) - 1);
	assert_memory_equal(g.e.msg, "head:xxx", 8);
	assert_int_equal(g.e.msg[sizeof(g.e.msg) - 2], 'x');
	assert_guard_intact(&g);
	free(big);
}

static void test_err_wrap(void **state)
{
	struct err e;

	(void)state;
	err_set(&e, ERR_DB, "connection refused");
	assert_int_equal(err_wrap(&e, "reading %s", "deliveries"), ERR_DB);
	assert_int_equal(e.code, ERR_DB);
	assert_string_equal(e.msg, "reading deliveries: connection refused");
	assert_int_equal(err_wrap(&e, "worker %d", 3), ERR_DB);
	assert_string_equal(e.msg, "worker 3: reading deliveries: connection refused");

	/* Wrapping an empty message still reads "prefix: ". */
	err_clear(&e);
	assert_int_equal(err_wrap(&e, "ctx"), ERR_OK);
	assert_string_equal(e.msg, "ctx: ");

	/* NULL err: nothing to wrap, reported as ERR_INVALID. */
	assert_int_equal(err_wrap(NULL, "ctx %d", 1), ERR_INVALID);
}

static void test_err_wrap_truncates(void **state)
{
	char *big = malloc(2000);
	struct guarded_err g;

	(void)state;
	assert_non_null(big);
	memset(big, 'p', 1999);
	big[1999] = '\0';

	/* A long old message: the prefix stays, the tail is cut. */
	guard_init(&g);
	memset(big, 'o', 1999);
	err_set(&g.e, ERR_IO, "%s", big);
	assert_int_equal(err_wrap(&g.e, "prefix"), ERR_IO);
	assert_int_equal(strlen(g.e.msg), sizeof(g.e.msg) - 1);
	assert_memory_equal(g.e.msg, "prefix: ooo", 11);
	assert_guard_intact(&g);

	/* A long prefix is cut to 255 bytes, then ": old". */
	guard_init(&g);
	memset(big, 'p', 1999);
	err_set(&g.e, ERR_IO, "old");
	assert_int_equal(err_wrap(&g.e, "%s", big), ERR_IO);
	assert_int_equal(strlen(g.e.msg), 255 + strlen(": old"));
	assert_string_equal(g.e.msg + 255, ": old");
	assert_guard_intact(&g);

	/* Both long: total stays within the buffer. */
	guard_init(&g);
	err_set(&g.e, ERR_IO, "%s", big);
	for (int i = 0; i < 10; i++)
		err_wrap(&g.e, "%s", big);
	assert_int_equal(strlen(g.e.msg), sizeof(g.e.msg) - 1);
	assert_guard_intact(&g);
	free(big);
}

static void test_err_clear(void **state)
{
	struct err e;

	(void)state;
	err_set(&e, ERR_AUTH, "signature mismatch");
	err_clear(&e);
	assert_int_equal(e.code, 0);
	assert_string_equal(e.msg, "");
	err_clear(NULL);
}

static void test_err_code_name(void **state)
{
	static const struct {
		int code;
		const char *name;
	} cases[] = {
		{ ERR_OK, "ok" },
		{ ERR_INVALID, "invalid" },
		{ ERR_NOMEM, "nomem" },
		{ ERR_IO, "io" },
		{ ERR_DB, "db" },
		{ ERR_AUTH, "auth" },
		{ ERR_NOTFOUND, "notfound" },
		{ ERR_TOOBIG, "toobig" },
		{ ERR_BUSY, "busy" },
		{ ERR_CRYPTO, "crypto" },
		{ ERR_CONFIG, "config" },
		{ ERR_CONFLICT, "conflict" },
		{ -12, "unknown" },
		{ 1, "unknown" },
		{ -1000, "unknown" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(err_code_name(cases[i].code), cases[i].name);
}

struct quote_case {
	const char *in;
	const char *want;
};

static const struct quote_case quote_cases[] = {
	{ "hello", "\"hello\"" },
	{ "", "\"\"" },
	{ "two words", "\"two words\"" },
	{ "say \"hi\"", "\"say \\\"hi\\\"\"" },
	{ "C:\\path\\", "\"C:\\\\path\\\\\"" },
	{ "line1\nline2\n", "\"line1\\nline2\\n\"" },
	/* other control characters become spaces: one event, one line */
	{ "a\rb", "\"a b\"" },
	{ "tab\there", "\"tab here\"" },
	{ "\x01\x1b[31mred", "\"  [31mred\"" },
	{ "bell\a", "\"bell \"" },
	/* UTF-8 passes through */
	{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
	/* key=value look-alikes stay inside the quotes */
	{ "x\" level=error msg=\"forged", "\"x\\\" level=error msg=\\\"forged\"" },
};

static void test_log_quote(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(quote_cases) / sizeof(quote_cases[0]); i++) {
		char out[128];

		log_quote(quote_cases[i].in, out, sizeof(out));
		assert_string_equal(out, quote_cases[i].want);
	}
}

/* Whether s, between its quotes, ends inside an escape (odd run of
 * trailing backslashes). */
static bool ends_mid_escape(const char *s, size_t len)
{
	size_t n = 0;

	while (len > 1 + n && s[len - 2 - n] == '\\')
		n++;
	return n % 2 == 1;
}

/*
 * Every output size from 0 to past the full length: an exact-size heap
 * buffer (so ASan sees any overflow), always terminated, always quoted,
 * a prefix of the full quoting, never cut inside an escape.
 */
static void test_log_quote_truncation(void **state)
{
	static const char *const inputs[] = { "abcdefghijklmnop", "\"\"\"\"\"\"\"\"",
					      "\\\\\\\\\\\\", "a\nb\nc\nd\ne\n", "x\"y\\z\n" };

	(void)state;
	for (size_t k = 0; k < sizeof(inputs) / sizeof(inputs[0]); k++) {
		char full[128];
		size_t full_len;

		log_quote(inputs[k], full, sizeof(full));
		full_len = strlen(full);
		for (size_t outlen = 0; outlen <= full_len + 2; outlen++) {
			char *out = malloc(outlen ? outlen : 1);
			size_t len;

			assert_non_null(out);
			out[0] = '#';
			log_quote(inputs[k], out, outlen);
			if (outlen == 0) {
				assert_int_equal(out[0], '#'); /* nothing written */
				free(out);
				continue;
			}
			len = strnlen(out, outlen);
			if (len >= outlen)
				fail_msg("input %zu outlen %zu: not terminated", k, outlen);
			if (outlen < 3) {
				assert_int_equal(len, 0);
				free(out);
				continue;
			}
			if (len < 2 || out[0] != '"' || out[len - 1] != '"')
				fail_msg("input %zu outlen %zu: \"%s\" is not quoted", k, outlen,
					 out);
			if (memcmp(out, full, len - 1) != 0)
				fail_msg("input %zu outlen %zu: \"%s\" is not a prefix of %s", k,
					 outlen, out, full);
			if (ends_mid_escape(out, len))
				fail_msg("input %zu outlen %zu: \"%s\" ends inside an escape", k,
					 outlen, out);
			/* No more than one escape's worth shorter than fits. */
			if (len + 1 + 2 < outlen && len < full_len)
				fail_msg("input %zu outlen %zu: \"%s\" cut too short", k, outlen,
					 out);
			if (outlen > full_len + 1 && strcmp(out, full) != 0)
				fail_msg("input %zu outlen %zu: \"%s\", want %s", k, outlen, out,
					 full);
			free(out);
		}
	}
}

static void test_log_parse_level(void **state)
{
	static const struct {
		const char *s;
		int want;
	} cases[] = {
		{ "debug", LOG_DEBUG },	 { "info", LOG_INFO },	 { "warn", LOG_WARN },
		{ "warning", LOG_WARN }, { "error", LOG_ERROR }, { "", -1 },
		{ "INFO", -1 },		 { "Debug", -1 },	 { "info ", -1 },
		{ "fatal", -1 },	 { "err", -1 },		 { "debugx", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (log_parse_level(cases[i].s) != cases[i].want)
			fail_msg("log_parse_level(\"%s\"): %d, want %d", cases[i].s,
				 log_parse_level(cases[i].s), cases[i].want);
	}
}

static void test_log_level_set_get(void **state)
{
	enum log_level saved = log_get_level();

	(void)state;
	log_set_level(LOG_ERROR);
	assert_int_equal(log_get_level(), LOG_ERROR);
	log_set_level(LOG_DEBUG);
	assert_int_equal(log_get_level(), LOG_DEBUG);
	log_set_level(saved);
}

static void test_ratelimit(void **state)
{
	struct log_ratelimit rl = { 0 };
	int suppressed = -1;

	(void)state;
	/* N allowed per minute, none suppressed yet. */
	for (int i = 0; i < 3; i++) {
		suppressed = -1;
		if (!log_ratelimit_allow(&rl, 3, &suppressed))
			fail_msg("call %d refused", i + 1);
		assert_int_equal(suppressed, 0);
	}
	/* Then refused, and *suppressed is left alone. */
	for (int i = 0; i < 5; i++) {
		suppressed = -1;
		assert_false(log_ratelimit_allow(&rl, 3, &suppressed));
		assert_int_equal(suppressed, -1);
	}
	assert_int_equal(rl.suppressed, 5);

	/* A minute later: allowed again, reporting the 5 skipped. */
	rl.window_start_ms -= 60000;
	assert_true(log_ratelimit_allow(&rl, 3, &suppressed));
	assert_int_equal(suppressed, 5);
	assert_true(log_ratelimit_allow(&rl, 3, &suppressed));
	assert_int_equal(suppressed, 0);
	assert_true(log_ratelimit_allow(&rl, 3, NULL));
	assert_false(log_ratelimit_allow(&rl, 3, NULL));

	/* Just under a minute is still the same window. */
	rl.window_start_ms -= 59000;
	assert_false(log_ratelimit_allow(&rl, 3, NULL));
	rl.window_start_ms -= 1000;
	assert_true(log_ratelimit_allow(&rl, 3, &suppressed));
	assert_int_equal(suppressed, 2);
}

static void test_ratelimit_zero(void **state)
{
	struct log_ratelimit rl = { 0 };

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_false(log_ratelimit_allow(&rl, 0, NULL));
	assert_int_equal(rl.suppressed, 10);
}

/* Run fn with stderr redirected; return what it wrote (free()). */
static char *capture_stderr(void (*fn)(void), size_t *len)
{
	char path[] = "/tmp/adseng-log-XXXXXX";
	int fd = mkstemp(path), saved;
	char *buf = malloc(16384);
	ssize_t n;

	assert_true(fd >= 0);
	assert_non_null(buf);
	unlink(path);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	fn();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = pread(fd, buf, 16383, 0);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void write_lines(void)
{
	log_set_level(LOG_INFO);
	log_debug("hidden", NULL);
	log_info("could not connect to database \"adseng\"", "attempt=%d err=%s", 3, "refused");
	log_warn("plain", NULL);
	log_set_level(LOG_ERROR);
	log_warn("hidden too", "%s", "");
	log_error("multi\nline", NULL);
}

static void test_log_write(void **state)
{
	enum log_level saved = log_get_level();
	size_t len;
	char *out;

	(void)state;
	out = capture_stderr(write_lines, &len);
	log_set_level(saved);
	assert_contains(out, " level=info msg=\"could not connect to database \\\"adseng\\\"\" "
			     "attempt=3 err=refused\n");
	assert_contains(out, " level=warn msg=\"plain\"\n");
	assert_contains(out, " level=error msg=\"multi\\nline\"\n");
	assert_null(strstr(out, "hidden"));
	/* three lines, each starting with a timestamp */
	assert_int_equal(out[len - 1], '\n');
	assert_memory_equal(out, "ts=20", 5);
	assert_non_null(strstr(out, "Z level=info"));
	{
		int lines = 0;

		for (size_t i = 0; i < len; i++)
			lines += out[i] == '\n';
		assert_int_equal(lines, 3);
	}
	free(out);
}

static void write_long_lines(void)
{
	static char big[6000];

	memset(big, 'k', sizeof(big) - 1);
	log_set_level(LOG_INFO);
	log_info("short", "big=%s", big);
	memset(big, 'm', sizeof(big) - 1);
	log_info(big, NULL);
}

/* Long lines are cut to the 4 KiB line buffer, still one line each. */
static void test_log_write_long(void **state)
{
	enum log_level saved = log_get_level();
	size_t len;
	char *out, *nl;

	(void)state;
	out = capture_stderr(write_long_lines, &len);
	log_set_level(saved);
	nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_true(nl - out + 1 <= 4096);
	assert_true(nl - out > 4000);
	assert_contains(out, " big=kkkk");
	/* second line: msg quoted into 1 KiB, closing quote kept */
	assert_contains(nl + 1, "msg=\"mmmm");
	assert_contains(nl + 1, "mm\"\n");
	assert_true(strlen(nl + 1) < 1100);
	assert_int_equal(out[len - 1], '\n');
	free(out);
}

/*
 * A minimal logfmt reader: split line (one line, no '\n') into at most max
 * keys and decoded values.  Returns the number of pairs, or -1 when the
 * line does not parse (an unterminated quote, a key without '=').
 */
struct kv {
	char key[32];
	char val[512];
};

static int logfmt_parse(const char *line, struct kv *kv, int max)
{
	const char *p = line;
	int n = 0;

	while (*p) {
		size_t k = 0, v = 0;

		if (n == max)
			return -1;
		while (*p && *p != '=' && *p != ' ' && k + 1 < sizeof(kv[n].key))
			kv[n].key[k++] = *p++;
		kv[n].key[k] = '\0';
		if (*p != '=' || k == 0)
			return -1;
		p++;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				char c = *p;

				if (c == '\\') {
					p++;
					if (*p == '\0')
						return -1;
					c = *p == 'n' ? '\n' : *p;
				}
				if (v + 1 < sizeof(kv[n].val))
					kv[n].val[v++] = c;
			}
			if (*p != '"')
				return -1;
			p++;
		} else {
			while (*p && *p != ' ') {
				if (v + 1 < sizeof(kv[n].val))
					kv[n].val[v++] = *p;
				p++;
			}
		}
		kv[n].val[v] = '\0';
		n++;
		if (*p == ' ')
			p++;
		else if (*p != '\0')
			return -1;
	}
	return n;
}

#define FORGED "x\" level=error msg=\"forged"

static void write_hostile_lines(void)
{
	log_set_level(LOG_INFO);
	/* A libpq message: several lines, the last with a forged key. */
	log_warn("could not store webhooks", "writer=%d err=\"%s\" n=%zu", 1,
		 "ERROR:  deadlock detected\nDETAIL:  Process 1 waits\n" FORGED, (size_t)7);
	/* The same text as a bare value. */
	log_warn("source has an unknown kind; ignoring it", "source=%s kind=%s", "s1",
		 "a\r\nlevel=error " FORGED);
	/* An empty bare value, a backslash, a percent, a precision. */
	log_info("odd", "empty=%s path=\"%s\" pct=%d%% part=%.*s", "", "C:\\x\\", 50, 3, "abcdef");
}

/*
 * Defect 12: a value holding newlines or `" level=error msg="forged` must
 * stay one line with one level= key, and read back as exactly what was
 * logged.
 */
static void test_log_write_escapes_values(void **state)
{
	enum log_level saved = log_get_level();
	struct kv kv[12];
	size_t len;
	char *out, *line, *next;
	int n;

	(void)state;
	out = capture_stderr(write_hostile_lines, &len);
	log_set_level(saved);
	{
		int lines = 0;

		for (size_t i = 0; i < len; i++)
			lines += out[i] == '\n';
		if (lines != 3)
			fail_msg("want 3 lines, got %d:\n%s", lines, out);
	}
	line = out;
	next = strchr(line, '\n');
	*next = '\0';
	n = logfmt_parse(line, kv, 12);
	if (n != 6)
		fail_msg("line 1 parsed into %d pairs: %s", n, line);
	assert_string_equal(kv[1].key, "level");
	assert_string_equal(kv[1].val, "warn");
	assert_string_equal(kv[3].key, "writer");
	assert_string_equal(kv[4].key, "err");
	assert_string_equal(kv[4].val,
			    "ERROR:  deadlock detected\nDETAIL:  Process 1 waits\n" FORGED);
	assert_string_equal(kv[5].key, "n");
	assert_string_equal(kv[5].val, "7");

	line = next + 1;
	next = strchr(line, '\n');
	*next = '\0';
	n = logfmt_parse(line, kv, 12);
	if (n != 5)
		fail_msg("line 2 parsed into %d pairs: %s", n, line);
	assert_string_equal(kv[1].val, "warn");
	assert_string_equal(kv[3].key, "source");
	assert_string_equal(kv[3].val, "s1");
	assert_string_equal(kv[4].key, "kind");
	/* \r folds to a space, \n to an escape. */
	assert_string_equal(kv[4].val, "a \nlevel=error " FORGED);
	assert_contains(line,
			" source=s1 kind=\"a \\nlevel=error x\\\" level=error msg=\\\"forged\"");

	line = next + 1;
	next = strchr(line, '\n');
	*next = '\0';
	assert_contains(line, " empty=\"\" path=\"C:\\\\x\\\\\" pct=50% part=abc");
	free(out);
}

static void write_conversions(void)
{
	log_set_level(LOG_INFO);
	log_info("conv", "a=%5d b=%-3u| c=%lld d=%zu e=%ld f=%x g=%08.3f h=%c i=%*d j=%hhd k=%jd",
		 -42, 7u, (long long)-9000000000LL, (size_t)123456789, -5L, 255u, 3.14159, 'Z', 4,
		 9, (signed char)-3, (intmax_t)77);
}

/* log_write formats kvfmt itself: the usual conversions match printf. */
static void test_log_write_conversions(void **state)
{
	enum log_level saved = log_get_level();
	size_t len;
	char *out;

	(void)state;
	out = capture_stderr(write_conversions, &len);
	log_set_level(saved);
	/* "b=7  |" holds spaces inside a bare value: it is quoted. */
	assert_contains(out, " a=\"  -42\" b=\"7  \"| c=-9000000000 d=123456789 e=-5 f=ff "
			     "g=0003.142 h=Z i=\"   9\" j=-3 k=77\n");
	free(out);
}

/* ---- [log] format = json, and journald ------------------------------------ */

static void write_json_lines(void)
{
	log_set_level(LOG_DEBUG);
	log_set_format(true);
	log_info("could not connect to database \"adseng\"",
		 "attempt=%d err=\"%s\" kind=%s empty=%s", 3, "refused: \"x\"\nnext\\", "a b", "");
	log_warn("plain", NULL);
	log_debug("ctl\x01char", "k=%s", "\t");
	log_set_format(false);
}

static void test_log_json(void **state)
{
	enum log_level saved = log_get_level();
	size_t len;
	char *out, *line2, *line3;
	cJSON *j;

	(void)state;
	out = capture_stderr(write_json_lines, &len);
	log_set_level(saved);
	line2 = strchr(out, '\n');
	assert_non_null(line2);
	*line2++ = '\0';
	line3 = strchr(line2, '\n');
	assert_non_null(line3);
	*line3++ = '\0';
	/* Every line is one JSON object: parse them back. */
	j = cJSON_Parse(out);
	assert_non_null(j);
	assert_memory_equal(cJSON_GetObjectItem(j, "ts")->valuestring, "20", 2);
	assert_string_equal(cJSON_GetObjectItem(j, "level")->valuestring, "info");
	assert_string_equal(cJSON_GetObjectItem(j, "msg")->valuestring,
			    "could not connect to database \"adseng\"");
	assert_string_equal(cJSON_GetObjectItem(j, "attempt")->valuestring, "3");
	assert_string_equal(cJSON_GetObjectItem(j, "err")->valuestring, "refused: \"x\"\nnext\\");
	assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring, "a b");
	assert_string_equal(cJSON_GetObjectItem(j, "empty")->valuestring, "");
	cJSON_Delete(j);
	j = cJSON_Parse(line2);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "level")->valuestring, "warn");
	assert_null(cJSON_GetObjectItem(j, "kv"));
	cJSON_Delete(j);
	j = cJSON_Parse(line3);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "msg")->valuestring, "ctl\x01char");
	cJSON_Delete(j);
	free(out);
}

/* A line longer than a log line stays one valid JSON object. */
static void write_long_json(void)
{
	char big[6000];

	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_set_format(true);
	log_warn("long", "err=\"%s\"", big);
	log_set_format(false);
}

static void test_log_json_long(void **state)
{
	size_t len;
	char *out;
	cJSON *j;

	(void)state;
	out = capture_stderr(write_long_json, &len);
	assert_int_equal(out[len - 1], '\n');
	assert_null(memchr(out, '\n', len - 1));
	out[len - 1] = '\0';
	j = cJSON_Parse(out);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "truncated")->valuestring, "true");
	cJSON_Delete(j);
	free(out);
}

/* Under journald: a <N> prefix by level, no timestamp. */
static void write_journal_lines(void)
{
	struct stat st;
	char v[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	assert_true(log_detect_journal());
	log_set_level(LOG_DEBUG);
	log_error("e", NULL);
	log_warn("w", NULL);
	log_info("i", NULL);
	log_debug("d", NULL);
	/* Another stream (stderr redirected under the unit): not journald. */
	setenv("JOURNAL_STREAM", "1:2", 1);
	assert_false(log_detect_journal());
	log_info("plain", NULL);
	unsetenv("JOURNAL_STREAM");
	assert_false(log_detect_journal());
}

static void test_log_journal(void **state)
{
	enum log_level saved = log_get_level();
	size_t len;
	char *out;

	(void)state;
	out = capture_stderr(write_journal_lines, &len);
	log_set_level(saved);
	assert_memory_equal(out,
			    "<3>level=error msg=\"e\"\n<4>level=warn msg=\"w\"\n"
			    "<6>level=info msg=\"i\"\n<7>level=debug msg=\"d\"\nts=20",
			    strlen("<3>level=error msg=\"e\"\n<4>level=warn msg=\"w\"\n"
				   "<6>level=info msg=\"i\"\n<7>level=debug msg=\"d\"\nts=20"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_set),
		cmocka_unit_test(test_err_set_truncates),
		cmocka_unit_test(test_err_wrap),
		cmocka_unit_test(test_err_wrap_truncates),
		cmocka_unit_test(test_err_clear),
		cmocka_unit_test(test_err_code_name),
		cmocka_unit_test(test_log_quote),
		cmocka_unit_test(test_log_quote_truncation),
		cmocka_unit_test(test_log_parse_level),
		cmocka_unit_test(test_log_level_set_get),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_ratelimit_zero),
		cmocka_unit_test(test_log_write),
		cmocka_unit_test(test_log_write_long),
		cmocka_unit_test(test_log_write_escapes_values),
		cmocka_unit_test(test_log_write_conversions),
		cmocka_unit_test(test_log_json),
		cmocka_unit_test(test_log_json_long),
		cmocka_unit_test(test_log_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
