/*
 * test_pgarr.c - PostgreSQL binary array parameters, byte for byte against
 * the array_recv layout (int32 ndim, int32 flags, oid, int32 size, int32
 * lower bound, then int32 length + bytes per element, -1 for NULL), and the
 * uuid helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "store/pgarr.h"

static int group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

/*
 * Expected bytes are string literals, one field per literal (a literal
 * ends after each \x escape so no following digit extends it).
 */
#define DIM1_FLAGS0 "\x00\x00\x00\x01" /* ndim 1 */ "\x00\x00\x00\x00" /* has_nulls 0 */
#define LBOUND1	    "\x00\x00\x00\x01"
#define NULL_ELEM   "\xff\xff\xff\xff"
#define WANT(lit)   (const unsigned char *)(lit), sizeof(lit) - 1

static void assert_bytes(const char *got, int got_len, const unsigned char *want, size_t want_len)
{
	if ((size_t)got_len != want_len)
		fail_msg("length %d, want %zu", got_len, want_len);
	for (size_t i = 0; i < want_len; i++) {
		if ((unsigned char)got[i] != want[i])
			fail_msg("byte %zu: 0x%02x, want 0x%02x", i, (unsigned char)got[i],
				 want[i]);
	}
}

static void test_int8(void **state)
{
	struct pgarr a;
	const char *p;
	int len = -1;

	(void)state;
	pgarr_init(&a, PGOID_INT8);
	pgarr_add_int8(&a, 1);
	pgarr_add_int8(&a, -2);
	p = pgarr_finish(&a, &len);
	assert_bytes(p, len,
		     WANT(DIM1_FLAGS0 "\x00\x00\x00\x14" /* oid 20 */
				      "\x00\x00\x00\x02" /* 2 elements */
			  LBOUND1 "\x00\x00\x00\x08"
				      "\x00\x00\x00\x00\x00\x00\x00\x01" /* 1 */
				      "\x00\x00\x00\x08"
				      "\xff\xff\xff\xff\xff\xff\xff\xfe" /* -2 */));
	pgarr_cleanup(&a);
}

static void test_int8_extremes_and_int4(void **state)
{
	struct pgarr a;
	const char *p;
	int len = -1;

	(void)state;
	pgarr_init(&a, PGOID_INT8);
	pgarr_add_int8(&a, INT64_MIN);
	pgarr_add_int8(&a, 0x0123456789abcdefLL);
	p = pgarr_finish(&a, &len);
	assert_bytes(p, len,
		     WANT(DIM1_FLAGS0 "\x00\x00\x00\x14"
				      "\x00\x00\x00\x02" LBOUND1 "\x00\x00\x00\x08"
				      "\x80\x00\x00\x00\x00\x00\x00\x00"
				      "\x00\x00\x00\x08"
				      "\x01\x23\x45\x67\x89\xab\xcd\xef"));
	pgarr_cleanup(&a);

	pgarr_init(&a, PGOID_INT4);
	pgarr_add_int4(&a, INT32_MAX);
	pgarr_add_int4(&a, INT32_MIN);
	pgarr_add_int4(&a, 256);
	p = pgarr_finish(&a, &len);
	assert_bytes(p, len,
		     WANT(DIM1_FLAGS0 "\x00\x00\x00\x17" /* oid 23 */
				      "\x00\x00\x00\x03" LBOUND1 "\x00\x00\x00\x04"
				      "\x7f\xff\xff\xff"
				      "\x00\x00\x00\x04"
				      "\x80\x00\x00\x00"
				      "\x00\x00\x00\x04"
				      "\x00\x00\x01\x00"));
	pgarr_cleanup(&a);
}

static void test_text_with_null(void **state)
{
	struct pgarr a;
	const char *p;
	int len = -1;

	(void)state;
	pgarr_init(&a, PGOID_TEXT);
	pgarr_add_text(&a, "ab");
	pgarr_add_text(&a, NULL);
	pgarr_add_text(&a, "");
	pgarr_add_text(&a, "\xc3\xa9\"");
	p = pgarr_finish(&a, &len);
	assert_bytes(p, len,
		     WANT(DIM1_FLAGS0 "\x00\x00\x00\x19" /* oid 25 */
				      "\x00\x00\x00\x04" LBOUND1 "\x00\x00\x00\x02"
				      "ab" NULL_ELEM "\x00\x00\x00\x00" /* '' is not NULL */
				      "\x00\x00\x00\x03"
				      "\xc3\xa9\""));
	pgarr_cleanup(&a);
}

static void test_jsonb(void **state)
{
	struct pgarr a;
	const char *p;
	int len = -1;

	(void)state;
	pgarr_init(&a, PGOID_JSONB);
	/* n bounds the text: the trailing bytes are not copied */
	pgarr_add_jsonb(&a, "{\"a\":1}XYZ", 7);
	pgarr_add_jsonb(&a, "", 0);
	pgarr_add_null(&a);
	p = pgarr_finish(&a, &len);
	assert_bytes(p, len,
		     WANT(DIM1_FLAGS0 "\x00\x00\x0e\xda" /* oid 3802 */
				      "\x00\x00\x00\x03" LBOUND1 "\x00\x00\x00\x08"
				      "\x01" /* jsonb version */
				      "{\"a\":1}"
				      "\x00\x00\x00\x01"
				      "\x01" /* empty text: the version byte alone */
			  NULL_ELEM));
	pgarr_cleanup(&a);
}

static void test_bool(void **state)
{
	struct pgarr a;
	const char *p;
	int len = -1;

	(void)state;
	pgarr_init(&a, PGOID_BOOL);
	pgarr_add_bool(&a, 1);
	pgarr_add_bool(&a, 0);
	pgarr_add_bool(&a, 5); /* any non-zero is true, stored as 1 */
	pgarr_add_bool(&a, -1);
	p = pgarr_finish(&a, &len);
	assert_bytes(p, len,
		     WANT(DIM1_FLAGS0 "\x00\x00\x00\x10" /* oid 16 */
				      "\x00\x00\x00\x04" LBOUND1 "\x00\x00\x00\x01"
				      "\x01"
				      "\x00\x00\x00\x01"
				      "\x00"
				      "\x00\x00\x00\x01"
				      "\x01"
				      "\x00\x00\x00\x01"
				      "\x01"));
	pgarr_cleanup(&a);
}

static void test_bytea_with_nul(void **state)
{
	struct pgarr a;
	const char *p;
	int len = -1;

	(void)state;
	pgarr_init(&a, PGOID_BYTEA);
	pgarr_add_bytes(&a, "\0\xff\0", 3);
	pgarr_add_bytes(&a, "", 0);
	p = pgarr_finish(&a, &len);
	assert_bytes(p, len,
		     WANT(DIM1_FLAGS0 "\x00\x00\x00\x11" /* oid 17 */
				      "\x00\x00\x00\x02" LBOUND1 "\x00\x00\x00\x03"
				      "\x00\xff\x00"
				      "\x00\x00\x00\x00"));
	pgarr_cleanup(&a);
}

static void test_empty(void **state)
{
	struct pgarr a;
	const char *p;
	int len = -1;

	(void)state;
	pgarr_init(&a, PGOID_UUID);
	p = pgarr_finish(&a, &len);
	assert_int_equal(len, 20);
	assert_bytes(p, len,
		     WANT(DIM1_FLAGS0 "\x00\x00\x0b\x86" /* oid 2950 */
				      "\x00\x00\x00\x00" /* dimension size 0 */
			  LBOUND1));
	pgarr_cleanup(&a);
}

static void test_uuid_elements(void **state)
{
	struct pgarr a;
	const char *p;
	int len = -1;

	(void)state;
	pgarr_init(&a, PGOID_UUID);
	assert_int_equal(pgarr_add_uuid_text(&a, "01234567-89ab-cdef-FEDC-BA9876543210"), 0);
	/* a malformed uuid adds nothing */
	assert_int_equal(pgarr_add_uuid_text(&a, "01234567-89ab-cdef-fedc-ba987654321"), -1);
	assert_int_equal(pgarr_add_uuid_text(&a, "not a uuid"), -1);
	assert_int_equal(pgarr_add_uuid_text(&a, "00000000-0000-0000-0000-000000000000"), 0);
	p = pgarr_finish(&a, &len);
	assert_bytes(p, len,
		     WANT(DIM1_FLAGS0
			  "\x00\x00\x0b\x86"
			  "\x00\x00\x00\x02" LBOUND1 "\x00\x00\x00\x10"
			  "\x01\x23\x45\x67\x89\xab\xcd\xef\xfe\xdc\xba\x98\x76\x54\x32\x10"
			  "\x00\x00\x00\x10"
			  "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"));
	pgarr_cleanup(&a);
}

/* The count is patched in at finish, so a large array is counted right,
 * and finishing again after more elements updates it. */
static void test_count_patched(void **state)
{
	struct pgarr a;
	const char *p;
	int len = -1;

	(void)state;
	pgarr_init(&a, PGOID_INT4);
	for (int i = 0; i < 70000; i++)
		pgarr_add_int4(&a, i);
	p = pgarr_finish(&a, &len);
	assert_int_equal(len, 20 + 70000 * 8);
	assert_memory_equal(p + 12, "\x00\x01\x11\x70", 4);	 /* 70000 */
	assert_memory_equal(p + len - 4, "\x00\x01\x11\x6f", 4); /* last value, 69999 */
	pgarr_add_null(&a);
	p = pgarr_finish(&a, &len);
	assert_int_equal(len, 20 + 70000 * 8 + 4);
	assert_memory_equal(p + 12, "\x00\x01\x11\x71", 4);
	pgarr_cleanup(&a);
}

struct uuid_case {
	const char *in;
	int rc;
	unsigned char want[16];
};

static const struct uuid_case uuid_cases[] = {
	{ "01234567-89ab-cdef-0123-456789abcdef",
	  0,
	  { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
	    0xcd, 0xef } },
	/* uppercase and mixed case are accepted (PostgreSQL accepts them) */
	{ "01234567-89AB-CDEF-0123-456789ABCDEF",
	  0,
	  { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
	    0xcd, 0xef } },
	{ "ffffffff-FfFf-0000-aAaA-000000000001",
	  0,
	  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0xaa, 0xaa, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x01 } },
	{ "00000000-0000-0000-0000-000000000000", 0, { 0 } },
	/* wrong length */
	{ "", -1, { 0 } },
	{ "01234567-89ab-cdef-0123-456789abcde", -1, { 0 } },
	{ "01234567-89ab-cdef-0123-456789abcdef0", -1, { 0 } },
	{ "01234567-89ab-cdef-0123-456789abcdef ", -1, { 0 } },
	{ " 01234567-89ab-cdef-0123-456789abcdef", -1, { 0 } },
	{ "01234567-89ab-cdef-0123", -1, { 0 } },
	/* bad hex */
	{ "g1234567-89ab-cdef-0123-456789abcdef", -1, { 0 } },
	{ "01234567-89ab-cdef-0123-456789abcdeg", -1, { 0 } },
	{ "01234567-89ab-cdxf-0123-456789abcdef", -1, { 0 } },
	{ "0x234567-89ab-cdef-0123-456789abcdef", -1, { 0 } },
	{ "+1234567-89ab-cdef-0123-456789abcdef", -1, { 0 } },
	/* misplaced, missing or extra dashes */
	{ "0123456-789ab-cdef-0123-456789abcdef", -1, { 0 } },
	{ "012345678-9ab-cdef-0123-456789abcdef", -1, { 0 } },
	{ "01234567-89abc-def-0123-456789abcdef", -1, { 0 } },
	{ "01234567-89ab-cdef-01234-56789abcdef", -1, { 0 } },
	{ "01234567-89ab-cdef-0123--456789abcde", -1, { 0 } },
	{ "0123456789abcdef0123456789abcdef", -1, { 0 } },
	{ "{01234567-89ab-cdef-0123-456789abcd}", -1, { 0 } },
	/* 36 characters, no dashes where they belong: the first 32 hex
	 * digits must not be taken as the uuid with the rest ignored */
	{ "0123456789abcdef0123456789abcdef0123", -1, { 0 } },
	{ "0123456789abcdef0123456789abcdef!!!!", -1, { 0 } },
	{ "01234567-89ab-cdef-0123456789abcdefX", -1, { 0 } },
	{ "01234567089ab-cdef-0123-456789abcdef", -1, { 0 } },
};

/* Reports every failing row, then fails. */
static void test_uuid_parse(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(uuid_cases) / sizeof(uuid_cases[0]); i++) {
		const struct uuid_case *c = &uuid_cases[i];
		uint8_t out[16];
		int rc = uuid_parse(c->in, out);

		if (rc != c->rc) {
			print_error("uuid_parse(\"%s\"): %d, want %d\n", c->in, rc, c->rc);
			failed++;
		} else if (rc == 0 && memcmp(out, c->want, 16) != 0) {
			print_error("uuid_parse(\"%s\"): wrong bytes\n", c->in);
			failed++;
		}
	}
	if (failed)
		fail_msg("%d uuid_parse case(s) failed", failed);
}

static void test_uuid_generate(void **state)
{
	char prev[37] = "";

	(void)state;
	for (int i = 0; i < 1000; i++) {
		char s[38];
		uint8_t u[16];

		memset(s, 'X', sizeof(s));
		uuid_generate(s);
		assert_int_equal(s[36], '\0');
		assert_int_equal(s[37], 'X'); /* writes 37 bytes, no more */
		assert_int_equal(strlen(s), 36);
		for (int j = 0; j < 36; j++) {
			if (j == 8 || j == 13 || j == 18 || j == 23) {
				assert_int_equal(s[j], '-');
			} else if (!isxdigit((unsigned char)s[j]) || isupper((unsigned char)s[j])) {
				fail_msg("%s: char %d is not lowercase hex", s, j);
			}
		}
		assert_int_equal(s[14], '4');		/* version */
		assert_non_null(strchr("89ab", s[19])); /* RFC 4122 variant */
		assert_int_equal(uuid_parse(s, u), 0);
		assert_int_equal(u[6] >> 4, 4);
		assert_int_equal(u[8] & 0xc0, 0x80);
		assert_string_not_equal(s, prev);
		memcpy(prev, s, 37);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_int8),
					    cmocka_unit_test(test_int8_extremes_and_int4),
					    cmocka_unit_test(test_text_with_null),
					    cmocka_unit_test(test_jsonb),
					    cmocka_unit_test(test_bool),
					    cmocka_unit_test(test_bytea_with_nul),
					    cmocka_unit_test(test_empty),
					    cmocka_unit_test(test_uuid_elements),
					    cmocka_unit_test(test_count_patched),
					    cmocka_unit_test(test_uuid_parse),
					    cmocka_unit_test(test_uuid_generate) };

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
