/*
 * server.h - the HTTP front: evhttp on the main loop, routing, the webhook
 * handlers, health and readiness.  Verified webhooks go to the ingest
 * writers (pipeline/ingest.h) and are answered only after their COMMIT.
 * Everything here runs on the loop thread; the loop never blocks.
 */
#ifndef ADSENG_HTTP_SERVER_H
#define ADSENG_HTTP_SERVER_H

#include <stdbool.h>
#include <stdio.h>

#include "core/err.h"
#include "pipeline/runtime.h"
#include "pipeline/source_set.h"

struct event_base;
struct http_server;

/* Bind every [server] listen address and start the ingest writers. */
int http_server_start(struct event_base *base, struct runtime *rt, struct http_server **out,
		      struct err *e) WUR;

/* Install a new source snapshot (takes the caller's reference). */
void http_server_set_sources(struct http_server *s, struct source_set *set);

/* Stop accepting connections; requests already queued still get answers. */
void http_server_stop_listening(struct http_server *s);

/* True when no request is waiting for its COMMIT (shutdown drains). */
bool http_server_is_idle(const struct http_server *s);

/* Stop the ingest writers (they finish the queue) and free everything.
 * Runs the loop briefly so the last replies are written. */
void http_server_free(struct http_server *s);

/* Print the admin API's routes ("METHOD /v1/admin/path/{param}", sorted,
 * one a line) from the table its dispatcher uses (`adsengd
 * --admin-routes`); needs no config, database or loop. */
void http_admin_print_routes(FILE *f);

#endif
