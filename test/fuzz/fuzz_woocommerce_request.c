/*
 * fuzz_woocommerce_request.c - the outside input the HTTP loop hands to the
 * WooCommerce source before anything is stored: the ping check, verify
 * (base64, HMAC, constant-time compare), the dedup key (which parses the
 * body) and the topic.  Input: "signature\0topic\0body…"; an empty
 * signature means no signature header at all (the ping's case).
 */
#include "sources/source.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct source_ops woocommerce_source_ops;

static const struct source_ctx fuzz_ctx = { .cfg = NULL, .now_us = 1800000000000000LL };

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

/* What answer_unstored may let through unverified: the ping, nothing else. */
static void check_ping(const struct http_req *req, const struct source_answer *ans)
{
	if (req->body_len < 12 || memcmp(req->body, "webhook_id=", 11) != 0 ||
	    http_req_header(req, "X-WC-Webhook-Signature") != NULL || ans->status != 200)
		abort();
	for (size_t i = 11; i < req->body_len; i++) {
		if (req->body[i] < '0' || req->body[i] > '9')
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char secret[] = "fuzz-secret";
	static int ready;
	char sig[256], topic[256], dedup[SOURCE_DEDUP_MAX], t[SOURCE_TOPIC_MAX];
	struct http_header headers[2];
	struct http_req req = { 0 };
	struct source src = { .n_secrets = 1, .ops = &woocommerce_source_ops };
	struct source_answer ans = { 0 };
	struct err e;
	size_t at = 0;

	if (!ready) {
		if (sodium_init() < 0)
			return 0;
		ready = 1;
	}
	src.secret[0] = secret;
	src.secret_len[0] = sizeof(secret) - 1;
	at = take(data, size, at, sig, sizeof(sig));
	at = take(data, size, at, topic, sizeof(topic));
	headers[0] = (struct http_header){ "x-wc-webhook-topic", topic };
	headers[1] = (struct http_header){ "X-WC-Webhook-Signature", sig };
	req.method = "POST";
	req.headers = headers;
	req.n_headers = sig[0] ? 2 : 1;
	req.body = data + at;
	req.body_len = size - at;
	if (woocommerce_source_ops.answer_unstored(&src, &req, &ans))
		check_ping(&req, &ans);
	(void)woocommerce_source_ops.verify(&src, &fuzz_ctx, &req, &e);
	if (woocommerce_source_ops.dedup_key(&req, dedup, sizeof(dedup), &e) == 0 &&
	    strlen(dedup) >= sizeof(dedup))
		abort();
	woocommerce_source_ops.topic(&req, t, sizeof(t));
	if (strlen(t) >= sizeof(t))
		abort();
	return 0;
}
