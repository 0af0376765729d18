/*
 * test_metrics.c - core/metrics: series exist at zero, counters and gauges
 * move, histogram buckets are cumulative with +Inf equal to _count, label
 * values are escaped, a full table drops new series (and counts them),
 * and threads adding to the same new series lose nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"

/* The registry is process-wide: each test uses its own family names. */
static char *render(void)
{
	static char *text; /* static: open_memstream() keeps its address */
	size_t len = 0;
	FILE *f;

	text = NULL;
	f = open_memstream(&text, &len);
	assert_non_null(f);
	metrics_render(f);
	fclose(f);
	return text;
}

static const struct metric_def counter_def = {
	.name = "t_requests_total",
	.help = "Requests.",
	.type = METRIC_COUNTER,
	.labels = { "kind", "code" },
};

static void test_counter_at_zero_then_counts(void **state)
{
	struct metric *m = metric_register(&counter_def);
	char *text;

	(void)state;
	assert_ptr_equal(m, metric_register(&counter_def)); /* idempotent */
	metric_add(m, (const char *const[]){ "a", "200" }, 0);
	text = render();
	assert_non_null(strstr(text, "# HELP t_requests_total Requests.\n"
				     "# TYPE t_requests_total counter\n"));
	assert_non_null(strstr(text, "t_requests_total{kind=\"a\",code=\"200\"} 0\n"));
	free(text);
	metric_add(m, (const char *const[]){ "a", "200" }, 2);
	metric_add(m, (const char *const[]){ "a", "200" }, 1);
	metric_add(m, (const char *const[]){ "b", "500" }, 1);
	assert_true(metric_value(m, (const char *const[]){ "a", "200" }) == 3);
	assert_true(metric_value(m, (const char *const[]){ "b", "500" }) == 1);
	assert_true(metric_value(m, (const char *const[]){ "c", "500" }) == 0);
	text = render();
	assert_non_null(strstr(text, "t_requests_total{kind=\"a\",code=\"200\"} 3\n"));
	assert_null(strstr(text, "kind=\"c\""));
	free(text);
}

static void test_label_values_are_escaped(void **state)
{
	static const struct metric_def def = {
		.name = "t_escaped",
		.help = "Back\\slash and\nnewline.",
		.type = METRIC_GAUGE,
		.labels = { "name" },
	};
	struct metric *m = metric_register(&def);
	char *text;

	(void)state;
	metric_set(m, (const char *const[]){ "say \"hi\"\\\n" }, 1.5);
	text = render();
	assert_non_null(strstr(text, "# HELP t_escaped Back\\\\slash and\\nnewline.\n"));
	assert_non_null(strstr(text, "t_escaped{name=\"say \\\"hi\\\"\\\\\\n\"} 1.5\n"));
	free(text);
}

static void test_histogram_buckets_cumulative(void **state)
{
	static const double b[] = { 0.1, 1, 10 };
	static const struct metric_def def = {
		.name = "t_latency_seconds",
		.help = "Latency.",
		.type = METRIC_HISTOGRAM,
		.buckets = b,
		.n_buckets = 3,
	};
	struct metric *m = metric_register(&def);
	char *text;

	(void)state;
	metric_add(m, NULL, 0); /* exists at zero */
	text = render();
	assert_non_null(strstr(text, "t_latency_seconds_bucket{le=\"+Inf\"} 0\n"));
	assert_non_null(strstr(text, "t_latency_seconds_count 0\n"));
	free(text);
	metric_observe(m, NULL, 0.05);
	metric_observe(m, NULL, 1); /* le is inclusive */
	metric_observe(m, NULL, 5);
	metric_observe(m, NULL, 50);
	text = render();
	assert_non_null(strstr(text, "t_latency_seconds_bucket{le=\"0.1\"} 1\n"
				     "t_latency_seconds_bucket{le=\"1\"} 2\n"
				     "t_latency_seconds_bucket{le=\"10\"} 3\n"
				     "t_latency_seconds_bucket{le=\"+Inf\"} 4\n"
				     "t_latency_seconds_sum 56.05\n"
				     "t_latency_seconds_count 4\n"));
	free(text);
}

static void test_full_table_drops_and_counts(void **state)
{
	static const struct metric_def def = {
		.name = "t_wide_total",
		.help = "Wide.",
		.type = METRIC_COUNTER,
		.labels = { "id" },
	};
	static const struct metric_def dropped_def = {
		.name = "adsengd_metrics_series_dropped_total",
		.help = "",
		.type = METRIC_COUNTER,
	};
	struct metric *m = metric_register(&def);
	struct metric *dropped = metric_register(&dropped_def);
	double before = metric_value(dropped, NULL);
	char id[16];

	(void)state;
	for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
		snprintf(id, sizeof(id), "%d", i);
		metric_add(m, (const char *const[]){ id }, 1);
	}
	assert_true(metric_value(dropped, NULL) - before == 10);
	/* Known series still count. */
	metric_add(m, (const char *const[]){ "0" }, 1);
	assert_true(metric_value(m, (const char *const[]){ "0" }) == 2);
}

static struct metric *race_m;

static void *race_main(void *arg)
{
	char id[16];

	(void)arg;
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "%d", i % 50);
		metric_add(race_m, (const char *const[]){ id }, 1);
	}
	return NULL;
}

static void test_threads_lose_nothing(void **state)
{
	static const struct metric_def def = {
		.name = "t_race_total",
		.help = "Race.",
		.type = METRIC_COUNTER,
		.labels = { "id" },
	};
	pthread_t t[4];
	double sum = 0;
	char id[16];
	char *text;
	const char *first;

	(void)state;
	race_m = metric_register(&def);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race_main, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 50; i++) {
		snprintf(id, sizeof(id), "%d", i);
		sum += metric_value(race_m, (const char *const[]){ id });
	}
	assert_true(sum == 4 * 20000);
	/* Each series once, however the threads raced to create it. */
	text = render();
	assert_non_null(strstr(text, "t_race_total{id=\"7\"} 1600\n"));
	first = strstr(text, "t_race_total{id=\"7\"}");
	assert_non_null(first);
	assert_null(strstr(first + 1, "t_race_total{id=\"7\"}"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_at_zero_then_counts),
		cmocka_unit_test(test_label_values_are_escaped),
		cmocka_unit_test(test_histogram_buckets_cumulative),
		cmocka_unit_test(test_full_table_drops_and_counts),
		cmocka_unit_test(test_threads_lose_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
