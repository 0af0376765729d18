/*
 * httpreq.c - header lookup on struct http_req.
 */
#include "core/httpreq.h"

#include <strings.h>

const char *http_req_header(const struct http_req *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	}
	return NULL;
}
