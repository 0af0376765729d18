/*
 * svc_status.h - the one-line service summary that systemd shows in
 * `systemctl status` (sd_notify STATUS=): the delivery backlog, the rate
 * of deliveries and the circuit breakers' states.
 *
 * The numbers that need SQL come from the metrics snapshot the control
 * thread reads every [server] metrics_interval (pipeline/telemetry.h,
 * telemetry_svc_counts()) into a struct svc_counts; the rate is
 * counted by the workers; the daemon's main loop formats and sends the
 * line.  The formatter is pure so that it is unit tested.
 */
#ifndef ADSENG_CORE_SVC_STATUS_H
#define ADSENG_CORE_SVC_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A larger due count is shown as "over SVC_DUE_CAP". */
#define SVC_DUE_CAP 100000

struct svc_counts {
	bool known;	       /* false until the first query succeeded */
	int64_t due;	       /* pending deliveries due now (capped) */
	int64_t in_flight;     /* claimed by a worker (any daemon) */
	int64_t oldest_due_s;  /* age of the oldest due one, 0 when none */
	int64_t breakers_open; /* destinations whose breaker is open */
	int64_t breakers_half; /* ... half-open (a probe is out) */
};

/*
 * Format the summary into buf (always terminated, truncated to size),
 * e.g. "backlog 12 due (oldest 3s), 2 in flight; 4.5 deliveries/s;
 * breakers: 1 open, 0 half-open".  per_s < 0 leaves the rate out (not
 * measured yet).  Returns buf.
 */
const char *svc_status_format(char *buf, size_t size, const struct svc_counts *c, double per_s);

#endif
