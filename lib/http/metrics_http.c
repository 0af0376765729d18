/*
 * metrics_http.c - GET /metrics and the listener it lives on.
 *
 * [server] metrics_listen (default 127.0.0.1:9187, not reloadable) puts
 * /metrics on its own evhttp in the same loop, so the scrape port can stay
 * on loopback or a private network while webhooks face the internet; the
 * main listeners then answer /metrics with 404.  An empty value serves
 * /metrics on the main listeners instead.  The reply is rendered from
 * memory (pipeline/telemetry.h): a scrape never waits on the database.
 * GET /status is the operator's page of the same listener: HTML rendered
 * from the control thread's last snapshot (pipeline/status_view.h).
 * Loop thread only.
 */
#include "core/config.h"
#include "core/log.h"
#include "http/server_int.h"
#include "http/status_page.h"
#include "pipeline/status_view.h"
#include "pipeline/telemetry.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Prometheus text format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static void fill_live(struct http_server *s, struct telemetry_live *live)
{
	struct config *cfg = runtime_config(s->rt);

	memset(live, 0, sizeof(*live));
	live->connections_open = s->conns_open;
	if (s->ingest) {
		live->queue_requests = ingest_queued(s->ingest);
		live->queue_bytes = ingest_held_bytes(s->ingest);
	}
	live->worker_slots = cfg->worker_threads * cfg->worker_max_inflight;
	live->oauth = s->rt->oauth;
	config_unref(cfg);
}

void http_handle_metrics(struct http_server *s, struct evhttp_request *req)
{
	struct telemetry_live live;
	struct evbuffer *out;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		http_reply_error(req, 405, "method_not_allowed", "use GET");
		return;
	}
	fill_live(s, &live);
	f = open_memstream(&text, &len);
	if (f == NULL) {
		http_reply_error(req, 503, "unavailable", "out of memory");
		return;
	}
	telemetry_render(f, &live);
	fclose(f);
	out = evbuffer_new();
	evbuffer_add(out, text, len);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  METRICS_CONTENT_TYPE);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/* No script, no external asset: the policy says so to the browser too. */
#define STATUS_CSP "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"

void http_handle_status(struct http_server *s, struct evhttp_request *req)
{
	struct activity_snapshot *snap;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)s;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_add_header(h, "Allow", "GET");
		http_reply_error(req, 405, "method_not_allowed", "use GET");
		return;
	}
	f = open_memstream(&text, &len);
	if (f == NULL) {
		http_reply_error(req, 503, "unavailable", "out of memory");
		return;
	}
	snap = status_view_get();
	status_page_render(f, snap, (int64_t)time(NULL));
	activity_snapshot_unref(snap);
	fclose(f);
	out = evbuffer_new();
	evbuffer_add(out, text, len);
	free(text);
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(h, "Content-Security-Policy", STATUS_CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void metrics_gen_cb(struct evhttp_request *req, void *arg)
{
	struct http_server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	if (path && strcmp(path, "/metrics") == 0)
		http_handle_metrics(s, req);
	else if (path && strcmp(path, "/status") == 0)
		http_handle_status(s, req);
	else if (path && strcmp(path, "/healthz") == 0)
		http_reply_json(req, 200, "{\"status\":\"ok\"}");
	else
		http_reply_error(req, 404, "not_found", "no such route");
}

int http_metrics_start(struct http_server *s, const char *addr, struct err *e)
{
	int rc;

	if (addr == NULL || addr[0] == '\0')
		return 0;
	s->mhttp = evhttp_new(s->base);
	if (s->mhttp == NULL)
		return err_set(e, ERR_IO, "could not create the metrics listener");
	evhttp_set_max_body_size(s->mhttp, 4096);
	evhttp_set_max_headers_size(s->mhttp, 16 * 1024);
	evhttp_set_timeout(s->mhttp, 30);
	evhttp_set_allowed_methods(s->mhttp, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(s->mhttp, metrics_gen_cb, s);
	rc = http_bind_address(s->mhttp, addr, "metrics_listen", &s->mbound, e);
	if (rc != 0)
		return rc;
	log_info("serving metrics", "address=%s", addr);
	return 0;
}

void http_metrics_stop_listening(struct http_server *s)
{
	if (s->mhttp && s->mbound) {
		evhttp_del_accept_socket(s->mhttp, s->mbound);
		s->mbound = NULL;
	}
}

void http_metrics_free(struct http_server *s)
{
	if (s->mhttp)
		evhttp_free(s->mhttp);
	s->mhttp = NULL;
	s->mbound = NULL;
}
