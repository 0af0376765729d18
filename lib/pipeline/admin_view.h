/*
 * admin_view.h - what the admin CLI and the admin HTTP API add to the
 * store's listings (store/admin.h) before showing them, so that both
 * print the same JSON: for sources, the URL the platform must send to.
 * It lives here because it needs the source registry and the config,
 * which the store does not know.
 */
#ifndef ADSENG_PIPELINE_ADMIN_VIEW_H
#define ADSENG_PIPELINE_ADMIN_VIEW_H

#include "core/config.h"

struct cJSON;

/* Where the platform sends a source of kind with id: its kind's own route,
 * or /v1/webhooks/{kind}/{id}, under [server] public_url.  malloc'd. */
char *admin_view_webhook_url(const struct config *cfg, const char *kind, const char *id);

/* Add "webhook_url" to every row of an admin_source_list array.  Rows are
 * left as they were when memory runs out (best effort: a listing). */
void admin_view_sources(const struct config *cfg, struct cJSON *rows);

#endif
