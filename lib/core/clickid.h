/*
 * clickid.h - advertising click identifiers from landing URLs and from
 * storefront cart attributes.
 *
 * Landing URLs come as Shopify's `landing_site` (path + query, relative)
 * or absolute; they are parsed with curl's URL API (CURLU), and query
 * values are percent-decoded once.  The first occurrence of a parameter
 * wins.
 */
#ifndef ADSENG_CORE_CLICKID_H
#define ADSENG_CORE_CLICKID_H

#include <stdint.h>

#include "core/conversion.h"

/*
 * Read gclid, gbraid, wbraid, fbclid, ttclid (and _ga-style client ids are
 * not in URLs) from url's query into c->click (first value wins, existing
 * values are kept).  Relative URLs are resolved against `base` (e.g.
 * "https://shop.example"), or a placeholder host when base is NULL.  When an
 * fbclid is found and no fbc is set, fbc = "fb.1.<seen_ms>.<fbclid>" with
 * the fbclid's case unchanged (PLATFORMS.md).  Malformed URLs are ignored:
 * returns 0 on success, ERR_INVALID if the URL could not be parsed (c is
 * unchanged then).
 */
int clickid_from_url(struct conversion *c, const char *url, const char *base, int64_t seen_ms);

/*
 * Map one cart attribute (Shopify note_attributes name/value) onto a click
 * field: "gclid", "gbraid", "wbraid", "fbclid" (→ fbc too), "ttclid",
 * "_fbp"/"fbp" → fbp, "_fbc"/"fbc" → fbc, "_ttp"/"ttp" → ttp,
 * "_ga"/"ga_client_id" → ga_client_id (a "GA1.1.X.Y" cookie → "X.Y").
 * Unknown names are ignored.
 */
void clickid_from_attribute(struct conversion *c, const char *name, const char *value,
			    int64_t seen_ms);

#endif
