/*
 * text.c - string checks for outside input.
 */
#include "core/text.h"

#include <arpa/inet.h>
#include <string.h>

/* Validate UTF-8 from p; with no_controls, also refuse C0 controls and DEL. */
static bool utf8_scan(const unsigned char *p, bool no_controls)
{
	while (*p) {
		unsigned int c = *p++;
		int more;

		if (no_controls && (c < 0x20 || c == 0x7F))
			return false;
		if (c < 0x80)
			continue;
		if (c >= 0xC2 && c <= 0xDF)
			more = 1;
		else if (c >= 0xE0 && c <= 0xEF)
			more = 2;
		else if (c >= 0xF0 && c <= 0xF4)
			more = 3;
		else
			return false;
		/* Overlong 3/4-byte forms, surrogates and > U+10FFFF. */
		if ((c == 0xE0 && *p < 0xA0) || (c == 0xED && *p >= 0xA0) ||
		    (c == 0xF0 && *p < 0x90) || (c == 0xF4 && *p >= 0x90))
			return false;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xC0) != 0x80)
				return false;
		}
	}
	return true;
}

bool text_is_utf8(const char *s)
{
	return s && utf8_scan((const unsigned char *)s, false);
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
