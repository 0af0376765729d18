/*
 * secret_file.h - read a small secret file (a webhook secret, platform
 * credentials, an OAuth client secret) so that it only ever sits in
 * sodium_malloc memory.  Used by the CLI for --secret-file and by
 * destinations for daemon-wide secrets named in the config.
 */
#ifndef ADSENG_CORE_SECRET_FILE_H
#define ADSENG_CORE_SECRET_FILE_H

#include <stddef.h>

#include "core/err.h"

/*
 * Read a secret file into sodium_malloc memory (NUL-terminated; free with
 * sodium_free after use, which wipes it), trailing whitespace removed.
 * Refuses files over max bytes (ERR_TOOBIG) and empty ones (ERR_INVALID).
 * Messages name the file, never its content.  Blocking: a local file.
 */
int secret_file_read(const char *path, size_t max, char **out, size_t *outlen, struct err *e) WUR;

#endif
