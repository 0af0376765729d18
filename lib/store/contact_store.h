/*
 * contact_store.h - the source_contacts table (0009): what a source's
 * sender has told us about a person it names by its own id, as a flat jsonb
 * object of hashed identifiers and click ids.  Stage 1 merges into it and
 * reads from it inside its normalize transaction.
 */
#ifndef ADSENG_STORE_CONTACT_STORE_H
#define ADSENG_STORE_CONTACT_STORE_H

#include <libpq-fe.h>

#include "core/err.h"

/*
 * Merge flat (a JSON object text, newer fields replacing older ones) into
 * the contact (source_id, key), creating it, and return what is now known
 * in *out (malloc'd JSON object text).  With flat NULL, only read: *out is
 * NULL when the contact is unknown.  ERR_INVALID when the database refuses
 * the data itself (db_sqlstate_is_data_error), ERR_DB otherwise; the
 * caller's transaction is then aborted.  The thread owning conn.
 */
int contact_store_merge(PGconn *conn, const char *source_id, const char *key, const char *flat,
			char **out, struct err *e) WUR;

#endif
