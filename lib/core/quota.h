/*
 * quota.h - plan quotas: the monthly conversion allowance of each plan
 * ([plans] quotas = starter:1000, professional:50000, enterprise:0) and
 * the calendar month (UTC) that usage is counted in.  Pure functions:
 * config.c parses the key with them, store/quota_store.c and stage 1 use
 * the parsed table and the month.
 */
#ifndef ADSENG_CORE_QUOTA_H
#define ADSENG_CORE_QUOTA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define QUOTA_MAX_PLANS	 8
#define QUOTA_PLAN_MAX	 32	     /* a plan name, with the NUL */
#define QUOTA_LIMIT_MAX	 (1LL << 40) /* larger is a typo */
#define QUOTA_MONTH_TEXT 11	     /* "2026-11-01" with the NUL */

struct quota_plan {
	char name[QUOTA_PLAN_MAX];
	int64_t limit; /* conversions per month; 0 = unlimited */
};

/* The parsed key: n == 0 means no quotas (nothing is ever held). */
struct plan_quotas {
	struct quota_plan v[QUOTA_MAX_PLANS];
	size_t n;
};

/*
 * Parse "plan:N, plan:N" (spaces around items allowed; "" = no quotas).
 * Plans must be ones tenants.plan admits (starter, professional,
 * enterprise: a typo would otherwise leave a plan unlimited silently),
 * each once; N is a whole number, 0 = unlimited.  0, or ERR_CONFIG with
 * the item at fault in e.  *out is zeroed first.
 */
int quota_parse(const char *text, struct plan_quotas *out, struct err *e) WUR;

/* The monthly limit of plan: 0 (unlimited) when the plan is not listed. */
int64_t quota_for_plan(const struct plan_quotas *q, const char *plan);

/*
 * The calendar month (UTC) holding unix second t: its first second in
 * *start_s and the first second of the next month in *end_s (so the month
 * is [start, end)); out (QUOTA_MONTH_TEXT bytes) gets "YYYY-MM-01", the
 * tenant_usage.month of t.  Any thread.
 */
void quota_month_of(int64_t t, int64_t *start_s, int64_t *end_s, char *out);

/*
 * The parameters stage 1 passes to SQL: a text[] literal of the limited
 * plans ("{starter,professional}") and the matching int8[] literal
 * ("{1000,50000}"); unlimited plans are left out.  Each out holds outlen
 * bytes (256 is always enough for QUOTA_MAX_PLANS).
 */
void quota_sql_arrays(const struct plan_quotas *q, char *plans, char *limits, size_t outlen);
#endif
