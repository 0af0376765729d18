/*
 * oauth_callback.c - GET /oauth/{provider}/callback?code&state: where the
 * platform's consent page sends the user back (`adsengctl destination
 * authorize` printed the link).  Answers a plain HTML page.
 *
 * On the loop thread, without I/O: the route and query shape, the
 * provider's error (?error=access_denied), and the state's signature and
 * expiry (core/oauth_state.h).  A bad or expired state is refused there
 * with 400 and changes nothing.  The rest blocks, so it runs on a
 * short-lived thread, at most HTTP_OAUTH_JOBS at once (503 beyond): one
 * database connection with the daemon's session limits, consume the
 * state's nonce (single use: a reused link is 400 and changes nothing),
 * build the destination's grant (dest_ops.auth_grant, credentials opened
 * with the vault), exchange the code (grant_type=authorization_code, with
 * the redirect URI the consent URL named), and store the refresh token
 * (store/oauth_store.h: sealed, and a destination paused for
 * reauthorization resumed with its held deliveries released).  The
 * finished job goes back to the loop thread with event_base_once (safe
 * from another thread after evthread_use_pthreads()), which replies.
 *
 * The request waits in a pending slot of the server (server.c), so a
 * client that hangs up is handled as for webhooks and the shutdown drain
 * waits for it.  At stop, the threads are joined within the runtime's
 * deadline; a statement that holds one up is canceled (db_link_join).
 * Nothing here logs the code, a token or the state.
 */
#include "core/log.h"
#include "core/mem.h"
#include "core/oauth_grant.h"
#include "core/oauth_state.h"
#include "core/text.h"
#include "core/thread.h"
#include "destinations/dest.h"
#include "http/server_int.h"
#include "net/fetch.h"
#include "store/catalog_store.h"
#include "store/db.h"
#include "store/oauth_store.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#define CODE_MAX	    2048
#define PARAM_MAX	    128
#define EXCHANGE_TIMEOUT_MS 10000 /* well inside the default stop deadline */
#define ACTOR		    "oauth-callback"

struct oauth_job {
	struct http_server *s;
	struct runtime *rt;
	int index; /* in s->oauth_jobs */
	uint32_t slot, gen;
	pthread_t thread;
	bool joined; /* by http_oauth_stop: done_cb must not join again */
	char provider[16];
	char *code; /* secret: wiped */
	struct oauth_state st;
	struct db_link link; /* the thread's; canceled by db_link_join */
	/* The answer, written by the thread before it hands the job back. */
	int status;
	char *title;
	char *message;
};

/* ---- the page ---------------------------------------------------------------- */

static void put_html(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&#39;");
			break;
		default:
			buf_putc(b, *s);
		}
	}
}

/* A plain page: the title as heading and one paragraph.  The URL carried
 * an authorization code, so the page is never cached and never leaks it
 * as a Referer. */
static void reply_page(struct evhttp_request *req, int code, const char *title, const char *msg)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>AdsEngineer: ");
	put_html(&b, title);
	buf_puts(&b, "</title></head>\n<body><h1>");
	put_html(&b, title);
	buf_puts(&b, "</h1>\n<p>");
	put_html(&b, msg);
	buf_puts(&b, "</p></body></html>\n");
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'none'");
	if (code == 503)
		evhttp_add_header(h, "Retry-After", "5");
	if (out) {
		evbuffer_add(out, b.data, b.len);
		evhttp_send_reply(req, code, NULL, out);
		evbuffer_free(out);
	} else {
		evhttp_send_reply(req, 503, NULL, NULL);
	}
	buf_cleanup(&b);
}

static void refuse(struct evhttp_request *req, int code, const char *msg)
{
	reply_page(req, code, "Authorization failed", msg);
}

/* Log a callback refused on the loop thread (rate limited: anyone can send
 * them) and refuse it.  why never quotes the request. */
static void refuse_logged(struct http_server *s, struct evhttp_request *req, int code,
			  const char *why, const char *msg)
{
	int suppressed;

	if (log_ratelimit_allow(&s->rl_refused, 60, &suppressed))
		log_info("oauth callback refused", "status=%d reason=\"%s\" suppressed=%d", code,
			 why, suppressed);
	refuse(req, code, msg);
}

/* ---- the job (callback thread) ---------------------------------------------- */

static void job_fail(struct oauth_job *job, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void job_fail(struct oauth_job *job, int status, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	job->status = status;
	job->title = xstrdup("Authorization failed");
	job->message = buf_steal(&b);
}

/* The destination as the auth hook wants it, credentials opened; fails
 * the job itself.  d->creds is sodium_malloc'd (vault_free_plain). */
static int job_load_dest(struct oauth_job *job, struct dest_row *row, struct destination *d)
{
	const struct dest_ops *ops;
	struct err e = { 0 };
	char ad[VAULT_AD_MAX];
	unsigned char *creds = NULL;
	size_t creds_len = 0;
	int rc;

	rc = catalog_load_destination(job->link.conn, job->st.dest_id, row, &e);
	if (rc != 0) {
		job_fail(job, rc == ERR_NOTFOUND ? 400 : 503, "%s",
			 rc == ERR_NOTFOUND ? "The destination no longer exists."
					    : "The database is unavailable; try again later.");
		return rc;
	}
	ops = dest_ops_find(row->kind);
	if (ops == NULL || ops->oauth_scopes == NULL || ops->auth_grant == NULL ||
	    ops->oauth_provider == NULL || strcmp(ops->oauth_provider, job->provider) != 0) {
		job_fail(job, 400, "Destination \"%s\" (kind %s) is not authorized through %s.",
			 row->name, row->kind, job->provider);
		return ERR_CONFIG;
	}
	vault_ad(ad, "destination", row->id, "credentials");
	rc = vault_unseal(job->rt->vault, row->credentials, row->credentials_len, ad, &creds,
			  &creds_len, &e);
	if (rc != 0) {
		log_error("could not open a destination's credentials", "destination=%s err=\"%s\"",
			  row->id, e.msg);
		job_fail(job, 500, "The destination's credentials could not be opened.");
		return rc;
	}
	memcpy(d->id, row->id, sizeof(d->id));
	d->tenant_id = row->tenant_id;
	d->name = row->name;
	snprintf(d->kind, sizeof(d->kind), "%s", row->kind);
	d->enabled = row->enabled;
	d->test_mode = row->test_mode;
	d->settings = cJSON_Parse(row->settings_json);
	d->creds = (char *)creds;
	d->ops = ops;
	return 0;
}

/* Exchange the code; *tok filled on success.  Fails the job itself. */
static int job_exchange(struct oauth_job *job, const struct oauth_grant *g,
			const char *redirect_uri, const char *scopes, struct oauth_token *tok)
{
	struct upload_req req;
	struct fetch_result res = { 0 };
	struct err e = { 0 };
	int rc;

	upload_req_init(&req);
	rc = oauth_code_request(g, job->code, redirect_uri, &req, &e);
	if (rc != 0) {
		upload_req_cleanup(&req);
		job_fail(job, 500, "Could not build the token request: %s", e.msg);
		return rc;
	}
	req.timeout_ms = EXCHANGE_TIMEOUT_MS;
	rc = net_fetch(&req, &res, &e); /* takes req */
	if (rc == 0)
		rc = oauth_token_parse(&res.resp, tok, &e);
	fetch_result_cleanup(&res);
	if (rc == ERR_AUTH) {
		job_fail(job, 400,
			 "%s refused the authorization: %s. Run adsengctl destination "
			 "authorize again for a new link.",
			 job->provider, e.msg);
	} else if (rc != 0) {
		log_warn("OAuth code exchange failed", "provider=%s err=\"%s\"", job->provider,
			 e.msg);
		job_fail(job, 502,
			 "The %s token endpoint could not be reached (%s). Run "
			 "adsengctl destination authorize again for a new link.",
			 job->provider, e.msg);
	} else if (tok->refresh_token == NULL) {
		rc = ERR_AUTH;
		job_fail(job, 502,
			 "%s returned no refresh token. Run adsengctl destination "
			 "authorize again for a new link.",
			 job->provider);
	} else if (tok->scope && !oauth_scopes_granted(scopes, tok->scope)) {
		rc = ERR_AUTH;
		job_fail(job, 400,
			 "The consent did not grant every permission the destination "
			 "needs (%s). Authorize again and allow all of them.",
			 scopes);
	}
	return rc;
}

/* Store the token and describe the outcome. */
static void job_store(struct oauth_job *job, const struct destination *d, const char *token)
{
	struct oauth_stored st;
	struct err e = { 0 };
	struct buf b;

	if (oauth_store_refresh_token(job->link.conn, job->rt->vault, ACTOR, d->id, token, &st,
				      &e) != 0) {
		log_error("could not store a refresh token", "destination=%s err=\"%s\"", d->id,
			  e.msg);
		job_fail(job, e.code == ERR_NOTFOUND ? 400 : 503,
			 "The new authorization could not be stored (%s). Run adsengctl "
			 "destination authorize again.",
			 e.code == ERR_NOTFOUND ? "the destination no longer exists"
						: "database error");
		return;
	}
	log_info("destination authorized", "destination=%s kind=%s resumed=%s released=%lld", d->id,
		 d->kind, st.resumed ? "yes" : "no", (long long)st.released);
	buf_init(&b);
	buf_printf(&b, "Destination \"%s\" (%s) is authorized: AdsEngineer can upload to it.",
		   d->name, d->id);
	if (st.resumed)
		buf_printf(&b,
			   " It was paused for reauthorization and runs again: %lld held "
			   "deliveries released.",
			   (long long)st.released);
	job->status = 200;
	job->title = xstrdup("Authorized");
	job->message = buf_steal(&b);
}

/* After the state is spent: the grant, the exchange, the storing. */
static void job_authorize(struct oauth_job *job, const struct config *cfg, const char *redirect)
{
	struct dest_row row = { 0 };
	struct destination d = { 0 };
	struct oauth_grant g = { 0 };
	struct oauth_token tok = { 0 };
	struct err e = { 0 };

	if (job_load_dest(job, &row, &d) != 0)
		goto out;
	if (d.ops->auth_grant(&d, cfg, &g, &e) != 0) {
		job_fail(job, 500, "The destination has no usable OAuth client: %s", e.msg);
		goto out;
	}
	if (job_exchange(job, &g, redirect, d.ops->oauth_scopes, &tok) == 0)
		job_store(job, &d, tok.refresh_token);
out:
	oauth_token_cleanup(&tok);
	oauth_grant_cleanup(&g);
	cJSON_Delete(d.settings);
	vault_free_plain((unsigned char *)d.creds);
	catalog_dest_row_cleanup(&row);
}

static void job_run(struct oauth_job *job)
{
	struct config *cfg = runtime_config(job->rt);
	struct db_session sess;
	struct err e = { 0 };
	char *redirect = NULL;
	bool fresh;
	int rc;

	db_session_from_config(&sess, cfg);
	if (db_link_ensure(&job->link, cfg->db_url, &sess, NULL, NULL, &fresh) != 0) {
		/* The state is untouched: the same link works once it is back. */
		job_fail(job, 503, "The database is unavailable; open the link again in a moment.");
		goto out;
	}
	rc = oauth_store_state_consume(job->link.conn, &job->st, &redirect, &e);
	if (rc == ERR_NOTFOUND) {
		/* "this link was already used" as a sentence. */
		e.msg[0] = (char)toupper((unsigned char)e.msg[0]);
		job_fail(job, 400, "%s. Run adsengctl destination authorize again for a new link.",
			 e.msg);
		goto out;
	}
	if (rc != 0) {
		log_warn("could not consume an OAuth state", "err=\"%s\"", e.msg);
		job_fail(job, 503, "The database is unavailable; open the link again in a moment.");
		goto out;
	}
	job_authorize(job, cfg, redirect);
out:
	free(redirect);
	config_unref(cfg);
}

static void done_cb(evutil_socket_t fd, short what, void *arg);

static void *job_main(void *arg)
{
	struct oauth_job *job = arg;
	const struct timeval now = { 0, 0 };

	job_run(job);
	sodium_memzero(job->code, strlen(job->code));
	/* The connection goes now; the link itself (its cancel lock) stays
	 * until the job is joined, since db_link_join may still look at it. */
	db_link_drop(&job->link);
	/* The last touch of job on this thread: done_cb frees it. */
	if (event_base_once(job->s->base, -1, EV_TIMEOUT, done_cb, job, &now) != 0)
		log_error("could not hand an OAuth callback back to the HTTP loop", NULL);
	return NULL;
}

static void job_free(struct oauth_job *job)
{
	db_link_cleanup(&job->link);
	if (job->code) {
		sodium_memzero(job->code, strlen(job->code));
		free(job->code);
	}
	free(job->title);
	free(job->message);
	free(job);
}

/* Loop thread: the job is finished (its thread returns, or has). */
static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oauth_job *job = arg;
	struct http_server *s = job->s;
	struct evhttp_request *req;

	(void)fd;
	(void)what;
	if (!job->joined)
		pthread_join(job->thread, NULL); /* it is past its last statement */
	s->oauth_jobs[job->index] = NULL;
	req = http_slot_release(s, job->slot, job->gen);
	if (req) /* else the client hung up; what was stored stays stored */
		reply_page(req, job->status ? job->status : 500,
			   job->title ? job->title : "Authorization failed",
			   job->message ? job->message : "Internal error.");
	job_free(job);
}

/* ---- the route (loop thread) ------------------------------------------------- */

/* The single value of name in q, NULL when absent; *dup when repeated. */
static const char *query_one(const struct evkeyvalq *q, const char *name, bool *dup)
{
	const char *v = NULL;
	struct evkeyval *kv;

	TAILQ_FOREACH (kv, q, next) {
		if (strcmp(kv->key, name) != 0)
			continue;
		if (v)
			*dup = true;
		v = kv->value;
	}
	return v;
}

/* The provider's error code, kept to [a-z0-9_] for the page. */
static void refuse_provider_error(struct evhttp_request *req, const char *provider,
				  const char *error)
{
	char code[48], msg[200];
	size_t n = 0;

	for (; *error && n + 1 < sizeof(code); error++) {
		if ((*error >= 'a' && *error <= 'z') || (*error >= '0' && *error <= '9') ||
		    *error == '_')
			code[n++] = *error;
	}
	code[n] = '\0';
	snprintf(msg, sizeof(msg),
		 "%s did not grant access (%s). Nothing was changed; run adsengctl destination "
		 "authorize again to retry.",
		 provider, code[0] ? code : "unknown error");
	refuse(req, 400, msg);
}

/* "google/callback" → provider; false when the path is not a callback. */
static bool split_path(const char *rest, char provider[16])
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : 0;

	if (slash == NULL || n == 0 || n >= 16 || strcmp(slash, "/callback") != 0)
		return false;
	memcpy(provider, rest, n);
	provider[n] = '\0';
	return oauth_provider_is_valid(provider);
}

static int free_job_index(const struct http_server *s)
{
	for (int i = 0; i < HTTP_OAUTH_JOBS; i++) {
		if (s->oauth_jobs[i] == NULL)
			return i;
	}
	return -1;
}

/* Start the job for a verified state; replies itself on failure. */
static void start_job(struct http_server *s, struct evhttp_request *req, const char *provider,
		      const struct oauth_state *st, const char *code)
{
	struct oauth_job *job;
	struct err e = { 0 };
	int i = free_job_index(s);

	if (i < 0) {
		refuse_logged(s, req, 503, "too many callbacks at once",
			      "Too many authorizations at once; reload this page in a moment.");
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->rt = s->rt;
	job->index = i;
	snprintf(job->provider, sizeof(job->provider), "%s", provider);
	job->code = xstrdup(code);
	job->st = *st;
	db_link_init(&job->link, "oauth-callback");
	if (http_slot_take(s, req, &job->slot, &job->gen) != 0) {
		job_free(job);
		refuse(req, 503, "The server is busy; reload this page in a moment.");
		return;
	}
	if (thread_start(&job->thread, "oauth-callback", job_main, job, &e) != 0) {
		log_error("could not start an OAuth callback thread", "err=\"%s\"", e.msg);
		http_slot_abandon(s, job->slot, job->gen);
		job_free(job);
		refuse(req, 503, "The server is busy; reload this page in a moment.");
		return;
	}
	s->oauth_jobs[i] = job;
}

/* Verify the state and the code; start the job or refuse. */
static void handle_query(struct http_server *s, struct evhttp_request *req, const char *provider,
			 const struct evkeyvalq *q)
{
	struct oauth_state st;
	bool dup = false;
	const char *state = query_one(q, "state", &dup);
	const char *code = query_one(q, "code", &dup);
	const char *error = query_one(q, "error", &dup);

	if (dup) {
		refuse(req, 400, "The link is malformed (a parameter is repeated).");
		return;
	}
	if (error) {
		refuse_provider_error(req, provider, error);
		return;
	}
	switch (oauth_state_verify(s->oauth_key, state, (int64_t)time(NULL), &st)) {
	case OAUTH_STATE_VALID:
		break;
	case OAUTH_STATE_EXPIRED:
		refuse_logged(s, req, 400, "state expired",
			      "This link expired. Run adsengctl destination authorize again for a "
			      "new link.");
		return;
	case OAUTH_STATE_MALFORMED:
	case OAUTH_STATE_FORGED:
		refuse_logged(s, req, 400, "state not valid",
			      "This link is not valid: it was not issued by this server or it was "
			      "changed.");
		return;
	}
	if (code == NULL || code[0] == '\0' || strlen(code) > CODE_MAX ||
	    !text_is_clean(code, CODE_MAX)) {
		refuse(req, 400, "The link carries no valid authorization code.");
		return;
	}
	start_job(s, req, provider, &st, code);
}

void http_handle_oauth(struct http_server *s, struct evhttp_request *req, const char *rest)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq q;
	char provider[16];

	TAILQ_INIT(&q);
	if (!split_path(rest, provider)) {
		http_reply_error(req, 404, "not_found", "no such route");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		http_reply_error(req, 405, "method_not_allowed", "use GET");
		return;
	}
	if (s->oauth_key == NULL) {
		refuse(req, 503, "This server cannot take authorizations (no master key).");
		return;
	}
	if (query == NULL || strlen(query) > CODE_MAX + 2 * OAUTH_STATE_MAX + 1024 ||
	    evhttp_parse_query_str(query, &q) != 0) {
		refuse(req, 400, "The link is malformed.");
		evhttp_clear_headers(&q);
		return;
	}
	handle_query(s, req, provider, &q);
	evhttp_clear_headers(&q);
}

/* ---- lifecycle (main thread) ---------------------------------------------------- */

int http_oauth_init(struct http_server *s, struct err *e)
{
	int rc;

	if (s->rt == NULL || s->rt->vault == NULL)
		return 0; /* callbacks answer 503 */
	s->oauth_key = sodium_malloc(OAUTH_STATE_KEY_LEN);
	if (s->oauth_key == NULL)
		return err_set(e, ERR_NOMEM, "could not allocate secure memory");
	rc = vault_derive_key(s->rt->vault, OAUTH_STATE_KDF_CONTEXT, s->oauth_key, e);
	if (rc != 0) {
		sodium_free(s->oauth_key);
		s->oauth_key = NULL;
		return rc;
	}
	sodium_mprotect_readonly(s->oauth_key);
	return 0;
}

void http_oauth_stop(struct http_server *s)
{
	for (int i = 0; i < HTTP_OAUTH_JOBS; i++) {
		struct oauth_job *job = s->oauth_jobs[i];
		struct db_link *link;

		if (job == NULL)
			continue;
		link = &job->link;
		if (!db_link_join(job->thread, &link, 1, atomic_load(&s->rt->stop_cancel_at_ms),
				  atomic_load(&s->rt->stop_deadline_ms))) {
			log_warn("an OAuth callback did not stop in time", NULL);
			runtime_note_stuck(s->rt);
			s->oauth_jobs[i] = NULL; /* left behind: the process exits */
			continue;
		}
		job->joined = true; /* its done_cb (queued) replies and frees it */
	}
}

void http_oauth_cleanup(struct http_server *s)
{
	/* A joined job still here never got its done_cb (event_base_once
	 * failed, or the loop did not turn again): its request went with
	 * evhttp_free(). */
	for (int i = 0; i < HTTP_OAUTH_JOBS; i++) {
		if (s->oauth_jobs[i] && s->oauth_jobs[i]->joined)
			job_free(s->oauth_jobs[i]);
		s->oauth_jobs[i] = NULL;
	}
	if (s->oauth_key)
		sodium_free(s->oauth_key);
	s->oauth_key = NULL;
}
