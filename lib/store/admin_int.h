/*
 * admin_int.h - what the admin query files (admin_core.c, admin.c,
 * admin_sources.c, admin_tenants.c, admin_pages.c, admin_deliveries.c, …)
 * share and nothing else includes: bound-parameter building (`struct
 * params`), result checking and JSON conversion, and transactions with
 * their audit row.  Not a public interface: the operations are in
 * store/admin.h and store/admin_pages.h.
 */
#ifndef ADSENG_STORE_ADMIN_INT_H
#define ADSENG_STORE_ADMIN_INT_H

#include "core/err.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* Type oids of result columns (pg_type.dat). */
#define OID_BOOL	16
#define OID_INT8	20
#define OID_INT2	21
#define OID_INT4	23
#define OID_JSON	114
#define OID_TIMESTAMPTZ 1184
#define OID_JSONB	3802
#define OID_TEXTARRAY	1009
#define OID_INT8ARRAY	1016

#define MAX_PARAMS	8
#define SQLSTATE_UNIQUE "23505"

/* Bound parameters of one statement; integers are formatted into its own
 * scratch space. */
struct params {
	int n;
	const char *v[MAX_PARAMS];
	int len[MAX_PARAMS];
	int fmt[MAX_PARAMS];
	Oid type[MAX_PARAMS];
	char scratch[MAX_PARAMS][40];
};

/* Bind one more parameter: text (NULL binds NULL; s must outlive the
 * exec), integers, optional ones (absent binds NULL), bool, bytea or an
 * array (binary, of type oid); then run the statement (p may be NULL:
 * no parameters). */
void adm_p_text(struct params *p, const char *s);
void adm_p_int64(struct params *p, int64_t v);
void adm_p_int64_opt(struct params *p, int64_t v);
void adm_p_time_opt(struct params *p, bool has, int64_t us);
void adm_p_bool(struct params *p, bool v);
void adm_p_binary(struct params *p, const void *data, int len, Oid type);
PGresult *adm_p_exec(PGconn *conn, const char *sql, const struct params *p);

/* Results (admin_core.c says what each returns): check a result, run and
 * keep it, run and count the rows changed, or every row as a JSON array
 * of objects. */
int adm_check(PGconn *conn, const PGresult *res, const char *what, struct err *e);
int adm_run(PGconn *conn, const char *sql, const struct params *p, const char *what, PGresult **out,
	    struct err *e);
int adm_run_cmd(PGconn *conn, const char *sql, const struct params *p, const char *what,
		int64_t *count, struct err *e);
int adm_query_rows(PGconn *conn, const char *sql, const struct params *p, const char *what,
		   cJSON **out, struct err *e);

/* JSON building: add returns false on allocation failure; the put_*
 * variants clear *ok instead, checked once at the end. */
bool adm_add(cJSON *obj, const char *key, cJSON *item);
void adm_put(cJSON *obj, const char *key, cJSON *item, bool *ok);
void adm_put_str(cJSON *obj, const char *key, const char *s, bool *ok);
void adm_put_num(cJSON *obj, const char *key, double v, bool *ok);

/* Transactions: tx_end commits when rc is 0, else rolls back, and returns
 * the final result; audit writes the audit_log row of a mutation from
 * details built with put_* (freed; ok false = ERR_NOMEM). */
int adm_tx_begin(PGconn *conn, struct err *e);
int adm_tx_begin_snapshot(PGconn *conn, struct err *e);
int adm_tx_end(PGconn *conn, int rc, struct err *e);
int adm_audit(PGconn *conn, const char *actor, const char *action, cJSON *details, bool ok,
	      struct err *e);

#endif
