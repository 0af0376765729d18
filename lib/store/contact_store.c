/*
 * contact_store.c - merge into and read source_contacts.  The merge is one
 * statement (INSERT … ON CONFLICT DO UPDATE … || … RETURNING), so two
 * workers merging into one contact at once both keep their fields: the row
 * lock orders them and each merges into what the other wrote.
 */
#include "store/contact_store.h"
#include "core/mem.h"
#include "store/db.h"

#include <stdlib.h>

int contact_store_merge(PGconn *conn, const char *source_id, const char *key, const char *flat,
			char **out, struct err *e)
{
	const char *params[3] = { source_id, key, flat };
	PGresult *res;
	int rc;

	*out = NULL;
	if (flat)
		res = PQexecParams(
			conn,
			"INSERT INTO source_contacts (source_id, contact_key, ids) "
			"VALUES ($1::uuid, $2, $3::jsonb) "
			"ON CONFLICT (source_id, contact_key) DO UPDATE "
			"SET ids = source_contacts.ids || excluded.ids, updated_at = now() "
			"RETURNING ids::text",
			3, NULL, params, NULL, NULL, 0);
	else
		res = PQexecParams(conn,
				   "SELECT ids::text FROM source_contacts "
				   "WHERE source_id = $1::uuid AND contact_key = $2",
				   2, NULL, params, NULL, NULL, 0);
	rc = db_check(conn, res, flat ? "could not merge a contact" : "could not read a contact",
		      e);
	if (rc != 0) {
		if (!db_is_broken(conn) && db_sqlstate_is_data_error(db_sqlstate(res)))
			rc = e->code = ERR_INVALID;
		goto out;
	}
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*out = xstrdup(PQgetvalue(res, 0, 0));
out:
	PQclear(res);
	return rc;
}
