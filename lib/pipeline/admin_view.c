/*
 * admin_view.c - decorations of the admin listings shared by adsengctl
 * and the admin HTTP API (see admin_view.h).
 */
#include "pipeline/admin_view.h"
#include "core/mem.h"
#include "sources/source.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

char *admin_view_webhook_url(const struct config *cfg, const char *kind, const char *id)
{
	const struct source_ops *ops = source_ops_find(kind);

	if (ops && ops->route)
		return xasprintf("%s%s%s", cfg->public_url, ops->route, id);
	return xasprintf("%s/v1/webhooks/%s/%s", cfg->public_url, kind, id);
}

void admin_view_sources(const struct config *cfg, cJSON *rows)
{
	cJSON *row;

	cJSON_ArrayForEach (row, rows) {
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(row, "kind"));
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(row, "id"));
		char *url = admin_view_webhook_url(cfg, kind ? kind : "", id ? id : "");

		cJSON_AddStringToObject(row, "webhook_url", url);
		free(url);
	}
}
