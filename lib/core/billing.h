/*
 * billing.h - one change to a tenant's billing state, as a billing
 * provider's webhook reports it (sources/stripe.c fills it from a stored
 * event, store/billing_store.c applies it in stage 1's transaction).
 * Plain data, so neither side needs the other.
 */
#ifndef ADSENG_CORE_BILLING_H
#define ADSENG_CORE_BILLING_H

#include <stdbool.h>
#include <stdint.h>

#define BILLING_ID_MAX	   256 /* ids, with the NUL */
#define BILLING_STATUS_MAX 32

enum billing_op {
	BILLING_NONE = 0,
	/* A checkout finished: tenant_ref (our tenant id or name) now pays
	 * through customer and subscription. */
	BILLING_LINK,
	/* The subscription's state: plan (from its price) and status. */
	BILLING_SUBSCRIPTION,
	/* An invoice could not be charged: the tenant is past due. */
	BILLING_PAYMENT_FAILED,
	/* An invoice was paid: past due no more. */
	BILLING_PAID,
};

struct billing_change {
	enum billing_op op;
	char event_id[BILLING_ID_MAX];
	char type[BILLING_ID_MAX]; /* the provider's event type, for the audit row */
	int64_t event_at;	   /* the provider's own time of the event, unix seconds */
	/* Our tenant as the provider was told it (checkout's reference, a
	 * subscription's metadata): its id or its name; "" = unknown. */
	char tenant_ref[BILLING_ID_MAX];
	char customer[BILLING_ID_MAX];	   /* "" = not in the event */
	char subscription[BILLING_ID_MAX]; /* "" = not in the event */
	char price[BILLING_ID_MAX];	   /* BILLING_SUBSCRIPTION: the price id */
	/* BILLING_SUBSCRIPTION: the plan the price buys; "" = a price no plan
	 * is configured for (the plan is left as it is). */
	char plan[BILLING_STATUS_MAX];
	char status[BILLING_STATUS_MAX]; /* BILLING_SUBSCRIPTION: active, past_due, canceled… */
	bool deleted;			 /* BILLING_SUBSCRIPTION: the subscription ended */
};

#endif
