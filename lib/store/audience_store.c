/*
 * audience_store.c - audiences and their members in PostgreSQL
 * (audience_store.h).
 *
 * Members travel as binary array parameters (store/pgarr.h) into unnest(),
 * so a diff or a chunk of 10 000 recorded members is one statement.
 */
#include "store/audience_store.h"
#include "core/mem.h"
#include "store/admin.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQLSTATE_UNIQUE "23505"
#define OID_TEXTARRAY	1009
#define OID_BOOLARRAY	1000
#define OID_UUIDARRAY	2951
/* Lock class of the audience advisory locks (the second key is the
 * audience id; 0 is the daemon's periodic round). */
#define LOCK_CLASS "hashtext('adseng_audience_sync')"

/* ---- helpers ------------------------------------------------------------------------ */

/* Run sql with n text parameters; *out owns the result on success. */
static int exec_text(PGconn *conn, const char *sql, int n, const char *const *values,
		     const char *what, PGresult **out, struct err *e)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, values, NULL, NULL, 0);
	int rc = db_check(conn, res, what, e);

	if (rc != 0) {
		PQclear(res);
		return rc;
	}
	*out = res;
	return 0;
}

static int exec_cmd(PGconn *conn, const char *sql, int n, const char *const *values,
		    const char *what, struct err *e)
{
	PGresult *res = NULL;
	int rc = exec_text(conn, sql, n, values, what, &res, e);

	PQclear(res);
	return rc;
}

static void row_from_result(const PGresult *res, int r, struct audience_row *a)
{
	memset(a, 0, sizeof(*a));
	a->id = db_get_int64(res, r, 0);
	a->tenant_id = db_get_int64(res, r, 1);
	snprintf(a->destination_id, sizeof(a->destination_id), "%s", PQgetvalue(res, r, 2));
	a->name = xstrdup(PQgetvalue(res, r, 3));
	a->user_list_id = xstrdup(PQgetvalue(res, r, 4));
	a->source_ids = xstrdup(PQgetvalue(res, r, 5));
}

void audience_row_cleanup(struct audience_row *a)
{
	free(a->name);
	free(a->user_list_id);
	free(a->source_ids);
	memset(a, 0, sizeof(*a));
}

/* ---- catalog ------------------------------------------------------------------------- */

static int insert_audience(PGconn *conn, const struct audience_new *a, int64_t *id, struct err *e)
{
	struct pgarr arr;
	char tenant[24];
	const char *values[5];
	int lens[5] = { 0 }, fmts[5] = { 0 };
	const Oid types[5] = { 0, 0, 0, 0, OID_UUIDARRAY };
	PGresult *res;
	int rc = 0;

	pgarr_init(&arr, PGOID_UUID);
	for (size_t i = 0; i < a->n_sources && rc == 0; i++) {
		if (pgarr_add_uuid_text(&arr, a->source_ids[i]) != 0)
			rc = err_set(e, ERR_INVALID, "\"%s\" is not a uuid", a->source_ids[i]);
	}
	if (rc != 0) {
		pgarr_cleanup(&arr);
		return rc;
	}
	snprintf(tenant, sizeof(tenant), "%" PRId64, a->tenant_id);
	values[0] = tenant;
	values[1] = a->destination_id;
	values[2] = a->name;
	values[3] = a->user_list_id;
	values[4] = pgarr_finish(&arr, &lens[4]);
	fmts[4] = 1;
	res = PQexecParams(conn,
			   "INSERT INTO audiences (tenant_id, destination_id, name, user_list_id,"
			   " source_ids) VALUES ($1::bigint, $2::uuid, $3, $4, $5) RETURNING id",
			   5, types, values, lens, fmts, 0);
	if (strcmp(db_sqlstate(res), SQLSTATE_UNIQUE) == 0)
		rc = err_set(e, ERR_CONFLICT, "the tenant already has an audience named \"%s\"",
			     a->name);
	else
		rc = db_check(conn, res, "could not add audience", e);
	if (rc == 0)
		*id = db_get_int64(res, 0, 0);
	PQclear(res);
	pgarr_cleanup(&arr);
	return rc;
}

static cJSON *add_details(const struct audience_new *a, int64_t id)
{
	cJSON *d = cJSON_CreateObject();
	cJSON *src = cJSON_CreateStringArray(a->source_ids, (int)a->n_sources);

	if (d == NULL || src == NULL || !cJSON_AddNumberToObject(d, "id", (double)id) ||
	    !cJSON_AddNumberToObject(d, "tenant_id", (double)a->tenant_id) ||
	    !cJSON_AddStringToObject(d, "name", a->name) ||
	    !cJSON_AddStringToObject(d, "destination_id", a->destination_id) ||
	    !cJSON_AddStringToObject(d, "user_list_id", a->user_list_id) ||
	    !cJSON_AddItemToObject(d, "source_ids", src)) {
		cJSON_Delete(src);
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

int audience_store_add(PGconn *conn, const char *actor, const struct audience_new *a, int64_t *id,
		       struct err *e)
{
	cJSON *d = NULL;
	int rc = db_exec(conn, "BEGIN", e);

	if (rc != 0)
		return rc;
	rc = insert_audience(conn, a, id, e);
	if (rc == 0) {
		d = add_details(a, *id);
		rc = d ? admin_audit_write(conn, actor, "audience.add", d, e)
		       : err_set(e, ERR_NOMEM, "out of memory");
	}
	cJSON_Delete(d);
	if (rc == 0)
		return db_exec(conn, "COMMIT", e);
	PQclear(PQexec(conn, "ROLLBACK"));
	return rc;
}

static const char find_sql[] = "SELECT id, tenant_id, destination_id::text, name, user_list_id,"
			       " source_ids::text FROM audiences"
			       " WHERE name = $1 OR id::text = $1 ORDER BY (id::text = $1) DESC"
			       " LIMIT 2";

int audience_store_find(PGconn *conn, const char *ref, struct audience_row *out, struct err *e)
{
	const char *values[1] = { ref };
	PGresult *res = NULL;
	int rc = exec_text(conn, find_sql, 1, values, "could not look up audience", &res, e);

	if (rc != 0)
		return rc;
	if (PQntuples(res) == 0)
		rc = err_set(e, ERR_NOTFOUND, "no audience named \"%s\"", ref);
	else if (PQntuples(res) > 1 && strcmp(PQgetvalue(res, 0, 3), ref) == 0 &&
		 strcmp(PQgetvalue(res, 1, 3), ref) == 0)
		rc = err_set(e, ERR_CONFLICT,
			     "audience name \"%s\" is ambiguous (several tenants): use its id",
			     ref);
	else
		row_from_result(res, 0, out);
	PQclear(res);
	return rc;
}

int audience_store_due(PGconn *conn, int64_t interval_ms, int64_t **ids, size_t *n, struct err *e)
{
	char ms[24];
	const char *values[1] = { ms };
	PGresult *res = NULL;
	int rc;

	snprintf(ms, sizeof(ms), "%" PRId64, interval_ms);
	rc = exec_text(conn,
		       "SELECT id FROM audiences WHERE last_sync_at IS NULL"
		       " OR last_sync_at <= now() - $1::bigint * interval '1 millisecond'"
		       " ORDER BY last_sync_at NULLS FIRST, id",
		       1, values, "could not list due audiences", &res, e);
	if (rc != 0)
		return rc;
	*n = (size_t)PQntuples(res);
	*ids = xcalloc(*n ? *n : 1, sizeof(**ids));
	for (size_t i = 0; i < *n; i++)
		(*ids)[i] = db_get_int64(res, (int)i, 0);
	PQclear(res);
	return 0;
}

int audience_store_list(PGconn *conn, int64_t tenant_id, cJSON **out, struct err *e)
{
	char tenant[24];
	const char *values[1] = { tenant_id ? tenant : NULL };
	PGresult *res = NULL;
	int rc;

	snprintf(tenant, sizeof(tenant), "%" PRId64, tenant_id);
	/* json_agg does the typing; timestamps are ISO 8601 in the session's
	 * TimeZone (UTC for adsengctl). */
	rc = exec_text(conn,
		       "SELECT coalesce(json_agg(x ORDER BY x.tenant, x.name), '[]')::text FROM ("
		       " SELECT a.id, t.name AS tenant, a.name, d.name AS destination, d.kind,"
		       "  a.user_list_id,"
		       "  (SELECT array_agg(coalesce(s.name, u::text) ORDER BY o)"
		       "     FROM unnest(a.source_ids) WITH ORDINALITY AS q(u, o)"
		       "     LEFT JOIN sources s ON s.id = q.u) AS sources,"
		       "  (SELECT count(*) FROM audience_members m"
		       "     WHERE m.audience_id = a.id AND m.removed_at IS NULL) AS members,"
		       "  a.created_at, a.last_sync_at, a.last_error"
		       " FROM audiences a JOIN tenants t ON t.id = a.tenant_id"
		       " JOIN destinations d ON d.id = a.destination_id"
		       " WHERE $1::bigint IS NULL OR a.tenant_id = $1::bigint) x",
		       1, values, "could not list audiences", &res, e);
	if (rc != 0)
		return rc;
	*out = cJSON_Parse(PQgetvalue(res, 0, 0));
	PQclear(res);
	return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* ---- members --------------------------------------------------------------------------- */

/*
 * Customers grouped by their primary identifier (google_audience.c keys
 * members with the same precedence).  Two kinds of rows feed `m`:
 *  - the conversions of the audience's sources, except test ones and
 *    those erased at a privacy request (redacted_at: the person asked to
 *    be forgotten, so the next sync removes them from the list);
 *  - the people those sources' senders described without converting
 *    (source_contacts: Shopify customer records, GHL contacts), stored
 *    flat ({"ids.google.email": …}) and unflattened here to the scheme's
 *    object.  They carry no consent (NULL: the destination's default).
 * Per person, a conversion wins over a stored record (it carries the
 * consent given at checkout), then the latest.
 */
static const char candidates_sql[] =
	"SELECT ids::text, aud, aper FROM ("
	" SELECT DISTINCT ON (ident) ident, ids, aud, aper FROM ("
	"  SELECT (c.payload->'ids'->$3::text)::jsonb AS ids,"
	"   c.payload->'consent'->>'ad_user_data' AS aud,"
	"   c.payload->'consent'->>'ad_personalization' AS aper,"
	"   c.occurred_at AS at, 1 AS pri, c.id AS ord"
	"  FROM conversions c"
	"  WHERE c.tenant_id = $1::bigint AND c.source_id = ANY ($2::uuid[]) AND NOT c.test"
	"   AND c.redacted_at IS NULL"
	"  UNION ALL"
	"  SELECT (SELECT jsonb_object_agg(substr(f.key, length($3::text) + 6), f.value)"
	"     FROM jsonb_each(sc.ids) f WHERE starts_with(f.key, 'ids.' || $3::text || '.')),"
	"   NULL, NULL, sc.updated_at, 0, 0"
	"  FROM source_contacts sc JOIN sources s ON s.id = sc.source_id"
	"  WHERE s.tenant_id = $1::bigint AND sc.source_id = ANY ($2::uuid[])"
	" ) m CROSS JOIN LATERAL (SELECT coalesce('email:' || (m.ids->>$4),"
	"   'phone:' || (m.ids->>$5), 'address:' || (m.ids->>$6) || '|' || (m.ids->>$7)"
	"   || '|' || lower(m.ids->>$8) || '|' || (m.ids->>$9)) AS ident) k"
	" WHERE k.ident IS NOT NULL"
	" ORDER BY ident, pri DESC, at DESC, ord DESC) x";

int audience_store_candidates(PGconn *conn, const struct audience_row *a, enum pii_scheme scheme,
			      audience_candidate_cb cb, void *arg, struct err *e)
{
	char tenant[24];
	const char *values[9];
	PGresult *res = NULL;
	int rc;

	snprintf(tenant, sizeof(tenant), "%" PRId64, a->tenant_id);
	values[0] = tenant;
	values[1] = a->source_ids;
	values[2] = pii_scheme_name(scheme);
	values[3] = pii_field_key(scheme, PII_EMAIL);
	values[4] = pii_field_key(scheme, PII_PHONE);
	values[5] = pii_field_key(scheme, PII_FIRST_NAME);
	values[6] = pii_field_key(scheme, PII_LAST_NAME);
	values[7] = pii_field_key(scheme, PII_COUNTRY);
	values[8] = pii_field_key(scheme, PII_POSTAL);
	rc = exec_text(conn, candidates_sql, 9, values, "could not read audience members", &res, e);
	for (int r = 0; rc == 0 && r < PQntuples(res); r++)
		rc = cb(PQgetvalue(res, r, 0), db_get_str(res, r, 1), db_get_str(res, r, 2), arg,
			e);
	PQclear(res);
	return rc;
}

void audience_diff_cleanup(struct audience_diff *d)
{
	for (size_t i = 0; i < d->n_remove; i++)
		audience_member_cleanup(&d->remove[i]);
	free(d->remove);
	free(d->add);
	memset(d, 0, sizeof(*d));
}

/* Binary text[] / bool[] parameters of members m (idx NULL: all). */
struct member_arrays {
	struct pgarr key, ident, consent, denied;
};

static void member_arrays_fill(struct member_arrays *x, const struct audience_member *m,
			       const size_t *idx, size_t n)
{
	pgarr_init(&x->key, PGOID_TEXT);
	pgarr_init(&x->ident, PGOID_TEXT);
	pgarr_init(&x->consent, PGOID_TEXT);
	pgarr_init(&x->denied, PGOID_BOOL);
	for (size_t i = 0; i < n; i++) {
		const struct audience_member *p = &m[idx ? idx[i] : i];

		pgarr_add_text(&x->key, p->key);
		pgarr_add_text(&x->ident, p->identifiers);
		pgarr_add_text(&x->consent, p->consent);
		pgarr_add_bool(&x->denied, p->denied);
	}
}

static void member_arrays_cleanup(struct member_arrays *x)
{
	pgarr_cleanup(&x->key);
	pgarr_cleanup(&x->ident);
	pgarr_cleanup(&x->consent);
	pgarr_cleanup(&x->denied);
}

/* Run sql with $1 = audience id and $2.. = the member arrays (nargs of
 * key, identifiers, consent, denied, in that order). */
static PGresult *exec_members(PGconn *conn, const char *sql, int64_t audience_id,
			      struct member_arrays *x, int nargs)
{
	struct pgarr *arrs[4] = { &x->key, &x->ident, &x->consent, &x->denied };
	const Oid types[5] = { 0, OID_TEXTARRAY, OID_TEXTARRAY, OID_TEXTARRAY, OID_BOOLARRAY };
	const char *values[5];
	int lens[5] = { 0 }, fmts[5] = { 0 };
	char id[24];

	snprintf(id, sizeof(id), "%" PRId64, audience_id);
	values[0] = id;
	for (int i = 0; i < nargs; i++) {
		values[i + 1] = pgarr_finish(arrs[i], &lens[i + 1]);
		fmts[i + 1] = 1;
	}
	return PQexecParams(conn, sql, nargs + 1, types, values, lens, fmts, 0);
}

static const char diff_sql[] =
	"WITH c AS (SELECT u.k, u.i::jsonb AS ident, u.co::jsonb AS consent, u.dn, u.ord"
	"  FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[])"
	"  WITH ORDINALITY AS u(k, i, co, dn, ord))"
	" SELECT 'a', c.ord - 1, NULL, NULL FROM c LEFT JOIN audience_members m"
	"  ON m.audience_id = $1::bigint AND m.member_key = c.k"
	"  WHERE NOT c.dn AND (m.member_key IS NULL OR m.removed_at IS NOT NULL"
	"   OR m.identifiers <> c.ident OR m.consent IS DISTINCT FROM c.consent)"
	" UNION ALL"
	" SELECT 'r', NULL, m.member_key, m.identifiers::text FROM audience_members m"
	"  LEFT JOIN c ON c.k = m.member_key"
	"  WHERE m.audience_id = $1::bigint AND m.removed_at IS NULL AND (c.k IS NULL OR c.dn)";

static void diff_from_result(const PGresult *res, const struct audience_member *m, size_t n,
			     struct audience_diff *d)
{
	size_t rows = (size_t)PQntuples(res), live = 0;

	d->add = xcalloc(rows ? rows : 1, sizeof(*d->add));
	d->remove = xcalloc(rows ? rows : 1, sizeof(*d->remove));
	for (size_t r = 0; r < rows; r++) {
		if (PQgetvalue(res, (int)r, 0)[0] == 'a') {
			d->add[d->n_add++] = (size_t)db_get_int64(res, (int)r, 1);
			continue;
		}
		snprintf(d->remove[d->n_remove].key, sizeof(d->remove[0].key), "%s",
			 PQgetvalue(res, (int)r, 2));
		d->remove[d->n_remove++].identifiers = xstrdup(PQgetvalue(res, (int)r, 3));
	}
	for (size_t i = 0; i < n; i++)
		live += !m[i].denied;
	d->n_unchanged = live - d->n_add;
}

int audience_store_diff(PGconn *conn, int64_t audience_id, const struct audience_member *m,
			size_t n, struct audience_diff *out, struct err *e)
{
	struct member_arrays x;
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	member_arrays_fill(&x, m, NULL, n);
	res = exec_members(conn, diff_sql, audience_id, &x, 4);
	rc = db_check(conn, res, "could not compare audience members", e);
	if (rc == 0)
		diff_from_result(res, m, n, out);
	PQclear(res);
	member_arrays_cleanup(&x);
	return rc;
}

int audience_store_mark_sent(PGconn *conn, int64_t audience_id, const struct audience_member *m,
			     const size_t *idx, size_t n, struct err *e)
{
	struct member_arrays x;
	PGresult *res;
	int rc;

	member_arrays_fill(&x, m, idx, n);
	res = exec_members(conn,
			   "INSERT INTO audience_members (audience_id, member_key, identifiers,"
			   " consent, sent_at, removed_at)"
			   " SELECT $1::bigint, u.k, u.i::jsonb, u.co::jsonb, now(), NULL"
			   " FROM unnest($2::text[], $3::text[], $4::text[]) AS u(k, i, co)"
			   " ON CONFLICT (audience_id, member_key) DO UPDATE SET"
			   " identifiers = EXCLUDED.identifiers, consent = EXCLUDED.consent,"
			   " sent_at = EXCLUDED.sent_at, removed_at = NULL",
			   audience_id, &x, 3);
	rc = db_check(conn, res, "could not record sent audience members", e);
	PQclear(res);
	member_arrays_cleanup(&x);
	return rc;
}

int audience_store_mark_removed(PGconn *conn, int64_t audience_id, const struct audience_member *m,
				size_t n, struct err *e)
{
	struct member_arrays x;
	PGresult *res;
	int rc;

	member_arrays_fill(&x, m, NULL, n);
	res = exec_members(conn,
			   "UPDATE audience_members SET removed_at = now()"
			   " WHERE audience_id = $1::bigint AND member_key = ANY ($2::text[])",
			   audience_id, &x, 1);
	rc = db_check(conn, res, "could not record removed audience members", e);
	PQclear(res);
	member_arrays_cleanup(&x);
	return rc;
}

int audience_store_finish(PGconn *conn, int64_t audience_id, const char *error, struct err *e)
{
	char id[24];
	const char *values[2] = { id, error };

	snprintf(id, sizeof(id), "%" PRId64, audience_id);
	return exec_cmd(conn,
			"UPDATE audiences SET last_sync_at = now(), last_error = $2"
			" WHERE id = $1::bigint",
			2, values, "could not record the audience sync", e);
}

/* ---- locks and audit ------------------------------------------------------------------ */

static int try_lock(PGconn *conn, int64_t key, bool *got, struct err *e)
{
	char id[24];
	const char *values[1] = { id };
	PGresult *res = NULL;
	int rc;

	snprintf(id, sizeof(id), "%" PRId64, key);
	rc = exec_text(conn, "SELECT pg_try_advisory_lock(" LOCK_CLASS ", $1::int)", 1, values,
		       "could not take the audience lock", &res, e);
	if (rc == 0)
		*got = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

static void unlock(PGconn *conn, int64_t key)
{
	char id[24];
	const char *values[1] = { id };

	snprintf(id, sizeof(id), "%" PRId64, key);
	PQclear(PQexecParams(conn, "SELECT pg_advisory_unlock(" LOCK_CLASS ", $1::int)", 1, NULL,
			     values, NULL, NULL, 0));
}

int audience_store_try_lock(PGconn *conn, int64_t audience_id, bool *got, struct err *e)
{
	return try_lock(conn, audience_id, got, e);
}

void audience_store_unlock(PGconn *conn, int64_t audience_id)
{
	unlock(conn, audience_id);
}

int audience_store_try_lock_round(PGconn *conn, bool *got, struct err *e)
{
	return try_lock(conn, 0, got, e);
}

void audience_store_unlock_round(PGconn *conn)
{
	unlock(conn, 0);
}

int audience_store_audit_sync(PGconn *conn, const char *actor, const cJSON *details, struct err *e)
{
	return admin_audit_write(conn, actor, "audience.sync", details, e);
}
