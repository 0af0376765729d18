/*
 * source_secret_store.h - the statements behind `adsengctl source
 * rotate-secret`: read a source's sealed secret, then swap in a new one
 * while the old one, re-sealed for the secret_previous column, stays valid
 * for an overlap.  The sealing happens in the caller (the CLI holds the
 * master key); this module only moves sealed bytes.
 */
#ifndef ADSENG_STORE_SOURCE_SECRET_STORE_H
#define ADSENG_STORE_SOURCE_SECRET_STORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Source id's current sealed secret (*sealed malloc'd, caller frees).
 * ERR_NOTFOUND when there is no such source. */
int source_secret_read(PGconn *conn, const char *id, uint8_t **sealed, size_t *len,
		       struct err *e) WUR;

struct source_secret_rotation {
	const char *id;
	/* The sealed secret as source_secret_read returned it: the update
	 * applies only if the row still holds it (no concurrent rotation). */
	const uint8_t *expect;
	size_t expect_len;
	const uint8_t *sealed; /* the new secret, AD "source:<id>:secret" */
	size_t sealed_len;
	/* The old secret re-sealed, AD "source:<id>:secret_previous". */
	const uint8_t *sealed_previous;
	size_t sealed_previous_len;
	int64_t overlap_ms; /* the old secret is valid until now() + this */
	char until[40];	    /* out: that end, RFC 3339 UTC */
};

/*
 * In one transaction: replace the secret, keep the old one as the previous
 * secret until now() + overlap (a former previous secret is dropped), and
 * write the audit_log row (action "source.rotate_secret", actor).  The
 * UPDATE fires the catalog NOTIFY, so running daemons reload the source.
 * ERR_CONFLICT when the secret changed since it was read.
 */
int source_secret_rotate(PGconn *conn, const char *actor, struct source_secret_rotation *r,
			 struct err *e) WUR;

#endif
