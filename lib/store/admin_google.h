/*
 * admin_google.h - the SQL behind `adsengctl google …`: storing what a
 * Google command created (the conversion action id) in the destination's
 * settings.
 *
 * Same conventions as store/admin.h: bound parameters only, one
 * transaction per mutation with its audit_log row.  The connection belongs
 * to the calling thread; functions block.
 */
#ifndef ADSENG_STORE_ADMIN_GOOGLE_H
#define ADSENG_STORE_ADMIN_GOOGLE_H

#include <libpq-fe.h>

#include "core/err.h"

/*
 * Set settings.conversion_action of destination dest_id to action_id (the
 * digits of a conversion action, as `destination add --conversion-action`
 * stores it), in one transaction with an audit_log row
 * "destination.conversion_action" carrying the previous and the new id,
 * the action's name and its resource name.  Workers pick the change up
 * when their destination cache entry expires (about a minute).
 * ERR_NOTFOUND when there is no such destination, ERR_DB.
 */
int admin_google_set_conversion_action(PGconn *conn, const char *actor, const char *dest_id,
				       const char *action_id, const char *action_name,
				       const char *resource_name, struct err *e) WUR;

#endif
