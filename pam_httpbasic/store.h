/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store.h - a small shared key/value store: keys and values are opaque
 * bytes, each value may expire, and one key can be read-modified-written
 * atomically.  The callers (cache.c: verifiers; health.c: resting servers;
 * guard.c: failure counters) never know which backend they talk to:
 *
 *   lmdb:/DIR                   every process on this host (store_lmdb.c)
 *   redis://HOST[:PORT][/DB]    every host sharing the Redis (store_redis.c)
 *   redis+unix:/PATH[?db=N]
 *
 * Contract of every call: bounded by cfg->store_timeout_ms; never blocks
 * forever, never crashes the host, never prints.  An error is reported as
 * HB_STORE_ERROR with a one-line reason (no secret in it) and the caller
 * goes on as if there were no store: a store can never accept a login by
 * failing, nor refuse one the server would accept.
 *
 * Processes and threads: a store is opened once per process and per store
 * name, and reused by later logins; a process forked after opening it
 * opens its own (LMDB forbids using an environment across fork; a Redis
 * connection must not be shared) and never closes the parent's.  Each
 * call takes the store's lock for its own duration only (waiting at most
 * store_timeout for it): acquire and release hold nothing, so a login
 * never holds the store across its HTTP request and the logins of other
 * threads use it meanwhile.  A child forked while another thread held a
 * lock cannot hang (the locks are made anew in the child).  Every
 * descriptor the store opens is close-on-exec.
 *
 * TTLs: an update's ttl is clamped to HB_STORE_TTL_MAX (a far-future time
 * can never make a backend refuse a write, e.g. Redis a SET EX).
 */
#ifndef HB_STORE_H
#define HB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

#define HB_STORE_KEY_MAX 64      /* bytes in a key */
#define HB_STORE_VALUE_MAX 4096  /* bytes in a value */
#define HB_STORE_MANY_MAX 16     /* keys in one hb_store_get_many */
#define HB_STORE_TTL_MAX (366L * 86400)   /* longest ttl a backend is given, s */

enum hb_store_rc {
    HB_STORE_OK = 0,
    HB_STORE_NOT_FOUND = 1,      /* no such key, or it expired */
    HB_STORE_ERROR = -1,         /* unusable store, timeout, corrupt data... */
};

/* What an update function wants done with the key. */
enum hb_store_action {
    HB_STORE_PUT,                /* store out/outlen with the given ttl */
    HB_STORE_DELETE,             /* remove the key */
    HB_STORE_KEEP,               /* change nothing */
};

/*
 * Read-modify-write callback: old/oldlen is the current value (oldlen 0
 * and old NULL when absent or expired); write the new value into out (room
 * for HB_STORE_VALUE_MAX bytes), set *outlen and *ttl_seconds (> 0: the
 * key expires that many seconds from now).  May be called more than once
 * for one update (Redis retries an optimistic transaction), so it must
 * depend only on its arguments.
 */
typedef enum hb_store_action (*hb_store_update_fn)(const uint8_t *old, size_t oldlen,
                                                   uint8_t *out, size_t *outlen,
                                                   long *ttl_seconds, void *arg);

/* Scan callback: one live key and its value; return 0 to go on, else stop. */
typedef int (*hb_store_scan_fn)(const uint8_t *key, size_t keylen,
                                const uint8_t *value, size_t valuelen, void *arg);

struct hb_store;

/* One backend: store.c picks it by the store name's scheme. */
struct hb_store_ops {
    const char *scheme;          /* name prefix: "lmdb:", "redis" (redis:// and redis+unix:) */
    /* Open the backend named by cfg->store; NULL with err set on failure. */
    void *(*open)(const struct hb_config *cfg, char *err, size_t errlen);
    /* Drop a backend inherited across fork without touching shared state. */
    void (*abandon)(void *backend);
    /* Close a backend this process opened. */
    void (*close)(void *backend);
    int (*get)(void *backend, const uint8_t *key, size_t keylen,
               uint8_t *value, size_t *valuelen, char *err, size_t errlen);
    /* n (1..HB_STORE_MANY_MAX) gets in one round trip / one read transaction. */
    int (*get_many)(void *backend, const uint8_t *const keys[], const size_t keylens[], size_t n,
                    uint8_t values[][HB_STORE_VALUE_MAX], size_t valuelens[], int rcs[],
                    char *err, size_t errlen);
    int (*update)(void *backend, const uint8_t *key, size_t keylen,
                  hb_store_update_fn fn, void *arg, char *err, size_t errlen);
    int (*scan)(void *backend, const uint8_t *prefix, size_t prefixlen,
                hb_store_scan_fn fn, void *arg, char *err, size_t errlen);
};

/*
 * This process's store for cfg->store, opened on first use; NULL (with a
 * reason in err) when cfg names none or it cannot be used.  Pair every
 * successful call with hb_store_release().  Holds no lock in between.
 */
struct hb_store *hb_store_acquire(const struct hb_config *cfg, char *err, size_t errlen);

/* End one login's use of the store (it stays open for the next login). */
void hb_store_release(struct hb_store *store);

/* Copy the value of key into value (HB_STORE_VALUE_MAX bytes) and its length into *valuelen. */
int hb_store_get(struct hb_store *store, const uint8_t *key, size_t keylen,
                 uint8_t *value, size_t *valuelen, char *err, size_t errlen);

/*
 * Read n keys (at most HB_STORE_MANY_MAX) at once: one round trip (Redis
 * MGET) or one read transaction (LMDB).  rcs[i] is HB_STORE_OK (value in
 * values[i], length in valuelens[i]), HB_STORE_NOT_FOUND, or
 * HB_STORE_ERROR for that key alone (a bad key length, a corrupt
 * record).  Returns HB_STORE_OK when the call itself worked, else
 * HB_STORE_ERROR with err set and every rcs[i] HB_STORE_ERROR.
 */
int hb_store_get_many(struct hb_store *store, const uint8_t *const keys[], const size_t keylens[],
                      size_t n, uint8_t values[][HB_STORE_VALUE_MAX], size_t valuelens[], int rcs[],
                      char *err, size_t errlen);

/* Atomically replace key's value by what fn decides. */
int hb_store_update(struct hb_store *store, const uint8_t *key, size_t keylen,
                    hb_store_update_fn fn, void *arg, char *err, size_t errlen);

/* Call fn for every live key starting with prefix (for the admin tool). */
int hb_store_scan(struct hb_store *store, const uint8_t *prefix, size_t prefixlen,
                  hb_store_scan_fn fn, void *arg, char *err, size_t errlen);

extern const struct hb_store_ops hb_store_lmdb_ops;
extern const struct hb_store_ops hb_store_redis_ops;

#endif
