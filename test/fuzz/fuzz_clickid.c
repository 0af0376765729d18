/*
 * fuzz_clickid.c - libFuzzer target: arbitrary bytes as a landing URL
 * (relative to a shop, and with no base) and as a cart attribute
 * "name=value".  Every click id that comes out must be a bounded,
 * printable token.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/clickid.h"
#include "core/conversion.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clicks(const struct conversion *c)
{
	for (int f = 0; f < CLICK__COUNT; f++) {
		const char *v = c->click[f];
		size_t n = 0;

		if (v == NULL)
			continue;
		for (; v[n]; n++) {
			if ((unsigned char)v[n] <= 0x20 || (unsigned char)v[n] >= 0x7F)
				abort();
		}
		if (n == 0 || n > 512)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct conversion *c;
	char *s, *eq;

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
	c = conv_new();
	(void)clickid_from_url(c, s, "https://shop.example", 1732662000000LL);
	(void)clickid_from_url(c, s, NULL, 1732662000000LL);
	check_clicks(c);
	conv_free(c);
	c = conv_new();
	eq = strchr(s, '=');
	if (eq) {
		*eq = '\0';
		clickid_from_attribute(c, s, eq + 1, 1732662000000LL);
		check_clicks(c);
	}
	conv_free(c);
	free(s);
	return 0;
}
