/*
 * ctl.c - adsengctl's frame: global options, the command table and its
 * dispatcher, generated usage and help text, the lazily opened
 * configuration and database connection, and the output helpers (aligned
 * text tables, JSON) the command files share.
 *
 * Usage text is generated from the same option specs the parser uses, so
 * `--help` cannot drift from what is accepted.
 */
#include "admin/ctl.h"
#include "core/mem.h"
#include "store/admin.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG	    "adsengctl"
#define USAGE_WIDTH 79
#define HELP_COLUMN 28

static const struct ctl_cmd *const tables[] = {
	ctl_misc_cmds,	 ctl_catalog_cmds,     ctl_oauth_cmds,	  ctl_deliveries_cmds,
	ctl_raw_cmds,	 ctl_google_cmds,      ctl_audience_cmds, ctl_privacy_cmds,
	ctl_adjust_cmds, ctl_destination_cmds, ctl_man_cmds,	  ctl_token_cmds,
	ctl_billing_cmds
};

const struct ctl_cmd *ctl_cmd_table(size_t i)
{
	return i < sizeof(tables) / sizeof(tables[0]) ? tables[i] : NULL;
}

/* ---- context ------------------------------------------------------------------ */

void ctl_init(struct ctl *c, FILE *out, FILE *errf)
{
	memset(c, 0, sizeof(*c));
	c->out = out;
	c->errf = errf;
}

void ctl_cleanup(struct ctl *c)
{
	if (c->conn)
		PQfinish(c->conn);
	config_unref(c->cfg);
	c->conn = NULL;
	c->cfg = NULL;
}

int ctl_config(struct ctl *c, struct config **out, struct err *e)
{
	const char *path = c->config_path;
	int rc;

	if (c->cfg == NULL) {
		if (path == NULL && access(CTL_DEFAULT_CONFIG, F_OK) == 0)
			path = CTL_DEFAULT_CONFIG;
		rc = config_load(path, &c->cfg, e);
		if (rc != 0)
			return rc;
	}
	*out = c->cfg;
	return 0;
}

int ctl_db(struct ctl *c, PGconn **out, struct err *e)
{
	struct config *cfg;
	PGconn *conn = NULL;
	int rc;

	if (c->conn == NULL) {
		rc = ctl_config(c, &cfg, e);
		if (rc != 0)
			return rc;
		rc = db_connect(cfg->db_url, PROG, &conn, e);
		if (rc != 0)
			return rc;
		rc = admin_session_setup(conn, e);
		if (rc != 0) {
			PQfinish(conn);
			return rc;
		}
		c->conn = conn;
	}
	*out = c->conn;
	return 0;
}

int ctl_find_tenant(PGconn *conn, const char *ref, int64_t *id, struct err *e)
{
	return admin_tenant_find(conn, ref, ctl_ref_kind(ref) == CTL_REF_INT, id, e);
}

int ctl_find_source(PGconn *conn, const char *ref, struct admin_obj *out, struct err *e)
{
	return admin_source_find(conn, ref, ctl_ref_kind(ref) == CTL_REF_UUID, out, e);
}

int ctl_find_destination(PGconn *conn, const char *ref, struct admin_obj *out, struct err *e)
{
	return admin_destination_find(conn, ref, ctl_ref_kind(ref) == CTL_REF_UUID, out, e);
}

/* ---- messages ------------------------------------------------------------------ */

int ctl_fail(struct ctl *c, const struct err *e)
{
	fprintf(c->errf, PROG ": %s\n", e->msg[0] ? e->msg : "unknown error");
	return CTL_EXIT_FAIL;
}

void ctl_warn(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": warning: ", c->errf);
	va_start(ap, fmt);
	vfprintf(c->errf, fmt, ap);
	va_end(ap);
	fputc('\n', c->errf);
}

/* ---- usage text ------------------------------------------------------------------ */

/* Appends words to a usage line, wrapping under its first argument. */
struct wrap {
	struct buf *b;
	size_t line_start;
	size_t indent;
};

static void wrap_word(struct wrap *w, const char *word)
{
	size_t len = strlen(word);

	if (w->b->len - w->line_start + 1 + len > USAGE_WIDTH) {
		buf_putc(w->b, '\n');
		w->line_start = w->b->len;
		for (size_t i = 0; i < w->indent; i++)
			buf_putc(w->b, ' ');
	} else {
		buf_putc(w->b, ' ');
	}
	buf_puts(w->b, word);
}

static void synopsis(struct buf *b, const struct ctl_cmd *cmd)
{
	struct wrap w = { b, b->len, 0 };
	char word[160];

	buf_printf(b, "usage: " PROG " %s%s%s", cmd->group, cmd->name ? " " : "",
		   cmd->name ? cmd->name : "");
	w.indent = b->len - w.line_start + 1;
	if (cmd->args && cmd->args[0])
		wrap_word(&w, cmd->args);
	for (const struct ctl_optspec *o = cmd->opts; o && o->name; o++) {
		if (o->kind == CTL_OPT_FLAG)
			snprintf(word, sizeof(word), "[--%s]", o->name);
		else
			snprintf(word, sizeof(word), "%s--%s %s%s%s", o->required ? "" : "[",
				 o->name, o->metavar, o->kind == CTL_OPT_LIST ? "..." : "",
				 o->required ? "" : "]");
		wrap_word(&w, word);
	}
	if (cmd->json)
		wrap_word(&w, "[--json]");
	buf_putc(b, '\n');
}

static void print_synopsis(FILE *f, const struct ctl_cmd *cmd)
{
	struct buf b;

	buf_init(&b);
	synopsis(&b, cmd);
	fputs(b.data, f);
	buf_cleanup(&b);
}

/* "  left<pad>help" with the help at HELP_COLUMN (or on the next line),
 * wrapped at USAGE_WIDTH. */
static void help_line(FILE *f, const char *left, const char *help)
{
	int col = (int)strlen(left) + 2;
	const char *p = help;

	fprintf(f, "  %s", left);
	if (col + 2 > HELP_COLUMN) {
		fputc('\n', f);
		col = 0;
	}
	fprintf(f, "%*s", HELP_COLUMN - col, "");
	col = HELP_COLUMN;
	while (*p) {
		size_t word = strcspn(p, " ");

		if (col > HELP_COLUMN && col + 1 + (int)word > USAGE_WIDTH) {
			fprintf(f, "\n%*s", HELP_COLUMN, "");
			col = HELP_COLUMN;
		} else if (col > HELP_COLUMN) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)word, p);
		col += (int)word;
		p += word;
		p += strspn(p, " ");
	}
	fputc('\n', f);
}

static void print_cmd_help(FILE *f, const struct ctl_cmd *cmd)
{
	char left[160];

	print_synopsis(f, cmd);
	fprintf(f, "\n%s\n", cmd->description ? cmd->description : cmd->summary);
	fputs("\nOptions:\n", f);
	for (const struct ctl_optspec *o = cmd->opts; o && o->name; o++) {
		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->metavar ? " " : "",
			 o->metavar ? o->metavar : "");
		help_line(f, left, o->help);
	}
	if (cmd->json)
		help_line(f, "--json", "print the result as JSON");
	help_line(f, "-h, --help", "show this help and exit");
}

static void cmd_words(const struct ctl_cmd *cmd, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s%s%s%s", cmd->group, cmd->name ? " " : "",
		 cmd->name ? cmd->name : "", cmd->args ? " " : "", cmd->args ? cmd->args : "");
}

/* Every command of group (NULL = all), one line each. */
static void print_command_list(FILE *f, const char *group)
{
	char left[160];

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct ctl_cmd *cmd = tables[t]; cmd->group; cmd++) {
			if (group && strcmp(group, cmd->group) != 0)
				continue;
			cmd_words(cmd, left, sizeof(left));
			help_line(f, left, cmd->summary);
		}
	}
}

static void print_top_usage(FILE *f)
{
	fputs("usage: " PROG " [-c FILE] [--json] COMMAND [ARGS...]\n", f);
}

static void print_top_help(FILE *f)
{
	print_top_usage(f);
	fputs("\nAdminister AdsEngineer: tenants, their sources and destinations, the routes\n"
	      "between them, and the deliveries to the ad platforms.\n"
	      "\nGlobal options:\n",
	      f);
	help_line(f, "-c, --config FILE",
		  "configuration file (default " CTL_DEFAULT_CONFIG " if it exists; "
		  "ADSENGD_* variables override it)");
	help_line(f, "--json", "print results as JSON (also accepted after the command)");
	help_line(f, "--version", "print the version and exit");
	help_line(f, "-h, --help", "show this help and exit");
	fputs("\nCommands:\n", f);
	print_command_list(f, NULL);
	fputs("\nRun \"" PROG " COMMAND --help\" for the options of a command.\n"
	      "Exit status: 0 success, 1 failure, 2 usage error.\n",
	      f);
}

static void print_group_help(FILE *f, const char *group)
{
	fprintf(f, "usage: " PROG " %s COMMAND [ARGS...]\n\nCommands:\n", group);
	print_command_list(f, group);
	fprintf(f, "\nRun \"" PROG " %s COMMAND --help\" for the options of a command.\n", group);
}

int ctl_usage_error(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", c->errf);
	va_start(ap, fmt);
	vfprintf(c->errf, fmt, ap);
	va_end(ap);
	fputc('\n', c->errf);
	if (c->cmd) {
		char words[160];

		print_synopsis(c->errf, c->cmd);
		snprintf(words, sizeof(words), "%s%s%s", c->cmd->group, c->cmd->name ? " " : "",
			 c->cmd->name ? c->cmd->name : "");
		fprintf(c->errf, "Try \"" PROG " %s --help\" for more information.\n", words);
	} else if (c->group) {
		fprintf(c->errf, "usage: " PROG " %s COMMAND [ARGS...]\n", c->group);
		fprintf(c->errf, "Try \"" PROG " %s --help\" for more information.\n", c->group);
	} else {
		print_top_usage(c->errf);
		fputs("Try \"" PROG " --help\" for more information.\n", c->errf);
	}
	return CTL_EXIT_USAGE;
}

/* ---- global options and dispatch ---------------------------------------------------- */

int ctl_parse_global(struct ctl *c, int argc, char **argv, int *next)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc)
				return ctl_usage_error(c, "option %s requires a value", a);
			c->config_path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			c->config_path = a + 9;
		} else if (strncmp(a, "-c", 2) == 0) {
			c->config_path = a + 2;
		} else if (strcmp(a, "--json") == 0) {
			c->json = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			print_top_help(c->out);
			return CTL_EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			fprintf(c->out, PROG " (AdsEngineer) %s\n", ADSENG_VERSION);
			return CTL_EXIT_OK;
		} else {
			return ctl_usage_error(c, "unrecognized option \"%s\"", a);
		}
	}
	if (i >= argc)
		return ctl_usage_error(c, "no command given");
	*next = i;
	return -1;
}

static const struct ctl_cmd *find_cmd(const char *group, const char *name, bool *group_known)
{
	*group_known = false;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct ctl_cmd *cmd = tables[t]; cmd->group; cmd++) {
			if (strcmp(cmd->group, group) != 0)
				continue;
			*group_known = true;
			if (cmd->name == NULL || (name && strcmp(cmd->name, name) == 0))
				return cmd;
		}
	}
	return NULL;
}

static bool is_help(const char *s)
{
	return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0;
}

/* Check what the spec alone can check: positional count, required options. */
static int check_args(struct ctl *c, const struct ctl_args *a)
{
	const struct ctl_cmd *cmd = c->cmd;

	if (a->n_pos < cmd->min_pos)
		return ctl_usage_error(c, "missing argument: %s", cmd->args ? cmd->args : "");
	if (a->n_pos > cmd->max_pos)
		return ctl_usage_error(c, "unexpected argument \"%s\"", a->pos[cmd->max_pos]);
	for (int k = 0; cmd->opts && cmd->opts[k].name; k++) {
		if (cmd->opts[k].required && a->value[k] == NULL)
			return ctl_usage_error(c, "option --%s is required", cmd->opts[k].name);
	}
	if ((c->json || a->json) && !cmd->json)
		return ctl_usage_error(c, "%s%s%s has no JSON output", cmd->group,
				       cmd->name ? " " : "", cmd->name ? cmd->name : "");
	return 0;
}

static int run_cmd(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct ctl_args a;
	struct err e = { 0 };
	int rc;

	c->cmd = cmd;
	if (ctl_args_parse(&a, cmd->opts, argc, argv, &e) != 0)
		return ctl_usage_error(c, "%s", e.msg);
	if (a.help) {
		print_cmd_help(c->out, cmd);
		return CTL_EXIT_OK;
	}
	rc = check_args(c, &a);
	if (rc != 0)
		return rc;
	c->json = c->json || a.json;
	return cmd->run(c, &a);
}

int ctl_dispatch(struct ctl *c, int argc, char **argv)
{
	const struct ctl_cmd *cmd;
	bool group_known;

	if (argc < 1)
		return ctl_usage_error(c, "no command given");
	if (is_help(argv[0])) {
		print_top_help(c->out);
		return CTL_EXIT_OK;
	}
	cmd = find_cmd(argv[0], argc > 1 ? argv[1] : NULL, &group_known);
	if (!group_known)
		return ctl_usage_error(c, "unknown command \"%s\"", argv[0]);
	if (cmd && cmd->name == NULL)
		return run_cmd(c, cmd, argc - 1, argv + 1);
	c->group = argv[0];
	if (argc > 1 && is_help(argv[1])) {
		print_group_help(c->out, argv[0]);
		return CTL_EXIT_OK;
	}
	if (argc < 2)
		return ctl_usage_error(c, "missing %s command", argv[0]);
	if (cmd == NULL)
		return ctl_usage_error(c, "unknown %s command \"%s\"", argv[0], argv[1]);
	return run_cmd(c, cmd, argc - 2, argv + 2);
}

/* ---- output --------------------------------------------------------------------- */

int ctl_print_json(struct ctl *c, const cJSON *v)
{
	char *text = cJSON_Print(v);

	if (text == NULL)
		return ERR_NOMEM;
	fprintf(c->out, "%s\n", text);
	cJSON_free(text);
	return 0;
}

int ctl_emit_json(struct ctl *c, cJSON *j)
{
	struct err e;
	int rc = j ? ctl_print_json(c, j) : ERR_NOMEM;

	cJSON_Delete(j);
	if (rc != 0) {
		err_set(&e, ERR_NOMEM, "out of memory");
		return ctl_fail(c, &e);
	}
	return CTL_EXIT_OK;
}

/* Control characters (newlines in platform errors) would break rows. */
static char *printable(const char *s)
{
	char *copy = xstrdup(s);

	for (char *p = copy; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	return copy;
}

static bool is_string_array(const cJSON *v)
{
	const cJSON *it;

	cJSON_ArrayForEach (it, v) {
		if (!cJSON_IsString(it))
			return false;
	}
	return true;
}

static char *join_strings(const cJSON *v)
{
	struct buf b;
	const cJSON *it;

	buf_init(&b);
	buf_puts(&b, "");
	cJSON_ArrayForEach (it, v) {
		buf_printf(&b, "%s%s", b.len ? "," : "", it->valuestring);
	}
	return buf_steal(&b);
}

char *ctl_value_text(const cJSON *v)
{
	char *text, *copy;
	double d;

	if (v == NULL || cJSON_IsNull(v))
		return xstrdup("");
	if (cJSON_IsString(v))
		return printable(v->valuestring);
	if (cJSON_IsBool(v))
		return xstrdup(cJSON_IsTrue(v) ? "yes" : "no");
	if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		/* Integral values print without a fraction; no libm needed. */
		if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
			return xasprintf("%.0f", d);
		return xasprintf("%g", d);
	}
	if (cJSON_IsArray(v) && is_string_array(v))
		return join_strings(v);
	text = cJSON_PrintUnformatted(v);
	copy = printable(text ? text : "?");
	cJSON_free(text);
	return copy;
}

/* Display width: UTF-8 code points, not bytes. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return n;
}

/* Cut s to at most max code points, ending in "..." when cut. */
static void cut(char *s, int max)
{
	size_t keep, i = 0, points = 0;

	if (max <= 3 || text_width(s) <= (size_t)max)
		return;
	keep = (size_t)max - 3;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && points++ == keep)
			break;
	}
	memcpy(s + i, "...", 4);
}

/* One line of cells padded to width, without trailing blanks. */
static void print_row(FILE *f, char *const *cells, const size_t *width, int ncols)
{
	struct buf line;

	buf_init(&line);
	buf_puts(&line, "");
	for (int k = 0; k < ncols; k++) {
		buf_puts(&line, cells[k]);
		for (size_t w = text_width(cells[k]); k + 1 < ncols && w < width[k] + 2; w++)
			buf_putc(&line, ' ');
	}
	while (line.len > 0 && line.data[line.len - 1] == ' ')
		line.data[--line.len] = '\0';
	fprintf(f, "%s\n", line.data);
	buf_cleanup(&line);
}

void ctl_print_table(struct ctl *c, const struct ctl_col *cols, const cJSON *rows)
{
	int ncols = 0, nrows = cJSON_GetArraySize(rows);
	size_t *width;
	char **cell;

	while (cols[ncols].key)
		ncols++;
	width = xcalloc((size_t)ncols, sizeof(*width));
	cell = xcalloc((size_t)(nrows + 1) * (size_t)ncols, sizeof(*cell));
	for (int k = 0; k < ncols; k++) {
		cell[k] = xstrdup(cols[k].header);
		width[k] = text_width(cell[k]);
	}
	for (int r = 0; r < nrows; r++) {
		const cJSON *row = cJSON_GetArrayItem(rows, r);

		for (int k = 0; k < ncols; k++) {
			char *t =
				ctl_value_text(cJSON_GetObjectItemCaseSensitive(row, cols[k].key));

			cut(t, cols[k].max);
			if (text_width(t) > width[k])
				width[k] = text_width(t);
			cell[(r + 1) * ncols + k] = t;
		}
	}
	for (int r = 0; r <= nrows; r++)
		print_row(c->out, cell + r * ncols, width, ncols);
	for (int i = 0; i < (nrows + 1) * ncols; i++)
		free(cell[i]);
	free(cell);
	free(width);
}
