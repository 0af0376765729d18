/*
 * fetch.h - one HTTP request, sent and waited for: for callers that may
 * block (adsengctl, the control thread, a short-lived helper thread of the
 * HTTP server), never for an event loop thread.  It is the uploader on a
 * private event base, so TLS, timeouts, Retry-After and size limits behave
 * exactly as for uploads.
 */
#ifndef ADSENG_NET_FETCH_H
#define ADSENG_NET_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/upload.h"

/* What came back, owned (fetch_result_cleanup).  resp.body points into
 * body and is NUL-terminated. */
struct fetch_result {
	struct upload_resp resp;
	char *body;
};

/*
 * Send req (ownership taken, as uploader_submit) and wait for the answer;
 * req->timeout_ms bounds it (default 30 s).  0 with *out filled (an HTTP
 * error status is still 0: look at out->resp), or an error when the
 * request could not be started (ERR_INVALID, ERR_NOMEM, ERR_IO).
 */
int net_fetch(struct upload_req *req, struct fetch_result *out, struct err *e) WUR;

void fetch_result_cleanup(struct fetch_result *r);

#endif
