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

struct pending_slot {
	struct evhttp_request *req; /* NULL when the slot is free */
	bool orphan;		    /* client hung up: req is ours to free */
	uint32_t gen;
	int64_t start_us;
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
	struct pending_slot *slots;
	uint32_t *free_list;
	uint32_t n_slots, n_free;
};

/* Reply with a JSON body (a newline is appended). */
void http_reply_json(struct evhttp_request *req, int code, const char *json);
/* Reply {"error": error, "detail": detail}; 503/429 get Retry-After. */
void http_reply_error(struct evhttp_request *req, int code, const char *error, const char *detail);

/* Park req until its job finishes; ERR_BUSY when every slot is taken. */
int http_slot_take(struct http_server *s, struct evhttp_request *req, uint32_t *index,
		   uint32_t *gen);
/* Give a slot back without replying through it (submit failed). */
void http_slot_abandon(struct http_server *s, uint32_t index, uint32_t gen);

/* POST /v1/webhooks/{kind}/{source_id}; rest = "{kind}/{source_id}". */
void http_handle_webhook(struct http_server *s, struct evhttp_request *req, const char *rest);

#endif
