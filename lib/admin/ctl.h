/*
 * ctl.h - the admin CLI `adsengctl` (DESIGN §4 "CLI"), as a library so that
 * daemon/adsengctl.c stays a thin main and the unit tests can drive the
 * argument parsing and the usage exit codes without a database.
 *
 * Shape: one table of commands (ctl.c assembles the tables the ctl_*.c
 * files export), a small option parser every command shares (`--name
 * value`, `--name=value`, flags, repeatable options, `--json` and `--help`
 * anywhere), output helpers (aligned text tables or JSON on stdout,
 * PostgreSQL-style "adsengctl: could not …: reason" on stderr), and the
 * configuration and database connection, both opened only when a command
 * needs them.  The SQL lives in store/admin.c.
 *
 * Single threaded: everything here runs on the CLI's main thread.
 */
#ifndef ADSENG_ADMIN_CTL_H
#define ADSENG_ADMIN_CTL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/err.h"
#include "core/secret_file.h"

struct cJSON;

/* Process exit codes of the contract. */
enum ctl_exit { CTL_EXIT_OK = 0, CTL_EXIT_FAIL = 1, CTL_EXIT_USAGE = 2 };

#define CTL_DEFAULT_CONFIG "/etc/adsengd/adsengd.conf"

/* ---- options ------------------------------------------------------------ */

enum ctl_opt_kind {
	CTL_OPT_FLAG,  /* --dry-run */
	CTL_OPT_VALUE, /* --tenant T, --tenant=T; at most once */
	CTL_OPT_LIST   /* --id ID, repeatable; each value may be "a,b,c" */
};

struct ctl_optspec {
	const char *name; /* without the leading "--" */
	enum ctl_opt_kind kind;
	const char *metavar; /* "T" in "--tenant T"; NULL for flags */
	bool required;	     /* the dispatcher refuses the command without it */
	const char *help;
};

#define CTL_MAX_OPTS   24
#define CTL_MAX_VALUES 256
#define CTL_MAX_POS    256

/* The parsed command line of one command.  Every pointer borrows argv. */
struct ctl_args {
	const struct ctl_optspec *spec;	  /* terminated by a NULL name */
	const char *value[CTL_MAX_OPTS];  /* VALUE: its value; FLAG: "" when given */
	const char *list[CTL_MAX_VALUES]; /* LIST values, in order, not split */
	int list_opt[CTL_MAX_VALUES];	  /* which spec entry each belongs to */
	int n_list;
	const char *pos[CTL_MAX_POS]; /* positional arguments */
	int n_pos;
	bool help; /* -h / --help */
	bool json; /* --json */
};

/*
 * Parse argv[0..argc) (the words after the command name) against spec.
 * `--` ends the options; `-h`, `--help` and `--json` are always accepted.
 * ERR_INVALID with a message ("unrecognized option \"--x\"", "option
 * --tenant requires a value", "option --tenant given twice") on a usage
 * error.  a borrows argv and spec.
 */
int ctl_args_parse(struct ctl_args *a, const struct ctl_optspec *spec, int argc, char **argv,
		   struct err *e) WUR;

/* The value of a VALUE option, "" for a given FLAG, NULL when absent.
 * name must be in the spec (aborts otherwise: a programming error). */
const char *ctl_arg(const struct ctl_args *a, const char *name);
bool ctl_flag(const struct ctl_args *a, const char *name);
/* Values of a LIST option with commas split (empty items dropped) into
 * buf (modified copy, caller-owned), pointers into it in out[0..max).
 * Returns the count, or -1 when there are more than max. */
int ctl_arg_list(const struct ctl_args *a, const char *name, char *buf, size_t buflen,
		 const char **out, int max);

/* ---- pure parsers (unit tested) ------------------------------------------ */

/* How a reference on the command line names a row. */
enum ctl_ref_kind {
	CTL_REF_NAME, /* anything else: look it up by name */
	CTL_REF_INT,  /* all digits (a tenant or delivery id), may also be a name */
	CTL_REF_UUID  /* 8-4-4-4-12 hex digits */
};
enum ctl_ref_kind ctl_ref_kind(const char *s);

/* A decimal integer in [min, max], the whole string; 0 or ERR_INVALID. */
int ctl_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out) WUR;

/*
 * TIME on the command line: RFC 3339 ("2026-11-27T10:00:00Z", offsets
 * allowed) or a relative age meaning "that long before now_us": a positive
 * integer followed by s, m, h, d or w ("30m", "2h", "7d").  *out_us is unix
 * microseconds.  0 or ERR_INVALID with a message.
 */
int ctl_parse_time(const char *s, int64_t now_us, int64_t *out_us, struct err *e) WUR;

#define CTL_MAX_EVENTS 32
#define CTL_EVENT_MAX  64

/* The `--events purchase,lead` list of a route: names of [a-z0-9_] (at most
 * CTL_EVENT_MAX bytes), whitespace around items ignored, duplicates
 * dropped, at least one. */
struct ctl_events {
	int n;
	char v[CTL_MAX_EVENTS][CTL_EVENT_MAX + 1];
};
int ctl_parse_events(const char *s, struct ctl_events *out, struct err *e) WUR;

/* Delivery states as a bit set, for `replay --state`. */
enum ctl_state_bit { CTL_STATE_FAILED = 1 << 0, CTL_STATE_DEAD = 1 << 1, CTL_STATE_HELD = 1 << 2 };
/* Add one replayable state name to *mask; ERR_INVALID for any other name
 * (pending, in_flight and delivered are never replayed). */
int ctl_parse_replay_state(const char *s, unsigned *mask, struct err *e) WUR;

/* A delivery state name of the schema (for `deliveries list --state`). */
bool ctl_is_delivery_state(const char *s);

/* "45s", "12m3s", "5h2m", "3d4h"; "-" for a negative age. */
void ctl_format_age(int64_t secs, char *out, size_t outlen);

/* The audit actor: $SUDO_USER, else $USER, else "adsengctl". */
const char *ctl_actor(void);

/* ---- the command context -------------------------------------------------- */

struct ctl_cmd;

struct ctl {
	FILE *out;		   /* results: stdout */
	FILE *errf;		   /* messages: stderr */
	const char *config_path;   /* -c FILE, or NULL for the default */
	bool json;		   /* --json anywhere */
	const char *group;	   /* the command group being run ("tenant") */
	const struct ctl_cmd *cmd; /* the command being run */
	struct config *cfg;	   /* loaded by ctl_config() */
	PGconn *conn;		   /* opened by ctl_db() */
};

/* out and errf are borrowed.  ctl_cleanup closes what the commands opened. */
void ctl_init(struct ctl *c, FILE *out, FILE *errf);
void ctl_cleanup(struct ctl *c);

/*
 * Parse the global options (-c FILE, --config FILE, --json, -h, --help,
 * --version) at the start of argv (argv[0] is the program).  Returns -1 to
 * go on with the command at argv[*next], or an exit code to return now
 * (0 after --help, 2 after a usage error, already reported).
 */
int ctl_parse_global(struct ctl *c, int argc, char **argv, int *next);

/* Run the command in argv[0..argc) (e.g. "tenant", "add", "acme");
 * returns an enum ctl_exit.  Errors have been printed. */
int ctl_dispatch(struct ctl *c, int argc, char **argv);

/* The configuration: -c FILE, else CTL_DEFAULT_CONFIG if it exists, else
 * the defaults; ADSENGD_* overrides.  Loaded once, owned by c. */
int ctl_config(struct ctl *c, struct config **out, struct err *e) WUR;

/* The database connection of [database] url (application_name adsengctl,
 * TimeZone UTC).  Opened once, owned by c. */
int ctl_db(struct ctl *c, PGconn **out, struct err *e) WUR;

/*
 * Resolve a tenant / source / destination named on the command line by id
 * or name (ctl_ref_kind decides whether ref may be an id).  Messages are
 * the store's ("no tenant named \"x\"").
 */
struct admin_obj;
int ctl_find_tenant(PGconn *conn, const char *ref, int64_t *id, struct err *e) WUR;
int ctl_find_source(PGconn *conn, const char *ref, struct admin_obj *out, struct err *e) WUR;
int ctl_find_destination(PGconn *conn, const char *ref, struct admin_obj *out, struct err *e) WUR;

/* ---- commands and output ---------------------------------------------- */

struct ctl_cmd {
	const char *group;		/* "tenant"; the command itself when name is NULL */
	const char *name;		/* "add", or NULL for a one-word command ("stats") */
	const char *args;		/* positional part of the synopsis: "NAME" */
	const char *summary;		/* one line for the top-level help */
	const char *description;	/* paragraph for the command's --help, or NULL */
	const struct ctl_optspec *opts; /* NULL-name terminated, may be NULL */
	int min_pos, max_pos;
	bool json; /* has a JSON output */
	int (*run)(struct ctl *c, const struct ctl_args *a);
};

/* The tables the ctl_*.c files export, each terminated by a NULL group. */
extern const struct ctl_cmd ctl_catalog_cmds[];
extern const struct ctl_cmd ctl_deliveries_cmds[];
extern const struct ctl_cmd ctl_misc_cmds[];
extern const struct ctl_cmd ctl_oauth_cmds[];
extern const struct ctl_cmd ctl_raw_cmds[];
extern const struct ctl_cmd ctl_google_cmds[];
extern const struct ctl_cmd ctl_audience_cmds[];
extern const struct ctl_cmd ctl_privacy_cmds[];
extern const struct ctl_cmd ctl_adjust_cmds[];
extern const struct ctl_cmd ctl_destination_cmds[];
extern const struct ctl_cmd ctl_man_cmds[];
extern const struct ctl_cmd ctl_token_cmds[];
extern const struct ctl_cmd ctl_billing_cmds[];

/* Table i of every command table, in help order; NULL past the last. */
const struct ctl_cmd *ctl_cmd_table(size_t i);

/* Print "adsengctl: <msg>" on stderr; returns CTL_EXIT_FAIL. */
int ctl_fail(struct ctl *c, const struct err *e);
/* Print "adsengctl: <msg>", the command's usage line and a hint;
 * returns CTL_EXIT_USAGE. */
int ctl_usage_error(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "adsengctl: warning: <msg>" on stderr. */
void ctl_warn(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a JSON value (pretty) and a newline on stdout; ERR_NOMEM. */
int ctl_print_json(struct ctl *c, const struct cJSON *v) WUR;
/* Print j as JSON and free it; ERR_NOMEM message when j is NULL. */
int ctl_emit_json(struct ctl *c, struct cJSON *j);

/* One column of a text table: the row key, its header, and a maximum
 * width (0 = none) beyond which the value is cut and ends in "...". */
struct ctl_col {
	const char *key;
	const char *header;
	int max;
};
/* An aligned table of an array of objects, NULL-key terminated cols.
 * Strings print as is (control characters as spaces), numbers as
 * integers where integral, booleans as yes/no, null as empty, arrays of
 * strings comma-joined, other values as compact JSON. */
void ctl_print_table(struct ctl *c, const struct ctl_col *cols, const struct cJSON *rows);
/* Text form of one JSON value as the table prints it (caller frees). */
char *ctl_value_text(const struct cJSON *v);

#endif
