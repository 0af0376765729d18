/*
 * ctl_source_limit.h - `adsengctl source rate-limit SOURCE R[/B]|default`:
 * give a source its own ingest rate limit, or take it away.  Listed in
 * ctl_catalog.c's table with the other source commands.
 */
#ifndef ADSENG_ADMIN_CTL_SOURCE_LIMIT_H
#define ADSENG_ADMIN_CTL_SOURCE_LIMIT_H

#include "admin/ctl.h"

/* Run it (the CLI's main thread; blocks on the database). */
int ctl_run_source_rate_limit(struct ctl *c, const struct ctl_args *a);

#endif
