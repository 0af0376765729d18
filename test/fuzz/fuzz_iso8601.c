/*
 * fuzz_iso8601.c - libFuzzer target: arbitrary bytes through
 * clock_parse_iso8601.  A parsed time inside years 0001-9999 must format
 * and parse back to itself.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	char *s, buf[32];
	int64_t us, back;
	struct err e;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		inited = 1;
	}
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (clock_parse_iso8601(s, &us, &e) == 0 && us >= -62135596800000000LL &&
	    us <= 253402300799999999LL) {
		clock_format_utc(us, buf, sizeof(buf));
		if (clock_parse_iso8601(buf, &back, &e) != 0 || back != us)
			abort();
		clock_format_utc(us, buf, 7); /* truncation, never overflow */
	}
	free(s);
	return 0;
}
