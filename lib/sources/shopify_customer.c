/*
 * shopify_customer.c - the Shopify topics about customers rather than
 * orders: customers/create|update (the customer kept for Customer Match,
 * no conversion) and the mandatory privacy ("compliance") webhooks.
 *
 * Privacy topics and payloads, from Shopify's privacy law compliance page
 * (https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance):
 *  - customers/data_request {shop_id, shop_domain, orders_requested[],
 *    customer{id,email,phone}, data_request{id}}: the customer asked the
 *    merchant what apps hold about them;
 *  - customers/redact {shop_id, shop_domain, customer{id,email,phone},
 *    orders_to_redact[]}: erase the customer's data;
 *  - shop/redact {shop_id, shop_domain}: 48 h after the app was
 *    uninstalled, erase the shop's data.
 * They are signed and delivered like every other topic (an invalid HMAC
 * must get 401, which the common verify gives), stored as raw events, and
 * acted on by stage 1 through the action hook; this file only says what
 * each event asks and whom it names.  The erasing is generic
 * (pipeline/privacy.c).
 *
 * A person is keyed by the Shopify customer id (decimal text), the same
 * key the contact hook uses and the external_id orders carry.
 */
#include "sources/shopify_int.h"
#include "sources/source_json.h"
#include "core/mem.h"

#include <cjson/cJSON.h>
#include <string.h>

#define GID_CUSTOMER "gid://shopify/Customer/"

/* Shopify requires them answered even after the uninstall that disabled
 * the source: shop/redact is sent 48 h after it. */
const char *const shopify_privacy_topics[] = {
	"customers/data_request",
	"customers/redact",
	"shop/redact",
	NULL,
};

static bool topic_is(const struct raw_event *ev, const char *topic)
{
	return ev->topic != NULL && strcmp(ev->topic, topic) == 0;
}

/* The customer record topics: the body is the Customer resource itself
 * (https://shopify.dev/docs/api/admin-rest/latest/resources/customer). */
static bool is_customer_record(const struct raw_event *ev)
{
	return topic_is(ev, "customers/create") || topic_is(ev, "customers/update");
}

static bool is_privacy_person(const struct raw_event *ev)
{
	return topic_is(ev, "customers/redact") || topic_is(ev, "customers/data_request");
}

/* The customer a body is about: the record itself for the customer
 * topics, its "customer" member for everything else (orders, checkouts,
 * the privacy requests).  0 with the id in out, or an error code. */
static int customer_key(const struct raw_event *ev, const cJSON *root, char out[24])
{
	if (is_customer_record(ev))
		return shopify_id(root, GID_CUSTOMER, out);
	return shopify_id(source_json_obj(root, "customer"), GID_CUSTOMER, out);
}

/* The identifiers of a Customer record, in the order of trust set_pii
 * uses for orders; the default address stands in for a billing one. */
static struct conversion *customer_known(const cJSON *root, const char *id)
{
	const cJSON *addr = source_json_obj(root, "default_address");
	struct conversion *c = conv_new();

	conv_set_pii(c, PII_EMAIL, source_json_str(root, "email"));
	conv_set_pii(c, PII_PHONE, source_json_str(root, "phone"));
	conv_set_pii(c, PII_PHONE, source_json_str(addr, "phone"));
	conv_set_pii(c, PII_FIRST_NAME, source_json_str(root, "first_name"));
	conv_set_pii(c, PII_FIRST_NAME, source_json_str(addr, "first_name"));
	conv_set_pii(c, PII_LAST_NAME, source_json_str(root, "last_name"));
	conv_set_pii(c, PII_LAST_NAME, source_json_str(addr, "last_name"));
	conv_set_pii(c, PII_CITY, source_json_str(addr, "city"));
	conv_set_pii(c, PII_REGION, source_json_str(addr, "province_code"));
	conv_set_pii(c, PII_POSTAL, source_json_str(addr, "zip"));
	conv_set_pii(c, PII_COUNTRY, source_json_str(addr, "country_code"));
	conv_set_pii(c, PII_EXTERNAL_ID, id);
	return c;
}

void shopify_contact(const struct raw_event *ev, struct source_contact *out)
{
	cJSON *root;
	char id[24];

	if (!is_customer_record(ev))
		return;
	root = source_json_parse_object(ev->body, ev->body_len);
	if (root != NULL && customer_key(ev, root, id) == 0) {
		memcpy(out->key, id, strlen(id) + 1);
		out->known = customer_known(root, id);
	}
	cJSON_Delete(root);
}

bool shopify_names(const struct raw_event *ev, const char *key)
{
	cJSON *root;
	char id[24];
	bool yes;

	if (key == NULL || key[0] == '\0')
		return false;
	root = source_json_parse_object(ev->body, ev->body_len);
	yes = root != NULL && customer_key(ev, root, id) == 0 && strcmp(id, key) == 0;
	cJSON_Delete(root);
	return yes;
}

enum source_action shopify_privacy_action(const struct raw_event *ev, char *key)
{
	cJSON *root;
	char id[24];
	enum source_action a = SOURCE_ACTION_NONE;

	key[0] = '\0';
	if (topic_is(ev, "shop/redact"))
		return SOURCE_ACTION_REDACT_SOURCE;
	if (!is_privacy_person(ev))
		return SOURCE_ACTION_NONE;
	root = source_json_parse_object(ev->body, ev->body_len);
	if (root != NULL && customer_key(ev, root, id) == 0) {
		memcpy(key, id, strlen(id) + 1);
		a = topic_is(ev, "customers/redact") ? SOURCE_ACTION_REDACT_PERSON
						     : SOURCE_ACTION_DATA_REQUEST;
	}
	cJSON_Delete(root);
	return a;
}

int shopify_parse_other(const struct raw_event *ev, struct err *e)
{
	char key[SOURCE_CONTACT_KEY_MAX];

	if (!is_privacy_person(ev))
		return 0;
	if (shopify_privacy_action(ev, key) == SOURCE_ACTION_NONE)
		return err_set(e, ERR_INVALID, "%s names no customer with a usable id", ev->topic);
	return 0;
}
