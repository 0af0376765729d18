/*
 * fuzz_google_dm_result.c - libFuzzer target for the two parsers of Data
 * Manager answers: the events:ingest classifier (Google's error object with
 * its field violations) and the requestStatus:retrieve parser and summary.
 *
 * Byte 0 picks the parser (even: ingest answer, odd: request status) and,
 * for the ingest answer, the HTTP status; byte 1 the batch size and
 * Retry-After.  Beyond what the sanitizers catch it checks the contracts:
 * exactly n outcomes of known kinds with terminated one-line texts; a
 * request id only on delivered outcomes and only of the pollable shape;
 * RESEND only beside a FAILED event of a 400; a parse error leaves an empty
 * status; the summary is one terminated line; the status_parse hook gives
 * a known state and one-line texts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "destinations/dest.h"
#include "destinations/google_datamanager.h"

extern const struct dest_ops google_datamanager_dest_ops;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_N 6

static const long statuses[] = { 200, 400, 400, 400, 401, 403, 404, 408, 429, 500, 503, 302 };

static void check_text(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL || strchr(s, '\n') || strchr(s, '\r'))
		abort();
}

static void check_outcomes(const struct upload_resp *resp, const struct outcome *out, size_t n)
{
	bool failed = false, resend = false;

	for (size_t i = 0; i < n; i++) {
		const struct outcome *o = &out[i];

		if (o->kind > OUTCOME_RESEND)
			abort();
		check_text(o->message, sizeof(o->message));
		check_text(o->platform_code, sizeof(o->platform_code));
		check_text(o->request_id, sizeof(o->request_id));
		if (o->request_id[0] &&
		    (o->kind != OUTCOME_DELIVERED || strchr(o->request_id, ' ')))
			abort();
		failed |= o->kind == OUTCOME_FAILED;
		resend |= o->kind == OUTCOME_RESEND;
	}
	if (resend && (!failed || resp->status != 400 || resp->transport_error))
		abort();
}

static void fuzz_ingest(const uint8_t *data, const char *body, size_t len)
{
	static struct conversion conv;
	struct conversion *convs[MAX_N] = { &conv, &conv, &conv, &conv, &conv, &conv };
	struct outcome out[MAX_N + 1];
	struct destination d;
	struct upload_resp resp;
	size_t n = (size_t)(data[1] % MAX_N) + 1;

	memset(&d, 0, sizeof(d));
	memset(&resp, 0, sizeof(resp));
	resp.transport_error = data[0] == 0xFE;
	resp.status = statuses[(data[0] >> 1) % (sizeof(statuses) / sizeof(statuses[0]))];
	resp.retry_after_s = (data[1] & 0x80) ? -1 : data[1];
	resp.body = body;
	resp.body_len = len;
	memset(out, 0x5A, sizeof(out));
	google_datamanager_dest_ops.result(&d, &resp, convs, n, out);
	check_outcomes(&resp, out, n);
	if (((unsigned char *)&out[n])[0] != 0x5A)
		abort(); /* wrote past n */
}

/* The ops hook around the parser: the whole answer to the status query. */
static void fuzz_status_hook(const uint8_t *data, const char *body, size_t len)
{
	struct dest_request_status st;
	struct upload_resp resp;

	memset(&resp, 0, sizeof(resp));
	resp.transport_error = data[1] == 0xFF;
	resp.status = statuses[data[1] % (sizeof(statuses) / sizeof(statuses[0]))];
	resp.body = body;
	resp.body_len = len;
	memset(&st, 0x5A, sizeof(st));
	google_datamanager_dest_ops.status_parse(&resp, &st);
	if (st.state > DEST_REQ_GONE)
		abort();
	check_text(st.status, sizeof(st.status));
	check_text(st.summary, sizeof(st.summary));
}

static void fuzz_status(const uint8_t *data, const char *body, size_t len)
{
	struct gdm_status st;
	struct err e;
	char line[160];

	fuzz_status_hook(data, body, len);

	if (gdm_parse_status(body, len, &st, &e) != 0) {
		if (st.n_errors != 0 || st.status != GDM_UNKNOWN || st.record_count != -1)
			abort();
	}
	if (st.n_errors > GDM_MAX_ERROR_REASONS || st.status > GDM_FAILED)
		abort();
	for (size_t i = 0; i < st.n_errors; i++) {
		check_text(st.errors[i].reason, sizeof(st.errors[i].reason));
		if (st.errors[i].records < 0)
			abort();
	}
	gdm_status_summary(&st, line, sizeof(line));
	check_text(line, sizeof(line));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body;

	if (size < 2)
		return 0;
	body = malloc(size - 2 + 1);
	if (body == NULL)
		return 0;
	memcpy(body, data + 2, size - 2);
	body[size - 2] = '\0';
	if (data[0] & 1)
		fuzz_status(data, body, size - 2);
	else
		fuzz_ingest(data, body, size - 2);
	free(body);
	return 0;
}
