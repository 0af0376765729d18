/*
 * dest_cache.c - loading and caching destinations for one worker.
 */
#include "pipeline/dest_cache.h"
#include "core/clock.h"
#include "core/mem.h"
#include "store/catalog_store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEST_TTL_MS 60000

void dest_cache_init(struct dest_cache *c)
{
	memset(c, 0, sizeof(*c));
}

void dest_entry_unref(struct dest_entry *d)
{
	if (d == NULL || --d->refcnt > 0)
		return;
	free(d->d.name);
	free(d->d.base_url);
	free(d->d.api_version);
	cJSON_Delete(d->d.settings);
	vault_free_plain((unsigned char *)d->d.creds);
	dest_secret_free(d->d.aux_secret);
	free(d);
}

void dest_cache_clear(struct dest_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		dest_entry_unref(c->v[i]);
	c->n = 0;
}

void dest_cache_cleanup(struct dest_cache *c)
{
	dest_cache_clear(c);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* The kind's configured API version ([meta] api_version for meta_capi), or
 * the key's built-in default if the key was not registered when cfg was
 * loaded (a program that skipped dest_register_config_keys). */
static const char *default_api_version(const struct dest_ops *ops, const struct config *cfg)
{
	const struct config_platform_key *k = ops->api_version_key;
	const char *v = config_platform_value(cfg, k->section, k->name);

	return v ? v : k->def;
}

static int build_entry(const struct dest_row *row, const struct config *cfg,
		       const struct vault *vault, struct dest_entry **out, struct err *e)
{
	struct dest_entry *d = xcalloc(1, sizeof(*d));
	const cJSON *ver;
	const char *base;
	unsigned char *creds = NULL;
	size_t creds_len = 0;
	char ad[VAULT_AD_MAX];
	int rc;

	d->refcnt = 1;
	d->loaded_ms = clock_mono_ms();
	memcpy(d->d.id, row->id, sizeof(d->d.id));
	d->d.tenant_id = row->tenant_id;
	d->d.name = xstrdup(row->name);
	snprintf(d->d.kind, sizeof(d->d.kind), "%s", row->kind);
	d->d.enabled = row->enabled;
	d->d.test_mode = row->test_mode;
	d->d.ops = dest_ops_find(row->kind);
	if (d->d.ops == NULL) {
		rc = err_set(e, ERR_CONFIG, "unknown destination kind \"%s\"", row->kind);
		goto fail;
	}
	base = config_endpoint(cfg, d->d.ops->endpoint_key);
	if (base == NULL || base[0] == '\0') {
		rc = err_set(e, ERR_CONFIG, "no [endpoints] %s configured", d->d.ops->endpoint_key);
		goto fail;
	}
	d->d.base_url = xstrdup(base);
	d->d.settings = cJSON_Parse(row->settings_json);
	if (!cJSON_IsObject(d->d.settings)) {
		rc = err_set(e, ERR_CONFIG, "destination settings are not a JSON object");
		goto fail;
	}
	ver = cJSON_GetObjectItemCaseSensitive(d->d.settings, "api_version");
	if (cJSON_IsString(ver) && ver->valuestring[0])
		d->d.api_version = xstrdup(ver->valuestring);
	else if (d->d.ops->api_version_key)
		d->d.api_version = xstrdup(default_api_version(d->d.ops, cfg));
	vault_ad(ad, "destination", row->id, "credentials");
	rc = vault_unseal(vault, row->credentials, row->credentials_len, ad, &creds, &creds_len, e);
	if (rc != 0)
		goto fail;
	d->d.creds = (char *)creds;
	if (d->d.ops->load && (rc = d->d.ops->load(&d->d, cfg, e)) != 0) {
		rc = ERR_CONFIG; /* an operator must fix it: pause */
		goto fail;
	}
	*out = d;
	return 0;
fail:
	dest_entry_unref(d);
	return rc;
}

/* The entry was built with the endpoint cfg names now: [endpoints] keys
 * are reloadable, and a reload must not wait for the entry's TTL. */
static bool endpoint_current(const struct dest_entry *d, const struct config *cfg)
{
	const char *base = config_endpoint(cfg, d->d.ops->endpoint_key);

	return base && strcmp(base, d->d.base_url) == 0;
}

int dest_cache_get(struct dest_cache *c, PGconn *conn, const struct config *cfg,
		   const struct vault *vault, const char *id, struct dest_entry **out,
		   struct err *e)
{
	struct dest_row row;
	struct dest_entry *d = NULL;
	int64_t now = clock_mono_ms();
	int rc;

	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i]->d.id, id) != 0)
			continue;
		if (now - c->v[i]->loaded_ms < DEST_TTL_MS && endpoint_current(c->v[i], cfg)) {
			c->v[i]->refcnt++;
			*out = c->v[i];
			return 0;
		}
		dest_entry_unref(c->v[i]);
		c->v[i] = c->v[--c->n];
		break;
	}
	rc = catalog_load_destination(conn, id, &row, e);
	if (rc != 0)
		return rc;
	rc = build_entry(&row, cfg, vault, &d, e);
	catalog_dest_row_cleanup(&row);
	if (rc != 0)
		return rc;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = d;
	d->refcnt++;
	*out = d;
	return 0;
}
