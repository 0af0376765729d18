/*
 * clock.h - monotonic and wall-clock helpers, and UTC time parsing/formatting.
 */
#ifndef ADSENG_CORE_CLOCK_H
#define ADSENG_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);
int64_t clock_wall_ms(void);
/* Unix microseconds as whole unix seconds, rounded down (also before
 * 1970: -1 µs is second -1). */
int64_t clock_us_to_s(int64_t us);

/*
 * Parse an ISO-8601 / RFC 3339 timestamp into unix microseconds (UTC).
 * Accepts "2026-11-26T18:04:11-05:00", "…Z", "…+0530", fractional seconds,
 * a space instead of 'T', and no offset at all (taken as UTC: WooCommerce's
 * *_gmt fields).  Returns 0 or ERR_INVALID.
 */
int clock_parse_iso8601(const char *s, int64_t *out_us, struct err *e) WUR;

/* Format unix microseconds as "2026-11-26T23:04:11Z" (or with .ffffff when
 * the fraction is non-zero); out must hold 32 bytes. */
void clock_format_utc(int64_t us, char *out, size_t outlen);

#endif
