/*
 * fetch.c - a blocking request on a private event base (fetch.h).
 */
#include "net/fetch.h"
#include "core/mem.h"
#include "net/uploader.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_DEFAULT_TIMEOUT_MS 30000

struct fetch_wait {
	struct fetch_result *out;
	struct event_base *base;
	bool done;
};

static void fetch_done_cb(const struct upload_resp *resp, void *arg)
{
	struct fetch_wait *w = arg;

	w->out->resp = *resp;
	w->out->body = xstrndup(resp->body ? resp->body : "", resp->body_len);
	w->out->resp.body = w->out->body;
	w->done = true;
	event_base_loopbreak(w->base);
}

int net_fetch(struct upload_req *req, struct fetch_result *out, struct err *e)
{
	struct uploader_opts opts = { .default_timeout_ms = FETCH_DEFAULT_TIMEOUT_MS,
				      .connect_timeout_ms = 10000 };
	struct fetch_wait w = { .out = out };
	struct uploader *u = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	w.base = event_base_new();
	if (w.base == NULL) {
		upload_req_cleanup(req);
		return err_set(e, ERR_NOMEM, "could not create an event base");
	}
	rc = uploader_new(w.base, &opts, &u, e);
	if (rc == 0)
		rc = uploader_submit(u, req, fetch_done_cb, &w, e);
	else
		upload_req_cleanup(req);
	/* The uploader's timeout ends every transfer, so this returns; 1 (no
	 * events left) before the callback would be an uploader bug. */
	while (rc == 0 && !w.done) {
		if (event_base_dispatch(w.base) != 0 && !w.done)
			rc = err_set(e, ERR_IO, "event loop ended before the answer");
	}
	uploader_free(u);
	event_base_free(w.base);
	if (rc != 0)
		fetch_result_cleanup(out);
	return rc;
}

void fetch_result_cleanup(struct fetch_result *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}
