/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store.c - pick the backend by the store name's scheme, keep it open for
 * the life of the process, and serialise its use call by call.
 *
 * Stores: a short list of the stores this process opened, one per store
 * name.  hb_store_acquire() finds or opens the one for cfg->store and
 * counts a user; hb_store_release() uncounts it.  Neither holds a lock
 * beyond its own few instructions, so a login never holds the store
 * across its HTTP request: another thread's login uses it meanwhile.
 * Opening a store closes the stores of other names that no login uses
 * (a config naming another store closes the first, as before).
 *
 * Calls: every hb_store_* call takes its store's lock for its own
 * duration only, waiting at most the store's store_timeout for it (a
 * call holds it at most about store_timeout: a call is bounded by twice
 * store_timeout in all); "store busy in this process" after that.  The
 * backends (one LMDB reader transaction, one Redis connection) thus never
 * see two calls at once.
 *
 * Fork: in a child forked while stores were open (pthread_atfork) the
 * list lock and every store's lock are made anew (another thread may
 * have held them) and every inherited store is marked; a marked store is
 * abandoned (never closed, never used: its calls fail) and the child
 * opens its own at its next acquire.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct hb_store {
    const struct hb_store_ops *ops;
    void *backend;
    char *name;                  /* cfg->store it was opened for */
    pid_t pid;                   /* process that opened it */
    long timeout_ms;             /* cfg->store_timeout_ms when opened */
    unsigned users;              /* acquired and not yet released (list_lock) */
    bool inherited;              /* opened by a parent process: never used */
    pthread_mutex_t lock;        /* held for the duration of one call */
    struct hb_store *next;
};

/* "redis" matches both redis:// and redis+unix:. */
static const struct hb_store_ops *const backends[] = {&hb_store_lmdb_ops, &hb_store_redis_ops};

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hb_store *stores;      /* guarded by list_lock */
static struct hb_store *abandoned;   /* inherited stores still in use by a caller: leaked */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* In a forked child: fresh locks (another thread may have held them); every store is the parent's. */
static void child_after_fork(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    list_lock = fresh;
    for (struct hb_store *s = stores; s != NULL; s = s->next) {
        s->lock = fresh;
        s->inherited = true;
    }
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, child_after_fork);
}

static const struct hb_store_ops *backend_for(const char *name)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strncmp(name, backends[i]->scheme, strlen(backends[i]->scheme)) == 0)
            return backends[i];
    return NULL;
}

/* Take lock within timeout_ms; 0 or an errno. */
static int lock_within(pthread_mutex_t *lock, long timeout_ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock(lock, &until);
}

/* Unlink s from the list and let it go: abandon one inherited from a parent, close our own (list_lock held). */
static void drop(struct hb_store *s)
{
    struct hb_store **p = &stores;

    while (*p != NULL && *p != s)
        p = &(*p)->next;
    if (*p == s)
        *p = s->next;
    if (s->inherited || s->pid != getpid()) {
        s->ops->abandon(s->backend);
        if (s->users > 0) {        /* a caller of the parent's still holds it: never free */
            s->next = abandoned;
            abandoned = s;
            return;
        }
    } else {
        s->ops->close(s->backend);
    }
    pthread_mutex_destroy(&s->lock);
    free(s->name);
    free(s);
}

/* Drop every inherited store, and the unused ones of other names than keep (list_lock held). */
static void prune(const char *keep)
{
    struct hb_store *s = stores, *next;

    for (; s != NULL; s = next) {
        next = s->next;
        if (s->inherited || s->pid != getpid() || (s->users == 0 && strcmp(s->name, keep) != 0))
            drop(s);
    }
}

/* Open cfg->store; NULL with err set on failure (list_lock held). */
static struct hb_store *open_new(const struct hb_config *cfg, char *err, size_t errlen)
{
    const struct hb_store_ops *ops = backend_for(cfg->store);
    struct hb_store *store = calloc(1, sizeof(*store));

    if (ops == NULL || store == NULL || (store->name = strdup(cfg->store)) == NULL) {
        snprintf(err, errlen, ops == NULL ? "unknown store scheme" : "out of memory");
        free(store);
        return NULL;
    }
    store->ops = ops;
    store->pid = getpid();
    store->timeout_ms = cfg->store_timeout_ms > 0 ? cfg->store_timeout_ms : 200;
    pthread_mutex_init(&store->lock, NULL);
    store->backend = ops->open(cfg, err, errlen);
    if (store->backend == NULL) {
        pthread_mutex_destroy(&store->lock);
        free(store->name);
        free(store);
        return NULL;
    }
    store->next = stores;
    stores = store;
    return store;
}

struct hb_store *hb_store_acquire(const struct hb_config *cfg, char *err, size_t errlen)
{
    struct hb_store *s;
    int rc;

    err[0] = '\0';
    if (cfg->store == NULL)
        return NULL;
    pthread_once(&atfork_once, register_atfork);
    /* Held only to find the store, or while opening one (bounded by store_timeout). */
    rc = lock_within(&list_lock, cfg->store_timeout_ms);
    if (rc != 0) {
        snprintf(err, errlen, "store busy in this process: %s", strerror(rc));
        return NULL;
    }
    prune(cfg->store);
    for (s = stores; s != NULL && strcmp(s->name, cfg->store) != 0; s = s->next)
        ;
    if (s == NULL)
        s = open_new(cfg, err, errlen);
    if (s != NULL)
        s->users++;
    pthread_mutex_unlock(&list_lock);
    return s;
}

void hb_store_release(struct hb_store *store)
{
    if (store == NULL)
        return;
    pthread_mutex_lock(&list_lock);
    if (store->users > 0)
        store->users--;
    pthread_mutex_unlock(&list_lock);
}

/* Begin one call on store: its lock within store_timeout; 0, or -1 with err set. */
static int call_begin(struct hb_store *store, char *err, size_t errlen)
{
    int rc;

    err[0] = '\0';
    if (store->inherited || store->pid != getpid()) {
        snprintf(err, errlen, "store inherited across fork: not used");
        return -1;
    }
    rc = lock_within(&store->lock, store->timeout_ms);
    if (rc != 0) {
        snprintf(err, errlen, "store busy in this process: %s", strerror(rc));
        return -1;
    }
    return 0;
}

static void call_end(struct hb_store *store)
{
    pthread_mutex_unlock(&store->lock);
}

int hb_store_get(struct hb_store *store, const uint8_t *key, size_t keylen,
                 uint8_t *value, size_t *valuelen, char *err, size_t errlen)
{
    int rc;

    if (call_begin(store, err, errlen) != 0)
        return HB_STORE_ERROR;
    rc = store->ops->get(store->backend, key, keylen, value, valuelen, err, errlen);
    call_end(store);
    return rc;
}

int hb_store_get_many(struct hb_store *store, const uint8_t *const keys[], const size_t keylens[],
                      size_t n, uint8_t values[][HB_STORE_VALUE_MAX], size_t valuelens[], int rcs[],
                      char *err, size_t errlen)
{
    int rc;

    for (size_t i = 0; i < n; i++) {
        rcs[i] = HB_STORE_ERROR;
        valuelens[i] = 0;
    }
    err[0] = '\0';
    if (n > HB_STORE_MANY_MAX) {
        snprintf(err, errlen, "get_many: %zu keys (at most %d)", n, HB_STORE_MANY_MAX);
        return HB_STORE_ERROR;
    }
    if (n == 0)
        return HB_STORE_OK;
    if (call_begin(store, err, errlen) != 0)
        return HB_STORE_ERROR;
    rc = store->ops->get_many(store->backend, keys, keylens, n, values, valuelens, rcs, err, errlen);
    call_end(store);
    if (rc != HB_STORE_OK)
        for (size_t i = 0; i < n; i++)
            rcs[i] = HB_STORE_ERROR;
    return rc;
}

/* The update function of a caller, with its TTL clamped to HB_STORE_TTL_MAX. */
struct clamped {
    hb_store_update_fn fn;
    void *arg;
};

static enum hb_store_action clamp_ttl(const uint8_t *old, size_t oldlen, uint8_t *out,
                                      size_t *outlen, long *ttl_seconds, void *arg)
{
    const struct clamped *c = arg;
    enum hb_store_action action = c->fn(old, oldlen, out, outlen, ttl_seconds, c->arg);

    if (action == HB_STORE_PUT && *ttl_seconds > HB_STORE_TTL_MAX)
        *ttl_seconds = HB_STORE_TTL_MAX;
    return action;
}

int hb_store_update(struct hb_store *store, const uint8_t *key, size_t keylen,
                    hb_store_update_fn fn, void *arg, char *err, size_t errlen)
{
    struct clamped c = {fn, arg};
    int rc;

    if (call_begin(store, err, errlen) != 0)
        return HB_STORE_ERROR;
    rc = store->ops->update(store->backend, key, keylen, clamp_ttl, &c, err, errlen);
    call_end(store);
    return rc;
}

int hb_store_scan(struct hb_store *store, const uint8_t *prefix, size_t prefixlen,
                  hb_store_scan_fn fn, void *arg, char *err, size_t errlen)
{
    int rc;

    if (call_begin(store, err, errlen) != 0)
        return HB_STORE_ERROR;
    rc = store->ops->scan(store->backend, prefix, prefixlen, fn, arg, err, errlen);
    call_end(store);
    return rc;
}
