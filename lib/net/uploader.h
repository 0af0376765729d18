/*
 * uploader.h - HTTP uploads to ad platforms with libcurl's multi interface
 * driven by a libevent loop (curl's socket API: CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION, then curl_multi_socket_action and
 * curl_multi_info_read; the pattern of curl's docs/examples/hiperfifo.c).
 *
 * One uploader per worker thread, touched only from that thread: its
 * CURLM, its easy handles and its events all belong to that loop.  The
 * multi handle keeps connections open between requests, so consecutive
 * batches to the same platform reuse one TLS connection (HTTP/2 where the
 * platform offers it).
 */
#ifndef ADSENG_NET_UPLOADER_H
#define ADSENG_NET_UPLOADER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/upload.h"

struct event_base;
struct uploader;

struct uploader_opts {
	long default_timeout_ms; /* whole request, when the request sets none */
	long connect_timeout_ms;
	size_t max_response; /* bytes of response body kept (rest dropped) */
	const char *user_agent;
};

/* Called on the loop thread when a request finished or failed.  resp is
 * valid only during the call. */
typedef void (*uploader_done_cb)(const struct upload_resp *resp, void *arg);

int uploader_new(struct event_base *base, const struct uploader_opts *opts, struct uploader **out,
		 struct err *e) WUR;

/*
 * Start a request: req->method POST (the default) sends req->body, GET
 * sends none.  The uploader takes ownership of *req (its contents are moved
 * out or, on failure, wiped; req is left empty).  A request that
 * upload_req_check refuses fails with ERR_INVALID.  On success cb is called
 * exactly once, later, from the loop — never from inside uploader_submit;
 * on failure it is never called.
 */
int uploader_submit(struct uploader *u, struct upload_req *req, uploader_done_cb cb, void *arg,
		    struct err *e) WUR;

/* Requests started and not yet finished. */
size_t uploader_inflight(const struct uploader *u);

/* Abort every transfer (callbacks are called with a transport error) and
 * free everything.  NULL is a no-op. */
void uploader_free(struct uploader *u);

/* Parse a Retry-After value (seconds or an HTTP date) into seconds from
 * now; -1 when absent or unparseable. */
long uploader_parse_retry_after(const char *value, int64_t now_s);

#endif
