/*
 * vault.c - libsodium AEAD around the master key.
 */
#include "core/vault.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VAULT_VERSION 1
#define NONCE_LEN     crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN	      crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KEY_LEN	      crypto_aead_xchacha20poly1305_ietf_KEYBYTES

struct vault {
	unsigned char *key; /* sodium_malloc */
};

int vault_open_key(const unsigned char key[32], struct vault **out, struct err *e)
{
	struct vault *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	v->key = sodium_malloc(KEY_LEN);
	if (v->key == NULL) {
		free(v);
		return err_set(e, ERR_NOMEM, "could not allocate secure memory for the master key");
	}
	memcpy(v->key, key, KEY_LEN);
	sodium_mprotect_readonly(v->key);
	*out = v;
	return 0;
}

static int resolve_path(const char *path, char *out, size_t outlen, struct err *e)
{
	const char *credsdir = getenv("CREDENTIALS_DIRECTORY");

	if (path == NULL || path[0] == '\0') {
		if (credsdir == NULL)
			return err_set(e, ERR_CONFIG,
				       "[security] master_key_file is empty and "
				       "$CREDENTIALS_DIRECTORY is not set");
		snprintf(out, outlen, "%s/master.key", credsdir);
	} else if (path[0] != '/' && credsdir != NULL) {
		snprintf(out, outlen, "%s/%s", credsdir, path);
	} else {
		snprintf(out, outlen, "%s", path);
	}
	return 0;
}

int vault_open(const char *path, struct vault **out, struct err *e)
{
	unsigned char raw[160];
	unsigned char key[KEY_LEN];
	char full[1024];
	ssize_t n;
	size_t start = 0, end, keylen = 0;
	int fd, rc;

	rc = resolve_path(path, full, sizeof(full), e);
	if (rc != 0)
		return rc;
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_CONFIG, "could not open master key file \"%s\": %s", full,
			       strerror(errno));
	n = read(fd, raw, sizeof(raw));
	close(fd);
	if (n < 0)
		return err_set(e, ERR_CONFIG, "could not read master key file \"%s\": %s", full,
			       strerror(errno));
	end = (size_t)n;
	rc = ERR_CONFIG;
	if (end == KEY_LEN) {
		memcpy(key, raw, KEY_LEN);
		rc = 0;
	} else {
		while (start < end && isspace(raw[start]))
			start++;
		while (end > start && isspace(raw[end - 1]))
			end--;
		if (end - start == 2 * KEY_LEN &&
		    sodium_hex2bin(key, sizeof(key), (const char *)raw + start, end - start, NULL,
				   &keylen, NULL) == 0 &&
		    keylen == KEY_LEN)
			rc = 0;
	}
	sodium_memzero(raw, sizeof(raw));
	if (rc != 0) {
		sodium_memzero(key, sizeof(key));
		return err_set(e, ERR_CONFIG,
			       "master key file \"%s\" must hold 32 raw bytes or 64 hex digits",
			       full);
	}
	rc = vault_open_key(key, out, e);
	sodium_memzero(key, sizeof(key));
	return rc;
}

void vault_ad(char out[VAULT_AD_MAX], const char *table, const char *id, const char *column)
{
	snprintf(out, VAULT_AD_MAX, "%s:%s:%s", table, id, column);
}

void vault_free(struct vault *v)
{
	if (v == NULL)
		return;
	sodium_free(v->key);
	free(v);
}

int vault_seal(const struct vault *v, const void *plain, size_t plain_len, const char *ad,
	       uint8_t **out, size_t *outlen, struct err *e)
{
	size_t n = 1 + NONCE_LEN + plain_len + TAG_LEN;
	uint8_t *p = malloc(n);
	unsigned long long clen = 0;

	if (p == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	p[0] = VAULT_VERSION;
	randombytes_buf(p + 1, NONCE_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(p + 1 + NONCE_LEN, &clen, plain, plain_len,
						       (const unsigned char *)ad, strlen(ad), NULL,
						       p + 1, v->key) != 0) {
		free(p);
		return err_set(e, ERR_CRYPTO, "could not seal value");
	}
	*out = p;
	*outlen = 1 + NONCE_LEN + (size_t)clen;
	return 0;
}

int vault_unseal(const struct vault *v, const uint8_t *sealed, size_t sealed_len, const char *ad,
		 unsigned char **out, size_t *outlen, struct err *e)
{
	unsigned char *p;
	unsigned long long plen = 0;
	size_t max;

	if (sealed_len < 1 + NONCE_LEN + TAG_LEN || sealed[0] != VAULT_VERSION)
		return err_set(e, ERR_CRYPTO, "sealed value is malformed");
	max = sealed_len - 1 - NONCE_LEN - TAG_LEN;
	p = sodium_malloc(max + 1);
	if (p == NULL)
		return err_set(e, ERR_NOMEM, "could not allocate secure memory");
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    p, &plen, NULL, sealed + 1 + NONCE_LEN, sealed_len - 1 - NONCE_LEN,
		    (const unsigned char *)ad, strlen(ad), sealed + 1, v->key) != 0) {
		sodium_free(p);
		return err_set(e, ERR_CRYPTO,
			       "could not open sealed value for %s (wrong master key or tampered)",
			       ad);
	}
	p[plen] = '\0';
	*out = p;
	*outlen = (size_t)plen;
	return 0;
}

void vault_free_plain(unsigned char *p)
{
	if (p)
		sodium_free(p);
}

_Static_assert(crypto_kdf_KEYBYTES == KEY_LEN, "the master key is a crypto_kdf key");
_Static_assert(crypto_kdf_CONTEXTBYTES == VAULT_KDF_CONTEXT_LEN, "crypto_kdf context size");

int vault_derive_key(const struct vault *v, const char *context, unsigned char out[32],
		     struct err *e)
{
	/* One subkey per context: the purpose is the context, as libsodium
	 * intends (https://doc.libsodium.org/key_derivation). */
	const uint64_t subkey_id = 1;

	if (context == NULL || strlen(context) != crypto_kdf_CONTEXTBYTES)
		return err_set(e, ERR_INVALID, "key derivation context must be %d characters",
			       (int)crypto_kdf_CONTEXTBYTES);
	if (crypto_kdf_derive_from_key(out, 32, subkey_id, context, v->key) != 0)
		return err_set(e, ERR_CRYPTO, "could not derive a key");
	return 0;
}

int vault_generate_key_file(const char *path, struct err *e)
{
	unsigned char key[KEY_LEN];
	char hex[2 * KEY_LEN + 2];
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, ERR_IO, "could not create key file \"%s\": %s", path,
			       strerror(errno));
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	hex[2 * KEY_LEN] = '\n';
	if (write(fd, hex, 2 * KEY_LEN + 1) != 2 * KEY_LEN + 1)
		rc = err_set(e, ERR_IO, "could not write key file \"%s\": %s", path,
			     strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = err_set(e, ERR_IO, "could not write key file \"%s\"", path);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hex, sizeof(hex));
	return rc;
}
