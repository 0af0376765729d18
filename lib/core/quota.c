/*
 * quota.c - [plans] quotas parsing and the UTC month arithmetic (see
 * quota.h).  The month is computed here rather than with SQL's now() so
 * that stage 1, the release check and the usage report agree on one
 * definition that unit tests can pin down (Dec -> Jan, leap Februaries).
 */
#include "core/quota.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The plans sql/0001 admits in tenants.plan. */
static const char *const known_plans[] = { "starter", "professional", "enterprise" };

static bool plan_is_known(const char *p)
{
	for (size_t i = 0; i < sizeof(known_plans) / sizeof(known_plans[0]); i++) {
		if (strcmp(known_plans[i], p) == 0)
			return true;
	}
	return false;
}

static const char *skip_blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *trim_end(const char *p, const char *end)
{
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end;
}

/* One "plan:N" item in [p, end). */
static int parse_item(const char *p, const char *end, struct plan_quotas *out, struct err *e)
{
	const char *colon;
	struct quota_plan *qp;
	char num[24];
	size_t nlen, vlen;
	char *stop;

	p = skip_blank(p, end);
	end = trim_end(p, end);
	colon = memchr(p, ':', (size_t)(end - p));
	if (colon == NULL)
		return err_set(e, ERR_CONFIG, "[plans] quotas: \"%.*s\" is not plan:number",
			       (int)(end - p), p);
	nlen = (size_t)(trim_end(p, colon) - p);
	if (out->n >= QUOTA_MAX_PLANS || nlen == 0 || nlen >= QUOTA_PLAN_MAX)
		return err_set(e, ERR_CONFIG, "[plans] quotas: bad item \"%.*s\"", (int)(end - p),
			       p);
	qp = &out->v[out->n];
	memcpy(qp->name, p, nlen);
	qp->name[nlen] = '\0';
	if (!plan_is_known(qp->name))
		return err_set(e, ERR_CONFIG,
			       "[plans] quotas: unknown plan \"%s\" (starter, professional, "
			       "enterprise)",
			       qp->name);
	for (size_t i = 0; i < out->n; i++) {
		if (strcmp(out->v[i].name, qp->name) == 0)
			return err_set(e, ERR_CONFIG, "[plans] quotas: plan \"%s\" is listed twice",
				       qp->name);
	}
	p = skip_blank(colon + 1, end);
	vlen = (size_t)(end - p);
	if (vlen == 0 || vlen >= sizeof(num) || p[0] < '0' || p[0] > '9')
		return err_set(e, ERR_CONFIG, "[plans] quotas: plan \"%s\" needs a whole number",
			       qp->name);
	memcpy(num, p, vlen);
	num[vlen] = '\0';
	qp->limit = strtoll(num, &stop, 10);
	if (*stop != '\0' || qp->limit < 0 || qp->limit > QUOTA_LIMIT_MAX)
		return err_set(e, ERR_CONFIG,
			       "[plans] quotas: plan \"%s\": \"%s\" is not a whole number up to "
			       "%lld",
			       qp->name, num, (long long)QUOTA_LIMIT_MAX);
	out->n++;
	return 0;
}

int quota_parse(const char *text, struct plan_quotas *out, struct err *e)
{
	const char *p = text ? text : "";

	memset(out, 0, sizeof(*out));
	if (*skip_blank(p, p + strlen(p)) == '\0')
		return 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		int rc = parse_item(p, end, out, e);

		if (rc != 0) {
			memset(out, 0, sizeof(*out));
			return rc;
		}
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int64_t quota_for_plan(const struct plan_quotas *q, const char *plan)
{
	for (size_t i = 0; q && plan && i < q->n; i++) {
		if (strcmp(q->v[i].name, plan) == 0)
			return q->v[i].limit;
	}
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days
 * inverse in eras of 400 years; m is 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The year and month (1..12) of a day number since 1970-01-01. */
static void civil_from_days(int64_t z, int64_t *y, int *m)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

void quota_month_of(int64_t t, int64_t *start_s, int64_t *end_s, char *out)
{
	int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t y;
	int m;

	civil_from_days(day, &y, &m);
	*start_s = days_from_civil(y, m, 1) * 86400;
	*end_s = (m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1)) * 86400;
	snprintf(out, QUOTA_MONTH_TEXT, "%04d-%02d-01", (int)(y % 10000), m);
}

void quota_sql_arrays(const struct plan_quotas *q, char *plans, char *limits, size_t outlen)
{
	size_t pn = 0, ln = 0;

	pn += (size_t)snprintf(plans, outlen, "{");
	ln += (size_t)snprintf(limits, outlen, "{");
	for (size_t i = 0; q && i < q->n; i++) {
		const char *sep;

		if (q->v[i].limit <= 0)
			continue;
		sep = pn > 1 ? "," : "";
		if (pn < outlen)
			pn += (size_t)snprintf(plans + pn, outlen - pn, "%s%s", sep, q->v[i].name);
		if (ln < outlen)
			ln += (size_t)snprintf(limits + ln, outlen - ln, "%s%" PRId64, sep,
					       q->v[i].limit);
	}
	if (pn < outlen)
		snprintf(plans + pn, outlen - pn, "}");
	if (ln < outlen)
		snprintf(limits + ln, outlen - ln, "}");
}
