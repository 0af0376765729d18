/*
 * metrics.c - lock-free metric families and their text exposition (see
 * metrics.h).
 *
 * A series slot goes free → claiming → ready exactly once and is never
 * freed: a reader that sees "ready" (acquire) sees its key.  Two threads
 * adding the same new series race for the same probe sequence; the loser
 * of the CAS waits the few instructions until the winner's key is
 * published, then compares it like any other.  Values are 64-bit atomics;
 * the exposition reads them without stopping writers, so a histogram's
 * buckets and sum may be a few observations apart (Prometheus tolerates
 * that; _count is derived from the buckets so +Inf and _count agree).
 */
#include "core/metrics.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX	     256
#define MAX_FAMILIES 64

enum { SLOT_FREE, SLOT_CLAIMING, SLOT_READY };

struct series {
	atomic_int state;
	uint32_t hash;
	char key[KEY_MAX];	  /* escaped: a="x",b="y" */
	_Atomic uint64_t value;	  /* counter: count; gauge: double bits */
	_Atomic uint64_t sum;	  /* histogram: double bits */
	_Atomic uint64_t *counts; /* histogram: n_buckets + 1, not cumulative */
};

struct metric {
	const struct metric_def *def;
	size_t n_labels;
	struct series *series; /* METRICS_MAX_SERIES */
	_Atomic uint64_t *counts;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metric *families[MAX_FAMILIES];
static atomic_size_t n_families;
static struct metric *_Atomic dropped; /* read by lookup() on any thread */

static const struct metric_def dropped_def = {
	.name = "adsengd_metrics_series_dropped_total",
	.help = "Label sets not recorded because their family's table was full.",
	.type = METRIC_COUNTER,
};

static uint64_t dbits(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof(b));
	return b;
}

static double bitsd(uint64_t b)
{
	double v;

	memcpy(&v, &b, sizeof(v));
	return v;
}

static uint32_t hash_key(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Append value escaped as a label value (\\, \", \n); false if it does
 * not fit. */
static bool put_escaped(char *buf, size_t cap, size_t *len, const char *v)
{
	for (; v && *v; v++) {
		const char *rep = NULL;
		char one[2] = { *v, 0 };

		if (*v == '\\')
			rep = "\\\\";
		else if (*v == '"')
			rep = "\\\"";
		else if (*v == '\n')
			rep = "\\n";
		else
			rep = one;
		if (*len + strlen(rep) >= cap)
			return false;
		memcpy(buf + *len, rep, strlen(rep));
		*len += strlen(rep);
	}
	buf[*len] = '\0';
	return true;
}

/* name="value",… into buf; false if it does not fit. */
static bool make_key(const char *const *labels, const char *const *values, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; labels[i]; i++) {
		int n = snprintf(buf + len, cap - len, "%s%s=\"", i ? "," : "", labels[i]);

		if (n < 0 || (size_t)n >= cap - len)
			return false;
		len += (size_t)n;
		if (!put_escaped(buf, cap, &len, values ? values[i] : ""))
			return false;
		if (len + 2 > cap)
			return false;
		buf[len++] = '"';
		buf[len] = '\0';
	}
	return true;
}

static void init_series(struct metric *m)
{
	m->series = calloc(METRICS_MAX_SERIES, sizeof(*m->series));
	if (m->series == NULL)
		abort();
	if (m->def->type != METRIC_HISTOGRAM)
		return;
	m->counts = calloc(METRICS_MAX_SERIES * (m->def->n_buckets + 1), sizeof(*m->counts));
	if (m->counts == NULL)
		abort();
	for (size_t i = 0; i < METRICS_MAX_SERIES; i++)
		m->series[i].counts = m->counts + i * (m->def->n_buckets + 1);
}

static struct metric *find_family(const char *name)
{
	size_t n = atomic_load(&n_families);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(families[i]->def->name, name) == 0)
			return families[i];
	}
	return NULL;
}

static struct metric *register_locked(const struct metric_def *def)
{
	struct metric *m = find_family(def->name);
	size_t n = atomic_load(&n_families);

	if (m)
		return m;
	if (n == MAX_FAMILIES || def->n_buckets > METRICS_MAX_BUCKETS ||
	    (def->type == METRIC_HISTOGRAM && def->n_buckets == 0))
		abort();
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		abort();
	m->def = def;
	while (m->n_labels < METRICS_MAX_LABELS && def->labels[m->n_labels])
		m->n_labels++;
	init_series(m);
	families[n] = m;
	atomic_store(&n_families, n + 1);
	return m;
}

struct metric *metric_register(const struct metric_def *def)
{
	struct metric *m;

	pthread_mutex_lock(&reg_mu);
	if (atomic_load(&dropped) == NULL)
		atomic_store(&dropped, register_locked(&dropped_def));
	m = register_locked(def);
	pthread_mutex_unlock(&reg_mu);
	/* A family without labels has exactly one series: make it exist. */
	if (m->n_labels == 0 && def->type != METRIC_HISTOGRAM)
		metric_add(m, NULL, 0);
	return m;
}

/* The series for values, claimed if new; NULL when the table is full or
 * the labels do not fit. */
static struct series *lookup(struct metric *m, const char *const *values, bool create)
{
	char key[KEY_MAX];
	uint32_t h;

	if (!make_key(m->def->labels, values, key, sizeof(key)))
		goto drop;
	h = hash_key(key);
	for (size_t probe = 0; probe < METRICS_MAX_SERIES; probe++) {
		struct series *s = &m->series[(h + probe) % METRICS_MAX_SERIES];
		int st = atomic_load_explicit(&s->state, memory_order_acquire);

		if (st == SLOT_FREE) {
			int expect = SLOT_FREE;

			if (!create)
				return NULL;
			if (atomic_compare_exchange_strong(&s->state, &expect, SLOT_CLAIMING)) {
				memcpy(s->key, key, sizeof(key));
				s->hash = h;
				atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
				return s;
			}
			st = expect;
		}
		while (st == SLOT_CLAIMING) {
			sched_yield();
			st = atomic_load_explicit(&s->state, memory_order_acquire);
		}
		if (s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
drop:
	if (create && m != atomic_load(&dropped) && atomic_load(&dropped))
		metric_add(atomic_load(&dropped), NULL, 1);
	return NULL;
}

static void add_double(_Atomic uint64_t *a, double v)
{
	uint64_t old = atomic_load(a);

	while (!atomic_compare_exchange_weak(a, &old, dbits(bitsd(old) + v)))
		;
}

void metric_add(struct metric *m, const char *const *values, uint64_t n)
{
	struct series *s = lookup(m, values, true);

	if (s == NULL)
		return;
	if (m->def->type == METRIC_GAUGE)
		add_double(&s->value, (double)n);
	else if (m->def->type == METRIC_COUNTER)
		atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void metric_set(struct metric *m, const char *const *values, double v)
{
	struct series *s = lookup(m, values, true);

	if (s && m->def->type == METRIC_GAUGE)
		atomic_store_explicit(&s->value, dbits(v), memory_order_relaxed);
}

void metric_observe(struct metric *m, const char *const *values, double v)
{
	struct series *s;
	size_t b = 0;

	if (m->def->type != METRIC_HISTOGRAM)
		return;
	s = lookup(m, values, true);
	if (s == NULL)
		return;
	while (b < m->def->n_buckets && v > m->def->buckets[b])
		b++;
	atomic_fetch_add_explicit(&s->counts[b], 1, memory_order_relaxed);
	add_double(&s->sum, v);
}

double metric_value(struct metric *m, const char *const *values)
{
	struct series *s = lookup(m, values, false);

	if (s == NULL)
		return 0;
	if (m->def->type == METRIC_GAUGE)
		return bitsd(atomic_load(&s->value));
	return (double)atomic_load(&s->value);
}

/*
 * Like Prometheus' histogram_quantile(): find the bucket holding the rank
 * q * count and interpolate linearly inside it (the first bucket starts
 * at 0); a rank in +Inf answers the highest finite bound, the best the
 * buckets know.
 * (https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)
 */
double metric_quantile(struct metric *m, const char *const *values, double q)
{
	struct series *s;
	size_t nb;
	uint64_t total = 0, below = 0;
	double rank, lo = 0;

	if (m == NULL || m->def->type != METRIC_HISTOGRAM || !(q >= 0 && q <= 1))
		return NAN;
	s = lookup(m, values, false);
	if (s == NULL)
		return NAN;
	nb = m->def->n_buckets;
	for (size_t i = 0; i <= nb; i++)
		total += atomic_load(&s->counts[i]);
	if (total == 0)
		return NAN;
	rank = q * (double)total;
	for (size_t i = 0; i < nb; i++) {
		uint64_t c = atomic_load(&s->counts[i]);
		double hi = m->def->buckets[i];

		if (c > 0 && (double)(below + c) >= rank)
			return lo + (hi - lo) * ((rank - (double)below) / (double)c);
		below += c;
		lo = hi;
	}
	return nb ? m->def->buckets[nb - 1] : NAN;
}

static const char *type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

/* A sample value as Prometheus parses it (Go's ParseFloat). */
static void put_value(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else if (v > -1e15 && v < 1e15 && v == (double)(long long)v) /* no libm */
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.9g", v);
}

void metrics_write_header(FILE *f, const char *name, const char *help, enum metric_type type)
{
	/* HELP text escapes only \ and newline. */
	fprintf(f, "# HELP %s ", name);
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fprintf(f, "\n# TYPE %s %s\n", name, type_name(type));
}

void metrics_write_sample(FILE *f, const char *name, const char *const *labels,
			  const char *const *values, double v)
{
	char key[KEY_MAX];

	if (labels && labels[0] && make_key(labels, values, key, sizeof(key)))
		fprintf(f, "%s{%s} ", name, key);
	else
		fprintf(f, "%s ", name);
	put_value(f, v);
	fputc('\n', f);
}

static void render_histogram(FILE *f, const struct metric *m, const struct series *s)
{
	const char *name = m->def->name;
	const char *sep = s->key[0] ? "," : "";
	uint64_t cum = 0;

	for (size_t b = 0; b <= m->def->n_buckets; b++) {
		cum += atomic_load_explicit(&s->counts[b], memory_order_relaxed);
		fprintf(f, "%s_bucket{%s%sle=\"", name, s->key, sep);
		if (b < m->def->n_buckets)
			fprintf(f, "%.9g", m->def->buckets[b]);
		else
			fputs("+Inf", f);
		fprintf(f, "\"} %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "%s_sum%s%s%s ", name, s->key[0] ? "{" : "", s->key, s->key[0] ? "}" : "");
	put_value(f, bitsd(atomic_load(&s->sum)));
	fprintf(f, "\n%s_count%s%s%s %llu\n", name, s->key[0] ? "{" : "", s->key,
		s->key[0] ? "}" : "", (unsigned long long)cum);
}

static int cmp_series(const void *a, const void *b)
{
	return strcmp((*(const struct series *const *)a)->key,
		      (*(const struct series *const *)b)->key);
}

static void render_series(FILE *f, const struct metric *m, const struct series *s)
{
	uint64_t v = atomic_load_explicit(&s->value, memory_order_relaxed);

	if (m->def->type == METRIC_HISTOGRAM) {
		render_histogram(f, m, s);
		return;
	}
	if (s->key[0])
		fprintf(f, "%s{%s} ", m->def->name, s->key);
	else
		fprintf(f, "%s ", m->def->name);
	if (m->def->type == METRIC_GAUGE)
		put_value(f, bitsd(v));
	else
		fprintf(f, "%llu", (unsigned long long)v);
	fputc('\n', f);
}

/* The family's series in label order (the table's is the hash's), so a
 * scrape reads like a listing. */
static void render_family(FILE *f, const struct metric *m)
{
	const struct series *ready[METRICS_MAX_SERIES];
	size_t n = 0;

	metrics_write_header(f, m->def->name, m->def->help, m->def->type);
	for (size_t i = 0; i < METRICS_MAX_SERIES; i++) {
		if (atomic_load_explicit(&m->series[i].state, memory_order_acquire) == SLOT_READY)
			ready[n++] = &m->series[i];
	}
	qsort(ready, n, sizeof(ready[0]), cmp_series);
	for (size_t i = 0; i < n; i++)
		render_series(f, m, ready[i]);
}

void metrics_render(FILE *f)
{
	size_t n = atomic_load(&n_families);

	for (size_t i = 0; i < n; i++)
		render_family(f, families[i]);
}
