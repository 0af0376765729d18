/*
 * err.h - the error value every action fills for its caller.
 *
 * Functions return 0 on success or a negative enum err_code, and write a
 * human-readable message into a caller-supplied struct err.  Library error
 * codes (CURLcode, PGresult, libsodium -1) are translated into these at the
 * boundary of the module that called the library.
 */
#ifndef ADSENG_CORE_ERR_H
#define ADSENG_CORE_ERR_H

#include <stddef.h>

#define WUR __attribute__((warn_unused_result))

enum err_code {
	ERR_OK = 0,
	ERR_INVALID = -1,  /* bad input: malformed, out of range */
	ERR_NOMEM = -2,	   /* allocation failed */
	ERR_IO = -3,	   /* file or socket error */
	ERR_DB = -4,	   /* database error or unreachable */
	ERR_AUTH = -5,	   /* signature or credential check failed */
	ERR_NOTFOUND = -6, /* no such object */
	ERR_TOOBIG = -7,   /* input over a configured limit */
	ERR_BUSY = -8,	   /* queue full, try later */
	ERR_CRYPTO = -9,   /* encryption/decryption failure */
	ERR_CONFIG = -10,  /* configuration error */
	ERR_CONFLICT = -11 /* already exists */
};

struct err {
	int code;
	char msg[512];
};

/* Set code and printf-style message; returns code so callers can
 * `return err_set(e, ERR_INVALID, "…")`.  e may be NULL. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix the existing message with more context ("reading %s: <old>"). */
int err_wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(struct err *e);

/* Short name of a code for logs ("invalid", "db", …). */
const char *err_code_name(int code);

#endif
