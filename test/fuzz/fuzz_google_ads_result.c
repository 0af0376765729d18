/*
 * fuzz_google_ads_result.c - libFuzzer target for the Google Ads API
 * response classifier (partial failure rows and whole-request errors) and
 * the conversion action answer parser: arbitrary bytes as the response
 * body, under a status and batch size picked from the first two bytes.
 *
 * Beyond what the sanitizers catch, it checks the classifier's contract:
 * exactly n outcomes (nothing written past them), each of a known kind,
 * with terminated single-line messages and codes, never SPLIT for a
 * single conversion, and RETRY delays that are -1 or non-negative.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "destinations/google_ads.h"

extern const struct dest_ops google_ads_dest_ops;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_N 6

static const long statuses[] = { 200, 204, 302, 400, 401, 403, 404, 408, 429, 500, 503, 0 };

static void check(const struct outcome *o, size_t n)
{
	if (o->kind > OUTCOME_RESEND)
		abort();
	if (memchr(o->message, '\0', sizeof(o->message)) == NULL ||
	    memchr(o->platform_code, '\0', sizeof(o->platform_code)) == NULL)
		abort();
	if (strchr(o->message, '\n') || strchr(o->message, '\r') || strchr(o->platform_code, '\n'))
		abort();
	if (n == 1 && o->kind == OUTCOME_SPLIT)
		abort();
	if (o->retry_after_s < -1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conversion conv;
	struct conversion *convs[MAX_N] = { &conv, &conv, &conv, &conv, &conv, &conv };
	struct outcome out[MAX_N + 1];
	struct destination d;
	struct upload_resp resp;
	struct err e = { 0 };
	char id[24], rn[128];
	size_t n;
	char *body;

	if (size < 2)
		return 0;
	memset(&d, 0, sizeof(d));
	memset(&resp, 0, sizeof(resp));
	resp.transport_error = data[0] == 0xFF;
	resp.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	resp.retry_after_s = (data[1] & 0x80) ? -1 : data[1];
	n = (size_t)(data[1] % MAX_N) + 1;
	size -= 2;
	body = malloc(size + 1);
	if (body == NULL)
		return 0;
	memcpy(body, data + 2, size);
	body[size] = '\0';
	resp.body = body;
	resp.body_len = size;
	memcpy(resp.transport_msg, body, size < sizeof(resp.transport_msg) ? size : 0);

	memset(out, 0x5A, sizeof(out));
	google_ads_dest_ops.result(&d, &resp, convs, n, out);
	for (size_t i = 0; i < n; i++)
		check(&out[i], n);
	if (((unsigned char *)&out[n])[0] != 0x5A)
		abort(); /* wrote past n */
	if (google_ads_parse_conversion_action(&resp, id, rn, &e) == 0 &&
	    (memchr(id, '\0', sizeof(id)) == NULL || id[0] == '\0'))
		abort();
	free(body);
	return 0;
}
