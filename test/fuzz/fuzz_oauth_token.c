/*
 * fuzz_oauth_token.c - libFuzzer target for the OAuth2 token endpoint's
 * answer (core/oauth_grant.h oauth_token_parse): arbitrary bytes as the
 * body under a status picked from the first byte.
 *
 * Beyond what the sanitizers catch, it checks the contract: 0 only with a
 * non-empty access token and a positive lifetime, nothing left allocated
 * on failure, and messages that are terminated single lines.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/oauth_grant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 200, 400, 401, 403, 429, 500, 503, 0 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upload_resp resp = { .retry_after_s = -1 };
	struct oauth_token t;
	struct err e = { 0 };
	char *body;
	int rc;

	if (size < 1)
		return 0;
	resp.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	resp.transport_error = resp.status == 0;
	body = malloc(size);
	if (body == NULL)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	resp.body = body;
	resp.body_len = size - 1;
	rc = oauth_token_parse(&resp, &t, &e);
	if (rc == 0 && (t.access_token == NULL || t.access_token[0] == '\0' || t.expires_in_s < 1))
		abort();
	if (rc != 0 && (t.access_token || t.refresh_token || t.scope))
		abort();
	if (rc != 0 && (memchr(e.msg, '\0', sizeof(e.msg)) == NULL || strchr(e.msg, '\n')))
		abort();
	oauth_token_cleanup(&t);
	free(body);
	return 0;
}
