/*
 * log.c - logfmt lines on stderr.
 */
#include "core/log.h"
#include "core/clock.h"
#include "core/mem.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The one process-wide mutable logging setting; see log.h. */
static _Atomic int g_log_level = LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level level)
{
	atomic_store(&g_log_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&g_log_level);
}

int log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0)
			return i;
	}
	if (strcmp(s, "warning") == 0)
		return LOG_WARN;
	return -1;
}

void log_quote(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen < 3) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (; *s && o + 3 < outlen; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c < 0x20) {
			out[o++] = ' ';
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

void log_write(enum log_level level, const char *msg, const char *kvfmt, ...)
{
	char line[4096];
	char quoted[1024];
	char ts[40];
	struct timespec now;
	struct tm tm;
	int n;
	va_list ap;

	if ((int)level < atomic_load(&g_log_level))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	log_quote(msg, quoted, sizeof(quoted));
	n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s msg=%s", ts, now.tv_nsec / 1000000,
		     level_names[level], quoted);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (kvfmt && *kvfmt) {
		size_t room = sizeof(line) - (size_t)n;
		int m;

		line[n++] = ' ';
		room--;
		va_start(ap, kvfmt);
		m = vsnprintf(line + n, room, kvfmt, ap);
		va_end(ap);
		if (m > 0)
			n += (size_t)m < room ? m : (int)room - 1;
	}
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2) per line keeps threads' lines whole. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

bool log_ratelimit_allow(struct log_ratelimit *rl, int per_minute, int *suppressed)
{
	int64_t now = clock_mono_ms();

	if (now - rl->window_start_ms >= 60000) {
		rl->window_start_ms = now;
		rl->count = 0;
	}
	if (rl->count < per_minute) {
		rl->count++;
		if (suppressed)
			*suppressed = rl->suppressed;
		rl->suppressed = 0;
		return true;
	}
	rl->suppressed++;
	return false;
}
