/*
 * admin_int.h - what the admin API's files share and nothing else
 * includes: the job (one request on its way to the worker and back), the
 * route table's row, and the parsing of a request's path, query string
 * and body (admin_req.c: pure functions of outside input, fuzzed by
 * test/fuzz/fuzz_admin_request.c).  admin_api.c owns the listener, the
 * slots and the worker; admin_ops.c the route table, admin_ops*.c the
 * handlers (admin_ops.h).
 */
#ifndef ADSENG_HTTP_ADMIN_INT_H
#define ADSENG_HTTP_ADMIN_INT_H

#include "core/config.h"
#include "core/err.h"
#include "core/jwt.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>

#define ADMIN_PARAM_MAX	    64 /* one {param} of a path, with its NUL */
#define ADMIN_PARAMS	    2  /* at most per path */
#define ADMIN_LIMIT_DEFAULT 50
#define ADMIN_LIMIT_MAX	    1000

/* The methods of the table (a subset of evhttp's, in our own bits so the
 * parsing needs no libevent). */
enum admin_method {
	ADMIN_GET = 1,
	ADMIN_POST = 2,
	ADMIN_PATCH = 4,
	ADMIN_DELETE = 8,
};

/* The query parameters a route accepts (others are 400 when known to some
 * route, ignored when unknown to all). */
enum admin_query_bit {
	AQ_LIMIT = 1u << 0,
	AQ_CURSOR = 1u << 1,
	AQ_TENANT = 1u << 2,
	AQ_STATE = 1u << 3,
	AQ_DESTINATION = 1u << 4,
	AQ_SOURCE = 1u << 5,
	AQ_EVENT = 1u << 6,
	AQ_SINCE = 1u << 7,
	AQ_UNTIL = 1u << 8,
	AQ_LIST = AQ_LIMIT | AQ_CURSOR | AQ_TENANT,
};

/* The key a list's cursor carries (the last row's): what a decoded cursor
 * must look like. */
enum admin_key {
	ADMIN_KEY_NONE, /* not a list */
	ADMIN_KEY_INT,	/* an id: tenants, conversions, deliveries */
	ADMIN_KEY_UUID, /* sources, destinations */
	ADMIN_KEY_UUID2 /* routes: source id, destination id */
};

struct admin_query {
	int64_t limit;
	bool has_cursor;
	char after[ADMIN_PARAM_MAX], after2[ADMIN_PARAM_MAX];
	int64_t tenant; /* ?tenant=, 0 = none */
	char state[16], destination[37], source[37], event[128];
	bool has_since, has_until;
	int64_t since_us, until_us;
};

struct admin_job;
struct admin_api;

/* A handler: runs on the admin worker with its connection; fills *out (the
 * 200 answer) or returns an error (admin_api.c turns its code into a
 * status, or job->status when the handler set one). */
typedef int (*admin_handler_cb)(PGconn *conn, const struct config *cfg, struct admin_job *job,
				cJSON **out, struct err *e);

struct admin_route {
	enum admin_method method;
	const char *path; /* under /v1/admin/; "{name}" matches one segment */
	bool admin_only;  /* role admin, else 403 */
	unsigned query;	  /* AQ_* */
	enum admin_key key;
	admin_handler_cb run;
};

struct runtime;

struct admin_job {
	struct admin_api *api;
	struct runtime *rt; /* the vault and OAuth cache (destination test) */
	STAILQ_ENTRY(admin_job) next;
	uint32_t slot, gen;
	const struct admin_route *route;
	struct jwt_claims who;
	int64_t tenant; /* the token's scope: 0 = every tenant (admin) */
	char param[ADMIN_PARAMS][ADMIN_PARAM_MAX];
	struct admin_query q;
	cJSON *body;	/* the request's JSON object, NULL when none */
	char path[128]; /* for the log line */
	/* The answer, written by the worker. */
	int status;
	char *answer; /* JSON text, malloc'd */
};

/* The route table (admin_ops.c), in the order the dispatcher tries it. */
const struct admin_route *admin_routes(size_t *n);

/* Print "METHOD /v1/admin/path" of every route, sorted, one a line. */
void admin_routes_print(FILE *f);

enum admin_match { ADMIN_MATCH_OK, ADMIN_MATCH_NO_PATH, ADMIN_MATCH_NO_METHOD };

/*
 * Find the route of method and rest (the path after "/v1/admin/"), copying
 * its {params} into params.  NO_METHOD when the path is known but not with
 * that method: *allow gets the methods it has (ADMIN_* bits).
 */
enum admin_match admin_route_match(const struct admin_route *table, size_t n, unsigned method,
				   const char *rest, const struct admin_route **out,
				   char params[ADMIN_PARAMS][ADMIN_PARAM_MAX], unsigned *allow);

/* "GET, POST" for ADMIN_* bits, into buf. */
void admin_methods_text(unsigned bits, char *buf, size_t len);

/*
 * Parse a query string (NULL = none) for a route that accepts the AQ_*
 * bits in accepted and whose cursors carry key.  0, or ERR_INVALID with a
 * message naming the parameter ("limit: 1 to 1000").
 */
int admin_query_parse(const char *query, unsigned accepted, enum admin_key key,
		      struct admin_query *q, struct err *e) WUR;

/* A cursor for the key (a, b; b NULL but for routes): base64url text,
 * malloc'd, NULL when memory runs out. */
char *admin_cursor_encode(const char *a, const char *b);

/*
 * A request body: empty (NULL *out), or one JSON object of at most max
 * bytes without a NUL inside.  0 or ERR_INVALID / ERR_TOOBIG with a message.
 */
int admin_body_parse(const char *text, size_t n, size_t max, cJSON **out, struct err *e) WUR;

/* True when s is a uuid in its text form / a positive decimal integer. */
bool admin_is_uuid(const char *s);
bool admin_parse_id(const char *s, int64_t *out);

#endif
