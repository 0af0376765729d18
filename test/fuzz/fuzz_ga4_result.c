/*
 * fuzz_ga4_result.c - libFuzzer target for the GA4 / sGTM response
 * classifier, including the validation server's answer
 * ({"validationMessages":[…]}) that a ga4 destination in test mode reads.
 *
 * The first byte picks the status and the kind (ga4 in test mode, ga4,
 * sgtm), the second the batch size; the rest is the body.  Beyond what the
 * sanitizers catch, it checks the classifier's contract: exactly n
 * outcomes, each of a kind these platforms can produce (delivered, retry,
 * failed), with terminated single-line messages, the same kind for the
 * whole request, and never a retry for a 4xx from GA4.  The same body
 * also goes through validation sampling's reader (check_result), which
 * names failed events by the index in GA4's description.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "destinations/dest.h"

extern const struct dest_ops ga4_dest_ops;
extern const struct dest_ops sgtm_dest_ops;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_N 4

static const long statuses[] = { 200, 204, 302, 400, 403, 404, 408, 429, 500, 503 };

static void check(const struct outcome *o, size_t i)
{
	if (o->kind != OUTCOME_DELIVERED && o->kind != OUTCOME_RETRY && o->kind != OUTCOME_FAILED)
		abort();
	if (memchr(o->message, '\0', sizeof(o->message)) == NULL ||
	    memchr(o->platform_code, '\0', sizeof(o->platform_code)) == NULL)
		abort();
	if (strchr(o->message, '\n') || strchr(o->message, '\r'))
		abort();
	if (i > 0 && o->kind != o[-1].kind)
		abort(); /* one answer for the request as a whole */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conversion *conv;
	struct conversion *convs[MAX_N];
	struct outcome out[MAX_N + 1];
	struct destination d;
	struct upload_resp resp;
	size_t n, ns = sizeof(statuses) / sizeof(statuses[0]);
	char *body;
	int mode;

	if (size < 2)
		return 0;
	memset(&d, 0, sizeof(d));
	memset(&resp, 0, sizeof(resp));
	mode = (data[0] / ns) % 3;
	d.ops = mode == 2 ? &sgtm_dest_ops : &ga4_dest_ops;
	d.test_mode = mode == 0;
	resp.transport_error = data[0] == 0xFF;
	resp.status = statuses[data[0] % ns];
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
	conv = conv_new();
	conv->order_id = strdup("1001"); /* a derived client id: the longest message */
	for (size_t i = 0; i < MAX_N; i++)
		convs[i] = conv;

	memset(out, 0x5A, sizeof(out));
	d.ops->result(&d, &resp, convs, n, out);
	for (size_t i = 0; i < n; i++)
		check(&out[i], i);
	if (((unsigned char *)&out[n])[0] != 0x5A)
		abort(); /* wrote past n */
	if (!resp.transport_error && d.ops == &ga4_dest_ops && resp.status < 500 &&
	    out[0].kind == OUTCOME_RETRY)
		abort(); /* GA4 retries only 5xx and transport errors */
	/* Validation sampling's reader: go (delivered) or failed, per event. */
	if (d.ops->check_result) {
		memset(out, 0x5A, sizeof(out));
		d.ops->check_result(&d, &resp, convs, n, out);
		for (size_t i = 0; i < n; i++) {
			if (out[i].kind != OUTCOME_DELIVERED && out[i].kind != OUTCOME_FAILED)
				abort();
			if (memchr(out[i].message, '\0', sizeof(out[i].message)) == NULL ||
			    strchr(out[i].message, '\n'))
				abort();
		}
		if (((unsigned char *)&out[n])[0] != 0x5A)
			abort();
	}
	conv_free(conv);
	free(body);
	return 0;
}
