/*
 * fuzz_shopify_parse.c - libFuzzer target: arbitrary body bytes through the
 * Shopify parser, as orders/create, checkouts/create and the customer and
 * privacy topics, with the shop domain known, and through the customer
 * hooks (contact, names, action).  Whatever it produces must survive
 * conv_to_json → conv_from_json, the round trip through the database.  The
 * same bytes also go through the adjust hook as orders/updated and
 * refunds/create: an error appends nothing, and every reported change
 * names a conversion and carries a non-negative decimal amount (what
 * stage 1 hands to PostgreSQL as numeric).
 */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/conversion.h"
#include "fuzzutil.h"
#include "core/text.h"
#include "pipeline/contacts.h"
#include "sources/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct source_ops shopify_source_ops;

/* The customer hooks (shopify_customer.c): a key that fits, a record that
 * survives the source_contacts round trip, an action key only with a person action. */
static void check_customer(const struct raw_event *ev)
{
	struct source_contact sc = { 0 };
	char key[SOURCE_CONTACT_KEY_MAX];
	enum source_action a;

	shopify_source_ops.contact(ev, &sc);
	if (strnlen(sc.key, sizeof(sc.key)) >= sizeof(sc.key) || (sc.known && sc.key[0] == '\0'))
		abort();
	if (sc.known) {
		/* what source_contacts stores must read back (contacts.c) */
		char *flat = contacts_flatten(sc.known);
		struct conversion *back = contacts_unflatten(flat);

		if (back == NULL)
			abort();
		conv_free(back);
		cJSON_free(flat);
	}
	if (sc.key[0] && !shopify_source_ops.names(ev, sc.key))
		abort(); /* a record names its own customer */
	conv_free(sc.known);
	a = shopify_source_ops.action(ev, key);
	if ((a == SOURCE_ACTION_REDACT_PERSON || a == SOURCE_ACTION_DATA_REQUEST) !=
	    (key[0] != '\0'))
		abort();
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
	static const char *const topics[] = { "orders/create", "checkouts/create",
					      "customers/create", "customers/redact",
					      "customers/data_request" };
	static int inited;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		inited = 1;
	}
	for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++) {
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
				fuzz_check_round_trip(l.v[i]);
		} else if (l.n != 0) {
			abort(); /* an error must append nothing */
		}
		conv_list_cleanup(&l);
		check_customer(&ev);
	}
	check_adjust(data, size, "orders/updated");
	check_adjust(data, size, "refunds/create");
	return 0;
}
