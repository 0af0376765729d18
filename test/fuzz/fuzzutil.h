/*
 * fuzzutil.h - checks shared by the parser fuzz targets.  Named outside the
 * fuzz_*.c pattern so CMake does not take it for a target of its own; it is
 * linked into every target instead.
 */
#ifndef ADSENG_FUZZUTIL_H
#define ADSENG_FUZZUTIL_H

#include "core/conversion.h"

/* Abort unless c survives conv_to_json → conv_from_json: a parser must
 * never produce a conversion the store cannot read back.  c stays the
 * caller's. */
void fuzz_check_round_trip(const struct conversion *c);

#endif
