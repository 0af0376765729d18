/*
 * test_thread.c - thread_start(): the new thread blocks the signals the
 * main loop handles, the caller's mask is left as it was, and the thread
 * carries its (shortened) name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "core/thread.h"

struct seen {
	int term_blocked;
	int hup_blocked;
	char name[16];
};

static void *probe_main(void *arg)
{
	struct seen *s = arg;
	sigset_t cur;

	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	s->term_blocked = sigismember(&cur, SIGTERM);
	s->hup_blocked = sigismember(&cur, SIGHUP);
	pthread_getname_np(pthread_self(), s->name, sizeof(s->name));
	return NULL;
}

static void test_thread_blocks_signals_and_is_named(void **state)
{
	struct seen s = { 0 };
	struct err e = { 0 };
	sigset_t before, after;
	pthread_t t;

	(void)state;
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	assert_int_equal(sigismember(&before, SIGTERM), 0);
	assert_int_equal(thread_start(&t, "a-very-long-thread-name", probe_main, &s, &e), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(s.term_blocked, 1);
	assert_int_equal(s.hup_blocked, 1);
	assert_string_equal(s.name, "a-very-long-thr");
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(sigismember(&after, SIGTERM), 0);
	assert_int_equal(sigismember(&after, SIGHUP), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_blocks_signals_and_is_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
