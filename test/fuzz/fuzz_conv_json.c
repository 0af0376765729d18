/*
 * fuzz_conv_json.c - libFuzzer target: arbitrary bytes parsed as JSON and
 * read with conv_from_json (the events API's input path).  An accepted
 * conversion must serialize and read back to the same document.
 */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/conversion.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	cJSON *j, *j2, *j3;
	struct conversion *c = NULL, *back = NULL;
	char *t2, *t3;
	struct err e;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		inited = 1;
	}
	j = cJSON_ParseWithLength((const char *)data, size);
	if (j == NULL)
		return 0;
	if (conv_from_json(j, &c, &e) != 0) {
		if (c != NULL)
			abort();
		cJSON_Delete(j);
		return 0;
	}
	j2 = conv_to_json(c);
	t2 = cJSON_PrintUnformatted(j2);
	if (conv_from_json(j2, &back, &e) != 0)
		abort();
	j3 = conv_to_json(back);
	t3 = cJSON_PrintUnformatted(j3);
	if (t2 == NULL || t3 == NULL || strcmp(t2, t3) != 0)
		abort();
	free(t2);
	free(t3);
	cJSON_Delete(j);
	cJSON_Delete(j2);
	cJSON_Delete(j3);
	conv_free(c);
	conv_free(back);
	return 0;
}
