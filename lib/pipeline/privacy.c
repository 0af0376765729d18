/*
 * privacy.c - privacy requests (privacy.h): the glue between a source's
 * `names` hook, which alone knows how its events name a person, and the
 * store's erase and export statements.
 */
#include "pipeline/privacy.h"
#include "store/privacy_store.h"

#include <cjson/cJSON.h>
#include <string.h>

struct names_arg {
	const struct source_ops *ops;
	const char *source_id;
	const char *key;
};

static bool names_cb(const struct privacy_raw *r, void *arg)
{
	const struct names_arg *a = arg;
	struct raw_event ev = { .id = r->id,
				.source_id = a->source_id,
				.topic = r->topic,
				.headers_json = r->headers_json,
				.body = r->body,
				.body_len = r->body_len,
				.received_us = r->received_us };

	return a->ops->names(&ev, a->key);
}

static int find_person(PGconn *conn, const struct source_ops *ops, const char *source_id,
		       const char *key, bool want_json, struct privacy_hits *hits, struct err *e)
{
	struct names_arg a = { ops, source_id, key };

	if (ops == NULL || ops->names == NULL)
		return err_set(e, ERR_INVALID, "sources of kind \"%s\" name no people",
			       ops ? ops->kind : "?");
	return privacy_store_find_raw(conn, source_id, key, names_cb, &a, want_json, hits, e);
}

int privacy_apply(PGconn *conn, const struct source_ops *ops, enum source_action action,
		  const char *source_id, const char *key, int64_t raw_id, const char *actor,
		  struct err *e)
{
	struct privacy_hits hits = { 0 };
	int rc;

	switch (action) {
	case SOURCE_ACTION_REDACT_SOURCE:
		return privacy_store_redact_source(conn, actor, source_id, raw_id, e);
	case SOURCE_ACTION_DATA_REQUEST:
		return privacy_store_audit(conn, actor, "privacy.data_request", source_id, key,
					   raw_id, e);
	case SOURCE_ACTION_REDACT_PERSON:
		break;
	default:
		return 0;
	}
	rc = find_person(conn, ops, source_id, key, false, &hits, e);
	if (rc == 0)
		rc = privacy_store_redact_person(conn, actor, source_id, key, &hits, raw_id, e);
	privacy_hits_cleanup(&hits);
	return rc;
}

int privacy_export(PGconn *conn, const char *source_id, const char *key, const char *actor,
		   cJSON **out, struct err *e)
{
	struct privacy_hits hits = { 0 };
	char kind[32];
	int rc;

	*out = NULL;
	rc = privacy_store_source_kind(conn, source_id, kind, e);
	if (rc == 0)
		rc = find_person(conn, source_ops_find(kind), source_id, key, true, &hits, e);
	if (rc == 0)
		rc = privacy_store_export(conn, source_id, key, &hits, out, e);
	if (rc == 0)
		rc = privacy_store_audit(conn, actor, "privacy.export", source_id, key, 0, e);
	if (rc != 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	privacy_hits_cleanup(&hits);
	return rc;
}
