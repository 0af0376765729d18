/*
 * ctl_reconcile.h - `adsengctl source reconcile`: fetch the orders a
 * WooCommerce shop's webhooks may have missed back through its REST API
 * and store those without a conversion through the ingest path.  Listed in
 * ctl_catalog.c's table with the other source commands.
 */
#ifndef ADSENG_ADMIN_CTL_RECONCILE_H
#define ADSENG_ADMIN_CTL_RECONCILE_H

#include "admin/ctl.h"

/* The options of the command (NULL-name terminated). */
extern const struct ctl_optspec ctl_reconcile_opts[];

/* Run it (the CLI's main thread; blocks on the network and the database). */
int ctl_run_source_reconcile(struct ctl *c, const struct ctl_args *a);

#endif
