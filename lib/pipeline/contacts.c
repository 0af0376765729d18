/*
 * contacts.c - stage 1's per-source memory of people (contacts.h).
 *
 * The stored form reuses the conversion's own JSON (conv_to_json's "ids"
 * and "click" objects), flattened one level so that PostgreSQL's jsonb ||
 * replaces one field at a time: a ContactUpdate with a new email replaces
 * the email hash and keeps the phone.  Reading back goes through
 * conv_from_json, so a stored value is validated like any conversion's
 * (hashes are hex, click ids are tokens) and nothing here knows a platform
 * or a field name.
 */
#include "pipeline/contacts.h"
#include "core/mem.h"
#include "store/contact_store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Add "<prefix>.<name>" → value for every string member of obj (and, one
 * level down, of its object members: ids.<scheme>.<field>). */
static bool flatten_into(cJSON *flat, const cJSON *obj, const char *prefix)
{
	const cJSON *m;

	cJSON_ArrayForEach (m, obj) {
		char *name = xasprintf("%s.%s", prefix, m->string);
		bool ok = true;

		if (cJSON_IsObject(m))
			ok = flatten_into(flat, m, name);
		else if (cJSON_IsString(m))
			ok = cJSON_AddStringToObject(flat, name, m->valuestring) != NULL;
		free(name);
		if (!ok)
			return false;
	}
	return true;
}

char *contacts_flatten(const struct conversion *c)
{
	cJSON *j = conv_to_json(c);
	cJSON *flat = cJSON_CreateObject();
	char *text = NULL;

	if (j == NULL || flat == NULL)
		abort(); /* allocation failure only */
	if (flatten_into(flat, cJSON_GetObjectItemCaseSensitive(j, "ids"), "ids") &&
	    flatten_into(flat, cJSON_GetObjectItemCaseSensitive(j, "click"), "click"))
		text = cJSON_PrintUnformatted(flat);
	cJSON_Delete(flat);
	cJSON_Delete(j);
	if (text == NULL)
		abort();
	return text;
}

/* Put value at the dotted path name ("ids.meta.em") under root. */
static bool unflatten_one(cJSON *root, const char *name, const char *value)
{
	char *copy = xstrdup(name), *save = NULL;
	cJSON *at = root;
	bool ok = false;
	char *part = strtok_r(copy, ".", &save);

	while (part) {
		char *next = strtok_r(NULL, ".", &save);
		cJSON *child = cJSON_GetObjectItemCaseSensitive(at, part);

		if (next == NULL) {
			ok = child == NULL && cJSON_AddStringToObject(at, part, value) != NULL;
			break;
		}
		if (child == NULL)
			child = cJSON_AddObjectToObject(at, part);
		if (!cJSON_IsObject(child))
			break;
		at = child;
		part = next;
	}
	free(copy);
	return ok;
}

struct conversion *contacts_unflatten(const char *flat)
{
	cJSON *in = flat ? cJSON_Parse(flat) : NULL;
	cJSON *j = cJSON_CreateObject();
	struct conversion *c = NULL;
	const cJSON *m;
	struct err e = { 0 };

	if (j == NULL)
		abort();
	if (!cJSON_IsObject(in))
		goto out;
	/* conv_from_json wants a whole conversion: these three are dummies. */
	if (!cJSON_AddStringToObject(j, "event", "contact") ||
	    !cJSON_AddStringToObject(j, "event_id", "contact") ||
	    !cJSON_AddStringToObject(j, "occurred_at", "1970-01-01T00:00:00Z"))
		abort();
	cJSON_ArrayForEach (m, in) {
		if (!cJSON_IsString(m) ||
		    !(strncmp(m->string, "ids.", 4) == 0 || strncmp(m->string, "click.", 6) == 0) ||
		    !unflatten_one(j, m->string, m->valuestring))
			goto out;
	}
	if (conv_from_json(j, &c, &e) != 0)
		c = NULL;
out:
	cJSON_Delete(in);
	cJSON_Delete(j);
	return c;
}

void contacts_fill(struct conversion *c, const struct conversion *known)
{
	for (int s = 0; s < PII_SCHEME__COUNT; s++) {
		for (int f = 0; f < PII_FIELD__COUNT; f++) {
			if (c->ids[s][f] == NULL && known->ids[s][f])
				c->ids[s][f] = xstrdup(known->ids[s][f]);
		}
	}
	for (int f = 0; f < CLICK__COUNT; f++) {
		if (c->click[f] == NULL && known->click[f])
			c->click[f] = xstrdup(known->click[f]);
	}
}

int contacts_apply(PGconn *conn, const struct source_ops *ops, const struct raw_event *ev,
		   struct conv_list *convs, size_t first, struct err *e)
{
	struct source_contact sc = { 0 };
	struct conversion *known = NULL;
	char *flat = NULL, *now = NULL;
	int rc = 0;

	if (ops->contact == NULL)
		return 0;
	ops->contact(ev, &sc);
	if (sc.key[0] == '\0')
		goto out;
	if (sc.known)
		flat = contacts_flatten(sc.known);
	/* Nothing to merge and no conversion to fill: no round trip. */
	if (flat == NULL && first == convs->n)
		goto out;
	rc = contact_store_merge(conn, ev->source_id, sc.key, flat, &now, e);
	if (rc != 0 || now == NULL)
		goto out;
	known = contacts_unflatten(now);
	for (size_t i = first; known && i < convs->n; i++)
		contacts_fill(convs->v[i], known);
out:
	conv_free(known);
	conv_free(sc.known);
	free(now);
	cJSON_free(flat);
	return rc;
}
