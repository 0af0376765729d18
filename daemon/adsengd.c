/*
 * adsengd - the AdsEngineer server: webhooks in, conversions out.
 *
 * main() only bootstraps: configuration, library initialization, the
 * vault, then the HTTP loop (this thread), the control thread and the
 * worker pool; signals are handled here with evsignal (never with work in
 * a handler).  SIGHUP reloads what can change live; SIGTERM/SIGINT stop in
 * order: stop listening, give back the leases of uploads not yet started,
 * answer what is queued, let uploads finish (or give their leases back),
 * join threads, close connections -- within [server] shutdown_timeout:
 * statements that hold a thread up past it are canceled, and a thread
 * stuck even then is left behind.  A second SIGTERM/SIGINT stops at once
 * (runtime_hurry): uploads are given up and released, what is committed
 * stays committed.
 *
 * This file is also the daemon's only contact with the service manager
 * (sd_notify; a no-op without $NOTIFY_SOCKET): READY=1, RELOADING=1,
 * STOPPING=1, a STATUS= line every 10 s, and WATCHDOG=1 at half of
 * $WATCHDOG_USEC while every watched thread (this loop, the ingest
 * writers, the workers: core/heartbeat.h) has made progress within
 * $WATCHDOG_USEC.  A wedged thread stops the pings; systemd restarts us.
 */
#include "core/clock.h"
#include "core/config.h"
#include "core/heartbeat.h"
#include "core/log.h"
#include "core/svc_status.h"
#include "core/vault.h"
#include "destinations/dest.h"
#include "sources/source.h"
#include "http/server.h"
#include "pipeline/control.h"
#include "pipeline/platform_jobs.h"
#include "pipeline/runtime.h"
#include "pipeline/worker.h"

#include <curl/curl.h>
#include <malloc.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/adsengd/adsengd.conf"

/* How often STATUS= is sent. */
#define STATUS_EVERY_MS 10000

struct daemon_state {
	const char *config_path;
	struct event_base *base;
	struct runtime rt;
	struct http_server *http;
	struct worker_pool *workers;
	struct event *drain_ev;
	struct event *status_ev;
	struct event *watchdog_ev;
	int64_t watchdog_ms;  /* $WATCHDOG_USEC in ms; 0: no watchdog */
	int loop_beat;	      /* this loop's heartbeat slot */
	bool watchdog_silent; /* pings stopped (logged once) */
	int64_t last_delivered, last_status_ms;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: adsengd [-c FILE] [-t] [--version] [--help]\n"
		   "  -c FILE    configuration file (default " DEFAULT_CONFIG " if it exists)\n"
		   "  -t         check the configuration and the master key, then exit\n"
		   "  --version  print the version\n"
		   "Every key can be overridden with ADSENGD_<SECTION>_<KEY>.\n");
}

static void sources_cb(struct source_set *set, void *arg)
{
	struct daemon_state *d = arg;

	http_server_set_sources(d->http, set);
}

static void reload(struct daemon_state *d)
{
	struct config *newc = NULL, *old;
	struct err e = { 0 };
	char changed[512];

	sd_notify(0, "RELOADING=1");
	if (config_load(d->config_path, &newc, &e) != 0) {
		log_error("configuration reload failed; keeping the running configuration",
			  "err=\"%s\"", e.msg);
		sd_notify(0, "READY=1");
		return;
	}
	old = runtime_config(&d->rt);
	config_restart_keys(old, newc, changed, sizeof(changed));
	if (changed[0])
		log_warn("configuration keys changed that need a restart; keeping their old values",
			 "keys=%s", changed);
	config_keep_restart_keys(newc, old);
	config_unref(old);
	log_set_level((enum log_level)log_parse_level(newc->log_level));
	log_set_format(strcmp(newc->log_format, "json") == 0);
	runtime_set_config(&d->rt, newc);
	log_info("configuration reloaded", NULL);
	sd_notify(0, "READY=1");
}

/* While stopping: leave the loop once no request waits for its COMMIT and
 * the workers are done with their uploads (the loop keeps serving
 * meanwhile, and a second signal can still be handled), or at the cancel
 * point at the latest. */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_state *d = arg;
	struct timeval tv = { 0, 50000 };

	(void)fd;
	(void)what;
	if ((http_server_is_idle(d->http) && worker_pool_is_stopped(d->workers)) ||
	    clock_mono_ms() >= atomic_load(&d->rt.stop_cancel_at_ms)) {
		event_base_loopbreak(d->base);
		return;
	}
	evtimer_add(d->drain_ev, &tv);
}

/* The stop deadline: [server] shutdown_timeout from now. */
static void begin_stop(struct daemon_state *d)
{
	struct config *cfg = runtime_config(&d->rt);

	runtime_begin_stop(&d->rt, cfg->shutdown_timeout_ms);
	config_unref(cfg);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload(d);
		return;
	}
	if (d->drain_ev) {
		/* The second one: now.  Uploads are given up (leases
		 * released), the loop ends; the joins that follow cancel what
		 * still runs. */
		log_info("stopping now", "signal=%d", (int)sig);
		runtime_hurry(&d->rt);
		worker_pool_hurry(d->workers);
		event_base_loopbreak(d->base);
		return;
	}
	log_info("shutting down", "signal=%d", (int)sig);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	if (d->status_ev)
		event_del(d->status_ev);
	http_server_stop_listening(d->http);
	begin_stop(d);
	worker_pool_begin_stop(d->workers);
	d->drain_ev = evtimer_new(d->base, drain_cb, d);
	drain_cb(-1, 0, d);
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_state *d = arg;
	struct svc_counts counts;
	int64_t now = clock_mono_ms();
	int64_t delivered = atomic_load(&d->rt.delivered);
	double per_s = -1;
	char line[256];

	(void)fd;
	(void)what;
	if (d->last_status_ms > 0 && now > d->last_status_ms)
		per_s = (double)(delivered - d->last_delivered) * 1000.0 /
			(double)(now - d->last_status_ms);
	d->last_delivered = delivered;
	d->last_status_ms = now;
	runtime_get_counts(&d->rt, &counts);
	svc_status_format(line, sizeof(line), &counts, per_s);
	sd_notifyf(0, "STATUS=%s", line);
}

/* Every half watchdog interval: ping only if every watched thread made
 * progress within the interval (this loop did: it runs this callback). */
static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_state *d = arg;
	int64_t age = 0;
	int stale;

	(void)fd;
	(void)what;
	heartbeat_beat(&d->rt.beats, d->loop_beat);
	stale = heartbeats_check(&d->rt.beats, clock_mono_ms(), d->watchdog_ms, &age);
	if (stale < 0) {
		if (d->watchdog_silent)
			log_info("all threads make progress again; pinging the watchdog", NULL);
		d->watchdog_silent = false;
		sd_notify(0, "WATCHDOG=1");
		return;
	}
	if (!d->watchdog_silent)
		log_error("a thread makes no progress; not pinging the watchdog (systemd will "
			  "restart the service)",
			  "thread=%s stalled_ms=%lld", heartbeat_name(&d->rt.beats, stale),
			  (long long)age);
	d->watchdog_silent = true;
}

/* The periodic events for the service manager: STATUS= always (harmless
 * without one), the watchdog when $WATCHDOG_USEC asks for it. */
static int start_notify_timers(struct daemon_state *d)
{
	struct timeval tv = { STATUS_EVERY_MS / 1000, 0 };
	uint64_t usec = 0;

	d->status_ev = event_new(d->base, -1, EV_PERSIST, status_cb, d);
	if (d->status_ev == NULL || event_add(d->status_ev, &tv) != 0)
		return -1;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	d->watchdog_ms = (int64_t)(usec / 1000);
	if (d->watchdog_ms < 2)
		d->watchdog_ms = 2;
	tv.tv_sec = (time_t)(usec / 2 / 1000000);
	tv.tv_usec = (suseconds_t)(usec / 2 % 1000000);
	d->watchdog_ev = event_new(d->base, -1, EV_PERSIST, watchdog_cb, d);
	if (d->watchdog_ev == NULL || event_add(d->watchdog_ev, &tv) != 0)
		return -1;
	log_info("systemd watchdog enabled", "interval_ms=%lld", (long long)d->watchdog_ms);
	return 0;
}

static int parse_args(int argc, char **argv, const char **path, bool *check_only)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			*path = argv[++i];
		} else if (strcmp(argv[i], "-t") == 0) {
			*check_only = true;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("adsengd %s\n", ADSENG_VERSION);
			exit(0);
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			exit(0);
		} else {
			fprintf(stderr, "adsengd: unknown argument \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (*path == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		*path = DEFAULT_CONFIG;
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon_state d = { 0 };
	struct config *cfg = NULL;
	struct vault *vault = NULL;
	struct control *control = NULL;
	struct platform_jobs *platform = NULL;
	struct event *sigs[3] = { NULL };
	const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct err e = { 0 };
	bool check_only = false;
	int rc;

	rc = parse_args(argc, argv, &d.config_path, &check_only);
	if (rc != 0)
		return rc;
	dest_register_config_keys(); /* before any config_load */
	source_register_config_keys();
	if (config_load(d.config_path, &cfg, &e) != 0) {
		fprintf(stderr, "adsengd: %s\n", e.msg);
		return 1;
	}
	log_detect_journal();
	log_set_level((enum log_level)log_parse_level(cfg->log_level));
	log_set_format(strcmp(cfg->log_format, "json") == 0);
	/* Library initialization, on this thread, before any other starts. */
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    evthread_use_pthreads() != 0) {
		fprintf(stderr, "adsengd: could not initialize libraries\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Batches allocate megabyte-sized buffers (a thousand bodies, a
	 * thousand-event request) many times a second: keep them in the heap
	 * instead of mmap/munmap (and page faults) every time. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	if (vault_open(cfg->master_key_file, &vault, &e) != 0) {
		fprintf(stderr, "adsengd: %s\n", e.msg);
		config_unref(cfg);
		return 1;
	}
	if (check_only) {
		printf("adsengd: configuration %s is valid\n",
		       d.config_path ? d.config_path : "(built-in defaults)");
		vault_free(vault);
		config_unref(cfg);
		return 0;
	}
	runtime_init(&d.rt, cfg, vault);
	d.loop_beat = heartbeat_register(&d.rt.beats, "loop");
	d.base = event_base_new();
	rc = 1;
	if (d.base == NULL) {
		fprintf(stderr, "adsengd: could not create the event loop\n");
		goto out;
	}
	if (http_server_start(d.base, &d.rt, &d.http, &e) != 0 ||
	    control_start(&d.rt, d.base, sources_cb, &d, &control, &e) != 0 ||
	    platform_jobs_start(&d.rt, &platform, &e) != 0 ||
	    worker_pool_start(&d.rt, &d.workers, &e) != 0) {
		log_error("could not start", "err=\"%s\"", e.msg);
		goto out;
	}
	if (start_notify_timers(&d) != 0) {
		log_error("could not create the status timers", NULL);
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(d.base, signums[i], signal_cb, &d);
		event_add(sigs[i], NULL);
	}
	log_info("adsengd started", "version=%s workers=%lld ingest_writers=%lld", ADSENG_VERSION,
		 (long long)cfg->worker_threads, (long long)cfg->ingest_writers);
	sd_notify(0, "READY=1");
	status_cb(-1, 0, &d);
	event_base_dispatch(d.base);
	rc = 0;
out:
	/* Order: uploads finish or give their leases back, housekeeping stops,
	 * then the ingest writers finish what is queued and the last replies
	 * are written, all by the deadline begun at the signal. */
	begin_stop(&d); /* no-op after a signal; a failed start had none */
	worker_pool_stop(d.workers);
	d.workers = NULL; /* a signal handled by http_server_free's last loop run */
	platform_jobs_stop(platform);
	control_stop(control);
	http_server_free(d.http);
	if (atomic_load(&d.rt.stuck) > 0) {
		/* A thread is still blocked in libpq (a database that does not
		 * answer, not even a cancel): the leases bring its work back.
		 * Exit without freeing what it uses. */
		log_warn("exiting with threads still waiting for the database", "threads=%d",
			 atomic_load(&d.rt.stuck));
		fflush(stderr);
		_exit(rc);
	}
	for (int i = 0; i < 3; i++) {
		if (sigs[i])
			event_free(sigs[i]);
	}
	if (d.drain_ev)
		event_free(d.drain_ev);
	if (d.status_ev)
		event_free(d.status_ev);
	if (d.watchdog_ev)
		event_free(d.watchdog_ev);
	runtime_cleanup(&d.rt);
	vault_free(vault);
	if (d.base)
		event_base_free(d.base);
	curl_global_cleanup();
	libevent_global_shutdown();
	if (rc == 0)
		log_info("adsengd stopped", NULL);
	return rc;
}
