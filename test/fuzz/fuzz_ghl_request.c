/*
 * fuzz_ghl_request.c - the outside input the HTTP loop hands to the
 * GoHighLevel source before anything is stored: verify (both signature
 * headers: base64, Ed25519 through libsodium, RSA through OpenSSL, then the
 * body's timestamp and location), the dedup key and the topic (which parse
 * the body).  Input: "x-ghl-signature\0x-wh-signature\0body…"; an empty
 * value means the header is absent.  Nothing random can be signed by the
 * published keys, so verify must refuse every input.
 */
#include "sources/source.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct source_ops ghl_source_ops;

static const struct source_ctx fuzz_ctx = { .cfg = NULL, .now_us = 1795685401120000LL };

/* Next NUL-terminated piece of the input, copied into out. */
static size_t take(const uint8_t *data, size_t size, size_t at, char *out, size_t outlen)
{
	size_t n = 0;

	while (at < size && data[at] != 0 && n + 1 < outlen)
		out[n++] = (char)data[at++];
	out[n] = '\0';
	while (at < size && data[at] != 0)
		at++;
	return at < size ? at + 1 : at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char ed[1200], rsa[1200], dedup[SOURCE_DEDUP_MAX], t[SOURCE_TOPIC_MAX];
	struct http_header headers[2];
	struct http_req req = { 0 };
	struct source src = { .ops = &ghl_source_ops,
			      .settings_json = "{\"location_id\":\"ve9EPM428h8vShlRW1KT\"}" };
	struct err e;
	size_t at = 0, n = 0;

	if (!ready) {
		if (sodium_init() < 0)
			return 0;
		ready = 1;
	}
	at = take(data, size, at, ed, sizeof(ed));
	at = take(data, size, at, rsa, sizeof(rsa));
	if (ed[0])
		headers[n++] = (struct http_header){ "X-GHL-Signature", ed };
	if (rsa[0])
		headers[n++] = (struct http_header){ "x-wh-signature", rsa };
	req.method = "POST";
	req.headers = headers;
	req.n_headers = n;
	req.body = data + at;
	req.body_len = size - at;
	if (ghl_source_ops.verify(&src, &fuzz_ctx, &req, &e) == 0)
		abort(); /* a forgery against HighLevel's published keys */
	if (ghl_source_ops.dedup_key(&req, dedup, sizeof(dedup), &e) == 0 &&
	    strlen(dedup) >= sizeof(dedup))
		abort();
	ghl_source_ops.topic(&req, t, sizeof(t));
	if (strlen(t) >= sizeof(t))
		abort();
	return 0;
}
