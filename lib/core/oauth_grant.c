/*
 * oauth_grant.c - OAuth2 token requests and answers (oauth_grant.h).
 */
#include "core/oauth_grant.h"
#include "core/form.h"
#include "core/json_build.h"
#include "core/mem.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX    4096 /* Google's are ~200 bytes; refuse absurd ones */
#define DEFAULT_TTL  3600
#define DESC_SNIPPET 160

static void secret_free(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

void oauth_grant_cleanup(struct oauth_grant *g)
{
	free(g->token_url);
	free(g->client_id);
	secret_free(g->client_secret);
	secret_free(g->refresh_token);
	memset(g, 0, sizeof(*g));
}

void oauth_grant_fingerprint(const struct oauth_grant *g, char out[33])
{
	crypto_generichash_state st;
	unsigned char h[16];
	const char *parts[3] = { g->token_url, g->client_id, g->refresh_token };

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	for (int i = 0; i < 3; i++) {
		const char *p = parts[i] ? parts[i] : "";

		/* The NUL separates the parts: ("ab","c") ≠ ("a","bc"). */
		crypto_generichash_update(&st, (const unsigned char *)p, strlen(p) + 1);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 33, h, sizeof(h));
	sodium_memzero(&st, sizeof(st));
}

static int check_client(const struct oauth_grant *g, struct err *e)
{
	if (g->token_url == NULL || g->token_url[0] == '\0')
		return err_set(e, ERR_CONFIG, "oauth: no token URL");
	if (g->client_id == NULL || g->client_id[0] == '\0')
		return err_set(e, ERR_CONFIG, "oauth: no client_id");
	if (g->client_secret == NULL || g->client_secret[0] == '\0')
		return err_set(e, ERR_CONFIG, "oauth: no client_secret");
	return 0;
}

/* The body is sized first, so no realloc leaves a copy of a secret behind
 * (upload_req_cleanup wipes the body). */
static void put_form(struct upload_req *req, const char *const *kv, size_t n)
{
	size_t need = 1;

	for (size_t i = 0; i < n; i += 2)
		need += 2 + form_encoded_len(kv[i]) + form_encoded_len(kv[i + 1]);
	buf_reserve(&req->body, need);
	for (size_t i = 0; i < n; i += 2)
		form_append(&req->body, kv[i], kv[i + 1]);
}

static void start_request(const struct oauth_grant *g, struct upload_req *req)
{
	req->method = UPLOAD_POST;
	req->url = xstrdup(g->token_url);
	req->log_url = xstrdup(g->token_url);
	upload_req_add_header(req, "Content-Type: application/x-www-form-urlencoded");
	upload_req_add_header(req, "Accept: application/json");
}

int oauth_refresh_request(const struct oauth_grant *g, struct upload_req *req, struct err *e)
{
	int rc = check_client(g, e);

	if (rc != 0)
		return rc;
	if (g->refresh_token == NULL || g->refresh_token[0] == '\0')
		return err_set(e, ERR_CONFIG, "oauth: not authorized yet (no refresh token)");
	start_request(g, req);
	put_form(req,
		 (const char *const[]){ "grant_type", "refresh_token", "client_id", g->client_id,
					"client_secret", g->client_secret, "refresh_token",
					g->refresh_token },
		 8);
	return 0;
}

int oauth_code_request(const struct oauth_grant *g, const char *code, const char *redirect_uri,
		       struct upload_req *req, struct err *e)
{
	int rc = check_client(g, e);

	if (rc != 0)
		return rc;
	if (code == NULL || code[0] == '\0' || redirect_uri == NULL)
		return err_set(e, ERR_INVALID, "oauth: no authorization code");
	start_request(g, req);
	put_form(req,
		 (const char *const[]){ "grant_type", "authorization_code", "code", code,
					"redirect_uri", redirect_uri, "client_id", g->client_id,
					"client_secret", g->client_secret },
		 10);
	return 0;
}

void oauth_token_cleanup(struct oauth_token *t)
{
	secret_free(t->access_token);
	secret_free(t->refresh_token);
	free(t->scope);
	memset(t, 0, sizeof(*t));
}

/* RFC 6749 §5.2 errors that no retry can fix. */
static bool is_grant_error(const char *code)
{
	static const char *const fatal[] = { "invalid_grant", "invalid_client",
					     "unauthorized_client", "unsupported_grant_type",
					     "invalid_scope" };

	for (size_t i = 0; code && i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		if (strcmp(code, fatal[i]) == 0)
			return true;
	}
	return false;
}

static bool is_token(const cJSON *v)
{
	return cJSON_IsString(v) && v->valuestring[0] != '\0' &&
	       strlen(v->valuestring) <= TOKEN_MAX && text_is_clean(v->valuestring, TOKEN_MAX);
}

static int parse_ok(const cJSON *root, struct oauth_token *tok, struct err *e)
{
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, "access_token");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(root, "refresh_token");
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "expires_in");
	const char *scope = json_str(root, "scope");

	if (!is_token(at))
		return err_set(e, ERR_IO, "oauth: token answer without a usable access_token");
	if (rt && !is_token(rt))
		return err_set(e, ERR_IO, "oauth: token answer with an unusable refresh_token");
	tok->access_token = xstrdup(at->valuestring);
	tok->refresh_token = rt ? xstrdup(rt->valuestring) : NULL;
	tok->expires_in_s = DEFAULT_TTL;
	/* A number, or digits in a string (some servers quote it). */
	if (cJSON_IsNumber(ex) && ex->valuedouble >= 1 && ex->valuedouble <= 86400 * 366)
		tok->expires_in_s = (int64_t)ex->valuedouble;
	else if (cJSON_IsString(ex) && text_is_digits(ex->valuestring, 8))
		tok->expires_in_s = strtoll(ex->valuestring, NULL, 10);
	if (tok->expires_in_s < 1)
		tok->expires_in_s = DEFAULT_TTL;
	tok->scope = scope && text_is_clean(scope, 2048) ? xstrdup(scope) : NULL;
	return 0;
}

int oauth_token_parse(const struct upload_resp *resp, struct oauth_token *tok, struct err *e)
{
	cJSON *root = NULL;
	const char *code, *desc;
	char msg[DESC_SNIPPET + 1];
	int rc;

	memset(tok, 0, sizeof(*tok));
	if (resp->transport_error)
		return err_set(e, ERR_IO, "oauth: token endpoint unreachable: %s",
			       resp->transport_msg);
	if (resp->body && resp->body_len > 0)
		root = cJSON_ParseWithLength(resp->body, resp->body_len);
	if (resp->status >= 200 && resp->status <= 299) {
		rc = cJSON_IsObject(root) ? parse_ok(root, tok, e)
					  : err_set(e, ERR_IO, "oauth: token answer is not JSON");
		goto out;
	}
	code = json_str(root, "error");
	desc = json_str(root, "error_description");
	text_copy_line(msg, sizeof(msg), desc ? desc : "");
	/* A 5xx or 429 is the server's trouble whatever it says. */
	if (resp->status < 500 && resp->status != 429 && is_grant_error(code))
		rc = err_set(e, ERR_AUTH, "oauth: %s%s%s", code, msg[0] ? ": " : "", msg);
	else
		rc = err_set(e, ERR_IO, "oauth: token endpoint answered HTTP %ld%s%s", resp->status,
			     code && text_is_clean(code, 64) ? " " : "",
			     code && text_is_clean(code, 64) ? code : "");
out:
	if (rc != 0)
		oauth_token_cleanup(tok);
	json_wipe_strings(root);
	cJSON_Delete(root);
	return rc;
}
