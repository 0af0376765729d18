/*
 * source_set.h - an immutable snapshot of every configured source with its
 * secrets opened, sorted by id, for the HTTP loop to look sources up
 * without touching the database.  Built by the control thread, handed to
 * the loop, freed by whoever drops the last reference.
 */
#ifndef ADSENG_PIPELINE_SOURCE_SET_H
#define ADSENG_PIPELINE_SOURCE_SET_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/err.h"
#include "core/vault.h"
#include "sources/source.h"

struct source_set {
	atomic_int refcnt;
	size_t n;
	struct source *v;      /* sorted by id */
	unsigned char **plain; /* opened secrets (vault_free_plain), 2 per source */
	char **settings;       /* settings JSON texts (malloc'd), 1 per source */
};

/*
 * Load every source and open its secrets.  A source whose secret does not
 * open (wrong master key) or whose kind is unknown is logged and left out,
 * so one bad row cannot take every shop offline.
 */
int source_set_load(PGconn *conn, const struct vault *vault, struct source_set **out,
		    struct err *e) WUR;

/* The source with this id (uuid text), or NULL. */
const struct source *source_set_find(const struct source_set *s, const char *id);

/* The one enabled source of kind, or NULL when there is none or more
 * than one (a route by kind alone must not guess; source_ops.kind_route). */
const struct source *source_set_find_kind(const struct source_set *s, const char *kind);

struct source_set *source_set_ref(struct source_set *s);
void source_set_unref(struct source_set *s);

#endif
