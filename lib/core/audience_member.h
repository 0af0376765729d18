/*
 * audience_member.h - one member of a customer-list audience as a platform
 * gets it (the model shared by the platform builders in destinations/ and
 * the SQL in store/, which may not include each other).
 */
#ifndef ADSENG_CORE_AUDIENCE_MEMBER_H
#define ADSENG_CORE_AUDIENCE_MEMBER_H

#include <stdbool.h>

#define AUDIENCE_KEY_LEN 64

/* identifiers and consent are owned JSON texts (audience_member_cleanup). */
struct audience_member {
	char key[AUDIENCE_KEY_LEN + 1]; /* stable across syncs: hex SHA-256 */
	char *identifiers;		/* canonical JSON array text */
	char *consent;			/* JSON object text, NULL = send none */
	bool denied;			/* consent refused: remove, never add */
};

/* Free the texts and zero m; any thread. */
void audience_member_cleanup(struct audience_member *m);

#endif
