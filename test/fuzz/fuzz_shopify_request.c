/*
 * fuzz_shopify_request - the outside input the HTTP loop hands to a source
 * before anything is stored: header values and the raw body through
 * verify (base64 decoding, HMAC, constant-time compare), dedup_key and
 * topic, and the event's source action.  Input:
 * "hmac\0webhook-id\0topic\0triggered-at\0body…"; an empty hmac is
 * replaced by the body's true signature, so the checks behind the HMAC
 * (the X-Shopify-Triggered-At window, against a default config) are
 * reached too.
 */
#include "core/config.h"
#include "sources/source.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct source_ops shopify_source_ops;

#define NOW_US 1795734251000000LL /* 2026-11-26T23:04:11Z */

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
	static const unsigned char secret[] = "fuzz-secret";
	static struct config *cfg;
	static int ready;
	char hmac[256], id[512], topic[256], at_hdr[256], dedup[SOURCE_DEDUP_MAX],
		t[SOURCE_TOPIC_MAX], key[SOURCE_CONTACT_KEY_MAX];
	struct http_header headers[4];
	struct source_ctx ctx = { .now_us = NOW_US };
	struct raw_event ev = { 0 };
	struct http_req req = { 0 };
	struct source src = { .n_secrets = 1, .ops = &shopify_source_ops };
	struct err e;
	size_t at = 0;

	if (!ready) {
		if (sodium_init() < 0 || config_load(NULL, &cfg, &e) != 0)
			return 0;
		ready = 1;
	}
	ctx.cfg = cfg;
	src.secret[0] = secret;
	src.secret_len[0] = sizeof(secret) - 1;
	at = take(data, size, at, hmac, sizeof(hmac));
	at = take(data, size, at, id, sizeof(id));
	at = take(data, size, at, topic, sizeof(topic));
	at = take(data, size, at, at_hdr, sizeof(at_hdr));
	if (hmac[0] == '\0') {
		unsigned char mac[crypto_auth_hmacsha256_BYTES];
		crypto_auth_hmacsha256_state st;

		crypto_auth_hmacsha256_init(&st, secret, sizeof(secret) - 1);
		crypto_auth_hmacsha256_update(&st, data + at, size - at);
		crypto_auth_hmacsha256_final(&st, mac);
		sodium_bin2base64(hmac, sizeof(hmac), mac, sizeof(mac),
				  sodium_base64_VARIANT_ORIGINAL);
	}
	headers[0] = (struct http_header){ "X-Shopify-Hmac-Sha256", hmac };
	headers[1] = (struct http_header){ "x-shopify-webhook-id", id };
	headers[2] = (struct http_header){ "X-SHOPIFY-TOPIC", topic };
	headers[3] = (struct http_header){ "X-Shopify-Triggered-At", at_hdr };
	req.method = "POST";
	req.headers = headers;
	req.n_headers = at_hdr[0] ? 4 : 3;
	req.body = data + at;
	req.body_len = size - at;
	(void)shopify_source_ops.verify(&src, &ctx, &req, &e);
	ev.topic = topic;
	ev.body = req.body;
	ev.body_len = req.body_len;
	if (shopify_source_ops.action(&ev, key) != SOURCE_ACTION_NONE &&
	    strnlen(key, sizeof(key)) >= sizeof(key))
		__builtin_trap();
	(void)shopify_source_ops.names(&ev, "5551234567890");
	if (shopify_source_ops.dedup_key(&req, dedup, sizeof(dedup), &e) == 0 &&
	    strlen(dedup) >= sizeof(dedup))
		__builtin_trap();
	shopify_source_ops.topic(&req, t, sizeof(t));
	if (strlen(t) >= sizeof(t))
		__builtin_trap();
	return 0;
}
