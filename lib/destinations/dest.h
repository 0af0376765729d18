/*
 * dest.h - what every ad platform destination provides: a request builder
 * from a batch of conversions and a classifier from the platform's answer
 * to one outcome per conversion.
 *
 * Both are pure functions (no network, no database): the pipeline claims
 * deliveries, calls build(), uploads the request with the net layer, and
 * calls result().  Unit tests drive them with fixtures.  Adding a platform
 * is one file defining a `const struct dest_ops` (with its own config keys)
 * plus one line in dest.c.
 */
#ifndef ADSENG_DESTINATIONS_DEST_H
#define ADSENG_DESTINATIONS_DEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/conversion.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/upload.h"

struct cJSON;
struct config;
struct config_platform_key;
struct oauth_grant;

/* A configured destination as a worker holds it (credentials decrypted). */
struct destination {
	char id[37]; /* uuid as text */
	int64_t tenant_id;
	char *name;
	char kind[32];
	bool enabled;
	bool test_mode;
	char *base_url;	   /* from [endpoints], e.g. "https://graph.facebook.com" */
	char *api_version; /* settings.api_version, else the config default */
	/* Platform identifiers and options (pixel_id, test_event_code, …). */
	struct cJSON *settings;
	/* Credentials JSON text ({"access_token": …}) in sodium_malloc memory. */
	char *creds;
	/* A secret the kind's load hook took from the daemon's config (the
	 * google_ads developer token of [google] developer_token_file), or
	 * NULL; wiped when the destination is dropped. */
	char *aux_secret;
	const struct dest_ops *ops;
};

enum outcome_kind {
	OUTCOME_DELIVERED, /* accepted (or a duplicate of an accepted one) */
	OUTCOME_RETRY,	   /* transient: schedule a retry with backoff */
	OUTCOME_FAILED,	   /* permanent for this event: the platform's message */
	OUTCOME_SPLIT,	   /* the batch was rejected as a whole: bisect it */
	OUTCOME_PAUSE,	   /* credentials/permissions: pause the destination,
			    * hold the event, do not burn an attempt */
	OUTCOME_DEAD,	   /* cannot ever be delivered (too old) */
	OUTCOME_REAUTH,	   /* the access token was refused (401): drop it,
			    * get a fresh one and resend once, no attempt
			    * burned; a second refusal pauses (reauthorize) */
	OUTCOME_RESEND	   /* not at fault in a request the platform refused
			    * because of other events (Data Manager field
			    * violations): resend at once without them, no
			    * attempt burned */
};

const char *outcome_kind_name(enum outcome_kind k);

struct outcome {
	enum outcome_kind kind;
	long retry_after_s;	/* platform-requested delay, -1 if none */
	char platform_code[32]; /* e.g. "190", "40100", "" */
	char message[256];	/* the platform's message, or ours */
	/* The platform's id of the accepted request (Data Manager's
	 * requestId), stored on the delivery so its later processing status
	 * can be polled; empty = none. */
	char request_id[96];
};

/* A platform's later report on a request it accepted (Data Manager's
 * requestStatus). */
enum dest_request_state {
	DEST_REQ_PROCESSING, /* not done yet: ask again later */
	DEST_REQ_SUCCESS,
	DEST_REQ_PARTIAL, /* some events were not processed: see summary */
	DEST_REQ_FAILED,
	DEST_REQ_RETRY,	 /* the query itself failed (transport, 5xx): later */
	DEST_REQ_REAUTH, /* the query's token was refused (401) */
	DEST_REQ_GONE	 /* the platform does not know the request (any more) */
};

struct dest_request_status {
	enum dest_request_state state;
	char status[32];   /* the platform's word, e.g. "PARTIAL_SUCCESS" */
	char summary[512]; /* one line: error counts by reason, or why */
};

/* A change to a conversion a destination already has (adjustments table,
 * sql/0011): the platform should count it as retracted, or at a new
 * value.  Strings borrowed. */
enum dest_adjustment_kind { DEST_ADJ_RETRACTION, DEST_ADJ_RESTATEMENT };

struct dest_adjustment {
	enum dest_adjustment_kind kind;
	const char *order_id; /* the conversion's order id, or NULL */
	const char *event_id; /* the conversion's event id */
	int64_t adjusted_us;  /* when the change happened, unix microseconds */
	const char *value;    /* RESTATEMENT: the new value, decimal text */
	const char *currency; /* ISO 4217, or NULL */
};

/* What `destination test` may give beyond the destination's settings. */
struct dest_test_opts {
	const char *test_event_code; /* Meta, TikTok; NULL = the configured one */
	const char *gtm_preview;     /* sGTM X-Gtm-Server-Preview; NULL = configured */
};

/* Requests in flight per destination and worker when neither the
 * destination's settings nor its kind say. */
#define DEST_DEFAULT_MAX_INFLIGHT 4
#define DEST_MAX_INFLIGHT_MAX	  1000

struct dest_ops {
	const char *kind;	  /* "meta_capi" */
	const char *endpoint_key; /* the [endpoints] key of its base URL: "meta" */
	/* Daemon-wide config keys of this kind ([meta] api_version), static;
	 * dest_register_config_keys makes them known to core/config.  Kinds of
	 * one platform may list the same key: it is registered once. */
	const struct config_platform_key *config_keys;
	size_t n_config_keys;
	/* The one of config_keys that holds the API version for destinations
	 * whose settings carry no api_version; NULL = the kind has none. */
	const struct config_platform_key *api_version_key;
	size_t max_batch;  /* events per request (PLATFORMS.md) */
	int64_t max_age_s; /* older events end dead unsent; 0 = no limit */
	/* Whether max_age_s counts from the ad click (Google: 90 days after
	 * the click) rather than from the event (Meta: 7 days).  Where the
	 * click time is unknown the event time stands in: the click came
	 * before it, so nothing still inside the window is ever dropped. */
	bool age_from_click;
	/* Whether c can be sent at all (Data Manager: a click id or a user
	 * identifier to match on).  false fills why, and the delivery ends
	 * failed without being sent.  NULL = every conversion can. */
	bool (*accepts)(const struct destination *d, const struct conversion *c, char *why,
			size_t whylen);
	/* Normalize the settings given at `destination add` in place before
	 * validate (Google: customer ids without hyphens); NULL = none. */
	int (*prepare_settings)(struct cJSON *settings, struct err *e);
	/* Check settings + credentials at `destination add` time, for a
	 * destination in test mode (test orders go to it, so it must be able
	 * to mark them as tests) or not. */
	int (*validate)(const struct cJSON *settings, const struct cJSON *creds, bool test_mode,
			struct err *e);
	/* Complete d when a worker loads it, from the config (NULL = nothing
	 * to do): e.g. d->aux_secret.  An error pauses the destination. */
	int (*load)(struct destination *d, const struct config *cfg, struct err *e);
	/*
	 * Auth hook (OAuth2 kinds; NULL = the credentials are used as they
	 * are, like Meta's token).  Fill g from d's credentials and cfg: the
	 * token URL, client id and secret, and the refresh token, which may be
	 * missing (not authorized yet: the destination waits for `adsengctl
	 * destination authorize`).  The pipeline gets an access token through
	 * the daemon's token cache (net/oauth.h) before build and passes it in.
	 */
	int (*auth_grant)(const struct destination *d, const struct config *cfg,
			  struct oauth_grant *g, struct err *e);
	/* OAuth2 scopes for the consent URL (space separated), NULL = the
	 * kind is not authorized by consent. */
	const char *oauth_scopes;
	/* The consent provider of such a kind ("google"): the callback path
	 * /oauth/{provider}/callback and the config section whose auth_url
	 * key is the consent page ([google] auth_url).  Kinds that share a
	 * provider share the OAuth client.  NULL when oauth_scopes is. */
	const char *oauth_provider;
	/* The key that groups conversions into one request (GA4: one user per
	 * request), written to out (NUL-terminated, at most len bytes).  The
	 * pipeline puts consecutive conversions of the same key in one
	 * request and starts another where the key changes.  NULL = any
	 * conversions may share a request. */
	void (*batch_key)(const struct destination *d, const struct conversion *c, char *out,
			  size_t len);
	/* Build one request for n (1..max_batch) conversions; access_token is
	 * the auth hook's token, NULL for kinds without one. */
	int (*build)(const struct destination *d, const char *access_token,
		     struct conversion *const *convs, size_t n, struct upload_req *req,
		     struct err *e);
	/*
	 * Validation sampling (NULL = the kind has none).  check_wanted says
	 * whether a request should first go to the platform's validation
	 * endpoint (a sampled fraction); check_build builds that request like
	 * build, and check_result reads its answer into one outcome per
	 * conversion: OUTCOME_FAILED = invalid, not sent (the message says
	 * why); anything else = send it for real, a non-empty message being a
	 * warning the pipeline keeps on the delivery (an attempt row with
	 * outcome "validation_warning", counted in stats, and the delivered
	 * outcome's message).
	 */
	bool (*check_wanted)(const struct destination *d, struct conversion *const *convs,
			     size_t n);
	int (*check_build)(const struct destination *d, const char *access_token,
			   struct conversion *const *convs, size_t n, struct upload_req *req,
			   struct err *e);
	void (*check_result)(const struct destination *d, const struct upload_resp *resp,
			     struct conversion *const *convs, size_t n, struct outcome *out);
	/* Diagnostics of accepted requests (NULL = the kind has none):
	 * build the status query for the platform's request id, and read its
	 * answer.  status_delay_key is the [section] key of the delay before
	 * the first query ("30m"; NULL = 30 minutes). */
	int (*status_build)(const struct destination *d, const char *access_token,
			    const char *request_id, struct upload_req *req, struct err *e);
	void (*status_parse)(const struct upload_resp *resp, struct dest_request_status *st);
	const struct config_platform_key *status_delay_key;
	/*
	 * Concurrency: requests of one destination a worker may have in
	 * flight at once when its settings carry no max_inflight
	 * (dest_max_inflight).  0 = DEST_DEFAULT_MAX_INFLIGHT.
	 */
	unsigned default_max_inflight;
	/*
	 * `destination test` (pipeline/dest_probe.h): put d, a private copy of
	 * a loaded destination, into the kind's test mode for one synthetic
	 * event, so that build() sends what the platform does not count and
	 * result() reads its answer: a test event code (Meta, TikTok: opts
	 * first, else the configured one; none is ERR_CONFIG saying where to
	 * get one), the validation server (GA4), validateOnly (Google), the
	 * preview header (sGTM).  NULL = the kind cannot be tested without
	 * real effect: refused.
	 */
	int (*test_prepare)(struct destination *d, const struct dest_test_opts *opts,
			    struct err *e);
	/* After the test's answer: a warning about an answer that looks fine
	 * but is not (sGTM: an empty 200, the container may claim no path),
	 * into out ("" = none).  NULL = no such check. */
	void (*test_note)(const struct destination *d, const struct upload_resp *resp, char *out,
			  size_t len);
	/* One outcome per conversion, in input order. */
	void (*result)(const struct destination *d, const struct upload_resp *resp,
		       struct conversion *const *convs, size_t n, struct outcome *out);
	/*
	 * Adjustments (NULL = the platform has no API for them: Meta, TikTok,
	 * GA4; their adjustment deliveries are 'not_supported' at once).
	 * build_adjustments builds one request for adj[0..n) (1..
	 * max_adjustments) like build; adjustments_result reads its answer
	 * into one outcome per adjustment, in input order.
	 */
	int (*build_adjustments)(const struct destination *d, const char *access_token,
				 const struct dest_adjustment *adj, size_t n,
				 struct upload_req *req, struct err *e);
	void (*adjustments_result)(const struct destination *d, const struct upload_resp *resp,
				   size_t n, struct outcome *out);
	size_t max_adjustments;
};

/* The ops for a kind ("meta_capi"), or NULL. */
const struct dest_ops *dest_ops_find(const char *kind);

/* Whether destinations of ops's kind upload adjustments. */
bool dest_supports_adjustments(const struct dest_ops *ops);

/* The kinds that upload adjustments, up to max of them into out (static
 * strings); returns how many there are. */
size_t dest_adjustment_kinds(const char **out, size_t max);

/* Register every kind's config_keys with core/config (config_add_platform_key),
 * so the config accepts, documents and prints them.  Idempotent.  Main
 * thread, before the first config_load and before other threads start. */
void dest_register_config_keys(void);

/* Requests of d a worker may have in flight at once: settings.max_inflight,
 * else the kind's default_max_inflight, else DEST_DEFAULT_MAX_INFLIGHT. */
size_t dest_max_inflight(const struct destination *d);

/*
 * The settings every kind shares, given at `destination add` / `update` as
 * strings: `--max-inflight N` becomes the number N (1..DEST_MAX_INFLIGHT_MAX).
 * In place, before the kind's prepare_settings; ERR_CONFIG naming the
 * option when a value is unusable.
 */
int dest_prepare_common_settings(struct cJSON *settings, struct err *e) WUR;

/* dest_ops.test_prepare of kinds whose test mode needs nothing but
 * d->test_mode (Google's validateOnly, GA4's validation server). */
int dest_test_prepare_test_mode(struct destination *d, const struct dest_test_opts *opts,
				struct err *e);

/* settings[key] = val (a string), replacing any value: ERR_NOMEM. */
int dest_settings_set_str(struct cJSON *settings, const char *key, const char *val,
			  struct err *e) WUR;

/* settings[key] when it is a string, else NULL. */
const char *dest_settings_str(const struct cJSON *settings, const char *key);

/*
 * Copy creds[key] out of a destination's credentials JSON text into *out
 * (free with dest_secret_free) when it is a non-empty string that ok()
 * accepts (NULL: any).  Absent: *out NULL, and 0 unless required.  Not
 * JSON, or present but unusable: ERR_CONFIG.  The parsed tree is wiped
 * before it is freed; messages name kind and key, never the value.
 */
int dest_creds_secret(const char *kind, const char *creds, const char *key, bool required,
		      bool (*ok)(const char *), char **out, struct err *e) WUR;

/* Wipe and free a copy of a secret; NULL is a no-op. */
void dest_secret_free(char *s);

/* The first step of every classifier: a transport error (no HTTP answer)
 * retries every event with curl's message.  true when it was one (out
 * filled), false to go on reading the answer. */
bool outcome_fill_transport(const struct upload_resp *resp, struct outcome *out, size_t n);

/* Set every outcome to kind with message (helper for classifiers). */
void outcome_fill(struct outcome *out, size_t n, enum outcome_kind kind, long retry_after_s,
		  const char *code, const char *msg);

#endif
