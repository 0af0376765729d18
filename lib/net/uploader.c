/*
 * uploader.c - curl_multi on libevent.
 *
 * Every socket curl wants watched gets one libevent event (kept in curl's
 * per-socket pointer via curl_multi_assign); curl's single timeout is one
 * libevent timer.  After every curl_multi_socket_action we drain
 * curl_multi_info_read for finished transfers.  Completion callbacks never
 * run inside curl's own callbacks: finished transfers are collected first,
 * then reported, so a callback may submit new requests safely.
 */
#include "net/uploader.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

#include <ctype.h>
#include <errno.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct transfer {
	struct uploader *u;
	CURL *easy;
	struct curl_slist *headers;
	struct upload_req req;
	struct buf body;
	long retry_after_s;
	int64_t started_ms;
	char errbuf[CURL_ERROR_SIZE];
	uploader_done_cb cb;
	void *arg;
	struct transfer *next; /* finished list / live list */
	struct transfer *prev;
};

struct uploader {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct event *report; /* runs completion callbacks outside curl */
	struct uploader_opts opts;
	struct transfer *live; /* doubly linked */
	struct transfer *finished;
	size_t inflight;
	int still_running;
};

struct sockinfo {
	struct event *ev;
	curl_socket_t fd;
};

static void check_multi_info(struct uploader *u);

/* A platform asking for more than a day is capped: the backoff cap and
 * replay cover anything longer, and huge values must not overflow. */
#define RETRY_AFTER_MAX_S 86400

long uploader_parse_retry_after(const char *value, int64_t now_s)
{
	char *end;
	long v;
	time_t t;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		errno = 0;
		v = strtol(value, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end != '\0' || v < 0)
			return -1;
		if (errno == ERANGE || v > RETRY_AFTER_MAX_S)
			return RETRY_AFTER_MAX_S;
		return v;
	}
	t = curl_getdate(value, NULL);
	if (t == (time_t)-1)
		return -1;
	if (t <= now_s)
		return 0;
	return t - now_s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (long)(t - now_s);
}

static void event_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct uploader *u = arg;
	int action = ((kind & EV_READ) ? CURL_CSELECT_IN : 0) |
		     ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(u->multi, fd, action, &u->still_running);
	check_multi_info(u);
	if (u->still_running <= 0 && evtimer_pending(u->timer, NULL))
		evtimer_del(u->timer);
}

static void timer_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct uploader *u = arg;

	(void)fd;
	(void)kind;
	curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &u->still_running);
	check_multi_info(u);
}

static int multi_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct uploader *u = arg;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(u->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	/* timeout 0: curl wants socket_action called soon, but not from
	 * inside this callback. */
	evtimer_add(u->timer, &tv);
	return 0;
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct uploader *u = arg;
	struct sockinfo *si = sockp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (si) {
			event_free(si->ev);
			free(si);
			curl_multi_assign(u->multi, s, NULL);
		}
		return 0;
	}
	kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
		       ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
	if (si == NULL) {
		si = xcalloc(1, sizeof(*si));
		si->fd = s;
		si->ev = event_new(u->base, s, kind, event_cb, u);
		curl_multi_assign(u->multi, s, si);
	} else {
		event_del(si->ev);
		event_assign(si->ev, u->base, s, kind, event_cb, u);
	}
	event_add(si->ev, NULL);
	return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t n = size * nmemb;

	if (t->body.len < t->u->opts.max_response) {
		size_t room = t->u->opts.max_response - t->body.len;

		buf_append(&t->body, ptr, n < room ? n : room);
	}
	return n;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) - 1 && n < 256 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
		char value[256];

		memcpy(value, ptr + sizeof(name) - 1, n - (sizeof(name) - 1));
		value[n - (sizeof(name) - 1)] = '\0';
		t->retry_after_s = uploader_parse_retry_after(value, time(NULL));
	}
	return n;
}

static void transfer_free(struct transfer *t)
{
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	upload_req_cleanup(&t->req);
	buf_cleanup(&t->body);
	free(t);
}

static void unlink_live(struct uploader *u, struct transfer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		u->live = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

static void report(struct transfer *t, CURLcode code)
{
	struct upload_resp resp = { 0 };
	long status = 0;

	resp.retry_after_s = t->retry_after_s;
	resp.latency_ms = clock_mono_ms() - t->started_ms;
	if (code == CURLE_OK) {
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
		resp.status = status;
	} else {
		resp.transport_error = true;
		snprintf(resp.transport_msg, sizeof(resp.transport_msg), "%s",
			 t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
	}
	if (t->body.data == NULL)
		buf_puts(&t->body, "");
	resp.body = t->body.data;
	resp.body_len = t->body.len;
	t->cb(&resp, t->arg);
}

/* Run completion callbacks for what curl finished, outside curl's calls. */
static void report_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct uploader *u = arg;
	struct transfer *t;

	(void)fd;
	(void)kind;
	while ((t = u->finished) != NULL) {
		CURLcode code = (CURLcode)(intptr_t)t->prev;

		u->finished = t->next;
		t->next = t->prev = NULL;
		u->inflight--;
		report(t, code);
		transfer_free(t);
	}
}

static void check_multi_info(struct uploader *u)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(u->multi, &left)) != NULL) {
		struct transfer *t = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		curl_multi_remove_handle(u->multi, msg->easy_handle);
		unlink_live(u, t);
		/* Park the result code in prev while on the finished list. */
		t->prev = (struct transfer *)(intptr_t)msg->data.result;
		t->next = u->finished;
		u->finished = t;
	}
	if (u->finished)
		event_active(u->report, EV_READ, 0);
}

int uploader_new(struct event_base *base, const struct uploader_opts *opts, struct uploader **out,
		 struct err *e)
{
	struct uploader *u = xcalloc(1, sizeof(*u));

	u->base = base;
	u->opts = *opts;
	if (u->opts.max_response == 0)
		u->opts.max_response = 1 << 20;
	u->multi = curl_multi_init();
	if (u->multi == NULL) {
		free(u);
		return err_set(e, ERR_NOMEM, "could not create a curl multi handle");
	}
	u->timer = evtimer_new(base, timer_cb, u);
	u->report = event_new(base, -1, 0, report_cb, u);
	curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
	curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
	curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
	curl_multi_setopt(u->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	*out = u;
	return 0;
}

/* POST sends the body (an empty one too); GET sends none
 * (upload_req_check refused a GET with a body). */
static void set_method(struct transfer *t)
{
	if (t->req.method == UPLOAD_GET) {
		curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
		return;
	}
	curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->req.body.data ? t->req.body.data : "");
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->req.body.len);
}

int uploader_submit(struct uploader *u, struct upload_req *req, uploader_done_cb cb, void *arg,
		    struct err *e)
{
	struct transfer *t;
	long timeout = req->timeout_ms > 0 ? req->timeout_ms : u->opts.default_timeout_ms;
	CURLMcode mc;
	int rc;

	rc = upload_req_check(req, e);
	if (rc != 0) {
		upload_req_cleanup(req); /* owned from here on, as on every path */
		return rc;
	}
	t = xcalloc(1, sizeof(*t));
	t->u = u;
	t->cb = cb;
	t->arg = arg;
	t->req = *req;
	upload_req_init(req);
	buf_init(&t->body);
	t->retry_after_s = -1;
	t->easy = curl_easy_init();
	if (t->easy == NULL) {
		transfer_free(t);
		return err_set(e, ERR_NOMEM, "could not create a curl handle");
	}
	for (size_t i = 0; i < t->req.n_headers; i++)
		t->headers = curl_slist_append(t->headers, t->req.headers[i]);
	/* curl would send "Expect: 100-continue" for bodies over 1 KiB and wait
	 * for the server's go-ahead: a wasted round trip on every batch. */
	t->headers = curl_slist_append(t->headers, "Expect:");
	curl_easy_setopt(t->easy, CURLOPT_URL, t->req.url);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	set_method(t);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 u->opts.connect_timeout_ms > 0 ? u->opts.connect_timeout_ms : 10000L);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT,
			 u->opts.user_agent ? u->opts.user_agent : "adsengd");
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(t->easy, CURLOPT_ACCEPT_ENCODING, "");
	t->started_ms = clock_mono_ms();
	mc = curl_multi_add_handle(u->multi, t->easy);
	if (mc != CURLM_OK) {
		transfer_free(t);
		return err_set(e, ERR_IO, "could not start an upload: %s", curl_multi_strerror(mc));
	}
	t->next = u->live;
	if (u->live)
		u->live->prev = t;
	u->live = t;
	u->inflight++;
	return 0;
}

size_t uploader_inflight(const struct uploader *u)
{
	return u->inflight;
}

void uploader_free(struct uploader *u)
{
	struct transfer *t;

	if (u == NULL)
		return;
	while ((t = u->live) != NULL) {
		curl_multi_remove_handle(u->multi, t->easy);
		unlink_live(u, t);
		t->prev = (struct transfer *)(intptr_t)CURLE_ABORTED_BY_CALLBACK;
		t->next = u->finished;
		u->finished = t;
	}
	report_cb(-1, 0, u);
	curl_multi_cleanup(u->multi);
	event_free(u->timer);
	event_free(u->report);
	free(u);
}
