/*
 * conversion.c - lifecycle of struct conversion and its list.  PII setting
 * lives in conversion_pii.c and JSON (de)serialization in conversion_json.c.
 */
#include "core/conversion.h"
#include "core/mem.h"

#include <stdlib.h>

static const char *const click_names[CLICK__COUNT] = {
	[CLICK_GCLID] = "gclid",   [CLICK_GBRAID] = "gbraid", [CLICK_WBRAID] = "wbraid",
	[CLICK_FBCLID] = "fbclid", [CLICK_FBC] = "fbc",	      [CLICK_FBP] = "fbp",
	[CLICK_TTCLID] = "ttclid", [CLICK_TTP] = "ttp",	      [CLICK_GA_CLIENT_ID] = "ga_client_id",
};

const char *click_field_name(enum click_field f)
{
	return (unsigned)f < CLICK__COUNT ? click_names[f] : "?";
}

struct conversion *conv_new(void)
{
	struct conversion *c = xcalloc(1, sizeof(struct conversion));

	c->refcnt = 1;
	return c;
}

struct conversion *conv_ref(struct conversion *c)
{
	c->refcnt++;
	return c;
}

void conv_free(struct conversion *c)
{
	if (c == NULL || --c->refcnt > 0)
		return;
	free(c->event);
	free(c->event_id);
	free(c->value);
	free(c->currency);
	free(c->order_id);
	free(c->page_url);
	free(c->client_ip);
	free(c->user_agent);
	for (int s = 0; s < PII_SCHEME__COUNT; s++) {
		for (int f = 0; f < PII_FIELD__COUNT; f++)
			free(c->ids[s][f]);
	}
	for (int i = 0; i < CLICK__COUNT; i++)
		free(c->click[i]);
	for (size_t i = 0; i < c->n_items; i++) {
		free(c->items[i].id);
		free(c->items[i].name);
		free(c->items[i].price);
	}
	free(c->items);
	free(c->consent_ad_user_data);
	free(c->consent_ad_personalization);
	free(c);
}

void conv_set_click(struct conversion *c, enum click_field f, const char *value)
{
	if ((unsigned)f >= CLICK__COUNT || value == NULL || value[0] == '\0' || c->click[f])
		return;
	c->click[f] = xstrdup(value);
}

void conv_list_init(struct conv_list *l)
{
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}

void conv_list_push(struct conv_list *l, struct conversion *c)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = c;
}

void conv_list_cleanup(struct conv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		conv_free(l->v[i]);
	free(l->v);
	conv_list_init(l);
}
