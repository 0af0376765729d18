/*
 * upload.h - one outbound HTTP request to an ad platform and what came back,
 * independent of curl (the outbound twin of core/httpreq.h).
 *
 * Destinations build a struct upload_req (pure functions), the net layer's
 * uploader sends it and hands a struct upload_resp to the destination's
 * classifier.  The types live in core because both sides use them and the
 * dependency rule (STYLE.md) lets destinations include neither net nor each
 * other: core is the one module below both.
 */
#ifndef ADSENG_CORE_UPLOAD_H
#define ADSENG_CORE_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"

#define UPLOAD_MAX_HEADERS 8

/* UPLOAD_POST is 0, so an upload_req_init'ed request is a POST. */
enum upload_method {
	UPLOAD_POST, /* sends body (possibly empty) */
	UPLOAD_GET   /* sends no body: status polling and other reads */
};

/* One HTTP request to a platform.  Everything owned; upload_req_cleanup. */
struct upload_req {
	enum upload_method method;
	char *url;			   /* full URL, may carry a secret: never log it */
	char *log_url;			   /* the same URL with secrets removed, for logs */
	char *headers[UPLOAD_MAX_HEADERS]; /* "Name: value" */
	size_t n_headers;
	struct buf body; /* may carry a credential (Meta): never log it; wiped */
	long timeout_ms; /* 0 = the uploader's default */
};

/* Make *r an empty request (no URL, no headers, empty body).  Any thread. */
void upload_req_init(struct upload_req *r);

/* Wipe (sodium_memzero) and free the URL, the headers and the body, then
 * leave *r as upload_req_init does; a credential may sit in any of them. */
void upload_req_cleanup(struct upload_req *r);

/* Append one "Name: value" header built from fmt.  More than
 * UPLOAD_MAX_HEADERS is a destination bug and aborts. */
void upload_req_add_header(struct upload_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "POST" or "GET". */
const char *upload_method_name(enum upload_method m);

/* Whether r can be sent: a URL, a known method, and no body on a GET (a
 * destination bug: the body would be dropped silently).  0, or ERR_INVALID
 * with a message in e.  The uploader checks it on submit. */
int upload_req_check(const struct upload_req *r, struct err *e) WUR;

/* What came back.  Borrowed from the uploader for the duration of result(). */
struct upload_resp {
	bool transport_error; /* no HTTP answer: refused, reset, timeout, DNS */
	char transport_msg[256];
	long status;	  /* HTTP status when !transport_error */
	const char *body; /* NUL-terminated, may be empty */
	size_t body_len;
	long retry_after_s; /* Retry-After in seconds, -1 if absent */
	int64_t latency_ms;
};

#endif
