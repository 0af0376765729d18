/*
 * json_build.c - cJSON building and reading helpers (json_build.h).
 */
#include "core/json_build.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_add_string(cJSON *obj, const char *key, const char *val, bool *ok)
{
	if (!*ok || obj == NULL || val == NULL)
		return;
	if (cJSON_AddStringToObject(obj, key, val) == NULL)
		*ok = false;
}

void json_add_raw(cJSON *obj, const char *key, const char *raw, bool *ok)
{
	if (!*ok || obj == NULL || raw == NULL)
		return;
	if (cJSON_AddRawToObject(obj, key, raw) == NULL)
		*ok = false;
}

void json_add_int(cJSON *obj, const char *key, int64_t v, bool *ok)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRId64, v);
	json_add_raw(obj, key, text, ok);
}

void json_add_bool(cJSON *obj, const char *key, bool v, bool *ok)
{
	if (!*ok || obj == NULL)
		return;
	if (cJSON_AddBoolToObject(obj, key, v) == NULL)
		*ok = false;
}

void json_attach(cJSON *parent, const char *key, cJSON *item, bool *ok)
{
	bool added;

	if (item == NULL) {
		*ok = false;
		return;
	}
	if (!*ok || parent == NULL) {
		cJSON_Delete(item);
		return;
	}
	added = key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item);
	if (!added) {
		cJSON_Delete(item);
		*ok = false;
	}
}

void json_add_string_array1(cJSON *obj, const char *key, const char *val, bool *ok)
{
	cJSON *arr;

	if (!*ok || val == NULL)
		return;
	arr = cJSON_CreateArray();
	if (arr)
		json_attach(arr, NULL, cJSON_CreateString(val), ok);
	json_attach(obj, key, arr, ok);
}

long json_code(const cJSON *v, long max)
{
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= (double)max)
		return (long)v->valuedouble;
	if (cJSON_IsString(v) && text_is_digits(v->valuestring, 9)) {
		long n = strtol(v->valuestring, NULL, 10);

		return n <= max ? n : -1;
	}
	return -1;
}

const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring[0] != '\0' ? v->valuestring : NULL;
}

void json_wipe_strings(cJSON *node)
{
	for (; node; node = node->next) {
		if (cJSON_IsString(node) && node->valuestring)
			sodium_memzero(node->valuestring, strlen(node->valuestring));
		json_wipe_strings(node->child);
	}
}
