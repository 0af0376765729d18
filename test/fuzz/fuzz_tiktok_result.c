/*
 * fuzz_tiktok_result.c - libFuzzer target for the TikTok Events API
 * response classifier: arbitrary bytes as the response body, under a
 * status and batch size picked from the first two bytes.
 *
 * TikTok's errors ride on HTTP 200 (a non-zero "code"), so most seeds are
 * 200 answers.  Beyond what the sanitizers catch, it checks the
 * classifier's contract: exactly n outcomes, each of a kind TikTok can
 * produce (never DEAD, REAUTH or RESEND), with terminated, single-line
 * messages and codes, the same for the whole request, and no SPLIT for a
 * single event.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "destinations/dest.h"

extern const struct dest_ops tiktok_dest_ops;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_N 4

static const long statuses[] = { 200, 204, 302, 400, 401, 403, 404, 408, 429, 500, 503, 0 };

static void check(const struct outcome *o, size_t n, size_t i)
{
	if (o->kind > OUTCOME_PAUSE)
		abort();
	if (memchr(o->message, '\0', sizeof(o->message)) == NULL ||
	    memchr(o->platform_code, '\0', sizeof(o->platform_code)) == NULL)
		abort();
	if (strchr(o->message, '\n') || strchr(o->message, '\r'))
		abort();
	if (n == 1 && o->kind == OUTCOME_SPLIT)
		abort();
	if (i > 0 && o->kind != o[-1].kind)
		abort(); /* TikTok answers for the request as a whole */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conversion conv;
	struct conversion *convs[MAX_N] = { &conv, &conv, &conv, &conv };
	struct outcome out[MAX_N + 1];
	struct destination d;
	struct upload_resp resp;
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
	tiktok_dest_ops.result(&d, &resp, convs, n, out);
	for (size_t i = 0; i < n; i++)
		check(&out[i], n, i);
	if (((unsigned char *)&out[n])[0] != 0x5A)
		abort(); /* wrote past n */
	free(body);
	return 0;
}
