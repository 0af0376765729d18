/*
 * pgarr.h - PostgreSQL binary array parameters, for the one-statement batch
 * writes of DESIGN §8: `INSERT … SELECT FROM unnest($1::uuid[], $2::text[],
 * $3::bytea[] …)`.  Binary format avoids escaping 1 KB bodies into array
 * literals and lets the server skip parsing them.
 *
 * Wire layout (PostgreSQL src/backend/utils/adt/arrayfuncs.c, array_recv):
 * int32 ndim, int32 has_nulls, uint32 element oid, then per dimension int32
 * size and int32 lower bound, then per element int32 length (-1 = NULL)
 * and that many bytes of the element's binary form.
 */
#ifndef ADSENG_STORE_PGARR_H
#define ADSENG_STORE_PGARR_H

#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"

/* Element type oids (pg_type.dat); stable across versions. */
#define PGOID_BOOL   16
#define PGOID_BYTEA  17
#define PGOID_INT8   20
#define PGOID_INT4   23
#define PGOID_TEXT   25
#define PGOID_JSONB  3802
#define PGOID_JSON   114
#define PGOID_UUID   2950
#define PGOID_FLOAT8 701

struct pgarr {
	struct buf b;
	uint32_t elem_oid;
	int32_t n;
	size_t count_pos; /* where the dimension size is patched in */
};

void pgarr_init(struct pgarr *a, uint32_t elem_oid);
void pgarr_cleanup(struct pgarr *a);
void pgarr_add_null(struct pgarr *a);
/* bytes are the element's binary form (text: UTF-8 bytes). */
void pgarr_add_bytes(struct pgarr *a, const void *p, size_t n);
void pgarr_add_text(struct pgarr *a, const char *s); /* NULL → SQL NULL */
void pgarr_add_int8(struct pgarr *a, int64_t v);
void pgarr_add_int4(struct pgarr *a, int32_t v);
void pgarr_add_bool(struct pgarr *a, int v);
/* jsonb binary form: a version byte (1) then the JSON text. */
void pgarr_add_jsonb(struct pgarr *a, const char *json, size_t n);
/* A uuid given as text ("xxxxxxxx-xxxx-…"); returns -1 if malformed. */
int pgarr_add_uuid_text(struct pgarr *a, const char *uuid);

/* Finish and return the parameter bytes (owned by a) and their length. */
const char *pgarr_finish(struct pgarr *a, int *len);

/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into 16 bytes; 0 or -1. */
int uuid_parse(const char *s, uint8_t out[16]);
/* 16 random bytes as a version-4 uuid string (37 bytes with NUL). */
void uuid_generate(char out[37]);

#endif
