/*
 * thread.c - see thread.h.
 */
#include "core/thread.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int thread_start(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg, struct err *e)
{
	sigset_t all, old;
	char short_name[16];
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return err_set(e, ERR_NOMEM, "could not start thread %s: %s", name, strerror(rc));
	/* A name is a nicety: a failure changes nothing. */
	snprintf(short_name, sizeof(short_name), "%s", name);
	(void)pthread_setname_np(*thread, short_name);
	return 0;
}
