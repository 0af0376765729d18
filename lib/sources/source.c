/*
 * source.c - the registry of inbound platforms (by kind and by own route),
 * the HMAC-over-raw-body check that Shopify and WooCommerce share, and the
 * per-item verdicts of requests that carry several events.
 */
#include "sources/source.h"
#include "core/config.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct source_ops shopify_source_ops;
extern const struct source_ops woocommerce_source_ops;
extern const struct source_ops ghl_source_ops;
extern const struct source_ops events_api_source_ops;
extern const struct source_ops stripe_source_ops;

static const struct source_ops *const registry[] = {
	&shopify_source_ops,	&woocommerce_source_ops, &ghl_source_ops,
	&events_api_source_ops, &stripe_source_ops,
};

const struct source_ops *source_ops_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		if (strcmp(registry[i]->kind, kind) == 0)
			return registry[i];
	}
	return NULL;
}

void source_register_config_keys(void)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		for (size_t j = 0; j < registry[i]->n_config_keys; j++)
			config_add_platform_key(&registry[i]->config_keys[j]);
	}
}

const struct source_ops *source_ops_at(size_t i)
{
	return i < sizeof(registry) / sizeof(registry[0]) ? registry[i] : NULL;
}

static bool topic_listed(const char *const *list, const char *topic)
{
	for (size_t i = 0; list && list[i]; i++) {
		if (strcmp(list[i], topic) == 0)
			return true;
	}
	return false;
}

bool source_takes_when_disabled(const struct source_ops *ops, const struct http_req *req)
{
	char topic[SOURCE_TOPIC_MAX];

	if (ops == NULL || ops->disabled_topics == NULL || ops->topic == NULL)
		return false;
	ops->topic(req, topic, sizeof(topic));
	return topic[0] != '\0' && topic_listed(ops->disabled_topics, topic);
}

bool source_disabled_topics_literal(char *out, size_t outlen)
{
	size_t at = 0;
	int n;

	n = snprintf(out, outlen, "{");
	at = (size_t)n;
	for (size_t k = 0; k < sizeof(registry) / sizeof(registry[0]); k++) {
		const char *const *t = registry[k]->disabled_topics;

		for (size_t i = 0; t && t[i]; i++) {
			/* Topics are plain tokens (no quote, backslash or
			 * comma): quoting them is enough. */
			n = snprintf(out + at, outlen - at, "%s\"%s\"", at > 1 ? "," : "", t[i]);
			if (n < 0 || (size_t)n >= outlen - at) {
				snprintf(out, outlen, "{}");
				return false;
			}
			at += (size_t)n;
		}
	}
	if (at + 2 > outlen) {
		snprintf(out, outlen, "{}");
		return false;
	}
	memcpy(out + at, "}", 2);
	return true;
}

const struct source_ops *source_ops_find_route(const char *path, const char **rest)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		const char *route = registry[i]->route;

		if (route && strncmp(path, route, strlen(route)) == 0) {
			*rest = path + strlen(route);
			return registry[i];
		}
	}
	return NULL;
}

void source_items_cleanup(struct source_items *items)
{
	for (size_t i = 0; i < items->n; i++) {
		free(items->v[i].key);
		free(items->v[i].error);
	}
	free(items->v);
	items->v = NULL;
	items->n = 0;
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
