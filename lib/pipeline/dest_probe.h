/*
 * dest_probe.h - `destination test`: one synthetic purchase sent to a
 * destination in its platform's test mode, and the platform's answer.
 *
 * The destination is loaded as a worker loads it (pipeline/dest_cache.h:
 * credentials opened by the vault, base URL from [endpoints], the kind's
 * load hook), then put into the kind's test mode on a private copy
 * (dest_ops.test_prepare: a test event code, GA4's validation server,
 * Google's validateOnly, sGTM's preview header); a kind that cannot be
 * tested without real effect is refused before anything is sent.  OAuth2
 * kinds get their token through the token cache given (net/oauth.h).  The
 * request goes out blocking (net/fetch.h) and its answer is read by the
 * kind's own classifier (dest_ops.result) plus its test_note (sGTM: an
 * empty 200).  Nothing is written to deliveries; one audit_log row
 * "destination.test" records who tested what and the verdict.
 *
 * The CLI (`adsengctl destination test`) and the admin API
 * (`POST /v1/admin/destinations/{id}/test`, issue 10) both call
 * dest_probe_run.  It blocks for up to the upload timeout (plus a token
 * refresh): call it from a thread that may block, never a worker loop.
 */
#ifndef ADSENG_PIPELINE_DEST_PROBE_H
#define ADSENG_PIPELINE_DEST_PROBE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/vault.h"
#include "destinations/dest.h"

struct cJSON;
struct oauth_cache;

struct dest_probe_result {
	char dest_id[37];
	char kind[32];
	char event_id[64];  /* the synthetic event's id */
	char *url;	    /* where it went, without secrets (log_url) */
	bool answered;	    /* false: no HTTP answer (transport error) */
	long status;	    /* HTTP status when answered */
	char *body;	    /* the platform's answer, as it came (may be "") */
	int64_t latency_ms; /* of the request */
	char outcome[16];   /* the kind's classifier: "delivered", "failed", … */
	char platform_code[32];
	char message[256]; /* the classifier's message (GA4: validationMessages) */
	char warning[256]; /* dest_ops.test_note, "" = none */
};

/*
 * Test destination dest_id (uuid): load it from conn with cfg and vault,
 * get a token through oauth (needed only by OAuth2 kinds; NULL then fails
 * them), send one synthetic purchase in test mode (opts may be NULL), and
 * fill out (dest_probe_result_cleanup).  0 when the platform was asked,
 * whatever it answered (out says what); ERR_NOTFOUND, ERR_CONFIG (the kind
 * has no safe test mode, a test event code is needed, credentials or
 * settings unusable, not authorized), ERR_AUTH (token refused), ERR_IO,
 * ERR_DB, ERR_CRYPTO otherwise, nothing sent.  The audit row (actor) is
 * written for every test that was sent.
 */
int dest_probe_run(PGconn *conn, const struct config *cfg, const struct vault *vault,
		   struct oauth_cache *oauth, const char *dest_id,
		   const struct dest_test_opts *opts, const char *actor,
		   struct dest_probe_result *out, struct err *e) WUR;

void dest_probe_result_cleanup(struct dest_probe_result *r);

/* out as JSON ({"destination", "kind", "event_id", "url", "status", "body",
 * "latency_ms", "outcome", "platform_code", "message", "warning"}); the
 * caller frees it.  NULL when out of memory. */
struct cJSON *dest_probe_result_json(const struct dest_probe_result *r);

#endif
