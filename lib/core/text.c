/*
 * text.c - string checks for outside input.
 */
#include "core/text.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at p (at most avail bytes),
 * or 0 when it is not one: shortest forms only, no surrogates, no code
 * point above U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
	unsigned int c = p[0];
	size_t more;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		more = 1;
	else if (c >= 0xE0 && c <= 0xEF)
		more = 2;
	else if (c >= 0xF0 && c <= 0xF4)
		more = 3;
	else
		return 0;
	if (avail < more + 1)
		return 0;
	/* Overlong 3/4-byte forms, surrogates and > U+10FFFF. */
	if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0) ||
	    (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
		return 0;
	for (size_t i = 1; i <= more; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	}
	return more + 1;
}

/* Validate UTF-8 from p; with no_controls, also refuse C0 controls and DEL. */
static bool utf8_scan(const unsigned char *p, bool no_controls)
{
	size_t left = strlen((const char *)p);

	while (left > 0) {
		size_t n = utf8_seq_len(p, left);

		if (n == 0 || (no_controls && (*p < 0x20 || *p == 0x7F)))
			return false;
		p += n;
		left -= n;
	}
	return true;
}

bool text_is_utf8(const char *s)
{
	return s && utf8_scan((const unsigned char *)s, false);
}

char *text_to_utf8(const char *in, size_t len)
{
	static const char fffd[] = "\xEF\xBF\xBD";
	const unsigned char *p = (const unsigned char *)in;
	char *out, *o;

	/* Each input byte becomes at most one U+FFFD (3 bytes). */
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(3 * len + 1);
	if (out == NULL)
		return NULL;
	o = out;
	while (len > 0) {
		size_t n = *p ? utf8_seq_len(p, len) : 0;

		if (n == 0) {
			/* One replacement per bad byte: simple, and the
			 * output length stays bounded by 3 × input. */
			memcpy(o, fffd, 3);
			o += 3;
			n = 1;
		} else {
			memcpy(o, p, n);
			o += n;
		}
		p += n;
		len -= n;
	}
	*o = '\0';
	return out;
}

bool text_is_clean(const char *s, size_t max)
{
	return s && strnlen(s, max + 1) <= max && utf8_scan((const unsigned char *)s, true);
}

bool text_is_decimal(const char *s)
{
	const char *p = s;

	if (s == NULL)
		return false;
	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0' && p - s <= 32;
}

bool text_is_digits(const char *s, size_t max)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n > 0 && n <= max && s[n] == '\0';
}

bool text_is_ip(const char *s)
{
	unsigned char a[16];

	return s && (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1);
}

bool text_is_json_number(const char *s, size_t max)
{
	size_t i = 0;
	size_t start;

	if (s == NULL || strnlen(s, max + 1) > max)
		return false;
	if (s[i] == '-')
		i++;
	start = i;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == start || (s[start] == '0' && i - start > 1))
		return false;
	if (s[i] == '.') {
		i++;
		start = i;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	return s[i] == '\0';
}

bool text_is_sha256_hex(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[i] == '\0';
}

void text_copy_line(char *out, size_t outlen, const char *src)
{
	size_t n = 0;
	size_t cut;

	for (; src[n] != '\0' && n + 1 < outlen; n++) {
		unsigned char ch = (unsigned char)src[n];

		out[n] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	out[n] = '\0';
	if (src[n] == '\0')
		return;
	/* Truncated: drop a trailing partial multi-byte sequence. */
	cut = n;
	while (cut > 0 && n - cut < 3 && ((unsigned char)out[cut - 1] & 0xC0) == 0x80)
		cut--;
	if (cut > 0 && ((unsigned char)out[cut - 1] & 0x80)) {
		unsigned char lead = (unsigned char)out[cut - 1];
		size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;

		if (n - (cut - 1) < need)
			out[cut - 1] = '\0';
	}
}

bool text_is_printable_ascii(const char *s, bool allow_space)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < (allow_space ? 0x20 : 0x21) || *p >= 0x7F)
			return false;
	}
	return true;
}
