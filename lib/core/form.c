/*
 * form.c - form-urlencoded values (form.h).
 */
#include "core/form.h"

#include <stdbool.h>
#include <string.h>

/*
 * Bytes a form value may carry unencoded.  A form parser splits on '&' and
 * '=', turns '+' into a space and decodes %XX, nothing else
 * (https://url.spec.whatwg.org/#urlencoded-parsing), so those four, '%',
 * ';' (which old parsers also split on), spaces, control characters and
 * non-ASCII bytes are encoded and everything else may pass.  Beyond RFC
 * 3986's unreserved set, JSON's own punctuation is kept as is: a
 * 1000-event batch then carries a few thousand %XX instead of half a
 * million, which the platform (and the test fake) decodes far faster.
 */
static bool is_form_safe(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("-._~{}[]:,\"/()*!@'?", ch) != NULL);
}

size_t form_encoded_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += is_form_safe((unsigned char)*s) ? 1 : 3;
	return n;
}

void form_put(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *p = b->data + b->len;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (is_form_safe(ch)) {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	b->len = (size_t)(p - b->data);
}

void form_append(struct buf *b, const char *name, const char *value)
{
	buf_reserve(b, 1 + form_encoded_len(name) + 1 + form_encoded_len(value) + 1);
	if (b->len > 0)
		buf_putc(b, '&');
	form_put(b, name);
	buf_putc(b, '=');
	form_put(b, value);
}
