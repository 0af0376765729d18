/*
 * test_contacts.c - the stored form of a contact (pipeline/contacts.c):
 * flattening a conversion's identifiers and click ids, reading them back
 * (validated like a conversion's), refusing what is not that form, and
 * filling only what a conversion lacks.  Also the GHL contact hook that
 * feeds it: which key an event names and what it tells about the person.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/conversion.h"
#include "pipeline/contacts.h"
#include "sources/source.h"
#include "testutil.h"

extern const struct source_ops ghl_source_ops;

/* printf %s VALUE | sha256sum */
#define H_EMAIL "3e8dbcd296bb6b72eb0b7cbde29e91952542baf4c417e4053cf4ae69a8156004"
#define H_OTHER                                                                                    \
	"a02092be4934e95e4778dfc2c59ec29e8deb0a557394b2c050e494dda740dc54" /* own@example.org */

static void test_round_trip(void **state)
{
	struct conversion *c = conv_new(), *back;
	char *flat;
	cJSON *j;

	(void)state;
	conv_set_pii(c, PII_EMAIL, "Lead.Person@example.org");
	conv_set_click(c, CLICK_GCLID, "G123");
	flat = contacts_flatten(c);
	j = cJSON_Parse(flat);
	assert_non_null(j);
	/* One level, the conversion's own names; never the clear email. */
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "ids.meta.em")->valuestring,
			    H_EMAIL);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "click.gclid")->valuestring,
			    "G123");
	assert_null(strstr(flat, "example.org"));
	cJSON_Delete(j);
	back = contacts_unflatten(flat);
	assert_non_null(back);
	assert_string_equal(back->ids[PII_SCHEME_META][PII_EMAIL], H_EMAIL);
	assert_string_equal(back->click[CLICK_GCLID], "G123");
	conv_free(back);
	cJSON_free(flat);
	conv_free(c);
}

static void test_unflatten_refuses(void **state)
{
	static const char *const bad[] = {
		NULL,
		"[]",
		"{\"ids.meta.em\":\"not-a-hash\"}",
		"{\"event\":\"x\"}",
		"{\"ids.meta.em\":7}",
		"{\"ids.meta\":\"x\"}",
		"{\"click.nope\":\"x\"}",
	};
	struct conversion *c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = contacts_unflatten(bad[i]);
		if (c != NULL)
			fail_msg("case %zu accepted", i);
	}
	c = contacts_unflatten("{}");
	assert_non_null(c);
	conv_free(c);
}

static void test_fill_keeps_own_values(void **state)
{
	struct conversion *c = conv_new(), *known = conv_new();

	(void)state;
	conv_set_pii(c, PII_EMAIL, "own@example.org");
	conv_set_pii(known, PII_EMAIL, "lead.person@example.org");
	conv_set_pii(known, PII_PHONE, "+447700900123");
	conv_set_click(known, CLICK_FBC, "fb.1.1.x");
	contacts_fill(c, known);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_EMAIL], H_OTHER);
	assert_non_null(c->ids[PII_SCHEME_META][PII_PHONE]);
	assert_string_equal(c->click[CLICK_FBC], "fb.1.1.x");
	conv_free(c);
	conv_free(known);
}

static void contact_of(const char *body, struct source_contact *sc)
{
	struct raw_event ev = { .id = 1,
				.source_id = "s",
				.body = (const uint8_t *)body,
				.body_len = strlen(body),
				.received_us = 1800000000000000LL };

	memset(sc, 0, sizeof(*sc));
	ghl_source_ops.contact(&ev, sc);
}

static void test_ghl_contact_hook(void **state)
{
	struct source_contact sc;
	char *body = test_read_fixture("ghl_contact_create.json", NULL);

	(void)state;
	contact_of(body, &sc);
	assert_string_equal(sc.key, "nmFmQEsNgz6AVpgLVUJ0");
	assert_non_null(sc.known);
	assert_string_equal(sc.known->ids[PII_SCHEME_META][PII_EMAIL], H_EMAIL);
	conv_free(sc.known);
	free(body);
	body = test_read_fixture("ghl_opportunity_won.json", NULL);
	contact_of(body, &sc);
	assert_string_equal(sc.key, "nmFmQEsNgz6AVpgLVUJ0"); /* its contactId */
	assert_null(sc.known->ids[PII_SCHEME_META][PII_EMAIL]);
	conv_free(sc.known);
	free(body);
	contact_of("{\"type\":\"ContactDelete\",\"id\":\"c1\"}", &sc);
	assert_string_equal(sc.key, "");
	assert_null(sc.known);
	contact_of("{\"type\":\"OpportunityCreate\",\"id\":\"o1\"}", &sc);
	assert_string_equal(sc.key, "");
	contact_of("not json", &sc);
	assert_string_equal(sc.key, "");
	assert_null(sc.known);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_unflatten_refuses),
		cmocka_unit_test(test_fill_keeps_own_values),
		cmocka_unit_test(test_ghl_contact_hook),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
