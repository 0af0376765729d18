/*
 * dest.c - the registry of ad platform destinations and the outcome
 * helpers every destination shares.
 */
#include "destinations/dest.h"
#include "core/config.h"
#include "core/json_build.h"
#include "core/mem.h"
#include "core/text.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct dest_ops meta_capi_dest_ops;
extern const struct dest_ops google_ads_dest_ops;
extern const struct dest_ops google_datamanager_dest_ops;
extern const struct dest_ops tiktok_dest_ops;
extern const struct dest_ops ga4_dest_ops;
extern const struct dest_ops sgtm_dest_ops;

/* One kind a line. */
/* clang-format off */
static const struct dest_ops *const registry[] = {
	&meta_capi_dest_ops,
	&google_ads_dest_ops,
	&google_datamanager_dest_ops,
	&tiktok_dest_ops,
	&ga4_dest_ops,
	&sgtm_dest_ops,
};
/* clang-format on */

const struct dest_ops *dest_ops_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		if (strcmp(registry[i]->kind, kind) == 0)
			return registry[i];
	}
	return NULL;
}

bool dest_supports_adjustments(const struct dest_ops *ops)
{
	return ops != NULL && ops->build_adjustments != NULL && ops->adjustments_result != NULL;
}

size_t dest_adjustment_kinds(const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		if (!dest_supports_adjustments(registry[i]))
			continue;
		if (n < max)
			out[n] = registry[i]->kind;
		n++;
	}
	return n;
}

void dest_register_config_keys(void)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		for (size_t j = 0; j < registry[i]->n_config_keys; j++)
			config_add_platform_key(&registry[i]->config_keys[j]);
	}
}

const char *outcome_kind_name(enum outcome_kind k)
{
	switch (k) {
	case OUTCOME_DELIVERED:
		return "delivered";
	case OUTCOME_RETRY:
		return "retry";
	case OUTCOME_FAILED:
		return "failed";
	case OUTCOME_SPLIT:
		return "split";
	case OUTCOME_PAUSE:
		return "pause";
	case OUTCOME_DEAD:
		return "dead";
	case OUTCOME_REAUTH:
		return "reauth";
	case OUTCOME_RESEND:
		return "resend";
	}
	return "unknown";
}

void outcome_fill(struct outcome *out, size_t n, enum outcome_kind kind, long retry_after_s,
		  const char *code, const char *msg)
{
	for (size_t i = 0; i < n; i++) {
		out[i].kind = kind;
		out[i].retry_after_s = retry_after_s;
		snprintf(out[i].platform_code, sizeof(out[i].platform_code), "%s",
			 code ? code : "");
		snprintf(out[i].message, sizeof(out[i].message), "%s", msg ? msg : "");
	}
}

size_t dest_max_inflight(const struct destination *d)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(d->settings, "max_inflight");

	if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= DEST_MAX_INFLIGHT_MAX)
		return (size_t)v->valuedouble;
	if (d->ops && d->ops->default_max_inflight > 0)
		return d->ops->default_max_inflight;
	return DEST_DEFAULT_MAX_INFLIGHT;
}

int dest_prepare_common_settings(cJSON *settings, struct err *e)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, "max_inflight");
	cJSON *num;
	long n;

	if (v == NULL)
		return 0;
	if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= DEST_MAX_INFLIGHT_MAX &&
	    v->valuedouble == (double)(long)v->valuedouble)
		return 0;
	if (!cJSON_IsString(v) || !text_is_digits(v->valuestring, 4) ||
	    (n = strtol(v->valuestring, NULL, 10)) < 1 || n > DEST_MAX_INFLIGHT_MAX)
		return err_set(e, ERR_CONFIG,
			       "--max-inflight is a whole number of requests from 1 to %d",
			       DEST_MAX_INFLIGHT_MAX);
	num = cJSON_CreateNumber((double)n);
	if (num == NULL || !cJSON_ReplaceItemInObjectCaseSensitive(settings, "max_inflight", num)) {
		cJSON_Delete(num);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

int dest_test_prepare_test_mode(struct destination *d, const struct dest_test_opts *opts,
				struct err *e)
{
	(void)opts;
	(void)e;
	d->test_mode = true;
	return 0;
}

int dest_settings_set_str(cJSON *settings, const char *key, const char *val, struct err *e)
{
	cJSON *s = cJSON_CreateString(val);

	if (s == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(settings, key);
	if (!cJSON_AddItemToObject(settings, key, s)) {
		cJSON_Delete(s);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

const char *dest_settings_str(const cJSON *settings, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void dest_secret_free(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

int dest_creds_secret(const char *kind, const char *creds, const char *key, bool required,
		      bool (*ok)(const char *), char **out, struct err *e)
{
	cJSON *root = creds ? cJSON_Parse(creds) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	int rc = 0;

	*out = NULL;
	if (!cJSON_IsObject(root))
		rc = err_set(e, ERR_CONFIG, "%s: credentials are not a JSON object", kind);
	else if (v == NULL && required)
		rc = err_set(e, ERR_CONFIG, "%s: credentials have no %s", kind, key);
	else if (v &&
		 (!cJSON_IsString(v) || v->valuestring[0] == '\0' || (ok && !ok(v->valuestring))))
		rc = err_set(e, ERR_CONFIG, "%s: credentials have an unusable %s", kind, key);
	else if (v)
		*out = xstrdup(v->valuestring);
	json_wipe_strings(root);
	cJSON_Delete(root);
	return rc;
}

bool outcome_fill_transport(const struct upload_resp *resp, struct outcome *out, size_t n)
{
	char msg[sizeof(out->message)];

	if (!resp->transport_error)
		return false;
	text_copy_line(msg, sizeof(msg), resp->transport_msg);
	outcome_fill(out, n, OUTCOME_RETRY, resp->retry_after_s, "", msg);
	return true;
}
