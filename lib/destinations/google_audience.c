/*
 * google_audience.c - Customer Match members and requests for the Google
 * Data Manager API (google_audience.h).
 *
 * A member is one customer: the Google-scheme hashes of its latest
 * conversion, one userIdentifiers element per identifier (email, phone,
 * and an address when all four of its parts are there), with consent.
 * Its key is a SHA-256 of its primary identifier (the email hash, else the
 * phone hash, else the address), the same precedence the member query of
 * store/audience_store.c groups customers by, so a customer whose phone is
 * added later keeps its key and is sent again as a change rather than
 * removed and added.
 */
#include "destinations/google_audience.h"
#include "core/json_build.h"
#include "core/mem.h"
#include "core/text.h"
#include "destinations/google_common.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_TIMEOUT_MS 120000
#define ID_MAX		   32
#define POSTAL_MAX	   32
#define BODY_SNIPPET	   200

/* ---- members ---------------------------------------------------------------------- */

static const char *gid(const cJSON *ids, enum pii_field f)
{
	return json_str(ids, pii_field_key(PII_SCHEME_GOOGLE, f));
}

/* Only hashes leave the process (a clear value stored by mistake would
 * otherwise be uploaded as is). */
static bool is_hash(const char *s)
{
	return s != NULL && text_is_sha256_hex(s);
}

/* The clear address parts as Data Manager wants them: regionCode upper
 * case (pii.c stores the country lower case), postal code as stored. */
static bool address_parts(const cJSON *ids, const char **given, const char **family, char region[3],
			  const char **postal)
{
	const char *country = gid(ids, PII_COUNTRY);

	*given = gid(ids, PII_FIRST_NAME);
	*family = gid(ids, PII_LAST_NAME);
	*postal = gid(ids, PII_POSTAL);
	if (!is_hash(*given) || !is_hash(*family) || country == NULL || strlen(country) != 2 ||
	    *postal == NULL || strlen(*postal) > POSTAL_MAX || !text_is_clean(*postal, POSTAL_MAX))
		return false;
	for (int i = 0; i < 2; i++) {
		char c = country[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 32);
		if (c < 'A' || c > 'Z')
			return false;
		region[i] = c;
	}
	region[2] = '\0';
	return true;
}

static void add_identifier(cJSON *arr, const char *key, const char *hash, bool *ok)
{
	cJSON *o = cJSON_CreateObject();

	json_add_string(o, key, hash, ok);
	json_attach(arr, NULL, o, ok);
}

/* The userIdentifiers array and the primary identifier the key hashes. */
static cJSON *identifiers(const cJSON *ids, struct buf *primary, bool *ok)
{
	const char *email = gid(ids, PII_EMAIL), *phone = gid(ids, PII_PHONE);
	const char *given, *family, *postal;
	char region[3];
	cJSON *arr = cJSON_CreateArray(), *addr;

	if (arr == NULL)
		*ok = false;
	if (is_hash(email)) {
		add_identifier(arr, "emailAddress", email, ok);
		buf_printf(primary, "email:%s", email);
	}
	if (is_hash(phone)) {
		add_identifier(arr, "phoneNumber", phone, ok);
		if (primary->len == 0)
			buf_printf(primary, "phone:%s", phone);
	}
	if (address_parts(ids, &given, &family, region, &postal)) {
		addr = cJSON_CreateObject();
		json_add_string(addr, "givenName", given, ok);
		json_add_string(addr, "familyName", family, ok);
		json_add_string(addr, "regionCode", region, ok);
		json_add_string(addr, "postalCode", postal, ok);
		{
			cJSON *o = cJSON_CreateObject();

			json_attach(o, "address", addr, ok);
			json_attach(arr, NULL, o, ok);
		}
		if (primary->len == 0)
			buf_printf(primary, "address:%s|%s|%s|%s", given, family, region, postal);
	}
	return arr;
}

/* "granted" / "denied" from the conversion, else the destination's
 * default (google_consent_default); 1 granted, 0 denied, -1 unknown. */
static int consent_of(const struct destination *d, const char *v)
{
	bool granted;

	if (v && strcmp(v, "granted") == 0)
		return 1;
	if (v && strcmp(v, "denied") == 0)
		return 0;
	if (google_consent_default(d->settings, &granted))
		return granted ? 1 : 0;
	return -1;
}

static char *consent_json(int user_data, int personalization, bool *ok)
{
	cJSON *o;
	char *text;

	if (user_data < 0 && personalization < 0)
		return NULL;
	o = cJSON_CreateObject();
	if (user_data >= 0)
		json_add_string(o, "adUserData", user_data ? "CONSENT_GRANTED" : "CONSENT_DENIED",
				ok);
	if (personalization >= 0)
		json_add_string(o, "adPersonalization",
				personalization ? "CONSENT_GRANTED" : "CONSENT_DENIED", ok);
	text = (*ok && o) ? cJSON_PrintUnformatted(o) : NULL;
	if (text == NULL)
		*ok = false;
	cJSON_Delete(o);
	return text;
}

static int google_member(const struct destination *d, const cJSON *ids, const char *ad_user_data,
			 const char *ad_personalization, struct audience_member *m, struct err *e)
{
	struct buf primary;
	bool ok = true;
	cJSON *arr;
	char *text = NULL;
	int user_data, rc = 0;

	buf_init(&primary);
	arr = identifiers(ids, &primary, &ok);
	if (ok && primary.len == 0) {
		rc = err_set(e, ERR_INVALID, "no hashed email, phone or complete address");
		goto out;
	}
	text = ok ? cJSON_PrintUnformatted(arr) : NULL;
	if (text == NULL) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(m, 0, sizeof(*m));
	pii_sha256_hex(primary.data, primary.len, m->key);
	m->identifiers = xstrdup(text);
	user_data = consent_of(d, ad_user_data);
	m->denied = user_data == 0;
	m->consent = consent_json(user_data, consent_of(d, ad_personalization), &ok);
	if (!ok) {
		audience_member_cleanup(m);
		rc = err_set(e, ERR_NOMEM, "out of memory");
	}
out:
	cJSON_free(text);
	cJSON_Delete(arr);
	buf_cleanup(&primary);
	return rc;
}

/* ---- requests ------------------------------------------------------------------------ */

static const char *base_url(const struct destination *d, int *len)
{
	size_t n = strlen(d->base_url);

	while (n > 0 && d->base_url[n - 1] == '/')
		n--;
	*len = (int)n;
	return d->base_url;
}

/* The path's API version: the destination's (settings.api_version, else
 * the kind's [google] key, filled in by the pipeline), "v1" when none. */
static const char *api_version(const struct destination *d)
{
	const char *v = d->api_version;

	if (v == NULL || v[0] == '\0')
		return "v1";
	if (v[0] != 'v' || strlen(v) > 16 ||
	    strspn(v + 1, "0123456789abcdefghijklmnopqrstuvwxyz") != strlen(v) - 1)
		return NULL;
	return v;
}

static cJSON *account(const char *id, bool *ok)
{
	cJSON *o = cJSON_CreateObject();

	json_add_string(o, "accountType", "GOOGLE_ADS", ok);
	json_add_string(o, "accountId", id, ok);
	return o;
}

/* destinations: [{operatingAccount, loginAccount?, productDestinationId}] */
static cJSON *destinations(const struct destination *d, const char *list_id, bool *ok)
{
	const char *login = dest_settings_str(d->settings, "login_customer_id");
	cJSON *arr = cJSON_CreateArray(), *o = cJSON_CreateObject();

	json_attach(o, "operatingAccount",
		    account(dest_settings_str(d->settings, "customer_id"), ok), ok);
	if (login)
		json_attach(o, "loginAccount", account(login, ok), ok);
	json_add_string(o, "productDestinationId", list_id, ok);
	json_attach(arr, NULL, o, ok);
	return arr;
}

/* {"userData": {"userIdentifiers": [...]}, "consent": {...}} */
static cJSON *member_json(const struct audience_member *m, bool with_consent, bool *ok)
{
	cJSON *o = cJSON_CreateObject(), *ud = cJSON_CreateObject();
	cJSON *ids = cJSON_Parse(m->identifiers);

	if (ids == NULL && *ok) {
		*ok = false;
		cJSON_Delete(ud);
		return o;
	}
	json_attach(ud, "userIdentifiers", ids, ok);
	json_attach(o, "userData", ud, ok);
	if (with_consent && m->consent)
		json_attach(o, "consent", cJSON_Parse(m->consent), ok);
	return o;
}

static int check_destination(const struct destination *d, const char *list_id, struct err *e)
{
	char id[11];

	if (!google_customer_id_normalize(dest_settings_str(d->settings, "customer_id"), id))
		return err_set(e, ERR_CONFIG, "destination \"%s\" has no 10-digit customer_id",
			       d->name ? d->name : d->id);
	if (api_version(d) == NULL)
		return err_set(e, ERR_CONFIG, "API version \"%s\" is not like \"v1\"",
			       d->api_version);
	if (list_id && !text_is_digits(list_id, ID_MAX))
		return err_set(e, ERR_CONFIG, "user list id \"%s\" is not a number", list_id);
	return 0;
}

static void add_auth_headers(struct upload_req *req, const char *access_token)
{
	upload_req_add_header(req, "Authorization: Bearer %s", access_token ? access_token : "");
	upload_req_add_header(req, "Content-Type: application/json");
}

/* Serialize root into req's body; frees root. */
static int finish_body(cJSON *root, bool ok, struct upload_req *req, struct err *e)
{
	char *text = ok ? cJSON_PrintUnformatted(root) : NULL;

	cJSON_Delete(root);
	if (text == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	buf_puts(&req->body, text);
	cJSON_free(text);
	req->timeout_ms = REQUEST_TIMEOUT_MS;
	return 0;
}

static int google_build_members(const struct destination *d, const char *access_token,
				const char *list_id, bool remove, const struct audience_member *m,
				size_t n, struct upload_req *req, struct err *e)
{
	cJSON *root, *arr;
	bool ok = true;
	int len, rc;

	rc = check_destination(d, list_id, e);
	if (rc != 0)
		return rc;
	if (n == 0 || n > GOOGLE_AUDIENCE_MAX_MEMBERS)
		return err_set(e, ERR_INVALID, "%zu members in one request (1 to %d)", n,
			       GOOGLE_AUDIENCE_MAX_MEMBERS);
	root = cJSON_CreateObject();
	json_attach(root, "destinations", destinations(d, list_id, &ok), &ok);
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < n && ok; i++)
		json_attach(arr, NULL, member_json(&m[i], !remove, &ok), &ok);
	json_attach(root, "audienceMembers", arr, &ok);
	/* :remove takes neither consent nor terms (DATAMANAGER.md). */
	if (!remove) {
		cJSON *tos = cJSON_CreateObject();

		json_add_string(tos, "customerMatchTermsOfServiceStatus", "ACCEPTED", &ok);
		json_attach(root, "termsOfService", tos, &ok);
	}
	json_add_string(root, "encoding", "HEX", &ok);
	rc = finish_body(root, ok, req, e);
	if (rc != 0)
		return rc;
	base_url(d, &len);
	req->url = xasprintf("%.*s/%s/audienceMembers:%s", len, d->base_url, api_version(d),
			     remove ? "remove" : "ingest");
	req->log_url = xstrdup(req->url);
	add_auth_headers(req, access_token);
	return 0;
}

static int google_build_create_list(const struct destination *d, const char *access_token,
				    const char *name, const char *description,
				    struct upload_req *req, struct err *e)
{
	const char *cid = dest_settings_str(d->settings, "customer_id");
	const char *login = dest_settings_str(d->settings, "login_customer_id");
	cJSON *root, *info, *types, *contact;
	bool ok = true;
	int len, rc;

	rc = check_destination(d, NULL, e);
	if (rc != 0)
		return rc;
	root = cJSON_CreateObject();
	json_add_string(root, "displayName", name, &ok);
	json_add_string(root, "description", description, &ok);
	info = cJSON_CreateObject();
	types = cJSON_CreateArray();
	json_attach(types, NULL, cJSON_CreateString("CONTACT_ID"), &ok);
	json_attach(info, "uploadKeyTypes", types, &ok);
	contact = cJSON_CreateObject();
	json_add_string(contact, "dataSourceType", "DATA_SOURCE_TYPE_FIRST_PARTY", &ok);
	json_attach(info, "contactIdInfo", contact, &ok);
	json_attach(root, "ingestedUserListInfo", info, &ok);
	rc = finish_body(root, ok, req, e);
	if (rc != 0)
		return rc;
	base_url(d, &len);
	req->url = xasprintf("%.*s/%s/accountTypes/GOOGLE_ADS/accounts/%s/userLists", len,
			     d->base_url, api_version(d), cid);
	req->log_url = xstrdup(req->url);
	add_auth_headers(req, access_token);
	if (login)
		upload_req_add_header(req, "login-account: accountTypes/GOOGLE_ADS/accounts/%s",
				      login);
	return 0;
}

static int google_parse_create_list(const struct upload_resp *resp, char *id, size_t idlen,
				    struct err *e)
{
	cJSON *root = resp->body ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
	const char *v = json_str(root, "id"), *name = json_str(root, "name"), *slash;
	int rc = 0;

	/* id is output only; the resource name ends in it as well. */
	if (v == NULL && name && (slash = strrchr(name, '/')) != NULL &&
	    strstr(name, "/userLists/"))
		v = slash + 1;
	if (!text_is_digits(v, ID_MAX) || strlen(v) >= idlen)
		rc = err_set(e, ERR_INVALID, "the answer names no user list id");
	else
		snprintf(id, idlen, "%s", v);
	cJSON_Delete(root);
	return rc;
}

/* "INVALID_ARGUMENT: message (field: description)" from Google's error
 * body {"error": {"code", "message", "status", "details": [{"@type":
 * "…BadRequest", "fieldViolations": [{"field", "description"}]}]}}. */
static void google_error_text(const struct upload_resp *resp, char *msg, size_t msglen)
{
	cJSON *root = resp->body ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error"), *det, *fv = NULL;
	const char *status = json_str(err, "status"), *message = json_str(err, "message");
	struct buf b;

	cJSON_ArrayForEach (det, cJSON_GetObjectItemCaseSensitive(err, "details")) {
		fv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(det, "fieldViolations"),
					0);
		if (fv)
			break;
	}
	buf_init(&b);
	buf_printf(&b, "HTTP %ld", resp->status);
	if (status)
		buf_printf(&b, " %s", status);
	if (message)
		buf_printf(&b, ": %s", message);
	else if (err == NULL && resp->body_len > 0)
		buf_printf(&b, ": %.*s", BODY_SNIPPET, resp->body);
	if (json_str(fv, "field"))
		buf_printf(&b, " (%s: %s)", json_str(fv, "field"),
			   json_str(fv, "description") ? json_str(fv, "description") : "");
	text_copy_line(msg, msglen, b.data);
	buf_cleanup(&b);
	cJSON_Delete(root);
}

static enum audience_result google_classify(const struct upload_resp *resp, char *msg,
					    size_t msglen)
{
	if (resp->transport_error) {
		text_copy_line(msg, msglen, resp->transport_msg);
		return AUDIENCE_RETRY;
	}
	if (resp->status >= 200 && resp->status < 300) {
		text_copy_line(msg, msglen, "");
		return AUDIENCE_OK;
	}
	google_error_text(resp, msg, msglen);
	if (resp->status == 401)
		return AUDIENCE_REAUTH;
	if (resp->status == 408 || resp->status == 429 || resp->status >= 500)
		return AUDIENCE_RETRY;
	return AUDIENCE_REJECTED;
}

const struct audience_ops google_audience_ops = {
	.dest_kind = "google_datamanager",
	.scheme = PII_SCHEME_GOOGLE,
	.max_members = GOOGLE_AUDIENCE_MAX_MEMBERS,
	.member = google_member,
	.build_members = google_build_members,
	.build_create_list = google_build_create_list,
	.parse_create_list = google_parse_create_list,
	.classify = google_classify,
};
