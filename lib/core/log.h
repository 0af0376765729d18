/*
 * log.h - one line per event on stderr, logfmt style, for journald:
 *
 *   ts=2026-11-27T08:00:00.123Z level=warn msg="could not connect to database" err="…"
 *
 * The level and the format are the only process-wide logging state:
 * atomics set by main at startup and on SIGHUP, read by every thread.  Writes are one fwrite
 * of a preformatted line, so lines from different threads never interleave.
 * Messages follow PostgreSQL's style: lower case, no trailing period,
 * "could not …: reason".  Secrets never reach a log line.
 */
#ifndef ADSENG_CORE_LOG_H
#define ADSENG_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* [log] format: false = logfmt text, true = one JSON object per line
 * ({"ts","level","msg", then each key as a string}). */
void log_set_format(bool json);

/* Whether stderr is the journald stream systemd connected (JOURNAL_STREAM):
 * then lines start with a <N> priority prefix and carry no timestamp
 * (journald keeps both).  Called once by main at start. */
bool log_detect_journal(void);

/* "debug"/"info"/"warn"/"error" → level; -1 if unknown. */
int log_parse_level(const char *s);

/*
 * msg is a fixed message (quoted and escaped for you); kvfmt, if not NULL,
 * is a printf format producing `key=value` pairs (space separated), appended
 * after one space.  Every argument is escaped where it lands, so no value
 * can split the line or forge a key: inside a quoted value (`err=\"%s\"`)
 * quotes and backslashes are escaped; a newline becomes `\n` and other
 * control characters spaces; a bare value (`kind=%s`) that is empty or holds
 * a space, quote, `=` or backslash is quoted.  Conversions: d i u x X o c s p
 * f e g with flags, width, precision ('*' too) and hh h l ll z j t; %n and
 * anything else end the line there.  Any thread may call it.
 */
void log_write(enum log_level level, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_write(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_write(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_write(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write(LOG_ERROR, msg, __VA_ARGS__)

/*
 * A rate limit for a repeated error: embed one in the object that logs it
 * (a worker, the ingest writer).  Returns true when the line may be written;
 * *suppressed receives how many were skipped since the last one written.
 * Not thread safe: one owner thread per struct.
 */
struct log_ratelimit {
	int64_t window_start_ms;
	int count;
	int suppressed;
};
bool log_ratelimit_allow(struct log_ratelimit *rl, int per_minute, int *suppressed);

/* Quote s for a logfmt value into out (always terminated). */
void log_quote(const char *s, char *out, size_t outlen);

#endif
