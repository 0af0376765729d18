/*
 * fuzz_admin_request.c - libFuzzer target: arbitrary bytes through the
 * admin API's request parsing (http/admin_req.c).  The input is split at
 * the first two newlines into a path, a query string and a body.  The path
 * is matched against the real route table with every method; the query is
 * parsed as each route would parse it; a cursor that parses must encode
 * back to a cursor that parses to the same key; the body parses to an
 * object or is refused, and its "settings" go through the per-kind source
 * settings check (pipeline/catalog.h).
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/admin_int.h"
#include "pipeline/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cursor(const struct admin_route *r, const struct admin_query *q)
{
	struct admin_query back;
	struct err e = { 0 };
	char query[256];
	char *c;

	if (!q->has_cursor)
		return;
	c = admin_cursor_encode(q->after, q->after2[0] ? q->after2 : NULL);
	if (c == NULL)
		abort();
	snprintf(query, sizeof(query), "cursor=%s", c);
	free(c);
	if (admin_query_parse(query, r->query, r->key, &back, &e) != 0 ||
	    strcmp(back.after, q->after) != 0 || strcmp(back.after2, q->after2) != 0)
		abort();
}

static void run(const char *path, const char *query, const char *body, size_t body_len)
{
	static const unsigned methods[] = { ADMIN_GET, ADMIN_POST, ADMIN_PATCH, ADMIN_DELETE };
	char params[ADMIN_PARAMS][ADMIN_PARAM_MAX];
	const struct admin_route *table, *r = NULL;
	struct admin_query q;
	struct err e = { 0 };
	unsigned allow;
	cJSON *b = NULL;
	size_t n;

	table = admin_routes(&n);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (admin_route_match(table, n, methods[i], path, &r, params, &allow) ==
			    ADMIN_MATCH_OK &&
		    (strlen(params[0]) >= ADMIN_PARAM_MAX || r->method != methods[i]))
			abort();
	}
	for (size_t i = 0; i < n; i++) {
		if (admin_query_parse(query, table[i].query, table[i].key, &q, &e) == 0) {
			if (q.limit < 1 || q.limit > ADMIN_LIMIT_MAX)
				abort();
			check_cursor(&table[i], &q);
		}
	}
	if (admin_body_parse(body, body_len, 4096, &b, &e) == 0 && b && !cJSON_IsObject(b))
		abort();
	/* a source's settings, as POST/PATCH /sources check them */
	for (size_t i = 0; b && i < 3; i++) {
		static const char *const kinds[] = { "woocommerce", "ghl", "shopify" };

		(void)catalog_source_settings_check(
			kinds[i], cJSON_GetObjectItemCaseSensitive(b, "settings"), &e);
	}
	cJSON_Delete(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	char *s, *nl1, *nl2;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		inited = 1;
	}
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	nl1 = memchr(s, '\n', size);
	nl2 = nl1 ? memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - s)) : NULL;
	if (nl1 && nl2) {
		*nl1 = *nl2 = '\0';
		/* path and query stop at a NUL, as evhttp hands them over */
		run(s, nl1 + 1, nl2 + 1, size - (size_t)(nl2 + 1 - s));
	}
	free(s);
	return 0;
}
