/*
 * fuzz_google_audience.c - libFuzzer target for what the Customer Match
 * code reads from Google: the answer classifier (Google's error body) and
 * the user list creation answer, with arbitrary bytes as the body under a
 * status picked from the first byte.
 *
 * Beyond the sanitizers it checks their contracts: a known result, a
 * terminated single-line message, and an id that is digits only and fits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "destinations/google_audience.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 200, 201, 400, 401, 403, 404, 408, 409, 429, 500, 503 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct audience_ops *ops = &google_audience_ops;
	struct upload_resp resp;
	struct err e = { 0 };
	char msg[256], id[16];
	enum audience_result r;
	char *body;

	if (size < 1)
		return 0;
	memset(&resp, 0, sizeof(resp));
	resp.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	resp.retry_after_s = -1;
	body = malloc(size);
	if (body == NULL)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	resp.body = body;
	resp.body_len = size - 1;
	r = ops->classify(&resp, msg, sizeof(msg));
	if (r > AUDIENCE_REJECTED || memchr(msg, '\0', sizeof(msg)) == NULL || strchr(msg, '\n') ||
	    strchr(msg, '\r'))
		abort();
	if (ops->parse_create_list(&resp, id, sizeof(id), &e) == 0 &&
	    (id[0] == '\0' || strspn(id, "0123456789") != strlen(id)))
		abort();
	free(body);
	return 0;
}
