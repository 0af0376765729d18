/*
 * dest_cache.h - a worker's destinations, loaded from the database on first
 * use with credentials opened by the vault, kept until the catalog changes
 * (NOTIFY adseng_catalog) or a minute passes.  Entries are reference
 * counted because an upload in flight keeps using its destination after the
 * cache dropped it.  One cache per worker thread; not thread safe.
 */
#ifndef ADSENG_PIPELINE_DEST_CACHE_H
#define ADSENG_PIPELINE_DEST_CACHE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/vault.h"
#include "destinations/dest.h"

struct dest_entry {
	struct destination d;
	int refcnt;
	int64_t loaded_ms;
};

struct dest_cache {
	struct dest_entry **v;
	size_t n, cap;
};

void dest_cache_init(struct dest_cache *c);
void dest_cache_cleanup(struct dest_cache *c);
/* Drop every entry (in-flight users keep theirs alive). */
void dest_cache_clear(struct dest_cache *c);

/*
 * The destination with this id, with a reference the caller releases with
 * dest_entry_unref().  ERR_DB (database trouble: retry later), ERR_NOTFOUND,
 * ERR_CRYPTO (credentials do not open) or ERR_CONFIG (unknown kind, bad
 * settings): the latter two need an operator.
 */
int dest_cache_get(struct dest_cache *c, PGconn *conn, const struct config *cfg,
		   const struct vault *vault, const char *id, struct dest_entry **out,
		   struct err *e) WUR;

void dest_entry_unref(struct dest_entry *d);

#endif
