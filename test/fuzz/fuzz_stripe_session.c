/*
 * fuzz_stripe_session.c - Stripe's answer to a Checkout or billing portal
 * session request (pipeline/stripe_session.c): the JSON body read for
 * the session's url and id, or for Stripe's error object, under any
 * status.  Input: first byte picks the status (200, 400, 401, 429, 500,
 * or a raw value), the rest is the body.
 */
#include "billing/stripe_session.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 201, 400, 401, 402, 403, 404, 429, 500, 503 };
	long status;
	char *body, *url = NULL, id[64];
	struct err e = { 0 };
	int rc;

	if (size == 0)
		return 0;
	status = data[0] < 10 ? statuses[data[0]] : (long)data[0] * 3;
	body = malloc(size);
	if (body == NULL)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	rc = billing_session_read(status, body, size - 1, &url, id, sizeof(id), &e);
	if (rc == 0 && (url == NULL || url[0] == '\0' || status < 200 || status > 299))
		abort();
	if (rc != 0 && (url != NULL || e.msg[0] == '\0'))
		abort();
	if (strlen(id) >= sizeof(id))
		abort();
	free(url);
	free(body);
	return 0;
}
