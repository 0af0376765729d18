/*
 * server.c - evhttp set-up, routing, and the table of requests waiting for
 * their COMMIT.
 *
 * A waiting request is found again by slot index + generation (STYLE.md
 * threads rule 3).
 *
 * What libevent does with a waiting request whose client hangs up (http.c
 * at release-2.1.12-stable, read for issue 5):
 *  - evhttp_handle_request() sets req->userdone = 0 and disables EV_READ
 *    before it calls us, and nothing enables reading (or the read/write
 *    timeouts) again until we reply: evhttp_start_write_().  A hang-up
 *    is therefore only seen once we answer; by then userdone is 1, the
 *    write or the next read fails, and evhttp_connection_free() frees the
 *    request with the connection.  No leak, and the close callback never
 *    runs for a waiting request on this path (http_slot_release() resets it).
 *  - Were the connection to fail while we still hold the request,
 *    evhttp_connection_incoming_fail() would see !req->userdone, take the
 *    request off evcon->requests "so that it will not be freed", set
 *    req->evcon = NULL, and free only the connection (after calling the
 *    close callback): the request would be ours, and evhttp_send() on it
 *    just calls evhttp_request_free().
 *  - evhttp_free() frees every connection, and with it (through
 *    evhttp_request_free_()) every request still queued on it, unless the
 *    request is EVHTTP_USER_OWNED.
 * So that every path frees a request exactly once, the close callback of a
 * waiting request takes ownership (evhttp_request_own()) and marks the
 * slot an orphan; http_slot_release() (or http_server_free()) frees it.  The
 * data is committed either way; only the reply is dropped.
 */
#include "http/server.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/server_int.h"
#include "pipeline/telemetry.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <sodium.h>
#include <string.h>

void http_reply_json(struct evhttp_request *req, int code, const char *json)
{
	struct evbuffer *out = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", "application/json");
	evbuffer_add(out, json, strlen(json));
	evbuffer_add(out, "\n", 1);
	evhttp_send_reply(req, code, NULL, out);
	evbuffer_free(out);
}

void http_reply_error(struct evhttp_request *req, int code, const char *error, const char *detail)
{
	char body[700];
	char d[512];

	/* detail comes from our own messages; keep it JSON-safe. */
	snprintf(d, sizeof(d), "%s", detail ? detail : "");
	for (char *p = d; *p; p++) {
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '\'';
	}
	snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":\"%s\"}", error, d);
	/* A caller that knows better (the rate limit) set its own. */
	if ((code == 503 || code == 429) &&
	    evhttp_find_header(evhttp_request_get_output_headers(req), "Retry-After") == NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
	http_reply_json(req, code, body);
}

static bool request_id_ok(const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n >= HTTP_REQUEST_ID_MAX)
		return false;
	for (const char *p = v; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("._:-", *p))
			return false;
	}
	return true;
}

void http_request_id(struct evhttp_request *req, char out[HTTP_REQUEST_ID_MAX])
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");

	if (request_id_ok(v)) {
		snprintf(out, HTTP_REQUEST_ID_MAX, "%s", v);
	} else {
		unsigned char b[8];

		randombytes_buf(b, sizeof(b));
		sodium_bin2hex(out, HTTP_REQUEST_ID_MAX, b, sizeof(b));
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Request-Id", out);
}

static void slot_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct pending_slot *slot = arg;

	(void)evcon;
	/* The connection goes; the request stays ours (see the top). */
	evhttp_request_own(slot->req);
	slot->orphan = true;
	http_conn_gone(slot->server);
}

int http_slot_take(struct http_server *s, struct evhttp_request *req, uint32_t *index,
		   uint32_t *gen)
{
	struct pending_slot *slot;
	uint32_t i;

	if (s->n_free == 0)
		return ERR_BUSY;
	i = s->free_list[--s->n_free];
	slot = &s->slots[i];
	slot->req = req;
	slot->orphan = false;
	slot->gen++;
	slot->start_us = clock_mono_us();
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), slot_closed_cb, slot);
	*index = i;
	*gen = slot->gen;
	return 0;
}

struct evhttp_request *http_slot_release(struct http_server *s, uint32_t index, uint32_t gen)
{
	struct pending_slot *slot;
	struct evhttp_request *req;

	if (index >= s->n_slots || s->slots[index].gen != gen || s->slots[index].req == NULL)
		return NULL;
	slot = &s->slots[index];
	req = slot->req;
	slot->req = NULL;
	s->free_list[s->n_free++] = index;
	if (slot->orphan) {
		slot->orphan = false;
		evhttp_request_free(req);
		return NULL;
	}
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), http_conn_closed_cb, s);
	return req;
}

void http_slot_abandon(struct http_server *s, uint32_t index, uint32_t gen)
{
	(void)http_slot_release(s, index, gen);
}

/* The status job_done_cb answers job with (for the metrics). */
static int answer_code(const struct ingest_job *job)
{
	switch (job->status) {
	case INGEST_ACCEPTED:
	case INGEST_DUPLICATE:
		return 200;
	case INGEST_UNAVAILABLE:
		return job->unavailable_status ? job->unavailable_status : 503;
	case INGEST_REJECTED:
		return 500;
	}
	return 500;
}

/* The 200 of a stored (or duplicate) request: its kind's per-event answer
 * when it carries several events, else the raw event's. */
static void reply_stored(struct evhttp_request *req, const struct ingest_job *job)
{
	char body[128];
	char *text;

	if (job->items.n > 0 && job->ops && job->ops->items_answer) {
		text = job->ops->items_answer(&job->items);
		if (text == NULL) {
			/* Stored: a retry gets the verdicts (duplicates). */
			http_reply_error(req, 500, "no_answer",
					 "stored, but out of memory for the answer; retry");
			return;
		}
		http_reply_json(req, 200, text);
		free(text);
		return;
	}
	if (job->status == INGEST_DUPLICATE) {
		http_reply_json(req, 200, "{\"status\":\"duplicate\"}");
		return;
	}
	snprintf(body, sizeof(body), "{\"status\":\"accepted\",\"id\":%lld}",
		 (long long)job->raw_id);
	http_reply_json(req, 200, body);
}

static void job_done_cb(struct ingest_job *job, void *arg)
{
	struct http_server *s = arg;
	struct evhttp_request *req = http_slot_release(s, job->slot, job->gen);

	if (req == NULL) {
		/* The client hung up; what was committed stays committed. */
		ingest_job_free(job);
		return;
	}
	telemetry_ingest_answered(job->kind, answer_code(job));
	switch (job->status) {
	case INGEST_ACCEPTED:
	case INGEST_DUPLICATE:
		reply_stored(req, job);
		break;
	case INGEST_UNAVAILABLE:
		http_reply_error(req, job->unavailable_status ? job->unavailable_status : 503,
				 "unavailable", "database unavailable; retry later");
		break;
	case INGEST_REJECTED:
		http_reply_error(req, 500, "not_stored",
				 "the database refused this webhook's data; see the daemon log");
		break;
	}
	ingest_job_free(job);
}

static void handle_healthz(struct evhttp_request *req)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		http_reply_error(req, 405, "method_not_allowed", "use GET");
		return;
	}
	http_reply_json(req, 200, "{\"status\":\"ok\"}");
}

static void handle_readyz(struct http_server *s, struct evhttp_request *req)
{
	bool db = ingest_is_ready(s->ingest);
	bool sources = s->sources != NULL;
	char body[160];

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		http_reply_error(req, 405, "method_not_allowed", "use GET");
		return;
	}
	snprintf(body, sizeof(body),
		 "{\"status\":\"%s\",\"database\":%s,\"sources_loaded\":%s,\"queued\":%zu}",
		 db && sources ? "ready" : "not_ready", db ? "true" : "false",
		 sources ? "true" : "false", ingest_queued(s->ingest));
	http_reply_json(req, db && sources ? 200 : 503, body);
}

static void gen_cb(struct evhttp_request *req, void *arg)
{
	struct http_server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const struct source_ops *ops;
	const char *rest;

	/* evhttp calls us with the body cut short when it exceeded
	 * max_body: answer 413 and store nothing. */
	if (evhttp_request_get_response_code(req) == HTTP_ENTITYTOOLARGE) {
		http_reply_error(req, 413, "too_large", "request body over [server] max_body");
		return;
	}
	if (path == NULL) {
		http_reply_error(req, 400, "bad_request", "unparseable request URI");
		return;
	}
	if (strcmp(path, "/healthz") == 0)
		handle_healthz(req);
	else if (strcmp(path, "/readyz") == 0)
		handle_readyz(s, req);
	else if (str_has_prefix(path, "/v1/webhooks/"))
		http_handle_webhook(s, req, path + strlen("/v1/webhooks/"));
	else if (strcmp(path, "/metrics") == 0 && s->mhttp == NULL)
		http_handle_metrics(s, req);
	else if (strcmp(path, "/status") == 0 && s->mhttp == NULL)
		http_handle_status(s, req);
	else if (str_has_prefix(path, "/oauth/"))
		http_handle_oauth(s, req, path + strlen("/oauth/"));
	else if ((ops = source_ops_find_route(path, &rest)) != NULL)
		http_handle_source_route(s, req, ops, rest);
	else
		http_reply_error(req, 404, "not_found", "no such route");
}

int http_bind_address(struct evhttp *http, const char *addr, const char *key,
		      struct evhttp_bound_socket **out, struct err *e)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	long port;
	char *end;

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
		return err_set(e, ERR_CONFIG, "[server] %s: bad address \"%s\"", key, addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	/* [::1]:8080 */
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return err_set(e, ERR_CONFIG, "[server] %s: bad port in \"%s\"", key, addr);
	*out = evhttp_bind_socket_with_handle(http, host[0] ? host : "0.0.0.0", (ev_uint16_t)port);
	if (*out == NULL)
		return err_set(e, ERR_IO, "could not listen on %s", addr);
	return 0;
}

static int bind_all(struct http_server *s, const struct config *cfg, struct err *e)
{
	for (int i = 0; i < cfg->n_listen; i++) {
		int rc = http_bind_address(s->http, cfg->listen[i], "listen", &s->bound[s->n_bound],
					   e);

		if (rc != 0)
			return rc;
		s->n_bound++;
		log_info("listening", "address=%s", cfg->listen[i]);
	}
	return 0;
}

int http_server_start(struct event_base *base, struct runtime *rt, struct http_server **out,
		      struct err *e)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	struct config *cfg = runtime_config(rt);
	struct ingest_opts io;
	int rc;

	telemetry_init(); /* before the ingest writers count */
	s->base = base;
	s->rt = rt;
	/* Requests wait either in the queue or in a writer's batch. */
	s->n_slots =
		(uint32_t)(cfg->ingest_queue_max + cfg->ingest_writers * cfg->ingest_batch_max);
	s->slots = xcalloc(s->n_slots, sizeof(*s->slots));
	s->free_list = xcalloc(s->n_slots, sizeof(*s->free_list));
	for (uint32_t i = 0; i < s->n_slots; i++) {
		s->free_list[s->n_free++] = s->n_slots - 1 - i;
		s->slots[i].server = s;
	}
	s->max_body = (size_t)cfg->max_body;
	s->http = evhttp_new(base);
	evhttp_set_max_body_size(s->http, (ev_ssize_t)cfg->max_body);
	evhttp_set_max_headers_size(s->http, 64 * 1024);
	evhttp_set_timeout(s->http, (int)((cfg->request_timeout_ms + 999) / 1000));
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(s->http, gen_cb, s);
	http_conns_init(s, cfg->max_connections);
	io.db_url = cfg->db_url;
	io.rt = rt;
	io.writers = (int)cfg->ingest_writers;
	io.queue_max = (size_t)cfg->ingest_queue_max;
	io.queue_bytes = (size_t)cfg->ingest_queue_bytes;
	io.batch_max = (size_t)cfg->ingest_batch_max;
	rc = ingest_new(base, &io, job_done_cb, s, &s->ingest, e);
	if (rc != 0)
		goto fail;
	rc = http_oauth_init(s, e);
	if (rc != 0)
		goto fail;
	rc = bind_all(s, cfg, e);
	if (rc == 0)
		rc = http_metrics_start(s, cfg->metrics_listen, e);
	if (rc != 0)
		goto fail;
	rc = http_admin_start(s, cfg, e);
	if (rc != 0)
		goto fail;
	config_unref(cfg);
	*out = s;
	return 0;
fail:
	config_unref(cfg);
	http_server_free(s);
	return rc;
}

void http_server_set_sources(struct http_server *s, struct source_set *set)
{
	struct source_set *old = s->sources;

	http_limits_swap(s, set);
	s->sources = set;
	source_set_unref(old);
}

void http_server_stop_listening(struct http_server *s)
{
	for (int i = 0; i < s->n_bound; i++)
		evhttp_del_accept_socket(s->http, s->bound[i]);
	s->n_bound = 0;
	http_admin_stop_listening(s);
	http_metrics_stop_listening(s);
}

bool http_server_is_idle(const struct http_server *s)
{
	return s->n_free == s->n_slots;
}

void http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	if (s->ingest) {
		ingest_stop(s->ingest);
		ingest_free(s->ingest); /* answers the last finished jobs */
	}
	http_oauth_stop(s); /* their replies are queued on the loop */
	http_admin_stop(s);
	/* Let evhttp write those last replies. */
	event_base_loop(s->base, EVLOOP_NONBLOCK);
	http_conns_flush(s);
	http_metrics_free(s);
	if (s->http)
		evhttp_free(s->http);
	/* Requests whose connection evhttp_free() closed while they still
	 * waited are ours now (slot_closed_cb); none wait after a clean stop. */
	for (uint32_t i = 0; i < s->n_slots; i++) {
		if (s->slots[i].req && s->slots[i].orphan)
			evhttp_request_free(s->slots[i].req);
	}
	http_oauth_cleanup(s);
	http_admin_cleanup(s);
	http_conns_cleanup(s);
	http_limits_cleanup(s);
	source_set_unref(s->sources);
	free(s->slots);
	free(s->free_list);
	free(s);
}
