/*
 * test_google_audience.c - Customer Match through the Data Manager API
 * (destinations/google_audience.c): members from stored Google-scheme
 * identifiers (identifiers, consent, key stability), the audienceMembers
 * :ingest and :remove bodies and the user list creation against fixtures
 * (test/fixtures/google/, written from DATAMANAGER.md "Customer Match" and
 * the UserList reference), the 10 000-member bound, the answer parser and
 * the classifier table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "core/mem.h"
#include "destinations/audience.h"
#include "destinations/google_audience.h"
#include "testutil.h"

#define KEY_EMAIL   "89a1dce4cf767ed6b77e05d8b0db6fa264f56ebcb26cccedfb7548a881895051"
#define KEY_PHONE   "8196bb47168beb55f8ffb589174b8399b99c9de73149ad97988a9cc578606871"
#define KEY_ADDRESS "6c75d9842eb601916ea5480c7cecedf59f028ee2f88bb18872bc9f02bb147c32"

static const struct audience_ops *ops;
static cJSON *ids_fixture;
static char dest_name[] = "ads1";
static char dest_base[] = "https://datamanager.googleapis.com/";
static char api_v2[] = "v2beta", api_bad[] = "../v1";

static int setup(void **state)
{
	char *text = test_read_fixture("google/audience_ids.json", NULL);

	(void)state;
	ids_fixture = cJSON_Parse(text);
	free(text);
	ops = audience_ops_find("google_datamanager");
	return ids_fixture && ops ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	cJSON_Delete(ids_fixture);
	return 0;
}

/* A google_datamanager destination (settings as `destination add` stores
 * them); consent NULL = the default (unspecified). */
static void dest_init(struct destination *d, const char *consent, bool login)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "00000000-0000-4000-8000-000000000001");
	snprintf(d->kind, sizeof(d->kind), "google_datamanager");
	d->name = dest_name;
	d->base_url = dest_base;
	d->settings = cJSON_CreateObject();
	cJSON_AddStringToObject(d->settings, "customer_id", "1234567890");
	if (login)
		cJSON_AddStringToObject(d->settings, "login_customer_id", "9876543210");
	if (consent)
		cJSON_AddStringToObject(d->settings, "consent", consent);
}

static const cJSON *ids(const char *which)
{
	return cJSON_GetObjectItemCaseSensitive(ids_fixture, which);
}

static void member(const struct destination *d, const char *which, const char *aud,
		   const char *aper, struct audience_member *m)
{
	struct err e = { 0 };

	assert_int_equal(ops->member(d, ids(which), aud, aper, m, &e), 0);
}

/* ---- members ------------------------------------------------------------------ */

static void test_member_full(void **state)
{
	struct destination d;
	struct audience_member m;
	cJSON *got, *want;
	char *fx = test_read_fixture("google/audience_ingest_expected.json", NULL);
	cJSON *body = cJSON_Parse(fx);

	(void)state;
	dest_init(&d, NULL, true);
	member(&d, "full", "granted", "denied", &m);
	assert_string_equal(m.key, KEY_EMAIL);
	assert_false(m.denied);
	/* One element per identifier; city, region and external id never go. */
	got = cJSON_Parse(m.identifiers);
	want = cJSON_GetObjectItem(
		cJSON_GetObjectItem(
			cJSON_GetArrayItem(cJSON_GetObjectItem(body, "audienceMembers"), 0),
			"userData"),
		"userIdentifiers");
	assert_true(cJSON_Compare(got, want, true));
	assert_string_equal(m.consent, "{\"adUserData\":\"CONSENT_GRANTED\",\"adPersonalization\":"
				       "\"CONSENT_DENIED\"}");
	cJSON_Delete(got);
	cJSON_Delete(body);
	free(fx);
	audience_member_cleanup(&m);
	cJSON_Delete(d.settings);
}

static void test_member_consent(void **state)
{
	struct destination d;
	struct audience_member m;

	(void)state;
	/* Denied by the customer: a removal, whatever the default. */
	dest_init(&d, "granted", false);
	member(&d, "email_only", "denied", NULL, &m);
	assert_true(m.denied);
	audience_member_cleanup(&m);
	/* None from the source: the destination's default for both. */
	member(&d, "email_only", NULL, NULL, &m);
	assert_false(m.denied);
	assert_string_equal(m.consent, "{\"adUserData\":\"CONSENT_GRANTED\",\"adPersonalization\":"
				       "\"CONSENT_GRANTED\"}");
	audience_member_cleanup(&m);
	cJSON_Delete(d.settings);
	dest_init(&d, "denied", false);
	member(&d, "email_only", NULL, NULL, &m);
	assert_true(m.denied);
	audience_member_cleanup(&m);
	cJSON_Delete(d.settings);
	/* Unspecified default: no consent sent. */
	dest_init(&d, NULL, false);
	member(&d, "email_only", NULL, NULL, &m);
	assert_false(m.denied);
	assert_null(m.consent);
	audience_member_cleanup(&m);
	cJSON_Delete(d.settings);
}

static void test_member_key_stability(void **state)
{
	struct destination d;
	struct audience_member a, b, c, p, addr;
	cJSON *changed = cJSON_Duplicate(ids("full"), true);
	struct err e = { 0 };

	(void)state;
	dest_init(&d, NULL, false);
	member(&d, "full", "granted", NULL, &a);
	/* Same customer, another phone and no consent: same key, new identifiers. */
	cJSON_ReplaceItemInObject(changed, "phone", cJSON_CreateString(KEY_ADDRESS));
	assert_int_equal(ops->member(&d, changed, NULL, NULL, &b, &e), 0);
	assert_string_equal(a.key, b.key);
	assert_string_not_equal(a.identifiers, b.identifiers);
	/* The same input twice: the same key and the same text. */
	member(&d, "full", "granted", NULL, &c);
	assert_string_equal(a.key, c.key);
	assert_string_equal(a.identifiers, c.identifiers);
	/* Without an email the phone keys, then the address. */
	member(&d, "phone_only", NULL, NULL, &p);
	assert_string_equal(p.key, KEY_PHONE);
	member(&d, "address_only", NULL, NULL, &addr);
	assert_string_equal(addr.key, KEY_ADDRESS);
	assert_non_null(strstr(addr.identifiers, "\"regionCode\":\"US\""));
	audience_member_cleanup(&a);
	audience_member_cleanup(&b);
	audience_member_cleanup(&c);
	audience_member_cleanup(&p);
	audience_member_cleanup(&addr);
	cJSON_Delete(changed);
	cJSON_Delete(d.settings);
}

static void test_member_nothing_to_match(void **state)
{
	struct destination d;
	struct audience_member m;
	struct err e = { 0 };
	cJSON *empty = cJSON_CreateObject();

	(void)state;
	dest_init(&d, NULL, false);
	/* An address needs all four parts; a clear email is never sent. */
	assert_int_equal(ops->member(&d, ids("incomplete_address"), NULL, NULL, &m, &e),
			 ERR_INVALID);
	assert_int_equal(ops->member(&d, ids("clear_email"), NULL, NULL, &m, &e), ERR_INVALID);
	assert_int_equal(ops->member(&d, empty, NULL, NULL, &m, &e), ERR_INVALID);
	cJSON_Delete(empty);
	cJSON_Delete(d.settings);
}

/* ---- requests ------------------------------------------------------------------ */

static void two_members(const struct destination *d, struct audience_member m[2])
{
	member(d, "full", "granted", "denied", &m[0]);
	member(d, "email_only", NULL, NULL, &m[1]);
}

static void assert_body(const struct upload_req *req, const char *fixture)
{
	char *fx = test_read_fixture(fixture, NULL);
	cJSON *want = cJSON_Parse(fx), *got = cJSON_Parse(req->body.data);

	assert_non_null(got);
	if (!cJSON_Compare(got, want, true))
		fail_msg("body differs from %s:\n%s", fixture, req->body.data);
	cJSON_Delete(want);
	cJSON_Delete(got);
	free(fx);
}

static bool has_header(const struct upload_req *req, const char *h)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcmp(req->headers[i], h) == 0)
			return true;
	}
	return false;
}

static void test_build_ingest_and_remove(void **state)
{
	struct destination d;
	struct audience_member m[2];
	struct upload_req req;
	struct err e = { 0 };

	(void)state;
	dest_init(&d, NULL, true);
	two_members(&d, m);
	upload_req_init(&req);
	assert_int_equal(ops->build_members(&d, "ya29.tok", "4455667788", false, m, 2, &req, &e),
			 0);
	assert_string_equal(req.url,
			    "https://datamanager.googleapis.com/v1/audienceMembers:ingest");
	assert_true(has_header(&req, "Authorization: Bearer ya29.tok"));
	assert_true(has_header(&req, "Content-Type: application/json"));
	assert_body(&req, "google/audience_ingest_expected.json");
	upload_req_cleanup(&req);
	/* :remove: the same members without consent and terms of service. */
	assert_int_equal(ops->build_members(&d, "ya29.tok", "4455667788", true, m, 2, &req, &e), 0);
	assert_string_equal(req.url,
			    "https://datamanager.googleapis.com/v1/audienceMembers:remove");
	assert_body(&req, "google/audience_remove_expected.json");
	upload_req_cleanup(&req);
	audience_member_cleanup(&m[0]);
	audience_member_cleanup(&m[1]);
	cJSON_Delete(d.settings);
}

static void test_build_without_login(void **state)
{
	struct destination d;
	struct audience_member m[2];
	struct upload_req req;
	struct err e = { 0 };
	cJSON *body, *dst;

	(void)state;
	dest_init(&d, NULL, false);
	two_members(&d, m);
	upload_req_init(&req);
	assert_int_equal(ops->build_members(&d, "t", "4455667788", false, m, 1, &req, &e), 0);
	body = cJSON_Parse(req.body.data);
	dst = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "destinations"), 0);
	assert_null(cJSON_GetObjectItem(dst, "loginAccount"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(body, "audienceMembers")), 1);
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	/* The API version of the destination goes in the path. */
	d.api_version = api_v2;
	assert_int_equal(ops->build_members(&d, "t", "4455667788", true, m, 1, &req, &e), 0);
	assert_string_equal(req.url,
			    "https://datamanager.googleapis.com/v2beta/audienceMembers:remove");
	upload_req_cleanup(&req);
	d.api_version = api_bad;
	assert_int_equal(ops->build_members(&d, "t", "4455667788", true, m, 1, &req, &e),
			 ERR_CONFIG);
	d.api_version = NULL;
	/* A list id that is not a number, or no customer id, builds nothing. */
	assert_int_equal(ops->build_members(&d, "t", "44x", false, m, 1, &req, &e), ERR_CONFIG);
	cJSON_DeleteItemFromObject(d.settings, "customer_id");
	assert_int_equal(ops->build_members(&d, "t", "1", false, m, 1, &req, &e), ERR_CONFIG);
	upload_req_cleanup(&req);
	audience_member_cleanup(&m[0]);
	audience_member_cleanup(&m[1]);
	cJSON_Delete(d.settings);
}

static void test_chunk_bound(void **state)
{
	struct destination d;
	struct audience_member one, *many;
	struct upload_req req;
	struct err e = { 0 };
	cJSON *body;

	(void)state;
	assert_int_equal(ops->max_members, 10000);
	dest_init(&d, NULL, false);
	member(&d, "email_only", NULL, NULL, &one);
	many = calloc(GOOGLE_AUDIENCE_MAX_MEMBERS + 1, sizeof(*many));
	for (size_t i = 0; i <= GOOGLE_AUDIENCE_MAX_MEMBERS; i++)
		many[i] = one; /* shallow: the builder only reads */
	upload_req_init(&req);
	assert_int_equal(ops->build_members(&d, "t", "1", false, many, GOOGLE_AUDIENCE_MAX_MEMBERS,
					    &req, &e),
			 0);
	body = cJSON_Parse(req.body.data);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(body, "audienceMembers")),
			 GOOGLE_AUDIENCE_MAX_MEMBERS);
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	assert_int_equal(ops->build_members(&d, "t", "1", false, many,
					    GOOGLE_AUDIENCE_MAX_MEMBERS + 1, &req, &e),
			 ERR_INVALID);
	assert_int_equal(ops->build_members(&d, "t", "1", true, many, 0, &req, &e), ERR_INVALID);
	upload_req_cleanup(&req);
	free(many);
	audience_member_cleanup(&one);
	cJSON_Delete(d.settings);
}

static void test_create_list(void **state)
{
	struct destination d;
	struct upload_req req;
	struct err e = { 0 };

	(void)state;
	dest_init(&d, NULL, true);
	upload_req_init(&req);
	assert_int_equal(ops->build_create_list(&d, "ya29.tok", "Repeat buyers",
						"Customers synced by AdsEngineer", &req, &e),
			 0);
	assert_string_equal(req.url, "https://datamanager.googleapis.com/v1/accountTypes/"
				     "GOOGLE_ADS/accounts/1234567890/userLists");
	assert_true(has_header(&req, "login-account: accountTypes/GOOGLE_ADS/accounts/9876543210"));
	assert_true(has_header(&req, "Authorization: Bearer ya29.tok"));
	assert_body(&req, "google/userlist_create_expected.json");
	upload_req_cleanup(&req);
	cJSON_Delete(d.settings);
	dest_init(&d, NULL, false);
	assert_int_equal(ops->build_create_list(&d, "t", "x", NULL, &req, &e), 0);
	for (size_t i = 0; i < req.n_headers; i++)
		assert_null(strstr(req.headers[i], "login-account"));
	upload_req_cleanup(&req);
	cJSON_Delete(d.settings);
}

static struct upload_resp resp_of(long status, const char *body)
{
	struct upload_resp r = { 0 };

	r.status = status;
	r.body = body;
	r.body_len = strlen(body);
	r.retry_after_s = -1;
	return r;
}

static void test_parse_create_list(void **state)
{
	char *fx = test_read_fixture("google/userlist_create_answer.json", NULL);
	struct upload_resp r = resp_of(200, fx);
	struct err e = { 0 };
	char id[32];

	(void)state;
	assert_int_equal(ops->parse_create_list(&r, id, sizeof(id), &e), 0);
	assert_string_equal(id, "4455667788");
	/* id is output only: the resource name carries it too. */
	r = resp_of(200, "{\"name\":\"accountTypes/GOOGLE_ADS/accounts/1/userLists/77\"}");
	assert_int_equal(ops->parse_create_list(&r, id, sizeof(id), &e), 0);
	assert_string_equal(id, "77");
	r = resp_of(200, "{\"id\":\"12a\"}");
	assert_int_equal(ops->parse_create_list(&r, id, sizeof(id), &e), ERR_INVALID);
	r = resp_of(200, "not json");
	assert_int_equal(ops->parse_create_list(&r, id, sizeof(id), &e), ERR_INVALID);
	r = resp_of(200, "{\"id\":\"123456789012345678901234567890\"}");
	assert_int_equal(ops->parse_create_list(&r, id, 8, &e), ERR_INVALID);
	free(fx);
}

static void test_classify(void **state)
{
	static const struct {
		long status;
		const char *body;
		enum audience_result want;
		const char *in_msg;
	} cases[] = {
		{ 200, "{\"requestId\":\"r-1\"}", AUDIENCE_OK, "" },
		{ 401,
		  "{\"error\":{\"code\":401,\"message\":\"Request had invalid authentication "
		  "credentials.\",\"status\":\"UNAUTHENTICATED\"}}",
		  AUDIENCE_REAUTH, "UNAUTHENTICATED" },
		{ 429,
		  "{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":"
		  "\"RESOURCE_EXHAUSTED\"}}",
		  AUDIENCE_RETRY, "RESOURCE_EXHAUSTED: Quota exceeded" },
		{ 500, "", AUDIENCE_RETRY, "HTTP 500" },
		{ 503, "{\"error\":{\"code\":503,\"status\":\"UNAVAILABLE\"}}", AUDIENCE_RETRY,
		  "UNAVAILABLE" },
		{ 400,
		  "{\"error\":{\"code\":400,\"message\":\"Invalid argument.\",\"status\":"
		  "\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis.com/"
		  "google.rpc.BadRequest\",\"fieldViolations\":[{\"field\":\"audienceMembers[3]"
		  ".userData.userIdentifiers[0]\",\"description\":\"Invalid hash\"}]}]}}",
		  AUDIENCE_REJECTED,
		  "(audienceMembers[3].userData.userIdentifiers[0]: Invalid hash)" },
		{ 403,
		  "{\"error\":{\"code\":403,\"message\":\"The caller does not have "
		  "permission\",\"status\":\"PERMISSION_DENIED\"}}",
		  AUDIENCE_REJECTED, "PERMISSION_DENIED" },
		{ 404, "<html>not found</html>", AUDIENCE_REJECTED, "HTTP 404: <html>" },
	};
	char msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct upload_resp r = resp_of(cases[i].status, cases[i].body);

		assert_int_equal(ops->classify(&r, msg, sizeof(msg)), cases[i].want);
		if (strstr(msg, cases[i].in_msg) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, msg, cases[i].in_msg);
	}
	{
		struct upload_resp r = { .transport_error = true, .transport_msg = "timed out" };

		assert_int_equal(ops->classify(&r, msg, sizeof(msg)), AUDIENCE_RETRY);
		assert_string_equal(msg, "timed out");
	}
}

static void test_registry(void **state)
{
	(void)state;
	assert_ptr_equal(audience_ops_find("google_datamanager"), &google_audience_ops);
	assert_null(audience_ops_find("meta_capi"));
	assert_null(audience_ops_find(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_member_full),
		cmocka_unit_test(test_member_consent),
		cmocka_unit_test(test_member_key_stability),
		cmocka_unit_test(test_member_nothing_to_match),
		cmocka_unit_test(test_build_ingest_and_remove),
		cmocka_unit_test(test_build_without_login),
		cmocka_unit_test(test_chunk_bound),
		cmocka_unit_test(test_create_list),
		cmocka_unit_test(test_parse_create_list),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_registry),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
