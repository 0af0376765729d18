/*
 * admin_pages.c - keyset-paged lists for the admin API (admin_pages.h).
 * Every value is a bound parameter; the SQL texts are constants.
 */
#include "store/admin_pages.h"
#include "store/admin_int.h"

#include <cjson/cJSON.h>

/* Run a page query that asked for limit + 1 rows; cut the extra one. */
static int page_rows(PGconn *conn, const char *sql, const struct params *p, int64_t limit,
		     const char *what, cJSON **out, bool *more, struct err *e)
{
	int rc = adm_query_rows(conn, sql, p, what, out, e);

	if (rc != 0)
		return rc;
	*more = cJSON_GetArraySize(*out) > limit;
	if (*more)
		cJSON_DeleteItemFromArray(*out, (int)limit);
	return 0;
}

int admin_tenant_page(PGconn *conn, const struct admin_page *pg, cJSON **out, bool *more,
		      struct err *e)
{
	struct params p = { 0 };

	adm_p_text(&p, pg->after);
	adm_p_int64(&p, pg->limit + 1);
	adm_p_int64_opt(&p, pg->tenant_id);
	adm_p_text(&p, pg->only);
	return page_rows(conn,
			 "SELECT t.id, t.name, t.plan, t.plan_status, t.monthly_quota, t.disabled,"
			 " (SELECT count(*) FROM sources s WHERE s.tenant_id = t.id) AS sources,"
			 " (SELECT count(*) FROM destinations x WHERE x.tenant_id = t.id)"
			 " AS destinations, t.created_at"
			 " FROM tenants t WHERE ($1::bigint IS NULL OR t.id > $1::bigint)"
			 " AND ($3::bigint IS NULL OR t.id = $3::bigint)"
			 " AND ($4::bigint IS NULL OR t.id = $4::bigint)"
			 " ORDER BY t.id LIMIT $2::bigint",
			 &p, pg->limit, "could not list tenants", out, more, e);
}

int admin_source_page(PGconn *conn, const struct admin_page *pg, cJSON **out, bool *more,
		      struct err *e)
{
	struct params p = { 0 };

	adm_p_text(&p, pg->after);
	adm_p_int64(&p, pg->limit + 1);
	adm_p_int64_opt(&p, pg->tenant_id);
	adm_p_text(&p, pg->only);
	/* settings minus nothing secret: the secret and REST credentials are
	 * their own sealed columns, never selected. */
	return page_rows(conn,
			 "SELECT s.id, t.name AS tenant, s.tenant_id, s.kind, s.name, s.enabled,"
			 " s.settings, s.created_at, s.updated_at"
			 " FROM sources s JOIN tenants t ON t.id = s.tenant_id"
			 " WHERE ($1::uuid IS NULL OR s.id > $1::uuid)"
			 " AND ($3::bigint IS NULL OR s.tenant_id = $3::bigint)"
			 " AND ($4::uuid IS NULL OR s.id = $4::uuid)"
			 " ORDER BY s.id LIMIT $2::bigint",
			 &p, pg->limit, "could not list sources", out, more, e);
}

int admin_destination_page(PGconn *conn, const struct admin_page *pg, cJSON **out, bool *more,
			   struct err *e)
{
	struct params p = { 0 };

	adm_p_text(&p, pg->after);
	adm_p_int64(&p, pg->limit + 1);
	adm_p_int64_opt(&p, pg->tenant_id);
	adm_p_text(&p, pg->only);
	return page_rows(conn,
			 "SELECT x.id, t.name AS tenant, x.tenant_id, x.kind, x.name, x.enabled,"
			 " x.paused_reason, x.test_mode, x.settings, x.created_at, x.updated_at"
			 " FROM destinations x JOIN tenants t ON t.id = x.tenant_id"
			 " WHERE ($1::uuid IS NULL OR x.id > $1::uuid)"
			 " AND ($3::bigint IS NULL OR x.tenant_id = $3::bigint)"
			 " AND ($4::uuid IS NULL OR x.id = $4::uuid)"
			 " ORDER BY x.id LIMIT $2::bigint",
			 &p, pg->limit, "could not list destinations", out, more, e);
}

int admin_route_page(PGconn *conn, const struct admin_page *pg, cJSON **out, bool *more,
		     struct err *e)
{
	struct params p = { 0 };

	adm_p_text(&p, pg->after);
	adm_p_text(&p, pg->after2);
	adm_p_int64(&p, pg->limit + 1);
	adm_p_int64_opt(&p, pg->tenant_id);
	return page_rows(conn,
			 "SELECT t.name AS tenant, r.source_id, s.name AS source,"
			 " r.destination_id, x.name AS destination, to_json(r.events) AS events,"
			 " r.created_at"
			 " FROM routes r JOIN sources s ON s.id = r.source_id"
			 " JOIN destinations x ON x.id = r.destination_id"
			 " JOIN tenants t ON t.id = s.tenant_id"
			 " WHERE ($1::uuid IS NULL"
			 " OR (r.source_id, r.destination_id) > ($1::uuid, $2::uuid))"
			 " AND ($4::bigint IS NULL OR s.tenant_id = $4::bigint)"
			 " ORDER BY r.source_id, r.destination_id LIMIT $3::bigint",
			 &p, pg->limit, "could not list routes", out, more, e);
}

int admin_conversion_page(PGconn *conn, const struct admin_conversion_filter *f,
			  const struct admin_page *pg, cJSON **out, bool *more, struct err *e)
{
	struct params p = { 0 };

	adm_p_text(&p, pg->after);
	adm_p_int64(&p, pg->limit + 1);
	adm_p_int64_opt(&p, pg->tenant_id);
	adm_p_time_opt(&p, f->has_since, f->since_us);
	adm_p_time_opt(&p, f->has_until, f->until_us);
	adm_p_text(&p, f->event);
	adm_p_text(&p, f->source_id);
	return page_rows(conn,
			 "SELECT c.id, c.tenant_id, c.source_id, s.name AS source, c.event,"
			 " c.event_id, c.occurred_at, c.value, c.currency, c.order_id,"
			 " c.created_at"
			 " FROM conversions c JOIN sources s ON s.id = c.source_id"
			 " WHERE ($1::bigint IS NULL OR c.id < $1::bigint)"
			 " AND ($3::bigint IS NULL OR c.tenant_id = $3::bigint)"
			 " AND ($4::timestamptz IS NULL OR c.occurred_at >= $4::timestamptz)"
			 " AND ($5::timestamptz IS NULL OR c.occurred_at < $5::timestamptz)"
			 " AND ($6::text IS NULL OR c.event = $6::text)"
			 " AND ($7::uuid IS NULL OR c.source_id = $7::uuid)"
			 " ORDER BY c.id DESC LIMIT $2::bigint",
			 &p, pg->limit, "could not list conversions", out, more, e);
}
