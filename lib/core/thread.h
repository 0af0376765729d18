/*
 * thread.h - the one way the daemon starts a thread.
 *
 * Every thread but the main one blocks the asynchronous signals (STYLE.md
 * threads rule 4): SIGTERM, SIGHUP and SIGINT are handled by the main loop
 * with evsignal, and a worker that took one would leave the loop unaware.
 * The mask is inherited, so it is set around pthread_create on the caller's
 * side and restored there.  The thread is named (`top -H`, `ps -L`, gdb).
 */
#ifndef ADSENG_CORE_THREAD_H
#define ADSENG_CORE_THREAD_H

#include <pthread.h>

#include "core/err.h"

/*
 * Start fn(arg) on a new thread with every signal blocked, named `name`
 * (cut to the kernel's 15 bytes).  0, or ERR_NOMEM with a message naming
 * the thread.  Any thread may call it.
 */
int thread_start(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg,
		 struct err *e) WUR;

#endif
