/*
 * runtime.c - the shared config snapshot.
 */
#include "pipeline/runtime.h"

void runtime_init(struct runtime *rt, struct config *cfg, struct vault *vault)
{
	pthread_mutex_init(&rt->cfg_mu, NULL);
	rt->cfg = cfg;
	rt->vault = vault;
}

void runtime_cleanup(struct runtime *rt)
{
	config_unref(rt->cfg);
	rt->cfg = NULL;
	pthread_mutex_destroy(&rt->cfg_mu);
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
