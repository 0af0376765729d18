/*
 * audience.h - what a platform provides for customer-list audiences
 * (Google's Customer Match): turning a customer's stored identifiers into
 * a member, and the requests that create a list and add or remove members,
 * with the classification of their answers.
 *
 * Like dest.h, these are pure functions: the sync engine
 * (pipeline/audience_sync.c) reads the members from the database, diffs
 * them with what was sent, sends the requests with net_fetch and records
 * the result, naming no platform.  A platform is one `const struct
 * audience_ops` for a destination kind, listed in audience.c.
 */
#ifndef ADSENG_DESTINATIONS_AUDIENCE_H
#define ADSENG_DESTINATIONS_AUDIENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/audience_member.h"
#include "core/err.h"
#include "core/pii.h"
#include "core/upload.h"
#include "destinations/dest.h"

struct cJSON;

/* What became of a request, from its HTTP answer. */
enum audience_result {
	AUDIENCE_OK,	  /* accepted */
	AUDIENCE_REAUTH,  /* 401: the access token was refused */
	AUDIENCE_RETRY,	  /* transient (transport, 429, 5xx): next sync */
	AUDIENCE_REJECTED /* the platform refused the request: needs a person */
};

struct audience_ops {
	const char *dest_kind; /* the destination kind it serves */
	/* The stored hashing scheme its identifiers come from
	 * (conversions.payload ids.<scheme>). */
	enum pii_scheme scheme;
	size_t max_members; /* per add or remove request */
	/*
	 * A member from a customer's identifiers (ids: the scheme's object of
	 * the stored conversion, keys pii_field_key) and the consent of its
	 * latest conversion ("granted", "denied" or NULL for each); d supplies
	 * the destination's default consent.  ERR_INVALID when nothing in ids
	 * can identify the member (skip it).  m is filled only on success.
	 */
	int (*member)(const struct destination *d, const struct cJSON *ids,
		      const char *ad_user_data, const char *ad_personalization,
		      struct audience_member *m, struct err *e);
	/* Add (remove == false) or remove members m[0..n) (n ≤ max_members)
	 * of list list_id.  req is upload_req_init'ed and filled on success. */
	int (*build_members)(const struct destination *d, const char *access_token,
			     const char *list_id, bool remove, const struct audience_member *m,
			     size_t n, struct upload_req *req, struct err *e);
	/* Create a customer list named name (description may be NULL). */
	int (*build_create_list)(const struct destination *d, const char *access_token,
				 const char *name, const char *description, struct upload_req *req,
				 struct err *e);
	/* The new list's id from a 2xx answer to build_create_list, into
	 * id[0..idlen); ERR_INVALID when the answer has none. */
	int (*parse_create_list)(const struct upload_resp *resp, char *id, size_t idlen,
				 struct err *e);
	/* Classify any answer; msg gets the platform's message (or ours). */
	enum audience_result (*classify)(const struct upload_resp *resp, char *msg, size_t msglen);
};

/* The audience ops for destinations of kind, or NULL when the kind has no
 * customer-list audiences. */
const struct audience_ops *audience_ops_find(const char *kind);

#endif
