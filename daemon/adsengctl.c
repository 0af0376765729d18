/*
 * adsengctl - the admin CLI (DESIGN §4 "CLI").  A thin main: initialize
 * libsodium (the vault and uuid generation need it), register the
 * destinations' config keys, parse the global options, dispatch the
 * command.  Everything else is lib/admin.
 */
#include "admin/ctl.h"
#include "destinations/dest.h"
#include "sources/source.h"

#include <sodium.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct ctl c;
	int next = 0, rc;

	if (sodium_init() < 0) {
		fprintf(stderr, "adsengctl: could not initialize libsodium\n");
		return CTL_EXIT_FAIL;
	}
	dest_register_config_keys(); /* before any config_load */
	source_register_config_keys();
	ctl_init(&c, stdout, stderr);
	rc = ctl_parse_global(&c, argc, argv, &next);
	if (rc < 0)
		rc = ctl_dispatch(&c, argc - next, argv + next);
	ctl_cleanup(&c);
	if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
		perror("adsengctl: could not write output");
		rc = CTL_EXIT_FAIL;
	}
	return rc;
}
