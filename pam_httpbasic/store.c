/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store.c - pick the backend by the store name's scheme, keep it open for
 * the life of the process, and serialise its use.
 *
 * One store is open per process at a time (a config naming another store
 * closes the first).  A login holds the process lock from
 * hb_store_acquire() to hb_store_release(); the lock is taken with
 * cfg->store_timeout_ms as a bound, so a thread never waits longer than a
 * store call may take.  In a child forked while the store was open the
 * lock is made anew (pthread_atfork) and the inherited backend is
 * abandoned, never closed, and never used: the child opens its own.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
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
};

/* "redis" matches both redis:// and redis+unix:. */
static const struct hb_store_ops *const backends[] = {&hb_store_lmdb_ops, &hb_store_redis_ops};

static pthread_mutex_t process_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hb_store *open_store;   /* guarded by process_lock */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* In a forked child: a fresh lock (another thread may have held it). */
static void child_after_fork(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    process_lock = fresh;
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

/* Take the process lock within timeout_ms; 0 on success. */
static int lock_within(long timeout_ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock(&process_lock, &until);
}

/* Forget open_store: abandon one inherited from a parent, close our own. */
static void drop_open_store(void)
{
    if (open_store == NULL)
        return;
    if (open_store->pid == getpid())
        open_store->ops->close(open_store->backend);
    else
        open_store->ops->abandon(open_store->backend);
    free(open_store->name);
    free(open_store);
    open_store = NULL;
}

/* Open cfg->store as this process's store; NULL with err set on failure. */
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
    store->backend = ops->open(cfg, err, errlen);
    if (store->backend == NULL) {
        free(store->name);
        free(store);
        return NULL;
    }
    return store;
}

struct hb_store *hb_store_acquire(const struct hb_config *cfg, char *err, size_t errlen)
{
    int rc;

    err[0] = '\0';
    if (cfg->store == NULL)
        return NULL;
    pthread_once(&atfork_once, register_atfork);
    rc = lock_within(cfg->store_timeout_ms);
    if (rc != 0) {
        snprintf(err, errlen, "store busy in this process: %s", strerror(rc));
        return NULL;
    }
    if (open_store != NULL && (open_store->pid != getpid() || strcmp(open_store->name, cfg->store) != 0))
        drop_open_store();
    if (open_store == NULL)
        open_store = open_new(cfg, err, errlen);
    if (open_store == NULL)
        pthread_mutex_unlock(&process_lock);
    return open_store;
}

void hb_store_release(struct hb_store *store)
{
    if (store != NULL)
        pthread_mutex_unlock(&process_lock);
}

int hb_store_get(struct hb_store *store, const uint8_t *key, size_t keylen,
                 uint8_t *value, size_t *valuelen, char *err, size_t errlen)
{
    return store->ops->get(store->backend, key, keylen, value, valuelen, err, errlen);
}

int hb_store_update(struct hb_store *store, const uint8_t *key, size_t keylen,
                    hb_store_update_fn fn, void *arg, char *err, size_t errlen)
{
    return store->ops->update(store->backend, key, keylen, fn, arg, err, errlen);
}

int hb_store_scan(struct hb_store *store, const uint8_t *prefix, size_t prefixlen,
                  hb_store_scan_fn fn, void *arg, char *err, size_t errlen)
{
    return store->ops->scan(store->backend, prefix, prefixlen, fn, arg, err, errlen);
}
