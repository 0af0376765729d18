/*
 * google_datamanager.h - the parts of the Data Manager destination that live
 * outside its dest_ops: the diagnostics of an accepted request.
 *
 * Data Manager accepts a request (200 + requestId) before it processes it;
 * what became of the events is read later with
 * GET /v1/requestStatus:retrieve?requestId=….  The pipeline's poller
 * (pipeline/request_poll.c) reaches these through dest_ops.status_build
 * (gdm_build_status_request) and status_parse (which reads the answer with
 * gdm_parse_status and gdm_status_summary).  Exported for the unit tests
 * and the fuzz target.  Pure functions, any thread.
 *
 * Wire facts: ../shared/DATAMANAGER.md "Answers";
 * google/ads/datamanager/v1/ingestion_service.proto (RetrieveRequestStatus),
 * request_status_per_destination.proto and processing_errors.proto in
 * googleapis/googleapis.
 */
#ifndef ADSENG_DESTINATIONS_GOOGLE_DATAMANAGER_H
#define ADSENG_DESTINATIONS_GOOGLE_DATAMANAGER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/upload.h"
#include "destinations/dest.h"

/* RequestStatusPerDestination.RequestStatus.  GDM_UNKNOWN also stands for
 * a value this code does not know (a newer API). */
enum gdm_request_status {
	GDM_UNKNOWN,
	GDM_PROCESSING,
	GDM_SUCCESS,
	GDM_PARTIAL_SUCCESS,
	GDM_FAILED
};

/* Distinct error reasons kept; more are counted in n_reasons_dropped. */
#define GDM_MAX_ERROR_REASONS 8

struct gdm_error_count {
	int64_t records; /* ErrorCount.recordCount (an int64 sent as a string) */
	char reason[80]; /* ProcessingErrorReason, e.g. "PROCESSING_ERROR_REASON_INVALID_GCLID" */
};

/* A RetrieveRequestStatusResponse, summed over its destinations. */
struct gdm_status {
	/* The request as a whole: PROCESSING while any destination is;
	 * SUCCESS or FAILED when all are; PARTIAL_SUCCESS otherwise. */
	enum gdm_request_status status;
	size_t n_destinations;
	/* eventsIngestionStatus.recordCount summed; -1 when none said. */
	int64_t record_count;
	/* errorInfo.errorCounts[] summed per reason, in order of appearance. */
	struct gdm_error_count errors[GDM_MAX_ERROR_REASONS];
	size_t n_errors;
	size_t n_reasons_dropped;
};

/* "PROCESSING", "SUCCESS", "PARTIAL_SUCCESS", "FAILED" or "UNKNOWN". */
const char *gdm_request_status_name(enum gdm_request_status s);

/*
 * Build GET {base}/{version}/requestStatus:retrieve?requestId=… with
 * "Authorization: Bearer <access_token>" for d (a google_datamanager
 * destination).  req must be upload_req_init'ed; it is filled only on
 * success (upload_req_cleanup wipes the token).  ERR_CONFIG without a base
 * URL, API version or token; ERR_INVALID unless request_id is 1..95 of
 * RFC 3986's unreserved characters (Google's are UUIDs; result() stores
 * no other).  Everything is borrowed.
 */
int gdm_build_status_request(const struct destination *d, const char *access_token,
			     const char *request_id, struct upload_req *req, struct err *e) WUR;

/*
 * Parse the body of a 200 answer to that request into *st.  ERR_INVALID
 * (st then says GDM_UNKNOWN with nothing counted) when it is not JSON, has
 * no requestStatusPerDestination array, or a count is not a non-negative
 * int64.  body need not be NUL-terminated.
 */
int gdm_parse_status(const char *body, size_t len, struct gdm_status *st, struct err *e) WUR;

/*
 * One line for `deliveries show` and logs, e.g.
 * "PARTIAL_SUCCESS: 3 records; errors: 2 PROCESSING_ERROR_REASON_INVALID_GCLID".
 * Always NUL-terminated (outlen > 0), cut at a character boundary.
 */
void gdm_status_summary(const struct gdm_status *st, char *out, size_t outlen);

#endif
