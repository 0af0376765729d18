/*
 * ctl_progress.h - progress of a long-running command (reconcile, audience
 * sync) on stderr: "what: 1200/5000 (400/s, ETA 10s)", redrawn in place
 * at most five times a second, only on a terminal and never with --json,
 * so piped output and scripts see nothing of it.
 */
#ifndef ADSENG_ADMIN_CTL_PROGRESS_H
#define ADSENG_ADMIN_CTL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ctl;

struct ctl_progress {
	FILE *f;
	bool on;    /* a terminal, and not --json */
	bool drawn; /* something to end with a newline */
	const char *what;
	int64_t t0_ms, last_ms;
};

void ctl_progress_init(struct ctl_progress *p, struct ctl *c, const char *what);
/* done of total (0 = unknown: no ETA). */
void ctl_progress_update(struct ctl_progress *p, size_t done, size_t total);
void ctl_progress_end(struct ctl_progress *p);

/* The line itself (no \r), for tests. */
void ctl_progress_format(char *out, size_t outlen, const char *what, size_t done, size_t total,
			 int64_t elapsed_ms);

#endif
