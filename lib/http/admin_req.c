/*
 * admin_req.c - the admin API's parsing of what a client sends: the path
 * against the route table, the query string (limits, filters, cursors)
 * and the JSON body.  Pure functions on the loop thread, fuzzed by
 * test/fuzz/fuzz_admin_request.c.
 *
 * A cursor is base64url (no padding) of the last row's key as text: "42",
 * a uuid, or for routes "uuid,uuid".  Opaque to clients; decoded here and
 * checked to have the shape of its list's key, so a forged cursor is a
 * 400, never an SQL error.
 */
#include "core/clock.h"
#include "http/admin_int.h"

#include <ctype.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- paths ----------------------------------------------------------------------- */

/* Match one pattern against rest; false on any difference. */
static bool path_match(const char *pat, const char *rest,
		       char params[ADMIN_PARAMS][ADMIN_PARAM_MAX])
{
	int np = 0;

	while (*pat && *rest) {
		size_t seg = strcspn(rest, "/");

		if (*pat == '{') {
			if (seg == 0 || seg >= ADMIN_PARAM_MAX || np >= ADMIN_PARAMS)
				return false;
			memcpy(params[np], rest, seg);
			params[np++][seg] = '\0';
			pat = strchr(pat, '}') + 1;
		} else {
			size_t pseg = strcspn(pat, "/");

			if (pseg != seg || memcmp(pat, rest, seg) != 0)
				return false;
			pat += pseg;
		}
		rest += seg;
		if (*pat != *rest)
			return false; /* one ends, or a '/' against the end */
		if (*pat == '/') {
			pat++;
			rest++;
			if (*rest == '\0')
				return false; /* a trailing slash */
		}
	}
	return *pat == '\0' && *rest == '\0';
}

enum admin_match admin_route_match(const struct admin_route *table, size_t n, unsigned method,
				   const char *rest, const struct admin_route **out,
				   char params[ADMIN_PARAMS][ADMIN_PARAM_MAX], unsigned *allow)
{
	*allow = 0;
	for (size_t i = 0; i < n; i++) {
		if (!path_match(table[i].path, rest, params))
			continue;
		if (table[i].method == method) {
			*out = &table[i];
			return ADMIN_MATCH_OK;
		}
		*allow |= table[i].method;
	}
	/* A param-free path (".../pause") ahead of a {param} one never
	 * shadows it: every route of the path was looked at. */
	return *allow ? ADMIN_MATCH_NO_METHOD : ADMIN_MATCH_NO_PATH;
}

void admin_methods_text(unsigned bits, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = { { ADMIN_GET, "GET" },
		      { ADMIN_POST, "POST" },
		      { ADMIN_PATCH, "PATCH" },
		      { ADMIN_DELETE, "DELETE" } };
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((bits & names[i].bit) && at < len)
			at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? ", " : "",
					       names[i].name);
	}
}

/* ---- values ------------------------------------------------------------------------ */

bool admin_is_uuid(const char *s)
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

static bool parse_range(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || !isdigit((unsigned char)s[0]) || strlen(s) > 19)
		return false;
	v = strtoll(s, &end, 10);
	if (*end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool admin_parse_id(const char *s, int64_t *out)
{
	return parse_range(s, 1, INT64_MAX, out);
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

/* ---- cursors ----------------------------------------------------------------------- */

char *admin_cursor_encode(const char *a, const char *b)
{
	char key[2 * ADMIN_PARAM_MAX + 2];
	int n = snprintf(key, sizeof(key), "%s%s%s", a, b ? "," : "", b ? b : "");
	size_t outlen;
	char *out;

	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	outlen = sodium_base64_encoded_len((size_t)n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	out = malloc(outlen);
	if (out)
		sodium_bin2base64(out, outlen, (const unsigned char *)key, (size_t)n,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

static int cursor_decode(const char *text, enum admin_key key, struct admin_query *q, struct err *e)
{
	char raw[2 * ADMIN_PARAM_MAX + 2], *comma;
	size_t n = 0;
	int64_t id;
	bool ok;

	if (key == ADMIN_KEY_NONE)
		return err_set(e, ERR_INVALID, "cursor: this is not a list");
	if (sodium_base642bin((unsigned char *)raw, sizeof(raw) - 1, text, strlen(text), NULL, &n,
			      NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    memchr(raw, '\0', n) != NULL)
		return err_set(e, ERR_INVALID, "cursor: not a cursor of this list");
	raw[n] = '\0';
	comma = strchr(raw, ',');
	if (comma)
		*comma = '\0';
	if (key == ADMIN_KEY_INT)
		ok = comma == NULL && admin_parse_id(raw, &id);
	else if (key == ADMIN_KEY_UUID)
		ok = comma == NULL && admin_is_uuid(raw);
	else
		ok = comma && admin_is_uuid(raw) && admin_is_uuid(comma + 1);
	if (!ok)
		return err_set(e, ERR_INVALID, "cursor: not a cursor of this list");
	snprintf(q->after, sizeof(q->after), "%s", raw);
	if (comma)
		snprintf(q->after2, sizeof(q->after2), "%s", comma + 1);
	q->has_cursor = true;
	return 0;
}

/* ---- query strings --------------------------------------------------------------- */

static int time_param(const char *name, const char *v, bool *has, int64_t *us, struct err *e)
{
	struct err ignored = { 0 };

	if (clock_parse_iso8601(v, us, &ignored) != 0)
		return err_set(e, ERR_INVALID, "%s: an RFC 3339 time (2026-11-28T10:00:00Z)", name);
	*has = true;
	return 0;
}

static int text_param(const char *name, const char *v, char *out, size_t len, struct err *e)
{
	if (v[0] == '\0' || strlen(v) >= len)
		return err_set(e, ERR_INVALID, "%s: 1 to %zu bytes", name, len - 1);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

/* One known parameter into q. */
static int query_param(unsigned bit, const char *name, const char *v, enum admin_key key,
		       struct admin_query *q, struct err *e)
{
	switch (bit) {
	case AQ_LIMIT:
		if (!parse_range(v, 1, ADMIN_LIMIT_MAX, &q->limit))
			return err_set(e, ERR_INVALID, "limit: 1 to %d", ADMIN_LIMIT_MAX);
		return 0;
	case AQ_CURSOR:
		return cursor_decode(v, key, q, e);
	case AQ_TENANT:
		if (!admin_parse_id(v, &q->tenant))
			return err_set(e, ERR_INVALID, "tenant: a tenant id");
		return 0;
	case AQ_STATE:
		if (!is_delivery_state(v))
			return err_set(e, ERR_INVALID,
				       "state: pending, in_flight, delivered, "
				       "failed, dead, held or skipped");
		return text_param(name, v, q->state, sizeof(q->state), e);
	case AQ_DESTINATION:
	case AQ_SOURCE:
		if (!admin_is_uuid(v))
			return err_set(e, ERR_INVALID, "%s: an id (uuid)", name);
		return text_param(name, v, bit == AQ_SOURCE ? q->source : q->destination, 37, e);
	case AQ_EVENT:
		return text_param(name, v, q->event, sizeof(q->event), e);
	case AQ_SINCE:
		return time_param(name, v, &q->has_since, &q->since_us, e);
	case AQ_UNTIL:
		return time_param(name, v, &q->has_until, &q->until_us, e);
	}
	return 0;
}

int admin_query_parse(const char *query, unsigned accepted, enum admin_key key,
		      struct admin_query *q, struct err *e)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = { { "limit", AQ_LIMIT },
		      { "cursor", AQ_CURSOR },
		      { "tenant", AQ_TENANT },
		      { "state", AQ_STATE },
		      { "destination", AQ_DESTINATION },
		      { "source", AQ_SOURCE },
		      { "event", AQ_EVENT },
		      { "since", AQ_SINCE },
		      { "until", AQ_UNTIL } };
	struct evkeyvalq kv = { 0 };
	int rc = 0;

	memset(q, 0, sizeof(*q));
	q->limit = ADMIN_LIMIT_DEFAULT;
	if (evhttp_parse_query_str(query ? query : "", &kv) != 0)
		return err_set(e, ERR_INVALID, "the query string cannot be parsed");
	for (size_t i = 0; rc == 0 && i < sizeof(known) / sizeof(known[0]); i++) {
		const char *v = evhttp_find_header(&kv, known[i].name);

		if (v == NULL)
			continue;
		if (!(accepted & known[i].bit))
			rc = err_set(e, ERR_INVALID, "%s: not a parameter of this route",
				     known[i].name);
		else
			rc = query_param(known[i].bit, known[i].name, v, key, q, e);
	}
	evhttp_clear_headers(&kv);
	return rc;
}

/* ---- bodies ------------------------------------------------------------------------ */

int admin_body_parse(const char *text, size_t n, size_t max, cJSON **out, struct err *e)
{
	cJSON *body;
	char *copy;

	*out = NULL;
	if (n == 0)
		return 0;
	if (n > max)
		return err_set(e, ERR_TOOBIG, "the body is over %zu bytes", max);
	/* cJSON stops at a NUL: the whole text or nothing. */
	if (memchr(text, '\0', n) != NULL)
		return err_set(e, ERR_INVALID, "the body must be a JSON object");
	copy = malloc(n + 1);
	if (copy == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	memcpy(copy, text, n);
	copy[n] = '\0';
	body = cJSON_ParseWithOpts(copy, NULL, true);
	free(copy);
	if (!cJSON_IsObject(body)) {
		cJSON_Delete(body);
		return err_set(e, ERR_INVALID, "the body must be a JSON object");
	}
	*out = body;
	return 0;
}
