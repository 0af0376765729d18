/*
 * svc_status.c - the one-line service summary (svc_status.h).
 */
#include "core/svc_status.h"

#include <stdio.h>

static int fmt_rate(char *buf, size_t size, double per_s)
{
	if (per_s < 0)
		return snprintf(buf, size, "rate not measured yet");
	return snprintf(buf, size, "%.1f deliveries/s", per_s);
}

const char *svc_status_format(char *buf, size_t size, const struct svc_counts *c, double per_s)
{
	char rate[48];

	if (size == 0)
		return buf;
	fmt_rate(rate, sizeof(rate), per_s);
	if (c == NULL || !c->known) {
		snprintf(buf, size, "backlog unknown (database not read yet); %s", rate);
		return buf;
	}
	snprintf(buf, size,
		 "backlog %s%lld due (oldest %llds), %lld in flight; %s; breakers: %lld open, "
		 "%lld half-open",
		 c->due >= SVC_DUE_CAP ? "over " : "", (long long)c->due,
		 (long long)c->oldest_due_s, (long long)c->in_flight, rate,
		 (long long)c->breakers_open, (long long)c->breakers_half);
	return buf;
}
