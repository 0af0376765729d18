/*
 * google_audience.h - Customer Match through the Google Data Manager API:
 * the audience ops (destinations/audience.h) of google_datamanager
 * destinations.
 *
 * Wire facts: ../shared/DATAMANAGER.md "Customer Match" (audienceMembers
 * :ingest / :remove); the user list is created with the Data Manager
 * API's UserListService (v1.5, February 2026):
 *   POST /v1/accountTypes/GOOGLE_ADS/accounts/{customer id}/userLists
 *   https://developers.google.com/data-manager/api/reference/rest/v1/accountTypes.accounts.userLists/create
 *   body: a UserList {displayName, description, ingestedUserListInfo
 *   {uploadKeyTypes: [CONTACT_ID], contactIdInfo {dataSourceType:
 *   DATA_SOURCE_TYPE_FIRST_PARTY}}}
 *   (https://developers.google.com/data-manager/api/devguides/audiences/google-ads/customer-match/create-audience,
 *   https://developers.google.com/data-manager/api/reference/rest/v1/accountTypes.accounts.userLists),
 *   the manager account in the optional `login-account` header; the answer
 *   is the new UserList with `id` (int64 as a string) and `name`
 *   (accountTypes/GOOGLE_ADS/accounts/{cid}/userLists/{id}).
 */
#ifndef ADSENG_DESTINATIONS_GOOGLE_AUDIENCE_H
#define ADSENG_DESTINATIONS_GOOGLE_AUDIENCE_H

#include "destinations/audience.h"

/* Members per audienceMembers:ingest / :remove request (DATAMANAGER.md). */
#define GOOGLE_AUDIENCE_MAX_MEMBERS 10000

extern const struct audience_ops google_audience_ops;

#endif
