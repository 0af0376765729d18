/*
 * fuzz_text_utf8.c - libFuzzer target: arbitrary bytes through
 * text_to_utf8().  The result must be well-formed UTF-8 without NUL, at
 * most three bytes per input byte, and well-formed input must come back
 * unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = text_to_utf8((const char *)data, size);
	char *in;
	size_t n;

	if (out == NULL)
		abort();
	n = strlen(out);
	if (n > 3 * size || !text_is_utf8(out))
		abort();
	in = malloc(size + 1);
	if (in == NULL)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	if (memchr(data, 0, size) == NULL && text_is_utf8(in) &&
	    (n != size || memcmp(out, data, size) != 0))
		abort();
	free(in);
	free(out);
	return 0;
}
