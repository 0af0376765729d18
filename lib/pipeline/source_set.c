/*
 * source_set.c - building and searching source snapshots.
 */
#include "pipeline/source_set.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/catalog_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int open_secret(const struct vault *vault, const struct source_row *r, const char *which,
		       const uint8_t *sealed, size_t len, unsigned char **plain, size_t *plain_len,
		       struct err *e)
{
	char ad[VAULT_AD_MAX];

	vault_ad(ad, "source", r->id, which);
	return vault_unseal(vault, sealed, len, ad, plain, plain_len, e);
}

int source_set_load(PGconn *conn, const struct vault *vault, struct source_set **out, struct err *e)
{
	struct source_row *rows = NULL;
	struct source_set *s;
	size_t n = 0;
	int rc;

	rc = catalog_load_sources(conn, &rows, &n, e);
	if (rc != 0)
		return rc;
	s = xcalloc(1, sizeof(*s));
	atomic_init(&s->refcnt, 1);
	s->v = xcalloc(n ? n : 1, sizeof(*s->v));
	s->plain = xcalloc(2 * (n ? n : 1), sizeof(*s->plain));
	s->settings = xcalloc(n ? n : 1, sizeof(*s->settings));
	for (size_t i = 0; i < n; i++) {
		struct source *src = &s->v[s->n];
		unsigned char **plain = &s->plain[2 * s->n];
		struct err se = { 0 };
		size_t len = 0;

		src->ops = source_ops_find(rows[i].kind);
		if (src->ops == NULL) {
			log_warn("source has an unknown kind; ignoring it", "source=%s kind=%s",
				 rows[i].id, rows[i].kind);
			continue;
		}
		if (open_secret(vault, &rows[i], "secret", rows[i].secret, rows[i].secret_len,
				&plain[0], &len, &se) != 0) {
			log_error("could not open a source secret; ignoring the source",
				  "source=%s err=\"%s\"", rows[i].id, se.msg);
			continue;
		}
		memcpy(src->id, rows[i].id, sizeof(src->id));
		src->tenant_id = rows[i].tenant_id;
		snprintf(src->kind, sizeof(src->kind), "%s", rows[i].kind);
		src->enabled = rows[i].enabled;
		src->secret[0] = plain[0];
		src->secret_len[0] = len;
		src->n_secrets = 1;
		/* Taken over from the row: the snapshot frees it. */
		s->settings[s->n] = rows[i].settings_json;
		rows[i].settings_json = NULL;
		src->settings_json = s->settings[s->n];
		if (rows[i].secret_previous &&
		    open_secret(vault, &rows[i], "secret_previous", rows[i].secret_previous,
				rows[i].secret_previous_len, &plain[1], &len, &se) == 0) {
			src->secret[1] = plain[1];
			src->secret_len[1] = len;
			src->secret_until_us[1] = rows[i].secret_previous_until_us;
			src->n_secrets = 2;
		}
		s->n++;
	}
	catalog_free_sources(rows, n);
	*out = s;
	return 0;
}

static int cmp_id(const void *key, const void *elem)
{
	return strcmp(key, ((const struct source *)elem)->id);
}

const struct source *source_set_find(const struct source_set *s, const char *id)
{
	if (s == NULL)
		return NULL;
	return bsearch(id, s->v, s->n, sizeof(*s->v), cmp_id);
}

const struct source *source_set_find_kind(const struct source_set *s, const char *kind)
{
	const struct source *found = NULL;

	for (size_t i = 0; s && i < s->n; i++) {
		if (!s->v[i].enabled || strcmp(s->v[i].kind, kind) != 0)
			continue;
		if (found)
			return NULL;
		found = &s->v[i];
	}
	return found;
}

struct source_set *source_set_ref(struct source_set *s)
{
	atomic_fetch_add(&s->refcnt, 1);
	return s;
}

void source_set_unref(struct source_set *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refcnt, 1) != 1)
		return;
	for (size_t i = 0; i < 2 * s->n; i++)
		vault_free_plain(s->plain[i]);
	for (size_t i = 0; i < s->n; i++)
		free(s->settings[i]);
	free(s->settings);
	free(s->plain);
	free(s->v);
	free(s);
}
