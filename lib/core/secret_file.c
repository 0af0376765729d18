/*
 * secret_file.c - small secret files read into locked memory (secret_file.h).
 */
#include "core/secret_file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

/* Read fd to EOF into buf (cap bytes); *n the size.  -1 when over cap. */
static int read_all(int fd, char *buf, size_t cap, size_t *n, struct err *e, const char *path)
{
	*n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + *n, cap - *n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(e, ERR_IO, "could not read file \"%s\": %s", path,
				       strerror(errno));
		if (r == 0)
			return 0;
		*n += (size_t)r;
		if (*n == cap)
			return err_set(e, ERR_TOOBIG,
				       "file \"%s\" is too large (at most %zu bytes)", path,
				       cap - 1);
	}
}

int secret_file_read(const char *path, size_t max, char **out, size_t *outlen, struct err *e)
{
	char *buf;
	size_t n = 0;
	int fd, rc;

	/* A pipe works too: --secret-file <(pass show shop). */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_IO, "could not open file \"%s\": %s", path, strerror(errno));
	buf = sodium_malloc(max + 1);
	if (buf == NULL) {
		close(fd);
		return err_set(e, ERR_NOMEM, "could not allocate secure memory");
	}
	rc = read_all(fd, buf, max + 1, &n, e, path);
	close(fd);
	while (rc == 0 && n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	if (rc == 0 && n == 0)
		rc = err_set(e, ERR_INVALID, "file \"%s\" is empty", path);
	if (rc != 0) {
		sodium_free(buf); /* wipes it */
		return rc;
	}
	sodium_memzero(buf + n, max + 1 - n);
	*out = buf;
	*outlen = n;
	return 0;
}
