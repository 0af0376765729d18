/*
 * ctl_source_secret.h - `adsengctl source rotate-secret ID --secret-file F
 * [--overlap 24h]`: the new secret becomes current at once, the old one is
 * still accepted until the overlap ends.  Listed in ctl_catalog.c's table
 * with the other source commands.
 */
#ifndef ADSENG_ADMIN_CTL_SOURCE_SECRET_H
#define ADSENG_ADMIN_CTL_SOURCE_SECRET_H

#include "admin/ctl.h"

/* The options of the command (NULL-name terminated). */
extern const struct ctl_optspec ctl_rotate_secret_opts[];

/* Run it (the CLI's main thread; blocks on the database). */
int ctl_run_source_rotate_secret(struct ctl *c, const struct ctl_args *a);

#endif
