/*
 * billing_store.c - the SQL of billing changes (see billing_store.h).
 *
 * Ordering: Stripe delivers events in no particular order and retries
 * them for days, so each family of events keeps the provider's `created`
 * of the last one applied (tenants.billing_sub_event_at,
 * billing_invoice_event_at; sql/0015_billing.sql): an event older than
 * that changes nothing, one of the same second is applied (Stripe's
 * created has one-second resolution, and a created + updated pair often
 * shares it; arrival order is the best guess then).  Links (checkout) are
 * idempotent and need no ordering.  The row lock (FOR UPDATE) keeps two
 * workers applying events of one tenant from interleaving.
 */
#include "store/billing_store.h"
#include "store/admin.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What is read of the tenant before changing it. */
struct tenant_billing {
	int64_t id;
	char plan[32], plan_status[32], billing_status[16];
	char subscription[BILLING_ID_MAX];
	bool has_sub_at, has_inv_at;
	int64_t sub_at, inv_at;
};

static const char find_sql[] =
	"SELECT id, plan, plan_status, billing_status, coalesce(stripe_subscription_id, ''),"
	"       billing_sub_event_at, billing_invoice_event_at"
	"  FROM tenants"
	" WHERE ($1 <> '' AND stripe_subscription_id = $1)"
	"    OR ($2 <> '' AND stripe_customer_id = $2)"
	"    OR ($3 <> '' AND name = $3) OR id = $4::bigint"
	" ORDER BY (stripe_subscription_id IS NOT DISTINCT FROM $1) DESC,"
	"          (stripe_customer_id IS NOT DISTINCT FROM $2) DESC, id"
	" LIMIT 1 FOR UPDATE";

static bool is_digits(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

static void copy_col(const PGresult *res, int col, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", PQgetvalue(res, 0, col));
}

/* The tenant c concerns, locked; t->id 0 when none. */
static int find_tenant(PGconn *conn, const struct billing_change *c, struct tenant_billing *t,
		       struct err *e)
{
	bool link = c->op == BILLING_LINK;
	const char *v[4] = { link ? "" : c->subscription, link ? "" : c->customer, c->tenant_ref,
			     is_digits(c->tenant_ref) ? c->tenant_ref : NULL };
	PGresult *res = PQexecParams(conn, find_sql, 4, NULL, v, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not find the tenant of a billing event", e);

	memset(t, 0, sizeof(*t));
	if (rc != 0 || PQntuples(res) == 0)
		goto out;
	t->id = db_get_int64(res, 0, 0);
	copy_col(res, 1, t->plan, sizeof(t->plan));
	copy_col(res, 2, t->plan_status, sizeof(t->plan_status));
	copy_col(res, 3, t->billing_status, sizeof(t->billing_status));
	copy_col(res, 4, t->subscription, sizeof(t->subscription));
	t->has_sub_at = !PQgetisnull(res, 0, 5);
	t->sub_at = db_get_int64(res, 0, 5);
	t->has_inv_at = !PQgetisnull(res, 0, 6);
	t->inv_at = db_get_int64(res, 0, 6);
out:
	PQclear(res);
	return rc;
}

/* Run an UPDATE of tenant id with params v[1..n-1] (v[0] is the id). */
static int update(PGconn *conn, const char *sql, const char *const *v, int n, struct err *e)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not update a tenant's billing state", e);

	PQclear(res);
	return rc;
}

/* The audit row: the change, its event, before → after. */
static int audit(PGconn *conn, const struct billing_change *c, int64_t raw_id, int64_t tenant,
		 const char *action, const char *field, const char *before, const char *after,
		 struct err *e)
{
	cJSON *d = cJSON_CreateObject();
	int rc;

	if (d == NULL || !cJSON_AddNumberToObject(d, "tenant_id", (double)tenant) ||
	    !cJSON_AddStringToObject(d, "event_id", c->event_id) ||
	    !cJSON_AddStringToObject(d, "type", c->type) ||
	    !cJSON_AddNumberToObject(d, "raw_event_id", (double)raw_id) ||
	    !cJSON_AddNumberToObject(d, "event_created", (double)c->event_at) ||
	    (field && (!cJSON_AddStringToObject(d, "field", field) ||
		       !cJSON_AddStringToObject(d, "before", before) ||
		       !cJSON_AddStringToObject(d, "after", after)))) {
		cJSON_Delete(d);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	rc = admin_audit_write(conn, "stripe", action, d, e);
	cJSON_Delete(d);
	return rc;
}

static int apply_link(PGconn *conn, const struct billing_change *c, int64_t raw_id,
		      const struct tenant_billing *t, struct err *e)
{
	char id[24];
	const char *v[3] = { id, c->customer, c->subscription };
	int rc;

	snprintf(id, sizeof(id), "%" PRId64, t->id);
	rc = update(conn,
		    "UPDATE tenants SET stripe_customer_id = $2,"
		    " stripe_subscription_id = coalesce(nullif($3, ''), stripe_subscription_id),"
		    " billing_updated_at = now() WHERE id = $1::bigint",
		    v, 3, e);
	if (rc == 0)
		rc = audit(conn, c, raw_id, t->id, "billing.link", "stripe_customer_id", "",
			   c->customer, e);
	return rc;
}

/* The plans tenants.plan admits (sql/0001): a price mapped to anything
 * else in [stripe] plans leaves the plan as it is. */
static bool plan_known(const char *plan)
{
	return strcmp(plan, "starter") == 0 || strcmp(plan, "professional") == 0 ||
	       strcmp(plan, "enterprise") == 0;
}

static int apply_subscription(PGconn *conn, const struct billing_change *c, int64_t raw_id,
			      const struct tenant_billing *t, enum billing_outcome *o,
			      struct err *e)
{
	char id[24], at[24];
	const char *plan = plan_known(c->plan) ? c->plan : t->plan;
	const char *status = c->deleted ? "canceled" : c->status;
	const char *v[6] = { id, NULL, status, c->subscription, c->customer, at };
	int rc;

	if (t->has_sub_at && c->event_at < t->sub_at) {
		*o = BILLING_STALE;
		return 0;
	}
	/* The end of a subscription the tenant has since replaced changes
	 * nothing about the one it pays for now. */
	if (c->deleted && t->subscription[0] && strcmp(t->subscription, c->subscription) != 0) {
		*o = BILLING_UNCHANGED;
		return 0;
	}
	if (c->deleted)
		plan = "starter";
	v[1] = plan;
	snprintf(id, sizeof(id), "%" PRId64, t->id);
	snprintf(at, sizeof(at), "%" PRId64, c->event_at);
	rc = update(conn,
		    "UPDATE tenants SET plan = $2, plan_status = $3, stripe_subscription_id = $4,"
		    " stripe_customer_id = coalesce(stripe_customer_id, nullif($5, '')),"
		    " billing_sub_event_at = $6::bigint, billing_updated_at = now()"
		    " WHERE id = $1::bigint",
		    v, 6, e);
	*o = strcmp(plan, t->plan) || strcmp(status, t->plan_status) ? BILLING_APPLIED
								     : BILLING_UNCHANGED;
	if (rc == 0 && strcmp(plan, t->plan) != 0)
		rc = audit(conn, c, raw_id, t->id, "billing.plan", "plan", t->plan, plan, e);
	if (rc == 0 && strcmp(status, t->plan_status) != 0)
		rc = audit(conn, c, raw_id, t->id, "billing.status", "plan_status", t->plan_status,
			   status, e);
	return rc;
}

static int apply_invoice(PGconn *conn, const struct billing_change *c, int64_t raw_id,
			 const struct tenant_billing *t, enum billing_outcome *o, struct err *e)
{
	char id[24], at[24];
	const char *status = c->op == BILLING_PAID ? "ok" : "past_due";
	const char *v[3] = { id, status, at };
	int rc;

	if (t->has_inv_at && c->event_at < t->inv_at) {
		*o = BILLING_STALE;
		return 0;
	}
	snprintf(id, sizeof(id), "%" PRId64, t->id);
	snprintf(at, sizeof(at), "%" PRId64, c->event_at);
	rc = update(conn,
		    "UPDATE tenants SET billing_status = $2, billing_invoice_event_at = $3::bigint,"
		    " billing_updated_at = now() WHERE id = $1::bigint",
		    v, 3, e);
	*o = strcmp(status, t->billing_status) ? BILLING_APPLIED : BILLING_UNCHANGED;
	if (rc == 0 && *o == BILLING_APPLIED)
		rc = audit(conn, c, raw_id, t->id, "billing.status", "billing_status",
			   t->billing_status, status, e);
	return rc;
}

int billing_store_apply(PGconn *conn, const struct billing_change *c, int64_t raw_id,
			enum billing_outcome *outcome, int64_t *tenant_id, struct err *e)
{
	struct tenant_billing t;
	int rc;

	*outcome = BILLING_UNMATCHED;
	*tenant_id = 0;
	if (c->op == BILLING_NONE)
		return 0;
	rc = find_tenant(conn, c, &t, e);
	if (rc != 0 || t.id == 0)
		return rc;
	*tenant_id = t.id;
	switch (c->op) {
	case BILLING_LINK:
		*outcome = BILLING_APPLIED;
		return apply_link(conn, c, raw_id, &t, e);
	case BILLING_SUBSCRIPTION:
		return apply_subscription(conn, c, raw_id, &t, outcome, e);
	default:
		return apply_invoice(conn, c, raw_id, &t, outcome, e);
	}
}

const char *billing_outcome_name(enum billing_outcome o)
{
	switch (o) {
	case BILLING_APPLIED:
		return "applied";
	case BILLING_UNCHANGED:
		return "unchanged";
	case BILLING_STALE:
		return "stale";
	default:
		return "unmatched";
	}
}

int billing_store_customer(PGconn *conn, int64_t tenant_id, char *customer, size_t customerlen,
			   struct err *e)
{
	char id[24];
	const char *v[1] = { id };
	PGresult *res;
	int rc;

	customer[0] = '\0';
	snprintf(id, sizeof(id), "%" PRId64, tenant_id);
	res = PQexecParams(
		conn, "SELECT coalesce(stripe_customer_id, '') FROM tenants WHERE id = $1::bigint",
		1, NULL, v, NULL, NULL, 0);
	rc = db_check(conn, res, "could not read the tenant's Stripe customer", e);
	if (rc == 0 && PQntuples(res) == 0)
		rc = err_set(e, ERR_NOTFOUND, "no tenant with id %" PRId64, tenant_id);
	if (rc == 0)
		snprintf(customer, customerlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}
