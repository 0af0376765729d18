/*
 * conversion_pii.c - turning one clear identifier from a source into the
 * normalized (and, per scheme, hashed) values a conversion keeps.
 *
 * This is the only door through which clear PII enters a conversion, so it
 * is the one place that decides a bad value costs only that field: a value
 * a scheme refuses is left absent for that scheme and the conversion goes on.
 */
#include "core/conversion.h"
#include "core/mem.h"

#include <sodium.h>

void conv_set_pii(struct conversion *c, enum pii_field field, const char *clear)
{
	/* pii.c bounds every clear output to 1 KiB; a hash is 65 bytes. */
	char out[2048];

	if (c == NULL || clear == NULL || clear[0] == '\0' || (unsigned)field >= PII_FIELD__COUNT)
		return;
	for (int s = 0; s < PII_SCHEME__COUNT; s++) {
		struct err e;

		/* A scheme without the field (TikTok has no names or address)
		 * simply keeps none: not an error. */
		if (c->ids[s][field] != NULL || !pii_scheme_carries((enum pii_scheme)s, field))
			continue;
		if (pii_prepare((enum pii_scheme)s, field, clear, out, sizeof(out), &e) == 0)
			c->ids[s][field] = xstrdup(out);
	}
	sodium_memzero(out, sizeof(out));
}
