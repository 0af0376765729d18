/*
 * admin_api.c - the admin HTTP API under /v1/admin/ on its own listener
 * ([server] admin_listen), served only when [security] jwt_secret_file is
 * set: the listener, the per-token rate limit, the slots and the worker.
 * What the routes are and do is admin_ops.c's table (the same one
 * `adsengd --admin-routes` prints); parsing the path, query and body is
 * admin_req.c's.
 *
 * Every request carries "Authorization: Bearer <JWT>" (core/jwt.h); a
 * missing or bad token is 401 {"error","detail"} decided on the loop
 * thread (CPU only), then the token's bucket (429 with Retry-After), the
 * route (404, 405 with Allow), its role (403), the query and body (400).
 * Role agency sees its own tenant's objects only (an object of another
 * tenant is 404, as if it did not exist); role admin sees every tenant.
 *
 * The queries block, so they never run on the loop: a verified request
 * becomes a job that owns copies of its inputs (and its parsed body),
 * parked in one of our slots (index + generation, as server.c does for
 * webhooks), queued to ONE admin worker thread with its own database
 * connection (db_link, the daemon's session limits, admin_session_setup
 * for UTC timestamps).  The worker runs the route's handler, writes the
 * answer into the job and hands it back with event_base_once; done_cb on
 * the loop replies through the slot if the client is still there.  One
 * thread is enough: the admin API is for people and dashboards, not
 * traffic; a full queue answers 503.
 *
 * A separate evhttp, so the admin port is never the public webhook port
 * and the webhook connection cap (conns.c) does not count it.
 */
#include "core/clock.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/ratelimit_map.h"
#include "http/admin_int.h"
#include "core/mem.h"
#include "core/thread.h"
#include "http/server_int.h"
#include "store/admin.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define ADMIN_SLOTS    32 /* requests waiting at once; 503 beyond */
#define ADMIN_PREFIX   "/v1/admin/"
#define ADMIN_MAX_BODY (64 * 1024)
#define RATE_SLOTS     1024 /* tokens with a bucket; the stalest goes beyond */

struct admin_slot {
	struct evhttp_request *req; /* NULL when free */
	bool orphan;		    /* client hung up: req is ours to free */
	uint32_t gen;
	struct admin_api *api;
};

struct admin_api {
	struct http_server *s;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	char *key; /* sodium_malloc'd */
	size_t keylen;
	struct admin_slot slots[ADMIN_SLOTS];
	struct log_ratelimit rl_refused;
	struct ratelimit_map *rates; /* per token; the loop thread's */
	/* Worker: the queue is guarded by mu. */
	pthread_t thread;
	bool started, joined;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	STAILQ_HEAD(, admin_job) queue;
	struct db_link link; /* the worker's */
};

/* ---- slots (loop thread) --------------------------------------------------------- */

static void slot_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct admin_slot *slot = arg;

	(void)evcon;
	/* As in server.c: the waiting request is ours now. */
	evhttp_request_own(slot->req);
	slot->orphan = true;
}

static int slot_take(struct admin_api *api, struct evhttp_request *req, uint32_t *index,
		     uint32_t *gen)
{
	for (uint32_t i = 0; i < ADMIN_SLOTS; i++) {
		struct admin_slot *slot = &api->slots[i];

		if (slot->req)
			continue;
		slot->req = req;
		slot->orphan = false;
		slot->gen++;
		slot->api = api;
		evhttp_connection_set_closecb(evhttp_request_get_connection(req), slot_closed_cb,
					      slot);
		*index = i;
		*gen = slot->gen;
		return 0;
	}
	return ERR_BUSY;
}

static struct evhttp_request *slot_release(struct admin_api *api, uint32_t index, uint32_t gen)
{
	struct admin_slot *slot = &api->slots[index];
	struct evhttp_request *req = slot->req;

	if (req == NULL || slot->gen != gen)
		return NULL;
	slot->req = NULL;
	if (slot->orphan) {
		slot->orphan = false;
		evhttp_request_free(req);
		return NULL;
	}
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
	return req;
}

/* ---- the per-token rate limit (loop thread) ------------------------------------------ */

/* Take one request from the bucket of who: its sub and tenant, so the
 * same person's tokens share one and a new token gets no fresh burst.  The
 * limits come from the config of the moment (a reload applies to the next
 * request); the map is bounded (core/ratelimit_map.h). */
static bool admin_rate_take(struct admin_api *api, const struct jwt_claims *who, int64_t *retry_s)
{
	struct config *cfg = runtime_config(api->s->rt);
	struct ratelimit_policy p = { (double)cfg->ratelimit_admin_rate,
				      (double)cfg->ratelimit_admin_burst };
	char key[RATELIMIT_MAP_KEY_MAX];

	config_unref(cfg);
	*retry_s = 0;
	snprintf(key, sizeof(key), "%lld|%s", (long long)who->tenant, who->sub);
	return ratelimit_map_take(api->rates, key, &p, clock_mono_us(), retry_s);
}

/* ---- the worker ------------------------------------------------------------------ */

static void job_answer(struct admin_job *job, int status, const char *error, const char *detail)
{
	cJSON *o = cJSON_CreateObject();

	job->status = status;
	free(job->answer);
	job->answer = NULL;
	if (o && cJSON_AddStringToObject(o, "error", error) &&
	    cJSON_AddStringToObject(o, "detail", detail))
		job->answer = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
}

/* The "error" word of a status. */
static const char *status_error(int status)
{
	switch (status) {
	case 400:
		return "bad_request";
	case 403:
		return "forbidden";
	case 404:
		return "not_found";
	case 409:
		return "conflict";
	case 422:
		return "unprocessable";
	case 502:
		return "bad_gateway";
	case 503:
		return "unavailable";
	default:
		return "internal";
	}
}

/* A handler's failure as an answer: the status it chose (422, 502), else
 * by the code: 400 a field, 404, 409, 503 (database), 500. */
static void job_fail(struct admin_job *job, const struct err *e)
{
	int status = job->status >= 400 ? job->status : 500;

	if (job->status < 400) {
		if (e->code == ERR_INVALID || e->code == ERR_TOOBIG)
			status = 400;
		else if (e->code == ERR_NOTFOUND)
			status = 404;
		else if (e->code == ERR_CONFLICT)
			status = 409;
		else if (e->code == ERR_DB)
			status = 503;
	}
	if (status == 503 && e->code == ERR_DB)
		job_answer(job, 503, "unavailable", "database unavailable; retry later");
	else
		job_answer(job, status, status_error(status), e->msg);
}

static int setup_cb(PGconn *conn, void *arg, struct err *e)
{
	(void)arg;
	return admin_session_setup(conn, e);
}

static void job_run(struct admin_api *api, struct admin_job *job)
{
	struct config *cfg = runtime_config(api->s->rt);
	struct db_session sess;
	struct err e = { 0 };
	cJSON *out = NULL;
	bool fresh;

	db_session_from_config(&sess, cfg);
	if (db_link_ensure(&api->link, cfg->db_url, &sess, setup_cb, NULL, &fresh) != 0) {
		job_answer(job, 503, "unavailable", "database unavailable; retry later");
		goto out;
	}
	if (job->route->run(api->link.conn, cfg, job, &out, &e) != 0) {
		if (e.code == ERR_DB)
			(void)db_link_recover(&api->link);
		job_fail(job, &e);
		goto out;
	}
	job->answer = cJSON_PrintUnformatted(out);
	if (job->status == 0)
		job->status = 200;
	if (job->answer == NULL)
		job_answer(job, 500, "internal", "out of memory");
out:
	cJSON_Delete(out);
	config_unref(cfg);
}

static void done_cb(evutil_socket_t fd, short what, void *arg);

static void *worker_main(void *arg)
{
	struct admin_api *api = arg;
	const struct timeval now = { 0, 0 };
	struct admin_job *job;

	pthread_mutex_lock(&api->mu);
	for (;;) {
		while (!api->stopping && STAILQ_EMPTY(&api->queue))
			pthread_cond_wait(&api->cv, &api->mu);
		job = STAILQ_FIRST(&api->queue);
		if (job == NULL)
			break; /* stopping, nothing left */
		STAILQ_REMOVE_HEAD(&api->queue, next);
		if (api->stopping) {
			job_answer(job, 503, "unavailable", "shutting down");
		} else {
			pthread_mutex_unlock(&api->mu);
			job_run(api, job);
			pthread_mutex_lock(&api->mu);
		}
		if (event_base_once(api->base, -1, EV_TIMEOUT, done_cb, job, &now) != 0)
			log_error("could not hand an admin request back to the HTTP loop", NULL);
	}
	pthread_mutex_unlock(&api->mu);
	db_link_drop(&api->link);
	return NULL;
}

/* ---- replies (loop thread) -------------------------------------------------------- */

static void reply(struct evhttp_request *req, int status, const char *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	http_reply_json(req, status, body ? body : "{\"error\":\"internal\",\"detail\":\"\"}");
}

static void job_free(struct admin_job *job)
{
	if (job == NULL)
		return;
	free(job->answer);
	cJSON_Delete(job->body);
	free(job);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_job *job = arg;
	struct evhttp_request *req = slot_release(job->api, job->slot, job->gen);

	(void)fd;
	(void)what;
	log_info("admin request", "sub=\"%s\" path=%s status=%d", job->who.sub, job->path,
		 job->status);
	if (req)
		reply(req, job->status ? job->status : 500, job->answer);
	job_free(job);
}

/* ---- the routes (loop thread) ------------------------------------------------------ */

static void refuse(struct admin_api *api, struct evhttp_request *req, int status, const char *error,
		   const char *detail)
{
	int suppressed;

	if (status == 401) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer realm=\"adsengd\"");
		if (log_ratelimit_allow(&api->rl_refused, 60, &suppressed))
			log_info("admin request refused", "reason=\"%s\" suppressed=%d", detail,
				 suppressed);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	http_reply_error(req, status, error, detail);
}

static int authenticate(struct admin_api *api, struct evhttp_request *req, struct jwt_claims *who,
			struct err *e)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	if (h == NULL)
		return err_set(e, ERR_AUTH, "missing Authorization: Bearer token");
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return err_set(e, ERR_AUTH, "the Authorization scheme must be Bearer");
	h += 7;
	while (*h == ' ')
		h++;
	return jwt_verify((const unsigned char *)api->key, api->keylen, h, clock_wall_ms() / 1000,
			  JWT_LEEWAY, who, e);
}

/* Queue job for the worker, parked in a slot; replies itself on failure. */
static void submit(struct admin_api *api, struct evhttp_request *req, struct admin_job *job)
{
	if (slot_take(api, req, &job->slot, &job->gen) != 0) {
		job_free(job);
		refuse(api, req, 503, "busy", "too many admin requests at once; retry");
		return;
	}
	pthread_mutex_lock(&api->mu);
	STAILQ_INSERT_TAIL(&api->queue, job, next);
	pthread_cond_signal(&api->cv);
	pthread_mutex_unlock(&api->mu);
}

/* evhttp's method as one of the table's bits; 0 for others. */
static unsigned method_bit(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return ADMIN_GET;
	case EVHTTP_REQ_POST:
		return ADMIN_POST;
	case EVHTTP_REQ_PATCH:
		return ADMIN_PATCH;
	case EVHTTP_REQ_DELETE:
		return ADMIN_DELETE;
	default:
		return 0;
	}
}

/* The route of the request, its params, query and body into job; replies
 * itself (404, 405 with Allow, 403, 400) and returns false otherwise. */
static bool request_to_job(struct admin_api *api, struct evhttp_request *req, const char *path,
			   const char *query, struct admin_job *job)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const struct admin_route *table;
	struct err e = { 0 };
	unsigned allow;
	char methods[64];
	size_t n;

	table = admin_routes(&n);
	switch (admin_route_match(table, n, method_bit(req), path + strlen(ADMIN_PREFIX),
				  &job->route, job->param, &allow)) {
	case ADMIN_MATCH_NO_PATH:
		refuse(api, req, 404, "not_found", "no such route");
		return false;
	case ADMIN_MATCH_NO_METHOD:
		admin_methods_text(allow, methods, sizeof(methods));
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", methods);
		refuse(api, req, 405, "method_not_allowed", methods);
		return false;
	case ADMIN_MATCH_OK:
		break;
	}
	if (job->route->admin_only && job->who.role != JWT_ROLE_ADMIN) {
		refuse(api, req, 403, "forbidden", "this route needs an admin token");
		return false;
	}
	if (admin_query_parse(query, job->route->query, job->route->key, &job->q, &e) != 0) {
		refuse(api, req, 400, "bad_request", e.msg);
		return false;
	}
	/* Parsed here (CPU only, at most ADMIN_MAX_BODY bytes): the worker
	 * gets a tree. */
	n = evbuffer_get_length(in);
	if (job->route->method != ADMIN_GET &&
	    admin_body_parse((const char *)evbuffer_pullup(in, -1), n, ADMIN_MAX_BODY, &job->body,
			     &e) != 0) {
		refuse(api, req, 400, "bad_request", e.msg);
		return false;
	}
	return true;
}

static void handle(struct admin_api *api, struct evhttp_request *req, const char *path,
		   const char *query)
{
	struct admin_job *job = xcalloc(1, sizeof(*job));
	struct err e = { 0 };
	int64_t retry_s;

	job->api = api;
	job->rt = api->s->rt;
	snprintf(job->path, sizeof(job->path), "%s", path);
	if (authenticate(api, req, &job->who, &e) != 0) {
		refuse(api, req, 401, "unauthorized", e.msg);
		goto fail;
	}
	if (!admin_rate_take(api, &job->who, &retry_s)) {
		char text[24];

		snprintf(text, sizeof(text), "%lld", (long long)retry_s);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", text);
		refuse(api, req, 429, "rate_limited",
		       "too many requests for this token; retry later");
		goto fail;
	}
	job->tenant = job->who.role == JWT_ROLE_ADMIN ? 0 : job->who.tenant;
	if (!request_to_job(api, req, path, query, job))
		goto fail;
	submit(api, req, job);
	return;
fail:
	job_free(job);
}

static void gen_cb(struct evhttp_request *req, void *arg)
{
	struct admin_api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	if (evhttp_request_get_response_code(req) == HTTP_ENTITYTOOLARGE) {
		refuse(api, req, 413, "too_large", "request body too large");
		return;
	}
	if (path == NULL || strncmp(path, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) != 0) {
		refuse(api, req, 404, "not_found", "no such route");
		return;
	}
	handle(api, req, path, evhttp_uri_get_query(uri));
}

/* ---- lifecycle (main / loop thread) ------------------------------------------------ */

static int bind_admin(struct admin_api *api, const char *addr, struct err *e)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	char *end;
	long port;

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
		return err_set(e, ERR_CONFIG, "[server] admin_listen: bad address \"%s\"", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || port < 0 || port > 65535)
		return err_set(e, ERR_CONFIG, "[server] admin_listen: bad port in \"%s\"", addr);
	api->bound = evhttp_bind_socket_with_handle(api->http, host[0] ? host : "127.0.0.1",
						    (ev_uint16_t)port);
	if (api->bound == NULL)
		return err_set(e, ERR_IO, "could not listen on %s (admin API)", addr);
	log_info("admin API listening", "address=%s", addr);
	return 0;
}

int http_admin_start(struct http_server *s, const struct config *cfg, struct err *e)
{
	struct admin_api *api;
	int rc;

	if (cfg->jwt_secret_file == NULL || cfg->jwt_secret_file[0] == '\0')
		return 0; /* no admin API */
	api = xcalloc(1, sizeof(*api));
	api->s = s;
	api->base = s->base;
	api->rates = ratelimit_map_new(RATE_SLOTS);
	pthread_mutex_init(&api->mu, NULL);
	pthread_cond_init(&api->cv, NULL);
	STAILQ_INIT(&api->queue);
	db_link_init(&api->link, "adsengd-admin");
	s->admin = api;
	rc = jwt_key_load(cfg->jwt_secret_file, &api->key, &api->keylen, e);
	if (rc != 0)
		return rc;
	api->http = evhttp_new(s->base);
	evhttp_set_max_body_size(api->http, ADMIN_MAX_BODY);
	evhttp_set_max_headers_size(api->http, 64 * 1024);
	evhttp_set_timeout(api->http, (int)((cfg->request_timeout_ms + 999) / 1000));
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						      EVHTTP_REQ_PATCH);
	evhttp_set_gencb(api->http, gen_cb, api);
	rc = thread_start(&api->thread, "adseng-admin", worker_main, api, e);
	if (rc != 0)
		return rc;
	api->started = true;
	return bind_admin(api, cfg->admin_listen, e);
}

void http_admin_stop_listening(struct http_server *s)
{
	if (s->admin && s->admin->bound) {
		evhttp_del_accept_socket(s->admin->http, s->admin->bound);
		s->admin->bound = NULL;
	}
}

void http_admin_stop(struct http_server *s)
{
	struct admin_api *api = s->admin;
	struct db_link *link;

	if (api == NULL || !api->started || api->joined)
		return;
	pthread_mutex_lock(&api->mu);
	api->stopping = true;
	pthread_cond_signal(&api->cv);
	pthread_mutex_unlock(&api->mu);
	link = &api->link;
	if (!db_link_join(api->thread, &link, 1, atomic_load(&s->rt->stop_cancel_at_ms),
			  atomic_load(&s->rt->stop_deadline_ms))) {
		log_warn("the admin API worker did not stop in time", NULL);
		runtime_note_stuck(s->rt);
		s->admin = NULL; /* left behind: the process exits */
		return;
	}
	api->joined = true; /* its last done_cbs are queued on the loop */
}

void http_admin_cleanup(struct http_server *s)
{
	struct admin_api *api = s->admin;

	if (api == NULL)
		return;
	if (api->started && !api->joined)
		http_admin_stop(s);
	if (s->admin == NULL)
		return; /* the worker is stuck: leave what it uses */
	if (api->http)
		evhttp_free(api->http);
	for (int i = 0; i < ADMIN_SLOTS; i++) {
		if (api->slots[i].req && api->slots[i].orphan)
			evhttp_request_free(api->slots[i].req);
	}
	/* Jobs whose done_cb never ran leak here only if event_base_once
	 * failed; their requests went with evhttp_free(). */
	db_link_cleanup(&api->link);
	if (api->key)
		sodium_free(api->key);
	pthread_mutex_destroy(&api->mu);
	pthread_cond_destroy(&api->cv);
	ratelimit_map_free(api->rates);
	free(api);
	s->admin = NULL;
}
