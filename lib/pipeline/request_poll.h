/*
 * request_poll.h - ask platforms how the requests they accepted were
 * processed (Data Manager's requestStatus), for the control thread.
 *
 * A platform that processes uploads asynchronously answers an upload with
 * a request id only; whether the events were matched and counted it says
 * minutes later.  Each accepted request is queried first after its kind's
 * delay, then with doubling intervals while it is still processing, until
 * a final answer or three days.  The answers go to platform_requests,
 * where `deliveries show` and `stats` read them.  Generic: the kind's
 * status_build/status_parse hooks speak the platform.
 */
#ifndef ADSENG_PIPELINE_REQUEST_POLL_H
#define ADSENG_PIPELINE_REQUEST_POLL_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "core/config.h"
#include "pipeline/dest_cache.h"
#include "pipeline/runtime.h"

/*
 * Query up to a small batch of due requests.  Blocking (HTTP with a short
 * timeout), so only for a thread without an event loop; stop() is asked
 * between requests and ends the batch early when true.  0, or ERR_DB when
 * the connection failed (the caller recovers it).
 */
int request_poll_run(PGconn *conn, struct runtime *rt, const struct config *cfg,
		     struct dest_cache *dests, bool (*stop)(void *), void *stop_arg,
		     struct err *e) WUR;

#endif
