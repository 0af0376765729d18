/*
 * source_adjust.c - the list of adjustment records a source's parser
 * reports (source.h "struct source_adjustment"): a plain growable array
 * whose records own their strings.
 */
#include "sources/source.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

void source_adjust_list_init(struct source_adjust_list *l)
{
	memset(l, 0, sizeof(*l));
}

struct source_adjustment *source_adjust_list_add(struct source_adjust_list *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	return &l->v[l->n++];
}

void source_adjust_list_truncate(struct source_adjust_list *l, size_t n)
{
	for (size_t i = n; i < l->n; i++) {
		free(l->v[i].event_id);
		free(l->v[i].amount);
		free(l->v[i].currency);
		free(l->v[i].reason);
		free(l->v[i].key);
	}
	if (n < l->n)
		l->n = n;
}

void source_adjust_list_cleanup(struct source_adjust_list *l)
{
	source_adjust_list_truncate(l, 0);
	free(l->v);
	source_adjust_list_init(l);
}
