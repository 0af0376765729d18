/*
 * oauth_state.c - the signed consent state and the consent URL
 * (oauth_state.h).
 */
#include "core/oauth_state.h"
#include "core/form.h"

#include <sodium.h>
#include <string.h>

#define STATE_VERSION 1
#define UUID_BIN      16
#define PAYLOAD_LEN   (1 + UUID_BIN + 8 + OAUTH_STATE_NONCE_LEN)
#define MAC_LEN	      crypto_auth_hmacsha256_BYTES
#define B64_VARIANT   sodium_base64_VARIANT_URLSAFE_NO_PADDING

_Static_assert(crypto_auth_hmacsha256_KEYBYTES == OAUTH_STATE_KEY_LEN, "HMAC-SHA256 key size");
_Static_assert(sodium_base64_ENCODED_LEN(PAYLOAD_LEN, B64_VARIANT) - 1 + 1 +
			       sodium_base64_ENCODED_LEN(MAC_LEN, B64_VARIANT) - 1 <=
		       OAUTH_STATE_MAX,
	       "the token fits OAUTH_STATE_MAX");

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "8-4-4-4-12" hex → 16 bytes; false when s is not a uuid. */
static bool uuid_pack(const char *s, unsigned char out[UUID_BIN])
{
	size_t nibbles = 0;

	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		int v;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		v = hex_value(s[i]);
		if (v < 0)
			return false;
		if (nibbles % 2 == 0)
			out[nibbles / 2] = (unsigned char)(v << 4);
		else
			out[nibbles / 2] |= (unsigned char)v;
		nibbles++;
	}
	return nibbles == 2 * UUID_BIN;
}

static void uuid_unpack(const unsigned char in[UUID_BIN], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < UUID_BIN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[in[i] >> 4];
		out[o++] = hex[in[i] & 15];
	}
	out[o] = '\0';
}

int oauth_state_new(const char *dest_id, int64_t expires_at, struct oauth_state *st, struct err *e)
{
	unsigned char bin[UUID_BIN];

	memset(st, 0, sizeof(*st));
	if (dest_id == NULL || !uuid_pack(dest_id, bin))
		return err_set(e, ERR_INVALID, "destination id is not a uuid");
	uuid_unpack(bin, st->dest_id);
	st->expires_at = expires_at;
	randombytes_buf(st->nonce, sizeof(st->nonce));
	return 0;
}

static void payload_pack(const struct oauth_state *st, unsigned char p[PAYLOAD_LEN])
{
	uint64_t exp = (uint64_t)st->expires_at;

	p[0] = STATE_VERSION;
	/* st->dest_id came through oauth_state_new or payload_unpack. */
	(void)uuid_pack(st->dest_id, p + 1);
	for (int i = 0; i < 8; i++)
		p[1 + UUID_BIN + i] = (unsigned char)(exp >> (56 - 8 * i));
	memcpy(p + 1 + UUID_BIN + 8, st->nonce, OAUTH_STATE_NONCE_LEN);
}

static bool payload_unpack(const unsigned char p[PAYLOAD_LEN], struct oauth_state *st)
{
	uint64_t exp = 0;

	if (p[0] != STATE_VERSION)
		return false;
	uuid_unpack(p + 1, st->dest_id);
	for (int i = 0; i < 8; i++)
		exp = exp << 8 | p[1 + UUID_BIN + i];
	if (exp > INT64_MAX)
		return false;
	st->expires_at = (int64_t)exp;
	memcpy(st->nonce, p + 1 + UUID_BIN + 8, OAUTH_STATE_NONCE_LEN);
	return true;
}

void oauth_state_sign(const unsigned char key[OAUTH_STATE_KEY_LEN], const struct oauth_state *st,
		      char out[OAUTH_STATE_MAX + 1])
{
	unsigned char payload[PAYLOAD_LEN], mac[MAC_LEN];
	size_t n;

	payload_pack(st, payload);
	crypto_auth_hmacsha256(mac, payload, sizeof(payload), key);
	sodium_bin2base64(out, OAUTH_STATE_MAX + 1, payload, sizeof(payload), B64_VARIANT);
	n = strlen(out);
	out[n++] = '.';
	sodium_bin2base64(out + n, OAUTH_STATE_MAX + 1 - n, mac, sizeof(mac), B64_VARIANT);
}

/* Decode exactly want bytes of base64url (no padding) from s[0..len). */
static bool b64_exact(const char *s, size_t len, unsigned char *out, size_t want)
{
	size_t got = 0;
	const char *end = NULL;

	if (len != sodium_base64_ENCODED_LEN(want, B64_VARIANT) - 1)
		return false;
	return sodium_base642bin(out, want, s, len, NULL, &got, &end, B64_VARIANT) == 0 &&
	       got == want && end == s + len;
}

enum oauth_state_verdict oauth_state_verify(const unsigned char key[OAUTH_STATE_KEY_LEN],
					    const char *token, int64_t now, struct oauth_state *out)
{
	unsigned char payload[PAYLOAD_LEN], mac[MAC_LEN];
	struct oauth_state st;
	const char *dot;
	size_t len;

	if (token == NULL)
		return OAUTH_STATE_MALFORMED;
	len = strnlen(token, OAUTH_STATE_MAX + 1);
	if (len > OAUTH_STATE_MAX)
		return OAUTH_STATE_MALFORMED;
	dot = memchr(token, '.', len);
	if (dot == NULL || !b64_exact(token, (size_t)(dot - token), payload, sizeof(payload)) ||
	    !b64_exact(dot + 1, len - (size_t)(dot - token) - 1, mac, sizeof(mac)))
		return OAUTH_STATE_MALFORMED;
	if (crypto_auth_hmacsha256_verify(mac, payload, sizeof(payload), key) != 0)
		return OAUTH_STATE_FORGED;
	/* Signed by us, so a bad layout is a version we no longer read. */
	if (!payload_unpack(payload, &st))
		return OAUTH_STATE_MALFORMED;
	*out = st;
	return now >= st.expires_at ? OAUTH_STATE_EXPIRED : OAUTH_STATE_VALID;
}

void oauth_state_nonce_hex(const struct oauth_state *st, char out[2 * OAUTH_STATE_NONCE_LEN + 1])
{
	sodium_bin2hex(out, 2 * OAUTH_STATE_NONCE_LEN + 1, st->nonce, OAUTH_STATE_NONCE_LEN);
}

bool oauth_provider_is_valid(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return false;
	for (; name[n]; n++) {
		char c = name[n];

		if (n == 15 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return n > 0;
}

char *oauth_redirect_uri(const char *public_url, const char *provider)
{
	size_t n = strlen(public_url);

	while (n > 0 && public_url[n - 1] == '/')
		n--;
	return xasprintf("%.*s/oauth/%s/callback", (int)n, public_url, provider);
}

/* Whether the n bytes at word are one of the words of list. */
static bool has_word(const char *list, const char *word, size_t n)
{
	const char *p = list + strspn(list, " ");

	while (*p) {
		size_t len = strcspn(p, " ");

		if (len == n && memcmp(p, word, n) == 0)
			return true;
		p += len;
		p += strspn(p, " ");
	}
	return false;
}

bool oauth_scopes_granted(const char *need, const char *granted)
{
	const char *p = need + strspn(need, " ");

	while (*p) {
		size_t n = strcspn(p, " ");

		if (!has_word(granted, p, n))
			return false;
		p += n;
		p += strspn(p, " ");
	}
	return true;
}

static bool nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int oauth_consent_url(struct buf *out, const struct oauth_consent *c, struct err *e)
{
	struct buf q;

	if (!nonempty(c->auth_url) || !nonempty(c->client_id) || !nonempty(c->redirect_uri) ||
	    !nonempty(c->scopes) || !nonempty(c->state))
		return err_set(e, ERR_INVALID,
			       "consent URL: auth URL, client id, redirect URI, scopes and state "
			       "are all required");
	if (!str_has_prefix(c->auth_url, "https://") && !str_has_prefix(c->auth_url, "http://"))
		return err_set(e, ERR_INVALID, "consent URL: auth URL must be http(s)");
	/* The order of Google's documentation; values form-encoded (a space
	 * between scopes becomes %20). */
	buf_init(&q);
	form_append(&q, "client_id", c->client_id);
	form_append(&q, "redirect_uri", c->redirect_uri);
	form_append(&q, "response_type", "code");
	form_append(&q, "scope", c->scopes);
	form_append(&q, "access_type", "offline");
	form_append(&q, "prompt", "consent");
	form_append(&q, "include_granted_scopes", "true");
	form_append(&q, "state", c->state);
	buf_puts(out, c->auth_url);
	buf_putc(out, strchr(c->auth_url, '?') ? '&' : '?');
	buf_append(out, q.data, q.len);
	buf_cleanup(&q);
	return 0;
}
