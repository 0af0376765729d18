/*
 * admin_pages.h - the admin API's lists, one page at a time: keyset
 * pagination (WHERE key > the last key of the previous page ORDER BY key
 * LIMIT n, never OFFSET, so a page costs the same wherever it is and a row
 * added meanwhile neither repeats nor hides another).  The CLI's complete
 * listings (admin.h, in their own human order) are unchanged; these order
 * by the key: tenants by id, sources and destinations by id, routes by
 * (source_id, destination_id), conversions and deliveries newest first
 * (id descending).
 *
 * Rows are the JSON objects admin.h describes.  Each function fetches one
 * row more than limit to tell whether another page follows (*more); the
 * caller turns the last row's key into its cursor.  Same threading rules as
 * admin.h: the calling thread's connection, blocking.
 */
#ifndef ADSENG_STORE_ADMIN_PAGES_H
#define ADSENG_STORE_ADMIN_PAGES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct cJSON;

struct admin_page {
	/* The previous page's last key, as text (NULL = the first page): an
	 * id; for routes after is the source id and after2 the destination
	 * id.  Bound as parameters; a value of the wrong shape is an SQL
	 * error (the API checks the shape first). */
	const char *after, *after2;
	int64_t limit;	   /* 1.. rows wanted */
	int64_t tenant_id; /* 0 = every tenant */
	const char *only;  /* one id (a get), NULL = all */
};

/* Tenants, with "disabled". */
int admin_tenant_page(PGconn *conn, const struct admin_page *pg, struct cJSON **out, bool *more,
		      struct err *e) WUR;
int admin_source_page(PGconn *conn, const struct admin_page *pg, struct cJSON **out, bool *more,
		      struct err *e) WUR;
int admin_destination_page(PGconn *conn, const struct admin_page *pg, struct cJSON **out,
			   bool *more, struct err *e) WUR;
int admin_route_page(PGconn *conn, const struct admin_page *pg, struct cJSON **out, bool *more,
		     struct err *e) WUR;

struct admin_conversion_filter {
	bool has_since, has_until; /* occurred_at: since <= t < until */
	int64_t since_us, until_us;
	const char *event;     /* NULL = any */
	const char *source_id; /* NULL = any */
};
/* id, tenant_id, source_id, source, event, event_id, occurred_at, value,
 * currency, order_id, created_at; never the payload (it holds personal
 * data; `GET /deliveries/{id}` shows it for one delivery). */
int admin_conversion_page(PGconn *conn, const struct admin_conversion_filter *f,
			  const struct admin_page *pg, struct cJSON **out, bool *more,
			  struct err *e) WUR;

#endif
