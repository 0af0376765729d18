/*
 * mem.h - aborting allocators for small internal allocations, and a
 * growable byte buffer.
 *
 * STYLE.md: input-sized allocations are checked and fail the request; small
 * internal ones may abort.  struct buf aborts on OOM, so callers bound the
 * input (max_body, batch limits) before appending it.
 */
#ifndef ADSENG_CORE_MEM_H
#define ADSENG_CORE_MEM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* xstrdup that maps NULL to NULL. */
char *xstrdup_opt(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_cleanup(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_put_be32(struct buf *b, uint32_t v);
void buf_put_be64(struct buf *b, uint64_t v);
/* Hand the data to the caller (who frees it); b is left empty. */
char *buf_steal(struct buf *b);

/* Case-insensitive ASCII compare helpers. */
bool str_ieq(const char *a, const char *b);
bool str_has_prefix(const char *s, const char *prefix);

#endif
