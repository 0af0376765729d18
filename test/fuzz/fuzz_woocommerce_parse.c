/*
 * fuzz_woocommerce_parse.c - libFuzzer target: arbitrary body bytes through
 * the WooCommerce parser as order.updated, once without settings and once
 * with configured click meta keys.  Whatever it produces must survive
 * conv_to_json → conv_from_json, the round trip through the database, and
 * be at most the one purchase of the order.
 */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/conversion.h"
#include "fuzzutil.h"
#include "sources/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct source_ops woocommerce_source_ops;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const settings[] = {
		NULL,
		"{\"click_meta_keys\":{\"_gclid\":\"gclid\",\"_my_fbc\":\"fbc\",\"_ga\":\"x\"}}",
	};
	static int inited;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		inited = 1;
	}
	for (size_t s = 0; s < 2; s++) {
		struct raw_event ev = {
			.id = 1,
			.source_id = "00000000-0000-0000-0000-000000000001",
			.topic = "order.updated",
			.body = data,
			.body_len = size,
			.received_us = 1795734251000000LL,
			.settings_json = settings[s],
		};
		struct conv_list l;
		struct err e;

		conv_list_init(&l);
		if (woocommerce_source_ops.parse(&ev, &l, &e) == 0) {
			if (l.n > 1)
				abort(); /* one order, one purchase */
			for (size_t i = 0; i < l.n; i++) {
				if (strncmp(l.v[i]->event_id, "woocommerce:order:", 18) != 0)
					abort();
				fuzz_check_round_trip(l.v[i]);
			}
		} else if (l.n != 0) {
			abort(); /* an error must append nothing */
		}
		conv_list_cleanup(&l);
	}
	return 0;
}
