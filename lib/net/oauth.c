/*
 * oauth.c - the daemon's OAuth2 access-token cache (oauth.h).
 *
 * One mutex guards everything; it is held only for list and string work,
 * never across a network call or a callback.  An entry is keyed by the
 * caller's key and the grant's fingerprint, so a re-authorized destination
 * starts a fresh entry (the old one ages out).
 */
#include "net/oauth.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/uploader.h"

#include <event2/event.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX	      128
#define IDLE_EVICT_MS (3600 * 1000)
#define MARGIN_MAX_MS (300 * 1000)

struct entry {
	struct entry *next;
	char key[KEY_MAX]; /* "<caller key>:<grant fingerprint>" */
	char *token;	   /* wiped on replace and free */
	int64_t fresh_until_ms;
	bool refreshing;
	int fail_rc; /* 0, ERR_AUTH (until the grant changes) or ERR_IO */
	char fail_msg[256];
	int64_t fail_until_ms;
	struct event **waiters;
	size_t n_waiters, cap_waiters;
	int64_t used_ms;
};

struct oauth_cache {
	pthread_mutex_t mu;
	struct entry *head;
	struct oauth_stats st;
};

/* One refresh in flight; the uploader's callback argument. */
struct refresh_job {
	struct oauth_cache *c;
	char key[KEY_MAX];
};

int oauth_cache_new(struct oauth_cache **out, struct err *e)
{
	struct oauth_cache *c = xcalloc(1, sizeof(*c));

	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		return err_set(e, ERR_NOMEM, "could not create a mutex");
	}
	*out = c;
	return 0;
}

static void token_free(char *t)
{
	if (t == NULL)
		return;
	sodium_memzero(t, strlen(t));
	free(t);
}

static void entry_free(struct entry *en)
{
	token_free(en->token);
	free(en->waiters);
	free(en);
}

void oauth_cache_free(struct oauth_cache *c)
{
	struct entry *en, *next;

	if (c == NULL)
		return;
	for (en = c->head; en; en = next) {
		next = en->next;
		entry_free(en);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static struct entry *find(struct oauth_cache *c, const char *key)
{
	for (struct entry *en = c->head; en; en = en->next) {
		if (strcmp(en->key, key) == 0)
			return en;
	}
	return NULL;
}

/* Drop entries nobody asked for in an hour (old grants, deleted
 * destinations); never one with a refresh or waiters. */
static void evict_idle(struct oauth_cache *c, int64_t now)
{
	struct entry **pp = &c->head;

	while (*pp) {
		struct entry *en = *pp;

		if (!en->refreshing && en->n_waiters == 0 && now - en->used_ms > IDLE_EVICT_MS) {
			*pp = en->next;
			entry_free(en);
			continue;
		}
		pp = &en->next;
	}
}

static void add_waiter(struct entry *en, struct event *wake)
{
	for (size_t i = 0; i < en->n_waiters; i++) {
		if (en->waiters[i] == wake)
			return;
	}
	if (en->n_waiters == en->cap_waiters) {
		en->cap_waiters = en->cap_waiters ? en->cap_waiters * 2 : 4;
		en->waiters = xrealloc(en->waiters, en->cap_waiters * sizeof(*en->waiters));
	}
	en->waiters[en->n_waiters++] = wake;
}

static void wake_all(struct entry *en)
{
	for (size_t i = 0; i < en->n_waiters; i++)
		event_active(en->waiters[i], EV_TIMEOUT, 0);
	en->n_waiters = 0;
}

/* Under the lock: what a get answers without starting anything, or 1. */
static int answer_cached(struct entry *en, int64_t now, char *tok, struct err *e)
{
	if (en->token && now < en->fresh_until_ms) {
		memcpy(tok, en->token, strlen(en->token) + 1);
		return 0;
	}
	if (en->fail_rc == ERR_AUTH)
		return err_set(e, ERR_AUTH, "%s", en->fail_msg);
	if (en->fail_rc == ERR_IO && now < en->fail_until_ms)
		return err_set(e, ERR_IO, "%s", en->fail_msg);
	return 1;
}

static void refresh_done(const struct upload_resp *resp, void *arg);

int oauth_cache_get(struct oauth_cache *c, const char *key, const struct oauth_grant *g,
		    struct uploader *up, struct event *wake, char *tok, struct err *e)
{
	struct upload_req req;
	struct refresh_job *job;
	struct entry *en;
	char full[KEY_MAX], fp[33];
	int64_t now = clock_mono_ms();
	int rc;

	oauth_grant_fingerprint(g, fp);
	if ((size_t)snprintf(full, sizeof(full), "%s:%s", key, fp) >= sizeof(full))
		return err_set(e, ERR_INVALID, "oauth: key too long");
	upload_req_init(&req);
	pthread_mutex_lock(&c->mu);
	evict_idle(c, now);
	en = find(c, full);
	if (en == NULL) {
		en = xcalloc(1, sizeof(*en));
		memcpy(en->key, full, sizeof(full));
		en->next = c->head;
		c->head = en;
	}
	en->used_ms = now;
	rc = answer_cached(en, now, tok, e);
	if (rc != 1)
		goto unlock;
	add_waiter(en, wake);
	rc = OAUTH_PENDING;
	if (en->refreshing) {
		c->st.joined++;
		goto unlock;
	}
	rc = oauth_refresh_request(g, &req, e);
	if (rc != 0) {
		en->n_waiters--; /* ours, just added: nobody else waits */
		goto unlock;
	}
	en->refreshing = true;
	c->st.refreshes++;
	rc = OAUTH_PENDING;
unlock:
	pthread_mutex_unlock(&c->mu);
	if (rc != OAUTH_PENDING || req.url == NULL) {
		upload_req_cleanup(&req);
		return rc;
	}
	job = xcalloc(1, sizeof(*job));
	job->c = c;
	memcpy(job->key, full, sizeof(full));
	if (uploader_submit(up, &req, refresh_done, job, e) != 0) {
		struct upload_resp fake = { .transport_error = true, .status = 0 };

		snprintf(fake.transport_msg, sizeof(fake.transport_msg), "%s", e->msg);
		refresh_done(&fake, job); /* records the failure, wakes joiners */
		return err_set(e, ERR_IO, "oauth: could not start a token refresh: %s",
			       fake.transport_msg);
	}
	return OAUTH_PENDING;
}

/* Refresh a few minutes early (PLATFORMS.md); a quarter of the lifetime
 * for short-lived tokens. */
static int64_t fresh_for_ms(int64_t expires_in_s)
{
	int64_t ttl = expires_in_s * 1000;
	int64_t margin = ttl / 4 < MARGIN_MAX_MS ? ttl / 4 : MARGIN_MAX_MS;

	return ttl - margin;
}

static void refresh_done(const struct upload_resp *resp, void *arg)
{
	struct refresh_job *job = arg;
	struct oauth_cache *c = job->c;
	struct oauth_token tok;
	struct err e = { 0 };
	struct entry *en;
	int rc = oauth_token_parse(resp, &tok, &e);
	int64_t now = clock_mono_ms();

	pthread_mutex_lock(&c->mu);
	en = find(c, job->key);
	if (en) {
		en->refreshing = false;
		if (rc == 0) {
			token_free(en->token);
			en->token = tok.access_token;
			tok.access_token = NULL;
			en->fresh_until_ms = now + fresh_for_ms(tok.expires_in_s);
			en->fail_rc = 0;
		} else {
			c->st.refresh_failed++;
			if (rc == ERR_AUTH)
				c->st.grants_refused++;
			en->fail_rc = rc == ERR_AUTH ? ERR_AUTH : ERR_IO;
			snprintf(en->fail_msg, sizeof(en->fail_msg), "%s", e.msg);
			en->fail_until_ms = now + OAUTH_FAIL_HOLD_MS;
		}
		wake_all(en);
	}
	pthread_mutex_unlock(&c->mu);
	if (rc != 0)
		log_warn("oauth token refresh failed", "key=%.36s err=\"%s\"", job->key, e.msg);
	oauth_token_cleanup(&tok);
	free(job);
}

struct waiting {
	struct event_base *base;
	bool woken;
};

static void wait_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiting *wt = arg;

	(void)fd;
	(void)what;
	wt->woken = true;
	event_base_loopbreak(wt->base);
}

static void wait_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int oauth_cache_get_wait(struct oauth_cache *c, const char *key, const struct oauth_grant *g,
			 int64_t timeout_ms, char *tok, struct err *e)
{
	struct uploader_opts opts = { .default_timeout_ms = (long)timeout_ms,
				      .connect_timeout_ms = 10000 };
	struct waiting wt = { .base = event_base_new() };
	struct uploader *up = NULL;
	struct event *wake = NULL, *timer = NULL;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int rc;

	if (wt.base == NULL)
		return err_set(e, ERR_NOMEM, "could not create an event base");
	rc = uploader_new(wt.base, &opts, &up, e);
	if (rc != 0)
		goto out;
	wake = event_new(wt.base, -1, 0, wait_wake_cb, &wt);
	timer = evtimer_new(wt.base, wait_timer_cb, wt.base);
	evtimer_add(timer, &tv);
	while ((rc = oauth_cache_get(c, key, g, up, wake, tok, e)) == OAUTH_PENDING) {
		/* Until the refresh ends (ours runs on this base) or the
		 * timer; NO_EXIT_ON_EMPTY: another thread's refresh leaves
		 * nothing pending here. */
		wt.woken = false;
		while (!wt.woken && clock_mono_ms() < deadline)
			event_base_loop(wt.base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY);
		if (!wt.woken) {
			rc = err_set(e, ERR_IO, "oauth: no access token within %lld ms",
				     (long long)timeout_ms);
			break;
		}
	}
out:
	if (wake)
		oauth_cache_forget_waiter(c, wake);
	uploader_free(up); /* an unfinished refresh of ours ends as failed */
	if (wake)
		event_free(wake);
	if (timer)
		event_free(timer);
	event_base_free(wt.base);
	return rc;
}

void oauth_cache_invalidate(struct oauth_cache *c, const char *key, const char *tok)
{
	size_t klen = strlen(key);

	if (tok == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	for (struct entry *en = c->head; en; en = en->next) {
		if (strncmp(en->key, key, klen) == 0 && en->key[klen] == ':' && en->token &&
		    strcmp(en->token, tok) == 0) {
			token_free(en->token);
			en->token = NULL;
			en->fresh_until_ms = 0;
			c->st.invalidated++;
		}
	}
	pthread_mutex_unlock(&c->mu);
}

void oauth_cache_forget_waiter(struct oauth_cache *c, struct event *wake)
{
	pthread_mutex_lock(&c->mu);
	for (struct entry *en = c->head; en; en = en->next) {
		for (size_t i = 0; i < en->n_waiters; i++) {
			if (en->waiters[i] == wake) {
				en->waiters[i] = en->waiters[--en->n_waiters];
				break;
			}
		}
	}
	pthread_mutex_unlock(&c->mu);
}

void oauth_cache_stats(struct oauth_cache *c, struct oauth_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	pthread_mutex_unlock(&c->mu);
}
