/*
 * test_text.c - the shared string checks of lib/core/text.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/text.h"

static void test_utf8(void **state)
{
	(void)state;
	assert_true(text_is_utf8(""));
	assert_true(text_is_utf8("K\xc3\xb6ln"));	/* Köln */
	assert_true(text_is_utf8("\xf0\x9f\x98\x80"));	/* U+1F600 */
	assert_false(text_is_utf8("\xc0\xaf"));		/* overlong '/' */
	assert_false(text_is_utf8("\xe0\x80\xaf"));	/* overlong, 3 bytes */
	assert_false(text_is_utf8("\xed\xa0\x80"));	/* surrogate U+D800 */
	assert_false(text_is_utf8("\xf4\x90\x80\x80")); /* > U+10FFFF */
	assert_false(text_is_utf8("\xc3"));		/* truncated */
	assert_false(text_is_utf8("\x80"));		/* lone continuation */
	assert_false(text_is_utf8(NULL));
}

static void test_clean(void **state)
{
	(void)state;
	assert_true(text_is_clean("Mozilla/5.0 (X11)", 64));
	assert_false(text_is_clean("a\tb", 64));
	assert_false(text_is_clean("a\nb", 64));
	assert_false(text_is_clean("a\x7f", 64));
	assert_true(text_is_clean("abcd", 4));
	assert_false(text_is_clean("abcde", 4));
	assert_false(text_is_clean("\xc3", 4));
}

static void test_decimal(void **state)
{
	static const char *const yes[] = { "0", "129.90", "-5", "0.01", "00012.3" };
	static const char *const no[] = { "",
					  "-",
					  ".5",
					  "5.",
					  "1e3",
					  "12,5",
					  "+1",
					  " 1",
					  "1 ",
					  "NaN",
					  "123456789012345678901234567890123" };

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(text_is_decimal(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (text_is_decimal(no[i]))
			fail_msg("\"%s\" accepted as a decimal", no[i]);
	}
	assert_false(text_is_decimal(NULL));
}

static void test_digits_and_ip(void **state)
{
	(void)state;
	assert_true(text_is_digits("5551234567890", 19));
	assert_false(text_is_digits("", 19));
	assert_false(text_is_digits("12a", 19));
	assert_false(text_is_digits("12345", 4));
	assert_false(text_is_digits(NULL, 4));
	assert_true(text_is_ip("203.0.113.24"));
	assert_true(text_is_ip("2001:db8::1"));
	assert_false(text_is_ip("203.0.113"));
	assert_false(text_is_ip("example.com"));
	assert_false(text_is_ip(NULL));
}

/* text_to_utf8(in, len) must equal want. */
static void check_to_utf8(const char *in, size_t len, const char *want)
{
	char *out = text_to_utf8(in, len);

	assert_non_null(out);
	assert_string_equal(out, want);
	assert_true(text_is_utf8(out));
	free(out);
}

#define FFFD "\xef\xbf\xbd"

static void test_to_utf8(void **state)
{
	(void)state;
	check_to_utf8("", 0, "");
	check_to_utf8("shop.example", 12, "shop.example");
	check_to_utf8("K\xc3\xb6ln \xf0\x9f\x98\x80", 10, "K\xc3\xb6ln \xf0\x9f\x98\x80");
	/* Controls other than NUL are valid UTF-8: jsonb escapes them. */
	check_to_utf8("a\tb\x7f", 4, "a\tb\x7f");
	check_to_utf8("\xff\xfe", 2, FFFD FFFD);
	check_to_utf8("a\x80"
		      "b",
		      3, "a" FFFD "b");
	check_to_utf8("\xc0\xaf", 2, FFFD FFFD);	  /* overlong '/' */
	check_to_utf8("\xed\xa0\x80", 3, FFFD FFFD FFFD); /* surrogate */
	check_to_utf8("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);
	check_to_utf8("ab\xc3", 3, "ab" FFFD); /* truncated at end */
	check_to_utf8("\xc3(", 2, FFFD "(");   /* bad continuation */
	/* NUL inside the bytes: replaced, never a terminator. */
	check_to_utf8("a\0b", 3, "a" FFFD "b");
	/* len bounds the read: the sequence cut by len is invalid. */
	check_to_utf8("\xc3\xb6", 1, FFFD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8),	cmocka_unit_test(test_clean),
		cmocka_unit_test(test_decimal), cmocka_unit_test(test_digits_and_ip),
		cmocka_unit_test(test_to_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
