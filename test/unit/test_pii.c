/*
 * test_pii.c - PII normalization and hashing.
 *
 * Meta: every vector of fixtures/meta_pii_vectors.json (outputs of Meta's
 * SDK), read at run time so a new vector is tested without touching this
 * file, plus edge cases whose expected values were computed by running
 * the SDK's rules and `sha256sum` outside this code.  Google: the rules of
 * PLATFORMS.md "Hashing (Google Ads and GA4)" and DATAMANAGER.md "Hashing",
 * with the examples of Data Manager's "Format user data" page.  TikTok:
 * PLATFORMS.md "TikTok Events API 2.0" (email, phone with '+', external_id).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/conversion.h"
#include "core/pii.h"
#include "testutil.h"

#define ERROR "error"

struct pii_case {
	enum pii_scheme scheme;
	enum pii_field field;
	const char *in;
	const char *normalized; /* pii_normalize output, or ERROR */
	const char *prepared;	/* pii_prepare output (hash for hashed fields), NULL = normalized */
};

static void check_case(const struct pii_case *t)
{
	char out[2048], prep[2048];
	struct err e = { 0 };
	int r;

	r = pii_normalize(t->scheme, t->field, t->in, out, sizeof(out), &e);
	if (strcmp(t->normalized, ERROR) == 0) {
		if (r != ERR_INVALID)
			fail_msg("%s/%s \"%s\": want ERR_INVALID, got %d \"%s\"",
				 pii_scheme_name(t->scheme), pii_field_key(t->scheme, t->field),
				 t->in, r, r == 0 ? out : "");
		assert_int_equal(pii_prepare(t->scheme, t->field, t->in, prep, sizeof(prep), &e),
				 ERR_INVALID);
		assert_true(e.msg[0] != '\0');
		return;
	}
	if (r != 0)
		fail_msg("%s/%s \"%s\": %s", pii_scheme_name(t->scheme),
			 pii_field_key(t->scheme, t->field), t->in, e.msg);
	assert_string_equal(out, t->normalized);
	assert_int_equal(pii_prepare(t->scheme, t->field, t->in, prep, sizeof(prep), &e), 0);
	assert_string_equal(prep, t->prepared ? t->prepared : t->normalized);
}

/* Every vector in the fixture, each one asserted. */
static void test_meta_fixture_vectors(void **state)
{
	char *text = test_read_fixture("meta_pii_vectors.json", NULL);
	cJSON *arr = cJSON_Parse(text), *v;
	int n = 0;

	(void)state;
	assert_non_null(arr);
	assert_true(cJSON_IsArray(arr));
	cJSON_ArrayForEach (v, arr) {
		const char *field = cJSON_GetStringValue(cJSON_GetObjectItem(v, "field"));
		const char *in = cJSON_GetStringValue(cJSON_GetObjectItem(v, "input"));
		const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(v, "expected"));
		int f = pii_field_by_key(PII_SCHEME_META, field);
		char out[PII_HASH_HEX_LEN + 1];
		struct err e = { 0 };
		int r;

		assert_non_null(in);
		assert_non_null(want);
		if (f < 0)
			fail_msg("vector %d: unknown Meta field \"%s\"", n, field);
		r = pii_prepare(PII_SCHEME_META, (enum pii_field)f, in, out, sizeof(out), &e);
		if (strcmp(want, ERROR) == 0) {
			if (r != ERR_INVALID)
				fail_msg("vector %d (%s \"%s\"): want error, got %d %s", n, field,
					 in, r, r == 0 ? out : e.msg);
		} else {
			if (r != 0)
				fail_msg("vector %d (%s \"%s\"): %s", n, field, in, e.msg);
			if (strcmp(out, want) != 0)
				fail_msg("vector %d (%s \"%s\"): got %s want %s", n, field, in, out,
					 want);
		}
		n++;
	}
	/* The fixture has 18 vectors today; fewer means it was not read. */
	assert_true(n >= 18);
	cJSON_Delete(arr);
	free(text);
}

/* Beyond the fixture: cases run through the SDK's rules by hand. */
static const struct pii_case meta_cases[] = {
	/* phones: '+'/"00" prefixes and up to two national zeros go, dots stay */
	{ PII_SCHEME_META, PII_PHONE, "0044 20 7946 0958", "442079460958",
	  "35e206e5dec4c89b9e8b71b8c32724a5bb518483ac5a20c6617d738375b3b823" },
	{ PII_SCHEME_META, PII_PHONE, "(650) 555-1234", "6505551234",
	  "2dd619305603f60f68bc65c757f2894e592251063ed1d9098285c60bdc6121c1" },
	{ PII_SCHEME_META, PII_PHONE, "+44 (0)20 7946 0958", "4402079460958",
	  "40f19965b0d0ebba641dbd9309c3ac18542d9ad976c47f8d35347daea67ee2c2" },
	{ PII_SCHEME_META, PII_PHONE, "020 7946 0958", "2079460958",
	  "ca968f1474c2b2b1c9a1b153ff13163f54ef65300544af913f591f11cd4d80b1" },
	{ PII_SCHEME_META, PII_PHONE, "0001234567", "0001234567",
	  "318221a629a9e10068ee3cdefeaffc7432d51977691f89804eacfa5a587c4d14" },
	{ PII_SCHEME_META, PII_PHONE, "650.555.1234", "650.555.1234", NULL },
	{ PII_SCHEME_META, PII_PHONE, "1-800-FLOWERS", ERROR, NULL },
	{ PII_SCHEME_META, PII_PHONE, "123456", ERROR, NULL },
	{ PII_SCHEME_META, PII_PHONE, "1234567", "1234567", NULL },
	{ PII_SCHEME_META, PII_PHONE, "123456789012345", "123456789012345", NULL },
	{ PII_SCHEME_META, PII_PHONE, "12345678901234567", ERROR, NULL },
	/* emails: the SDK's regex, typo included */
	{ PII_SCHEME_META, PII_EMAIL, "A:.B@X.COM", "a:.b@x.com",
	  "449118354f21a78ba83dc7cee31a80a64d09104d3239ef268aec0431d615c6cc" },
	{ PII_SCHEME_META, PII_EMAIL, "a@b", ERROR, NULL },
	{ PII_SCHEME_META, PII_EMAIL, "a..b@x.com", ERROR, NULL },
	{ PII_SCHEME_META, PII_EMAIL, "\xc3\xbcnicode@x.com", ERROR, NULL },
	{ PII_SCHEME_META, PII_EMAIL, "a@-x.com", ERROR, NULL },
	{ PII_SCHEME_META, PII_EMAIL, "a@x-.com", ERROR, NULL },
	{ PII_SCHEME_META, PII_EMAIL, "a@x..com", ERROR, NULL },
	{ PII_SCHEME_META, PII_EMAIL, "two@@x.com", ERROR, NULL },
	{ PII_SCHEME_META, PII_EMAIL, "", ERROR, NULL },
	{ PII_SCHEME_META, PII_EMAIL, " \t ", ERROR, NULL },
	/* an MD5-looking value is not passed through (see pii.c) */
	{ PII_SCHEME_META, PII_EMAIL, "b1946ac92492d2347c6235b4d2611184", ERROR, NULL },
	/* already hashed: trimmed, lower-cased, passed through */
	{ PII_SCHEME_META, PII_EMAIL,
	  " 973DFE463EC85785F5F95AF5BA3906EEDB2D931C24E69824A89EA65DBA4E813B ",
	  "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b", NULL },
	/* locations */
	{ PII_SCHEME_META, PII_POSTAL, "1", ERROR, NULL },
	{ PII_SCHEME_META, PII_POSTAL, "A1B 2C3", "a1b2c3",
	  "4f32044a655f32e8528edea64dbfd11cba810b8790e6e6e23d28ad3a75980734" },
	{ PII_SCHEME_META, PII_CITY, "St. Louis", "stlouis",
	  "8ba24bdf99947996f3000259be455de791b06fcc0e802ce05031030df1ee8ea3" },
	{ PII_SCHEME_META, PII_CITY, "123", ERROR, NULL },
	{ PII_SCHEME_META, PII_REGION, "N.Y.", "ny",
	  "1b06e2003f8420d6fa42badd8f77ec0f706b976b7a48b13c567dc5a559681683" },
	{ PII_SCHEME_META, PII_COUNTRY, "U.S.", ERROR, NULL },
	{ PII_SCHEME_META, PII_COUNTRY, "XX", ERROR, NULL },
	{ PII_SCHEME_META, PII_COUNTRY, "usa", ERROR, NULL },
	{ PII_SCHEME_META, PII_COUNTRY, " Gb ", "gb", NULL },
	/* Unicode lower-casing as JavaScript does it */
	{ PII_SCHEME_META, PII_FIRST_NAME, "\xc3\x89LODIE", "\xc3\xa9lodie",
	  "36bac2631d17463d569eaf1b869e7bf8d40e4636fd8b2b778ee93f504baf6691" },
	{ PII_SCHEME_META, PII_CITY,
	  "\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95\xce\x91\xce\xa3",
	  "\xce\xbf\xce\xb4\xcf\x85\xcf\x83\xcf\x83\xce\xb5\xce\xb1\xcf\x82",
	  "8a4ed222aefe666884143220a2a798e9a6d1159d6bc3dbe186d2ae1b67064731" },
	{ PII_SCHEME_META, PII_LAST_NAME, "\xc4\xb0LKER", "i\xcc\x87lker",
	  "d84ca9eba4642af21f521c5ab217d38d8b899e586be98751a00e0eca46f95a18" },
	{ PII_SCHEME_META, PII_LAST_NAME, "\xc8\x98TEF\xc4\x82NESCU", "\xc8\x99tef\xc4\x83nescu",
	  NULL },
	{ PII_SCHEME_META, PII_FIRST_NAME, "\xd0\x90\xd0\x9d\xd0\x9d\xd0\x90",
	  "\xd0\xb0\xd0\xbd\xd0\xbd\xd0\xb0", NULL },
	{ PII_SCHEME_META, PII_FIRST_NAME, "\xc2\xa0Mary\xe3\x80\x80", "mary", NULL },
	{ PII_SCHEME_META, PII_EXTERNAL_ID, " ABC-1 ", "abc-1",
	  "65397a5f96c8faed6bed9b822eb437bf8d75b866ec66fd795b55139b2acba2c5" },
	/* not UTF-8 */
	{ PII_SCHEME_META, PII_FIRST_NAME, "K\xf6ln", ERROR, NULL },
	{ PII_SCHEME_META, PII_FIRST_NAME, "\xc0\xaf", ERROR, NULL },
	{ PII_SCHEME_META, PII_FIRST_NAME, "\xed\xa0\x80", ERROR, NULL },
};

static void test_meta_cases(void **state)
{
	char clear_hash[PII_HASH_HEX_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(meta_cases) / sizeof(meta_cases[0]); i++) {
		struct pii_case t = meta_cases[i];

		/* Meta hashes everything: without a precomputed hash, compare
		 * against the SHA-256 of the expected clear value. */
		if (t.prepared == NULL && strcmp(t.normalized, ERROR) != 0) {
			pii_sha256_hex(t.normalized, strlen(t.normalized), clear_hash);
			t.prepared = strlen(t.normalized) == PII_HASH_HEX_LEN &&
						     pii_is_sha256_hex(t.normalized)
					     ? t.normalized
					     : clear_hash;
		}
		check_case(&t);
	}
}

static const struct pii_case google_cases[] = {
	{ PII_SCHEME_GOOGLE, PII_EMAIL, " John.Doe@GMAIL.com ", "johndoe@gmail.com",
	  "06a240d11cc201676da976f7b49341181fd180da37cbe40a77432c0a366c80c3" },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "j.o.h.n.doe@googlemail.com", "johndoe@googlemail.com",
	  NULL },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "Ana.Silva@Example.com", "ana.silva@example.com",
	  "7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86" },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "john doe@example.com", "johndoe@example.com", NULL },
	/* Data Manager "Format user data"
	 * (https://developers.google.com/data-manager/api/get-started/formatting):
	 * gmail.com/googlemail.com lose dots and a "+tag" in the local part,
	 * other domains keep both.  Hashes: printf %s … | sha256sum. */
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "cloudy.sanfrancisco+shopping@gmail.com",
	  "cloudysanfrancisco@gmail.com",
	  "223ebda6f6889b1494551ba902d9d381daf2f642bae055888e96343d53e9f9c4" },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "user.name+NYC@Example.com", "user.name+nyc@example.com",
	  "f109a2a632fbcea5fc82049f50beed3d8621bf9034399f437fb622222acccdac" },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "J.Doe+a+b.c@GoogleMail.com", "jdoe@googlemail.com", NULL },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "john.doe+x@gmail.com.au", "john.doe+x@gmail.com.au",
	  NULL },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "a+b@mail.gmail.com", "a+b@mail.gmail.com", NULL },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "+tag@gmail.com", ERROR, NULL },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, ".+x@gmail.com", ERROR, NULL },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "not-an-email", ERROR, NULL },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "a@b", ERROR, NULL },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "@example.com", ERROR, NULL },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "a@b@c.com", ERROR, NULL },
	{ PII_SCHEME_GOOGLE, PII_EMAIL, "...@gmail.com", ERROR, NULL },
	{ PII_SCHEME_GOOGLE, PII_PHONE, "+1 (650) 555-1234", "+16505551234",
	  "a2996076d3ad4af5dc818b908b3d8e354f26ededf7df0e0aa6ac354143805ee0" },
	{ PII_SCHEME_GOOGLE, PII_PHONE, "001-650-555-1234", "+16505551234", NULL },
	/* The formatting page's example, with its country code. */
	{ PII_SCHEME_GOOGLE, PII_PHONE, " +1 (800)555-0100 ", "+18005550100",
	  "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30" },
	{ PII_SCHEME_GOOGLE, PII_PHONE, "16505551234", "+16505551234", NULL },
	{ PII_SCHEME_GOOGLE, PII_PHONE, "0044 20 7946 0958", "+442079460958", NULL },
	{ PII_SCHEME_GOOGLE, PII_PHONE, "020 7946 0958", ERROR, NULL },
	{ PII_SCHEME_GOOGLE, PII_PHONE, "123", ERROR, NULL },
	{ PII_SCHEME_GOOGLE, PII_PHONE, "+1234567890123456", ERROR, NULL },
	{ PII_SCHEME_GOOGLE, PII_FIRST_NAME, "  Mary-Jane ", "maryjane",
	  "f08f448a5e7a9dc3619bb7c129f6a7d5fc6af002cea17ad71dfdc1c68f4d4e0e" },
	{ PII_SCHEME_GOOGLE, PII_LAST_NAME, "O'Neil", "oneil",
	  "67a42a846e98e3c1a96cd6ba14883a5ea05990cd93964ce8b832aa9497ca785c" },
	/* Suffixes and honorifics go (formatting page: "Don't include
	 * prefixes such as Mrs.", "suffixes such as Jr."), whole words only,
	 * and never the whole name. */
	{ PII_SCHEME_GOOGLE, PII_LAST_NAME, "M\xc3\x9cLLER 3rd", "m\xc3\xbcller",
	  "2dbd218072117713f2d5996a726a9b216ed791ffd0783b6ba4ab6d61b8333192" },
	{ PII_SCHEME_GOOGLE, PII_LAST_NAME, " Silva, Jr. ", "silva",
	  "d24e913a4107af875dc2ac3d419798f3794d00434e5059fbb68ac8d33626eaee" },
	{ PII_SCHEME_GOOGLE, PII_LAST_NAME, "Smith Ph.D. III", "smith", NULL },
	{ PII_SCHEME_GOOGLE, PII_LAST_NAME, "Junior", "junior", NULL },
	{ PII_SCHEME_GOOGLE, PII_LAST_NAME, "Jr.", "jr", NULL },
	{ PII_SCHEME_GOOGLE, PII_LAST_NAME, "Mr Smith", "mr smith", NULL },
	{ PII_SCHEME_GOOGLE, PII_FIRST_NAME, "Mrs. Ana", "ana",
	  "24d4b96f58da6d4a8512313bbd02a28ebf0ca95dec6e4c86ef78ce7f01e788ac" },
	{ PII_SCHEME_GOOGLE, PII_FIRST_NAME, "DR.  Prof. Mary Ann", "mary ann", NULL },
	{ PII_SCHEME_GOOGLE, PII_FIRST_NAME, "Drew", "drew", NULL },
	{ PII_SCHEME_GOOGLE, PII_FIRST_NAME, "Miss", "miss", NULL },
	{ PII_SCHEME_GOOGLE, PII_FIRST_NAME, "Ana Jr", "ana jr", NULL },
	{ PII_SCHEME_GOOGLE, PII_LAST_NAME, "42", ERROR, NULL },
	/* clear fields */
	{ PII_SCHEME_GOOGLE, PII_CITY, "  San   Francisco ", "san francisco", NULL },
	{ PII_SCHEME_GOOGLE, PII_CITY, "K\xc3\xb6ln", "k\xc3\xb6ln", NULL },
	{ PII_SCHEME_GOOGLE, PII_CITY, "St. Louis", "st louis", NULL },
	{ PII_SCHEME_GOOGLE, PII_REGION, "CA", "ca", NULL },
	{ PII_SCHEME_GOOGLE, PII_POSTAL, "94025-1234", "94025-1234", NULL },
	{ PII_SCHEME_GOOGLE, PII_POSTAL, " SW1A  1AA ", "sw1a 1aa", NULL },
	{ PII_SCHEME_GOOGLE, PII_POSTAL,
	  "941\x01"
	  "05\t",
	  "94105", NULL },
	/* A control character before white space: trimmed after it goes
	 * (fuzz_woocommerce_parse found " 117", which normalizes again to
	 * "117"). */
	{ PII_SCHEME_GOOGLE, PII_POSTAL, "\x01\t117", "117", NULL },
	{ PII_SCHEME_GOOGLE, PII_CITY, "San\x7f\x02 Jose\n", "san jose", NULL },
	{ PII_SCHEME_GOOGLE, PII_COUNTRY, "US", "us", NULL },
	{ PII_SCHEME_GOOGLE, PII_COUNTRY, "XX", ERROR, NULL },
	/* external ids keep their case for Google */
	{ PII_SCHEME_GOOGLE, PII_EXTERNAL_ID, " Cust-42 ", "Cust-42",
	  "772b91cabe669ed0525030074170426af10a5688a186c35b19bf5e84305ffdd1" },
	/* already hashed: passed through lower-cased */
	{ PII_SCHEME_GOOGLE, PII_EMAIL,
	  "973DFE463EC85785F5F95AF5BA3906EEDB2D931C24E69824A89EA65DBA4E813B",
	  "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b",
	  "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b" },
};

static void test_google_cases(void **state)
{
	char h[PII_HASH_HEX_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(google_cases) / sizeof(google_cases[0]); i++) {
		struct pii_case t = google_cases[i];

		if (t.prepared == NULL && strcmp(t.normalized, ERROR) != 0 &&
		    pii_is_hashed(t.scheme, t.field)) {
			pii_sha256_hex(t.normalized, strlen(t.normalized), h);
			t.prepared = h;
		}
		check_case(&t);
		/* What normalization gives, normalization keeps (the store
		 * reads conversions back through it). */
		if (strcmp(t.normalized, ERROR) != 0 && !pii_is_hashed(t.scheme, t.field)) {
			char again[512];
			struct err e = { 0 };

			assert_int_equal(pii_normalize(t.scheme, t.field, t.normalized, again,
						       sizeof(again), &e),
					 0);
			assert_string_equal(again, t.normalized);
		}
	}
}

static void test_keys_and_hashed(void **state)
{
	(void)state;
	assert_string_equal(pii_scheme_name(PII_SCHEME_META), "meta");
	assert_string_equal(pii_scheme_name(PII_SCHEME_GOOGLE), "google");
	assert_string_equal(pii_field_key(PII_SCHEME_META, PII_POSTAL), "zp");
	assert_string_equal(pii_field_key(PII_SCHEME_GOOGLE, PII_POSTAL), "postal_code");
	for (int s = 0; s < PII_SCHEME__COUNT; s++) {
		for (int f = 0; f < PII_FIELD__COUNT; f++)
			assert_int_equal(pii_field_by_key((enum pii_scheme)s,
							  pii_field_key((enum pii_scheme)s,
									(enum pii_field)f)),
					 f);
		assert_int_equal(pii_field_by_key((enum pii_scheme)s, "nope"), -1);
		assert_int_equal(pii_field_by_key((enum pii_scheme)s, NULL), -1);
	}
	for (int f = 0; f < PII_FIELD__COUNT; f++)
		assert_true(pii_is_hashed(PII_SCHEME_META, (enum pii_field)f));
	assert_true(pii_is_hashed(PII_SCHEME_GOOGLE, PII_EMAIL));
	assert_true(pii_is_hashed(PII_SCHEME_GOOGLE, PII_PHONE));
	assert_true(pii_is_hashed(PII_SCHEME_GOOGLE, PII_FIRST_NAME));
	assert_true(pii_is_hashed(PII_SCHEME_GOOGLE, PII_LAST_NAME));
	assert_true(pii_is_hashed(PII_SCHEME_GOOGLE, PII_EXTERNAL_ID));
	assert_false(pii_is_hashed(PII_SCHEME_GOOGLE, PII_CITY));
	assert_false(pii_is_hashed(PII_SCHEME_GOOGLE, PII_REGION));
	assert_false(pii_is_hashed(PII_SCHEME_GOOGLE, PII_POSTAL));
	assert_false(pii_is_hashed(PII_SCHEME_GOOGLE, PII_COUNTRY));
}

static void test_sha256_helpers(void **state)
{
	char h[PII_HASH_HEX_LEN + 1];

	(void)state;
	pii_sha256_hex("", 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	pii_sha256_hex("us", 2, h);
	assert_string_equal(h, "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621");
	assert_true(pii_is_sha256_hex(h));
	assert_true(pii_is_sha256_hex(
		"79ADB2A2FCE5C6BA215FE5F27F532D4E7EDBAC4B6A5E09E1EF3A08084A904621"));
	assert_false(pii_is_sha256_hex(NULL));
	assert_false(pii_is_sha256_hex(""));
	assert_false(pii_is_sha256_hex(
		"79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a90462")); /* 63 */
	assert_false(pii_is_sha256_hex(
		"79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a9046210")); /* 65 */
	assert_false(pii_is_sha256_hex(
		"g9adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"));
}

static void test_bounds(void **state)
{
	char big[1100], out[PII_HASH_HEX_LEN + 1], small[4];
	struct err e = { 0 };

	(void)state;
	/* Over 1 KiB of input is refused, not truncated. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pii_prepare(PII_SCHEME_META, PII_FIRST_NAME, big, out, sizeof(out), &e),
			 ERR_INVALID);
	big[1024] = '\0';
	assert_int_equal(pii_prepare(PII_SCHEME_META, PII_FIRST_NAME, big, out, sizeof(out), &e),
			 0);
	/* Output buffers that are too small are an error, never an overflow. */
	assert_int_equal(
		pii_normalize(PII_SCHEME_META, PII_FIRST_NAME, "mary", small, sizeof(small), &e),
		ERR_TOOBIG);
	assert_int_equal(
		pii_prepare(PII_SCHEME_META, PII_FIRST_NAME, "mary", small, sizeof(small), &e),
		ERR_TOOBIG);
	assert_int_equal(
		pii_prepare(PII_SCHEME_GOOGLE, PII_CITY, "Springfield", small, sizeof(small), &e),
		ERR_TOOBIG);
	assert_int_equal(pii_normalize(PII_SCHEME_META, PII_FIRST_NAME, NULL, out, sizeof(out), &e),
			 ERR_INVALID);
	assert_int_equal(
		pii_normalize((enum pii_scheme)7, PII_FIRST_NAME, "x", out, sizeof(out), &e),
		ERR_INVALID);
	assert_int_equal(
		pii_normalize(PII_SCHEME_META, (enum pii_field)99, "x", out, sizeof(out), &e),
		ERR_INVALID);
}

/* ---- TikTok ---------------------------------------------------------------- */

/*
 * TikTok (PLATFORMS.md "TikTok Events API 2.0"): email trimmed and
 * lower-cased, phone E.164 with '+', external_id hashed; nothing else.
 * Hashes: printf %s … | sha256sum.
 */
static const struct pii_case tiktok_cases[] = {
	{ PII_SCHEME_TIKTOK, PII_EMAIL, "  Ana.Silva@Example.com", "ana.silva@example.com",
	  "7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86" },
	/* No gmail rules: dots and tags stay (Google drops both). */
	{ PII_SCHEME_TIKTOK, PII_EMAIL, "John.Doe+x@GMAIL.com ", "john.doe+x@gmail.com",
	  "86500804d4aa2249bdf6687587eb061a86264d1e81d5a5c4750c88b2ec2d9093" },
	{ PII_SCHEME_TIKTOK, PII_EMAIL, "john doe@example.com", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_EMAIL, "not-an-email", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_EMAIL, "a@b", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_EMAIL, "@example.com", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_EMAIL, "a@b@c.com", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_EMAIL, "a@.com", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_EMAIL, "a@b.com.", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_EMAIL, "a.b@c\x01.com", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_PHONE, "+1 (415) 555-0132", "+14155550132",
	  "9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462" },
	{ PII_SCHEME_TIKTOK, PII_PHONE, "0044 20 7946 0958", "+442079460958",
	  "f0bf0228144d9fe2bdf1da2d8ca698f17bf1410ee688b075c27062e47b6f0b6d" },
	{ PII_SCHEME_TIKTOK, PII_PHONE, "14155550132", "+14155550132", NULL },
	{ PII_SCHEME_TIKTOK, PII_PHONE, "020 7946 0958", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_PHONE, "123", ERROR, NULL },
	/* An opaque key: trimmed, case kept. */
	{ PII_SCHEME_TIKTOK, PII_EXTERNAL_ID, " Cust-42 ", "Cust-42",
	  "772b91cabe669ed0525030074170426af10a5688a186c35b19bf5e84305ffdd1" },
	{ PII_SCHEME_TIKTOK, PII_EXTERNAL_ID, "7001122334455", "7001122334455",
	  "4d8cde97d61f3c50205f809db95a04ef6b35977578ec43f33265b3bafed7158e" },
	/* Hashed upstream: passed through, lower-cased. */
	{ PII_SCHEME_TIKTOK, PII_PHONE,
	  "9E1919AD78A34FD67A84BFBCF2FEA14074065517BEA32E92924771C3F92E5462",
	  "9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462",
	  "9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462" },
	/* TikTok's user object has no names or address: not carried. */
	{ PII_SCHEME_TIKTOK, PII_FIRST_NAME, "Ana", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_LAST_NAME, "Silva", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_CITY, "San Francisco", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_REGION, "CA", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_POSTAL, "94105", ERROR, NULL },
	{ PII_SCHEME_TIKTOK, PII_COUNTRY, "US", ERROR, NULL },
};

static void test_tiktok_cases(void **state)
{
	char h[PII_HASH_HEX_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(tiktok_cases) / sizeof(tiktok_cases[0]); i++) {
		struct pii_case t = tiktok_cases[i];

		if (t.prepared == NULL && strcmp(t.normalized, ERROR) != 0) {
			pii_sha256_hex(t.normalized, strlen(t.normalized), h);
			t.prepared = h;
		}
		check_case(&t);
	}
	assert_string_equal(pii_scheme_name(PII_SCHEME_TIKTOK), "tiktok");
	assert_string_equal(pii_field_key(PII_SCHEME_TIKTOK, PII_EMAIL), "email");
	assert_string_equal(pii_field_key(PII_SCHEME_TIKTOK, PII_PHONE), "phone");
	assert_string_equal(pii_field_key(PII_SCHEME_TIKTOK, PII_EXTERNAL_ID), "external_id");
	for (int f = 0; f < PII_FIELD__COUNT; f++) {
		bool carried = f == PII_EMAIL || f == PII_PHONE || f == PII_EXTERNAL_ID;

		assert_int_equal(pii_scheme_carries(PII_SCHEME_TIKTOK, (enum pii_field)f), carried);
		assert_int_equal(pii_is_hashed(PII_SCHEME_TIKTOK, (enum pii_field)f), carried);
		assert_true(pii_scheme_carries(PII_SCHEME_META, (enum pii_field)f));
		assert_true(pii_scheme_carries(PII_SCHEME_GOOGLE, (enum pii_field)f));
	}
	assert_false(pii_scheme_carries((enum pii_scheme)7, PII_EMAIL));
	assert_false(pii_scheme_carries(PII_SCHEME_TIKTOK, (enum pii_field)99));
}

/*
 * The classic bug: one phone, three schemes.  Meta wants digits only (no
 * '+'), Google and TikTok E.164 with '+'; the hashes differ, and each
 * platform matches only its own.
 */
static void test_phone_plus_per_scheme(void **state)
{
	static const char *const inputs[] = { "+1 (415) 555-0132", "+1 415-555-0132",
					      "+14155550132" };
	struct err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		char meta[2048], google[2048], tiktok[2048];

		assert_int_equal(pii_normalize(PII_SCHEME_META, PII_PHONE, inputs[i], meta,
					       sizeof(meta), &e),
				 0);
		assert_int_equal(pii_normalize(PII_SCHEME_GOOGLE, PII_PHONE, inputs[i], google,
					       sizeof(google), &e),
				 0);
		assert_int_equal(pii_normalize(PII_SCHEME_TIKTOK, PII_PHONE, inputs[i], tiktok,
					       sizeof(tiktok), &e),
				 0);
		assert_string_equal(meta, "14155550132");
		assert_string_equal(google, "+14155550132");
		assert_string_equal(tiktok, "+14155550132");
		assert_int_equal(
			pii_prepare(PII_SCHEME_META, PII_PHONE, inputs[i], meta, sizeof(meta), &e),
			0);
		assert_int_equal(pii_prepare(PII_SCHEME_TIKTOK, PII_PHONE, inputs[i], tiktok,
					     sizeof(tiktok), &e),
				 0);
		assert_string_equal(
			meta, "11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51");
		assert_string_equal(
			tiktok, "9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462");
	}
}

/* Each scheme is computed once, when the conversion is normalized, and
 * kept: conv_set_pii fills TikTok's email/phone/external_id and nothing
 * else for it. */
static void test_conv_set_pii_tiktok(void **state)
{
	struct conversion *c = conv_new();

	(void)state;
	conv_set_pii(c, PII_EMAIL, "  Ana.Silva@Example.com");
	conv_set_pii(c, PII_PHONE, "+1 (415) 555-0132");
	conv_set_pii(c, PII_EXTERNAL_ID, "7001122334455");
	conv_set_pii(c, PII_FIRST_NAME, "Ana");
	conv_set_pii(c, PII_CITY, "San Francisco");
	assert_string_equal(c->ids[PII_SCHEME_TIKTOK][PII_EMAIL],
			    "7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86");
	assert_string_equal(c->ids[PII_SCHEME_TIKTOK][PII_PHONE],
			    "9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462");
	assert_string_equal(c->ids[PII_SCHEME_META][PII_PHONE],
			    "11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51");
	assert_string_equal(c->ids[PII_SCHEME_TIKTOK][PII_EXTERNAL_ID],
			    "4d8cde97d61f3c50205f809db95a04ef6b35977578ec43f33265b3bafed7158e");
	assert_null(c->ids[PII_SCHEME_TIKTOK][PII_FIRST_NAME]);
	assert_null(c->ids[PII_SCHEME_TIKTOK][PII_CITY]);
	assert_non_null(c->ids[PII_SCHEME_META][PII_FIRST_NAME]);
	assert_string_equal(c->ids[PII_SCHEME_GOOGLE][PII_CITY], "san francisco");
	conv_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_fixture_vectors),
		cmocka_unit_test(test_meta_cases),
		cmocka_unit_test(test_google_cases),
		cmocka_unit_test(test_keys_and_hashed),
		cmocka_unit_test(test_sha256_helpers),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_tiktok_cases),
		cmocka_unit_test(test_phone_plus_per_scheme),
		cmocka_unit_test(test_conv_set_pii_tiktok),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
