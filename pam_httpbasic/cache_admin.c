/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache_admin.c - the credential cache as pam_httpbasic-ctl sees it: which
 * records a configuration uses, statistics without names, and forgetting
 * every record of a scope.  The records are read through cache_record.c,
 * so the tool authenticates them exactly as the module does.
 */
#include "cache.h"
#include "cache_record.h"
#include "store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

void hb_cache_describe_scope(const struct hb_config *cfg, char *out, size_t outlen)
{
    size_t used;

    if (cfg->cache_realm != NULL)
        snprintf(out, outlen, "realm \"%s\"", cfg->cache_realm);
    else
        snprintf(out, outlen, "the server list (%zu url%s; set cache_realm to keep the records when it changes)",
                 cfg->server_count, cfg->server_count == 1 ? "" : "s");
    used = strlen(out);
    snprintf(out + used, outlen - used, " with method=%s ok_status/deny_status as set, TLS %s%s%s%s",
             cfg->method != NULL ? cfg->method : "PROPFIND",
             cfg->insecure_skip_verify ? "NOT verified" : "verified",
             cfg->cafile != NULL ? ", cafile" : "", cfg->capath != NULL ? ", capath" : "",
             cfg->pinned_pubkey != NULL ? ", pinned key" : "");
}

/* State of one scan of the admin tool. */
struct scan {
    const struct hb_cache *cache;
    hb_cache_stats_fn fn;
    void *arg;
    struct hb_cache_totals *totals;
    int64_t now;
    uint8_t (*keys)[HB_CACHE_KEY_LEN];   /* forget_all: keys collected */
    size_t nkeys, maxkeys;
};

static int stats_fn(const uint8_t *key, size_t keylen, const uint8_t *value, size_t valuelen, void *arg)
{
    struct scan *scan = arg;
    struct hb_cache_user_stats user = {0, 0, 0};
    struct user_record rec;
    long window = hb_cache_window(scan->cache->cfg);

    if (keylen != HB_CACHE_KEY_LEN || cr_decode_user(scan->cache, key, value, valuelen, &rec) != 0) {
        scan->totals->corrupt++;
        return 0;
    }
    for (size_t i = 0; i < rec.nv; i++) {
        int64_t age;

        if (!cr_within(rec.v[i].at, scan->now, window) || rec.v[i].at <= rec.floor)
            continue;
        age = scan->now - rec.v[i].at;
        if (user.verifiers == 0 || age < user.newest_age)
            user.newest_age = age;
        if (user.verifiers == 0 || age > user.oldest_age)
            user.oldest_age = age;
        user.verifiers++;
    }
    if (user.verifiers == 0)
        return 0;
    scan->totals->users++;
    scan->totals->verifiers += user.verifiers;
    return scan->fn != NULL ? scan->fn(&user, scan->arg) : 0;
}

static int count_accounts_fn(const uint8_t *key, size_t keylen, const uint8_t *value, size_t valuelen, void *arg)
{
    struct scan *scan = arg;
    struct account_record acc;

    if (keylen != HB_CACHE_KEY_LEN || cr_decode_account(scan->cache, key, value, valuelen, &acc) != 0)
        scan->totals->corrupt++;
    else
        scan->totals->accounts++;
    return 0;
}

static int collect_fn(const uint8_t *key, size_t keylen, const uint8_t *value, size_t valuelen, void *arg)
{
    struct scan *scan = arg;

    (void) value;
    (void) valuelen;
    if (keylen == HB_CACHE_KEY_LEN && scan->nkeys < scan->maxkeys)
        memcpy(scan->keys[scan->nkeys++], key, HB_CACHE_KEY_LEN);
    return scan->nkeys < scan->maxkeys ? 0 : 1;
}

/* Open the cache (secret, scope) and the store for an admin command; 0 or -1. */
static int admin_open(const struct hb_config *cfg, struct hb_cache *cache, struct hb_store **store,
                      char *err, size_t errlen)
{
    *store = NULL;
    if (hb_cache_init(cache, cfg, "", err, errlen) != 0)
        return -1;
    *store = hb_store_acquire(cfg, err, errlen);
    return *store != NULL ? 0 : -1;
}

int hb_cache_stats(const struct hb_config *cfg, hb_cache_stats_fn fn, void *arg,
                   struct hb_cache_totals *totals, char *err, size_t errlen)
{
    struct hb_cache cache;
    struct hb_store *store;
    struct scan scan = {&cache, fn, arg, totals, (int64_t) time(NULL), NULL, 0, 0};
    uint8_t prefix[1 + HB_CACHE_TAG_LEN];
    int rc;

    memset(totals, 0, sizeof(*totals));
    rc = admin_open(cfg, &cache, &store, err, errlen);
    memcpy(prefix + 1, cache.scope, HB_CACHE_TAG_LEN);
    prefix[0] = 'u';
    if (rc == 0 && hb_store_scan(store, prefix, sizeof(prefix), stats_fn, &scan, err, errlen) == HB_STORE_ERROR)
        rc = -1;
    prefix[0] = 'a';
    if (rc == 0 && hb_store_scan(store, prefix, sizeof(prefix), count_accounts_fn, &scan, err, errlen) == HB_STORE_ERROR)
        rc = -1;
    hb_store_release(store);
    hb_cache_wipe(&cache);
    return rc;
}

static enum hb_store_action delete_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                      size_t *outlen, long *ttl, void *arg)
{
    (void) oldlen;
    (void) out;
    (void) outlen;
    (void) ttl;
    (void) arg;
    return old == NULL ? HB_STORE_KEEP : HB_STORE_DELETE;
}

int hb_cache_forget_all(const struct hb_config *cfg, size_t *records, char *err, size_t errlen)
{
    static uint8_t keys[512][HB_CACHE_KEY_LEN];
    struct hb_cache_totals totals;
    struct hb_cache cache;
    struct hb_store *store;
    struct scan scan = {&cache, NULL, NULL, &totals, 0, keys, 0, sizeof(keys) / sizeof(keys[0])};
    uint8_t prefix[1 + HB_CACHE_TAG_LEN];
    int rc = admin_open(cfg, &cache, &store, err, errlen);

    *records = 0;
    memcpy(prefix + 1, cache.scope, HB_CACHE_TAG_LEN);
    for (const char *kind = "ua"; rc == 0 && *kind != '\0'; kind++) {
        prefix[0] = (uint8_t) *kind;
        do {    /* in batches, so that the scan never runs while its keys are deleted */
            scan.nkeys = 0;
            if (hb_store_scan(store, prefix, sizeof(prefix), collect_fn, &scan, err, errlen) == HB_STORE_ERROR)
                rc = -1;
            for (size_t i = 0; rc == 0 && i < scan.nkeys; i++)
                if (hb_store_update(store, keys[i], HB_CACHE_KEY_LEN, delete_fn, NULL, err, errlen) == HB_STORE_ERROR)
                    rc = -1;
            *records += rc == 0 ? scan.nkeys : 0;
        } while (rc == 0 && scan.nkeys == scan.maxkeys);
    }
    hb_store_release(store);
    hb_cache_wipe(&cache);
    return rc;
}
