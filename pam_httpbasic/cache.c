/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache.c - password verifiers in the shared store (see cache.h for the
 * key and record layout).  Every MAC is computed with OpenSSL's EVP_MAC
 * fed part by part, so no buffer ever holds a password next to a salt;
 * verifiers are compared with CRYPTO_memcmp.
 */
#include "cache.h"
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define ENTRY_LEN (HB_CACHE_SALT_LEN + HB_CACHE_MAC_LEN + 8)
#define HEADER_LEN 2

/* One verifier, decoded. */
struct verifier {
    uint8_t salt[HB_CACHE_SALT_LEN];
    uint8_t mac[HB_CACHE_MAC_LEN];
    int64_t verified_at;
};

/* A user's record, decoded. */
struct record {
    size_t count;
    struct verifier v[HB_CACHE_MAX_VERIFIERS];
};

/* One piece of a MAC input. */
struct part {
    const void *data;
    size_t len;
};

/* HMAC-SHA-256(secret, parts...) into out; 0 on success. */
static int hmac_parts(const unsigned char *secret, size_t secret_len, const struct part *parts,
                      size_t n, uint8_t out[HB_CACHE_MAC_LEN])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    size_t outlen = 0;
    int ok = ctx != NULL && EVP_MAC_init(ctx, secret, secret_len, params);

    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_MAC_update(ctx, parts[i].data, parts[i].len);
    ok = ok && EVP_MAC_final(ctx, out, &outlen, HB_CACHE_MAC_LEN) && outlen == HB_CACHE_MAC_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : -1;
}

/* HMAC-SHA-256(secret, prefix "\0" URL1 "\0" ... URLn "\0" [user]); 0 on success. */
static int hmac_list(const struct hb_cache *cache, const char *prefix, const char *user,
                     uint8_t out[HB_CACHE_MAC_LEN])
{
    struct part parts[2 + HB_MAX_SERVERS + 1];
    size_t n = 0;

    parts[n++] = (struct part) {prefix, strlen(prefix) + 1};
    for (size_t i = 0; i < cache->cfg->server_count; i++)
        parts[n++] = (struct part) {cache->cfg->servers[i].url, strlen(cache->cfg->servers[i].url) + 1};
    if (user != NULL)
        parts[n++] = (struct part) {user, strlen(user)};
    return hmac_parts(cache->secret, cache->secret_len, parts, n, out);
}

/* The verifier MAC of password under salt; 0 on success. */
static int verifier_mac(const struct hb_cache *cache, const uint8_t *salt, const char *password,
                        uint8_t out[HB_CACHE_MAC_LEN])
{
    const struct part parts[] = {{salt, HB_CACHE_SALT_LEN}, {password, strlen(password)}};

    return hmac_parts(cache->secret, cache->secret_len, parts, 2, out);
}

/* True when v is a verifier of password (constant-time comparison). */
static bool verifier_matches(const struct hb_cache *cache, const struct verifier *v, const char *password)
{
    uint8_t mac[HB_CACHE_MAC_LEN];
    bool match = verifier_mac(cache, v->salt, password, mac) == 0
                 && CRYPTO_memcmp(mac, v->mac, HB_CACHE_MAC_LEN) == 0;

    OPENSSL_cleanse(mac, sizeof(mac));
    return match;
}

static void put_le64(uint8_t *p, int64_t value)
{
    uint64_t u = (uint64_t) value;

    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) (u >> (8 * i));
}

static int64_t get_le64(const uint8_t *p)
{
    uint64_t u = 0;

    for (int i = 7; i >= 0; i--)
        u = (u << 8) | p[i];
    return (int64_t) u;
}

/* Decode value into rec; 0 when it has the one known shape, else -1. */
static int decode(const uint8_t *value, size_t len, struct record *rec)
{
    size_t count = len >= HEADER_LEN ? value[1] : 0;
    bool valid = len >= HEADER_LEN && value[0] == HB_CACHE_VERSION && count <= HB_CACHE_MAX_VERIFIERS
                 && len == HEADER_LEN + count * ENTRY_LEN;

    rec->count = valid ? count : 0;
    for (size_t i = 0; i < rec->count; i++) {
        const uint8_t *p = value + HEADER_LEN + i * ENTRY_LEN;

        memcpy(rec->v[i].salt, p, HB_CACHE_SALT_LEN);
        memcpy(rec->v[i].mac, p + HB_CACHE_SALT_LEN, HB_CACHE_MAC_LEN);
        rec->v[i].verified_at = get_le64(p + HB_CACHE_SALT_LEN + HB_CACHE_MAC_LEN);
    }
    return valid ? 0 : -1;
}

/* Encode rec into out (HB_STORE_VALUE_MAX bytes); returns the length. */
static size_t encode(const struct record *rec, uint8_t *out)
{
    out[0] = HB_CACHE_VERSION;
    out[1] = (uint8_t) rec->count;
    for (size_t i = 0; i < rec->count; i++) {
        uint8_t *p = out + HEADER_LEN + i * ENTRY_LEN;

        memcpy(p, rec->v[i].salt, HB_CACHE_SALT_LEN);
        memcpy(p + HB_CACHE_SALT_LEN, rec->v[i].mac, HB_CACHE_MAC_LEN);
        put_le64(p + HB_CACHE_SALT_LEN + HB_CACHE_MAC_LEN, rec->v[i].verified_at);
    }
    return HEADER_LEN + rec->count * ENTRY_LEN;
}

/* Remove entry i of rec, keeping the order of the others. */
static void remove_at(struct record *rec, size_t i)
{
    memmove(&rec->v[i], &rec->v[i + 1], (rec->count - i - 1) * sizeof(rec->v[0]));
    rec->count--;
}

/* The newest verified_at in rec (rec->count > 0). */
static int64_t newest(const struct record *rec)
{
    int64_t t = rec->v[0].verified_at;

    for (size_t i = 1; i < rec->count; i++)
        if (rec->v[i].verified_at > t)
            t = rec->v[i].verified_at;
    return t;
}

/* Drop verifiers window seconds old or older, or stamped after now. */
static void drop_expired(struct record *rec, int64_t now, long window)
{
    for (size_t i = rec->count; i-- > 0;)
        if (rec->v[i].verified_at > now || now - rec->v[i].verified_at >= window)
            remove_at(rec, i);
}

/* Drop the verifiers of password; returns how many were dropped. */
static size_t drop_password(const struct hb_cache *cache, struct record *rec, const char *password)
{
    size_t dropped = 0;

    for (size_t i = rec->count; i-- > 0;)
        if (verifier_matches(cache, &rec->v[i], password)) {
            remove_at(rec, i);
            dropped++;
        }
    return dropped;
}

/* Drop the least recently verified entries beyond max. */
static void evict(struct record *rec, size_t max)
{
    while (rec->count > max) {
        size_t oldest = 0;

        for (size_t i = 1; i < rec->count; i++)
            if (rec->v[i].verified_at < rec->v[oldest].verified_at)
                oldest = i;
        remove_at(rec, oldest);
    }
}

/* Store rec as the new value (or delete the key when it is empty). */
static enum hb_store_action put_record(const struct record *rec, int64_t now, long window,
                                       uint8_t *out, size_t *outlen, long *ttl)
{
    if (rec->count > 0) {
        *outlen = encode(rec, out);
        *ttl = (long) (newest(rec) + window - now);
        if (*ttl < 1)
            *ttl = 1;
    }
    return rec->count > 0 ? HB_STORE_PUT : HB_STORE_DELETE;
}

long hb_cache_window(const struct hb_config *cfg)
{
    return cfg->cache_fresh > cfg->cache_stale ? cfg->cache_fresh : cfg->cache_stale;
}

bool hb_cache_is_fresh(const struct hb_config *cfg, int64_t age)
{
    return age >= 0 && age < cfg->cache_fresh;
}

bool hb_cache_is_stale_ok(const struct hb_config *cfg, int64_t age)
{
    return age >= 0 && age < cfg->cache_stale;
}

int hb_cache_init(struct hb_cache *cache, const struct hb_config *cfg, const char *http_user,
                  char *err, size_t errlen)
{
    uint8_t mac[HB_CACHE_MAC_LEN] = {0};
    bool configured, read;
    int rc = -1;

    memset(cache, 0, sizeof(*cache));
    cache->cfg = cfg;
    configured = cfg->store != NULL && cfg->secret_file != NULL;
    read = configured && hb_read_secret(cfg->secret_file, cache->secret, &cache->secret_len, err, errlen) == 0;
    if (!configured)
        snprintf(err, errlen, "no store= and secret_file= configured");
    else if (read && cache->secret_len < HB_SECRET_MIN)
        snprintf(err, errlen, "%s holds fewer than %d bytes", cfg->secret_file, HB_SECRET_MIN);
    else if (read && (hmac_list(cache, "s", NULL, mac) != 0
                      || hmac_list(cache, "u", http_user, cache->key + 1 + HB_CACHE_TAG_LEN) != 0))
        snprintf(err, errlen, "cannot compute an HMAC (OpenSSL)");
    else if (read)
        rc = 0;
    cache->key[0] = 'u';
    memcpy(cache->key + 1, mac, HB_CACHE_TAG_LEN);
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}

void hb_cache_wipe(struct hb_cache *cache)
{
    OPENSSL_cleanse(cache, sizeof(*cache));
}

/* HB_STORE_OK with *age of the newest verifier of password in rec, else HB_STORE_NOT_FOUND. */
static int find_newest(const struct hb_cache *cache, const struct record *rec, const char *password,
                       int64_t now, int64_t *age)
{
    int rc = HB_STORE_NOT_FOUND;

    for (size_t i = 0; i < rec->count; i++)
        if (rec->v[i].verified_at <= now && verifier_matches(cache, &rec->v[i], password)
            && (rc == HB_STORE_NOT_FOUND || now - rec->v[i].verified_at < *age)) {
            *age = now - rec->v[i].verified_at;
            rc = HB_STORE_OK;
        }
    return rc;
}

int hb_cache_lookup(const struct hb_cache *cache, struct hb_store *store, const char *password,
                    int64_t now, int64_t *age, char *err, size_t errlen)
{
    uint8_t value[HB_STORE_VALUE_MAX];
    size_t len = 0;
    struct record rec;
    int rc = hb_store_get(store, cache->key, sizeof(cache->key), value, &len, err, errlen);

    if (rc == HB_STORE_OK && decode(value, len, &rec) != 0) {
        snprintf(err, errlen, "corrupt cache record (%zu bytes)", len);
        rc = HB_STORE_ERROR;
    }
    if (rc == HB_STORE_OK)
        rc = find_newest(cache, &rec, password, now, age);
    return rc;
}

/* Arguments of the update callbacks. */
struct change {
    const struct hb_cache *cache;
    const char *password;
    const struct verifier *added;   /* remember: the new verifier */
    int64_t now;
};

static enum hb_store_action remember_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                        size_t *outlen, long *ttl, void *arg)
{
    const struct change *c = arg;
    long window = hb_cache_window(c->cache->cfg);
    struct record rec;

    if (old == NULL || decode(old, oldlen, &rec) != 0)
        rec.count = 0;          /* absent or corrupt: start afresh */
    drop_expired(&rec, c->now, window);
    drop_password(c->cache, &rec, c->password);
    evict(&rec, (size_t) c->cache->cfg->cache_per_user - 1);
    rec.v[rec.count++] = *c->added;
    return put_record(&rec, c->now, window, out, outlen, ttl);
}

int hb_cache_remember(const struct hb_cache *cache, struct hb_store *store, const char *password,
                      int64_t now, char *err, size_t errlen)
{
    struct verifier added = {.verified_at = now};
    struct change c = {cache, password, &added, now};
    int rc = HB_STORE_ERROR;

    if (RAND_bytes(added.salt, sizeof(added.salt)) != 1 || verifier_mac(cache, added.salt, password, added.mac) != 0)
        snprintf(err, errlen, "cannot make a verifier (OpenSSL)");
    else
        rc = hb_store_update(store, cache->key, sizeof(cache->key), remember_fn, &c, err, errlen);
    OPENSSL_cleanse(&added, sizeof(added));
    return rc;
}

static enum hb_store_action revoke_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                      size_t *outlen, long *ttl, void *arg)
{
    const struct change *c = arg;
    enum hb_store_action action = HB_STORE_KEEP;
    struct record rec;

    if (old != NULL && decode(old, oldlen, &rec) != 0)
        action = HB_STORE_DELETE;   /* corrupt: it can only go */
    else if (old != NULL && drop_password(c->cache, &rec, c->password) > 0)
        action = put_record(&rec, c->now, hb_cache_window(c->cache->cfg), out, outlen, ttl);
    return action;
}

int hb_cache_revoke(const struct hb_cache *cache, struct hb_store *store, const char *password,
                    int64_t now, char *err, size_t errlen)
{
    struct change c = {cache, password, NULL, now};

    return hb_store_update(store, cache->key, sizeof(cache->key), revoke_fn, &c, err, errlen);
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

int hb_cache_drop_user(const struct hb_cache *cache, struct hb_store *store, char *err, size_t errlen)
{
    return hb_store_update(store, cache->key, sizeof(cache->key), delete_fn, NULL, err, errlen);
}

int hb_cache_forget(const struct hb_config *cfg, const char *http_user, char *err, size_t errlen)
{
    struct hb_cache cache;
    struct hb_store *store = NULL;
    int rc = hb_cache_init(&cache, cfg, http_user, err, errlen);

    if (rc == 0 && (store = hb_store_acquire(cfg, err, errlen)) == NULL)
        rc = -1;
    if (rc == 0 && hb_cache_drop_user(&cache, store, err, errlen) == HB_STORE_ERROR)
        rc = -1;
    hb_store_release(store);
    hb_cache_wipe(&cache);
    return rc;
}

/* State of one hb_cache_stats() scan. */
struct stats_scan {
    hb_cache_stats_fn fn;
    void *arg;
    struct hb_cache_totals *totals;
    int64_t now;
};

static int stats_fn(const uint8_t *key, size_t keylen, const uint8_t *value, size_t valuelen, void *arg)
{
    struct stats_scan *scan = arg;
    struct hb_cache_user_stats user = {0, 0, 0};
    struct record rec;

    (void) key;
    if (keylen != HB_CACHE_KEY_LEN || decode(value, valuelen, &rec) != 0) {
        scan->totals->corrupt++;
        return 0;
    }
    user.verifiers = rec.count;
    for (size_t i = 0; i < rec.count; i++) {
        int64_t age = scan->now - rec.v[i].verified_at;

        if (i == 0 || age < user.newest_age)
            user.newest_age = age;
        if (i == 0 || age > user.oldest_age)
            user.oldest_age = age;
    }
    scan->totals->users++;
    scan->totals->verifiers += rec.count;
    return scan->fn != NULL ? scan->fn(&user, scan->arg) : 0;
}

int hb_cache_stats(const struct hb_config *cfg, hb_cache_stats_fn fn, void *arg,
                   struct hb_cache_totals *totals, char *err, size_t errlen)
{
    struct stats_scan scan = {fn, arg, totals, (int64_t) time(NULL)};
    struct hb_cache cache;
    struct hb_store *store = NULL;
    int rc = hb_cache_init(&cache, cfg, "", err, errlen);

    memset(totals, 0, sizeof(*totals));
    if (rc == 0 && (store = hb_store_acquire(cfg, err, errlen)) == NULL)
        rc = -1;
    if (rc == 0 && hb_store_scan(store, cache.key, 1 + HB_CACHE_TAG_LEN, stats_fn, &scan, err, errlen) == HB_STORE_ERROR)
        rc = -1;
    hb_store_release(store);
    hb_cache_wipe(&cache);
    return rc;
}
