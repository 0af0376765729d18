/*
 * stripe_session.h - Stripe Checkout and billing portal sessions: the
 * links a tenant follows to subscribe to a plan or to manage what it pays.
 * Blocking (libpq + net_fetch): for adsengctl and the admin API's worker
 * thread, never an event loop.  The CLI (`adsengctl billing checkout|
 * portal`) and POST /v1/admin/billing/checkout|portal call the same two
 * operations.  Stripe's API: https://docs.stripe.com/api/checkout/sessions/create
 * and https://docs.stripe.com/api/customer_portal/sessions/create .
 */
#ifndef ADSENG_BILLING_STRIPE_SESSION_H
#define ADSENG_BILLING_STRIPE_SESSION_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/config.h"
#include "core/err.h"
#include "core/mem.h"

/*
 * Create a Checkout Session (mode=subscription) for tenant_id to buy plan:
 * the plan's price is the one [stripe] plans maps to it; the tenant's
 * Stripe customer is passed when it has one; client_reference_id is the
 * tenant id (checkout.session.completed links it back, billing_store.c).
 * On success *url (malloc'd, the caller's) is the page to send the buyer
 * to, and an audit_log row "billing.checkout" (actor) names the session.
 * Errors: ERR_NOTFOUND (no tenant), ERR_INVALID (no price for plan),
 * ERR_CONFIG (secret key or success/cancel URL not configured), ERR_AUTH
 * (Stripe refused the key), ERR_BUSY (Stripe rate limited us), ERR_IO
 * (Stripe unreachable or failing; its message is in e), ERR_DB.
 */
int billing_checkout_create(PGconn *conn, const struct config *cfg, int64_t tenant_id,
			    const char *plan, const char *actor, char **url, struct err *e) WUR;

/*
 * Create a billing portal session for tenant_id's Stripe customer
 * (return_url from [stripe] portal_return_url when set).  *url as above;
 * audit row "billing.portal".  ERR_CONFLICT when the tenant has no Stripe
 * customer yet (no checkout finished); other errors as above.
 */
int billing_portal_create(PGconn *conn, const struct config *cfg, int64_t tenant_id,
			  const char *actor, char **url, struct err *e) WUR;

/* ---- pure parts (unit tests, fuzzing) ------------------------------------------------------ */

/* The price id [stripe] plans (plans) maps to plan, the reverse of
 * stripe_plan_for_price: the first listed; false when none. */
bool billing_price_for_plan(const char *plans, const char *plan, char *price, size_t pricelen);

/* The form body of a Checkout Session (customer NULL or "" = none). */
void billing_checkout_form(struct buf *b, const char *price, int64_t tenant_id,
			   const char *customer, const char *success_url, const char *cancel_url);

/* The form body of a portal session (return_url NULL or "" = Stripe's default). */
void billing_portal_form(struct buf *b, const char *customer, const char *return_url);

/*
 * Read Stripe's answer: on 2xx the session's "url" (and "id" into id, may
 * be "") is copied to *url (malloc'd); otherwise Stripe's error object
 * (https://docs.stripe.com/api/errors: {"error":{"type","message",…}}) is
 * turned into e: 401/403 ERR_AUTH, 429 ERR_BUSY, 5xx ERR_IO, other 4xx
 * ERR_INVALID.  A 2xx without a url is ERR_IO.
 */
int billing_session_read(long status, const char *body, size_t len, char **url, char *id,
			 size_t idlen, struct err *e) WUR;
#endif
