/*
 * source.h - what every inbound platform (Shopify, WooCommerce, GHL, …)
 * provides: signature verification over the raw request, the dedup key and
 * topic the ingest path stores, and a parser from a stored raw event to
 * canonical conversions.
 *
 * All four are pure functions (no database, no network, no globals), so the
 * HTTP loop can call verify/dedup_key/topic without blocking, and unit
 * tests and fuzzers can drive every one of them.  Adding a platform is one
 * file defining a `const struct source_ops` plus one line in source.c.
 */
#ifndef ADSENG_SOURCES_SOURCE_H
#define ADSENG_SOURCES_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/conversion.h"
#include "core/err.h"
#include "core/httpreq.h"

#define SOURCE_MAX_SECRETS 2
#define SOURCE_DEDUP_MAX   256
#define SOURCE_TOPIC_MAX   128

/* A configured source as the daemon holds it (secrets decrypted). */
struct source {
	char id[37]; /* uuid, as text */
	int64_t tenant_id;
	char kind[32];
	bool enabled;
	/* Up to two secrets during rotation; each points into sodium_malloc
	 * memory owned by whoever built the struct (the source cache). */
	const unsigned char *secret[SOURCE_MAX_SECRETS];
	size_t secret_len[SOURCE_MAX_SECRETS];
	int n_secrets;
	const struct source_ops *ops;
};

/* A stored webhook, as stage 1 hands it to a parser.  Borrowed pointers. */
struct raw_event {
	int64_t id;
	const char *source_id;
	const char *topic;
	const char *headers_json; /* object of the stored headers; may be NULL */
	const uint8_t *body;
	size_t body_len;
	int64_t received_us;
};

struct source_ops {
	const char *kind; /* "shopify" */
	/* 0 if the request is authentic, ERR_AUTH with a reason otherwise. */
	int (*verify)(const struct source *src, const struct http_req *req, struct err *e);
	/* The per-source dedup key of this delivery (NUL-terminated, at most
	 * SOURCE_DEDUP_MAX bytes with the NUL).  0 or ERR_INVALID. */
	int (*dedup_key)(const struct http_req *req, char *out, size_t outlen, struct err *e);
	/* The topic/event type (e.g. "orders/create"); "" when none. */
	void (*topic)(const struct http_req *req, char *out, size_t outlen);
	/* Request headers worth storing with the raw event (NULL-terminated,
	 * case-insensitive names). */
	const char *const *stored_headers;
	/*
	 * Parse a stored raw event into zero or more conversions appended to
	 * out (which owns them).  0 with nothing appended = the topic is not a
	 * conversion (the raw event is marked ignored); ERR_INVALID with a
	 * message = the body is unusable (marked error, kept for reprocess).
	 */
	int (*parse)(const struct raw_event *ev, struct conv_list *out, struct err *e);
};

/* The ops for a kind ("shopify"), or NULL. */
const struct source_ops *source_ops_find(const char *kind);

/*
 * Shared helper for HMAC-SHA256 webhook signatures sent as standard base64
 * (Shopify, WooCommerce): decodes the header and compares it in constant
 * time against HMAC(secret, body) for each of the source's secrets.
 * 0 on a match, ERR_AUTH otherwise (missing, malformed, wrong length, or no
 * secret matches).
 */
int source_verify_hmac_b64(const struct source *src, const char *header_value, const uint8_t *body,
			   size_t body_len, struct err *e) WUR;

#endif
