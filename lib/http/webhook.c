/*
 * webhook.c - POST /v1/webhooks/{kind}/{source_id}, and the routes kinds
 * declare for themselves (source_ops.route, e.g. /v1/events/{source_id}):
 * find the source in the loop's snapshot, let its kind answer a request
 * that is no event (a ping), verify the signature over the exact raw
 * bytes, take the dedup key and topic (and, for a request carrying several
 * events, each event's key or the reason it is invalid), and queue the
 * raw event for the ingest writers.  Every
 * refusal happens before anything is queued, so nothing is stored for a
 * non-2xx answer.  Everything platform-specific comes from the kind's
 * source_ops (including the status that makes the sender retry): this
 * file names no platform.
 *
 * What we store must never be the reason a correctly signed webhook is
 * refused: header bytes that are not UTF-8 are made so (U+FFFD) before
 * they go into the jsonb column, and a dedup key or topic that is not
 * UTF-8 (text columns) is refused with 400 here, before anything is
 * queued, instead of failing the whole group commit later.
 */
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "http/server_int.h"
#include "pipeline/telemetry.h"
#include "sources/source.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADERS 64

/* Refuse a webhook, counted by kind (NULL: not known). */
static void refuse(struct evhttp_request *req, const char *kind, int code, const char *error,
		   const char *detail)
{
	telemetry_ingest_answered(kind, code);
	http_reply_error(req, code, error, detail);
}

/* A uuid of 36 characters into id, lowercased; false if malformed. */
static bool parse_uuid(const char *s, char *id)
{
	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!isxdigit((unsigned char)c)) {
			return false;
		}
		id[i] = (char)tolower((unsigned char)c);
	}
	id[36] = '\0';
	return true;
}

/* "shopify/9b2c…" → kind and lowercased uuid; false if malformed. */
static bool split_route(const char *rest, char *kind, size_t kindlen, char *id)
{
	const char *slash = strchr(rest, '/');
	size_t klen;

	if (slash == NULL)
		return false;
	klen = (size_t)(slash - rest);
	if (klen == 0 || klen >= kindlen)
		return false;
	memcpy(kind, rest, klen);
	kind[klen] = '\0';
	return parse_uuid(slash + 1, id);
}

static bool wanted(const char *const *list, const char *name)
{
	for (; list && *list; list++) {
		if (strcasecmp(*list, name) == 0)
			return true;
	}
	return false;
}

/* Add name: value to o with both made valid UTF-8 (cJSON escapes the
 * control characters, and a C string has no NUL); false when memory is
 * short. */
static bool add_header(cJSON *o, const char *name, const char *value)
{
	char *n = text_to_utf8(name, strlen(name));
	char *v = text_to_utf8(value, strlen(value));
	bool ok = n && v;

	/* The first of repeated headers wins. */
	if (ok && !cJSON_HasObjectItem(o, n))
		ok = cJSON_AddStringToObject(o, n, v) != NULL;
	free(n);
	free(v);
	return ok;
}

/* The stored headers as a JSON object text (malloc'd), or NULL when
 * memory is short. */
static char *headers_json(const struct source_ops *ops, const struct http_req *hr,
			  const char *request_id, size_t *len)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	if (o == NULL)
		return NULL;
	if (!add_header(o, "X-Adseng-Request-Id", request_id))
		goto out;
	for (size_t i = 0; i < hr->n_headers; i++) {
		if (wanted(ops->stored_headers, hr->headers[i].name) &&
		    !add_header(o, hr->headers[i].name, hr->headers[i].value))
			goto out;
	}
	text = cJSON_PrintUnformatted(o);
	if (text)
		*len = strlen(text);
out:
	cJSON_Delete(o);
	return text;
}

/* A job owning body (taken over, malloc'd), items (taken over) and
 * copies of the rest; NULL when memory is short (body and items are then
 * still the caller's). */
static struct ingest_job *make_job(const struct source *src, const struct http_req *hr,
				   uint8_t *body, const char *dedup, const char *topic,
				   struct source_items *items, const char *request_id)
{
	struct ingest_job *job = xcalloc(1, sizeof(*job));

	job->headers_json = headers_json(src->ops, hr, request_id, &job->headers_len);
	if (job->headers_json == NULL) {
		free(job);
		return NULL;
	}
	memcpy(job->source_id, src->id, sizeof(job->source_id));
	snprintf(job->kind, sizeof(job->kind), "%s", src->kind);
	snprintf(job->request_id, sizeof(job->request_id), "%s", request_id);
	job->dedup_key = xstrdup(dedup);
	job->topic = xstrdup(topic);
	job->body = body;
	job->body_len = hr->body_len;
	job->unavailable_status = source_unavailable_status(src->ops);
	job->ops = src->ops;
	job->items = *items;
	*items = (struct source_items){ 0 };
	return job;
}

/* Move the request body into one malloc'd buffer (the request's buffer is
 * drained, so a queued webhook holds its body once, not twice).  NULL
 * when memory is short. */
static uint8_t *take_body(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	uint8_t *body = malloc(n ? n : 1);

	if (body == NULL)
		return NULL;
	if (n && evbuffer_remove(in, body, n) != (int)n) {
		free(body);
		return NULL;
	}
	*len = n;
	return body;
}

/* The events of a request that carries several (source_ops.items) into
 * *items; false after replying 400 when the body is unusable or a key
 * could not go into a text column. */
static bool take_items(struct evhttp_request *req, const struct source *src,
		       const struct source_ctx *ctx, const struct http_req *hr,
		       struct source_items *items)
{
	struct err e = { 0 };

	if (src->ops->items == NULL)
		return true;
	if (src->ops->items(ctx, hr, items, &e) != 0) {
		refuse(req, src->kind, 400, "bad_request", e.msg);
		return false;
	}
	for (size_t k = 0; k < items->n; k++) {
		if (items->v[k].key && !text_is_utf8(items->v[k].key)) {
			refuse(req, src->kind, 400, "bad_request",
			       "an event key is not valid UTF-8");
			return false;
		}
	}
	return true;
}

/* Verify, take the key and topic, queue.  Replies itself on refusal;
 * takes body over in every case. */
static void queue_webhook(struct http_server *s, struct evhttp_request *req,
			  const struct source *src, struct http_req *hr, uint8_t *body,
			  const char *request_id)
{
	char dedup[SOURCE_DEDUP_MAX], topic[SOURCE_TOPIC_MAX];
	struct source_items items = { 0 };
	struct ingest_job *job = NULL;
	struct err e = { 0 };
	struct config *cfg = runtime_config(s->rt);
	struct source_ctx ctx = { .cfg = cfg, .now_us = clock_wall_ms() * 1000 };
	int unavailable = source_unavailable_status(src->ops);
	uint32_t slot, gen;
	int rc;

	rc = src->ops->verify(src, &ctx, hr, &e);
	if (rc != 0) {
		int suppressed;

		if (log_ratelimit_allow(&s->rl_refused, 60, &suppressed))
			log_info("webhook refused",
				 "source=%s request_id=%s status=401 reason=\"%s\" suppressed=%d",
				 src->id, request_id, e.msg, suppressed);
		refuse(req, src->kind, 401, "unauthorized", e.msg);
		goto out;
	}
	if (!take_items(req, src, &ctx, hr, &items))
		goto out;
	if (src->ops->dedup_key(hr, dedup, sizeof(dedup), &e) != 0) {
		refuse(req, src->kind, 400, "bad_request", e.msg);
		goto out;
	}
	src->ops->topic(hr, topic, sizeof(topic));
	/* Both go into text columns, which refuse malformed UTF-8. */
	if (!text_is_utf8(dedup) || !text_is_utf8(topic)) {
		refuse(req, src->kind, 400, "bad_request",
		       "webhook id or topic header is not valid UTF-8");
		goto out;
	}
	job = make_job(src, hr, body, dedup, topic, &items, request_id);
	if (job == NULL) {
		refuse(req, src->kind, unavailable, "overloaded", "out of memory; retry later");
		goto out;
	}
	body = NULL; /* the job's now */
	if (http_slot_take(s, req, &slot, &gen) != 0) {
		refuse(req, src->kind, unavailable, "overloaded",
		       "too many requests in flight; retry later");
		goto out;
	}
	job->slot = slot;
	job->gen = gen;
	if (ingest_submit(s->ingest, job) != 0) {
		http_slot_abandon(s, slot, gen);
		refuse(req, src->kind, unavailable, "overloaded",
		       "ingest queue is full; retry later");
		goto out;
	}
	job = NULL; /* the writers' now */
out:
	config_unref(cfg);
	ingest_job_free(job);
	source_items_cleanup(&items);
	free(body);
}

/* Serve a request to source id of kind `kind` (from the route). */
static void serve(struct http_server *s, struct evhttp_request *req, const char *kind,
		  const char *id)
{
	struct http_header headers[MAX_HEADERS];
	struct http_req hr = { 0 };
	struct evkeyval *kv;
	const struct source *src;
	struct source_answer ans;
	char request_id[HTTP_REQUEST_ID_MAX];
	uint8_t *body;

	http_request_id(req, request_id);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		refuse(req, kind, 405, "method_not_allowed", "webhooks are POSTed");
		return;
	}
	if (s->sources == NULL) {
		refuse(req, kind, source_unavailable_status(source_ops_find(kind)), "unavailable",
		       "sources not loaded yet; retry later");
		return;
	}
	src = source_set_find(s->sources, id);
	TAILQ_FOREACH (kv, evhttp_request_get_input_headers(req), next) {
		if (hr.n_headers == MAX_HEADERS)
			break;
		headers[hr.n_headers].name = kv->key;
		headers[hr.n_headers].value = kv->value;
		hr.n_headers++;
	}
	hr.headers = headers;
	/* A disabled source still takes the topics its kind owes an answer
	 * to after the sender let it go (source_ops.disabled_topics). */
	if (src == NULL || strcmp(src->kind, kind) != 0 ||
	    (!src->enabled && !source_takes_when_disabled(src->ops, &hr))) {
		refuse(req, kind, 404, "not_found", "unknown or disabled source");
		return;
	}
	/* Before the body is read or verified: an over-limit sender costs
	 * only this. */
	if (!http_limits_allow(s, req, src, request_id))
		return;
	body = take_body(req, &hr.body_len);
	if (body == NULL) {
		refuse(req, kind, source_unavailable_status(src->ops), "overloaded",
		       "out of memory; retry later");
		return;
	}
	hr.method = "POST";
	hr.headers = headers;
	hr.body = body;
	if (src->ops->answer_unstored && src->ops->answer_unstored(src, &hr, &ans)) {
		telemetry_ingest_answered(kind, ans.status);
		http_reply_json(req, ans.status, ans.body);
		free(body);
		return;
	}
	queue_webhook(s, req, src, &hr, body, request_id);
}

void http_handle_webhook(struct http_server *s, struct evhttp_request *req, const char *rest)
{
	const struct source_ops *ops;
	char kind[32], id[37];

	/* A kind with a route of its own is served only there. */
	if (!split_route(rest, kind, sizeof(kind), id) ||
	    ((ops = source_ops_find(kind)) != NULL && ops->route != NULL)) {
		refuse(req, NULL, 404, "not_found", "no such webhook route");
		return;
	}
	serve(s, req, kind, id);
}

void http_handle_source_route(struct http_server *s, struct evhttp_request *req,
			      const struct source_ops *ops, const char *rest)
{
	char id[37];

	if (!parse_uuid(rest, id)) {
		refuse(req, ops->kind, 404, "not_found", "no such route");
		return;
	}
	serve(s, req, ops->kind, id);
}
