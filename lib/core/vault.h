/*
 * vault.h - encryption at rest of source secrets and platform credentials.
 *
 * XChaCha20-Poly1305 (libsodium IETF AEAD) under a 32-byte master key read
 * from a file or a systemd credential.  The associated data binds a sealed
 * value to its row ("source:<uuid>:secret"), so a ciphertext copied into
 * another row does not open.  Sealed layout: 1 version byte (1), 24-byte
 * nonce, ciphertext with 16-byte tag.
 */
#ifndef ADSENG_CORE_VAULT_H
#define ADSENG_CORE_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct vault;

/*
 * Read the master key.  `path` may be absolute, or relative to
 * $CREDENTIALS_DIRECTORY when that is set (systemd LoadCredential=), or
 * empty to mean "$CREDENTIALS_DIRECTORY/master.key".  The file holds 32 raw
 * bytes or 64 hex digits (whitespace around them ignored); anything else is
 * refused.  The key lives in sodium_malloc'd, mlock'd memory.
 */
int vault_open(const char *path, struct vault **out, struct err *e) WUR;
/* Same, from 32 bytes in memory (tests). */
int vault_open_key(const unsigned char key[32], struct vault **out, struct err *e) WUR;
void vault_free(struct vault *v);

/* The associated data of a sealed column: "<table>:<row id>:<column>",
 * e.g. "source:<uuid>:secret", "destination:<uuid>:credentials".  Every
 * writer and reader builds it here so they cannot drift apart. */
#define VAULT_AD_MAX 128
void vault_ad(char out[VAULT_AD_MAX], const char *table, const char *id, const char *column);

/* Seal plaintext; *out is malloc'd (caller frees), *outlen its size. */
int vault_seal(const struct vault *v, const void *plain, size_t plain_len, const char *ad,
	       uint8_t **out, size_t *outlen, struct err *e) WUR;

/*
 * Open a sealed value.  *out is sodium_malloc'd with a NUL after the
 * plaintext (so text secrets are C strings); free with vault_free_plain().
 * ERR_CRYPTO when the key, the associated data or the bytes are wrong.
 */
int vault_unseal(const struct vault *v, const uint8_t *sealed, size_t sealed_len, const char *ad,
		 unsigned char **out, size_t *outlen, struct err *e) WUR;
void vault_free_plain(unsigned char *p);

/*
 * Derive a 32-byte key for one purpose from the master key (libsodium
 * crypto_kdf, BLAKE2b), so the master key itself only ever encrypts: a
 * MAC made with a derived key tells nothing about the master key or the
 * keys of other purposes.  context is exactly 8 characters naming the
 * purpose ("oauthsta": the OAuth2 state token); ERR_INVALID otherwise.
 * out is the caller's (keep it in sodium_malloc memory or wipe it).
 * Any thread.
 */
#define VAULT_KDF_CONTEXT_LEN 8
int vault_derive_key(const struct vault *v, const char *context, unsigned char out[32],
		     struct err *e) WUR;

/* Write a new random key as 64 hex digits to path (mode 0600, must not
 * exist).  For `adsengctl keygen` and the dev scripts. */
int vault_generate_key_file(const char *path, struct err *e) WUR;

#endif
