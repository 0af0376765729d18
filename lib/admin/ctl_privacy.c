/*
 * ctl_privacy.c - adsengctl's privacy commands: `privacy export`, which
 * prints as JSON everything held about one person of a source (the
 * answer to a customers/data_request).  A thin front end: the work is
 * pipeline/privacy.c's, which a later admin API calls the same way.
 */
#include "admin/ctl.h"
#include "pipeline/privacy.h"
#include "store/admin.h"

#include <cjson/cJSON.h>

static int run_export(struct ctl *c, const struct ctl_args *a)
{
	struct err e = { 0 };
	struct admin_obj src;
	const char *customer = ctl_arg(a, "customer");
	PGconn *conn;
	cJSON *out = NULL;

	if (customer[0] == '\0')
		return ctl_usage_error(c, "--customer must not be empty");
	if (ctl_db(c, &conn, &e) != 0 ||
	    ctl_find_source(conn, ctl_arg(a, "source"), &src, &e) != 0 ||
	    privacy_export(conn, src.id, customer, ctl_actor(), &out, &e) != 0)
		return ctl_fail(c, &e);
	/* JSON is the only useful form of a data export. */
	return ctl_emit_json(c, out);
}

static const struct ctl_optspec export_opts[] = {
	{ "source", CTL_OPT_VALUE, "S", true, "the source (id or unique name)" },
	{ "customer", CTL_OPT_VALUE, "ID", true,
	  "the person's id at the sender (Shopify: the customer id)" },
	{ NULL, 0, NULL, false, NULL },
};

const struct ctl_cmd ctl_privacy_cmds[] = {
	{ "privacy", "export", NULL, "print what is held about one customer (data request)",
	  "Print as JSON everything stored about one customer of a source: the raw events\n"
	  "that name them (bodies as received, unless erased), the conversions made from\n"
	  "those with their identifiers and deliveries, and the customer record kept for\n"
	  "Customer Match.  Answers a data request (Shopify customers/data_request, listed\n"
	  "in the audit log as privacy.data_request).  The export itself is audited\n"
	  "(privacy.export).",
	  export_opts, 0, 0, true, run_export },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
