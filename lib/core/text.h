/*
 * text.h - checks on strings that come from outside (webhook bodies, stored
 * payloads, API input): UTF-8 validity, control characters, decimal money,
 * digit strings, IP addresses.  Shared by sources, the conversion model and
 * destinations so every layer refuses the same things.
 */
#ifndef ADSENG_CORE_TEXT_H
#define ADSENG_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Well-formed UTF-8: shortest forms only, no surrogates, ≤ U+10FFFF. */
bool text_is_utf8(const char *s);

/*
 * A copy of in[0..len) that is well-formed UTF-8 and has no NUL byte, so
 * PostgreSQL text and jsonb accept it: every byte that is not part of a
 * well-formed sequence (and every NUL) becomes U+FFFD; valid text is
 * copied unchanged.  Returns a malloc'd, NUL-terminated string the caller
 * frees, or NULL when memory is short.  Any thread.
 */
char *text_to_utf8(const char *in, size_t len);

/* At most max bytes of well-formed UTF-8 without control characters
 * (below U+0020, and DEL). */
bool text_is_clean(const char *s, size_t max);

/* A decimal number as money travels: optional '-', digits, optional '.'
 * and digits; at most 32 characters.  "129.90" yes; "1e3", ".5", "" no. */
bool text_is_decimal(const char *s);

/* 1..max ASCII digits and nothing else; NULL is false. */
bool text_is_digits(const char *s, size_t max);

/* An IPv4 or IPv6 address in text form; NULL is false. */
bool text_is_ip(const char *s);

/* Only printable ASCII (space too when allow_space): tokens and ids that
 * go into headers and keys unescaped. */
bool text_is_printable_ascii(const char *s, bool allow_space);

/* A decimal that is also a valid JSON number, so its text can go on the
 * wire unchanged (money never passes through a double): optional '-', no
 * leading zeros, optional fraction, no exponent, at most max bytes. */
bool text_is_json_number(const char *s, size_t max);

/* 64 lowercase hex digits: a SHA-256 as platforms take it.  Builders send
 * only identifiers of this shape, so a value that somehow was not hashed
 * never leaves the process in clear. */
bool text_is_sha256_hex(const char *s);

/* Copy src into out (outlen > 0), replacing control characters with
 * spaces so a message stays one log line, and cutting only at a UTF-8
 * character boundary. */
void text_copy_line(char *out, size_t outlen, const char *src);

#endif
