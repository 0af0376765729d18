/*
 * ctl_billing.c - `adsengctl billing checkout|portal` (Stripe sessions,
 * billing/stripe_session.h) and `adsengctl tenant usage` (usage against
 * quota, store/quota_store.h): thin front ends of the operations the admin
 * API calls too.
 */
#include "admin/ctl.h"
#include "billing/stripe_session.h"
#include "store/quota_store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const struct ctl_optspec checkout_opts[] = {
	{ "tenant", CTL_OPT_VALUE, "T", true, "the tenant that will pay (name or id)" },
	{ "plan", CTL_OPT_VALUE, "PLAN", true,
	  "the plan to subscribe to (starter, professional, enterprise; its price is the one "
	  "[stripe] plans maps to it)" },
	{ NULL, 0, NULL, false, NULL },
};

static const struct ctl_optspec portal_opts[] = {
	{ "tenant", CTL_OPT_VALUE, "T", true, "the tenant (name or id)" },
	{ NULL, 0, NULL, false, NULL },
};

static const struct ctl_optspec usage_opts[] = {
	{ "tenant", CTL_OPT_VALUE, "T", false, "only this tenant (name or id)" },
	{ NULL, 0, NULL, false, NULL },
};

static int print_url(struct ctl *c, char *url)
{
	cJSON *j;

	if (!c->json) {
		fprintf(c->out, "%s\n", url);
		free(url);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	if (j && !cJSON_AddStringToObject(j, "url", url)) {
		cJSON_Delete(j);
		j = NULL;
	}
	free(url);
	return ctl_emit_json(c, j);
}

static int run_session(struct ctl *c, const struct ctl_args *a, bool checkout)
{
	struct err e = { 0 };
	struct config *cfg;
	PGconn *conn;
	int64_t tenant = 0;
	char *url = NULL;
	int rc;

	if (ctl_config(c, &cfg, &e) != 0 || ctl_db(c, &conn, &e) != 0 ||
	    ctl_find_tenant(conn, ctl_arg(a, "tenant"), &tenant, &e) != 0)
		return ctl_fail(c, &e);
	if (checkout)
		rc = billing_checkout_create(conn, cfg, tenant, ctl_arg(a, "plan"), ctl_actor(),
					     &url, &e);
	else
		rc = billing_portal_create(conn, cfg, tenant, ctl_actor(), &url, &e);
	if (rc != 0)
		return ctl_fail(c, &e);
	return print_url(c, url);
}

static int run_checkout(struct ctl *c, const struct ctl_args *a)
{
	return run_session(c, a, true);
}

static int run_portal(struct ctl *c, const struct ctl_args *a)
{
	return run_session(c, a, false);
}

static int run_usage(struct ctl *c, const struct ctl_args *a)
{
	static const struct ctl_col cols[] = {
		{ "tenant", "TENANT", 30 },  { "plan", "PLAN", 0 },   { "month", "MONTH", 0 },
		{ "used", "USED", 0 },	     { "quota", "QUOTA", 0 }, { "remaining", "LEFT", 0 },
		{ "over_quota", "OVER", 0 }, { "held", "HELD", 0 },   { NULL, NULL, 0 },
	};
	struct err e = { 0 };
	struct config *cfg;
	PGconn *conn;
	int64_t tenant = 0;
	cJSON *rows = NULL;

	if (ctl_config(c, &cfg, &e) != 0 || ctl_db(c, &conn, &e) != 0 ||
	    (ctl_arg(a, "tenant") &&
	     ctl_find_tenant(conn, ctl_arg(a, "tenant"), &tenant, &e) != 0) ||
	    admin_usage_list(conn, cfg, tenant, &rows, &e) != 0)
		return ctl_fail(c, &e);
	if (c->json)
		return ctl_emit_json(c, rows);
	ctl_print_table(c, cols, rows);
	cJSON_Delete(rows);
	return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_billing_cmds[] = {
	{ "billing", "checkout", NULL, "print a Stripe Checkout link that subscribes a tenant",
	  "Create a Stripe Checkout Session (mode subscription) for the plan's price\n"
	  "([stripe] plans), with the tenant as client_reference_id and its Stripe customer\n"
	  "when it has one, and print its URL.  Needs [stripe] secret_key_file, success_url\n"
	  "and cancel_url.  When the buyer pays, Stripe's webhooks set the tenant's plan.",
	  checkout_opts, 0, 0, true, run_checkout },
	{ "billing", "portal", NULL, "print a Stripe billing portal link for a tenant",
	  "Create a Stripe billing portal session for the tenant's Stripe customer (linked\n"
	  "by its first checkout) and print its URL; [stripe] portal_return_url is where\n"
	  "its back link leads.",
	  portal_opts, 0, 0, true, run_portal },
	{ "tenant", "usage", NULL, "conversions this month against each tenant's quota",
	  "Per tenant, for the current calendar month (UTC): conversions counted against\n"
	  "the quota (USED: arrived within it, or released into this month), the quota\n"
	  "(empty = unlimited; the tenant's own quota, else its plan's in [plans] quotas),\n"
	  "what is left, conversions that arrived over it this month (OVER) and those\n"
	  "whose deliveries wait for quota now (HELD).",
	  usage_opts, 0, 0, true, run_usage },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
