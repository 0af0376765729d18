/*
 * err.c - filling struct err.  Messages are truncated, never overflowed.
 */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	char prefix[256];
	char old[sizeof(e->msg)];
	va_list ap;

	if (e == NULL)
		return ERR_INVALID;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
	return e->code;
}

void err_clear(struct err *e)
{
	if (e == NULL)
		return;
	e->code = 0;
	e->msg[0] = '\0';
}

const char *err_code_name(int code)
{
	switch (code) {
	case ERR_OK:
		return "ok";
	case ERR_INVALID:
		return "invalid";
	case ERR_NOMEM:
		return "nomem";
	case ERR_IO:
		return "io";
	case ERR_DB:
		return "db";
	case ERR_AUTH:
		return "auth";
	case ERR_NOTFOUND:
		return "notfound";
	case ERR_TOOBIG:
		return "toobig";
	case ERR_BUSY:
		return "busy";
	case ERR_CRYPTO:
		return "crypto";
	case ERR_CONFIG:
		return "config";
	case ERR_CONFLICT:
		return "conflict";
	default:
		return "unknown";
	}
}
