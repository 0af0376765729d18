/*
 * dest_admin_store.h - changes to a configured destination beyond pause
 * and resume: settings merged in place (`adsengctl destination update`,
 * later the admin API's update), each with its audit_log row in the same
 * statement.  The destinations trigger notifies adseng_catalog, so the
 * workers reload the destination.
 */
#ifndef ADSENG_STORE_DEST_ADMIN_STORE_H
#define ADSENG_STORE_DEST_ADMIN_STORE_H

#include <libpq-fe.h>

#include "core/err.h"

struct cJSON;

/*
 * Merge patch (a JSON object of settings, already validated) into
 * destination id's settings, top-level keys replaced, and write the audit
 * row "destination.update" ({"id", "settings": patch}) with actor.  One
 * autocommitted statement.  0, ERR_NOTFOUND, ERR_NOMEM or ERR_DB.
 */
int dest_admin_merge_settings(PGconn *conn, const char *actor, const char *id,
			      const struct cJSON *patch, struct err *e) WUR;

#endif
