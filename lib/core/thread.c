/*
 * thread.c - see thread.h.
 *
 * The thread names itself before it runs fn, so the name is there from
 * its first instruction on (naming it from the creator races with it).
 */
#include "core/thread.h"
#include "core/mem.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct start {
	void *(*fn)(void *);
	void *arg;
	char name[16]; /* the kernel's limit, NUL included */
};

static void *trampoline(void *p)
{
	struct start s = *(struct start *)p;

	free(p);
	/* A name is a nicety: a failure changes nothing. */
	(void)pthread_setname_np(pthread_self(), s.name);
	return s.fn(s.arg);
}

int thread_start(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg, struct err *e)
{
	struct start *s = xcalloc(1, sizeof(*s));
	sigset_t all, old;
	int rc;

	s->fn = fn;
	s->arg = arg;
	snprintf(s->name, sizeof(s->name), "%s", name);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(thread, NULL, trampoline, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		free(s);
		return err_set(e, ERR_NOMEM, "could not start thread %s: %s", name, strerror(rc));
	}
	return 0;
}
