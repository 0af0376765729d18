/*
 * upload.c - life cycle of an outbound platform request (core/upload.h):
 * the destination that builds it and the uploader that sends and frees it
 * share these helpers, so a credential in it is wiped on every path.
 */
#include "core/upload.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void upload_req_init(struct upload_req *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
}

void upload_req_cleanup(struct upload_req *r)
{
	/* The URL, a header or the body may carry a credential (Meta's
	 * access token is a body field): wipe before freeing. */
	if (r->url)
		sodium_memzero(r->url, strlen(r->url));
	free(r->url);
	free(r->log_url);
	for (size_t i = 0; i < r->n_headers; i++) {
		sodium_memzero(r->headers[i], strlen(r->headers[i]));
		free(r->headers[i]);
	}
	if (r->body.data)
		sodium_memzero(r->body.data, r->body.cap);
	buf_cleanup(&r->body);
	upload_req_init(r);
}

void upload_req_add_header(struct upload_req *r, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (r->n_headers >= UPLOAD_MAX_HEADERS)
		abort(); /* a destination bug, not an input problem */
	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	r->headers[r->n_headers++] = buf_steal(&b);
}

const char *upload_method_name(enum upload_method m)
{
	switch (m) {
	case UPLOAD_POST:
		return "POST";
	case UPLOAD_GET:
		return "GET";
	}
	return "unknown";
}

int upload_req_check(const struct upload_req *r, struct err *e)
{
	if (r->url == NULL || r->url[0] == '\0')
		return err_set(e, ERR_INVALID, "upload request has no URL");
	if (r->method != UPLOAD_POST && r->method != UPLOAD_GET)
		return err_set(e, ERR_INVALID, "upload request has an unknown method %d",
			       (int)r->method);
	if (r->method == UPLOAD_GET && r->body.len > 0)
		return err_set(e, ERR_INVALID, "a GET upload request has a body (%zu bytes)",
			       r->body.len);
	return 0;
}
