/*
 * ctl_destination.c - adsengctl's `destination test ID` (one synthetic
 * purchase in the platform's test mode, and its answer) and `destination
 * update ID --max-inflight N`.
 *
 * Thin front ends: the test is pipeline/dest_probe.h (which the admin API
 * calls too), the update dest_prepare_common_settings + store/
 * dest_admin_store.h.  Both are audited there.
 */
#include "admin/ctl.h"
#include "core/vault.h"
#include "destinations/dest.h"
#include "net/oauth.h"
#include "pipeline/dest_probe.h"
#include "store/admin.h"
#include "store/dest_admin_store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* The text form of a test's result. */
static void print_probe(struct ctl *c, const struct dest_probe_result *r)
{
	fprintf(c->out, "destination: %s (%s)\n", r->dest_id, r->kind);
	fprintf(c->out, "event id:    %s\n", r->event_id);
	fprintf(c->out, "sent to:     %s\n", r->url ? r->url : "");
	if (r->answered)
		fprintf(c->out, "status:      %ld (%lld ms)\n", r->status,
			(long long)r->latency_ms);
	else
		fprintf(c->out, "status:      no answer\n");
	fprintf(c->out, "outcome:     %s%s%s%s%s\n", r->outcome, r->platform_code[0] ? " " : "",
		r->platform_code, r->message[0] ? ": " : "", r->message);
	if (r->warning[0])
		fprintf(c->out, "WARNING:     %s\n", r->warning);
	fprintf(c->out, "body:\n%s\n", r->body && r->body[0] ? r->body : "(empty)");
}

static int run_destination_test(struct ctl *c, const struct ctl_args *a)
{
	struct dest_test_opts opts = { ctl_arg(a, "test-event-code"), ctl_arg(a, "gtm-preview") };
	struct dest_probe_result r = { 0 };
	struct admin_obj d;
	struct config *cfg;
	struct vault *v = NULL;
	struct oauth_cache *oauth = NULL;
	struct err e = { 0 };
	PGconn *conn;
	int rc;

	rc = ctl_config(c, &cfg, &e);
	if (rc == 0)
		rc = ctl_db(c, &conn, &e);
	if (rc == 0)
		rc = ctl_find_destination(conn, a->pos[0], &d, &e);
	if (rc == 0)
		rc = vault_open(cfg->master_key_file, &v, &e);
	if (rc == 0)
		rc = oauth_cache_new(&oauth, &e);
	if (rc == 0)
		rc = dest_probe_run(conn, cfg, v, oauth, d.id, &opts, ctl_actor(), &r, &e);
	oauth_cache_free(oauth);
	vault_free(v);
	if (rc != 0)
		return ctl_fail(c, &e);
	if (c->json) {
		rc = ctl_emit_json(c, dest_probe_result_json(&r));
	} else {
		print_probe(c, &r);
		rc = CTL_EXIT_OK;
	}
	/* The platform's verdict decides the exit status, for scripts. */
	if (rc == CTL_EXIT_OK && strcmp(r.outcome, "delivered") != 0)
		rc = CTL_EXIT_FAIL;
	dest_probe_result_cleanup(&r);
	return rc;
}

static int run_destination_update(struct ctl *c, const struct ctl_args *a)
{
	const char *max = ctl_arg(a, "max-inflight");
	struct admin_obj d;
	struct err e = { 0 };
	cJSON *patch;
	PGconn *conn;
	int rc;

	if (max == NULL)
		return ctl_usage_error(c, "nothing to update: give --max-inflight N");
	patch = cJSON_CreateObject();
	if (patch == NULL || !cJSON_AddStringToObject(patch, "max_inflight", max)) {
		cJSON_Delete(patch);
		err_set(&e, ERR_NOMEM, "out of memory");
		return ctl_fail(c, &e);
	}
	rc = dest_prepare_common_settings(patch, &e);
	if (rc == 0)
		rc = ctl_db(c, &conn, &e);
	if (rc == 0)
		rc = ctl_find_destination(conn, a->pos[0], &d, &e);
	if (rc == 0)
		rc = dest_admin_merge_settings(conn, ctl_actor(), d.id, patch, &e);
	if (rc != 0) {
		cJSON_Delete(patch);
		return ctl_fail(c, &e);
	}
	if (c->json) {
		cJSON_AddStringToObject(patch, "id", d.id);
		return ctl_emit_json(c, patch);
	}
	fprintf(c->out, "updated destination \"%s\" (%s): max_inflight %s\n", d.name, d.id, max);
	cJSON_Delete(patch);
	return CTL_EXIT_OK;
}

static const struct ctl_optspec test_opts[] = {
	{ "test-event-code", CTL_OPT_VALUE, "C", false,
	  "meta_capi, tiktok: the test event code (default: the configured one)" },
	{ "gtm-preview", CTL_OPT_VALUE, "H", false,
	  "sgtm: X-Gtm-Server-Preview header value (default: the configured one)" },
	{ NULL, 0, NULL, false, NULL },
};

static const struct ctl_optspec update_opts[] = {
	{ "max-inflight", CTL_OPT_VALUE, "N", false,
	  "requests of this destination a worker may have in flight (1..1000)" },
	{ NULL, 0, NULL, false, NULL },
};

const struct ctl_cmd ctl_destination_cmds[] = {
	{ "destination", "test", "ID", "send one test purchase, print the platform's answer",
	  "Send one synthetic purchase to the destination in its platform's test mode and\n"
	  "print the answer (status, body, and what the pipeline would make of it).  Meta\n"
	  "and TikTok need a test event code (configured or --test-event-code): without one\n"
	  "the purchase would be counted, so the test is refused.  GA4 goes to the\n"
	  "validation server (/debug/mp/collect: its validationMessages are the answer),\n"
	  "Google kinds send validateOnly, sGTM sends the preview header when one is known\n"
	  "and warns about an empty 200 (no client claims the path).  Nothing is stored but\n"
	  "an audit row.  Exits 1 unless the platform accepted the purchase.",
	  test_opts, 1, 1, true, run_destination_test },
	{ "destination", "update", "ID", "change a destination's settings (--max-inflight)",
	  "Merge the given settings into the destination's; running daemons reload it.\n"
	  "Audited.",
	  update_opts, 1, 1, true, run_destination_update },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
