/*
 * reconcile.c - one reconcile run, and the periodic runs (reconcile.h).
 *
 * The source's own hooks say how its API lists items (source_ops.rest:
 * page URL, auth header, page size), and its own parser decides what a
 * conversion is and its event id, so nothing here knows a platform.  Each
 * listed item not yet a conversion is stored as a raw event with the dedup
 * key a webhook of it would have: a webhook arriving later, or a second
 * run, is a duplicate.
 */
#include "pipeline/reconcile.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/vault.h"
#include "net/fetch.h"
#include "sources/source.h"
#include "store/admin.h"
#include "store/catalog_store.h"
#include "store/db.h"
#include "store/ingest_store.h"
#include "store/reconcile_store.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PAGES 10000 /* a million orders: a list that never ends is a bug */

struct run {
	const struct reconcile_ctx *ctx;
	const struct source_ops *ops;
	const char *source_id;
	char *settings_json;
	char *base_url;
	char *auth;	 /* the Authorization value, sodium_malloc'd */
	char since[24];	 /* "2026-11-27T10:00:00", UTC */
	char marker[32]; /* X-Adseng-Reconciled: when this run started */
	struct reconcile_stats *st;
};

/* unix microseconds as "2026-11-27T10:00:00" (UTC, no offset). */
static void format_gmt(int64_t us, char out[24])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* ---- the source ------------------------------------------------------------------- */

static int open_credentials(struct run *r, const uint8_t *sealed, size_t len, struct err *e)
{
	unsigned char *plain = NULL;
	size_t plain_len = 0;
	char ad[VAULT_AD_MAX];
	int rc;

	vault_ad(ad, "source", r->source_id, "rest_credentials");
	rc = vault_unseal(r->ctx->vault, sealed, len, ad, &plain, &plain_len, e);
	if (rc == 0)
		rc = r->ops->rest->auth_header((const char *)plain, &r->auth, e);
	vault_free_plain(plain);
	return rc;
}

/* Kind, settings and credentials of the source, checked for a run. */
static int load_source(struct run *r, struct err *e)
{
	struct source_rest_row row;
	cJSON *settings = NULL;
	const cJSON *url;
	int rc;

	rc = catalog_load_source_rest(r->ctx->conn, r->source_id, &row, e);
	if (rc != 0)
		return rc;
	r->ops = source_ops_find(row.kind);
	if (r->ops == NULL || r->ops->rest == NULL) {
		rc = err_set(e, ERR_INVALID, "a %s source has no API to reconcile through",
			     row.kind);
		goto out;
	}
	settings = cJSON_Parse(row.settings_json);
	url = cJSON_GetObjectItemCaseSensitive(settings, "store_url");
	if (!cJSON_IsString(url) || url->valuestring[0] == '\0')
		rc = err_set(e, ERR_INVALID,
			     "the source has no store_url: add it with --store-url");
	else if (row.sealed == NULL)
		rc = err_set(e, ERR_INVALID,
			     "the source has no REST credentials: add them with "
			     "--rest-credentials-file");
	if (rc == 0) {
		r->base_url = xstrdup(url->valuestring);
		r->settings_json = row.settings_json;
		row.settings_json = NULL;
		rc = open_credentials(r, row.sealed, row.sealed_len, e);
	}
out:
	cJSON_Delete(settings);
	catalog_source_rest_cleanup(&row);
	return rc;
}

/* ---- one page --------------------------------------------------------------------- */

/* GET one page; *items is the parsed JSON array. */
static int fetch_page(struct run *r, int page, cJSON **items, struct err *e)
{
	struct upload_req req;
	struct fetch_result res = { 0 };
	char line[200];
	int rc;

	upload_req_init(&req);
	req.method = UPLOAD_GET;
	req.url = r->ops->rest->page_url(r->base_url, r->since, page);
	req.log_url = xstrdup(req.url); /* the credential travels in a header */
	upload_req_add_header(&req, "Authorization: %s", r->auth);
	upload_req_add_header(&req, "Accept: application/json");
	rc = net_fetch(&req, &res, e);
	if (rc != 0)
		return rc;
	if (res.resp.transport_error) {
		rc = err_set(e, ERR_IO, "could not reach %s: %s", r->base_url,
			     res.resp.transport_msg);
	} else if (res.resp.status != 200) {
		text_copy_line(line, sizeof(line), res.resp.body ? res.resp.body : "");
		rc = err_set(e, ERR_IO, "the shop answered %ld to page %d: %s", res.resp.status,
			     page, line);
	} else {
		*items = cJSON_ParseWithLength(res.resp.body, res.resp.body_len);
		if (!cJSON_IsArray(*items)) {
			cJSON_Delete(*items);
			*items = NULL;
			rc = err_set(e, ERR_INVALID, "page %d is not a JSON array", page);
		}
	}
	fetch_result_cleanup(&res);
	return rc;
}

/* A row to store for an item, with the text it owns. */
struct pending_row {
	char *body;
	char dedup[SOURCE_DEDUP_MAX];
};

/*
 * Decide for one item: not a conversion (unpaid), already converted, or
 * to be stored (p filled, *store true).
 */
static int examine(struct run *r, const cJSON *item, struct pending_row *p, bool *store,
		   struct err *e)
{
	const struct source_rest *rest = r->ops->rest;
	struct http_header h = { rest->topic_header, rest->topic };
	struct raw_event ev = { .topic = rest->topic, .settings_json = r->settings_json };
	struct http_req req = { .method = "POST", .headers = &h, .n_headers = 1 };
	struct conv_list l;
	struct err pe = { 0 };
	bool have = false;
	int rc = 0;

	*store = false;
	p->body = cJSON_PrintUnformatted(item);
	if (p->body == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	ev.source_id = r->source_id;
	ev.body = (const uint8_t *)p->body;
	ev.body_len = strlen(p->body);
	ev.received_us = clock_wall_ms() * 1000;
	conv_list_init(&l);
	if (r->ops->parse(&ev, &l, &pe) != 0 || l.n == 0) {
		r->st->not_conversions++; /* unpaid, or nothing stage 1 could use */
		goto out;
	}
	rc = catalog_conversion_exists(r->ctx->conn, r->source_id, l.v[0]->event_id, &have, e);
	if (rc != 0 || have) {
		r->st->present += have;
		goto out;
	}
	req.body = ev.body;
	req.body_len = ev.body_len;
	rc = r->ops->dedup_key(&req, p->dedup, sizeof(p->dedup), e);
	*store = rc == 0;
out:
	conv_list_cleanup(&l);
	return rc;
}

/* Store the items of one page that are no conversion yet. */
static int feed_page(struct run *r, const cJSON *items, struct err *e)
{
	size_t n = (size_t)cJSON_GetArraySize(items), k = 0;
	struct pending_row *rows = xcalloc(n ? n : 1, sizeof(*rows));
	struct ingest_row *ins = xcalloc(n ? n : 1, sizeof(*ins));
	char *headers = xasprintf("{\"X-Adseng-Reconciled\":\"%s\"}", r->marker);
	const cJSON *o;
	int rc = 0;

	cJSON_ArrayForEach (o, items) {
		bool store = false;

		r->st->items++;
		rc = examine(r, o, &rows[k], &store, e);
		if (rc != 0)
			break;
		if (!store) {
			cJSON_free(rows[k].body);
			rows[k].body = NULL;
			continue;
		}
		ins[k] = (struct ingest_row){ .source_id = r->source_id,
					      .dedup_key = rows[k].dedup,
					      .topic = r->ops->rest->topic,
					      .headers_json = headers,
					      .headers_len = strlen(headers),
					      .body = (const uint8_t *)rows[k].body,
					      .body_len = strlen(rows[k].body) };
		k++;
	}
	if (rc == 0 && k > 0)
		rc = ingest_store_insert(r->ctx->conn, ins, k, e);
	for (size_t i = 0; rc == 0 && i < k; i++) {
		if (ins[i].raw_id)
			r->st->stored++;
		else
			r->st->duplicates++;
	}
	for (size_t i = 0; i < n; i++)
		cJSON_free(rows[i].body);
	free(rows);
	free(ins);
	free(headers);
	return rc;
}

static int run_pages(struct run *r, struct err *e)
{
	int rc = ingest_store_prepare(r->ctx->conn, e);

	for (int page = 1; rc == 0 && page <= MAX_PAGES; page++) {
		cJSON *items = NULL;
		int n;

		if (r->ctx->should_stop && r->ctx->should_stop(r->ctx->stop_arg))
			return err_set(e, ERR_IO, "stopped after %d pages", page - 1);
		rc = fetch_page(r, page, &items, e);
		if (rc != 0)
			break;
		r->st->pages++;
		n = cJSON_GetArraySize(items);
		rc = feed_page(r, items, e);
		cJSON_Delete(items);
		if (r->ctx->progress)
			r->ctx->progress(r->ctx->progress_arg, r->st->items);
		if (n < r->ops->rest->per_page)
			break; /* a short page is the last one */
	}
	return rc;
}

/* ---- the operations ----------------------------------------------------------------- */

cJSON *reconcile_stats_json(const char *source_id, int64_t since_us,
			    const struct reconcile_stats *st)
{
	cJSON *j = cJSON_CreateObject();
	char since[24];

	format_gmt(since_us, since);
	if (j && (!cJSON_AddStringToObject(j, "source_id", source_id) ||
		  !cJSON_AddStringToObject(j, "since", since) ||
		  !cJSON_AddNumberToObject(j, "pages", (double)st->pages) ||
		  !cJSON_AddNumberToObject(j, "orders", (double)st->items) ||
		  !cJSON_AddNumberToObject(j, "not_conversions", (double)st->not_conversions) ||
		  !cJSON_AddNumberToObject(j, "present", (double)st->present) ||
		  !cJSON_AddNumberToObject(j, "stored", (double)st->stored) ||
		  !cJSON_AddNumberToObject(j, "already_stored", (double)st->duplicates))) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

/* The run's audit_log row: the counts, and the error when it failed.  A
 * failure to write it is logged, not returned: the run's own result is
 * what the caller needs. */
static void audit_run(const struct reconcile_ctx *ctx, const char *source_id, int64_t since_us,
		      const struct reconcile_stats *st, int rc, const struct err *run_e)
{
	cJSON *j = reconcile_stats_json(source_id, since_us, st);
	struct err e = { 0 };

	if (j && rc != 0 && !cJSON_AddStringToObject(j, "error", run_e->msg)) {
		cJSON_Delete(j);
		j = NULL;
	}
	if (j == NULL || admin_audit_write(ctx->conn, ctx->actor, "source.reconcile", j, &e) != 0)
		log_warn("could not write the reconcile's audit row", "source=%s err=\"%s\"",
			 source_id, j ? e.msg : "out of memory");
	cJSON_Delete(j);
}

int reconcile_source(const struct reconcile_ctx *ctx, const char *source_id, int64_t since_us,
		     struct reconcile_stats *st, struct err *e)
{
	struct run r = { .ctx = ctx, .source_id = source_id, .st = st };
	int rc;

	memset(st, 0, sizeof(*st));
	format_gmt(since_us, r.since);
	format_gmt(clock_wall_ms() * 1000, r.marker);
	rc = load_source(&r, e);
	if (rc == 0)
		rc = run_pages(&r, e);
	if (r.auth)
		sodium_free(r.auth);
	free(r.base_url);
	free(r.settings_json);
	/* Not for a source that does not exist: there is nothing to audit. */
	if (rc != ERR_NOTFOUND && !db_is_broken(ctx->conn))
		audit_run(ctx, source_id, since_us, st, rc, e);
	return rc;
}

int reconcile_run_due(const struct reconcile_ctx *ctx, int *ran, struct err *e)
{
	struct reconcile_claim c;
	bool found;
	int rc;

	*ran = 0;
	for (;;) {
		struct reconcile_stats st;
		struct err re = { 0 };

		if (ctx->should_stop && ctx->should_stop(ctx->stop_arg))
			return 0;
		rc = reconcile_store_claim(ctx->conn, &c, &found, e);
		if (rc != 0 || !found)
			return rc;
		(*ran)++;
		if (reconcile_source(ctx, c.source_id, c.since_us, &st, &re) == 0) {
			log_info("reconciled a source",
				 "source=%s stored=%ld present=%ld pages=%ld", c.source_id,
				 st.stored, st.present, st.pages);
			rc = reconcile_store_done(ctx->conn, &c, e);
			if (rc != 0)
				return rc;
			continue;
		}
		log_warn("could not reconcile a source; it is tried again next interval",
			 "source=%s err=\"%s\"", c.source_id, re.msg);
		if (db_is_broken(ctx->conn))
			return err_set(e, ERR_DB, "%s", re.msg);
	}
}
