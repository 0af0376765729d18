/*
 * pii.c - normalization and SHA-256 hashing of personal identifiers, one
 * rule set per platform hashing scheme.
 *
 * Meta: the reference is Meta's official SDK (fixtures/meta_pii_vectors.json
 * holds its outputs).  Every vector there is reproduced by the rules of the
 * Node.js business SDK (src/objects/serverside/utils.js), which differ from
 * the Python and PHP SDKs on phones ("650.555.1234" keeps its dots and is
 * hashed as is; "001-650-555-1234" loses its "00").  Those rules work on a
 * JavaScript string: String.prototype.trim() (Unicode white space) and
 * toLowerCase() (Unicode), so this file works on code points, not bytes,
 * and carries its own lower-case table rather than trusting the C locale.
 *
 * Google (Google Ads enhanced conversions, GA4 Measurement Protocol, Data
 * Manager): trim, lower-case, gmail/googlemail without dots or "+tag" in
 * the local part (other domains keep both), E.164 phones with '+', names
 * without digits, punctuation, honorifics ("Mrs.") or suffixes ("Jr."); city, region, postal code
 * and country stay in the clear (PLATFORMS.md "Hashing (Google Ads and GA4)").
 *
 * TikTok (Events API 2.0): email trimmed and lower-cased, phone E.164 with
 * '+' (Google's rule), external_id trimmed, all three hashed; TikTok's
 * user object has no name or address fields, so the scheme carries no
 * others (PLATFORMS.md "TikTok Events API 2.0"; the user parameters of
 * the Events API 2.0 reference,
 * https://business-api.tiktok.com/portal/docs?id=1771101303391745).
 *
 * Inputs are bounded (PII_MAX_IN bytes) and must be valid UTF-8: clear
 * outputs end up in JSON and in PostgreSQL, which both refuse invalid UTF-8.
 * Where the SDK would return nothing (a one-character zip) or hash an empty
 * string (a city of digits only), this file refuses the value instead.
 *
 * Thread-safe: no globals, no locale; buffers live on the caller's stack
 * (about 17 KiB at most) and are wiped before returning.
 */
#include "core/pii.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

/* Longest clear input accepted, in bytes.  Real identifiers are far
 * shorter; anything longer is garbage, and bounding it keeps the code-point
 * buffers on the stack. */
#define PII_MAX_IN 1024
/* Code points after lower-casing: U+0130 becomes two, nothing grows more. */
#define PII_MAX_CP (2 * PII_MAX_IN)

struct ustr {
	uint32_t cp[PII_MAX_CP];
	size_t n;
};

static const char *const meta_keys[PII_FIELD__COUNT] = {
	[PII_EMAIL] = "em",	[PII_PHONE] = "ph",	   [PII_FIRST_NAME] = "fn",
	[PII_LAST_NAME] = "ln", [PII_CITY] = "ct",	   [PII_REGION] = "st",
	[PII_POSTAL] = "zp",	[PII_COUNTRY] = "country", [PII_EXTERNAL_ID] = "external_id",
};

static const char *const google_keys[PII_FIELD__COUNT] = {
	[PII_EMAIL] = "email",	       [PII_PHONE] = "phone",	  [PII_FIRST_NAME] = "first_name",
	[PII_LAST_NAME] = "last_name", [PII_CITY] = "city",	  [PII_REGION] = "region",
	[PII_POSTAL] = "postal_code",  [PII_COUNTRY] = "country", [PII_EXTERNAL_ID] = "external_id",
};

/* ISO 3166-1 alpha-2, officially assigned codes (the list Meta's SDK
 * validates against), lower case, concatenated. */
static const char iso3166_alpha2[] = "adaeafagaialamaoaqarasatauawaxaz"
				     "babbbdbebfbgbhbibjblbmbnbobqbrbsbtbvbwbybz"
				     "cacccdcfcgchcickclcmcncocrcucvcwcxcycz"
				     "dedjdkdmdodz"
				     "eceeegehereset"
				     "fifjfkfmfofr"
				     "gagbgdgegfggghgiglgmgngpgqgrgsgtgugwgy"
				     "hkhmhnhrhthu"
				     "idieiliminioiqirisit"
				     "jejmjojp"
				     "kekgkhkikmknkpkrkwkykz"
				     "lalblclilklrlsltlulvly"
				     "mamcmdmemfmgmhmkmlmmmnmompmqmrmsmtmumvmwmxmymz"
				     "nancnenfngninlnonpnrnunz"
				     "om"
				     "papepfpgphpkplpmpnprpsptpwpy"
				     "qa"
				     "rerorsrurw"
				     "sasbscsdsesgshsisjskslsmsnsosrssstsvsxsysz"
				     "tctdtftgthtjtktltmtntotrtttvtwtz"
				     "uaugumusuyuz"
				     "vavcvevgvivnvu"
				     "wfws"
				     "yeyt"
				     "zazmzw";

const char *pii_scheme_name(enum pii_scheme s)
{
	switch (s) {
	case PII_SCHEME_META:
		return "meta";
	case PII_SCHEME_GOOGLE:
		return "google";
	case PII_SCHEME_TIKTOK:
		return "tiktok";
	default:
		return "?";
	}
}

const char *pii_field_key(enum pii_scheme s, enum pii_field f)
{
	if ((unsigned)f >= PII_FIELD__COUNT)
		return "?";
	switch (s) {
	case PII_SCHEME_META:
		return meta_keys[f];
	case PII_SCHEME_GOOGLE:
	case PII_SCHEME_TIKTOK:
		/* TikTok's user keys for the fields it carries (email, phone,
		 * external_id) are Google's; the others are never stored. */
		return google_keys[f];
	default:
		return "?";
	}
}

int pii_field_by_key(enum pii_scheme s, const char *key)
{
	if (key == NULL || (unsigned)s >= PII_SCHEME__COUNT)
		return -1;
	for (int f = 0; f < PII_FIELD__COUNT; f++) {
		if (strcmp(pii_field_key(s, (enum pii_field)f), key) == 0)
			return f;
	}
	return -1;
}

bool pii_is_hashed(enum pii_scheme s, enum pii_field f)
{
	if ((unsigned)f >= PII_FIELD__COUNT)
		return false;
	switch (s) {
	case PII_SCHEME_META:
		/* Meta hashes every user_data identifier it matches on. */
		return true;
	case PII_SCHEME_GOOGLE:
		return f == PII_EMAIL || f == PII_PHONE || f == PII_FIRST_NAME ||
		       f == PII_LAST_NAME || f == PII_EXTERNAL_ID;
	case PII_SCHEME_TIKTOK:
		return pii_scheme_carries(s, f);
	default:
		return false;
	}
}

bool pii_scheme_carries(enum pii_scheme s, enum pii_field f)
{
	if ((unsigned)s >= PII_SCHEME__COUNT || (unsigned)f >= PII_FIELD__COUNT)
		return false;
	if (s == PII_SCHEME_TIKTOK)
		return f == PII_EMAIL || f == PII_PHONE || f == PII_EXTERNAL_ID;
	return true;
}

void pii_sha256_hex(const char *in, size_t len, char out[PII_HASH_HEX_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)in, len);
	sodium_bin2hex(out, PII_HASH_HEX_LEN + 1, h, sizeof(h));
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool pii_is_sha256_hex(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < PII_HASH_HEX_LEN; i++) {
		if (!is_hex(s[i]))
			return false;
	}
	return s[i] == '\0';
}

/* ---- UTF-8 <-> code points ---------------------------------------------- */

/* Strict decoder: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_decode(const char *in, struct ustr *u)
{
	const unsigned char *p = (const unsigned char *)in;

	u->n = 0;
	while (*p) {
		uint32_t c = *p, min;
		int more;

		if (c < 0x80) {
			more = 0;
			min = 0;
		} else if ((c & 0xE0) == 0xC0) {
			c &= 0x1F;
			more = 1;
			min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			c &= 0x0F;
			more = 2;
			min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			c &= 0x07;
			more = 3;
			min = 0x10000;
		} else {
			return false;
		}
		p++;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xC0) != 0x80)
				return false;
			c = (c << 6) | (*p & 0x3F);
		}
		if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return false;
		if (u->n == PII_MAX_CP)
			return false;
		u->cp[u->n++] = c;
	}
	return true;
}

static size_t utf8_len(const struct ustr *u)
{
	size_t n = 0;

	for (size_t i = 0; i < u->n; i++)
		n += u->cp[i] < 0x80 ? 1 : u->cp[i] < 0x800 ? 2 : u->cp[i] < 0x10000 ? 3 : 4;
	return n;
}

static int utf8_encode(const struct ustr *u, char *out, size_t outlen, struct err *e)
{
	size_t o = 0;

	for (size_t i = 0; i < u->n; i++) {
		uint32_t c = u->cp[i];
		unsigned char b[4];
		size_t k;

		if (c < 0x80) {
			b[0] = (unsigned char)c;
			k = 1;
		} else if (c < 0x800) {
			b[0] = (unsigned char)(0xC0 | (c >> 6));
			b[1] = (unsigned char)(0x80 | (c & 0x3F));
			k = 2;
		} else if (c < 0x10000) {
			b[0] = (unsigned char)(0xE0 | (c >> 12));
			b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
			b[2] = (unsigned char)(0x80 | (c & 0x3F));
			k = 3;
		} else {
			b[0] = (unsigned char)(0xF0 | (c >> 18));
			b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
			b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
			b[3] = (unsigned char)(0x80 | (c & 0x3F));
			k = 4;
		}
		if (o + k >= outlen)
			return err_set(e, ERR_TOOBIG, "normalized value does not fit the output");
		memcpy(out + o, b, k);
		o += k;
	}
	if (outlen == 0)
		return err_set(e, ERR_TOOBIG, "normalized value does not fit the output");
	out[o] = '\0';
	return 0;
}

/* ---- the JavaScript string operations Meta's SDK relies on ----------------- */

/* JavaScript's white space (the \s class and String.prototype.trim). */
static bool is_js_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
	       c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

static void trim(struct ustr *u)
{
	size_t a = 0, b = u->n;

	while (a < b && is_js_space(u->cp[a]))
		a++;
	while (b > a && is_js_space(u->cp[b - 1]))
		b--;
	memmove(u->cp, u->cp + a, (b - a) * sizeof(u->cp[0]));
	u->n = b - a;
}

/* Ranges where upper and lower case alternate: even (or odd) code point is
 * the capital, the next one its small letter. */
static bool alternating_upper(uint32_t c)
{
	if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) ||
	    (c >= 0x14A && c <= 0x177) || (c >= 0x182 && c <= 0x185) ||
	    (c >= 0x1A0 && c <= 0x1A5) || (c >= 0x1DE && c <= 0x1EF) ||
	    (c >= 0x1F8 && c <= 0x21F) || (c >= 0x222 && c <= 0x233) ||
	    (c >= 0x246 && c <= 0x24F) || (c >= 0x370 && c <= 0x373) || c == 0x376 ||
	    (c >= 0x3D8 && c <= 0x3EF) || (c >= 0x460 && c <= 0x481) ||
	    (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F) ||
	    (c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF))
		return (c & 1) == 0;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E) ||
	    (c >= 0x1CD && c <= 0x1DC) || (c >= 0x4C1 && c <= 0x4CE))
		return (c & 1) == 1;
	return false;
}

/* Capitals whose small letter is not at a fixed distance. */
static const uint16_t lower_pairs[][2] = {
	{ 0x178, 0xFF },  { 0x386, 0x3AC },  { 0x38C, 0x3CC }, { 0x4C0, 0x4CF },  { 0x1E9E, 0xDF },
	{ 0x181, 0x253 }, { 0x186, 0x254 },  { 0x187, 0x188 }, { 0x189, 0x256 },  { 0x18A, 0x257 },
	{ 0x18B, 0x18C }, { 0x18E, 0x1DD },  { 0x18F, 0x259 }, { 0x190, 0x25B },  { 0x191, 0x192 },
	{ 0x193, 0x260 }, { 0x194, 0x263 },  { 0x196, 0x269 }, { 0x197, 0x268 },  { 0x198, 0x199 },
	{ 0x19C, 0x26F }, { 0x19D, 0x272 },  { 0x19F, 0x275 }, { 0x1A6, 0x280 },  { 0x1A7, 0x1A8 },
	{ 0x1A9, 0x283 }, { 0x1AC, 0x1AD },  { 0x1AE, 0x288 }, { 0x1AF, 0x1B0 },  { 0x1B1, 0x28A },
	{ 0x1B2, 0x28B }, { 0x1B3, 0x1B4 },  { 0x1B5, 0x1B6 }, { 0x1B7, 0x292 },  { 0x1B8, 0x1B9 },
	{ 0x1BC, 0x1BD }, { 0x1C4, 0x1C6 },  { 0x1C5, 0x1C6 }, { 0x1C7, 0x1C9 },  { 0x1C8, 0x1C9 },
	{ 0x1CA, 0x1CC }, { 0x1CB, 0x1CC },  { 0x1F1, 0x1F3 }, { 0x1F2, 0x1F3 },  { 0x1F4, 0x1F5 },
	{ 0x1F6, 0x195 }, { 0x1F7, 0x1BF },  { 0x220, 0x19E }, { 0x23A, 0x2C65 }, { 0x23B, 0x23C },
	{ 0x23D, 0x19A }, { 0x23E, 0x2C66 }, { 0x241, 0x242 }, { 0x243, 0x180 },  { 0x244, 0x289 },
	{ 0x245, 0x28C }, { 0x37F, 0x3F3 },  { 0x3CF, 0x3D7 }, { 0x3F4, 0x3B8 },  { 0x3F7, 0x3F8 },
	{ 0x3F9, 0x3F2 }, { 0x3FA, 0x3FB },  { 0x3FD, 0x37B }, { 0x3FE, 0x37C },  { 0x3FF, 0x37D },
};

/* Rough "cased letter" for the final-sigma rule: ASCII letters and the
 * letters of the scripts lower_cp() knows. */
static bool is_cased_letter(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7) ||
	       (c >= 0x386 && c <= 0x52F && c != 0x387) || (c >= 0x1E00 && c <= 0x1EFF);
}

/* A capital from lower_pairs[], or 0. */
static uint32_t pair_lower(uint32_t c)
{
	for (size_t k = 0; k < sizeof(lower_pairs) / sizeof(lower_pairs[0]); k++) {
		if (lower_pairs[k][0] == c)
			return lower_pairs[k][1];
	}
	return 0;
}

/*
 * Unicode lower-casing of one code point, for the scripts customer data
 * comes in here: ASCII, Latin-1 Supplement, Latin Extended-A and -B, Latin
 * Extended Additional (Vietnamese), Greek and Coptic (with the final-sigma
 * rule toLowerCase applies), Cyrillic, Armenian and full-width Latin; it
 * agrees with JavaScript's toLowerCase on all of them.  Other code points
 * are returned unchanged.  U+0130 lowers to two code points, as in
 * JavaScript.  Returns the number written to out (1 or 2).
 */
static int lower_cp(const struct ustr *u, size_t i, uint32_t out[2])
{
	uint32_t c = u->cp[i], p;

	out[0] = c;
	if (c < 0x80) {
		if (c >= 'A' && c <= 'Z')
			out[0] = c + 32;
	} else if (c == 0x130) {
		out[0] = 'i';
		out[1] = 0x307;
		return 2;
	} else if (c == 0x3A3) {
		/* Final sigma: after a letter and not before one. */
		bool after = i > 0 && is_cased_letter(u->cp[i - 1]);
		bool before = i + 1 < u->n && is_cased_letter(u->cp[i + 1]);

		out[0] = after && !before ? 0x3C2 : 0x3C3;
	} else if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
		   (c >= 0x391 && c <= 0x3AB && c != 0x3A2) || (c >= 0x410 && c <= 0x42F) ||
		   (c >= 0xFF21 && c <= 0xFF3A)) {
		out[0] = c + 32;
	} else if (c >= 0x400 && c <= 0x40F) {
		out[0] = c + 0x50;
	} else if (c >= 0x531 && c <= 0x556) {
		out[0] = c + 0x30;
	} else if (c >= 0x388 && c <= 0x38A) {
		out[0] = c + 37;
	} else if (c == 0x38E || c == 0x38F) {
		out[0] = c + 63;
	} else if (alternating_upper(c)) {
		out[0] = c + 1;
	} else if ((p = pair_lower(c)) != 0) {
		out[0] = p;
	}
	return 1;
}

static bool lower(struct ustr *u, struct ustr *tmp)
{
	tmp->n = 0;
	for (size_t i = 0; i < u->n; i++) {
		uint32_t o[2];
		int k = lower_cp(u, i, o);

		if (tmp->n + (size_t)k > PII_MAX_CP)
			return false;
		for (int j = 0; j < k; j++)
			tmp->cp[tmp->n++] = o[j];
	}
	memcpy(u->cp, tmp->cp, tmp->n * sizeof(u->cp[0]));
	u->n = tmp->n;
	return true;
}

/* Remove every code point for which drop() is true. */
static void filter(struct ustr *u, bool (*drop)(uint32_t))
{
	size_t o = 0;

	for (size_t i = 0; i < u->n; i++) {
		if (!drop(u->cp[i]))
			u->cp[o++] = u->cp[i];
	}
	u->n = o;
}

static bool is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_ascii_alnum(uint32_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool all_digits(const struct ustr *u, size_t from)
{
	for (size_t i = from; i < u->n; i++) {
		if (!is_digit(u->cp[i]))
			return false;
	}
	return true;
}

static bool is_hash(const struct ustr *u)
{
	if (u->n != PII_HASH_HEX_LEN)
		return false;
	for (size_t i = 0; i < u->n; i++) {
		if (u->cp[i] >= 0x80 || !is_hex((char)u->cp[i]))
			return false;
	}
	return true;
}

static bool is_country_code(const struct ustr *u)
{
	if (u->n != 2 || u->cp[0] < 'a' || u->cp[0] > 'z' || u->cp[1] < 'a' || u->cp[1] > 'z')
		return false;
	for (size_t i = 0; i + 1 < sizeof(iso3166_alpha2); i += 2) {
		if (iso3166_alpha2[i] == (char)u->cp[0] && iso3166_alpha2[i + 1] == (char)u->cp[1])
			return true;
	}
	return false;
}

/* ---- Meta ------------------------------------------------------------------ */

/* c is one of the ASCII characters in set (never matches NUL). */
static bool ascii_in(uint32_t c, const char *set)
{
	return c != 0 && c < 0x80 && strchr(set, (int)c) != NULL;
}

static bool meta_email_atom_char(uint32_t c)
{
	return is_ascii_alnum(c) || c == '_' || ascii_in(c, "!#$%&'*+/=?^`{|}~-");
}

static bool domain_char(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || is_digit(c);
}

/*
 * The SDK's "RFC 2822 approximation", matched by hand on a lower-cased
 * string: atom ((":")? "." atom)* "@" label ("." label)+ where an atom is
 * one or more of [\w!#$%&'*+/=?^`{|}~-] and a label is [a-z0-9] with
 * inner hyphens.  The optional ':' reproduces the SDK's "(:?" typo, which
 * accepts "a:.b@x.com"; matching it keeps our verdict equal to the SDK's.
 */
static bool meta_email_ok(const struct ustr *u)
{
	size_t i = 0, labels = 0;

	for (;;) {
		size_t start = i;

		while (i < u->n && meta_email_atom_char(u->cp[i]))
			i++;
		if (i == start)
			return false;
		if (i < u->n && u->cp[i] == ':' && i + 1 < u->n && u->cp[i + 1] == '.')
			i += 2;
		else if (i < u->n && u->cp[i] == '.')
			i++;
		else
			break;
	}
	if (i >= u->n || u->cp[i] != '@')
		return false;
	i++;
	for (;;) {
		size_t start = i;

		while (i < u->n && (domain_char(u->cp[i]) || u->cp[i] == '-'))
			i++;
		if (i == start || u->cp[start] == '-' || u->cp[i - 1] == '-')
			return false;
		labels++;
		if (i == u->n)
			break;
		if (u->cp[i] != '.')
			return false;
		i++;
	}
	return labels >= 2;
}

/* Characters the SDK strips from phones: -@#<>'",; ()+ and a-z (the input
 * is lower-cased already).  '.' and '/' are kept, as in the SDK. */
static bool meta_phone_drop(uint32_t c)
{
	return ascii_in(c, "-@#<>'\",; ()+") || (c >= 'a' && c <= 'z');
}

/* The SDK's isInternationalPhoneNumber() on a string that has no '+' or
 * parentheses left: up to two leading zeros dropped, then "1" + 10 digits
 * (North America) or any 7+ digits not starting with 0. */
static bool meta_phone_international(const struct ustr *u)
{
	size_t i = 0;

	while (i < 2 && i < u->n && u->cp[i] == '0')
		i++;
	if (i == u->n || u->cp[i] == '0' || !all_digits(u, i))
		return false;
	if (u->cp[i] == '1')
		return u->n - i == 11;
	return u->n - i >= 7;
}

/* Location fields: the SDK removes [0-9\s().-]. */
static bool meta_location_drop(uint32_t c)
{
	return is_digit(c) || is_js_space(c) || c == '(' || c == ')' || c == '.' || c == '-';
}

static int meta_rules(enum pii_field f, struct ustr *u, struct err *e)
{
	switch (f) {
	case PII_EMAIL:
		if (!meta_email_ok(u))
			return err_set(e, ERR_INVALID, "not an email address");
		break;
	case PII_PHONE:
		filter(u, meta_phone_drop);
		if (meta_phone_international(u)) {
			size_t z = 0;

			while (z < 2 && z < u->n && u->cp[z] == '0')
				z++;
			memmove(u->cp, u->cp + z, (u->n - z) * sizeof(u->cp[0]));
			u->n -= z;
		}
		if (u->n < 7 || u->n > 15)
			return err_set(e, ERR_INVALID,
				       "phone number has %zu characters, want 7 to 15", u->n);
		break;
	case PII_CITY:
	case PII_REGION:
		filter(u, meta_location_drop);
		break;
	case PII_POSTAL:
		filter(u, is_js_space);
		for (size_t i = 0; i < u->n; i++) {
			if (u->cp[i] == '-') {
				u->n = i;
				break;
			}
		}
		if (u->n < 2)
			return err_set(e, ERR_INVALID, "postal code too short");
		break;
	case PII_COUNTRY:
		if (!is_country_code(u))
			return err_set(e, ERR_INVALID, "not an ISO 3166-1 alpha-2 country code");
		break;
	default:
		break;
	}
	return 0;
}

/* ---- Google ------------------------------------------------------------------ */

static bool google_symbol_or_digit(uint32_t c)
{
	/* ASCII digits, punctuation, symbols and controls go; letters of
	 * every script (anything non-ASCII) and white space stay. */
	return c < 0x80 && !is_js_space(c) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z');
}

/* Control characters that are not white space: never part of a value. */
static bool is_control(uint32_t c)
{
	return (c < 0x20 || (c >= 0x7F && c < 0xA0)) && !is_js_space(c);
}

/* Collapse runs of white space into one ASCII space (trimmed already). */
static void collapse_space(struct ustr *u)
{
	size_t o = 0;

	for (size_t i = 0; i < u->n; i++) {
		if (is_js_space(u->cp[i])) {
			if (o > 0 && u->cp[o - 1] == ' ')
				continue;
			u->cp[o++] = ' ';
		} else {
			u->cp[o++] = u->cp[i];
		}
	}
	u->n = o;
}

static bool ustr_eq_ascii(const struct ustr *u, size_t from, const char *s)
{
	size_t n = strlen(s);

	if (u->n - from != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (u->cp[from + i] != (unsigned char)s[i])
			return false;
	}
	return true;
}

static int google_email(struct ustr *u, struct err *e)
{
	size_t at = u->n, n_at = 0, o = 0;

	filter(u, is_js_space);
	for (size_t i = 0; i < u->n; i++) {
		if (u->cp[i] == '@') {
			at = i;
			n_at++;
		}
	}
	if (n_at != 1 || at == 0 || at + 1 >= u->n || u->cp[at + 1] == '.' ||
	    u->cp[u->n - 1] == '.')
		return err_set(e, ERR_INVALID, "not an email address");
	if (ustr_eq_ascii(u, at + 1, "gmail.com") || ustr_eq_ascii(u, at + 1, "googlemail.com")) {
		/* Gmail ignores dots and a "+tag" in the local part; Google
		 * matches on the address without them (Data Manager "Format
		 * user data": cloudy.sanfrancisco+shopping@gmail.com →
		 * cloudysanfrancisco@gmail.com). */
		bool tag = false;

		for (size_t i = 0; i < u->n; i++) {
			if (i < at && u->cp[i] == '+')
				tag = true;
			if (i < at && (tag || u->cp[i] == '.'))
				continue;
			u->cp[o++] = u->cp[i];
		}
		u->n = o;
		if (u->cp[0] == '@')
			return err_set(e, ERR_INVALID, "not an email address");
	} else {
		bool dot = false;

		for (size_t i = at + 1; i < u->n; i++)
			dot |= u->cp[i] == '.';
		if (!dot)
			return err_set(e, ERR_INVALID, "not an email address");
	}
	return 0;
}

/* Honorifics before a given name and generational or academic suffixes
 * after a family name, lower case, without their dots: Data Manager's
 * "Format user data" (given_name: "Don't include prefixes such as Mrs.";
 * family_name: "Don't include suffixes such as Jr.";
 * https://developers.google.com/data-manager/api/get-started/formatting). */
static const char *const name_prefixes[] = { "mr", "mrs", "ms", "miss", "mx", "dr", "prof", NULL };
static const char *const name_suffixes[] = { "jr",  "sr",  "ii",  "iii", "iv",	"2nd",
					     "3rd", "4th", "phd", "md",	 "esq", NULL };

/* Whether u->cp[a..b) is one of list, ignoring '.' and ','. */
static bool token_in(const struct ustr *u, size_t a, size_t b, const char *const *list)
{
	char key[8];
	size_t k = 0;

	for (size_t i = a; i < b; i++) {
		if (u->cp[i] == '.' || u->cp[i] == ',')
			continue;
		if (u->cp[i] >= 0x80 || k + 1 >= sizeof(key))
			return false;
		key[k++] = (char)u->cp[i];
	}
	key[k] = '\0';
	for (size_t j = 0; k > 0 && list[j]; j++) {
		if (strcmp(key, list[j]) == 0)
			return true;
	}
	return false;
}

/*
 * Drop leading honorifics from a given name ("mrs. ana" → "ana") and
 * trailing suffixes from a family name ("silva jr." → "silva"), on the
 * trimmed, lower-cased value, before punctuation goes (so "3rd" is still
 * recognised).  A name that is nothing but such a word stays: "Dr" may be
 * somebody's name, and an identifier must not vanish.
 */
static void google_strip_affixes(enum pii_field f, struct ustr *u)
{
	for (;;) {
		size_t a = 0, b = 0;

		if (f == PII_FIRST_NAME) {
			while (b < u->n && !is_js_space(u->cp[b]))
				b++;
			if (b == u->n || !token_in(u, 0, b, name_prefixes))
				return;
			while (b < u->n && is_js_space(u->cp[b]))
				b++;
			memmove(u->cp, u->cp + b, (u->n - b) * sizeof(u->cp[0]));
			u->n -= b;
		} else {
			a = u->n;
			while (a > 0 && !is_js_space(u->cp[a - 1]))
				a--;
			if (a == 0 || !token_in(u, a, u->n, name_suffixes))
				return;
			while (a > 0 && is_js_space(u->cp[a - 1]))
				a--;
			u->n = a;
		}
	}
}

/*
 * E.164 with '+'.  A leading '+' or "00" marks the country code; without
 * either the digits are taken as already starting with the country code:
 * callers must supply international numbers (Shopify and GHL do; a
 * national number such as "(415) 555-0132" would be hashed as +4155550132
 * and simply not match).  A national trunk prefix ("0…") is refused.
 */
static int google_phone(struct ustr *u, struct err *e)
{
	size_t o = 0, i = 0;

	if (u->n > 0 && u->cp[0] == '+')
		i = 1;
	for (; i < u->n; i++) {
		if (is_digit(u->cp[i]))
			u->cp[o++] = u->cp[i];
	}
	u->n = o;
	if (u->n >= 2 && u->cp[0] == '0' && u->cp[1] == '0') {
		memmove(u->cp, u->cp + 2, (u->n - 2) * sizeof(u->cp[0]));
		u->n -= 2;
	}
	if (u->n < 7 || u->n > 15)
		return err_set(e, ERR_INVALID, "phone number has %zu digits, want 7 to 15", u->n);
	if (u->cp[0] == '0')
		return err_set(e, ERR_INVALID, "phone number has no country code");
	memmove(u->cp + 1, u->cp, u->n * sizeof(u->cp[0]));
	u->cp[0] = '+';
	u->n++;
	return 0;
}

static int google_rules(enum pii_field f, struct ustr *u, struct err *e)
{
	switch (f) {
	case PII_EMAIL:
		return google_email(u, e);
	case PII_PHONE:
		return google_phone(u, e);
	case PII_FIRST_NAME:
	case PII_LAST_NAME:
		google_strip_affixes(f, u);
		__attribute__((fallthrough));
	case PII_CITY:
	case PII_REGION:
		/* GA4: "remove digits and symbol characters, lowercase, remove
		 * leading and trailing spaces"; Google Ads: names "no
		 * punctuation", no extra spaces in between. */
		filter(u, google_symbol_or_digit);
		trim(u);
		collapse_space(u);
		break;
	case PII_POSTAL:
		/* Trimmed again after the controls go: "\x01\t117" must give
		 * "117", not " 117", or normalizing the result would change it
		 * (found by fuzz_woocommerce_parse). */
		filter(u, is_control);
		trim(u);
		collapse_space(u);
		break;
	case PII_COUNTRY:
		/* Lower case as GA4 normalizes it; Google Ads' countryCode and
		 * Data Manager's regionCode are upper-cased by their builders. */
		if (!is_country_code(u))
			return err_set(e, ERR_INVALID, "not an ISO 3166-1 alpha-2 country code");
		break;
	default:
		break;
	}
	return 0;
}

/* ---- TikTok ------------------------------------------------------------------ */

/*
 * Trimmed and lower-cased already; nothing else is changed (no gmail dots
 * or tags: TikTok asks for neither).  What cannot be an address is
 * refused: one '@', something before it, a dotted domain after it, no
 * white space or control characters inside.
 */
static int tiktok_email(const struct ustr *u, struct err *e)
{
	size_t at = u->n, n_at = 0;
	bool dot = false;

	for (size_t i = 0; i < u->n; i++) {
		if (is_js_space(u->cp[i]) || is_control(u->cp[i]))
			return err_set(e, ERR_INVALID, "not an email address");
		if (u->cp[i] == '@') {
			at = i;
			n_at++;
		} else if (n_at == 1 && u->cp[i] == '.') {
			dot = true;
		}
	}
	if (n_at != 1 || at == 0 || !dot || u->cp[at + 1] == '.' || u->cp[u->n - 1] == '.')
		return err_set(e, ERR_INVALID, "not an email address");
	return 0;
}

static int tiktok_rules(enum pii_field f, struct ustr *u, struct err *e)
{
	switch (f) {
	case PII_EMAIL:
		return tiktok_email(u, e);
	case PII_PHONE:
		/* E.164 with '+', the rule Google states too. */
		return google_phone(u, e);
	default:
		/* external_id: trimmed, kept as it is. */
		return 0;
	}
}

static int scheme_rules(enum pii_scheme s, enum pii_field f, struct ustr *u, struct err *e)
{
	switch (s) {
	case PII_SCHEME_META:
		return meta_rules(f, u, e);
	case PII_SCHEME_GOOGLE:
		return google_rules(f, u, e);
	default:
		return tiktok_rules(f, u, e);
	}
}

/* ---- entry points -------------------------------------------------------------- */

/* Normalize into u; *hashed set when the value already is a SHA-256. */
static int normalize_u(enum pii_scheme s, enum pii_field f, const char *in, struct ustr *u,
		       struct ustr *tmp, bool *hashed, struct err *e)
{
	int r;

	*hashed = false;
	if ((unsigned)s >= PII_SCHEME__COUNT || (unsigned)f >= PII_FIELD__COUNT)
		return err_set(e, ERR_INVALID, "unknown scheme or field");
	if (!pii_scheme_carries(s, f))
		return err_set(e, ERR_INVALID, "the %s scheme does not carry %s",
			       pii_scheme_name(s), pii_field_key(s, f));
	if (in == NULL || in[0] == '\0')
		return err_set(e, ERR_INVALID, "empty value");
	if (strnlen(in, PII_MAX_IN + 1) > PII_MAX_IN)
		return err_set(e, ERR_INVALID, "value longer than %d bytes", PII_MAX_IN);
	if (!utf8_decode(in, u))
		return err_set(e, ERR_INVALID, "value is not valid UTF-8");
	trim(u);
	/* Google and TikTok external ids keep their case: they are opaque
	 * keys (TikTok asks only that they be hashed). */
	if (!(s != PII_SCHEME_META && f == PII_EXTERNAL_ID) && !lower(u, tmp))
		return err_set(e, ERR_INVALID, "value too long");
	if (u->n == 0)
		return err_set(e, ERR_INVALID, "empty value");
	if (pii_is_hashed(s, f) && is_hash(u)) {
		/* Hashed upstream: lower-case hex, passed through.  Unlike the
		 * SDK, 32 hex digits (MD5) are not: a 32-hex value here is far
		 * more likely a token (Shopify's are) than a hash Meta takes. */
		for (size_t i = 0; i < u->n; i++) {
			if (u->cp[i] >= 'A' && u->cp[i] <= 'F')
				u->cp[i] += 32;
		}
		*hashed = true;
		return 0;
	}
	r = scheme_rules(s, f, u, e);
	if (r < 0)
		return r;
	/* Unlike the SDK (which would hash ""), an identifier that normalizes
	 * to nothing is no identifier. */
	if (u->n == 0)
		return err_set(e, ERR_INVALID, "value is empty after normalization");
	/* Outputs obey the input bound too, so normalizing a normalized value
	 * (conv_from_json does) always succeeds and changes nothing. */
	if (utf8_len(u) > PII_MAX_IN)
		return err_set(e, ERR_INVALID, "value longer than %d bytes", PII_MAX_IN);
	return 0;
}

/*
 * Wipe the clear PII left in the work buffers.  Only the part that can have
 * been written: no transformation yields more than three code points per
 * input byte, so wiping the whole 8 KiB buffers (16 KiB per field, dozens
 * of fields per conversion) would be most of the cost of hashing.
 */
static void wipe_work(const char *in, struct ustr *u, struct ustr *tmp)
{
	size_t n = in ? 3 * strlen(in) + 8 : PII_MAX_CP;

	if (n > PII_MAX_CP)
		n = PII_MAX_CP;
	sodium_memzero(u->cp, n * sizeof(u->cp[0]));
	sodium_memzero(tmp->cp, n * sizeof(tmp->cp[0]));
}

int pii_normalize(enum pii_scheme s, enum pii_field f, const char *in, char *out, size_t outlen,
		  struct err *e)
{
	struct ustr u, tmp;
	bool hashed;
	int r;

	r = normalize_u(s, f, in, &u, &tmp, &hashed, e);
	if (r == 0)
		r = utf8_encode(&u, out, outlen, e);
	wipe_work(in, &u, &tmp);
	return r;
}

int pii_prepare(enum pii_scheme s, enum pii_field f, const char *in, char *out, size_t outlen,
		struct err *e)
{
	char clear[PII_MAX_IN + 1]; /* normalize_u bounds every output */
	struct ustr u, tmp;
	bool hashed;
	int r;

	clear[0] = '\0';
	r = normalize_u(s, f, in, &u, &tmp, &hashed, e);
	if (r < 0)
		goto out;
	if (!pii_is_hashed(s, f) || hashed) {
		r = utf8_encode(&u, out, outlen, e);
		goto out;
	}
	if (outlen < PII_HASH_HEX_LEN + 1) {
		r = err_set(e, ERR_TOOBIG, "output buffer too small for a SHA-256");
		goto out;
	}
	r = utf8_encode(&u, clear, sizeof(clear), e);
	if (r < 0)
		goto out;
	pii_sha256_hex(clear, strlen(clear), out);
out:
	sodium_memzero(clear, strlen(clear));
	wipe_work(in, &u, &tmp);
	return r;
}
