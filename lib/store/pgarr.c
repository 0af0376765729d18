/*
 * pgarr.c - binary array encoding for libpq parameters.
 */
#include "store/pgarr.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

void pgarr_init(struct pgarr *a, uint32_t elem_oid)
{
	buf_init(&a->b);
	a->elem_oid = elem_oid;
	a->n = 0;
	buf_put_be32(&a->b, 1); /* ndim */
	buf_put_be32(&a->b, 0); /* has_nulls: the server does not rely on it */
	buf_put_be32(&a->b, elem_oid);
	a->count_pos = a->b.len;
	buf_put_be32(&a->b, 0); /* dimension size, patched in finish */
	buf_put_be32(&a->b, 1); /* lower bound */
}

void pgarr_cleanup(struct pgarr *a)
{
	buf_cleanup(&a->b);
}

void pgarr_add_null(struct pgarr *a)
{
	buf_put_be32(&a->b, 0xffffffffu);
	a->n++;
}

void pgarr_add_bytes(struct pgarr *a, const void *p, size_t n)
{
	buf_put_be32(&a->b, (uint32_t)n);
	buf_append(&a->b, p, n);
	a->n++;
}

void pgarr_add_text(struct pgarr *a, const char *s)
{
	if (s == NULL)
		pgarr_add_null(a);
	else
		pgarr_add_bytes(a, s, strlen(s));
}

void pgarr_add_int8(struct pgarr *a, int64_t v)
{
	buf_put_be32(&a->b, 8);
	buf_put_be64(&a->b, (uint64_t)v);
	a->n++;
}

void pgarr_add_int4(struct pgarr *a, int32_t v)
{
	buf_put_be32(&a->b, 4);
	buf_put_be32(&a->b, (uint32_t)v);
	a->n++;
}

void pgarr_add_bool(struct pgarr *a, int v)
{
	char c = v ? 1 : 0;

	pgarr_add_bytes(a, &c, 1);
}

void pgarr_add_jsonb(struct pgarr *a, const char *json, size_t n)
{
	char version = 1;

	buf_put_be32(&a->b, (uint32_t)(n + 1));
	buf_append(&a->b, &version, 1);
	buf_append(&a->b, json, n);
	a->n++;
}

int uuid_parse(const char *s, uint8_t out[16])
{
	int o = 0;

	if (strlen(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
		return -1;
	for (int i = 0; s[i] && o < 16; i++) {
		if (s[i] == '-' && (i == 8 || i == 13 || i == 18 || i == 23))
			continue;
		if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]))
			return -1;
		unsigned v;
		if (sscanf(s + i, "%2x", &v) != 1)
			return -1;
		out[o++] = (uint8_t)v;
		i++;
	}
	return (o == 16 && strlen(s) == 36) ? 0 : -1;
}

void uuid_generate(char out[37])
{
	uint8_t u[16];

	randombytes_buf(u, sizeof(u));
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

int pgarr_add_uuid_text(struct pgarr *a, const char *uuid)
{
	uint8_t u[16];

	if (uuid_parse(uuid, u) != 0)
		return -1;
	pgarr_add_bytes(a, u, 16);
	return 0;
}

const char *pgarr_finish(struct pgarr *a, int *len)
{
	unsigned char *p = (unsigned char *)a->b.data + a->count_pos;
	uint32_t n = (uint32_t)a->n;

	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	*len = (int)a->b.len;
	return a->b.data;
}
