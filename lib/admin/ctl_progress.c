/*
 * ctl_progress.c - progress lines of long-running commands (ctl_progress.h).
 */
#include "admin/ctl_progress.h"
#include "admin/ctl.h"
#include "core/clock.h"

#include <unistd.h>

#define REDRAW_MS 200

void ctl_progress_init(struct ctl_progress *p, struct ctl *c, const char *what)
{
	*p = (struct ctl_progress){ .f = c->errf,
				    .on = !c->json && isatty(fileno(c->errf)),
				    .what = what,
				    .t0_ms = clock_mono_ms() };
}

void ctl_progress_format(char *out, size_t outlen, const char *what, size_t done, size_t total,
			 int64_t elapsed_ms)
{
	double rate = elapsed_ms > 0 ? (double)done * 1000.0 / (double)elapsed_ms : 0;

	if (total > 0 && rate > 0 && done <= total)
		snprintf(out, outlen, "%s: %zu/%zu (%.0f/s, ETA %.0fs)", what, done, total, rate,
			 (double)(total - done) / rate);
	else if (total > 0)
		snprintf(out, outlen, "%s: %zu/%zu", what, done, total);
	else
		snprintf(out, outlen, "%s: %zu (%.0f/s)", what, done, rate);
}

void ctl_progress_update(struct ctl_progress *p, size_t done, size_t total)
{
	char line[160];
	int64_t now = clock_mono_ms();

	if (!p->on || (p->drawn && now - p->last_ms < REDRAW_MS))
		return;
	ctl_progress_format(line, sizeof(line), p->what, done, total, now - p->t0_ms);
	/* \r and a clear to the end of the line: redraw in place. */
	fprintf(p->f, "\r%s\033[K", line);
	fflush(p->f);
	p->drawn = true;
	p->last_ms = now;
}

void ctl_progress_end(struct ctl_progress *p)
{
	if (p->on && p->drawn)
		fputc('\n', p->f);
	p->drawn = false;
}
