/*
 * form.h - application/x-www-form-urlencoded bodies (Meta's events edge,
 * OAuth2 token requests), written straight into a struct buf so a secret
 * value leaves no unwiped temporary behind.
 */
#ifndef ADSENG_CORE_FORM_H
#define ADSENG_CORE_FORM_H

#include <stddef.h>

#include "core/mem.h"

/* Length of s percent-encoded as a form value. */
size_t form_encoded_len(const char *s);

/* Append s percent-encoded; the caller reserved form_encoded_len(s)
 * (buf_reserve), so the buffer never moves while a secret is in it. */
void form_put(struct buf *b, const char *s);

/* Append "name=value" (with a leading '&' unless b is empty), reserving
 * first.  Callers appending secrets reserve the whole body up front. */
void form_append(struct buf *b, const char *name, const char *value);

#endif
