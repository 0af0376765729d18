/*
 * log.c - logfmt lines on stderr.
 *
 * A line can be neither split nor forged by what it reports: log_write
 * formats kvfmt itself, one conversion at a time, and escapes every
 * argument's text where it lands.  Inside a quoted value (`err="%s"`) a
 * quote or backslash is escaped; anywhere, a newline becomes `\n` and other
 * control characters become spaces; a bare value (`kind=%s`) that would
 * not read back as one token is quoted.  Callers therefore cannot forget
 * to escape a libpq message or a platform's answer.
 */
#include "core/log.h"
#include "core/clock.h"
#include "core/mem.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX  4096
#define LOG_MSG_MAX   1024
#define LOG_PIECE_MAX 2048
#define LOG_SPEC_MAX  32

/* The process-wide logging settings; see log.h. */
static _Atomic int g_log_level = LOG_INFO;
static _Atomic bool g_log_json = false;
static _Atomic bool g_log_journal = false;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level level)
{
	atomic_store(&g_log_level, (int)level);
}

void log_set_format(bool json)
{
	atomic_store(&g_log_json, json);
}

/*
 * systemd sets JOURNAL_STREAM to "device:inode" of the stream it connected
 * to stderr; only when stderr still is that stream do lines go to journald
 * (not when the daemon was started from a shell under a unit, with stderr
 * redirected).  See systemd.exec(5), "JOURNAL_STREAM".
 */
bool log_detect_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	bool on;

	on = v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	     (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
	atomic_store(&g_log_journal, on);
	return on;
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

/*
 * The escaped form of one byte inside a quoted value into esc (room for 3);
 * returns its length.  A quote or backslash is escaped, a newline folds to
 * "\n", any other control character becomes a space: one event, one line.
 */
static size_t escape_byte(unsigned char c, char *esc)
{
	if (c == '"' || c == '\\') {
		esc[0] = '\\';
		esc[1] = (char)c;
		return 2;
	}
	if (c == '\n') {
		esc[0] = '\\';
		esc[1] = 'n';
		return 2;
	}
	esc[0] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	return 1;
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
	for (; *s; s++) {
		char esc[2];
		size_t n = escape_byte((unsigned char)*s, esc);

		/* Room for the escape, the closing quote and the NUL. */
		if (o + n + 2 > outlen)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* ---- the line being built ------------------------------------------------ */

/*
 * A line under construction.  Two bytes stay in reserve for a closing
 * quote and the newline, so a cut line still ends its quoted value and
 * still ends with exactly one newline.  Appends never cut an escape.
 */
struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
	bool in_quotes; /* inside a "..." value (kvfmt's or one we opened) */
	bool full;
};

static void line_put(struct line *l, const char *s, size_t n)
{
	size_t room = sizeof(l->buf) - 2 - l->len;

	if (l->full)
		return;
	if (n > room) {
		n = room;
		l->full = true;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* One escape sequence: all of it or nothing, so a cut never leaves a
 * lone backslash that would swallow the closing quote. */
static void line_put_escape(struct line *l, const char *esc, size_t n)
{
	if (l->len + n + 2 > sizeof(l->buf))
		l->full = true;
	else
		line_put(l, esc, n);
}

/* s escaped as the inside of a quoted value. */
static void line_put_escaped(struct line *l, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !l->full; i++) {
		char esc[2];

		line_put_escape(l, esc, escape_byte((unsigned char)s[i], esc));
	}
}

/* Whether s can stand as a bare logfmt value: non-empty, no space, quote,
 * equals sign, backslash or control character. */
static bool is_bare_value(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return false;
	}
	return true;
}

/* One argument's text, escaped for where it lands in the line. */
static void line_put_value(struct line *l, const char *s, size_t n)
{
	if (l->in_quotes) {
		line_put_escaped(l, s, n);
	} else if (is_bare_value(s, n)) {
		line_put(l, s, n);
	} else {
		line_put(l, "\"", 1);
		l->in_quotes = !l->full;
		line_put_escaped(l, s, n);
		if (!l->full) {
			line_put(l, "\"", 1);
			l->in_quotes = false;
		}
	}
}

/* kvfmt's own text: quotes open and close values; a control character in
 * the format itself is folded like any other. */
static void line_put_literal(struct line *l, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !l->full; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"') {
			size_t before = l->len;

			line_put(l, "\"", 1);
			if (l->len > before)
				l->in_quotes = !l->in_quotes;
		} else if (c < 0x20 || c == 0x7f) {
			char esc[2];

			line_put_escape(l, esc, escape_byte(c, esc));
		} else {
			line_put(l, (const char *)&c, 1);
		}
	}
}

/* ---- kvfmt, one conversion at a time ------------------------------------- */

enum arg_size { ARG_INT, ARG_CHAR, ARG_SHORT, ARG_LONG, ARG_LLONG, ARG_SIZE, ARG_MAX, ARG_PTRDIFF };

/* Append the decimal n to spec (for a '*' width or precision). */
static void spec_put_int(char *spec, size_t *k, int n)
{
	int m = snprintf(spec + *k, LOG_SPEC_MAX - *k, "%d", n);

	if (m > 0 && *k + (size_t)m < LOG_SPEC_MAX)
		*k += (size_t)m;
}

/*
 * Parse one conversion at *fmt (just past the '%') into spec ("%-08.3lld",
 * '*' replaced by its argument), consume its argument from ap and format
 * it into piece.  Returns the text: piece, or a plain %s argument itself
 * (so a long value is cut only by the line); NULL for a conversion
 * log_write does not take (%n, unknown letters), which drops the rest of
 * the format.
 */
static const char *format_one(const char **fmt, va_list *ap, char *piece, size_t piecelen)
{
	char spec[LOG_SPEC_MAX];
	size_t k = 0;
	const char *p = *fmt;
	enum arg_size size = ARG_INT;

	spec[k++] = '%';
	while (*p && strchr("-+ #0", *p) && k < LOG_SPEC_MAX - 12)
		spec[k++] = *p++;
	if (*p == '*') {
		spec_put_int(spec, &k, va_arg(*ap, int));
		p++;
	}
	while (*p >= '0' && *p <= '9' && k < LOG_SPEC_MAX - 12)
		spec[k++] = *p++;
	if (*p == '.') {
		spec[k++] = *p++;
		if (*p == '*') {
			spec_put_int(spec, &k, va_arg(*ap, int));
			p++;
		}
		while (*p >= '0' && *p <= '9' && k < LOG_SPEC_MAX - 12)
			spec[k++] = *p++;
	}
	if (p[0] == 'h' && p[1] == 'h') {
		size = ARG_CHAR;
		p += 2;
	} else if (p[0] == 'l' && p[1] == 'l') {
		size = ARG_LLONG;
		p += 2;
	} else if (*p == 'h' || *p == 'l' || *p == 'z' || *p == 'j' || *p == 't') {
		size = *p == 'h'   ? ARG_SHORT
		       : *p == 'l' ? ARG_LONG
		       : *p == 'z' ? ARG_SIZE
		       : *p == 'j' ? ARG_MAX
				   : ARG_PTRDIFF;
		p++;
	}
	if (*p == '\0' || k + 4 > LOG_SPEC_MAX)
		return NULL;
	*fmt = p + 1;
	switch (*p) {
	case 'd':
	case 'i':
		memcpy(spec + k, "jd", 3);
		switch (size) {
		case ARG_LONG:
			snprintf(piece, piecelen, spec, (intmax_t)va_arg(*ap, long));
			break;
		case ARG_LLONG:
			snprintf(piece, piecelen, spec, (intmax_t)va_arg(*ap, long long));
			break;
		case ARG_SIZE:
			snprintf(piece, piecelen, spec, (intmax_t)va_arg(*ap, ssize_t));
			break;
		case ARG_MAX:
			snprintf(piece, piecelen, spec, va_arg(*ap, intmax_t));
			break;
		case ARG_PTRDIFF:
			snprintf(piece, piecelen, spec, (intmax_t)va_arg(*ap, ptrdiff_t));
			break;
		default: /* char and short arrive promoted to int */
			snprintf(piece, piecelen, spec, (intmax_t)va_arg(*ap, int));
			break;
		}
		return piece;
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		spec[k] = 'j';
		spec[k + 1] = *p;
		spec[k + 2] = '\0';
		switch (size) {
		case ARG_LONG:
			snprintf(piece, piecelen, spec, (uintmax_t)va_arg(*ap, unsigned long));
			break;
		case ARG_LLONG:
			snprintf(piece, piecelen, spec, (uintmax_t)va_arg(*ap, unsigned long long));
			break;
		case ARG_SIZE:
			snprintf(piece, piecelen, spec, (uintmax_t)va_arg(*ap, size_t));
			break;
		case ARG_MAX:
			snprintf(piece, piecelen, spec, va_arg(*ap, uintmax_t));
			break;
		case ARG_PTRDIFF:
			snprintf(piece, piecelen, spec, (uintmax_t)va_arg(*ap, ptrdiff_t));
			break;
		default:
			snprintf(piece, piecelen, spec, (uintmax_t)va_arg(*ap, unsigned int));
			break;
		}
		return piece;
	case 'c':
		memcpy(spec + k, "c", 2);
		snprintf(piece, piecelen, spec, va_arg(*ap, int));
		return piece;
	case 's': {
		const char *s = va_arg(*ap, const char *);

		if (k == 1)
			return s ? s : "(null)";
		memcpy(spec + k, "s", 2);
		snprintf(piece, piecelen, spec, s ? s : "(null)");
		return piece;
	}
	case 'p':
		memcpy(spec + k, "p", 2);
		snprintf(piece, piecelen, spec, va_arg(*ap, void *));
		return piece;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
		spec[k] = *p;
		spec[k + 1] = '\0';
		snprintf(piece, piecelen, spec, va_arg(*ap, double));
		return piece;
	default:
		return NULL;
	}
}

/* Format kvfmt with its arguments into l, escaping every argument. */
static void line_put_kv(struct line *l, const char *kvfmt, va_list *ap)
{
	const char *p = kvfmt;
	const char *text;
	char piece[LOG_PIECE_MAX];

	while (*p && !l->full) {
		const char *pct = strchr(p, '%');

		if (pct == NULL) {
			line_put_literal(l, p, strlen(p));
			break;
		}
		line_put_literal(l, p, (size_t)(pct - p));
		if (pct[1] == '%') {
			line_put(l, "%", 1);
			p = pct + 2;
			continue;
		}
		p = pct + 1;
		piece[0] = '\0';
		text = format_one(&p, ap, piece, sizeof(piece));
		if (text == NULL)
			break;
		line_put_value(l, text, strlen(text));
	}
}

/* ---- json --------------------------------------------------------------------- */

/* s[0..n) as a JSON string body (no quotes) into out; false if it did not
 * fit.  Logfmt values hold no control characters (escape_byte), but msg
 * and bare values are escaped here again to be safe. */
static bool json_put_text(struct line *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !out->full; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			line_put(out, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			line_put(out, esc, 6);
		} else {
			line_put(out, (const char *)&c, 1);
		}
	}
	return !out->full;
}

/*
 * The key=value pairs of a logfmt tail (what line_put_kv wrote) as JSON
 * members ,"key":"value" appended to out.  Quoted values are unescaped
 * from logfmt (\" \\ \n) and escaped again for JSON.  A part that is no
 * key=value pair (never written by this file) goes whole into "kv".
 */
static void log_kv_to_json(const char *kv, size_t len, struct line *out)
{
	size_t i = 0;

	while (i < len && !out->full) {
		size_t k0, k1;

		while (i < len && kv[i] == ' ')
			i++;
		if (i >= len)
			break;
		k0 = i;
		while (i < len && kv[i] != '=' && kv[i] != ' ' && kv[i] != '"')
			i++;
		k1 = i;
		if (i >= len || kv[i] != '=' || k1 == k0) {
			line_put(out, ",\"kv\":\"", 7);
			json_put_text(out, kv + k0, len - k0);
			line_put(out, "\"", 1);
			return;
		}
		i++; /* '=' */
		line_put(out, ",\"", 2);
		json_put_text(out, kv + k0, k1 - k0);
		line_put(out, "\":\"", 3);
		if (i < len && kv[i] == '"') {
			for (i++; i < len && kv[i] != '"'; i++) {
				char c = kv[i];

				if (c == '\\' && i + 1 < len) {
					c = kv[++i];
					if (c == 'n') {
						line_put(out, "\\n", 2);
						continue;
					}
				}
				json_put_text(out, &c, 1);
			}
			i++; /* the closing quote */
		} else {
			size_t v0 = i;

			while (i < len && kv[i] != ' ')
				i++;
			json_put_text(out, kv + v0, i - v0);
		}
		line_put(out, "\"", 1);
	}
}

/* ---- writing ---------------------------------------------------------------- */

/* sd-daemon(3) priorities: <7> debug, <6> info, <4> warning, <3> err
 * (journald strips the prefix and keeps the level). */
static const char *const journal_prefix[] = { "<7>", "<6>", "<4>", "<3>" };

static void write_line(struct line *l)
{
	/* The two reserved bytes: a cut line still closes its value. */
	if (l->in_quotes)
		l->buf[l->len++] = '"';
	l->buf[l->len++] = '\n';
	/* One write(2) per line keeps threads' lines whole. */
	if (write(STDERR_FILENO, l->buf, l->len) < 0)
		return;
}

static void line_start(struct line *l)
{
	l->len = 0;
	l->in_quotes = false;
	l->full = false;
}

/* The line as JSON: {"ts","level","msg", then the pairs}.  A line that
 * does not fit keeps ts, level and msg and says "truncated". */
static void build_json(struct line *l, bool journal, const char *ts, enum log_level level,
		       const char *msg, const struct line *kv)
{
	for (int pass = 0; pass < 2; pass++) {
		line_start(l);
		if (journal)
			line_put(l, journal_prefix[level], 3);
		line_put(l, "{", 1);
		if (!journal) {
			line_put(l, "\"ts\":\"", 6);
			line_put(l, ts, strlen(ts));
			line_put(l, "\",", 2);
		}
		line_put(l, "\"level\":\"", 9);
		line_put(l, level_names[level], strlen(level_names[level]));
		line_put(l, "\",\"msg\":\"", 9);
		/* At most 6 bytes per byte of msg: 512 bytes always fit. */
		json_put_text(l, msg, strnlen(msg, pass == 0 ? LOG_MSG_MAX : 512));
		line_put(l, "\"", 1);
		if (pass == 0)
			log_kv_to_json(kv->buf, kv->len, l);
		else
			line_put(l, ",\"truncated\":\"true\"", 19);
		line_put(l, "}", 1);
		if (!l->full)
			return;
	}
}

void log_write(enum log_level level, const char *msg, const char *kvfmt, ...)
{
	struct line l, kv;
	char quoted[LOG_MSG_MAX];
	char ts[48], stamp[40];
	struct timespec now;
	struct tm tm;
	bool journal = atomic_load(&g_log_journal), json = atomic_load(&g_log_json);
	int n;
	va_list ap;

	if ((int)level < atomic_load(&g_log_level))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts, sizeof(ts), "%s.%03ldZ", stamp, now.tv_nsec / 1000000);
	if (json) {
		line_start(&kv);
		if (kvfmt && *kvfmt) {
			va_start(ap, kvfmt);
			line_put_kv(&kv, kvfmt, &ap);
			va_end(ap);
			if (kv.in_quotes)
				kv.buf[kv.len++] = '"';
		}
		build_json(&l, journal, ts, level, msg, &kv);
		l.in_quotes = false;
		write_line(&l);
		return;
	}
	/* journald stamps lines itself and reads the level from <N>. */
	log_quote(msg, quoted, sizeof(quoted));
	if (journal)
		n = snprintf(l.buf, sizeof(l.buf) - 2, "%slevel=%s msg=%s", journal_prefix[level],
			     level_names[level], quoted);
	else
		n = snprintf(l.buf, sizeof(l.buf) - 2, "ts=%s level=%s msg=%s", ts,
			     level_names[level], quoted);
	if (n < 0)
		return;
	l.len = (size_t)n < sizeof(l.buf) - 2 ? (size_t)n : sizeof(l.buf) - 3;
	l.in_quotes = false;
	l.full = false;
	if (kvfmt && *kvfmt) {
		line_put(&l, " ", 1);
		va_start(ap, kvfmt);
		line_put_kv(&l, kvfmt, &ap);
		va_end(ap);
	}
	write_line(&l);
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
