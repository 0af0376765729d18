/*
 * fuzz_events_api.c - the server-side events API's outside input: the
 * Bearer check (Authorization header), the body's shape and every item's
 * check as the HTTP loop runs them, the answer built from the verdicts,
 * and the parse of the stored request.  Input: "authorization\0body…".
 *
 * Beyond not crashing, it checks the property the design rests on: the
 * items the receipt finds valid are exactly the items stage 1 converts
 * (every one of them, with the same event_id), and the answer is JSON with
 * one result per item.
 */
#include "sources/source.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct source_ops events_api_source_ops;
#define OPS events_api_source_ops

static const struct source_ctx fuzz_ctx = { .cfg = NULL, .now_us = 1800000000000000LL };

/* The parse of the stored request sees the valid positions as new (the
 * duplicates among them are the database's call, not the parser's). */
static void check_parse(const struct http_req *req, const struct source_items *items)
{
	int32_t *pos = calloc(items->n ? items->n : 1, sizeof(*pos));
	struct raw_event ev = { .id = 1,
				.topic = "events",
				.body = req->body,
				.body_len = req->body_len,
				.received_us = fuzz_ctx.now_us,
				.has_items = true,
				.items_new = pos };
	struct conv_list l;
	struct err e = { 0 };

	if (pos == NULL)
		abort();
	for (size_t k = 0; k < items->n; k++) {
		if (items->v[k].key)
			pos[ev.n_items_new++] = (int32_t)k;
	}
	conv_list_init(&l);
	if (OPS.parse(&ev, &l, &e) != 0 || l.n != ev.n_items_new)
		abort();
	for (size_t k = 0; k < l.n; k++) {
		if (strcmp(l.v[k]->event_id, items->v[pos[k]].key) != 0)
			abort();
	}
	conv_list_cleanup(&l);
	free(pos);
}

static void check_answer(struct source_items *items)
{
	char *text;
	cJSON *j;

	for (size_t k = 0; k < items->n; k++) {
		/* a key xor an error */
		if ((items->v[k].key == NULL) == (items->v[k].error == NULL))
			abort();
		items->v[k].status = items->v[k].key
					     ? (k % 2 ? SOURCE_ITEM_DUPLICATE : SOURCE_ITEM_NEW)
					     : SOURCE_ITEM_INVALID;
	}
	text = OPS.items_answer(items);
	j = text ? cJSON_Parse(text) : NULL;
	if (j == NULL || (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(j, "results")) != items->n)
		abort();
	cJSON_Delete(j);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[] = "ak_fuzz_key_0123456789abcdefghijklmnopqrstuv";
	static int ready;
	char auth[256];
	struct http_header header;
	struct http_req req = { 0 };
	struct source src = { .n_secrets = 1, .ops = &OPS };
	struct source_items items = { 0 };
	struct err e;
	size_t at = 0, n = 0;

	if (!ready) {
		if (sodium_init() < 0)
			return 0;
		ready = 1;
	}
	src.secret[0] = key;
	src.secret_len[0] = sizeof(key) - 1;
	while (at < size && data[at] != 0 && n + 1 < sizeof(auth))
		auth[n++] = (char)data[at++];
	auth[n] = '\0';
	while (at < size && data[at] != 0)
		at++;
	at = at < size ? at + 1 : at;
	header = (struct http_header){ "Authorization", auth };
	req.method = "POST";
	req.headers = &header;
	req.n_headers = 1;
	req.body = data + at;
	req.body_len = size - at;
	(void)OPS.verify(&src, &fuzz_ctx, &req, &e);
	if (OPS.items(&fuzz_ctx, &req, &items, &e) != 0) {
		if (items.n != 0 || items.v != NULL)
			abort();
		return 0;
	}
	if (items.n < 1 || items.n > 1000)
		abort();
	check_parse(&req, &items);
	check_answer(&items);
	source_items_cleanup(&items);
	return 0;
}
