/*
 * test_uploader_method.c - the uploader sends what upload_req.method says:
 * a POST with its body, a GET with none.  A libevent evhttp server on
 * 127.0.0.1 (an ephemeral port) in the same event_base records the method
 * and body of each request; no outside network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/mem.h"
#include "net/uploader.h"

struct seen {
	enum evhttp_cmd_type method;
	size_t body_len;
	char body[64];
	char uri[128];
};

struct fixture {
	struct event_base *base;
	struct evhttp *http;
	struct uploader *u;
	int port;
	struct seen seen;
	long status;
	bool transport_error;
	int done;
};

static void serve_cb(struct evhttp_request *req, void *arg)
{
	struct fixture *f = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *out = evbuffer_new();

	f->seen.method = evhttp_request_get_command(req);
	f->seen.body_len = evbuffer_get_length(in);
	evbuffer_copyout(in, f->seen.body, sizeof(f->seen.body) - 1);
	snprintf(f->seen.uri, sizeof(f->seen.uri), "%s", evhttp_request_get_uri(req));
	evbuffer_add_printf(out, "{\"ok\":true}");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void done_cb(const struct upload_resp *resp, void *arg)
{
	struct fixture *f = arg;

	f->status = resp->status;
	f->transport_error = resp->transport_error;
	f->done++;
	event_base_loopbreak(f->base);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct uploader_opts opts = { .default_timeout_ms = 5000, .connect_timeout_ms = 2000 };
	struct evhttp_bound_socket *sock;
	struct sockaddr_storage ss;
	ev_socklen_t len = sizeof(ss);
	struct err e = { 0 };

	f->base = event_base_new();
	f->http = evhttp_new(f->base);
	evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(f->http, serve_cb, f);
	sock = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
	assert_non_null(sock);
	assert_int_equal(
		getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len), 0);
	f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	assert_int_equal(uploader_new(f->base, &opts, &f->u, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	uploader_free(f->u);
	evhttp_free(f->http);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Submit r and run the loop until its callback ran. */
static void send_one(struct fixture *f, struct upload_req *r)
{
	struct err e = { 0 };

	f->done = 0;
	memset(&f->seen, 0, sizeof(f->seen));
	if (uploader_submit(f->u, r, done_cb, f, &e) != 0)
		fail_msg("uploader_submit: %s", e.msg);
	while (f->done == 0)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_int_equal(f->done, 1);
	assert_false(f->transport_error);
	assert_int_equal(f->status, 200);
}

static void test_post_sends_body(void **state)
{
	struct fixture *f = *state;
	struct upload_req r;

	upload_req_init(&r);
	r.url = xasprintf("http://127.0.0.1:%d/v1/events", f->port);
	upload_req_add_header(&r, "Content-Type: application/json");
	buf_puts(&r.body, "{\"a\":1}");
	send_one(f, &r);
	assert_int_equal(f->seen.method, EVHTTP_REQ_POST);
	assert_int_equal(f->seen.body_len, 7);
	assert_string_equal(f->seen.body, "{\"a\":1}");
}

static void test_get_sends_no_body(void **state)
{
	struct fixture *f = *state;
	struct upload_req r;

	upload_req_init(&r);
	r.method = UPLOAD_GET;
	r.url = xasprintf("http://127.0.0.1:%d/v1/requestStatus:retrieve?requestId=r1", f->port);
	send_one(f, &r);
	assert_int_equal(f->seen.method, EVHTTP_REQ_GET);
	assert_int_equal(f->seen.body_len, 0);
	assert_string_equal(f->seen.uri, "/v1/requestStatus:retrieve?requestId=r1");
	/* The same uploader (and its connection) still POSTs afterwards. */
	test_post_sends_body(state);
}

/* A GET with a body is refused at submit, the request wiped, no callback. */
static void test_get_with_body_refused(void **state)
{
	struct fixture *f = *state;
	struct upload_req r;
	struct err e = { 0 };

	upload_req_init(&r);
	r.method = UPLOAD_GET;
	r.url = xasprintf("http://127.0.0.1:%d/x", f->port);
	buf_puts(&r.body, "oops");
	f->done = 0;
	assert_int_equal(uploader_submit(f->u, &r, done_cb, f, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "GET"));
	assert_null(r.url);
	assert_null(r.body.data);
	assert_int_equal(uploader_inflight(f->u), 0);
	assert_int_equal(f->done, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_post_sends_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_sends_no_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_with_body_refused, setup, teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
