/*
 * testutil.h - helpers shared by the cmocka unit tests.
 */
#ifndef ADSENG_TESTUTIL_H
#define ADSENG_TESTUTIL_H

#include <stddef.h>

/* Read FIXTURES_DIR/name into a NUL-terminated heap buffer (free()), or
 * abort the test run if it is missing. */
char *test_read_fixture(const char *name, size_t *len);

/* Write text to a new temporary file in /tmp and return its path (free());
 * the caller removes the file. */
char *test_write_temp(const char *text);

#endif
