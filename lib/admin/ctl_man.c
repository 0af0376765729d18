/*
 * ctl_man.c - `adsengctl man adsengctl|adsengd.conf`: the man pages
 * adsengctl(8) and adsengd.conf(5) as roff (man(7) macros), generated from
 * the command tables and the configuration key table themselves, so the
 * pages cannot drift from what the parsers accept.  docs/man/ holds the
 * generated pages; CI regenerates them and fails on a difference, and
 * lints them with `mandoc -T lint`.
 */
#include "admin/ctl.h"
#include "core/config.h"

#include <stdio.h>
#include <string.h>

/* The date in every page's .TH: the generated text must not change with
 * the day it is generated on; bump it when the pages change a lot. */
#define PAGE_DATE "2026-11-28"

/* Write s as roff: backslashes escaped, hyphens as \- (they are options
 * and code here), a line start that roff would read as a request
 * protected with \&.  wrap > 0 breaks lines at a space past that column
 * (body text; never inside a macro line). */
static void roff_wrap(FILE *f, const char *s, int wrap)
{
	bool line_start = true;
	int col = 0;

	for (const char *p = s; *p; p++) {
		if (*p == ' ' && wrap > 0 && col >= wrap) {
			fputc('\n', f);
			line_start = true;
			col = 0;
			continue;
		}
		if (line_start && (*p == '.' || *p == '\''))
			fputs("\\&", f);
		line_start = *p == '\n';
		col = line_start ? 0 : col + 1;
		if (*p == '\\')
			fputs("\\e", f);
		else if (*p == '-')
			fputs("\\-", f);
		else
			fputc(*p, f);
	}
}

static void roff(FILE *f, const char *s)
{
	roff_wrap(f, s, 0);
}

/* Body text, in lines of about 70 columns. */
static void roff_text(FILE *f, const char *s)
{
	roff_wrap(f, s, 68);
}

static void roff_line(FILE *f, const char *macro, const char *s)
{
	fprintf(f, "%s ", macro);
	roff(f, s);
	fputc('\n', f);
}

/* ---- adsengctl(8) ------------------------------------------------------------- */

static void cmd_synopsis(FILE *f, const struct ctl_cmd *cmd)
{
	fputs(".B adsengctl\n", f);
	fprintf(f, ".B %s%s%s\n", cmd->group, cmd->name ? " " : "", cmd->name ? cmd->name : "");
	if (cmd->args && cmd->args[0])
		roff_line(f, ".I", cmd->args);
	for (const struct ctl_optspec *o = cmd->opts; o && o->name; o++) {
		fputs(o->required ? "" : "[", f);
		fputs("\\fB\\-\\-", f);
		roff(f, o->name);
		fputs("\\fR", f);
		if (o->kind != CTL_OPT_FLAG) {
			fputs(" \\fI", f);
			roff(f, o->metavar);
			fputs(o->kind == CTL_OPT_LIST ? "\\fR..." : "\\fR", f);
		}
		fputs(o->required ? "\n" : "]\n", f);
	}
	if (cmd->json)
		fputs("[\\fB\\-\\-json\\fR]\n", f);
}

static void cmd_section(FILE *f, const struct ctl_cmd *cmd)
{
	fputs(".SS \"", f);
	roff(f, cmd->group);
	if (cmd->name) {
		fputc(' ', f);
		roff(f, cmd->name);
	}
	fputs("\"\n", f);
	cmd_synopsis(f, cmd);
	fputs(".PP\n", f);
	roff_text(f, cmd->description ? cmd->description : cmd->summary);
	fputc('\n', f);
	for (const struct ctl_optspec *o = cmd->opts; o && o->name; o++) {
		fputs(".TP\n\\fB\\-\\-", f);
		roff(f, o->name);
		fputs("\\fR", f);
		if (o->metavar) {
			fputs(" \\fI", f);
			roff(f, o->metavar);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		roff_text(f, o->help);
		fputc('\n', f);
	}
}

static void page_adsengctl(FILE *f)
{
	fputs(".TH ADSENGCTL 8 " PAGE_DATE " AdsEngineer \"System Administration\"\n"
	      ".SH NAME\n"
	      "adsengctl \\- administer AdsEngineer\n"
	      ".SH SYNOPSIS\n"
	      ".B adsengctl\n"
	      "[\\fB\\-c\\fR \\fIFILE\\fR] [\\fB\\-\\-json\\fR] \\fICOMMAND\\fR "
	      "[\\fIARGS\\fR...]\n"
	      ".SH DESCRIPTION\n"
	      "Administers AdsEngineer: tenants, their sources and destinations, the\n"
	      "routes between them, and the deliveries to the ad platforms.  It works on\n"
	      "the database of the configuration, so it needs no running daemon; a\n"
	      "running\n"
	      ".BR adsengd (8)\n"
	      "picks the changes up by itself.\n"
	      ".SH OPTIONS\n"
	      ".TP\n\\fB\\-c\\fR, \\fB\\-\\-config\\fR \\fIFILE\\fR\n"
	      "The configuration file (default \\fI" CTL_DEFAULT_CONFIG "\\fR when it\n"
	      "exists); the same ADSENGD_\\fISECTION\\fR_\\fIKEY\\fR environment overrides\n"
	      "as the daemon apply.\n"
	      ".TP\n\\fB\\-\\-json\\fR\n"
	      "Print results as JSON (commands that have a JSON output).\n"
	      ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\n"
	      "Help, also after a command.\n"
	      ".SH COMMANDS\n",
	      f);
	for (size_t t = 0;; t++) {
		const struct ctl_cmd *table = ctl_cmd_table(t);

		if (table == NULL)
			break;
		for (const struct ctl_cmd *cmd = table; cmd->group; cmd++)
			cmd_section(f, cmd);
	}
	fputs(".SH EXIT STATUS\n"
	      "0 on success, 1 when the command failed (the reason on standard error),\n"
	      "2 for a usage error.\n"
	      ".SH SEE ALSO\n"
	      ".BR adsengd (8),\n"
	      ".BR adsengd.conf (5)\n",
	      f);
}

/* ---- adsengd.conf(5) --------------------------------------------------------- */

static void page_conf(FILE *f)
{
	const char *section = "";

	fputs(".TH ADSENGD.CONF 5 " PAGE_DATE " AdsEngineer \"File Formats\"\n"
	      ".SH NAME\n"
	      "adsengd.conf \\- configuration of the AdsEngineer daemon\n"
	      ".SH SYNOPSIS\n"
	      ".I " CTL_DEFAULT_CONFIG "\n"
	      ".SH DESCRIPTION\n"
	      "An INI file read by\n"
	      ".BR adsengd (8)\n"
	      "and\n"
	      ".BR adsengctl (8).\n"
	      "Every key may be overridden by the environment variable\n"
	      "ADSENGD_\\fISECTION\\fR_\\fIKEY\\fR (for example ADSENGD_DATABASE_URL).\n"
	      "Keys marked \\fIreloadable\\fR take effect on SIGHUP; the others need a\n"
	      "restart, and a reload that changes one names it in a warning.  Durations\n"
	      "are written 250ms, 10s, 5m, 6h or 30d; sizes 512KiB or 2MiB.\n"
	      "Secrets are never values here: keys ending in _file name a file, which\n"
	      "may be relative to $CREDENTIALS_DIRECTORY under systemd.\n"
	      "`adsengctl config example` prints this list as a commented file.\n"
	      ".SH KEYS\n",
	      f);
	for (size_t i = 0; i < config_key_count(); i++) {
		struct config_key_doc k;

		config_key_doc(i, &k);
		if (strcmp(section, k.section) != 0) {
			section = k.section;
			fputs(".SS [", f);
			roff(f, section);
			fputs("]\n", f);
		}
		fputs(".TP\n\\fB", f);
		roff(f, k.name);
		fputs("\\fR = \\fI", f);
		roff(f, k.def[0] ? k.def : "(empty)");
		fputs("\\fR\n", f);
		roff_text(f, k.help);
		if (k.reloadable)
			fputs(" (reloadable)", f);
		if (k.secret)
			fputs(" (secret: redacted by `adsengctl config show`)", f);
		fputc('\n', f);
	}
	fputs(".SH SEE ALSO\n"
	      ".BR adsengd (8),\n"
	      ".BR adsengctl (8)\n",
	      f);
}

static int run_man(struct ctl *c, const struct ctl_args *a)
{
	const char *page = a->pos[0];

	if (strcmp(page, "adsengctl") == 0)
		page_adsengctl(c->out);
	else if (strcmp(page, "adsengd.conf") == 0)
		page_conf(c->out);
	else
		return ctl_usage_error(c, "no generated page \"%s\": adsengctl or adsengd.conf",
				       page);
	return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_man_cmds[] = {
	{ "man", NULL, "PAGE", "print the man page adsengctl(8) or adsengd.conf(5) as roff",
	  "Print a man page generated from the command and configuration tables:\n"
	  "PAGE is adsengctl or adsengd.conf (docs/man/ holds the generated pages).",
	  NULL, 1, 1, false, run_man },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false, NULL },
};
