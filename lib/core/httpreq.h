/*
 * httpreq.h - an inbound HTTP request as sources see it: method, path,
 * headers and the exact raw body bytes.  Independent of evhttp so source
 * verifiers and parsers are pure functions that unit tests and fuzzers drive
 * directly.  The http layer builds one from an evhttp_request on the loop
 * thread; nothing here owns the strings it points at.
 */
#ifndef ADSENG_CORE_HTTPREQ_H
#define ADSENG_CORE_HTTPREQ_H

#include <stddef.h>
#include <stdint.h>

struct http_header {
	const char *name;
	const char *value;
};

struct http_req {
	const char *method;
	const char *path;
	const struct http_header *headers;
	size_t n_headers;
	const uint8_t *body;
	size_t body_len;
};

/* First header named `name` (ASCII case-insensitive), or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);

#endif
