/*
 * admin_api.c - the admin HTTP API under /v1/admin/ on its own listener
 * ([server] admin_listen), served only when [security] jwt_secret_file is
 * set.  GET tenants, sources, destinations, routes, deliveries (one or a
 * filtered list) and stats, and POST destinations/{id}/pause|resume (the
 * token's sub is the audit actor): the same JSON `adsengctl ... --json`
 * prints, from the same store/admin.h functions.
 *
 * Every request carries "Authorization: Bearer <JWT>" (core/jwt.h); a
 * missing or bad token is 401 {"error","detail"} decided on the loop
 * thread (CPU only).  Role agency sees its own tenant's objects only (an
 * object of another tenant is 404, as if it did not exist); role admin
 * sees every tenant and may narrow lists with ?tenant=ID.
 *
 * The queries block, so they never run on the loop: a verified request
 * becomes a job that owns copies of its inputs, parked in one of our
 * slots (index + generation, as server.c does for webhooks), queued to
 * ONE admin worker thread with its own database connection (db_link,
 * the daemon's session limits, admin_session_setup for UTC timestamps).
 * The worker writes the answer into the job and hands it back with
 * event_base_once; done_cb on the loop replies through the slot if the
 * client is still there.  One thread is enough: the admin API is for
 * people and dashboards, not traffic; a full queue answers 503.
 *
 * A separate evhttp, so the admin port is never the public webhook port
 * and the webhook connection cap (conns.c) does not count it.
 */
#include "core/clock.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/thread.h"
#include "http/server_int.h"
#include "pipeline/admin_view.h"
#include "store/admin.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define ADMIN_SLOTS	   32 /* requests waiting at once; 503 beyond */
#define ADMIN_PREFIX	   "/v1/admin/"
#define ADMIN_MAX_BODY	   (64 * 1024)
#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX	   10000

enum admin_route {
	R_TENANTS,
	R_SOURCES,
	R_DESTINATIONS,
	R_ROUTES,
	R_DELIVERIES,
	R_DELIVERY,
	R_STATS,
	R_PAUSE,  /* POST destinations/{id}/pause */
	R_RESUME, /* POST destinations/{id}/resume */
};

struct admin_job {
	struct admin_api *api;
	STAILQ_ENTRY(admin_job) next;
	uint32_t slot, gen;
	enum admin_route route;
	struct jwt_claims who;
	int64_t tenant; /* the tenant filter: 0 = every tenant (admin only) */
	int64_t id;	/* R_DELIVERY */
	char state[16], dest_id[37];
	char reason[256]; /* R_PAUSE */
	int64_t limit;
	char path[128]; /* for the log line */
	/* The answer, written by the worker. */
	int status;
	char *body; /* JSON text, malloc'd */
};

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

/* ---- the worker ------------------------------------------------------------------ */

static void job_answer(struct admin_job *job, int status, const char *error, const char *detail)
{
	cJSON *o = cJSON_CreateObject();

	job->status = status;
	free(job->body);
	job->body = NULL;
	if (o && cJSON_AddStringToObject(o, "error", error) &&
	    cJSON_AddStringToObject(o, "detail", detail))
		job->body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
}

/* A store failure as an answer: 404, 503 (database), else 500. */
static void job_fail(struct admin_job *job, const struct err *e)
{
	if (e->code == ERR_NOTFOUND)
		job_answer(job, 404, "not_found", e->msg);
	else if (e->code == ERR_DB)
		job_answer(job, 503, "unavailable", "database unavailable; retry later");
	else
		job_answer(job, 500, "internal", e->msg);
}

/* Keep only what an agency token may see of admin_stats: its tenant's
 * destinations (matched by tenant name; the totals of raw events and
 * adjustments span every tenant and are left out). */
static int stats_scope(PGconn *conn, int64_t tenant, cJSON *st, struct err *e)
{
	cJSON *tenants = NULL, *t, *dests = cJSON_GetObjectItemCaseSensitive(st, "destinations");
	const char *name = NULL;
	int rc = admin_tenant_list(conn, &tenants, e);

	if (rc != 0)
		return rc;
	cJSON_ArrayForEach (t, tenants) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");

		if (cJSON_IsNumber(id) && (int64_t)id->valuedouble == tenant)
			name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
	}
	for (int i = cJSON_GetArraySize(dests) - 1; i >= 0; i--) {
		const char *tn = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(dests, i), "tenant"));

		if (name == NULL || tn == NULL || strcmp(tn, name) != 0)
			cJSON_DeleteItemFromArray(dests, i);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(st, "raw_events");
	cJSON_DeleteItemFromObjectCaseSensitive(st, "adjustments");
	cJSON_Delete(tenants);
	return 0;
}

/* One delivery; another tenant's is 404 for an agency token. */
static int delivery_scoped(PGconn *conn, const struct admin_job *job, cJSON **out, struct err *e)
{
	const cJSON *tid;
	int rc = admin_delivery_show(conn, job->id, out, e);

	if (rc != 0 || job->tenant == 0)
		return rc;
	tid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(*out, "delivery"),
					       "tenant_id");
	if (!cJSON_IsNumber(tid) || (int64_t)tid->valuedouble != job->tenant) {
		cJSON_Delete(*out);
		*out = NULL;
		return err_set(e, ERR_NOTFOUND, "no delivery %lld", (long long)job->id);
	}
	return 0;
}

/* Pause or resume a destination the token may see, the token's subject
 * as the audit actor; the answer is what `adsengctl destination pause
 * --json` prints. */
static int dest_action(PGconn *conn, const struct admin_job *job, cJSON **out, struct err *e)
{
	struct admin_obj d;
	int64_t n = 0;
	int rc = admin_destination_find(conn, job->dest_id, true, &d, e);

	if (rc != 0)
		return rc;
	if (job->tenant != 0 && d.tenant_id != job->tenant)
		return err_set(e, ERR_NOTFOUND, "no destination %s", job->dest_id);
	if (job->route == R_PAUSE)
		rc = admin_destination_pause(conn, job->who.sub, d.id, job->reason, &n, e);
	else
		rc = admin_destination_resume(conn, job->who.sub, d.id, &n, e);
	if (rc != 0)
		return rc;
	*out = cJSON_CreateObject();
	if (*out == NULL || !cJSON_AddStringToObject(*out, "id", d.id) ||
	    !cJSON_AddStringToObject(*out, "name", d.name) ||
	    !cJSON_AddNumberToObject(*out, job->route == R_PAUSE ? "held" : "released", (double)n))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static int job_query(PGconn *conn, const struct config *cfg, const struct admin_job *job,
		     cJSON **out, struct err *e)
{
	struct admin_delivery_filter f = { 0 };
	int rc;

	switch (job->route) {
	case R_TENANTS:
		return admin_tenant_list(conn, out, e);
	case R_SOURCES:
		rc = admin_source_list(conn, job->tenant, out, e);
		if (rc == 0)
			admin_view_sources(cfg, *out);
		return rc;
	case R_DESTINATIONS:
		return admin_destination_list(conn, job->tenant, out, e);
	case R_ROUTES:
		return admin_route_list(conn, job->tenant, out, e);
	case R_DELIVERIES:
		f.state = job->state[0] ? job->state : NULL;
		f.destination_id = job->dest_id[0] ? job->dest_id : NULL;
		f.tenant_id = job->tenant;
		f.limit = job->limit;
		return admin_deliveries_list(conn, &f, out, e);
	case R_DELIVERY:
		return delivery_scoped(conn, job, out, e);
	case R_STATS:
		rc = admin_stats(conn, out, e);
		if (rc == 0 && job->tenant != 0)
			rc = stats_scope(conn, job->tenant, *out, e);
		return rc;
	case R_PAUSE:
	case R_RESUME:
		return dest_action(conn, job, out, e);
	}
	return err_set(e, ERR_INVALID, "no such route");
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
	if (job_query(api->link.conn, cfg, job, &out, &e) != 0) {
		if (e.code == ERR_DB)
			(void)db_link_recover(&api->link);
		job_fail(job, &e);
		goto out;
	}
	job->body = cJSON_PrintUnformatted(out);
	job->status = 200;
	if (job->body == NULL)
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
	free(job->body);
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
		reply(req, job->status ? job->status : 500, job->body);
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

static bool is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return false;
	v = strtoll(s, &end, 10);
	if (*end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool is_delivery_state(const char *s)
{
	static const char *const states[] = { "pending", "in_flight", "delivered", "failed",
					      "dead",	 "held",      "skipped" };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		if (strcmp(s, states[i]) == 0)
			return true;
	}
	return false;
}

/* The route of rest ("deliveries/42"); false when there is none. */
static bool route_of(const char *rest, struct admin_job *job)
{
	static const struct {
		const char *name;
		enum admin_route r;
	} fixed[] = { { "tenants", R_TENANTS },		  { "sources", R_SOURCES },
		      { "destinations", R_DESTINATIONS }, { "routes", R_ROUTES },
		      { "deliveries", R_DELIVERIES },	  { "stats", R_STATS } };

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (strcmp(rest, fixed[i].name) == 0) {
			job->route = fixed[i].r;
			return true;
		}
	}
	if (strncmp(rest, "deliveries/", 11) == 0 && parse_int(rest + 11, 1, INT64_MAX, &job->id)) {
		job->route = R_DELIVERY;
		return true;
	}
	/* destinations/{uuid}/pause|resume */
	if (strncmp(rest, "destinations/", 13) == 0 && strlen(rest) > 13 + 36 &&
	    rest[13 + 36] == '/') {
		memcpy(job->dest_id, rest + 13, 36);
		job->dest_id[36] = '\0';
		if (!is_uuid(job->dest_id))
			return false;
		if (strcmp(rest + 13 + 37, "pause") == 0)
			job->route = R_PAUSE;
		else if (strcmp(rest + 13 + 37, "resume") == 0)
			job->route = R_RESUME;
		else
			return false;
		return true;
	}
	return false;
}

/* Query parameters → the job; a 400 detail or NULL. */
static const char *query_to_job(const struct evkeyvalq *q, struct admin_job *job)
{
	const char *state = evhttp_find_header(q, "state");
	const char *dest = evhttp_find_header(q, "destination");
	const char *limit = evhttp_find_header(q, "limit");
	const char *tenant = evhttp_find_header(q, "tenant");
	int64_t t;

	job->limit = LIST_LIMIT_DEFAULT;
	if (state && (!is_delivery_state(state) || job->route != R_DELIVERIES))
		return "state: pending, in_flight, delivered, failed, dead, held or skipped "
		       "(deliveries only)";
	if (state)
		snprintf(job->state, sizeof(job->state), "%s", state);
	if (dest && (!is_uuid(dest) || job->route != R_DELIVERIES))
		return "destination: a destination id (uuid; deliveries only)";
	if (dest)
		snprintf(job->dest_id, sizeof(job->dest_id), "%s", dest);
	if (limit && !parse_int(limit, 1, LIST_LIMIT_MAX, &job->limit))
		return "limit: 1 to 10000";
	if (tenant) {
		if (!parse_int(tenant, 1, INT64_MAX, &t))
			return "tenant: a tenant id";
		/* An agency token stays on its own tenant whatever it asks. */
		if (job->who.role == JWT_ROLE_ADMIN)
			job->tenant = t;
		else if (t != job->who.tenant)
			job->tenant = -1; /* matches nothing */
	}
	return NULL;
}

static bool method_ok(struct evhttp_request *req, const struct admin_job *job)
{
	bool post = job->route == R_PAUSE || job->route == R_RESUME;

	if (evhttp_request_get_command(req) == (post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET))
		return true;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", post ? "POST" : "GET");
	return false;
}

/* The optional body of a pause, {"reason": "..."}; a 400 detail or NULL.
 * Without one the reason names the token's subject. */
static const char *pause_reason(struct evhttp_request *req, struct admin_job *job)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	const char *why = NULL;
	cJSON *body, *r;
	char *text;

	snprintf(job->reason, sizeof(job->reason), "paused by %s", job->who.sub);
	if (n == 0)
		return NULL;
	text = xmalloc(n + 1);
	evbuffer_copyout(in, text, n);
	text[n] = '\0';
	/* Whole text, no NUL inside (cJSON would stop there). */
	body = strlen(text) == n ? cJSON_ParseWithOpts(text, NULL, true) : NULL;
	r = cJSON_GetObjectItemCaseSensitive(body, "reason");
	if (!cJSON_IsObject(body))
		why = "the body must be a JSON object: {\"reason\": \"...\"}";
	else if (r && (!cJSON_IsString(r) || r->valuestring[0] == '\0' ||
		       strlen(r->valuestring) >= sizeof(job->reason)))
		why = "reason: a string of 1 to 255 bytes";
	else if (r)
		snprintf(job->reason, sizeof(job->reason), "%s", r->valuestring);
	cJSON_Delete(body);
	free(text);
	return why;
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

static void handle(struct admin_api *api, struct evhttp_request *req, const char *path,
		   const char *query)
{
	struct admin_job *job = xcalloc(1, sizeof(*job));
	struct evkeyvalq q = { 0 };
	struct err e = { 0 };
	const char *bad;

	job->api = api;
	snprintf(job->path, sizeof(job->path), "%s", path);
	if (authenticate(api, req, &job->who, &e) != 0) {
		refuse(api, req, 401, "unauthorized", e.msg);
		goto fail;
	}
	if (!route_of(path + strlen(ADMIN_PREFIX), job)) {
		refuse(api, req, 404, "not_found", "no such route");
		goto fail;
	}
	if (!method_ok(req, job)) {
		refuse(api, req, 405, "method_not_allowed", "use GET to read, POST to change");
		goto fail;
	}
	if (job->route == R_PAUSE && (bad = pause_reason(req, job)) != NULL) {
		refuse(api, req, 400, "bad_request", bad);
		goto fail;
	}
	if (job->route == R_TENANTS && job->who.role != JWT_ROLE_ADMIN) {
		refuse(api, req, 403, "forbidden", "listing tenants needs an admin token");
		goto fail;
	}
	job->tenant = job->who.role == JWT_ROLE_ADMIN ? 0 : job->who.tenant;
	if (evhttp_parse_query_str(query ? query : "", &q) != 0) {
		refuse(api, req, 400, "bad_request", "unparseable query string");
		goto fail;
	}
	bad = query_to_job(&q, job);
	evhttp_clear_headers(&q);
	if (bad) {
		refuse(api, req, 400, "bad_request", bad);
		goto fail;
	}
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
	free(api);
	s->admin = NULL;
}
