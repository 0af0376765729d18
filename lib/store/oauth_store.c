/*
 * oauth_store.c - consent state nonces and refresh token storage
 * (oauth_store.h).
 *
 * The credentials are re-read under a row lock in the transaction that
 * writes them back, so a concurrent credential change (another callback,
 * an operator) is merged into rather than overwritten with a stale copy.
 * Every copy of a secret made here is wiped before it is freed.
 */
#include "store/oauth_store.h"
#include "core/json_build.h"
#include "core/mem.h"
#include "store/admin.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PGOID_BYTEA 17

/* COMMIT when rc is 0, else ROLLBACK; returns the final result. */
static int tx_end(PGconn *conn, int rc, struct err *e)
{
	PGresult *res;

	if (rc == 0)
		return db_exec(conn, "COMMIT", e);
	res = PQexec(conn, "ROLLBACK");
	PQclear(res);
	return rc;
}

/* Run a statement with text parameters; *out owns the result on success. */
static int run(PGconn *conn, const char *sql, int n, const char *const *params, int result_fmt,
	       const char *what, PGresult **out, struct err *e)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, result_fmt);
	int rc = db_check(conn, res, what, e);

	if (rc != 0) {
		PQclear(res);
		return rc;
	}
	*out = res;
	return 0;
}

static int write_audit(PGconn *conn, const char *actor, const char *action, cJSON *d, bool ok,
		       struct err *e)
{
	int rc = d && ok ? admin_audit_write(conn, actor, action, d, e)
			 : err_set(e, ERR_NOMEM, "out of memory");

	cJSON_Delete(d);
	return rc;
}

static int insert_state(PGconn *conn, const struct oauth_state *st, const char *redirect_uri,
			struct err *e)
{
	char nonce[2 * OAUTH_STATE_NONCE_LEN + 1], exp[24];
	const char *params[4] = { nonce, st->dest_id, redirect_uri, exp };
	PGresult *res = NULL;
	int rc;

	oauth_state_nonce_hex(st, nonce);
	snprintf(exp, sizeof(exp), "%" PRId64, st->expires_at);
	rc = run(conn,
		 "DELETE FROM oauth_states WHERE expires_at < now() - interval '" OAUTH_STATE_KEEP
		 "'",
		 0, NULL, 0, "could not purge old consent states", &res, e);
	PQclear(res);
	res = NULL;
	if (rc == 0)
		rc = run(
			conn,
			"INSERT INTO oauth_states (nonce, destination_id, redirect_uri, expires_at)"
			" VALUES ($1, $2::uuid, $3, to_timestamp($4::bigint))",
			4, params, 0, "could not record the consent state", &res, e);
	PQclear(res);
	return rc;
}

int oauth_store_state_add(PGconn *conn, const char *actor, const struct oauth_state *st,
			  const char *redirect_uri, struct err *e)
{
	cJSON *d;
	bool ok = true;
	int rc;

	rc = db_exec(conn, "BEGIN", e);
	if (rc != 0)
		return rc;
	rc = insert_state(conn, st, redirect_uri, e);
	if (rc == 0) {
		d = cJSON_CreateObject();
		json_add_string(d, "id", st->dest_id, &ok);
		json_add_string(d, "redirect_uri", redirect_uri, &ok);
		json_add_int(d, "expires_at", st->expires_at, &ok);
		rc = write_audit(conn, actor, "destination.authorize", d, ok, e);
	}
	return tx_end(conn, rc, e);
}

/* Why st could not be consumed, as ERR_NOTFOUND with the user's message. */
static int why_unusable(PGconn *conn, const char *const *params, struct err *e)
{
	PGresult *res = NULL;
	int rc;

	rc = run(conn,
		 "SELECT used_at IS NOT NULL, expires_at <= now() FROM oauth_states"
		 " WHERE nonce = $1 AND destination_id = $2::uuid",
		 2, params, 0, "could not look up the consent state", &res, e);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 0)
		rc = err_set(e, ERR_NOTFOUND, "this link is not known");
	else if (PQgetvalue(res, 0, 0)[0] == 't')
		rc = err_set(e, ERR_NOTFOUND, "this link was already used");
	else
		rc = err_set(e, ERR_NOTFOUND, "this link expired");
	PQclear(res);
	return rc;
}

int oauth_store_state_consume(PGconn *conn, const struct oauth_state *st, char **redirect_uri,
			      struct err *e)
{
	char nonce[2 * OAUTH_STATE_NONCE_LEN + 1];
	const char *params[2] = { nonce, st->dest_id };
	PGresult *res = NULL;
	int rc;

	*redirect_uri = NULL;
	oauth_state_nonce_hex(st, nonce);
	/* One statement: of two racing callbacks exactly one gets the row. */
	rc = run(conn,
		 "UPDATE oauth_states SET used_at = now()"
		 " WHERE nonce = $1 AND destination_id = $2::uuid"
		 " AND used_at IS NULL AND expires_at > now() RETURNING redirect_uri",
		 2, params, 0, "could not consume the consent state", &res, e);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 1)
		*redirect_uri = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return *redirect_uri ? 0 : why_unusable(conn, params, e);
}

/* creds (a JSON object text) with refresh_token set, as new text in
 * sodium_malloc memory (*out, sodium_free).  ERR_CRYPTO when creds is not
 * an object (it was sealed by us, so it is damaged). */
static int creds_merge(const char *creds, const char *refresh_token, char **out, size_t *outlen,
		       struct err *e)
{
	cJSON *j = cJSON_Parse(creds);
	cJSON *old, *tok;
	char *text = NULL;
	int rc = ERR_NOMEM;

	*out = NULL;
	if (!cJSON_IsObject(j)) {
		rc = err_set(e, ERR_CRYPTO, "the destination's credentials are not a JSON object");
		goto out;
	}
	old = cJSON_GetObjectItemCaseSensitive(j, "refresh_token");
	if (cJSON_IsString(old) && old->valuestring)
		sodium_memzero(old->valuestring, strlen(old->valuestring));
	tok = cJSON_CreateString(refresh_token);
	if (tok == NULL)
		goto nomem;
	/* (ReplaceItemViaPointer would leave the new item without its key.) */
	if (old ? !cJSON_ReplaceItemInObjectCaseSensitive(j, "refresh_token", tok)
		: !cJSON_AddItemToObject(j, "refresh_token", tok)) {
		cJSON_Delete(tok);
		goto nomem;
	}
	text = cJSON_PrintUnformatted(j);
	if (text == NULL)
		goto nomem;
	*outlen = strlen(text);
	*out = sodium_malloc(*outlen + 1);
	if (*out == NULL)
		goto nomem;
	memcpy(*out, text, *outlen + 1);
	rc = 0;
	goto out;
nomem:
	rc = err_set(e, ERR_NOMEM, "out of memory");
out:
	if (text) {
		sodium_memzero(text, strlen(text));
		cJSON_free(text);
	}
	json_wipe_strings(j);
	cJSON_Delete(j);
	return rc;
}

/* The locked row of dest_id: credentials sealed, whether paused for
 * reauthorization. */
struct locked_dest {
	uint8_t *sealed; /* malloc'd */
	size_t sealed_len;
	bool reauth_paused;
};

static int lock_dest(PGconn *conn, const char *dest_id, struct locked_dest *out, struct err *e)
{
	const char *params[1] = { dest_id };
	PGresult *res = NULL;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	/* Binary result: the sealed bytea raw, the boolean as one byte. */
	rc = run(conn,
		 "SELECT credentials, NOT enabled AND coalesce(paused_reason LIKE "
		 "'" OAUTH_PAUSE_REASON_PREFIX
		 "%', false) FROM destinations WHERE id = $1::uuid FOR UPDATE",
		 1, params, 1, "could not lock the destination", &res, e);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return err_set(e, ERR_NOTFOUND, "the destination no longer exists");
	}
	n = (size_t)PQgetlength(res, 0, 0);
	out->sealed = xmalloc(n ? n : 1);
	memcpy(out->sealed, PQgetvalue(res, 0, 0), n);
	out->sealed_len = n;
	out->reauth_paused = PQgetvalue(res, 0, 1)[0] != 0;
	PQclear(res);
	return 0;
}

/* Seal the new credentials text and write it to the row. */
static int write_creds(PGconn *conn, const struct vault *v, const char *dest_id, const char *text,
		       size_t len, struct err *e)
{
	char ad[VAULT_AD_MAX];
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	const char *values[2];
	int lens[2], fmts[2] = { 0, 1 };
	Oid types[2] = { 0, PGOID_BYTEA };
	PGresult *res;
	int rc;

	vault_ad(ad, "destination", dest_id, "credentials");
	rc = vault_seal(v, text, len, ad, &sealed, &sealed_len, e);
	if (rc != 0)
		return rc;
	values[0] = dest_id;
	lens[0] = 0;
	values[1] = (const char *)sealed;
	lens[1] = (int)sealed_len;
	res = PQexecParams(conn,
			   "UPDATE destinations SET credentials = $2, updated_at = now()"
			   " WHERE id = $1::uuid",
			   2, types, values, lens, fmts, 0);
	rc = db_check(conn, res, "could not store the destination's credentials", e);
	PQclear(res);
	free(sealed);
	return rc;
}

/* Open the locked row's credentials, merge the token, write them back. */
static int replace_token(PGconn *conn, const struct vault *v, const char *dest_id,
			 const struct locked_dest *row, const char *refresh_token, struct err *e)
{
	char ad[VAULT_AD_MAX];
	unsigned char *plain = NULL;
	size_t plain_len = 0, merged_len = 0;
	char *merged = NULL;
	int rc;

	vault_ad(ad, "destination", dest_id, "credentials");
	rc = vault_unseal(v, row->sealed, row->sealed_len, ad, &plain, &plain_len, e);
	if (rc == 0)
		rc = creds_merge((const char *)plain, refresh_token, &merged, &merged_len, e);
	if (rc == 0)
		rc = write_creds(conn, v, dest_id, merged, merged_len, e);
	vault_free_plain(plain);
	if (merged)
		sodium_free(merged);
	return rc;
}

int oauth_store_refresh_token(PGconn *conn, const struct vault *v, const char *actor,
			      const char *dest_id, const char *refresh_token,
			      struct oauth_stored *out, struct err *e)
{
	struct locked_dest row = { 0 };
	cJSON *d;
	bool ok = true;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = db_exec(conn, "BEGIN", e);
	if (rc != 0)
		return rc;
	rc = lock_dest(conn, dest_id, &row, e);
	if (rc == 0)
		rc = replace_token(conn, v, dest_id, &row, refresh_token, e);
	if (rc == 0 && row.reauth_paused) {
		rc = admin_destination_resume_in_tx(conn, actor, dest_id, &out->released, e);
		out->resumed = rc == 0;
	}
	if (rc == 0) {
		d = cJSON_CreateObject();
		json_add_string(d, "id", dest_id, &ok);
		json_add_bool(d, "resumed", out->resumed, &ok);
		json_add_int(d, "released", out->released, &ok);
		rc = write_audit(conn, actor, "destination.authorized", d, ok, e);
	}
	free(row.sealed);
	rc = tx_end(conn, rc, e);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
