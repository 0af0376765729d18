/*
 * test_vault.c - sealing and unsealing under the master key, and reading
 * the key file (raw or hex, $CREDENTIALS_DIRECTORY, keygen).
 *
 * Key files live in a private temporary directory made by the group setup;
 * each test restores $CREDENTIALS_DIRECTORY to unset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/vault.h"
#include "testutil.h"

#define SEALED_OVERHEAD (1 + 24 + 16)

static char g_dir[64]; /* private temp dir for key files */

/* The key 00 01 02 … 1f, and the same as hex. */
static unsigned char k_seq[32];
static const char k_seq_hex[] = "000102030405060708090a0b0c0d0e0f"
				"101112131415161718191a1b1c1d1e1f";

static void assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	for (int i = 0; i < 32; i++)
		k_seq[i] = (unsigned char)i;
	snprintf(g_dir, sizeof(g_dir), "/tmp/adseng-vault-XXXXXX");
	if (mkdtemp(g_dir) == NULL)
		return -1;
	umask(022);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int unset_creds(void **state)
{
	(void)state;
	unsetenv("CREDENTIALS_DIRECTORY");
	return 0;
}

/* g_dir/name, written with exactly n bytes (overwritten if present). */
static void dir_path(const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", g_dir, name);
}

static void write_file(const char *name, const void *data, size_t n)
{
	char path[256];
	int fd;

	dir_path(name, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static struct vault *open_key(const unsigned char key[32])
{
	struct vault *v = NULL;
	struct err e = { 0 };

	assert_int_equal(vault_open_key(key, &v, &e), 0);
	assert_non_null(v);
	return v;
}

/* A vault opened from a file holds the expected key iff what one seals the
 * other unseals. */
static void assert_same_key(const struct vault *a, const struct vault *b)
{
	static const char secret[] = "shpss_0123456789";
	uint8_t *sealed = NULL;
	unsigned char *plain = NULL;
	size_t sealed_len = 0, plain_len = 0;
	struct err e = { 0 };

	assert_int_equal(vault_seal(a, secret, strlen(secret), "ad", &sealed, &sealed_len, &e), 0);
	if (vault_unseal(b, sealed, sealed_len, "ad", &plain, &plain_len, &e) != 0)
		fail_msg("the two vaults hold different keys: %s", e.msg);
	assert_int_equal(plain_len, strlen(secret));
	assert_string_equal((const char *)plain, secret);
	vault_free_plain(plain);
	free(sealed);
}

static void test_round_trip(void **state)
{
	static const unsigned char binary[] = { 0x00, 'a', 0x00, 0x00, 0xff, 0x80, '\n', 0x00 };
	static const char text[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	struct {
		const void *p;
		size_t n;
	} cases[] = { { text, strlen(text) }, { binary, sizeof(binary) }, { "", 0 }, { NULL, 0 } };
	unsigned char *big = malloc(65536);
	struct vault *v = open_key(k_seq);

	(void)state;
	assert_non_null(big);
	randombytes_buf(big, 65536);
	cases[3].p = big;
	cases[3].n = 65536;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *sealed = NULL;
		unsigned char *plain = NULL;
		size_t sealed_len = 0, plain_len = 12345;
		struct err e = { 0 };

		assert_int_equal(vault_seal(v, cases[i].p, cases[i].n, "source:42:secret", &sealed,
					    &sealed_len, &e),
				 0);
		assert_int_equal(sealed_len, SEALED_OVERHEAD + cases[i].n);
		assert_int_equal(sealed[0], 1); /* version */
		if (vault_unseal(v, sealed, sealed_len, "source:42:secret", &plain, &plain_len,
				 &e) != 0)
			fail_msg("case %zu: %s", i, e.msg);
		assert_int_equal(plain_len, cases[i].n);
		if (cases[i].n)
			assert_memory_equal(plain, cases[i].p, cases[i].n);
		assert_int_equal(plain[plain_len], '\0'); /* NUL after the plaintext */
		vault_free_plain(plain);
		free(sealed);
	}
	free(big);
	vault_free(v);
}

/* The ciphertext is not the plaintext (it is encrypted at all). */
static void test_ciphertext_hides_plaintext(void **state)
{
	static const char text[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	struct vault *v = open_key(k_seq);
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(vault_seal(v, text, 32, "x", &sealed, &sealed_len, &e), 0);
	assert_null(memmem(sealed, sealed_len, "AAAAAAAA", 8));
	free(sealed);
	vault_free(v);
}

static void test_wrong_ad(void **state)
{
	static const char *const wrong[] = { "source:43:secret", "source:42:secre",
					     "source:42:secret ", "", "SOURCE:42:SECRET" };
	struct vault *v = open_key(k_seq);
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(vault_seal(v, "pw", 2, "source:42:secret", &sealed, &sealed_len, &e), 0);
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		unsigned char *plain = NULL;
		size_t plain_len = 0;

		err_clear(&e);
		assert_int_equal(
			vault_unseal(v, sealed, sealed_len, wrong[i], &plain, &plain_len, &e),
			ERR_CRYPTO);
		assert_int_equal(e.code, ERR_CRYPTO);
		assert_null(plain);
	}
	/* The message names the value, never its contents. */
	assert_contains(e.msg, "SOURCE:42:SECRET");
	free(sealed);
	vault_free(v);
}

static void test_wrong_key(void **state)
{
	unsigned char other[32];
	struct vault *a = open_key(k_seq), *b;
	uint8_t *sealed = NULL;
	unsigned char *plain = NULL;
	size_t sealed_len = 0, plain_len = 0;
	struct err e = { 0 };

	(void)state;
	memcpy(other, k_seq, 32);
	other[31] ^= 1; /* one bit apart */
	b = open_key(other);
	assert_int_equal(vault_seal(a, "pw", 2, "ad", &sealed, &sealed_len, &e), 0);
	assert_int_equal(vault_unseal(b, sealed, sealed_len, "ad", &plain, &plain_len, &e),
			 ERR_CRYPTO);
	assert_null(plain);
	assert_contains(e.msg, "wrong master key or tampered");
	free(sealed);
	vault_free(a);
	vault_free(b);
}

/* Flipping any bit of any byte - version, nonce, ciphertext, tag - fails. */
static void test_tamper_every_byte(void **state)
{
	static const unsigned char masks[] = { 0x01, 0x80, 0xff };
	struct vault *v = open_key(k_seq);
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(vault_seal(v, "hunter2", 7, "ad", &sealed, &sealed_len, &e), 0);
	assert_int_equal(sealed_len, SEALED_OVERHEAD + 7);
	for (size_t i = 0; i < sealed_len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			unsigned char *plain = NULL;
			size_t plain_len = 0;
			int rc;

			sealed[i] ^= masks[m];
			rc = vault_unseal(v, sealed, sealed_len, "ad", &plain, &plain_len, &e);
			sealed[i] ^= masks[m];
			if (rc != ERR_CRYPTO)
				fail_msg("byte %zu ^ 0x%02x: rc %d", i, masks[m], rc);
			assert_null(plain);
		}
	}
	free(sealed);
	vault_free(v);
}

/* Every truncation, and one extra byte, fail; exact-size copies let ASan
 * catch a read past the end. */
static void test_truncated_and_extended(void **state)
{
	struct vault *v = open_key(k_seq);
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(vault_seal(v, "hunter2", 7, "ad", &sealed, &sealed_len, &e), 0);
	for (size_t n = 0; n <= sealed_len + 1; n++) {
		uint8_t *copy;
		unsigned char *plain = NULL;
		size_t plain_len = 0;
		int rc;

		if (n == sealed_len)
			continue;
		copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, sealed, n < sealed_len ? n : sealed_len);
		if (n > sealed_len)
			copy[sealed_len] = 0;
		rc = vault_unseal(v, copy, n, "ad", &plain, &plain_len, &e);
		free(copy);
		if (rc != ERR_CRYPTO)
			fail_msg("length %zu of %zu: rc %d", n, sealed_len, rc);
		assert_null(plain);
	}
	free(sealed);
	vault_free(v);
}

static void test_nonce_is_random(void **state)
{
	struct vault *v = open_key(k_seq);
	uint8_t *s1 = NULL, *s2 = NULL;
	size_t n1 = 0, n2 = 0;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(vault_seal(v, "same", 4, "ad", &s1, &n1, &e), 0);
	assert_int_equal(vault_seal(v, "same", 4, "ad", &s2, &n2, &e), 0);
	assert_int_equal(n1, n2);
	assert_memory_not_equal(s1 + 1, s2 + 1, 24);	    /* nonces */
	assert_memory_not_equal(s1 + 25, s2 + 25, n1 - 25); /* ciphertext + tag */
	assert_same_key(v, v);
	free(s1);
	free(s2);
	vault_free(v);
}

/* A file whose contents open with the k_seq key. */
struct key_file_case {
	const char *name;
	const char *data; /* NULL: the 32 raw bytes of k_seq */
	size_t n;	  /* 0: strlen(data) */
};

static void test_open_accepts(void **state)
{
	char hex_nl[80], upper[80], padded[96];
	const struct key_file_case cases[] = {
		{ "hex", k_seq_hex, 0 },     { "hex+newline", hex_nl, 0 }, { "HEX", upper, 0 },
		{ "padded hex", padded, 0 }, { "raw 32 bytes", NULL, 32 },
	};
	struct vault *want = open_key(k_seq);

	(void)state;
	snprintf(hex_nl, sizeof(hex_nl), "%s\n", k_seq_hex);
	for (size_t i = 0; i < sizeof(k_seq_hex); i++)
		upper[i] = (char)((k_seq_hex[i] >= 'a' && k_seq_hex[i] <= 'f') ? k_seq_hex[i] - 32
									       : k_seq_hex[i]);
	snprintf(padded, sizeof(padded), " \t\n%s \r\n\n", k_seq_hex);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[256];
		struct vault *v = NULL;
		struct err e = { 0 };

		if (cases[i].data)
			write_file("k", cases[i].data, strlen(cases[i].data));
		else
			write_file("k", k_seq, 32);
		dir_path("k", path, sizeof(path));
		if (vault_open(path, &v, &e) != 0)
			fail_msg("%s: %s", cases[i].name, e.msg);
		assert_same_key(want, v);
		vault_free(v);
	}
	vault_free(want);
}

/* 32 raw bytes are taken as they are, even when they start or end with
 * bytes that look like whitespace, and even when they are all hex digits. */
static void test_open_raw_edge_bytes(void **state)
{
	unsigned char raw[32];
	char path[256];
	struct vault *v = NULL, *want;
	struct err e = { 0 };

	(void)state;
	memcpy(raw, k_seq, 32);
	raw[0] = ' ';
	raw[1] = '\n';
	raw[31] = '\t';
	want = open_key(raw);
	write_file("raw", raw, 32);
	dir_path("raw", path, sizeof(path));
	assert_int_equal(vault_open(path, &v, &e), 0);
	assert_same_key(want, v);
	vault_free(v);
	vault_free(want);

	/* 32 hex digits are 32 raw bytes, not a 16-byte hex key. */
	memcpy(raw, k_seq_hex, 32);
	want = open_key(raw);
	write_file("raw", raw, 32);
	assert_int_equal(vault_open(path, &v, &e), 0);
	assert_same_key(want, v);
	vault_free(v);
	vault_free(want);
}

static void test_open_refuses(void **state)
{
	char hex63[80], hex65[80], spaced[80], zz[80], two[160];
	const struct key_file_case cases[] = {
		{ "63 hex digits", hex63, 0 },
		{ "65 hex digits", hex65, 0 },
		{ "space inside the hex", spaced, 0 },
		{ "64 non-hex characters", zz, 0 },
		{ "two keys", two, 0 },
		{ "empty", "", 0 },
		{ "whitespace only", " \n\n", 0 },
		{ "garbage", "this is not a key\n", 0 },
		{ "31 raw bytes", NULL, 31 },
		{ "33 raw bytes", NULL, 33 },
	};
	unsigned char raw[33];

	(void)state;
	snprintf(hex63, sizeof(hex63), "%.63s\n", k_seq_hex);
	snprintf(hex65, sizeof(hex65), "%s0\n", k_seq_hex);
	snprintf(spaced, sizeof(spaced), "%.32s %s\n", k_seq_hex, k_seq_hex + 32);
	memset(zz, 'z', 64);
	zz[64] = '\0';
	snprintf(two, sizeof(two), "%s\n%s\n", k_seq_hex, k_seq_hex);
	memcpy(raw, k_seq, 32);
	raw[32] = 0x20;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[256];
		struct vault *v = NULL;
		struct err e = { 0 };
		int rc;

		if (cases[i].data)
			write_file("bad", cases[i].data, strlen(cases[i].data));
		else
			write_file("bad", raw, cases[i].n);
		dir_path("bad", path, sizeof(path));
		rc = vault_open(path, &v, &e);
		if (rc != ERR_CONFIG)
			fail_msg("%s: rc %d, want ERR_CONFIG", cases[i].name, rc);
		assert_null(v);
		assert_contains(e.msg, path);
		assert_contains(e.msg, "must hold 32 raw bytes or 64 hex digits");
	}
}

static void test_open_missing(void **state)
{
	char path[256];
	struct vault *v = NULL;
	struct err e = { 0 };

	(void)state;
	dir_path("no-such.key", path, sizeof(path));
	assert_int_equal(vault_open(path, &v, &e), ERR_CONFIG);
	assert_int_equal(e.code, ERR_CONFIG);
	assert_null(v);
	assert_contains(e.msg, "could not open master key file");
	assert_contains(e.msg, path);
	assert_contains(e.msg, "No such file or directory");
}

static void test_credentials_directory(void **state)
{
	char path[256];
	struct vault *v = NULL, *want = open_key(k_seq);
	struct err e = { 0 };

	(void)state;
	write_file("cred.key", k_seq_hex, 64);
	write_file("master.key", k_seq, 32);
	setenv("CREDENTIALS_DIRECTORY", g_dir, 1);

	/* A relative name is looked up in $CREDENTIALS_DIRECTORY. */
	assert_int_equal(vault_open("cred.key", &v, &e), 0);
	assert_same_key(want, v);
	vault_free(v);
	v = NULL;

	/* Empty (or NULL) means $CREDENTIALS_DIRECTORY/master.key. */
	assert_int_equal(vault_open("", &v, &e), 0);
	assert_same_key(want, v);
	vault_free(v);
	v = NULL;
	assert_int_equal(vault_open(NULL, &v, &e), 0);
	assert_same_key(want, v);
	vault_free(v);
	v = NULL;

	/* An absolute path ignores it. */
	dir_path("cred.key", path, sizeof(path));
	setenv("CREDENTIALS_DIRECTORY", "/nonexistent", 1);
	assert_int_equal(vault_open(path, &v, &e), 0);
	vault_free(v);
	v = NULL;

	/* The error names the resolved path. */
	assert_int_equal(vault_open("cred.key", &v, &e), ERR_CONFIG);
	assert_null(v);
	assert_contains(e.msg, "\"/nonexistent/cred.key\"");
	assert_int_equal(vault_open("", &v, &e), ERR_CONFIG);
	assert_contains(e.msg, "\"/nonexistent/master.key\"");
	vault_free(want);
}

static void test_empty_path_without_credentials_directory(void **state)
{
	struct vault *v = NULL;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(vault_open("", &v, &e), ERR_CONFIG);
	assert_null(v);
	assert_contains(e.msg, "$CREDENTIALS_DIRECTORY is not set");
	err_clear(&e);
	assert_int_equal(vault_open(NULL, &v, &e), ERR_CONFIG);
	assert_null(v);
	assert_contains(e.msg, "master_key_file is empty");
}

static void test_generate_key_file(void **state)
{
	char path[256], path2[256], data[128], data2[128];
	struct stat st;
	struct vault *v = NULL, *v2 = NULL;
	struct err e = { 0 };
	unsigned char bin[32];
	size_t binlen = 0;
	FILE *f;
	size_t n;

	(void)state;
	dir_path("gen.key", path, sizeof(path));
	unlink(path);
	assert_int_equal(vault_generate_key_file(path, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 65);

	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(data, 1, sizeof(data) - 1, f);
	fclose(f);
	data[n] = '\0';
	assert_int_equal(n, 65);
	assert_int_equal(data[64], '\n');
	assert_int_equal(sodium_hex2bin(bin, sizeof(bin), data, 64, NULL, &binlen, NULL), 0);
	assert_int_equal(binlen, 32);

	/* It opens, and holds the key written. */
	assert_int_equal(vault_open(path, &v, &e), 0);
	v2 = open_key(bin);
	assert_same_key(v, v2);
	vault_free(v2);

	/* An existing file is refused and left as it was. */
	assert_int_equal(vault_generate_key_file(path, &e), ERR_IO);
	assert_contains(e.msg, path);
	assert_contains(e.msg, "File exists");
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(data2, 1, sizeof(data2) - 1, f);
	fclose(f);
	data2[n] = '\0';
	assert_string_equal(data2, data);

	/* Two generated keys differ. */
	dir_path("gen2.key", path2, sizeof(path2));
	unlink(path2);
	assert_int_equal(vault_generate_key_file(path2, &e), 0);
	f = fopen(path2, "r");
	assert_non_null(f);
	n = fread(data2, 1, sizeof(data2) - 1, f);
	fclose(f);
	data2[n] = '\0';
	assert_string_not_equal(data2, data);

	/* A directory that does not exist: ERR_IO naming the path. */
	assert_int_equal(vault_generate_key_file("/nonexistent/dir/k.key", &e), ERR_IO);
	assert_contains(e.msg, "/nonexistent/dir/k.key");

	vault_free(v);
	vault_free(NULL);
	vault_free_plain(NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, unset_creds, unset_creds)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_ciphertext_hides_plaintext),
		T(test_wrong_ad),
		T(test_wrong_key),
		T(test_tamper_every_byte),
		T(test_truncated_and_extended),
		T(test_nonce_is_random),
		T(test_open_accepts),
		T(test_open_raw_edge_bytes),
		T(test_open_refuses),
		T(test_open_missing),
		T(test_credentials_directory),
		T(test_empty_path_without_credentials_directory),
		T(test_generate_key_file),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
