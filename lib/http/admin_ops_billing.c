/*
 * admin_ops_billing.c - the admin API's billing handlers (admin_ops.h):
 * POST billing/checkout and billing/portal, the links a tenant follows to
 * subscribe to a plan or manage what it pays.  The same operations as
 * `adsengctl billing checkout|portal` (billing/stripe_session.h); an
 * agency token acts for its own tenant, an admin token names one
 * ("tenant" in the body).  Worker thread: Stripe is called blocking.
 */
#include "billing/stripe_session.h"
#include "http/admin_int.h"
#include "http/admin_ops.h"

#include <stdlib.h>

#define PLAN_MAX 64

/*
 * The answer status of a failed session call.  Stripe's own failures are
 * a bad gateway (502: unreachable, failing, or refusing our key) or, when
 * it rate limits us or the daemon lacks its Stripe settings, unavailable
 * (503); what the request asks that cannot be done is 422 (no price for
 * the plan, Stripe refused the request).  Not found and conflict (no
 * Stripe customer yet, for the portal) keep the usual 404 and 409.
 */
static int session_failed(struct admin_job *job, int rc)
{
	if (rc == ERR_IO || rc == ERR_AUTH)
		job->status = 502;
	else if (rc == ERR_BUSY || rc == ERR_CONFIG)
		job->status = 503;
	else if (rc == ERR_INVALID)
		job->status = 422;
	return rc;
}

static int url_answer(char *url, cJSON **out, struct err *e)
{
	*out = cJSON_CreateObject();
	if (*out == NULL || !cJSON_AddStringToObject(*out, "url", url)) {
		free(url);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	free(url);
	return 0;
}

int aop_billing_checkout(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e)
{
	static const char *const fields[] = { "plan", "tenant", NULL };
	const char *plan = NULL;
	char *url = NULL;
	int64_t tenant = 0;
	int rc = aop_body_only(job, fields, e);

	if (rc == 0)
		rc = aop_body_str(job, "plan", true, PLAN_MAX, &plan, e);
	if (rc == 0)
		rc = aop_body_tenant(conn, job, &tenant, e);
	if (rc != 0)
		return rc;
	rc = billing_checkout_create(conn, cfg, tenant, plan, job->who.sub, &url, e);
	if (rc != 0)
		return session_failed(job, rc);
	return url_answer(url, out, e);
}

int aop_billing_portal(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		       struct err *e)
{
	static const char *const fields[] = { "tenant", NULL };
	char *url = NULL;
	int64_t tenant = 0;
	int rc = aop_body_only(job, fields, e);

	if (rc == 0)
		rc = aop_body_tenant(conn, job, &tenant, e);
	if (rc != 0)
		return rc;
	rc = billing_portal_create(conn, cfg, tenant, job->who.sub, &url, e);
	if (rc != 0)
		return session_failed(job, rc);
	return url_answer(url, out, e);
}
