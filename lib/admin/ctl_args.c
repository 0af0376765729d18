/*
 * ctl_args.c - the pure parts of adsengctl: the option parser every
 * command shares and the parsers of its argument values (times, ids,
 * event lists, states), plus reading a secret file.  No database, no
 * output: test/unit/test_ctl_args.c drives all of it.
 */
#include "admin/ctl.h"
#include "core/clock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the option parser ------------------------------------------------------ */

static int spec_find(const struct ctl_optspec *spec, const char *name, size_t len)
{
	for (int i = 0; spec && spec[i].name; i++) {
		if (strlen(spec[i].name) == len && strncmp(spec[i].name, name, len) == 0)
			return i;
	}
	return -1;
}

/* One "--name[=value]" word at argv[*i]; may consume the next word. */
static int parse_long(struct ctl_args *a, int argc, char **argv, int *i, struct err *e)
{
	const char *arg = argv[*i] + 2;
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	int k = spec_find(a->spec, arg, len);
	const char *value;

	if (k < 0 || k >= CTL_MAX_OPTS)
		return err_set(e, ERR_INVALID, "unrecognized option \"--%.*s\"", (int)len, arg);
	if (a->spec[k].kind == CTL_OPT_FLAG) {
		if (eq)
			return err_set(e, ERR_INVALID, "option --%s takes no value",
				       a->spec[k].name);
		a->value[k] = "";
		return 0;
	}
	if (eq) {
		value = eq + 1;
	} else {
		if (*i + 1 >= argc)
			return err_set(e, ERR_INVALID, "option --%s requires a value",
				       a->spec[k].name);
		value = argv[++*i];
	}
	if (a->spec[k].kind == CTL_OPT_VALUE) {
		if (a->value[k])
			return err_set(e, ERR_INVALID, "option --%s given twice", a->spec[k].name);
		a->value[k] = value;
		return 0;
	}
	if (a->n_list >= CTL_MAX_VALUES)
		return err_set(e, ERR_INVALID, "option --%s given too many times", a->spec[k].name);
	a->value[k] = value;
	a->list_opt[a->n_list] = k;
	a->list[a->n_list++] = value;
	return 0;
}

int ctl_args_parse(struct ctl_args *a, const struct ctl_optspec *spec, int argc, char **argv,
		   struct err *e)
{
	bool options_done = false;

	memset(a, 0, sizeof(*a));
	a->spec = spec;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		int rc;

		if (options_done || arg[0] != '-' || arg[1] == '\0') {
			if (a->n_pos >= CTL_MAX_POS)
				return err_set(e, ERR_INVALID, "too many arguments");
			a->pos[a->n_pos++] = arg;
		} else if (strcmp(arg, "--") == 0) {
			options_done = true;
		} else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			a->help = true;
		} else if (strcmp(arg, "--json") == 0) {
			a->json = true;
		} else if (arg[1] != '-') {
			return err_set(e, ERR_INVALID, "unrecognized option \"%s\"", arg);
		} else {
			rc = parse_long(a, argc, argv, &i, e);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

static int spec_index(const struct ctl_args *a, const char *name)
{
	int k = spec_find(a->spec, name, strlen(name));

	if (k < 0 || k >= CTL_MAX_OPTS)
		abort(); /* asked for an option the command does not declare */
	return k;
}

const char *ctl_arg(const struct ctl_args *a, const char *name)
{
	return a->value[spec_index(a, name)];
}

bool ctl_flag(const struct ctl_args *a, const char *name)
{
	return a->value[spec_index(a, name)] != NULL;
}

/* Trim spaces and tabs at both ends of s in place; returns the new start. */
static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

int ctl_arg_list(const struct ctl_args *a, const char *name, char *buf, size_t buflen,
		 const char **out, int max)
{
	int k = spec_index(a, name), n = 0;
	size_t used = 0;

	for (int i = 0; i < a->n_list; i++) {
		char *copy = buf + used, *save = NULL;
		size_t len = strlen(a->list[i]);

		if (a->list_opt[i] != k)
			continue;
		if (used + len + 1 > buflen)
			return -1;
		memcpy(copy, a->list[i], len + 1);
		used += len + 1;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			t = trim(t);
			if (*t == '\0')
				continue;
			if (n >= max)
				return -1;
			out[n++] = t;
		}
	}
	return n;
}

/* ---- value parsers -------------------------------------------------------------- */

static bool is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

enum ctl_ref_kind ctl_ref_kind(const char *s)
{
	size_t n = strlen(s);

	if (is_uuid(s))
		return CTL_REF_UUID;
	if (n > 0 && n <= 18 && strspn(s, "0123456789") == n)
		return CTL_REF_INT;
	return CTL_REF_NAME;
}

int ctl_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || !(isdigit((unsigned char)s[0]) || s[0] == '-'))
		return ERR_INVALID;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return ERR_INVALID;
	*out = v;
	return 0;
}

/* "30m" → microseconds; false when s is not of that form. */
static bool parse_age(const char *s, int64_t *out_us)
{
	static const struct {
		char unit;
		int64_t secs;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 } };
	size_t n = strlen(s), digits = strspn(s, "0123456789");
	int64_t v;

	if (n < 2 || digits != n - 1 || digits > 9)
		return false;
	v = strtoll(s, NULL, 10);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s[n - 1] == units[i].unit) {
			if (v <= 0 || v > INT64_MAX / 2 / (units[i].secs * 1000000))
				return false;
			*out_us = v * units[i].secs * 1000000;
			return true;
		}
	}
	return false;
}

int ctl_parse_time(const char *s, int64_t now_us, int64_t *out_us, struct err *e)
{
	char date[32];
	int64_t age;

	if (s && parse_age(s, &age)) {
		*out_us = now_us - age;
		return 0;
	}
	/* A bare date means its midnight, UTC. */
	if (s && strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
		snprintf(date, sizeof(date), "%sT00:00:00Z", s);
		s = date;
	}
	if (s && clock_parse_iso8601(s, out_us, NULL) == 0)
		return 0;
	return err_set(e, ERR_INVALID,
		       "invalid time \"%.64s\": use RFC 3339 (2026-11-27T10:00:00Z) or an age "
		       "such as 30m, 2h or 7d",
		       s ? s : "");
}

static bool event_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= CTL_EVENT_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static bool events_have(const struct ctl_events *ev, const char *s)
{
	for (int i = 0; i < ev->n; i++) {
		if (strcmp(ev->v[i], s) == 0)
			return true;
	}
	return false;
}

int ctl_parse_events(const char *s, struct ctl_events *out, struct err *e)
{
	char copy[CTL_MAX_EVENTS * (CTL_EVENT_MAX + 2) + 1];
	char *save = NULL;

	out->n = 0;
	if (s == NULL || strlen(s) >= sizeof(copy))
		return err_set(e, ERR_INVALID, "invalid event list");
	memcpy(copy, s, strlen(s) + 1);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		t = trim(t);
		if (*t == '\0')
			continue;
		if (!event_name_ok(t))
			return err_set(
				e, ERR_INVALID,
				"invalid event name \"%.64s\": use lower-case letters, digits "
				"and _ (at most %d)",
				t, CTL_EVENT_MAX);
		if (events_have(out, t))
			continue;
		if (out->n >= CTL_MAX_EVENTS)
			return err_set(e, ERR_INVALID, "too many events (at most %d)",
				       CTL_MAX_EVENTS);
		memcpy(out->v[out->n++], t, strlen(t) + 1);
	}
	if (out->n == 0)
		return err_set(e, ERR_INVALID, "the event list is empty");
	return 0;
}

int ctl_parse_replay_state(const char *s, unsigned *mask, struct err *e)
{
	if (strcmp(s, "failed") == 0)
		*mask |= CTL_STATE_FAILED;
	else if (strcmp(s, "dead") == 0)
		*mask |= CTL_STATE_DEAD;
	else if (strcmp(s, "held") == 0)
		*mask |= CTL_STATE_HELD;
	else if (ctl_is_delivery_state(s))
		return err_set(e, ERR_INVALID,
			       "%s deliveries are never replayed: only failed, dead and held", s);
	else
		return err_set(e, ERR_INVALID, "unknown state \"%.64s\": use failed, dead or held",
			       s);
	return 0;
}

bool ctl_is_delivery_state(const char *s)
{
	static const char *const states[] = { "pending", "in_flight", "delivered", "failed",
					      "dead",	 "held",      "skipped" };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		if (strcmp(s, states[i]) == 0)
			return true;
	}
	return false;
}

void ctl_format_age(int64_t secs, char *out, size_t outlen)
{
	if (secs < 0)
		snprintf(out, outlen, "-");
	else if (secs < 60)
		snprintf(out, outlen, "%llds", (long long)secs);
	else if (secs < 3600)
		snprintf(out, outlen, "%lldm%llds", (long long)(secs / 60), (long long)(secs % 60));
	else if (secs < 86400)
		snprintf(out, outlen, "%lldh%lldm", (long long)(secs / 3600),
			 (long long)(secs / 60 % 60));
	else
		snprintf(out, outlen, "%lldd%lldh", (long long)(secs / 86400),
			 (long long)(secs / 3600 % 24));
}

const char *ctl_actor(void)
{
	const char *names[] = { "SUDO_USER", "USER" };

	for (size_t i = 0; i < 2; i++) {
		const char *v = getenv(names[i]);

		if (v && v[0])
			return v;
	}
	return "adsengctl";
}
