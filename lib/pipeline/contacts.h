/*
 * contacts.h - stage 1's memory of the people a source names by its own id
 * (source_ops.contact): what each event tells about its person is merged
 * into source_contacts, and the conversions of that event get the
 * identifiers and click ids they lack from what is known.
 */
#ifndef ADSENG_PIPELINE_CONTACTS_H
#define ADSENG_PIPELINE_CONTACTS_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/conversion.h"
#include "core/err.h"
#include "sources/source.h"

/*
 * For a source kind with a contact hook: merge what ev says about its
 * person and fill convs->v[first..n) from what is then known (a
 * conversion's own values win).  A no-op for other kinds.  Runs inside the
 * caller's normalize transaction on conn; on failure (ERR_INVALID: the
 * database refused the data, ERR_DB otherwise) that transaction is
 * aborted.  The worker thread owning conn.
 */
int contacts_apply(PGconn *conn, const struct source_ops *ops, const struct raw_event *ev,
		   struct conv_list *convs, size_t first, struct err *e) WUR;

/*
 * The flat form stored in source_contacts.ids ({"ids.meta.em": …,
 * "click.gclid": …}) of c's identifiers and click ids, as JSON text
 * (cJSON_free), and back: contacts_unflatten returns a conversion holding
 * only those (NULL when the text is not a valid flat object).  Pure.
 */
char *contacts_flatten(const struct conversion *c);
struct conversion *contacts_unflatten(const char *flat);

/* Copy into c every identifier and click id of known that c lacks. */
void contacts_fill(struct conversion *c, const struct conversion *known);

#endif
