/*
 * webhook.c - POST /v1/webhooks/{kind}/{source_id}: find the source in the
 * loop's snapshot, verify the signature over the exact raw bytes, take the
 * dedup key and topic, and queue the raw event for the ingest writers.
 * Every refusal happens before anything is queued, so nothing is stored
 * for a non-2xx answer.
 */
#include "core/log.h"
#include "core/mem.h"
#include "http/server_int.h"
#include "sources/source.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADERS 64

/* "shopify/9b2c…" → kind and lowercased uuid; false if malformed. */
static bool split_route(const char *rest, char *kind, size_t kindlen, char *id)
{
	const char *slash = strchr(rest, '/');
	size_t klen, ilen;

	if (slash == NULL)
		return false;
	klen = (size_t)(slash - rest);
	ilen = strlen(slash + 1);
	if (klen == 0 || klen >= kindlen || ilen != 36)
		return false;
	memcpy(kind, rest, klen);
	kind[klen] = '\0';
	for (size_t i = 0; i < 36; i++) {
		char c = slash[1 + i];

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

static bool wanted(const char *const *list, const char *name)
{
	for (; list && *list; list++) {
		if (strcasecmp(*list, name) == 0)
			return true;
	}
	return false;
}

/* The stored headers as a JSON object text (malloc'd). */
static char *headers_json(const struct source_ops *ops, const struct http_req *hr, size_t *len)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	for (size_t i = 0; i < hr->n_headers; i++) {
		if (wanted(ops->stored_headers, hr->headers[i].name) &&
		    !cJSON_HasObjectItem(o, hr->headers[i].name))
			cJSON_AddStringToObject(o, hr->headers[i].name, hr->headers[i].value);
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		abort();
	*len = strlen(text);
	return text;
}

static struct ingest_job *make_job(const struct source *src, const struct http_req *hr,
				   const char *dedup, const char *topic)
{
	struct ingest_job *job = xcalloc(1, sizeof(*job));

	memcpy(job->source_id, src->id, sizeof(job->source_id));
	job->dedup_key = xstrdup(dedup);
	job->topic = xstrdup(topic);
	job->headers_json = headers_json(src->ops, hr, &job->headers_len);
	job->body = xmalloc(hr->body_len ? hr->body_len : 1);
	memcpy(job->body, hr->body, hr->body_len);
	job->body_len = hr->body_len;
	return job;
}

void http_handle_webhook(struct http_server *s, struct evhttp_request *req, const char *rest)
{
	char kind[32], id[37], dedup[SOURCE_DEDUP_MAX], topic[SOURCE_TOPIC_MAX];
	struct http_header headers[MAX_HEADERS];
	struct http_req hr = { 0 };
	struct evkeyval *kv;
	struct evbuffer *in;
	const struct source *src;
	struct ingest_job *job;
	struct err e = { 0 };
	uint32_t slot, gen;

	if (!split_route(rest, kind, sizeof(kind), id)) {
		http_reply_error(req, 404, "not_found", "no such webhook route");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		http_reply_error(req, 405, "method_not_allowed", "webhooks are POSTed");
		return;
	}
	if (s->sources == NULL) {
		http_reply_error(req, 503, "unavailable", "sources not loaded yet; retry later");
		return;
	}
	src = source_set_find(s->sources, id);
	if (src == NULL || !src->enabled || strcmp(src->kind, kind) != 0) {
		http_reply_error(req, 404, "not_found", "unknown or disabled source");
		return;
	}
	TAILQ_FOREACH (kv, evhttp_request_get_input_headers(req), next) {
		if (hr.n_headers == MAX_HEADERS)
			break;
		headers[hr.n_headers].name = kv->key;
		headers[hr.n_headers].value = kv->value;
		hr.n_headers++;
	}
	in = evhttp_request_get_input_buffer(req);
	hr.method = "POST";
	hr.headers = headers;
	hr.body_len = evbuffer_get_length(in);
	hr.body = hr.body_len ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
	if (src->ops->verify(src, &hr, &e) != 0) {
		int suppressed;

		if (log_ratelimit_allow(&s->rl_refused, 60, &suppressed))
			log_info("webhook refused",
				 "source=%s status=401 reason=\"%s\" suppressed=%d", src->id, e.msg,
				 suppressed);
		http_reply_error(req, 401, "unauthorized", e.msg);
		return;
	}
	if (src->ops->dedup_key(&hr, dedup, sizeof(dedup), &e) != 0) {
		http_reply_error(req, 400, "bad_request", e.msg);
		return;
	}
	src->ops->topic(&hr, topic, sizeof(topic));
	if (http_slot_take(s, req, &slot, &gen) != 0) {
		http_reply_error(req, 503, "overloaded",
				 "too many requests in flight; retry later");
		return;
	}
	job = make_job(src, &hr, dedup, topic);
	job->slot = slot;
	job->gen = gen;
	if (ingest_submit(s->ingest, job) != 0) {
		http_slot_abandon(s, slot, gen);
		ingest_job_free(job);
		http_reply_error(req, 503, "overloaded", "ingest queue is full; retry later");
	}
}
