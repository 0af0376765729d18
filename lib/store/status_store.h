/*
 * status_store.h - the numbers of the service summary (core/svc_status.h)
 * in one statement: the due backlog (counted up to SVC_DUE_CAP, so the
 * cost stays bounded however large it is), deliveries in flight, the age
 * of the oldest due one, and the breakers that are not closed.  Run by the
 * control thread every few seconds, never per request.
 */
#ifndef ADSENG_STORE_STATUS_STORE_H
#define ADSENG_STORE_STATUS_STORE_H

#include <libpq-fe.h>

#include "core/err.h"
#include "core/svc_status.h"

/* Fill *out (known = true) from the database; ERR_DB on failure. */
int status_store_load(PGconn *conn, struct svc_counts *out, struct err *e) WUR;

#endif
