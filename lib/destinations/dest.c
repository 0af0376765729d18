/*
 * dest.c - the registry of ad platform destinations and the request/outcome
 * helpers every destination shares.
 */
#include "destinations/dest.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct dest_ops meta_capi_dest_ops;

static const struct dest_ops *const registry[] = {
	&meta_capi_dest_ops,
};

const struct dest_ops *dest_ops_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		if (strcmp(registry[i]->kind, kind) == 0)
			return registry[i];
	}
	return NULL;
}

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

const char *outcome_kind_name(enum outcome_kind k)
{
	switch (k) {
	case OUTCOME_DELIVERED:
		return "delivered";
	case OUTCOME_RETRY:
		return "retry";
	case OUTCOME_FAILED:
		return "failed";
	case OUTCOME_SPLIT:
		return "split";
	case OUTCOME_PAUSE:
		return "pause";
	case OUTCOME_DEAD:
		return "dead";
	}
	return "unknown";
}

void outcome_fill(struct outcome *out, size_t n, enum outcome_kind kind, long retry_after_s,
		  const char *code, const char *msg)
{
	for (size_t i = 0; i < n; i++) {
		out[i].kind = kind;
		out[i].retry_after_s = retry_after_s;
		snprintf(out[i].platform_code, sizeof(out[i].platform_code), "%s",
			 code ? code : "");
		snprintf(out[i].message, sizeof(out[i].message), "%s", msg ? msg : "");
	}
}
