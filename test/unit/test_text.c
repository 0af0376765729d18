/*
 * test_text.c - the shared string checks of lib/core/text.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_decimal),
		cmocka_unit_test(test_digits_and_ip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
