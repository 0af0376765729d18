/*
 * ctl_source_secret.c - `adsengctl source rotate-secret`.
 *
 * A platform does not switch secrets at the instant the operator does:
 * deliveries signed with the old one are still in its retry queue (Shopify
 * retries for hours) when the new one is set in its admin.  So the old
 * secret stays valid for an overlap.  Secrets are sealed with associated
 * data naming their column ("source:<id>:secret"), so moving the old one to
 * secret_previous means opening it and sealing it again for that column;
 * the CLI does it because it holds the master key, and the database only
 * ever sees sealed bytes.  The UPDATE fires the catalog NOTIFY: running
 * daemons reload their sources within moments.
 *
 * A kind whose secret is generated (the events API's key, source_ops
 * new_secret) takes no --secret-file: a new key is made, printed once, and
 * the old key stays valid for the overlap like a signing secret.
 */
#include "admin/ctl_source_secret.h"
#include "core/config.h"
#include "core/secret_file.h"
#include "core/vault.h"
#include "sources/source.h"
#include "store/admin.h"
#include "store/source_secret_store.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX	   4096
#define OVERLAP_DEFAULT_MS (24LL * 3600 * 1000)
#define OVERLAP_MAX_MS	   (30LL * 24 * 3600 * 1000)

const struct ctl_optspec ctl_rotate_secret_opts[] = {
	{ "secret-file", CTL_OPT_VALUE, "F", false,
	  "file holding the new webhook signing secret (trailing whitespace ignored); not "
	  "for api sources, whose new key is generated and printed once" },
	{ "overlap", CTL_OPT_VALUE, "DURATION", false,
	  "how long the old secret is still accepted (default 24h, at most 30d; 0 = not at all)" },
	{ NULL, 0, NULL, false, NULL },
};

/* Seal plain for column `column` of source id. */
static int seal_for(const struct vault *v, const char *id, const char *column, const void *plain,
		    size_t len, uint8_t **out, size_t *out_len, struct err *e)
{
	char ad[VAULT_AD_MAX];

	vault_ad(ad, "source", id, column);
	return vault_seal(v, plain, len, ad, out, out_len, e);
}

/* Fill r's sealed values from the new secret and the stored one (r->expect). */
static int reseal(const struct vault *v, const char *secret, size_t secret_len,
		  struct source_secret_rotation *r, uint8_t **sealed, uint8_t **sealed_prev,
		  struct err *e)
{
	unsigned char *old = NULL;
	size_t old_len = 0;
	char ad[VAULT_AD_MAX];
	int rc;

	vault_ad(ad, "source", r->id, "secret");
	rc = vault_unseal(v, r->expect, r->expect_len, ad, &old, &old_len, e);
	if (rc != 0)
		return rc;
	rc = seal_for(v, r->id, "secret_previous", old, old_len, sealed_prev,
		      &r->sealed_previous_len, e);
	if (rc == 0)
		rc = seal_for(v, r->id, "secret", secret, secret_len, sealed, &r->sealed_len, e);
	vault_free_plain(old); /* wipes it */
	r->sealed = *sealed;
	r->sealed_previous = *sealed_prev;
	return rc;
}

static int rotate(struct ctl *c, PGconn *conn, const char *secret, size_t secret_len,
		  struct source_secret_rotation *r, struct err *e)
{
	uint8_t *current = NULL, *sealed = NULL, *sealed_prev = NULL;
	struct vault *v = NULL;
	struct config *cfg;
	int rc;

	rc = ctl_config(c, &cfg, e);
	if (rc == 0)
		rc = vault_open(cfg->master_key_file, &v, e);
	if (rc == 0)
		rc = source_secret_read(conn, r->id, &current, &r->expect_len, e);
	if (rc != 0)
		goto out;
	r->expect = current;
	rc = reseal(v, secret, secret_len, r, &sealed, &sealed_prev, e);
	if (rc == 0)
		rc = source_secret_rotate(conn, ctl_actor(), r, e);
out:
	free(current);
	free(sealed);
	free(sealed_prev);
	vault_free(v);
	return rc;
}

static int print_result(struct ctl *c, const struct admin_obj *src,
			const struct source_secret_rotation *r, const char *key)
{
	cJSON *j;

	if (!c->json) {
		fprintf(c->out,
			"rotated the secret of source \"%s\" (%s); the previous one is accepted "
			"until %s\n",
			src->name, src->id, r->until);
		if (key) {
			fprintf(c->out, "api_key %s\n", key);
			ctl_warn(c, "the API key is shown only now; store it, it cannot be read "
				    "back");
		}
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	if (j && (!cJSON_AddStringToObject(j, "id", src->id) ||
		  !cJSON_AddStringToObject(j, "name", src->name) ||
		  !cJSON_AddStringToObject(j, "previous_valid_until", r->until) ||
		  (key && !cJSON_AddStringToObject(j, "api_key", key)))) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

/* Whether --secret-file fits a source of kind `kind` (one with a secret):
 * 0, or ERR_INVALID with the usage error. */
static int check_usage(const struct ctl_args *a, const struct source_ops *ops, const char *kind,
		       struct err *e)
{
	const char *file = ctl_arg(a, "secret-file");

	if (ops && ops->new_secret && file)
		return err_set(e, ERR_INVALID, "a %s source's key is generated: no --secret-file",
			       kind);
	if (!(ops && ops->new_secret) && file == NULL)
		return err_set(e, ERR_INVALID, "--secret-file is required");
	return 0;
}

/* The new secret into *secret (sodium_malloc'd): generated when the kind
 * makes its own, else read from --secret-file. */
static int new_secret(const struct ctl_args *a, const struct source_ops *ops, char **secret,
		      size_t *len, struct err *e)
{
	if (ops && ops->new_secret) {
		*secret = sodium_malloc(SOURCE_SECRET_NEW_MAX);
		if (*secret == NULL)
			return err_set(e, ERR_NOMEM, "could not allocate secure memory");
		ops->new_secret(*secret);
		*len = strlen(*secret);
		return 0;
	}
	return secret_file_read(ctl_arg(a, "secret-file"), SECRET_MAX, secret, len, e);
}

int ctl_run_source_rotate_secret(struct ctl *c, const struct ctl_args *a)
{
	struct source_secret_rotation r = { .overlap_ms = OVERLAP_DEFAULT_MS };
	const char *overlap = ctl_arg(a, "overlap");
	struct err e = { 0 };
	const struct source_ops *ops;
	struct admin_obj src;
	char *secret = NULL;
	size_t secret_len = 0;
	PGconn *conn;
	int rc;

	if (overlap && (config_parse_duration_ms(overlap, &r.overlap_ms) != 0 || r.overlap_ms < 0 ||
			r.overlap_ms > OVERLAP_MAX_MS))
		return ctl_usage_error(c,
				       "invalid --overlap \"%s\": a duration such as 24h, 30m, "
				       "2s, at most 30d",
				       overlap);
	if (ctl_db(c, &conn, &e) != 0 || ctl_find_source(conn, a->pos[0], &src, &e) != 0)
		return ctl_fail(c, &e);
	ops = source_ops_find(src.kind);
	if (ops != NULL && ops->no_secret) {
		err_set(&e, ERR_INVALID,
			"source \"%s\" is a %s source: it has no secret of its own (the "
			"platform signs with its own keys, from the configuration)",
			src.name, src.kind);
		return ctl_fail(c, &e);
	}
	r.id = src.id;
	if (check_usage(a, ops, src.kind, &e) != 0)
		return ctl_usage_error(c, "%s", e.msg);
	rc = new_secret(a, ops, &secret, &secret_len, &e);
	if (rc == 0)
		rc = rotate(c, conn, secret, secret_len, &r, &e);
	if (rc == 0)
		rc = print_result(c, &src, &r, ops && ops->new_secret ? secret : NULL);
	else
		rc = ctl_fail(c, &e);
	if (secret)
		sodium_free(secret); /* wipes it */
	return rc;
}
