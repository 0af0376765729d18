/*
 * source.c - the registry of inbound platforms, and the HMAC-over-raw-body
 * check that Shopify and WooCommerce share.
 */
#include "sources/source.h"

#include <sodium.h>
#include <string.h>

extern const struct source_ops shopify_source_ops;
extern const struct source_ops woocommerce_source_ops;
extern const struct source_ops ghl_source_ops;

static const struct source_ops *const registry[] = {
	&shopify_source_ops,
	&woocommerce_source_ops,
	&ghl_source_ops,
};

const struct source_ops *source_ops_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		if (strcmp(registry[i]->kind, kind) == 0)
			return registry[i];
	}
	return NULL;
}

const struct source_ops *source_ops_at(size_t i)
{
	return i < sizeof(registry) / sizeof(registry[0]) ? registry[i] : NULL;
}

int source_unavailable_status(const struct source_ops *ops)
{
	if (ops == NULL || ops->unavailable_status == 0)
		return 503;
	return ops->unavailable_status;
}

bool source_secret_is_live(const struct source *src, int i, int64_t now_us)
{
	return src->secret_until_us[i] == 0 || now_us <= src->secret_until_us[i];
}

int source_verify_hmac_b64(const struct source *src, const struct source_ctx *ctx,
			   const char *header_value, const uint8_t *body, size_t body_len,
			   struct err *e)
{
	unsigned char given[crypto_auth_hmacsha256_BYTES + 4];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	size_t given_len = 0;
	const char *end = NULL;
	int result = ERR_AUTH;

	if (header_value == NULL || header_value[0] == '\0')
		return err_set(e, ERR_AUTH, "missing signature header");
	if (src->n_secrets <= 0)
		return err_set(e, ERR_AUTH, "source has no secret configured");
	/* Decode into a buffer larger than a MAC so an over-long value is seen
	 * as the wrong length rather than truncated into a match. */
	if (sodium_base642bin(given, sizeof(given), header_value, strlen(header_value), " \t",
			      &given_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    (end && *end != '\0')) {
		err_set(e, ERR_AUTH, "signature is not valid base64");
		goto out;
	}
	if (given_len != sizeof(mac)) {
		err_set(e, ERR_AUTH, "signature has length %zu, want %zu", given_len, sizeof(mac));
		goto out;
	}
	for (int i = 0; i < src->n_secrets; i++) {
		crypto_auth_hmacsha256_state st;

		/* A secret past its overlap is as good as gone; without a
		 * clock (ctx NULL) only secrets without an end are live. */
		if (!source_secret_is_live(src, i, ctx ? ctx->now_us : INT64_MAX))
			continue;
		crypto_auth_hmacsha256_init(&st, src->secret[i], src->secret_len[i]);
		crypto_auth_hmacsha256_update(&st, body, body_len);
		crypto_auth_hmacsha256_final(&st, mac);
		if (sodium_memcmp(mac, given, sizeof(mac)) == 0) {
			result = 0;
			goto out;
		}
	}
	err_set(e, ERR_AUTH, "signature does not match");
out:
	sodium_memzero(mac, sizeof(mac));
	return result;
}
