/*
 * status_page.h - the HTML of GET /status, rendered from a snapshot
 * (store/activity_store.h): one self-contained page (inline CSS, inline
 * SVG, no script, no external asset) for an operator's browser.
 * Pure: no I/O but the FILE, so it is unit tested from a hand-built
 * snapshot.
 */
#ifndef ADSENG_HTTP_STATUS_PAGE_H
#define ADSENG_HTTP_STATUS_PAGE_H

#include <stdint.h>
#include <stdio.h>

#include "store/activity_store.h"

/* Chart geometry (user units of the SVG's viewBox). */
#define STATUS_CHART_W 720
#define STATUS_CHART_H 160

/* Write the page for s (NULL: "no snapshot yet") as seen at now_unix.
 * Every string from the snapshot is HTML-escaped.  Any thread. */
void status_page_render(FILE *f, const struct activity_snapshot *s, int64_t now_unix);

/* Write s HTML-escaped (& < > " ' and control characters) to f. */
void status_page_escape(FILE *f, const char *s);

#endif
