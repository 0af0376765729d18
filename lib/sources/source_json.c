/*
 * source_json.c - typed access to untrusted webhook bodies (source_json.h).
 */
#include "sources/source_json.h"
#include "core/mem.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define MAX_EXACT_INT 9007199254740992.0 /* 2^53 */

cJSON *source_json_parse_object(const uint8_t *body, size_t len)
{
	const char *end = NULL;
	cJSON *root;

	if (body == NULL || len == 0)
		return NULL;
	root = cJSON_ParseWithLengthOpts((const char *)body, len, &end, false);
	while (root && end && (size_t)(end - (const char *)body) < len && *end &&
	       strchr(" \t\r\n", *end))
		end++;
	if (cJSON_IsObject(root) && end && (size_t)(end - (const char *)body) == len)
		return root;
	cJSON_Delete(root);
	return NULL;
}

const char *source_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *source_json_obj(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

	return cJSON_IsObject(v) ? v : NULL;
}

bool source_json_exact_id(const cJSON *v, bool strings_ok, int64_t min, char out[24])
{
	if (strings_ok && cJSON_IsString(v) && text_is_digits(v->valuestring, 19)) {
		memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
		return true;
	}
	if (cJSON_IsNumber(v) && v->valuedouble >= (double)min && v->valuedouble < MAX_EXACT_INT &&
	    (double)(int64_t)v->valuedouble == v->valuedouble) {
		snprintf(out, 24, "%lld", (long long)v->valuedouble);
		return true;
	}
	return false;
}

/* out holds SOURCE_MAX_TOKEN + 1 bytes. */
static bool item_id(const cJSON *li, const char *const *id_keys, char *out)
{
	const char *sku = source_json_str(li, "sku");

	if (sku && sku[0] && strlen(sku) <= SOURCE_MAX_TOKEN &&
	    text_is_printable_ascii(sku, true)) {
		memcpy(out, sku, strlen(sku) + 1);
		return true;
	}
	for (; *id_keys; id_keys++) {
		/* 0 means "none" (WooCommerce's variation_id of a simple
		 * product): fall through to the next key. */
		if (source_json_exact_id(cJSON_GetObjectItemCaseSensitive(li, *id_keys), true, 1,
					 out))
			return true;
	}
	return false;
}

void source_items_collect(const cJSON *root, const char *key, const char *const *id_keys,
			  const char *name_key, int64_t qmin, source_item_price_fn price_fn,
			  struct conversion *c)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
	const cJSON *li;
	int size;
	size_t cap;

	if (!cJSON_IsArray(arr))
		return;
	size = cJSON_GetArraySize(arr);
	cap = size > SOURCE_MAX_ITEMS ? SOURCE_MAX_ITEMS : (size_t)size;
	if (cap == 0)
		return;
	c->items = xcalloc(cap, sizeof(*c->items));
	cJSON_ArrayForEach (li, arr) {
		char id[SOURCE_MAX_TOKEN + 1];
		const char *name = source_json_str(li, name_key);
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(li, "quantity");
		struct conv_item *it;

		if (c->n_items == cap)
			break;
		if (!cJSON_IsObject(li) || !item_id(li, id_keys, id))
			continue;
		it = &c->items[c->n_items++];
		it->id = xstrdup(id);
		if (name && name[0] && text_is_clean(name, SOURCE_MAX_TEXT))
			it->name = xstrdup(name);
		it->quantity = 1;
		if (cJSON_IsNumber(q) && q->valuedouble >= (double)qmin && q->valuedouble < 1e9 &&
		    (double)(int64_t)q->valuedouble == q->valuedouble)
			it->quantity = (int64_t)q->valuedouble;
		it->price = price_fn(li, it->quantity);
	}
}

int source_json_money(const cJSON *root, const char *value_key, struct conversion *c, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, value_key);
	const char *cur = source_json_str(root, "currency");

	if (v && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v) || !text_is_decimal(v->valuestring))
			return err_set(e, ERR_INVALID, "%s is not a decimal string", value_key);
		c->value = xstrdup(v->valuestring);
	}
	if (cur && strlen(cur) == 3 &&
	    strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 3) {
		c->currency = xstrdup(cur);
		for (char *p = c->currency; *p; p++) {
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
		}
	}
	return 0;
}
