/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache.h - verifiers of passwords the server accepted, kept in the store
 * (store.h) so that every process using it shares them.
 *
 * The promise: a password is accepted from the cache only if the server
 * accepted it for that login name, under settings that give the same
 * verdict, within the window, and no refusal the server gave since the
 * verification's request was sent is known.  Without the secret, writing
 * to the store can only make records absent (deny service), never make a
 * login succeed: every record is authenticated under the secret and bound
 * to its key; whatever fails that check counts as absent.
 *
 * Scope.  Records are kept per scope: HMAC(secret, realm, verdict
 * settings), where the realm is cfg->cache_realm when set (so that adding
 * a failover URL or renaming the host keeps the cache) and the server list
 * otherwise, and the verdict settings are those that change what the
 * servers' answers mean or whom they come from: method, ok_status,
 * deny_status, insecure_skip_verify, allow_http, cafile, capath,
 * pinned_pubkey.  A service with weaker settings never feeds a stricter one.
 *
 * Keys (41 bytes): kind || tag || HMAC-SHA-256(secret, label, scope, name)
 * where tag is the first 8 bytes of the scope (so that a scan can select
 * one scope's records), kind 'u' for a login name (as sent to the server)
 * and 'a' for an account (the uid Nextcloud names in current-user-principal).
 *
 * User record 'u' (little-endian, fixed layout, version 2):
 *     0       version (2)
 *     1       nv: verifiers (at most HB_CACHE_MAX_VERIFIERS)
 *     2       nt: refusals (at most HB_CACHE_MAX_REFUSALS)
 *     3       flags: 1 = the account id below is set
 *     4..35   account id: the HMAC part of the account's 'a' key
 *     36..43  floor: a verification at or before it is void (int64 s;
 *             set by a disabled answer or a forget)
 *     44..51  late: an acceptance whose request was sent at or before it
 *             is not stored (the time of the newest refusal dropped from
 *             the list when more than HB_CACHE_MAX_REFUSALS came)
 *     then nv verifiers and nt refusals, 56 bytes each:
 *             salt[16] HMAC(secret, label, salt, password)[32] at[8]
 *             (a verifier's "at" is when the request that the server
 *             accepted was sent; a refusal's when the refusal came)
 *     last 32 HMAC(secret, label, key, every byte before it)
 * Account record 'a' (version 2):
 *     0 version, 1 n (at most HB_CACHE_MAX_LINKS), 2..9 floor (int64 s),
 *     10 nt (at most HB_CACHE_MAX_REFUSALS), 11..18 late (int64 s),
 *     n x 32 the HMAC parts of the 'u' keys that reached the account,
 *     nt x 56 refusals under any of its names (as in a user record),
 *     last 32 the record MAC.  A refusal under one name voids that
 *     password's verifications under every name of the account.
 * A verifier of a user record that names an account counts only while
 * that account record exists, authenticates and has a floor before the
 * verification: a disabled answer or "cache forget" sets the floor, so it
 * covers every login name that reached the account (uid, e-mail, other
 * letter cases), and deleting the account record only denies service.
 *
 * Times are wall-clock seconds (the caller passes "now", so that tests
 * can move time); a stored time in the future or outside the window is
 * void, and no arithmetic on a stored time can overflow.
 *
 * What a store writer without the secret can still do (man page, THREAT
 * MODEL): delete records, and put back a byte-exact earlier record of the
 * same key (a rollback within its window), which can bring back a
 * verification that a later refusal had removed; it cannot make a
 * verifier of one password, user or scope count for another.
 */
#ifndef HB_CACHE_H
#define HB_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "mac.h"
#include "options.h"

struct hb_store;

#define HB_CACHE_VERSION 2
#define HB_CACHE_MAX_VERIFIERS 64    /* the upper bound of cache_per_user */
#define HB_CACHE_MAX_REFUSALS 6      /* refusals kept per login name */
#define HB_CACHE_MAX_LINKS 32        /* login names kept per account */
#define HB_CACHE_SALT_LEN 16
#define HB_CACHE_MAC_LEN 32
#define HB_CACHE_TAG_LEN 8           /* bytes of the scope tag in a key */
#define HB_CACHE_KEY_LEN (1 + HB_CACHE_TAG_LEN + HB_CACHE_MAC_LEN)

/* One login's view of the cache: the MAC keyed with the secret (not the secret), the scope and the user's record key. */
struct hb_cache {
    const struct hb_config *cfg;
    const char *name;            /* the login name (not owned) */
    struct hb_mac mac;           /* HMAC-SHA-256 keyed with secret_file */
    uint8_t scope[HB_CACHE_MAC_LEN];
    uint8_t key[HB_CACHE_KEY_LEN];
    uint8_t name_account[HB_CACHE_KEY_LEN];   /* the account key of the login name taken as a uid */
};

/*
 * What one store round trip read for a login (hb_store_get_many): the
 * user's record, and the account record of the login name taken as a uid
 * (hb_cache_name_account_key) - the usual case, where the login name is the
 * uid, so that a hit needs no second read.  account may be NULL.
 */
struct hb_cache_prefetch {
    const uint8_t *user;
    size_t user_len;
    int user_rc;                 /* HB_STORE_OK, NOT_FOUND or ERROR */
    const uint8_t *account;
    size_t account_len;
    int account_rc;
};

/* What hb_cache_stats() tells about one user's record (no secret in it). */
struct hb_cache_user_stats {
    size_t verifiers;
    int64_t newest_age;          /* seconds since the newest verification */
    int64_t oldest_age;          /* seconds since the oldest one */
};

/* Called once per user record of the scope holding verifiers; return 0 to go on. */
typedef int (*hb_cache_stats_fn)(const struct hb_cache_user_stats *user, void *arg);

/* Totals over the records of one scope. */
struct hb_cache_totals {
    size_t users;                /* user records holding verifiers */
    size_t verifiers;            /* verifiers in them */
    size_t accounts;             /* account records */
    size_t corrupt;              /* records that do not authenticate (ignored) */
};

/* What hb_cache_forget() did. */
struct hb_cache_forgotten {
    size_t verifiers;            /* verifiers of the login name dropped */
    bool account_linked;         /* the name's record named an account */
    size_t account_names;        /* login names the linked account had seen */
    bool uid_account;            /* an account record under the name as a uid existed */
    size_t uid_names;            /* login names that account had seen */
};

/* The lifetime of a verifier: max(cache_fresh, cache_stale); 0 = no cache. */
long hb_cache_window(const struct hb_config *cfg);

/* True when a verification age seconds old (-1: none) is within cache_fresh. */
bool hb_cache_is_fresh(const struct hb_config *cfg, int64_t age);

/* True when a verification age seconds old (-1: none) is within cache_stale. */
bool hb_cache_is_stale_ok(const struct hb_config *cfg, int64_t age);

/*
 * One line saying which records cfg uses (realm and verdict settings, no
 * secret), for pam_httpbasic-ctl check and cache stats.
 */
void hb_cache_describe_scope(const struct hb_config *cfg, char *out, size_t outlen);

/*
 * Read cfg->secret_file and derive the scope and the record key of
 * http_user.  0 on success; -1 with a reason in err (the secret is
 * unreadable or shorter than 32 bytes).  Always pair with hb_cache_wipe().
 */
int hb_cache_init(struct hb_cache *cache, const struct hb_config *cfg, const char *http_user,
                  char *err, size_t errlen);

/* Wipe the secret and the keys. */
void hb_cache_wipe(struct hb_cache *cache);

/*
 * Look for a verifier of password valid at now.  HB_STORE_OK with *age
 * (seconds since the newest valid verification) when one matches;
 * HB_STORE_NOT_FOUND when none does; HB_STORE_ERROR with err set when the
 * store failed or a record does not authenticate (it then counts as absent).
 */
int hb_cache_lookup(const struct hb_cache *cache, struct hb_store *store, const char *password,
                    int64_t now, int64_t *age, char *err, size_t errlen);

/* The key to prefetch along with cache->key: the account of the login name as a uid. */
void hb_cache_name_account_key(const struct hb_cache *cache, uint8_t key[HB_CACHE_KEY_LEN]);

/* hb_cache_lookup() on records already read (pf); reads the account record only when pf lacks it. */
int hb_cache_lookup_prefetched(const struct hb_cache *cache, struct hb_store *store, const char *password,
                               int64_t now, const struct hb_cache_prefetch *pf, int64_t *age,
                               char *err, size_t errlen);

/*
 * The server accepted password in answer to a request sent at sent_at:
 * add its verifier stamped sent_at (or refresh it), drop expired ones and,
 * beyond cfg->cache_per_user, the least recently verified; account is the
 * uid the server named ("" or NULL: none).  Nothing is added when a
 * refusal of this password, a disabled answer or a forget is recorded at
 * or after sent_at (*refused, when not NULL, is then set).  HB_STORE_OK or
 * HB_STORE_ERROR with err set.
 */
int hb_cache_remember(const struct hb_cache *cache, struct hb_store *store, const char *password,
                      int64_t sent_at, int64_t now, const char *account, bool *refused,
                      char *err, size_t errlen);

/*
 * The server refused password at now: drop its verifiers and record the
 * refusal (so that an acceptance whose request was sent before it is not
 * stored).  HB_STORE_OK or HB_STORE_ERROR.
 */
int hb_cache_revoke(const struct hb_cache *cache, struct hb_store *store, const char *password,
                    int64_t now, char *err, size_t errlen);

/*
 * The account behind the user is disabled (now): drop every verifier of
 * the login name, and void every verification up to now of the account it
 * reached and of the account named like it, so every other login name of
 * that account stops working from the cache too.  HB_STORE_OK or HB_STORE_ERROR.
 */
int hb_cache_drop_user(const struct hb_cache *cache, struct hb_store *store, int64_t now,
                       char *err, size_t errlen);

/*
 * For the admin tool: hb_cache_drop_user() for name (a login name as sent
 * to the server, or a uid), in the store every process uses, so it takes
 * effect at once everywhere; what was found goes to *what.  0 on success,
 * -1 with a reason in err.
 */
int hb_cache_forget(const struct hb_config *cfg, const char *name, struct hb_cache_forgotten *what,
                    char *err, size_t errlen);

/* For the admin tool: delete every record of cfg's scope; *records counts them.  0 or -1. */
int hb_cache_forget_all(const struct hb_config *cfg, size_t *records, char *err, size_t errlen);

/*
 * For the admin tool: call fn (may be NULL) for every user record of cfg's
 * scope holding verifiers and fill totals.  Ages are relative to the
 * current time.  0 on success, -1 with a reason in err.
 */
int hb_cache_stats(const struct hb_config *cfg, hb_cache_stats_fn fn, void *arg,
                   struct hb_cache_totals *totals, char *err, size_t errlen);

#endif
