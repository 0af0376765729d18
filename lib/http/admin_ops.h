/*
 * admin_ops.h - what the admin API's handler files share and nothing else
 * includes: the helpers of admin_ops.c (answers, body fields, scoping to
 * the token's tenant) and the handlers of admin_ops_catalog.c,
 * admin_ops_activity.c and admin_ops_billing.c, which admin_ops.c's route
 * table names.  Every
 * function runs on the admin worker thread with its connection.
 */
#ifndef ADSENG_HTTP_ADMIN_OPS_H
#define ADSENG_HTTP_ADMIN_OPS_H

#include "http/admin_int.h"
#include "store/admin_pages.h"

/* A page query of store/admin_pages.h. */
typedef int (*aop_page_fn)(PGconn *, const struct admin_page *, cJSON **, bool *, struct err *);

/* ---- helpers (admin_ops.c) ---- */

/* A 422 (job->status) with msg: well formed, but cannot be done. */
int aop_unprocessable(struct admin_job *job, struct err *e, const char *msg);
/* {"items": rows, "next_cursor": the last row's key or null}; takes rows. */
int aop_page_answer(const struct admin_job *job, cJSON *rows, bool more, cJSON **out,
		    struct err *e);
/* One page of fn's rows, scoped to the token's tenant, as the answer. */
int aop_list(PGconn *conn, const struct admin_job *job, aop_page_fn fn, cJSON **out, struct err *e);
/* The page job's query asks for, scoped to the token's tenant. */
void aop_page_of(const struct admin_job *job, struct admin_page *pg);
/* Body fields: a string of 1..max bytes (absent: *out NULL, 400 when
 * required), a uuid, and no field outside fields (400 naming it). */
int aop_body_str(const struct admin_job *job, const char *field, bool required, size_t max,
		 const char **out, struct err *e);
int aop_body_uuid(const struct admin_job *job, const char *field, const char **out, struct err *e);
int aop_body_only(const struct admin_job *job, const char *const *fields, struct err *e);
/* The object id the token may see, as its list row, or 404; own() only
 * checks it (an id of the wrong shape is 404 too). */
int aop_get_one(PGconn *conn, const struct admin_job *job, aop_page_fn fn, const char *what,
		const char *id, cJSON **out, struct err *e);
int aop_own(PGconn *conn, const struct admin_job *job, aop_page_fn fn, const char *what,
	    const char *id, struct err *e);
/* The tenant of a new object: an agency token's own ("tenant" in the body
 * refused), an admin's from the body (required; 422 when there is none). */
int aop_body_tenant(PGconn *conn, struct admin_job *job, int64_t *tenant, struct err *e);

/* ---- handlers (admin_ops_catalog.c, admin_ops_activity.c) ---- */

int aop_sources_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		     struct err *e);
int aop_source_get(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		   struct err *e);
int aop_source_create(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		      struct err *e);
int aop_source_update(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		      struct err *e);
int aop_source_disable(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		       struct err *e);
int aop_source_enable(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		      struct err *e);
int aop_destinations_list(PGconn *conn, const struct config *cfg, struct admin_job *job,
			  cJSON **out, struct err *e);
int aop_destination_get(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			struct err *e);
int aop_destination_create(PGconn *conn, const struct config *cfg, struct admin_job *job,
			   cJSON **out, struct err *e);
int aop_destination_update(PGconn *conn, const struct config *cfg, struct admin_job *job,
			   cJSON **out, struct err *e);
int aop_destination_pause(PGconn *conn, const struct config *cfg, struct admin_job *job,
			  cJSON **out, struct err *e);
int aop_destination_resume(PGconn *conn, const struct config *cfg, struct admin_job *job,
			   cJSON **out, struct err *e);
int aop_destination_disable(PGconn *conn, const struct config *cfg, struct admin_job *job,
			    cJSON **out, struct err *e);
int aop_destination_test(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e);
int aop_conversions_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e);
int aop_deliveries_list(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			struct err *e);
int aop_delivery_get(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		     struct err *e);
int aop_replay(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
	       struct err *e);
int aop_stats(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
	      struct err *e);
int aop_billing_checkout(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
			 struct err *e);
int aop_billing_portal(PGconn *conn, const struct config *cfg, struct admin_job *job, cJSON **out,
		       struct err *e);

#endif
