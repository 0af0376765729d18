/*
 * google_ads.h - the parts of the Google Ads API destination (google_ads.c)
 * that other modules use besides its dest_ops: the conversion adjustments
 * builder and the conversion action requests of
 * `adsengctl google create-conversion-action`.
 *
 * All pure (no network, no globals): they fill a struct upload_req or read
 * a struct upload_resp, so unit tests drive them with fixtures.  Any
 * thread.  Wire facts: PLATFORMS.md "Google Ads API"; the rest is cited
 * where it is used in google_ads.c.
 */
#ifndef ADSENG_DESTINATIONS_GOOGLE_ADS_H
#define ADSENG_DESTINATIONS_GOOGLE_ADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/upload.h"
#include "destinations/dest.h"

/* At most this many adjustments per uploadConversionAdjustments request
 * (the same 2000 as click conversions). */
#define GOOGLE_ADS_MAX_ADJUSTMENTS 2000

enum google_ads_adjustment_type {
	GOOGLE_ADS_RETRACTION, /* a full refund: the conversion no longer counts */
	GOOGLE_ADS_RESTATEMENT /* a partial refund or change: the new value */
};

/*
 * One adjustment of an uploaded conversion, found by its order id (the
 * adjustments table, sql/0011, through dest_ops.build_adjustments).
 * Strings are borrowed.
 */
struct google_ads_adjustment {
	enum google_ads_adjustment_type type;
	const char *order_id; /* the orderId the conversion was uploaded with */
	int64_t adjusted_us;  /* when the refund happened, unix microseconds */
	const char *value;    /* RESTATEMENT: the new total, a decimal string */
	const char *currency; /* RESTATEMENT: ISO 4217, may be NULL */
};

/*
 * POST {base}/{version}/customers/{cid}:uploadConversionAdjustments for
 * adj[0..n) (1..GOOGLE_ADS_MAX_ADJUSTMENTS) of destination d (google_ads:
 * customer_id and conversion_action settings, developer token from its
 * credentials), with the same headers as click uploads and
 * partialFailure true (validateOnly in test mode).  req must be freshly
 * initialized; it is filled only on success.  ERR_INVALID for a bad
 * batch size or a malformed adjustment (no order id, a RESTATEMENT without
 * a JSON-number value), ERR_CONFIG for missing settings or token.
 */
int google_ads_build_adjustments(const struct destination *d, const char *access_token,
				 const struct google_ads_adjustment *adj, size_t n,
				 struct upload_req *req, struct err *e) WUR;

/* What a conversion action create request needs; strings borrowed. */
struct google_ads_action_req {
	const char *base_url;	       /* [endpoints] google_ads */
	const char *api_version;       /* "v26" */
	const char *customer_id;       /* 10 digits */
	const char *login_customer_id; /* 10 digits or NULL */
	const char *access_token;      /* OAuth2 access token */
	const char *developer_token;   /* Google Ads API developer token */
	const char *name;	       /* the conversion action's name */
	const char *category;	       /* "PURCHASE", "LEAD", …; NULL = PURCHASE */
};

/* Whether s is a ConversionActionCategory this tool offers (PURCHASE,
 * LEAD, SIGNUP, …). */
bool google_ads_is_category(const char *s);

/*
 * POST {base}/{version}/customers/{cid}/conversionActions:mutate creating
 * one UPLOAD_CLICKS action (ENABLED, MANY_PER_CLICK, 90 days click-through
 * lookback).  ERR_INVALID for a bad name or category, ERR_CONFIG for a
 * missing part.  req must be freshly initialized.
 */
int google_ads_build_conversion_action(const struct google_ads_action_req *r,
				       struct upload_req *req, struct err *e) WUR;

/*
 * Read the answer to that request: 0 with the new action's id (digits) in
 * id and its resource name in resource_name; otherwise ERR_IO for a
 * transport error or an answer that may pass (429, 5xx), ERR_AUTH for
 * 401/403, ERR_INVALID for other refusals — each with Google's message
 * (and error code) in e.
 */
int google_ads_parse_conversion_action(const struct upload_resp *resp, char id[24],
				       char resource_name[128], struct err *e) WUR;

#endif
