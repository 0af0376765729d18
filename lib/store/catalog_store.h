/*
 * catalog_store.h - reading configured sources and destinations, with
 * their secrets still sealed (the caller opens them with the vault).
 */
#ifndef ADSENG_STORE_CATALOG_STORE_H
#define ADSENG_STORE_CATALOG_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct source_row {
	char id[37];
	int64_t tenant_id;
	char kind[32];
	bool enabled;
	uint8_t *secret; /* sealed, malloc'd */
	size_t secret_len;
	uint8_t *secret_previous; /* sealed or NULL */
	size_t secret_previous_len;
	int64_t secret_previous_until_us; /* unix us; 0 = no end */
	char *settings_json;		  /* the settings jsonb as text, malloc'd */
};

struct dest_row {
	char id[37];
	int64_t tenant_id;
	char *name;
	char kind[32];
	bool enabled;
	bool test_mode;
	char *settings_json;
	uint8_t *credentials; /* sealed, malloc'd */
	size_t credentials_len;
};

/* Every source.  *rows is malloc'd; free with catalog_free_sources. */
int catalog_load_sources(PGconn *conn, struct source_row **rows, size_t *n, struct err *e) WUR;
void catalog_free_sources(struct source_row *rows, size_t n);

/* What calling a source's platform back needs (reconcile). */
struct source_rest_row {
	char kind[32];
	char *settings_json; /* malloc'd */
	uint8_t *sealed;     /* sources.rest_credentials, malloc'd; NULL when none */
	size_t sealed_len;
};

/* Source id's settings and sealed REST credentials; ERR_NOTFOUND when the
 * source does not exist. */
int catalog_load_source_rest(PGconn *conn, const char *id, struct source_rest_row *out,
			     struct err *e) WUR;
void catalog_source_rest_cleanup(struct source_rest_row *r);

/* Whether source_id already has a conversion with event_id (*have). */
int catalog_conversion_exists(PGconn *conn, const char *source_id, const char *event_id, bool *have,
			      struct err *e) WUR;

/* One destination by id; ERR_NOTFOUND when there is none. */
int catalog_load_destination(PGconn *conn, const char *id, struct dest_row *out, struct err *e) WUR;
void catalog_dest_row_cleanup(struct dest_row *r);

#endif
