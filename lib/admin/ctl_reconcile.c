/*
 * ctl_reconcile.c - `adsengctl source reconcile SOURCE --since T`.
 *
 * WooCommerce never retries a webhook, so an order whose delivery failed
 * (daemon down, network) is lost unless it is fetched back.  This pages
 * through the shop's REST API (GET {store_url}/wp-json/wc/v3/orders,
 * https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders:
 * modified_after, dates_are_gmt, per_page at most 100, page) with HTTP
 * Basic auth from the source's sealed REST credentials, runs each order
 * through the source's own parser to learn whether it is a conversion and
 * its event id, and stores the paid orders that have no conversion yet as
 * raw events through the ingest path's own INSERT (ingest_keys + raw_events
 * + raw_queue, same dedup key as a webhook of that order version), with the
 * header X-Adseng-Reconciled marking where they came from.  Stage 1 of a
 * running daemon then normalizes and delivers them like any webhook; the
 * conversions table's unique event id makes a second run harmless.
 */
#include "admin/ctl.h"
#include "admin/ctl_reconcile.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/vault.h"
#include "net/fetch.h"
#include "sources/source.h"
#include "store/admin.h"
#include "store/catalog_store.h"
#include "store/ingest_store.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PER_PAGE  100
#define MAX_PAGES 10000 /* a million orders: a shop that never ends is a bug */

struct reconcile {
	PGconn *conn;
	const struct source_ops *ops;
	char source_id[37];
	char *settings_json;
	char *store_url;
	char *auth;	    /* "Basic …", sodium_malloc'd */
	char since[24];	    /* "2026-11-27T10:00:00", UTC */
	char marker[32];    /* X-Adseng-Reconciled: when this run started */
	long pages, orders; /* what the shop returned */
	long not_conversions, present, stored, duplicates;
};

/* ---- credentials and settings --------------------------------------------------- */

/* "Basic base64(key:secret)" into sodium_malloc'd memory, from the
 * opened credentials JSON. */
static int basic_auth(const char *creds_json, char **out, struct err *e)
{
	cJSON *j = cJSON_Parse(creds_json);
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "consumer_key");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "consumer_secret");
	char *pair = NULL;
	size_t plen, b64len;
	int rc = 0;

	if (!cJSON_IsString(k) || !cJSON_IsString(s)) {
		rc = err_set(e, ERR_INVALID,
			     "the source's REST credentials lack "
			     "consumer_key or consumer_secret");
		goto out;
	}
	plen = strlen(k->valuestring) + 1 + strlen(s->valuestring);
	b64len = sodium_base64_ENCODED_LEN(plen, sodium_base64_VARIANT_ORIGINAL);
	pair = sodium_malloc(plen + 1);
	*out = sodium_malloc(b64len + 6);
	if (pair == NULL || *out == NULL) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(pair, plen + 1, "%s:%s", k->valuestring, s->valuestring);
	memcpy(*out, "Basic ", 6);
	sodium_bin2base64(*out + 6, b64len, (const unsigned char *)pair, plen,
			  sodium_base64_VARIANT_ORIGINAL);
out:
	if (pair)
		sodium_free(pair);
	for (cJSON *v = j ? j->child : NULL; v; v = v->next) {
		if (cJSON_IsString(v))
			sodium_memzero(v->valuestring, strlen(v->valuestring));
	}
	cJSON_Delete(j);
	if (rc != 0 && *out) {
		sodium_free(*out);
		*out = NULL;
	}
	return rc;
}

/* Open the sealed REST credentials of the source into r->auth. */
static int open_credentials(struct ctl *c, struct reconcile *r, const uint8_t *sealed, size_t len,
			    struct err *e)
{
	struct config *cfg;
	struct vault *v = NULL;
	unsigned char *plain = NULL;
	size_t plain_len = 0;
	char ad[VAULT_AD_MAX];
	int rc;

	rc = ctl_config(c, &cfg, e);
	if (rc == 0)
		rc = vault_open(cfg->master_key_file, &v, e);
	if (rc != 0)
		return rc;
	vault_ad(ad, "source", r->source_id, "rest_credentials");
	rc = vault_unseal(v, sealed, len, ad, &plain, &plain_len, e);
	if (rc == 0)
		rc = basic_auth((const char *)plain, &r->auth, e);
	vault_free_plain(plain);
	vault_free(v);
	return rc;
}

/* Settings and credentials of the source, checked for what reconcile needs. */
static int load_source(struct ctl *c, struct reconcile *r, struct err *e)
{
	struct source_rest_row row;
	cJSON *settings = NULL;
	const cJSON *url;
	int rc;

	rc = catalog_load_source_rest(r->conn, r->source_id, &row, e);
	if (rc != 0)
		return rc;
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
		r->store_url = xstrdup(url->valuestring);
		r->settings_json = row.settings_json;
		row.settings_json = NULL;
		rc = open_credentials(c, r, row.sealed, row.sealed_len, e);
	}
	cJSON_Delete(settings);
	catalog_source_rest_cleanup(&row);
	return rc;
}

/* ---- one page --------------------------------------------------------------------- */

/* GET one page of orders; *orders is the parsed JSON array. */
static int fetch_page(struct reconcile *r, int page, cJSON **orders, struct err *e)
{
	struct upload_req req;
	struct fetch_result res = { 0 };
	char line[200];
	int rc;

	upload_req_init(&req);
	req.method = UPLOAD_GET;
	req.url = xasprintf("%s/wp-json/wc/v3/orders?modified_after=%s&dates_are_gmt=true"
			    "&orderby=modified&order=asc&per_page=%d&page=%d",
			    r->store_url, r->since, PER_PAGE, page);
	req.log_url = xstrdup(req.url); /* the credential travels in a header */
	upload_req_add_header(&req, "Authorization: %s", r->auth);
	upload_req_add_header(&req, "Accept: application/json");
	rc = net_fetch(&req, &res, e);
	if (rc != 0)
		return rc;
	if (res.resp.transport_error) {
		rc = err_set(e, ERR_IO, "could not reach %s: %s", r->store_url,
			     res.resp.transport_msg);
	} else if (res.resp.status != 200) {
		text_copy_line(line, sizeof(line), res.resp.body ? res.resp.body : "");
		rc = err_set(e, ERR_IO, "the shop answered %ld to page %d: %s", res.resp.status,
			     page, line);
	} else {
		*orders = cJSON_ParseWithLength(res.resp.body, res.resp.body_len);
		if (!cJSON_IsArray(*orders)) {
			cJSON_Delete(*orders);
			*orders = NULL;
			rc = err_set(e, ERR_INVALID, "page %d of orders is not a JSON array", page);
		}
	}
	fetch_result_cleanup(&res);
	return rc;
}

/* A row to store for an order, with the text it owns. */
struct pending_row {
	struct ingest_row row;
	char *body;
	char dedup[SOURCE_DEDUP_MAX];
};

/*
 * Decide for one order: not a conversion (unpaid), already converted, or
 * to be stored (p filled, true).  The source's own parser decides what a
 * conversion is and its event id; its own dedup key function names the
 * order version as a webhook of it would be named.
 */
static int examine(struct reconcile *r, const cJSON *order, struct pending_row *p, bool *store,
		   struct err *e)
{
	static const char topic[] = "order.updated";
	struct http_header h = { "X-WC-Webhook-Topic", topic };
	struct raw_event ev = { .topic = topic, .settings_json = r->settings_json };
	struct http_req req = { .method = "POST", .headers = &h, .n_headers = 1 };
	struct conv_list l;
	struct err pe = { 0 };
	bool have = false;
	int rc = 0;

	*store = false;
	p->body = cJSON_PrintUnformatted(order);
	if (p->body == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	ev.body = (const uint8_t *)p->body;
	ev.body_len = strlen(p->body);
	ev.received_us = clock_wall_ms() * 1000;
	conv_list_init(&l);
	if (r->ops->parse(&ev, &l, &pe) != 0 || l.n == 0) {
		r->not_conversions++; /* unpaid, or nothing stage 1 could use */
		goto out;
	}
	rc = catalog_conversion_exists(r->conn, r->source_id, l.v[0]->event_id, &have, e);
	if (rc != 0 || have) {
		r->present += have;
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

/* Store the orders of one page that have no conversion yet. */
static int feed_page(struct reconcile *r, const cJSON *orders, struct err *e)
{
	size_t n = (size_t)cJSON_GetArraySize(orders), k = 0;
	struct pending_row *rows = xcalloc(n ? n : 1, sizeof(*rows));
	struct ingest_row *ins = xcalloc(n ? n : 1, sizeof(*ins));
	char *headers = xasprintf("{\"X-Adseng-Reconciled\":\"%s\"}", r->marker);
	const cJSON *o;
	int rc = 0;

	cJSON_ArrayForEach (o, orders) {
		bool store = false;

		r->orders++;
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
					      .topic = "order.updated",
					      .headers_json = headers,
					      .headers_len = strlen(headers),
					      .body = (const uint8_t *)rows[k].body,
					      .body_len = strlen(rows[k].body) };
		k++;
	}
	if (rc == 0 && k > 0)
		rc = ingest_store_insert(r->conn, ins, k, e);
	for (size_t i = 0; rc == 0 && i < k; i++) {
		if (ins[i].raw_id)
			r->stored++;
		else
			r->duplicates++; /* that version is stored, still waiting */
	}
	for (size_t i = 0; i < n; i++)
		cJSON_free(rows[i].body);
	free(rows);
	free(ins);
	free(headers);
	return rc;
}

/* ---- the command -------------------------------------------------------------------- */

static int run_pages(struct reconcile *r, struct err *e)
{
	int rc = ingest_store_prepare(r->conn, e);

	for (int page = 1; rc == 0 && page <= MAX_PAGES; page++) {
		cJSON *orders = NULL;
		int n;

		rc = fetch_page(r, page, &orders, e);
		if (rc != 0)
			break;
		r->pages++;
		n = cJSON_GetArraySize(orders);
		rc = feed_page(r, orders, e);
		cJSON_Delete(orders);
		/* A short page is the last one. */
		if (n < PER_PAGE)
			break;
	}
	return rc;
}

static int report(struct ctl *c, const struct reconcile *r)
{
	cJSON *j;

	if (!c->json) {
		fprintf(c->out,
			"pages %ld orders %ld not_conversions %ld present %ld stored %ld "
			"already_stored %ld\n",
			r->pages, r->orders, r->not_conversions, r->present, r->stored,
			r->duplicates);
		return CTL_EXIT_OK;
	}
	j = cJSON_CreateObject();
	if (j && (!cJSON_AddStringToObject(j, "source_id", r->source_id) ||
		  !cJSON_AddNumberToObject(j, "pages", (double)r->pages) ||
		  !cJSON_AddNumberToObject(j, "orders", (double)r->orders) ||
		  !cJSON_AddNumberToObject(j, "not_conversions", (double)r->not_conversions) ||
		  !cJSON_AddNumberToObject(j, "present", (double)r->present) ||
		  !cJSON_AddNumberToObject(j, "stored", (double)r->stored) ||
		  !cJSON_AddNumberToObject(j, "already_stored", (double)r->duplicates))) {
		cJSON_Delete(j);
		j = NULL;
	}
	return ctl_emit_json(c, j);
}

/* unix microseconds as "2026-11-27T10:00:00" (UTC, no offset: the API is
 * told dates_are_gmt). */
static void format_gmt(int64_t us, char out[24])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
}

int ctl_run_source_reconcile(struct ctl *c, const struct ctl_args *a)
{
	struct reconcile r = { 0 };
	struct admin_obj src;
	struct err e = { 0 };
	int64_t now_us = clock_wall_ms() * 1000, since_us;
	int rc;

	if (ctl_parse_time(ctl_arg(a, "since"), now_us, &since_us, &e) != 0)
		return ctl_usage_error(c, "invalid --since: %s", e.msg);
	format_gmt(since_us, r.since);
	format_gmt(now_us, r.marker);
	rc = ctl_db(c, &r.conn, &e);
	if (rc == 0)
		rc = ctl_find_source(r.conn, a->pos[0], &src, &e);
	if (rc == 0 && strcmp(src.kind, "woocommerce") != 0)
		rc = err_set(&e, ERR_INVALID,
			     "source \"%s\" is a %s source: only woocommerce "
			     "sources are reconciled",
			     src.name, src.kind);
	if (rc == 0) {
		memcpy(r.source_id, src.id, sizeof(r.source_id));
		r.ops = source_ops_find(src.kind);
		rc = load_source(c, &r, &e);
	}
	if (rc == 0)
		rc = run_pages(&r, &e);
	if (r.auth)
		sodium_free(r.auth);
	free(r.store_url);
	free(r.settings_json);
	if (rc != 0)
		return ctl_fail(c, &e);
	return report(c, &r);
}

const struct ctl_optspec ctl_reconcile_opts[] = {
	{ "since", CTL_OPT_VALUE, "T", true,
	  "orders modified since T (RFC 3339, or an age such as 2h, 3d)" },
	{ NULL, CTL_OPT_FLAG, NULL, false, NULL },
};
