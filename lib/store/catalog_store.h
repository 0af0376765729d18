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
	char *settings_json; /* the settings jsonb as text, malloc'd */
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

/* One destination by id; ERR_NOTFOUND when there is none. */
int catalog_load_destination(PGconn *conn, const char *id, struct dest_row *out, struct err *e) WUR;
void catalog_dest_row_cleanup(struct dest_row *r);

#endif
