/*
 * runtime.c - the shared config snapshot, the stop deadline and the
 * service manager's numbers.
 */
#include "pipeline/runtime.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/db.h"

#include <stdlib.h>

void runtime_init(struct runtime *rt, struct config *cfg, struct vault *vault)
{
	struct err e = { 0 };

	pthread_mutex_init(&rt->cfg_mu, NULL);
	rt->cfg = cfg;
	rt->vault = vault;
	/* Only a mutex init can fail here, as for cfg_mu above: out of
	 * resources at startup, where aborting is the honest answer. */
	if (oauth_cache_new(&rt->oauth, &e) != 0) {
		log_error("cannot start", "err=\"%s\"", e.msg);
		abort();
	}
	atomic_init(&rt->stop_cancel_at_ms, 0);
	atomic_init(&rt->stop_deadline_ms, 0);
	atomic_init(&rt->stuck, 0);
	heartbeats_init(&rt->beats);
	atomic_init(&rt->delivered, 0);
	pthread_mutex_init(&rt->status_mu, NULL);
	rt->counts = (struct svc_counts){ 0 };
}

void runtime_cleanup(struct runtime *rt)
{
	config_unref(rt->cfg);
	rt->cfg = NULL;
	oauth_cache_free(rt->oauth);
	rt->oauth = NULL;
	pthread_mutex_destroy(&rt->cfg_mu);
	pthread_mutex_destroy(&rt->status_mu);
}

struct config *runtime_config(struct runtime *rt)
{
	struct config *c;

	pthread_mutex_lock(&rt->cfg_mu);
	c = config_ref(rt->cfg);
	pthread_mutex_unlock(&rt->cfg_mu);
	return c;
}

void runtime_set_config(struct runtime *rt, struct config *cfg)
{
	struct config *old;

	pthread_mutex_lock(&rt->cfg_mu);
	old = rt->cfg;
	rt->cfg = cfg;
	pthread_mutex_unlock(&rt->cfg_mu);
	config_unref(old);
}

void runtime_begin_stop(struct runtime *rt, int64_t timeout_ms)
{
	int64_t now = clock_mono_ms();
	int64_t margin = timeout_ms / 5;

	if (atomic_load(&rt->stop_deadline_ms) != 0)
		return;
	if (margin < 500)
		margin = 500;
	if (margin > 3000)
		margin = 3000;
	if (margin > timeout_ms)
		margin = timeout_ms;
	atomic_store(&rt->stop_cancel_at_ms, now + timeout_ms - margin);
	atomic_store(&rt->stop_deadline_ms, now + timeout_ms);
}

void runtime_note_stuck(struct runtime *rt)
{
	atomic_fetch_add(&rt->stuck, 1);
}

bool runtime_join_thread(struct runtime *rt, pthread_t thread, struct db_link *link,
			 const char *what)
{
	if (db_link_join(thread, &link, 1, rt ? atomic_load(&rt->stop_cancel_at_ms) : 0,
			 rt ? atomic_load(&rt->stop_deadline_ms) : 0))
		return true;
	log_warn("thread did not stop in time; leaving it", "thread=\"%s\"", what);
	if (rt)
		runtime_note_stuck(rt);
	return false;
}

void runtime_hurry(struct runtime *rt)
{
	int64_t now = clock_mono_ms();
	int64_t deadline;

	runtime_begin_stop(rt, RUNTIME_HURRY_MS);
	deadline = atomic_load(&rt->stop_deadline_ms);
	if (deadline > now + RUNTIME_HURRY_MS)
		atomic_store(&rt->stop_deadline_ms, now + RUNTIME_HURRY_MS);
	/* Half of it to release leases (a statement each), the rest for
	 * canceling what still runs. */
	if (atomic_load(&rt->stop_cancel_at_ms) > now + RUNTIME_HURRY_MS / 2)
		atomic_store(&rt->stop_cancel_at_ms, now + RUNTIME_HURRY_MS / 2);
}

void runtime_set_counts(struct runtime *rt, const struct svc_counts *c)
{
	pthread_mutex_lock(&rt->status_mu);
	rt->counts = *c;
	pthread_mutex_unlock(&rt->status_mu);
}

void runtime_get_counts(struct runtime *rt, struct svc_counts *out)
{
	pthread_mutex_lock(&rt->status_mu);
	*out = rt->counts;
	pthread_mutex_unlock(&rt->status_mu);
}
