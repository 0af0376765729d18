/*
 * privacy_store.c - the SQL of privacy requests (privacy_store.h).
 *
 * Finding a person's raw events is a filter in SQL (the body contains the
 * key's bytes: position() over bytea, no JSON cast that one malformed body
 * would make fail) followed by the caller's exact check on each candidate,
 * so no platform's JSON layout is written here.  Erasing is one statement
 * of data-modifying CTEs per request, so the counts in the audit row are
 * exactly what that statement changed.
 */
#include "store/privacy_store.h"
#include "core/mem.h"
#include "core/text.h"
#include "store/admin.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why erased events and skipped deliveries say what they say. */
#define REDACTED_REASON "erased at a privacy request"

void privacy_hits_cleanup(struct privacy_hits *h)
{
	free(h->ids);
	cJSON_Delete(h->json);
	memset(h, 0, sizeof(*h));
}

int privacy_store_source_kind(PGconn *conn, const char *source_id, char kind[32], struct err *e)
{
	const char *v[1] = { source_id };
	PGresult *res = PQexecParams(conn, "SELECT kind FROM sources WHERE id = $1::uuid", 1, NULL,
				     v, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not look up source", e);

	if (rc == 0 && PQntuples(res) == 0)
		rc = err_set(e, ERR_NOTFOUND, "no source %s", source_id);
	else if (rc == 0)
		snprintf(kind, 32, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/* The body as the export shows it: its JSON value, else its text, else
 * null (bytes that are not UTF-8). */
static cJSON *body_json(const uint8_t *body, size_t len)
{
	cJSON *v = len ? cJSON_ParseWithLength((const char *)body, len) : NULL;
	char *text;

	if (v != NULL)
		return v;
	text = xmalloc(len + 1);
	memcpy(text, body, len);
	text[len] = '\0';
	v = strlen(text) == len && text_is_utf8(text) ? cJSON_CreateString(text)
						      : cJSON_CreateNull();
	free(text);
	return v;
}

static bool add_hit_json(cJSON *arr, const struct privacy_raw *r, const char *received_at)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *body = body_json(r->body, r->body_len);

	if (o == NULL || body == NULL || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		cJSON_Delete(body);
		return false;
	}
	if (!cJSON_AddItemToObject(o, "body", body)) {
		cJSON_Delete(body);
		return false;
	}
	return cJSON_AddNumberToObject(o, "id", (double)r->id) &&
	       cJSON_AddStringToObject(o, "received_at", received_at) &&
	       cJSON_AddStringToObject(o, "topic", r->topic);
}

static const char find_sql[] =
	"SELECT id, topic, headers::text, body,"
	"  (extract(epoch FROM received_at) * 1000000)::int8,"
	"  to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	" FROM raw_events WHERE source_id = $1::uuid AND position(convert_to($2, 'UTF8') IN body) "
	"> 0"
	" ORDER BY id";

/* Row r of find_sql's result through cb; a hit is appended to out. */
static int take_row(const PGresult *res, int r, privacy_names_cb cb, void *arg, bool want_json,
		    struct privacy_hits *out, struct err *e)
{
	size_t len = 0;
	unsigned char *body = PQunescapeBytea((const unsigned char *)PQgetvalue(res, r, 3), &len);
	struct privacy_raw raw = { .id = db_get_int64(res, r, 0),
				   .topic = PQgetvalue(res, r, 1),
				   .headers_json = PQgetvalue(res, r, 2),
				   .body = body,
				   .body_len = len,
				   .received_us = db_get_int64(res, r, 4) };
	int rc = 0;

	if (body == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (cb(&raw, arg)) {
		out->ids[out->n++] = raw.id;
		if (want_json && !add_hit_json(out->json, &raw, PQgetvalue(res, r, 5)))
			rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	PQfreemem(body);
	return rc;
}

int privacy_store_find_raw(PGconn *conn, const char *source_id, const char *key,
			   privacy_names_cb cb, void *arg, bool want_json, struct privacy_hits *out,
			   struct err *e)
{
	const char *v[2] = { source_id, key };
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	if (key == NULL || key[0] == '\0')
		return err_set(e, ERR_INVALID, "no customer key");
	res = PQexecParams(conn, find_sql, 2, NULL, v, NULL, NULL, 0);
	rc = db_check(conn, res, "could not read raw events", e);
	if (rc != 0)
		goto out;
	out->ids = xcalloc((size_t)PQntuples(res) + 1, sizeof(*out->ids));
	if (want_json && (out->json = cJSON_CreateArray()) == NULL) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int r = 0; rc == 0 && r < PQntuples(res); r++)
		rc = take_row(res, r, cb, arg, want_json, out, e);
out:
	PQclear(res);
	return rc;
}

/* ids as an int8[] literal "{1,2}" (caller frees). */
static char *ids_literal(const int64_t *ids, size_t n)
{
	size_t cap = n * 21 + 3, at = 0;
	char *s = xmalloc(cap);

	s[at++] = '{';
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(s + at, cap - at, "%s%" PRId64, i ? "," : "", ids[i]);
	s[at++] = '}';
	s[at] = '\0';
	return s;
}

/*
 * The conversions of the person: those made from the raw events found,
 * and those whose external_id (in any scheme) is the hash of the key,
 * which finds them after their raw events were erased, or when the event
 * that made one did not name the person the way the names hook reads.
 * ($1 source, $2/$3 the key and the raw event ids, as numbered by the
 * statement using it.)
 */
#define PERSON_CONVERSIONS(KEY, IDS)                                                               \
	"c.source_id = $1::uuid AND (c.raw_event_id = ANY (" IDS "::int8[]) OR EXISTS ("           \
	" SELECT 1 FROM json_each(CASE WHEN json_typeof(c.payload->'ids') = 'object'"              \
	"  THEN c.payload->'ids' END) s WHERE json_typeof(s.value) = 'object'"                     \
	"  AND s.value->>'external_id' = encode(sha256(convert_to(" KEY ", 'UTF8')), 'hex')))"

static const char export_sql[] =
	"SELECT coalesce(json_agg(json_build_object("
	"  'id', c.id, 'raw_event_id', c.raw_event_id, 'event', c.event, 'event_id', c.event_id,"
	"  'occurred_at', c.occurred_at, 'value', c.value, 'currency', c.currency,"
	"  'order_id', c.order_id, 'redacted_at', c.redacted_at, 'payload', c.payload,"
	"  'deliveries', (SELECT coalesce(json_agg(json_build_object('destination', ds.name,"
	"       'kind', ds.kind, 'state', d.state, 'delivered_at', d.delivered_at) ORDER BY d.id),"
	"       '[]') FROM deliveries d JOIN destinations ds ON ds.id = d.destination_id"
	"     WHERE d.conversion_id = c.id)) ORDER BY c.id), '[]')::text,"
	" (SELECT ids::text FROM source_contacts WHERE source_id = $1::uuid AND contact_key = $2),"
	" (SELECT json_build_object('id', s.id, 'kind', s.kind, 'name', s.name,"
	"   'tenant', t.name)::text FROM sources s JOIN tenants t ON t.id = s.tenant_id"
	"   WHERE s.id = $1::uuid)"
	" FROM conversions c WHERE " PERSON_CONVERSIONS("$2", "$3");

/* Attach the JSON text col of row 0 (SQL NULL: null) to o as name. */
static bool attach_col(cJSON *o, const char *name, const PGresult *res, int col)
{
	cJSON *v = PQgetisnull(res, 0, col) ? cJSON_CreateNull()
					    : cJSON_Parse(PQgetvalue(res, 0, col));

	if (v == NULL || !cJSON_AddItemToObject(o, name, v)) {
		cJSON_Delete(v);
		return false;
	}
	return true;
}

int privacy_store_export(PGconn *conn, const char *source_id, const char *key,
			 struct privacy_hits *hits, cJSON **out, struct err *e)
{
	char *ids = ids_literal(hits->ids, hits->n);
	const char *v[3] = { source_id, key, ids };
	PGresult *res = PQexecParams(conn, export_sql, 3, NULL, v, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not read what is held", e);
	cJSON *o = NULL;

	*out = NULL;
	if (rc != 0)
		goto out;
	o = cJSON_CreateObject();
	if (o == NULL || !attach_col(o, "source", res, 2) ||
	    !cJSON_AddStringToObject(o, "customer", key) ||
	    !cJSON_AddItemToObject(o, "raw_events",
				   hits->json ? hits->json : cJSON_CreateArray())) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	hits->json = NULL; /* o's now */
	if (!attach_col(o, "conversions", res, 0) || !attach_col(o, "contact", res, 1)) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	*out = o;
	o = NULL;
out:
	cJSON_Delete(o);
	PQclear(res);
	free(ids);
	return rc;
}

/* Deliveries that have not reached the platform are not sent after the
 * request: skipped.  in_flight ones are a worker's (its lease); they end
 * as the platform answers. */
#define SKIP_DELIVERIES                                                                            \
	"d AS (UPDATE deliveries d SET state = 'skipped', last_error = '" REDACTED_REASON "',"     \
	"  updated_at = now() WHERE d.conversion_id IN (SELECT id FROM c)"                         \
	"  AND d.state IN ('pending', 'failed', 'dead', 'held') RETURNING d.id)"

static const char redact_person_sql[] =
	"WITH q AS (DELETE FROM raw_queue WHERE raw_event_id = ANY ($2::int8[])"
	"  RETURNING raw_event_id),"
	" r AS (UPDATE raw_events r SET body = '\\x'::bytea,"
	"  state = CASE WHEN r.id IN (SELECT raw_event_id FROM q) THEN 'ignored' ELSE r.state END,"
	"  error = CASE WHEN r.id IN (SELECT raw_event_id FROM q) THEN '" REDACTED_REASON "'"
	"   ELSE r.error END,"
	"  processed_at = CASE WHEN r.id IN (SELECT raw_event_id FROM q) THEN now()"
	"   ELSE r.processed_at END"
	"  WHERE r.source_id = $1::uuid AND r.id = ANY ($2::int8[]) RETURNING r.id),"
	" c AS (UPDATE conversions c SET payload = adseng_redact_payload(c.payload::jsonb)::json,"
	"  redacted_at = coalesce(c.redacted_at, now())"
	"  WHERE " PERSON_CONVERSIONS("$3", "$2") " RETURNING c.id),"
						  " " SKIP_DELIVERIES ","
						  " k AS (DELETE FROM source_contacts WHERE "
						  "source_id = $1::uuid AND contact_key = $3"
						  "  RETURNING 1)"
						  " SELECT (SELECT count(*) FROM r), (SELECT "
						  "count(*) FROM c), (SELECT count(*) FROM d),"
						  "  (SELECT count(*) FROM k)";

static const char redact_source_sql[] =
	"WITH q AS (DELETE FROM raw_queue WHERE raw_event_id IN"
	"  (SELECT id FROM raw_events WHERE source_id = $1::uuid) RETURNING 1),"
	" r AS (DELETE FROM raw_events WHERE source_id = $1::uuid RETURNING 1),"
	" c AS (UPDATE conversions c SET payload = adseng_redact_payload(c.payload::jsonb)::json,"
	"  redacted_at = coalesce(c.redacted_at, now()) WHERE c.source_id = $1::uuid"
	"  RETURNING c.id),"
	" " SKIP_DELIVERIES ","
	" k AS (DELETE FROM source_contacts WHERE source_id = $1::uuid RETURNING 1)"
	" SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM c), (SELECT count(*) FROM d),"
	"  (SELECT count(*) FROM k), (SELECT count(*) FROM q)";

/* Run an erasing statement and write its audit row from the counts. */
static int redact_run(PGconn *conn, const char *actor, const char *action, const char *sql, int n,
		      const char *const *v, const char *source_id, const char *key, int64_t raw_id,
		      struct err *e)
{
	static const char *const names[] = { "raw_events", "conversions", "deliveries_skipped",
					     "contacts" };
	PGresult *res = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not erase a person's data", e);
	cJSON *d = NULL;
	bool ok;

	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	ok = d && cJSON_AddStringToObject(d, "source_id", source_id);
	if (ok && key)
		ok = cJSON_AddStringToObject(d, "customer", key) != NULL;
	if (ok && raw_id > 0)
		ok = cJSON_AddNumberToObject(d, "raw_event_id", (double)raw_id) != NULL;
	for (int i = 0; ok && i < 4; i++)
		ok = cJSON_AddNumberToObject(d, names[i], (double)db_get_int64(res, 0, i)) != NULL;
	rc = ok ? admin_audit_write(conn, actor, action, d, e)
		: err_set(e, ERR_NOMEM, "out of memory");
out:
	cJSON_Delete(d);
	PQclear(res);
	return rc;
}

int privacy_store_redact_person(PGconn *conn, const char *actor, const char *source_id,
				const char *key, const struct privacy_hits *hits, int64_t raw_id,
				struct err *e)
{
	char *ids = ids_literal(hits->ids, hits->n);
	const char *v[3] = { source_id, ids, key };
	int rc = redact_run(conn, actor, "privacy.redact_customer", redact_person_sql, 3, v,
			    source_id, key, raw_id, e);

	free(ids);
	return rc;
}

int privacy_store_redact_source(PGconn *conn, const char *actor, const char *source_id,
				int64_t raw_id, struct err *e)
{
	const char *v[1] = { source_id };

	return redact_run(conn, actor, "privacy.redact_source", redact_source_sql, 1, v, source_id,
			  NULL, raw_id, e);
}

int privacy_store_audit(PGconn *conn, const char *actor, const char *action, const char *source_id,
			const char *key, int64_t raw_id, struct err *e)
{
	cJSON *d = cJSON_CreateObject();
	bool ok = d && cJSON_AddStringToObject(d, "source_id", source_id) &&
		  cJSON_AddStringToObject(d, "customer", key);
	int rc;

	if (ok && raw_id > 0)
		ok = cJSON_AddNumberToObject(d, "raw_event_id", (double)raw_id) != NULL;
	rc = ok ? admin_audit_write(conn, actor, action, d, e)
		: err_set(e, ERR_NOMEM, "out of memory");
	cJSON_Delete(d);
	return rc;
}
