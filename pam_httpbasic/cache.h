/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache.h - verifiers of recently accepted passwords, kept in the store
 * (store.h) so that every process using it shares them.
 *
 * A user's record lives under the key
 *     'u' || list tag (8 bytes) || HMAC-SHA-256(secret, "u\0" URL1 "\0" ... URLn "\0" user)
 * where the list tag is the first 8 bytes of HMAC-SHA-256(secret, "s\0"
 * URL1 "\0" ... URLn "\0"), so that a scan can select the records of one
 * server list.  The record holds up to cfg->cache_per_user verifiers
 * {16-byte random salt, HMAC-SHA-256(secret, salt || password), verified
 * at (wall-clock seconds)}: nothing in it, nor in its key, can be turned
 * back into a password or a user name without the secret, and even with
 * the secret a password can only be confirmed by guessing it.
 *
 * Record layout (little-endian, fixed):
 *     byte 0       HB_CACHE_VERSION
 *     byte 1       n, the number of verifiers (at most HB_CACHE_MAX_VERIFIERS)
 *     n x 56 bytes salt[16] mac[32] verified_at[8] (int64 LE)
 * A record of any other shape is corrupt: it is never matched, and the
 * next verification overwrites it.
 *
 * Every function that takes "now" uses it as the wall clock in seconds, so
 * that tests can move time; the module passes time(NULL).
 */
#ifndef HB_CACHE_H
#define HB_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "options.h"

struct hb_store;

#define HB_CACHE_VERSION 1
#define HB_CACHE_MAX_VERIFIERS 64    /* the upper bound of cache_per_user */
#define HB_CACHE_SALT_LEN 16
#define HB_CACHE_MAC_LEN 32
#define HB_CACHE_TAG_LEN 8           /* bytes of the server-list tag in a key */
#define HB_CACHE_KEY_LEN (1 + HB_CACHE_TAG_LEN + HB_CACHE_MAC_LEN)

/* One login's view of the cache: the secret and the user's record key. */
struct hb_cache {
    const struct hb_config *cfg;
    unsigned char secret[HB_SECRET_MAX];
    size_t secret_len;
    uint8_t key[HB_CACHE_KEY_LEN];
};

/* What hb_cache_stats() tells about one user's record (no secret in it). */
struct hb_cache_user_stats {
    size_t verifiers;
    int64_t newest_age;          /* seconds since the newest verification */
    int64_t oldest_age;          /* seconds since the oldest one */
};

/* Called once per user record of the server list; return 0 to go on. */
typedef int (*hb_cache_stats_fn)(const struct hb_cache_user_stats *user, void *arg);

/* Totals over the records of one server list. */
struct hb_cache_totals {
    size_t users;                /* records */
    size_t verifiers;            /* verifiers in them */
    size_t corrupt;              /* records of an unknown shape */
};

/* The lifetime of a verifier: max(cache_fresh, cache_stale); 0 = no cache. */
long hb_cache_window(const struct hb_config *cfg);

/* True when a verification age seconds old (-1: none) is within cache_fresh. */
bool hb_cache_is_fresh(const struct hb_config *cfg, int64_t age);

/* True when a verification age seconds old (-1: none) is within cache_stale. */
bool hb_cache_is_stale_ok(const struct hb_config *cfg, int64_t age);

/*
 * Read cfg->secret_file and derive the record key of http_user under
 * cfg's server list.  0 on success; -1 with a reason in err (the secret is
 * unreadable or shorter than 32 bytes).  Always pair with hb_cache_wipe().
 */
int hb_cache_init(struct hb_cache *cache, const struct hb_config *cfg, const char *http_user,
                  char *err, size_t errlen);

/* Wipe the secret and the key. */
void hb_cache_wipe(struct hb_cache *cache);

/*
 * Look for a verifier of password.  HB_STORE_OK with *age (seconds since
 * the newest matching verification, never negative) when one matches;
 * HB_STORE_NOT_FOUND when none does (no record, another password, or a
 * verification stamped in the future); HB_STORE_ERROR with err set when
 * the store failed or the record is corrupt.
 */
int hb_cache_lookup(const struct hb_cache *cache, struct hb_store *store, const char *password,
                    int64_t now, int64_t *age, char *err, size_t errlen);

/*
 * The server accepted password: add its verifier stamped now (or refresh
 * it), drop expired ones and, beyond cfg->cache_per_user, the least
 * recently verified.  The record expires hb_cache_window() seconds from
 * now.  A store result (HB_STORE_OK or HB_STORE_ERROR with err set).
 */
int hb_cache_remember(const struct hb_cache *cache, struct hb_store *store, const char *password,
                      int64_t now, char *err, size_t errlen);

/*
 * The server refused password: drop its verifier, keep the user's others.
 * HB_STORE_OK (also when there was nothing to drop) or HB_STORE_ERROR.
 */
int hb_cache_revoke(const struct hb_cache *cache, struct hb_store *store, const char *password,
                    int64_t now, char *err, size_t errlen);

/* Drop every verifier of the user.  HB_STORE_OK or HB_STORE_ERROR. */
int hb_cache_drop_user(const struct hb_cache *cache, struct hb_store *store, char *err, size_t errlen);

/*
 * For the admin tool: drop every verifier of http_user (the name sent to
 * the server, after user mapping) under cfg's server list, in the store
 * every process uses, so it takes effect at once everywhere.  0 on
 * success, -1 with a reason in err.
 */
int hb_cache_forget(const struct hb_config *cfg, const char *http_user, char *err, size_t errlen);

/*
 * For the admin tool: call fn (may be NULL) for every user record of cfg's
 * server list and fill totals.  Ages are relative to the current time.  0
 * on success, -1 with a reason in err.
 */
int hb_cache_stats(const struct hb_config *cfg, hb_cache_stats_fn fn, void *arg,
                   struct hb_cache_totals *totals, char *err, size_t errlen);

#endif
