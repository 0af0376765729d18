/*
 * conns.c - the connection cap, [server] max_connections.
 *
 * libevent 2.1 has no evhttp_set_max_connections() (2.2 has) and tells a
 * server about a connection only through the bufferevent callback
 * (evhttp_set_bevcb(), called for every accepted socket) and the
 * connection's close callback.  So: conn_bev_cb() counts the connection
 * and makes its bufferevent, holding a reference to it for a moment; once
 * evhttp has built the connection around it (before the loop polls
 * again), adopt_cb() finds the evhttp_connection as the bufferevent's
 * callback argument (evhttp_connection_base_bufferevent_new() in
 * release-2.1.12-stable sets it so) and sets the close callback that
 * counts the connection out.  While a request waits for its COMMIT its
 * slot owns the close callback and counts out itself (server.c).
 *
 * At the cap the listeners are disabled: new connections wait in the
 * kernel's accept backlog, costing us no memory, and are accepted as soon
 * as one closes.  Loop thread only.
 */
#include "core/log.h"
#include "core/mem.h"
#include "http/server_int.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <stdlib.h>

static void set_accepting(struct http_server *s, bool on)
{
	int suppressed;

	if (s->conns_paused == !on)
		return;
	s->conns_paused = !on;
	for (int i = 0; i < s->n_bound; i++) {
		struct evconnlistener *l = evhttp_bound_socket_get_listener(s->bound[i]);

		if (on)
			evconnlistener_enable(l);
		else
			evconnlistener_disable(l);
	}
	if (!on && log_ratelimit_allow(&s->rl_conns, 60, &suppressed))
		log_warn("connection limit reached; new connections wait",
			 "max_connections=%lld suppressed=%d", (long long)s->conns_max, suppressed);
}

void http_conn_gone(struct http_server *s)
{
	s->conns_open--;
	if (s->conns_open < s->conns_max)
		set_accepting(s, true);
}

void http_conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	http_conn_gone(arg);
}

static void adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *s = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < s->n_fresh; i++) {
		struct bufferevent *bev = s->fresh[i];
		bufferevent_data_cb readcb;
		void *evcon;

		bufferevent_getcb(bev, &readcb, NULL, NULL, &evcon);
		if (readcb != NULL && evcon != NULL)
			evhttp_connection_set_closecb(evcon, http_conn_closed_cb, s);
		else
			http_conn_gone(s); /* evhttp already dropped it */
		bufferevent_decref(bev);
	}
	s->n_fresh = 0;
}

/* evhttp's bufferevent factory: one per accepted connection. */
static struct bufferevent *conn_bev_cb(struct event_base *base, void *arg)
{
	struct http_server *s = arg;
	/* Options 0, as evhttp's own: it closes the socket itself. */
	struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);

	if (bev == NULL)
		return NULL;
	if (s->n_fresh == s->cap_fresh) {
		s->cap_fresh = s->cap_fresh ? 2 * s->cap_fresh : 16;
		s->fresh = xrealloc(s->fresh, s->cap_fresh * sizeof(*s->fresh));
	}
	bufferevent_incref(bev);
	s->fresh[s->n_fresh++] = bev;
	if (s->n_fresh == 1)
		event_active(s->adopt, EV_READ, 0);
	if (++s->conns_open >= s->conns_max)
		set_accepting(s, false); /* the accept loop stops here too */
	return bev;
}

void http_conns_init(struct http_server *s, int64_t max)
{
	s->conns_max = max;
	s->adopt = event_new(s->base, -1, 0, adopt_cb, s);
	evhttp_set_bevcb(s->http, conn_bev_cb, s);
}

void http_conns_flush(struct http_server *s)
{
	if (s->adopt)
		adopt_cb(-1, 0, s);
}

void http_conns_cleanup(struct http_server *s)
{
	http_conns_flush(s);
	if (s->adopt)
		event_free(s->adopt);
	s->adopt = NULL;
	free(s->fresh);
	s->fresh = NULL;
}
