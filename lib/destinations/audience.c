/*
 * audience.c - the registry of customer-list audience platforms
 * (audience.h): one line per platform.
 */
#include "destinations/audience.h"

#include <string.h>

extern const struct audience_ops google_audience_ops;

static const struct audience_ops *const registry[] = {
	&google_audience_ops,
};

const struct audience_ops *audience_ops_find(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(registry) / sizeof(registry[0]); i++) {
		if (strcmp(registry[i]->dest_kind, kind) == 0)
			return registry[i];
	}
	return NULL;
}
