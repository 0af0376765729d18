/*
 * fuzz_stripe_signature.c - the outside input the HTTP loop hands to the
 * Stripe source before anything is stored: the Stripe-Signature header
 * (parse and verify: hex, the timestamp, the HMAC and its constant-time
 * compares), the dedup key and topic (which parse the body), and the event
 * reader stage 1 runs on a stored body.  Input: "header\0body…".
 */
#include "sources/source.h"
#include "sources/stripe.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct source_ops stripe_source_ops;

#define PLANS "price_a:starter, price_b : professional"

static void check_sig(const char *header, const uint8_t *body, size_t len)
{
	static const unsigned char secret[] = "whsec_fuzz";
	struct stripe_sig sig;
	struct err e = { 0 };

	if (stripe_sig_parse(header, &sig, &e) == 0) {
		if (sig.n_v1 == 0 || sig.n_v1 > STRIPE_MAX_V1 || sig.t < 0)
			abort();
	}
	/* A fuzzer does not forge HMAC-SHA256: any acceptance is a bug. */
	if (stripe_sig_verify(header, body, len, secret, sizeof(secret) - 1, 1800000000, 300, &e) ==
	    0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const uint8_t *nul = memchr(data, 0, size);
	size_t hlen = nul ? (size_t)(nul - data) : size;
	const uint8_t *body = nul ? nul + 1 : data + size;
	size_t blen = nul ? size - hlen - 1 : 0;
	char *header = malloc(hlen + 1);
	struct http_header h = { "Stripe-Signature", header };
	struct http_req req = { .method = "POST", .headers = &h, .n_headers = 1 };
	char key[SOURCE_DEDUP_MAX], topic[SOURCE_TOPIC_MAX];
	struct billing_change c;
	struct err e = { 0 };

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = 1;
	}
	if (header == NULL)
		return 0;
	memcpy(header, data, hlen);
	header[hlen] = '\0';
	req.body = body;
	req.body_len = blen;
	check_sig(header, body, blen);
	if (stripe_source_ops.dedup_key(&req, key, sizeof(key), &e) == 0 &&
	    strlen(key) >= sizeof(key))
		abort();
	stripe_source_ops.topic(&req, topic, sizeof(topic));
	if (stripe_event_read(body, blen, PLANS, &c, &e) == 0 && c.event_id[0] == '\0')
		abort();
	free(header);
	return 0;
}
