/*
 * testutil.c - fixture loading and temp files for unit tests, and the
 * scaffolding the destination tests share (conversions, a destination to
 * build with, JSON lookups into the built body).
 */
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "core/conversion.h"
#include "core/mem.h"
#include "destinations/dest.h"

char *test_read_fixture(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	long n;
	char *data;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open fixture %s\n", path);
		abort();
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n)
		abort();
	data[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return data;
}

char *test_write_temp(const char *text)
{
	char *path = strdup("/tmp/adseng-test-XXXXXX");
	int fd = mkstemp(path);
	size_t n = strlen(text);

	if (fd < 0 || write(fd, text, n) != (ssize_t)n)
		abort();
	close(fd);
	return path;
}

struct conversion *test_conversion(const char *event, const char *event_id, int64_t occurred_us)
{
	struct conversion *c = conv_new();

	c->event = xstrdup(event);
	c->event_id = xstrdup(event_id);
	c->occurred_us = occurred_us;
	return c;
}

void test_conversion_add_item(struct conversion *c, const char *id, const char *name,
			      const char *price, int64_t quantity)
{
	c->items = realloc(c->items, (c->n_items + 1) * sizeof(*c->items));
	assert_non_null(c->items);
	c->items[c->n_items].id = xstrdup_opt(id);
	c->items[c->n_items].name = xstrdup_opt(name);
	c->items[c->n_items].price = xstrdup_opt(price);
	c->items[c->n_items].quantity = quantity;
	c->n_items++;
}

void test_dest_init(struct destination *d, const struct dest_ops *ops, const char *base_url,
		    const char *settings, const char *creds)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->kind, sizeof(d->kind), "%s", ops->kind);
	d->base_url = xstrdup(base_url);
	d->settings = cJSON_Parse(settings);
	assert_non_null(d->settings);
	d->creds = xstrdup_opt(creds);
	d->ops = ops;
}

void test_dest_cleanup(struct destination *d)
{
	free(d->base_url);
	free(d->api_version);
	cJSON_Delete(d->settings);
	free(d->creds);
}

cJSON *test_json_at(const cJSON *obj, const char *path)
{
	char buf[128];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && obj; k = strtok_r(NULL, ".", &save))
		obj = cJSON_GetObjectItemCaseSensitive(obj, k);
	return (cJSON *)obj;
}

const char *test_json_str(const cJSON *obj, const char *path)
{
	const cJSON *v = test_json_at(obj, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *test_json_item(const cJSON *obj, const char *key, int i)
{
	cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(obj, key), i);

	assert_non_null(it);
	return it;
}
