/*
 * test_status_page.c - GET /status's renderer from hand-built snapshots:
 * user-supplied names escaped (no markup gets through), the chart's
 * points placed and scaled per minute, numbers in their data-field
 * cells, the usage table (only with a quota), the empty page; and the two summaries feeding it and
 * the STATUS= line: histogram quantiles and the counts from metrics rows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "http/status_page.h"
#include "pipeline/status_view.h"
#include "pipeline/telemetry.h"

#include <cjson/cJSON.h>

#define NOW 1800000000 /* a minute boundary: 2027-01-15 08:00:00Z */

static char *render(const struct activity_snapshot *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	status_page_render(f, s, NOW);
	fclose(f);
	return text;
}

static void one_dest(struct activity_snapshot *s, struct activity_dest *d)
{
	memset(s, 0, sizeof(*s));
	memset(d, 0, sizeof(*d));
	s->taken_unix = NOW - 5;
	s->dests = d;
	s->n_dests = 1;
	snprintf(d->id, sizeof(d->id), "11111111-2222-3333-4444-555555555555");
	snprintf(d->kind, sizeof(d->kind), "meta_capi");
	snprintf(d->breaker, sizeof(d->breaker), "closed");
	d->p50_s = NAN;
	d->p99_s = NAN;
}

static void names_are_escaped(void **state)
{
	struct activity_snapshot s;
	struct activity_dest d;
	struct activity_source src = { .id = "x\"><b>", .kind = "shopify", .events_1h = 2 };
	char *html;

	(void)state;
	one_dest(&s, &d);
	snprintf(d.name, sizeof(d.name), "<script>alert(\"x\")</script>&'\x01");
	snprintf(d.paused_reason, sizeof(d.paused_reason), "<img src=x onerror=alert(1)>");
	snprintf(src.name, sizeof(src.name), "Tom & Jerry's <shop>");
	s.sources = &src;
	s.n_sources = 1;
	html = render(&s);
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "<b>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
				     "&#xFFFD;"));
	assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_non_null(strstr(html, "Tom &amp; Jerry&#39;s &lt;shop&gt;"));
	assert_non_null(strstr(html, "data-source=\"x&quot;&gt;&lt;b&gt;\""));
	free(html);
}

/* The points="…" of the polyline of series, parsed into x[] and y[]. */
static size_t parse_points(const char *html, const char *series, double *x, double *y, size_t cap)
{
	char key[64];
	const char *p;
	size_t n = 0;

	snprintf(key, sizeof(key), "data-series=\"%s\" points=\"", series);
	p = strstr(html, key);
	assert_non_null(p);
	p += strlen(key);
	while (*p != '"' && n < cap) {
		char *end;

		x[n] = strtod(p, &end);
		assert_int_equal(*end, ',');
		y[n] = strtod(end + 1, &end);
		n++;
		p = end;
		while (*p == ' ')
			p++;
	}
	return n;
}

/* The usage table: shown only when some tenant has a quota (or holds),
 * from admin_usage_list's JSON, unlimited shown as such, names escaped. */
static void usage_table(void **state)
{
	struct activity_snapshot s = { .taken_unix = NOW };
	cJSON *usage = cJSON_Parse(
		"[{\"tenant_id\":1,\"tenant\":\"acme <b>\",\"plan\":\"starter\","
		"\"month\":\"2027-01\",\"quota\":2,\"used\":2,\"remaining\":0,"
		"\"over_quota\":3,\"held\":3},"
		"{\"tenant_id\":2,\"tenant\":\"ops\",\"plan\":\"enterprise\",\"month\":"
		"\"2027-01\",\"quota\":null,\"used\":7,\"remaining\":null,\"over_quota\":0,"
		"\"held\":0}]");
	cJSON *free_only = cJSON_Parse("[{\"tenant\":\"ops\",\"plan\":\"starter\","
				       "\"month\":\"2027-01\",\"quota\":null,\"used\":7,"
				       "\"held\":0}]");
	char *html;

	(void)state;
	status_view_set_usage(&s, usage);
	assert_int_equal(s.n_usage, 2);
	assert_int_equal(s.usage[1].quota, -1);
	html = render(&s);
	assert_non_null(strstr(html, "<table id=\"usage\">"));
	assert_non_null(strstr(html, "Usage this month (2027-01, UTC)"));
	assert_non_null(strstr(html, "acme &lt;b&gt;"));
	assert_non_null(strstr(html, "data-field=\"quota\">2</td>"));
	assert_non_null(strstr(html, "<td class=\"n bad\" data-field=\"held\">3</td>"));
	assert_non_null(strstr(html, "data-field=\"quota\">unlimited</td>"));
	free(html);
	/* No quota anywhere: no table. */
	status_view_set_usage(&s, free_only);
	html = render(&s);
	assert_null(strstr(html, "id=\"usage\""));
	free(html);
	free(s.usage);
	cJSON_Delete(usage);
	cJSON_Delete(free_only);
}

static void chart_points(void **state)
{
	struct activity_point pts[] = {
		{ NOW - 2 * 86400, 99, 99 }, /* outside the 24 h: ignored, also for the scale */
		{ NOW - 3600, 10, 5 },
		{ NOW, 4, 0 },
	};
	struct activity_snapshot s = { .points = pts, .n_points = 3, .taken_unix = NOW };
	static double x[2000], y[2000];
	const double base = STATUS_CHART_H - 8, h = STATUS_CHART_H - 16;
	size_t n;
	char *html;

	(void)state;
	html = render(&s);
	assert_non_null(strstr(html, "data-max=\"10\""));
	n = parse_points(html, "ingested", x, y, 2000);
	assert_int_equal(n, ACTIVITY_CHART_MINS);
	assert_true(fabs(x[0] - 8) < 0.05);
	assert_true(fabs(x[n - 1] - (STATUS_CHART_W - 8)) < 0.05);
	for (size_t i = 0; i < n; i++) {
		double want = base;

		if (i == ACTIVITY_CHART_MINS - 1 - 60)
			want = base - h; /* 10 of 10: the top */
		else if (i == ACTIVITY_CHART_MINS - 1)
			want = base - h * 0.4;
		assert_true(fabs(y[i] - want) < 0.06);
		if (i > 0)
			assert_true(x[i] > x[i - 1]);
	}
	n = parse_points(html, "delivered", x, y, 2000);
	assert_int_equal(n, ACTIVITY_CHART_MINS);
	assert_true(fabs(y[ACTIVITY_CHART_MINS - 1 - 60] - (base - h * 0.5)) < 0.06);
	assert_true(fabs(y[ACTIVITY_CHART_MINS - 1] - base) < 0.06);
	free(html);
}

static void numbers_in_cells(void **state)
{
	struct activity_snapshot s;
	struct activity_dest d;
	char *html;

	(void)state;
	one_dest(&s, &d);
	snprintf(d.name, sizeof(d.name), "Main pixel");
	snprintf(d.breaker, sizeof(d.breaker), "open");
	d.backlog = 12;
	d.oldest_due_s = 90;
	d.delivered_1h = 7;
	d.delivered_24h = 31;
	d.dead_24h = 2;
	d.p50_s = 0.1234;
	html = render(&s);
	assert_non_null(strstr(html, "data-field=\"backlog\">12<"));
	assert_non_null(strstr(html, "data-field=\"oldest_due\">90 s<"));
	assert_non_null(strstr(html, "data-field=\"delivered_1h\">7<"));
	assert_non_null(strstr(html, "data-field=\"delivered_24h\">31<"));
	assert_non_null(strstr(html, "class=\"n bad\" data-field=\"dead_24h\">2<"));
	assert_non_null(strstr(html, "data-field=\"p50\">123 ms<"));
	assert_non_null(strstr(html, "data-field=\"p99\">&#8212;<")); /* NAN: no upload yet */
	assert_non_null(strstr(html, "class=\"bad\">open<"));
	free(html);
}

static void no_snapshot_yet(void **state)
{
	char *html;

	(void)state;
	html = render(NULL);
	assert_non_null(strstr(html, "id=\"nosnapshot\""));
	assert_non_null(strstr(html, "</html>"));
	assert_null(strstr(html, "<script"));
	free(html);
}

static void histogram_quantiles(void **state)
{
	static const double buckets[] = { 0.1, 0.2, 0.4 };
	static const struct metric_def def = {
		.name = "test_status_latency_seconds",
		.help = "test",
		.type = METRIC_HISTOGRAM,
		.labels = { "destination" },
		.buckets = buckets,
		.n_buckets = 3,
	};
	struct metric *m = metric_register(&def);
	const char *const a[] = { "a" }, *const none[] = { "none" };

	(void)state;
	assert_true(isnan(metric_quantile(m, none, 0.5)));
	/* 10 in (0, 0.1], 10 in (0.1, 0.2]: the median is 0.1, p75 halfway
	 * through the second bucket. */
	for (int i = 0; i < 10; i++) {
		metric_observe(m, a, 0.05);
		metric_observe(m, a, 0.15);
	}
	assert_true(fabs(metric_quantile(m, a, 0.5) - 0.1) < 1e-9);
	assert_true(fabs(metric_quantile(m, a, 0.75) - 0.15) < 1e-9);
	/* Beyond the last bound: the highest bound is all it knows. */
	for (int i = 0; i < 80; i++)
		metric_observe(m, a, 9);
	assert_true(fabs(metric_quantile(m, a, 0.99) - 0.4) < 1e-9);
	assert_true(isnan(metric_quantile(m, a, 1.5)));
}

static void svc_counts_from_rows(void **state)
{
	struct metrics_dest d[2] = { { .breaker = "open", .oldest_due_s = 30, .due = 4 },
				     { .breaker = "half_open", .oldest_due_s = 70, .due = 1 } };
	struct metrics_rows r = { .dests = d, .n_dests = 2 };
	struct svc_counts c;

	(void)state;
	d[0].count[1] = 2; /* in_flight */
	d[1].count[1] = 3;
	d[1].count[0] = 50; /* pending, most not due yet */
	telemetry_svc_counts(&r, &c);
	assert_true(c.known);
	assert_int_equal(c.due, 5);
	assert_int_equal(c.in_flight, 5);
	assert_int_equal(c.oldest_due_s, 70);
	assert_int_equal(c.breakers_open, 1);
	assert_int_equal(c.breakers_half, 1);
	d[0].due = 2e6;
	telemetry_svc_counts(&r, &c);
	assert_int_equal(c.due, SVC_DUE_CAP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_are_escaped),	cmocka_unit_test(chart_points),
		cmocka_unit_test(usage_table),		cmocka_unit_test(numbers_in_cells),
		cmocka_unit_test(no_snapshot_yet),	cmocka_unit_test(histogram_quantiles),
		cmocka_unit_test(svc_counts_from_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
