/*
 * runtime.h - what every thread of the daemon shares: the current config
 * snapshot (swapped on SIGHUP, read under a short lock and then used
 * through a reference) and the vault (immutable after start).
 */
#ifndef ADSENG_PIPELINE_RUNTIME_H
#define ADSENG_PIPELINE_RUNTIME_H

#include <pthread.h>

#include "core/config.h"
#include "core/vault.h"

struct runtime {
	pthread_mutex_t cfg_mu;
	struct config *cfg;
	struct vault *vault;
};

/* Takes ownership of one reference to cfg; vault stays the caller's. */
void runtime_init(struct runtime *rt, struct config *cfg, struct vault *vault);
void runtime_cleanup(struct runtime *rt);

/* A new reference to the current config (config_unref when done). */
struct config *runtime_config(struct runtime *rt);

/* Publish a new config (takes ownership of one reference). */
void runtime_set_config(struct runtime *rt, struct config *cfg);

#endif
