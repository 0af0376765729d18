/*
 * fuzz_shopify_parse.c - libFuzzer target: arbitrary body bytes through the
 * Shopify parser, as orders/create and as checkouts/create, with the shop
 * domain known.  Whatever it produces must survive conv_to_json →
 * conv_from_json, the round trip through the database.  The same bytes
 * also go through the adjust hook as orders/updated and refunds/create:
 * an error appends nothing, and every reported change names a conversion
 * and carries a non-negative decimal amount (what stage 1 hands to
 * PostgreSQL as numeric).
 */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/conversion.h"
#include "core/text.h"
#include "sources/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct source_ops shopify_source_ops;

static void check_round_trip(const struct conversion *c)
{
	cJSON *j = conv_to_json(c);
	struct conversion *back = NULL;
	struct err e;

	if (j == NULL)
		abort();
	if (conv_from_json(j, &back, &e) != 0)
		abort(); /* a parser produced something the store cannot read */
	conv_free(back);
	cJSON_Delete(j);
}

static void check_adjust(const uint8_t *data, size_t size, const char *topic)
{
	struct raw_event ev = {
		.id = 1,
		.source_id = "00000000-0000-0000-0000-000000000001",
		.topic = topic,
		.body = data,
		.body_len = size,
		.received_us = 1795734251000000LL,
	};
	struct source_adjust_list l;
	struct err e;

	source_adjust_list_init(&l);
	if (shopify_source_ops.adjust(&ev, &l, &e) != 0) {
		if (l.n != 0)
			abort(); /* an error must append nothing */
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct source_adjustment *a = &l.v[i];

		if (a->event_id == NULL || !text_is_decimal(a->amount) || a->amount[0] == '-' ||
		    (a->key && !text_is_utf8(a->key)) || (a->reason && !text_is_utf8(a->reason)))
			abort();
	}
	source_adjust_list_cleanup(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const topics[] = { "orders/create", "checkouts/create" };
	static int inited;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		inited = 1;
	}
	for (size_t t = 0; t < 2; t++) {
		struct raw_event ev = {
			.id = 1,
			.source_id = "00000000-0000-0000-0000-000000000001",
			.topic = topics[t],
			.headers_json =
				"{\"X-Shopify-Shop-Domain\":\"shop.example.myshopify.com\"}",
			.body = data,
			.body_len = size,
			.received_us = 1795734251000000LL,
		};
		struct conv_list l;
		struct err e;

		conv_list_init(&l);
		if (shopify_source_ops.parse(&ev, &l, &e) == 0) {
			for (size_t i = 0; i < l.n; i++)
				check_round_trip(l.v[i]);
		} else if (l.n != 0) {
			abort(); /* an error must append nothing */
		}
		conv_list_cleanup(&l);
	}
	check_adjust(data, size, "orders/updated");
	check_adjust(data, size, "refunds/create");
	return 0;
}
