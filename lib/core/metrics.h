/*
 * metrics.h - process-wide Prometheus counters, gauges and histograms that
 * any thread updates without a lock, and their text exposition (format
 * 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * A family (one metric name) is registered once at startup; each distinct
 * set of label values is a series in the family's fixed table, found by
 * hashing the escaped label text.  A new series claims a free slot with one
 * compare-and-swap; values are atomics (a histogram's sum is a double kept
 * in a 64-bit atomic, updated by CAS).  A table that is full drops new
 * series (counted in adsengd_metrics_series_dropped_total), so label
 * values coming from outside can never grow memory.  Knowing nothing of
 * the daemon, this module names no metric but that one: the daemon's
 * families are declared in pipeline/telemetry.c.
 */
#ifndef ADSENG_CORE_METRICS_H
#define ADSENG_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_MAX_LABELS  3
#define METRICS_MAX_BUCKETS 16
#define METRICS_MAX_SERIES  512 /* per family */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric_def {
	const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in _total */
	const char *help;
	enum metric_type type;
	const char *labels[METRICS_MAX_LABELS + 1]; /* NULL-terminated */
	const double *buckets;			    /* histograms: ascending upper bounds */
	size_t n_buckets;			    /* without +Inf; <= METRICS_MAX_BUCKETS */
};

struct metric;

/*
 * Register a family (def and the strings it points at must outlive the
 * process: static data).  Registering a name again returns the family
 * already registered.  Any thread; meant for startup.  Aborts on a
 * malformed def (a programming error).
 */
struct metric *metric_register(const struct metric_def *def);

/* Add n to the counter (or gauge) series with these label values (one per
 * label name; NULL-safe when the family has no labels).  n = 0 only makes
 * the series exist, so it is exported at zero.  Any thread, lock-free. */
void metric_add(struct metric *m, const char *const *values, uint64_t n);

/* Set the gauge series to v.  Any thread, lock-free. */
void metric_set(struct metric *m, const char *const *values, double v);

/* Count v into the histogram series.  Any thread, lock-free. */
void metric_observe(struct metric *m, const char *const *values, double v);

/* The current value of a counter or gauge series (0 when it does not
 * exist); for tests and for summaries such as a status line. */
double metric_value(struct metric *m, const char *const *values);

/* The q-quantile (0..1) of a histogram series, estimated from its
 * buckets as Prometheus' histogram_quantile() does; NAN when the series
 * has no observation (or m is not a histogram).  Any thread, lock-free. */
double metric_quantile(struct metric *m, const char *const *values, double q);

/* Write every registered family to f in the text exposition format. */
void metrics_render(FILE *f);

/* Helpers for families rendered from elsewhere (a cached snapshot):
 * the # HELP and # TYPE lines, and one sample line.  labels and values
 * are parallel, NULL-terminated by labels. */
void metrics_write_header(FILE *f, const char *name, const char *help, enum metric_type type);
void metrics_write_sample(FILE *f, const char *name, const char *const *labels,
			  const char *const *values, double v);

#endif
