/*
 * clickid.c - advertising click ids from landing URLs and cart attributes.
 *
 * URLs are parsed with curl's URL API so that relative landing paths,
 * odd schemes, fragments and user info are handled the way a real client
 * would; only the query is read here.  The query is split on '&' and each
 * name and value is percent-decoded exactly once.  '+' is not turned into
 * a space: click ids are URL-safe tokens that never contain spaces, so a
 * '+' is either a literal '+' some encoder left alone (kept faithfully) or
 * a form-encoded space, which makes the value invalid either way.  Values
 * are accepted only as printable ASCII tokens of bounded length, since they
 * are sent back to the platforms verbatim.
 */
#include "core/clickid.h"
#include "core/mem.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLICKID_MAX_URL	   16384 /* longer landing URLs are not real ones */
#define CLICKID_MAX_VALUE  512	 /* gclids run to ~100 chars, fbclids ~60 */
#define CLICKID_MAX_PARAMS 512	 /* query parameters looked at */
/* Host for relative URLs when the shop's domain is not known; .invalid is
 * reserved (RFC 6761) so it can never be mistaken for a real site. */
#define PLACEHOLDER_BASE "https://placeholder.invalid/"
#define URL_FLAGS	 (CURLU_NON_SUPPORT_SCHEME | CURLU_ALLOW_SPACE)

static const struct {
	const char *name;
	enum click_field field;
} url_params[] = {
	{ "gclid", CLICK_GCLID },   { "gbraid", CLICK_GBRAID }, { "wbraid", CLICK_WBRAID },
	{ "fbclid", CLICK_FBCLID }, { "ttclid", CLICK_TTCLID },
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) into out (outlen with the NUL).  false on a bad
 * escape, a decoded NUL, or no room. */
static bool pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return false;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			ch = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = ch;
	}
	out[o] = '\0';
	return true;
}

/* A click id as platforms issue them: printable ASCII, no spaces. */
static bool token_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7F)
			return false;
	}
	return n > 0 && n <= CLICKID_MAX_VALUE;
}

static void set_fbc_from_fbclid(struct conversion *c, const char *fbclid, int64_t seen_ms)
{
	char fbc[CLICKID_MAX_VALUE + 64];
	int n;

	/* Without a first-seen time there is no honest fbc to build. */
	if (c->click[CLICK_FBC] || seen_ms <= 0)
		return;
	n = snprintf(fbc, sizeof(fbc), "fb.1.%lld.%s", (long long)seen_ms, fbclid);
	/* Every click value obeys the same bound, fbc included. */
	if (n > 0 && n <= CLICKID_MAX_VALUE)
		conv_set_click(c, CLICK_FBC, fbc);
}

/* Find the click ids in a raw query string; found[] gets the first valid
 * value of each (heap, caller frees). */
static void scan_query(const char *q, char *found[CLICK__COUNT])
{
	const char *p = q;

	for (int n = 0; *p && n < CLICKID_MAX_PARAMS; n++) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		char name[16], value[CLICKID_MAX_VALUE + 1];

		if (eq && pct_decode(p, (size_t)(eq - p), name, sizeof(name))) {
			for (size_t i = 0; i < sizeof(url_params) / sizeof(url_params[0]); i++) {
				enum click_field f = url_params[i].field;

				if (strcmp(name, url_params[i].name) != 0 || found[f])
					continue;
				if (pct_decode(eq + 1, len - (size_t)(eq + 1 - p), value,
					       sizeof(value)) &&
				    token_ok(value))
					found[f] = xstrdup(value);
			}
		}
		p += len;
		if (*p == '&')
			p++;
	}
}

int clickid_from_url(struct conversion *c, const char *url, const char *base, int64_t seen_ms)
{
	char *found[CLICK__COUNT] = { 0 };
	CURLU *h = NULL;
	char *query = NULL;
	CURLUcode rc;
	int result = ERR_INVALID;

	if (c == NULL || url == NULL || url[0] == '\0' ||
	    strnlen(url, CLICKID_MAX_URL + 1) > CLICKID_MAX_URL)
		return ERR_INVALID;
	h = curl_url();
	if (h == NULL)
		return ERR_NOMEM;
	/* A base that does not parse (a bad shop domain) falls back to the
	 * placeholder: only the query matters here. */
	if (base == NULL || curl_url_set(h, CURLUPART_URL, base, URL_FLAGS) != CURLUE_OK) {
		if (curl_url_set(h, CURLUPART_URL, PLACEHOLDER_BASE, 0) != CURLUE_OK)
			goto out;
	}
	if (curl_url_set(h, CURLUPART_URL, url, URL_FLAGS) != CURLUE_OK)
		goto out;
	rc = curl_url_get(h, CURLUPART_QUERY, &query, 0);
	if (rc == CURLUE_NO_QUERY) {
		result = 0;
		goto out;
	}
	if (rc != CURLUE_OK || query == NULL)
		goto out;
	scan_query(query, found);
	for (int f = 0; f < CLICK__COUNT; f++)
		conv_set_click(c, (enum click_field)f, found[f]);
	/* fbc only from the fbclid the conversion actually keeps. */
	if (found[CLICK_FBCLID] && strcmp(c->click[CLICK_FBCLID], found[CLICK_FBCLID]) == 0)
		set_fbc_from_fbclid(c, found[CLICK_FBCLID], seen_ms);
	result = 0;
out:
	for (int f = 0; f < CLICK__COUNT; f++)
		free(found[f]);
	curl_free(query);
	curl_url_cleanup(h);
	return result;
}

/* "GA1.1.1234567890.1732662000" → "1234567890.1732662000"; anything not
 * shaped like a _ga cookie is returned as is. */
static const char *ga_client_id(const char *v)
{
	const char *p = v;

	if (p[0] != 'G' || p[1] != 'A')
		return v;
	p += 2;
	for (int part = 0; part < 2; part++) {
		if (*p < '0' || *p > '9')
			return v;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p++ != '.')
			return v;
	}
	return *p ? p : v;
}

static const struct {
	const char *name;
	enum click_field field;
} attr_names[] = {
	{ "gclid", CLICK_GCLID },
	{ "gbraid", CLICK_GBRAID },
	{ "wbraid", CLICK_WBRAID },
	{ "fbclid", CLICK_FBCLID },
	{ "ttclid", CLICK_TTCLID },
	{ "_fbp", CLICK_FBP },
	{ "fbp", CLICK_FBP },
	{ "_fbc", CLICK_FBC },
	{ "fbc", CLICK_FBC },
	{ "_ttp", CLICK_TTP },
	{ "ttp", CLICK_TTP },
	{ "_ga", CLICK_GA_CLIENT_ID },
	{ "ga_client_id", CLICK_GA_CLIENT_ID },
};

void clickid_from_attribute(struct conversion *c, const char *name, const char *value,
			    int64_t seen_ms)
{
	char v[CLICKID_MAX_VALUE + 1];
	size_t a = 0, b;

	if (c == NULL || name == NULL || value == NULL)
		return;
	/* Storefront scripts are careless with white space around values. */
	b = strnlen(value, 4 * CLICKID_MAX_VALUE + 1);
	if (b > 4 * CLICKID_MAX_VALUE)
		return;
	while (a < b && (value[a] == ' ' || value[a] == '\t'))
		a++;
	while (b > a && (value[b - 1] == ' ' || value[b - 1] == '\t'))
		b--;
	if (b - a > CLICKID_MAX_VALUE || b == a)
		return;
	memcpy(v, value + a, b - a);
	v[b - a] = '\0';
	if (!token_ok(v))
		return;
	for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++) {
		enum click_field f = attr_names[i].field;

		if (!str_ieq(name, attr_names[i].name))
			continue;
		if (f == CLICK_GA_CLIENT_ID) {
			conv_set_click(c, f, ga_client_id(v));
		} else {
			conv_set_click(c, f, v);
			if (f == CLICK_FBCLID && c->click[CLICK_FBCLID] &&
			    strcmp(c->click[CLICK_FBCLID], v) == 0)
				set_fbc_from_fbclid(c, v, seen_ms);
		}
		return;
	}
}
