/*
 * status_page.c - GET /status's HTML (see status_page.h).
 *
 * The page is for people; the machine-readable numbers are /metrics and
 * `adsengctl stats --json`.  Still, every number cell carries a
 * data-field attribute and every row the object's id, so a test (or a
 * scraper) can find a value without depending on the layout.  The chart
 * is two SVG polylines, one point per minute of the last 24 hours
 * (minutes without activity are zero), scaled to the busiest minute.
 * Names come from users: they are escaped like everything else.
 */
#include "http/status_page.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define CHART_PAD 8

/* Dashed delivery line: where both rates are equal the ingest line
 * shows through. */
static const char style[] = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
			    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
			    "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
			    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
			    "th{background:#f3f3f3}.bad{color:#b00}.muted{color:#777}"
			    "svg{border:1px solid #ccc;background:#fcfcfc}"
			    "polyline{fill:none;stroke-width:1.5}"
			    "polyline.ingest{stroke:#1f77b4}span.ingest{color:#1f77b4}"
			    "polyline.deliver{stroke:#2ca02c;stroke-dasharray:4 3}"
			    "span.deliver{color:#2ca02c}";

void status_page_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '&')
			fputs("&amp;", f);
		else if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else if (c == '\'')
			fputs("&#39;", f);
		else if (c < 0x20 || c == 0x7f)
			fputs("&#xFFFD;", f); /* no raw control characters in the page */
		else
			fputc(c, f);
	}
}

/* "3 s", "4 min", "2.5 h", "3.1 d". */
static void put_age(FILE *f, double s)
{
	if (s < 120)
		fprintf(f, "%.0f s", s);
	else if (s < 7200)
		fprintf(f, "%.0f min", s / 60);
	else if (s < 172800)
		fprintf(f, "%.1f h", s / 3600);
	else
		fprintf(f, "%.1f d", s / 86400);
}

static void put_utc(FILE *f, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
	fputs(buf, f);
}

static void cell_i(FILE *f, const char *field, int64_t v, bool bad)
{
	fprintf(f, "<td class=\"n%s\" data-field=\"%s\">%lld</td>", bad && v > 0 ? " bad" : "",
		field, (long long)v);
}

static void cell_ms(FILE *f, const char *field, double s)
{
	if (isnan(s))
		fprintf(f, "<td class=\"n muted\" data-field=\"%s\">&#8212;</td>", field);
	else
		fprintf(f, "<td class=\"n\" data-field=\"%s\">%.0f ms</td>", field, s * 1000);
}

static void render_dest(FILE *f, const struct activity_dest *d)
{
	fputs("<tr data-destination=\"", f);
	status_page_escape(f, d->id);
	fputs("\"><td>", f);
	status_page_escape(f, d->name);
	fputs(" <span class=\"muted\">", f);
	status_page_escape(f, d->kind);
	fputs("</span></td>", f);
	cell_i(f, "backlog", (int64_t)d->backlog, false);
	fprintf(f, "<td class=\"n\" data-field=\"oldest_due\">");
	if (d->oldest_due_s > 0)
		put_age(f, d->oldest_due_s);
	else
		fputs("&#8212;", f);
	fputs("</td>", f);
	cell_i(f, "delivered_1h", d->delivered_1h, false);
	cell_i(f, "failed_1h", d->failed_1h, true);
	cell_i(f, "dead_1h", d->dead_1h, true);
	cell_i(f, "delivered_24h", d->delivered_24h, false);
	cell_i(f, "failed_24h", d->failed_24h, true);
	cell_i(f, "dead_24h", d->dead_24h, true);
	cell_ms(f, "p50", d->p50_s);
	cell_ms(f, "p99", d->p99_s);
	fprintf(f, "<td data-field=\"breaker\"%s>",
		strcmp(d->breaker, "closed") ? " class=\"bad\"" : "");
	status_page_escape(f, d->breaker);
	fputs("</td><td data-field=\"paused\">", f);
	status_page_escape(f, d->paused_reason);
	fputs("</td></tr>\n", f);
}

static void render_dests(FILE *f, const struct activity_snapshot *s)
{
	fputs("<h2>Destinations</h2>\n<table id=\"destinations\"><thead><tr>"
	      "<th rowspan=\"2\">Destination</th><th rowspan=\"2\">Backlog</th>"
	      "<th rowspan=\"2\">Oldest due</th><th colspan=\"3\">Last hour</th>"
	      "<th colspan=\"3\">Last 24 h</th><th colspan=\"2\">Upload latency</th>"
	      "<th rowspan=\"2\">Breaker</th><th rowspan=\"2\">Paused</th></tr>\n<tr>"
	      "<th>delivered</th><th>failed</th><th>dead</th>"
	      "<th>delivered</th><th>failed</th><th>dead</th><th>p50</th><th>p99</th>"
	      "</tr></thead><tbody>\n",
	      f);
	for (size_t i = 0; i < s->n_dests; i++)
		render_dest(f, &s->dests[i]);
	if (s->n_dests == 0)
		fputs("<tr><td colspan=\"13\" class=\"muted\">no destinations</td></tr>\n", f);
	fputs("</tbody></table>\n", f);
}

static void render_source(FILE *f, const struct activity_source *src, int64_t now)
{
	fputs("<tr data-source=\"", f);
	status_page_escape(f, src->id);
	fputs("\"><td>", f);
	status_page_escape(f, src->name);
	fputs(" <span class=\"muted\">", f);
	status_page_escape(f, src->kind);
	fputs("</span></td>", f);
	cell_i(f, "events_1h", src->events_1h, false);
	cell_i(f, "events_24h", src->events_24h, false);
	fputs("<td data-field=\"last_event\">", f);
	if (src->last_event_unix > 0) {
		put_utc(f, src->last_event_unix);
		fputs(" <span class=\"muted\">(", f);
		put_age(f, (double)(now > src->last_event_unix ? now - src->last_event_unix : 0));
		fputs(" ago)</span>", f);
	} else {
		fputs("<span class=\"muted\">none in 48 h</span>", f);
	}
	fputs("</td></tr>\n", f);
}

static void render_sources(FILE *f, const struct activity_snapshot *s, int64_t now)
{
	fputs("<h2>Sources</h2>\n<table id=\"sources\"><thead><tr><th>Source</th>"
	      "<th>Events, last hour</th><th>Events, last 24 h</th><th>Last event</th>"
	      "</tr></thead><tbody>\n",
	      f);
	for (size_t i = 0; i < s->n_sources; i++)
		render_source(f, &s->sources[i], now);
	if (s->n_sources == 0)
		fputs("<tr><td colspan=\"4\" class=\"muted\">no sources</td></tr>\n", f);
	fputs("</tbody></table>\n", f);
}

static void render_usage_row(FILE *f, const struct activity_usage *u)
{
	fputs("<tr><td>", f);
	status_page_escape(f, u->tenant);
	fputs("</td><td>", f);
	status_page_escape(f, u->plan);
	fputs("</td>", f);
	cell_i(f, "used", u->used, false);
	if (u->quota < 0)
		fputs("<td class=\"n muted\" data-field=\"quota\">unlimited</td>", f);
	else
		cell_i(f, "quota", u->quota, false);
	cell_i(f, "held", u->held, true);
	fputs("</tr>\n", f);
}

/* Usage against quota this month, per tenant; only when a quota applies
 * to some tenant, since otherwise nothing is ever held for billing. */
static void render_usage(FILE *f, const struct activity_snapshot *s)
{
	bool any = false;

	for (size_t i = 0; i < s->n_usage; i++)
		any = any || s->usage[i].quota >= 0 || s->usage[i].held > 0;
	if (!any)
		return;
	fputs("<h2>Usage this month", f);
	if (s->n_usage > 0) {
		fputs(" (", f);
		status_page_escape(f, s->usage[0].month);
		fputs(", UTC)", f);
	}
	fputs("</h2>\n<table id=\"usage\"><thead><tr><th>Tenant</th><th>Plan</th>"
	      "<th>Conversions</th><th>Quota</th><th>Held for quota</th></tr></thead><tbody>\n",
	      f);
	for (size_t i = 0; i < s->n_usage; i++)
		render_usage_row(f, &s->usage[i]);
	fputs("</tbody></table>\n", f);
}

/* One polyline: a point per minute from first_min on, zero where the
 * snapshot has no row. */
static void render_line(FILE *f, const struct activity_snapshot *s, int64_t first_min, int64_t max,
			bool delivered)
{
	const double w = STATUS_CHART_W - 2 * CHART_PAD, h = STATUS_CHART_H - 2 * CHART_PAD;
	size_t p = 0;

	fprintf(f, "<polyline class=\"%s\" data-series=\"%s\" points=\"",
		delivered ? "deliver" : "ingest", delivered ? "delivered" : "ingested");
	for (int i = 0; i < ACTIVITY_CHART_MINS; i++) {
		int64_t minute = first_min + (int64_t)i * 60, v = 0;

		while (p < s->n_points && s->points[p].minute_unix < minute)
			p++;
		if (p < s->n_points && s->points[p].minute_unix == minute)
			v = delivered ? s->points[p].delivered : s->points[p].ingested;
		fprintf(f, "%s%.1f,%.1f", i ? " " : "",
			CHART_PAD + w * i / (ACTIVITY_CHART_MINS - 1),
			CHART_PAD + h - h * (double)v / (double)max);
	}
	fputs("\"/>\n", f);
}

static void render_chart(FILE *f, const struct activity_snapshot *s, int64_t now)
{
	int64_t first_min = (now / 60) * 60 - (int64_t)(ACTIVITY_CHART_MINS - 1) * 60;
	int64_t max = 1;

	for (size_t i = 0; i < s->n_points; i++) {
		if (s->points[i].minute_unix < first_min)
			continue;
		if (s->points[i].ingested > max)
			max = s->points[i].ingested;
		if (s->points[i].delivered > max)
			max = s->points[i].delivered;
	}
	fprintf(f,
		"<h2>Events per minute, last 24 hours</h2>\n"
		"<p><span class=\"ingest\">&#9632;</span> ingested &#160; "
		"<span class=\"deliver\">&#9632;</span> delivered &#160; "
		"<span class=\"muted\">scale: 0 to %lld per minute</span></p>\n"
		"<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" data-max=\"%lld\" role=\"img\" "
		"aria-label=\"ingest and delivery rates per minute\">\n",
		(long long)max, STATUS_CHART_W, STATUS_CHART_H, STATUS_CHART_W, STATUS_CHART_H,
		(long long)max);
	render_line(f, s, first_min, max, false);
	render_line(f, s, first_min, max, true);
	fputs("</svg>\n<p class=\"muted\">", f);
	put_utc(f, first_min);
	fputs(" to ", f);
	put_utc(f, first_min + (int64_t)(ACTIVITY_CHART_MINS - 1) * 60);
	fputs("</p>\n", f);
}

void status_page_render(FILE *f, const struct activity_snapshot *s, int64_t now)
{
	fprintf(f,
		"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		"<meta http-equiv=\"refresh\" content=\"30\">"
		"<title>adsengd status</title><style>%s</style></head><body>\n"
		"<h1>adsengd status</h1>\n",
		style);
	if (s == NULL) {
		fputs("<p id=\"nosnapshot\">No snapshot yet: the control thread reads the "
		      "database every [server] metrics_interval.</p>\n</body></html>\n",
		      f);
		return;
	}
	fputs("<p class=\"muted\" id=\"taken\">Snapshot taken ", f);
	put_utc(f, s->taken_unix);
	fputs(" (", f);
	put_age(f, (double)(now > s->taken_unix ? now - s->taken_unix : 0));
	fputs(" ago); upload latency since this daemon started.</p>\n", f);
	render_dests(f, s);
	render_sources(f, s, now);
	render_usage(f, s);
	render_chart(f, s, now);
	fputs("</body></html>\n", f);
}
