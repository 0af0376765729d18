/*
 * server_int.h - the HTTP server's state, shared by server.c (set-up,
 * routing, replies) and webhook.c (the webhook route).  Loop thread only.
 */
#ifndef ADSENG_HTTP_SERVER_INT_H
#define ADSENG_HTTP_SERVER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "pipeline/ingest.h"
#include "pipeline/runtime.h"
#include "pipeline/source_set.h"

struct evhttp;
struct evhttp_request;
struct evhttp_bound_socket;
struct evhttp_connection;
struct bufferevent;
struct event;
struct http_server;
struct oauth_job;
struct admin_api;
struct config;

/* OAuth consent callbacks served at once (each on its own short thread). */
#define HTTP_OAUTH_JOBS 4

struct pending_slot {
	struct evhttp_request *req; /* NULL when the slot is free */
	bool orphan;		    /* client hung up: req is ours to free */
	uint32_t gen;
	int64_t start_us;
	struct http_server *server;
};

struct http_server {
	struct event_base *base;
	struct runtime *rt;
	struct evhttp *http;
	struct evhttp_bound_socket *bound[8];
	int n_bound;
	struct ingest *ingest;
	struct source_set *sources; /* NULL until the first load */
	size_t max_body;
	struct log_ratelimit rl_refused; /* refused webhooks: no log floods */
	/* Per-source token buckets, parallel to sources->v (source_limits.c). */
	struct source_limit *limits;
	struct log_ratelimit rl_limited;
	struct pending_slot *slots;
	uint32_t *free_list;
	uint32_t n_slots, n_free;
	/* The connection cap (conns.c). */
	int64_t conns_open, conns_max;
	bool conns_paused;
	struct log_ratelimit rl_conns;
	struct event *adopt;	    /* adopts fresh connections */
	struct bufferevent **fresh; /* accepted, close callback not yet set */
	size_t n_fresh, cap_fresh;
	/* The metrics listener (metrics_http.c); NULL when [server]
	 * metrics_listen is empty and /metrics is on the main one. */
	struct evhttp *mhttp;
	struct evhttp_bound_socket *mbound;
	/* OAuth consent callbacks (oauth_callback.c). */
	unsigned char *oauth_key; /* the state MAC key, sodium_malloc'd */
	struct oauth_job *oauth_jobs[HTTP_OAUTH_JOBS];
	/* The admin API (admin_api.c); NULL when not configured. */
	struct admin_api *admin;
};

/* Reply with a JSON body (a newline is appended). */
void http_reply_json(struct evhttp_request *req, int code, const char *json);
/* Reply {"error": error, "detail": detail}; 503/429 get Retry-After. */
void http_reply_error(struct evhttp_request *req, int code, const char *error, const char *detail);

#define HTTP_REQUEST_ID_MAX 65 /* with the NUL */

/*
 * The request's id, into out: the sender's X-Request-Id when it is a
 * plain token (1..64 of [A-Za-z0-9._:-]), else 16 random hex digits.  It
 * goes back in the answer's X-Request-Id header, on every log line about
 * the request and into the stored headers (X-Adseng-Request-Id), so a
 * sender's delivery, our log and the raw event can be matched.
 */
void http_request_id(struct evhttp_request *req, char out[HTTP_REQUEST_ID_MAX]);

/* Park req until its job finishes; ERR_BUSY when every slot is taken. */
int http_slot_take(struct http_server *s, struct evhttp_request *req, uint32_t *index,
		   uint32_t *gen);
/* Give a slot back without replying through it (submit failed). */
void http_slot_abandon(struct http_server *s, uint32_t index, uint32_t gen);
/* Give the slot back; returns its request if the client still waits for
 * the reply, else NULL (a hung-up client's request is freed here). */
struct evhttp_request *http_slot_release(struct http_server *s, uint32_t index, uint32_t gen);

/* Count connections and cap them at max (conns.c): call once, before
 * binding.  http_conns_flush() finishes the counting of connections
 * accepted in this loop turn (call before evhttp_free());
 * http_conns_cleanup() frees what it holds. */
void http_conns_init(struct http_server *s, int64_t max);
void http_conns_flush(struct http_server *s);
void http_conns_cleanup(struct http_server *s);
/* A counted connection closed: the close callback for a connection with no
 * waiting request (arg: the server), and what a slot's calls. */
void http_conn_closed_cb(struct evhttp_connection *evcon, void *arg);
void http_conn_gone(struct http_server *s);

/* The per-source rate limit (source_limits.c).  http_limits_swap():
 * build the buckets for set (carrying over those of sources still there)
 * before s->sources becomes set.  http_limits_allow(): take a token for
 * src (a source of s->sources); false after answering 429 with
 * Retry-After.  http_limits_cleanup(): free them. */
void http_limits_swap(struct http_server *s, const struct source_set *set);
bool http_limits_allow(struct http_server *s, struct evhttp_request *req, const struct source *src,
		       const char *request_id);
void http_limits_cleanup(struct http_server *s);

/* POST /v1/webhooks/{kind}/{source_id}; rest = "{kind}/{source_id}". */
void http_handle_webhook(struct http_server *s, struct evhttp_request *req, const char *rest);
/* POST {ops->route}{source_id}, a kind's own route; rest = "{source_id}". */
void http_handle_source_route(struct http_server *s, struct evhttp_request *req,
			      const struct source_ops *ops, const char *rest);

/* Bind addr ("host:port", "[v6]:port") on http; key names the config
 * key in messages. */
int http_bind_address(struct evhttp *http, const char *addr, const char *key,
		      struct evhttp_bound_socket **out, struct err *e) WUR;

/* GET /metrics (metrics_http.c). */
void http_handle_metrics(struct http_server *s, struct evhttp_request *req);

/* GET /status: the HTML status page (metrics_http.c, status_page.h). */
void http_handle_status(struct http_server *s, struct evhttp_request *req);
/* Start the separate metrics listener when [server] metrics_listen is set;
 * stop accepting on it; free it (before the main evhttp). */
int http_metrics_start(struct http_server *s, const char *addr, struct err *e) WUR;
void http_metrics_stop_listening(struct http_server *s);
void http_metrics_free(struct http_server *s);

/* GET /oauth/{provider}/callback; rest = "{provider}/callback". */
void http_handle_oauth(struct http_server *s, struct evhttp_request *req, const char *rest);
/* Derive the state key from the runtime's vault (start); wait for the
 * callback threads within the runtime's stop deadline (stop, before the
 * last loop turn that writes their replies); free what is left (cleanup,
 * after evhttp_free). */
int http_oauth_init(struct http_server *s, struct err *e) WUR;
void http_oauth_stop(struct http_server *s);
void http_oauth_cleanup(struct http_server *s);

/* The admin API on [server] admin_listen when [security] jwt_secret_file
 * is set (else nothing): load the key, start the worker, bind (start);
 * stop accepting; wait for the worker within the runtime's stop deadline
 * (stop, before the last loop turn that writes its replies); free (cleanup,
 * may be called after a failed start). */
int http_admin_start(struct http_server *s, const struct config *cfg, struct err *e) WUR;
void http_admin_stop_listening(struct http_server *s);
void http_admin_stop(struct http_server *s);
void http_admin_cleanup(struct http_server *s);

#endif
