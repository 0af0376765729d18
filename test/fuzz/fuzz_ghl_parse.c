/*
 * fuzz_ghl_parse.c - libFuzzer target: arbitrary body bytes through the
 * GoHighLevel parser, once without settings and once with a stage map, an
 * event map and a currency.  Whatever it produces must survive
 * conv_to_json → conv_from_json (the round trip through the database),
 * carry a "ghl:" event id, and an error must append nothing.  What the
 * contact hook says about the person must come back from its stored form
 * (contacts_flatten → contacts_unflatten), or stage 1 would store contacts
 * it can never read.
 */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/conversion.h"
#include "fuzzutil.h"
#include "pipeline/contacts.h"
#include "sources/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct source_ops ghl_source_ops;

static void check_contact(const struct raw_event *ev)
{
	struct source_contact sc = { 0 };
	struct conversion *back;
	char *flat;

	ghl_source_ops.contact(ev, &sc);
	if (sc.key[0] == '\0') {
		if (sc.known)
			abort(); /* facts about nobody */
		return;
	}
	if (strlen(sc.key) >= sizeof(sc.key) || sc.known == NULL)
		abort();
	flat = contacts_flatten(sc.known);
	back = contacts_unflatten(flat);
	if (back == NULL)
		abort();
	conv_free(back);
	cJSON_free(flat);
	conv_free(sc.known);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const settings[] = {
		NULL,
		"{\"currency\":\"EUR\",\"stage_map\":{\"s9\":\"qualified_lead\"},"
		"\"event_map\":{\"InvoicePaid\":\"purchase\",\"ContactCreate\":\"\"}}",
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
			.topic = "",
			.body = data,
			.body_len = size,
			.received_us = 1795734251000000LL,
			.settings_json = settings[s],
		};
		struct conv_list l;
		struct err e;

		conv_list_init(&l);
		if (ghl_source_ops.parse(&ev, &l, &e) == 0) {
			if (l.n > 2)
				abort(); /* at most a stage and a won purchase */
			for (size_t i = 0; i < l.n; i++) {
				if (strncmp(l.v[i]->event_id, "ghl:", 4) != 0)
					abort();
				fuzz_check_round_trip(l.v[i]);
			}
		} else if (l.n != 0) {
			abort(); /* an error must append nothing */
		}
		conv_list_cleanup(&l);
		if (s == 0)
			check_contact(&ev);
	}
	return 0;
}
