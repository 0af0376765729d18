/*
 * fuzzutil.c - checks shared by the parser fuzz targets (see fuzzutil.h).
 */
#include "fuzzutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

void fuzz_check_round_trip(const struct conversion *c)
{
	cJSON *j = conv_to_json(c);
	struct conversion *back = NULL;
	struct err e;

	if (j == NULL)
		abort();
	if (conv_from_json(j, &back, &e) != 0)
		abort(); /* a parser produced something the store cannot read */
	conv_free(back);
	cJSON_Delete(j);
}
