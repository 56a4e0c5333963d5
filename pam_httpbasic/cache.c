/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache.c - password verifiers in the shared store (see cache.h for the
 * scope, keys and record layouts).  Every MAC is HMAC-SHA-256 computed
 * with OpenSSL's EVP_MAC fed part by part (so no buffer ever holds a
 * password next to a salt) with a label per use; MACs are compared with
 * CRYPTO_memcmp.  A record is decoded only after its MAC, bound to its
 * key, has been checked: a record that fails counts as absent.
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
#define USER_HEADER_LEN 52
#define ACCOUNT_HEADER_LEN 19
#define FLAG_ACCOUNT 1

#define LABEL_SCOPE "pam_httpbasic scope v2"
#define LABEL_USER "pam_httpbasic user v2"
#define LABEL_ACCOUNT "pam_httpbasic account v2"
#define LABEL_VERIFIER "pam_httpbasic verifier v2"
#define LABEL_RECORD "pam_httpbasic record v2"

/* One verifier or refusal, decoded. */
struct entry {
    uint8_t salt[HB_CACHE_SALT_LEN];
    uint8_t mac[HB_CACHE_MAC_LEN];
    int64_t at;
};

/* A login name's record, decoded. */
struct user_record {
    size_t nv, nt;
    bool has_account;
    uint8_t account[HB_CACHE_MAC_LEN];
    int64_t floor;               /* verifications at or before it are void (disabled, forgotten) */
    int64_t late;                /* acceptances sent at or before it are not stored (a refusal was dropped) */
    struct entry v[HB_CACHE_MAX_VERIFIERS];
    struct entry t[HB_CACHE_MAX_REFUSALS + 1];
};

/* An account's record, decoded. */
struct account_record {
    size_t n, nt;
    int64_t floor;               /* verifications of every name at or before it are void */
    int64_t late;                /* acceptances sent at or before it are not stored */
    uint8_t link[HB_CACHE_MAX_LINKS][HB_CACHE_MAC_LEN];
    struct entry t[HB_CACHE_MAX_REFUSALS + 1];   /* refusals under any of its names */
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

static int mac_of(const struct hb_cache *cache, const struct part *parts, size_t n, uint8_t out[HB_CACHE_MAC_LEN])
{
    return hmac_parts(cache->secret, cache->secret_len, parts, n, out);
}

/* A text with its terminating NUL, as a MAC part (so that no two lists run together). */
static struct part text(const char *s)
{
    return (struct part) {s != NULL ? s : "", s != NULL ? strlen(s) + 1 : 1};
}

/* The scope: HMAC(secret, label, realm, verdict settings); 0 on success. */
static int derive_scope(struct hb_cache *cache)
{
    const struct hb_config *cfg = cache->cfg;
    char statuses[2][HB_MAX_STATUS * 8 + 1] = {"", ""};
    struct part parts[16 + HB_MAX_SERVERS];
    size_t n = 0;

    for (size_t i = 0; i < cfg->ok_status_count; i++)
        snprintf(statuses[0] + strlen(statuses[0]), sizeof(statuses[0]) - strlen(statuses[0]), "%ld,", cfg->ok_status[i]);
    for (size_t i = 0; i < cfg->deny_status_count; i++)
        snprintf(statuses[1] + strlen(statuses[1]), sizeof(statuses[1]) - strlen(statuses[1]), "%ld,", cfg->deny_status[i]);
    parts[n++] = text(LABEL_SCOPE);
    if (cfg->cache_realm != NULL) {
        parts[n++] = text("realm");
        parts[n++] = text(cfg->cache_realm);
    } else {
        parts[n++] = text("urls");
        for (size_t i = 0; i < cfg->server_count; i++)
            parts[n++] = text(cfg->servers[i].url);
    }
    parts[n++] = text("verdict");
    parts[n++] = text(cfg->method != NULL ? cfg->method : "PROPFIND");
    parts[n++] = text(statuses[0]);
    parts[n++] = text(statuses[1]);
    parts[n++] = text(cfg->insecure_skip_verify ? "insecure" : "verify");
    parts[n++] = text(cfg->allow_http ? "http" : "https-only");
    parts[n++] = text(cfg->cafile);
    parts[n++] = text(cfg->capath);
    parts[n++] = text(cfg->pinned_pubkey);
    return mac_of(cache, parts, n, cache->scope);
}

/* The key of kind 'u' (login name) or 'a' (account) for name; 0 on success. */
static int make_key(const struct hb_cache *cache, char kind, const char *name, uint8_t key[HB_CACHE_KEY_LEN])
{
    const struct part parts[] = {text(kind == 'u' ? LABEL_USER : LABEL_ACCOUNT),
                                 {cache->scope, sizeof(cache->scope)}, {name, strlen(name)}};

    key[0] = (uint8_t) kind;
    memcpy(key + 1, cache->scope, HB_CACHE_TAG_LEN);
    return mac_of(cache, parts, 3, key + 1 + HB_CACHE_TAG_LEN);
}

/* The account key whose HMAC part is id. */
static void account_key(const struct hb_cache *cache, const uint8_t id[HB_CACHE_MAC_LEN], uint8_t key[HB_CACHE_KEY_LEN])
{
    key[0] = 'a';
    memcpy(key + 1, cache->scope, HB_CACHE_TAG_LEN);
    memcpy(key + 1 + HB_CACHE_TAG_LEN, id, HB_CACHE_MAC_LEN);
}

/* The record MAC of body under key; 0 on success. */
static int record_mac(const struct hb_cache *cache, const uint8_t *key, const uint8_t *body, size_t len,
                      uint8_t out[HB_CACHE_MAC_LEN])
{
    const struct part parts[] = {text(LABEL_RECORD), {key, HB_CACHE_KEY_LEN}, {body, len}};

    return mac_of(cache, parts, 3, out);
}

/* True when value (len bytes) carries a valid MAC for key. */
static bool authentic(const struct hb_cache *cache, const uint8_t *key, const uint8_t *value, size_t len)
{
    uint8_t mac[HB_CACHE_MAC_LEN];
    bool ok = len > HB_CACHE_MAC_LEN
              && record_mac(cache, key, value, len - HB_CACHE_MAC_LEN, mac) == 0
              && CRYPTO_memcmp(mac, value + len - HB_CACHE_MAC_LEN, HB_CACHE_MAC_LEN) == 0;

    OPENSSL_cleanse(mac, sizeof(mac));
    return ok;
}

/* The password MAC under salt; 0 on success. */
static int password_mac(const struct hb_cache *cache, const uint8_t *salt, const char *password,
                        uint8_t out[HB_CACHE_MAC_LEN])
{
    const struct part parts[] = {text(LABEL_VERIFIER), {salt, HB_CACHE_SALT_LEN}, {password, strlen(password)}};

    return mac_of(cache, parts, 3, out);
}

/* True when e is an entry of password (constant-time comparison). */
static bool entry_matches(const struct hb_cache *cache, const struct entry *e, const char *password)
{
    uint8_t mac[HB_CACHE_MAC_LEN];
    bool match = password_mac(cache, e->salt, password, mac) == 0
                 && CRYPTO_memcmp(mac, e->mac, HB_CACHE_MAC_LEN) == 0;

    OPENSSL_cleanse(mac, sizeof(mac));
    return match;
}

/* A fresh entry of password stamped at; 0 on success. */
static int new_entry(const struct hb_cache *cache, const char *password, int64_t at, struct entry *e)
{
    e->at = at;
    if (RAND_bytes(e->salt, sizeof(e->salt)) != 1)
        return -1;
    return password_mac(cache, e->salt, password, e->mac);
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

/* True when a time stored at "at" lies within (now - window, now]: never overflows. */
static bool within(int64_t at, int64_t now, long window)
{
    return at <= now && at > now - (int64_t) window;
}

static void get_entry(const uint8_t *p, struct entry *e)
{
    memcpy(e->salt, p, HB_CACHE_SALT_LEN);
    memcpy(e->mac, p + HB_CACHE_SALT_LEN, HB_CACHE_MAC_LEN);
    e->at = get_le64(p + HB_CACHE_SALT_LEN + HB_CACHE_MAC_LEN);
}

static void put_entry(uint8_t *p, const struct entry *e)
{
    memcpy(p, e->salt, HB_CACHE_SALT_LEN);
    memcpy(p + HB_CACHE_SALT_LEN, e->mac, HB_CACHE_MAC_LEN);
    put_le64(p + HB_CACHE_SALT_LEN + HB_CACHE_MAC_LEN, e->at);
}

/* Decode an authentic user record; 0 when value has the one known shape, else -1 (rec empty). */
static int decode_user(const struct hb_cache *cache, const uint8_t *key, const uint8_t *value, size_t len,
                       struct user_record *rec)
{
    size_t nv = len >= USER_HEADER_LEN ? value[1] : 0, nt = len >= USER_HEADER_LEN ? value[2] : 0;
    bool valid = len >= USER_HEADER_LEN && value[0] == HB_CACHE_VERSION && nv <= HB_CACHE_MAX_VERIFIERS
                 && nt <= HB_CACHE_MAX_REFUSALS && (value[3] & ~FLAG_ACCOUNT) == 0
                 && len == USER_HEADER_LEN + (nv + nt) * ENTRY_LEN + HB_CACHE_MAC_LEN
                 && authentic(cache, key, value, len);

    memset(rec, 0, sizeof(*rec));
    if (!valid)
        return -1;
    rec->nv = nv;
    rec->nt = nt;
    rec->has_account = (value[3] & FLAG_ACCOUNT) != 0;
    memcpy(rec->account, value + 4, HB_CACHE_MAC_LEN);
    rec->floor = get_le64(value + 36);
    rec->late = get_le64(value + 44);
    for (size_t i = 0; i < nv; i++)
        get_entry(value + USER_HEADER_LEN + i * ENTRY_LEN, &rec->v[i]);
    for (size_t i = 0; i < nt; i++)
        get_entry(value + USER_HEADER_LEN + (nv + i) * ENTRY_LEN, &rec->t[i]);
    return 0;
}

/* Encode rec under key into out (HB_STORE_VALUE_MAX bytes); the length, or 0 on failure. */
static size_t encode_user(const struct hb_cache *cache, const uint8_t *key, const struct user_record *rec, uint8_t *out)
{
    size_t len = USER_HEADER_LEN + (rec->nv + rec->nt) * ENTRY_LEN;

    out[0] = HB_CACHE_VERSION;
    out[1] = (uint8_t) rec->nv;
    out[2] = (uint8_t) rec->nt;
    out[3] = rec->has_account ? FLAG_ACCOUNT : 0;
    memcpy(out + 4, rec->account, HB_CACHE_MAC_LEN);
    put_le64(out + 36, rec->floor);
    put_le64(out + 44, rec->late);
    for (size_t i = 0; i < rec->nv; i++)
        put_entry(out + USER_HEADER_LEN + i * ENTRY_LEN, &rec->v[i]);
    for (size_t i = 0; i < rec->nt; i++)
        put_entry(out + USER_HEADER_LEN + (rec->nv + i) * ENTRY_LEN, &rec->t[i]);
    if (record_mac(cache, key, out, len, out + len) != 0)
        return 0;
    return len + HB_CACHE_MAC_LEN;
}

static int decode_account(const struct hb_cache *cache, const uint8_t *key, const uint8_t *value, size_t len,
                          struct account_record *rec)
{
    size_t n = len >= ACCOUNT_HEADER_LEN ? value[1] : 0, nt = len >= ACCOUNT_HEADER_LEN ? value[10] : 0;
    bool valid = len >= ACCOUNT_HEADER_LEN && value[0] == HB_CACHE_VERSION && n <= HB_CACHE_MAX_LINKS
                 && nt <= HB_CACHE_MAX_REFUSALS
                 && len == ACCOUNT_HEADER_LEN + n * HB_CACHE_MAC_LEN + nt * ENTRY_LEN + HB_CACHE_MAC_LEN
                 && authentic(cache, key, value, len);
    const uint8_t *p = value + ACCOUNT_HEADER_LEN;

    memset(rec, 0, sizeof(*rec));
    if (!valid)
        return -1;
    rec->n = n;
    rec->nt = nt;
    rec->floor = get_le64(value + 2);
    rec->late = get_le64(value + 11);
    for (size_t i = 0; i < n; i++, p += HB_CACHE_MAC_LEN)
        memcpy(rec->link[i], p, HB_CACHE_MAC_LEN);
    for (size_t i = 0; i < nt; i++, p += ENTRY_LEN)
        get_entry(p, &rec->t[i]);
    return 0;
}

static size_t encode_account(const struct hb_cache *cache, const uint8_t *key, const struct account_record *rec,
                             uint8_t *out)
{
    size_t len = ACCOUNT_HEADER_LEN + rec->n * HB_CACHE_MAC_LEN + rec->nt * ENTRY_LEN;
    uint8_t *p = out + ACCOUNT_HEADER_LEN;

    out[0] = HB_CACHE_VERSION;
    out[1] = (uint8_t) rec->n;
    put_le64(out + 2, rec->floor);
    out[10] = (uint8_t) rec->nt;
    put_le64(out + 11, rec->late);
    for (size_t i = 0; i < rec->n; i++, p += HB_CACHE_MAC_LEN)
        memcpy(p, rec->link[i], HB_CACHE_MAC_LEN);
    for (size_t i = 0; i < rec->nt; i++, p += ENTRY_LEN)
        put_entry(p, &rec->t[i]);
    if (record_mac(cache, key, out, len, out + len) != 0)
        return 0;
    return len + HB_CACHE_MAC_LEN;
}

/* Remove entry i of an array of count entries. */
static void remove_entry(struct entry *e, size_t *count, size_t i)
{
    memmove(&e[i], &e[i + 1], (*count - i - 1) * sizeof(e[0]));
    (*count)--;
}

/* Index of the entry with the smallest "at". */
static size_t oldest_entry(const struct entry *e, size_t count)
{
    size_t oldest = 0;

    for (size_t i = 1; i < count; i++)
        if (e[i].at < e[oldest].at)
            oldest = i;
    return oldest;
}

/*
 * Record a refusal of the password of refusal (stamped now) in the list
 * t[*nt]: the existing entry of that password moves to now, else it is
 * added; beyond HB_CACHE_MAX_REFUSALS the oldest goes and its time raises
 * *late (no acceptance sent before it is stored from then on).
 */
static void add_refusal(const struct hb_cache *cache, struct entry *t, size_t *nt, int64_t *late,
                        const struct entry *refusal, const char *password);
static bool list_refused(const struct hb_cache *cache, const struct entry *t, size_t nt, const char *password,
                         int64_t at);

/* Seconds a refusal is kept: as long as a request sent before it may still be answered. */
static long refusal_life(const struct hb_config *cfg)
{
    long per_server = (cfg->timeout_ms + cfg->connect_timeout_ms + 999) / 1000;

    return per_server * (long) (cfg->server_count > 0 ? cfg->server_count : 1) + 5;
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

/* Drop what is void at now: entries outside their lifetime, verifiers at or before the floor. */
static void drop_void(struct user_record *rec, int64_t now, long window, long refusal)
{
    for (size_t i = rec->nv; i-- > 0;)
        if (!within(rec->v[i].at, now, window) || rec->v[i].at <= rec->floor)
            remove_entry(rec->v, &rec->nv, i);
    for (size_t i = rec->nt; i-- > 0;)
        if (!within(rec->t[i].at, now, refusal))
            remove_entry(rec->t, &rec->nt, i);
    if (!within(rec->floor, now, window > refusal ? window : refusal))
        rec->floor = 0;
    if (!within(rec->late, now, refusal))
        rec->late = 0;
}

/* Seconds left of something stamped at (within life of now): never overflows. */
static long left(int64_t at, int64_t now, long life)
{
    return within(at, now, life) ? life - (long) (now - at) : 0;
}

/* Store rec as the new value of key (or delete the key when nothing in it matters). */
static enum hb_store_action put_user(const struct hb_cache *cache, const uint8_t *key, struct user_record *rec,
                                     int64_t now, uint8_t *out, size_t *outlen, long *ttl)
{
    long window = hb_cache_window(cache->cfg), refusal = refusal_life(cache->cfg), keep = 0, l;

    drop_void(rec, now, window, refusal);
    for (size_t i = 0; i < rec->nv; i++)
        keep = (l = left(rec->v[i].at, now, window)) > keep ? l : keep;
    for (size_t i = 0; i < rec->nt; i++)
        keep = (l = left(rec->t[i].at, now, refusal)) > keep ? l : keep;
    if (rec->floor != 0)
        keep = (l = left(rec->floor, now, refusal)) > keep ? l : keep;
    if (rec->late != 0)
        keep = (l = left(rec->late, now, refusal)) > keep ? l : keep;
    if (keep <= 0 || (*outlen = encode_user(cache, key, rec, out)) == 0)
        return HB_STORE_DELETE;
    *ttl = keep;
    return HB_STORE_PUT;
}

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

int hb_cache_init(struct hb_cache *cache, const struct hb_config *cfg, const char *http_user,
                  char *err, size_t errlen)
{
    bool configured, read;
    int rc = -1;

    memset(cache, 0, sizeof(*cache));
    cache->cfg = cfg;
    cache->name = http_user;
    configured = cfg->store != NULL && cfg->secret_file != NULL;
    read = configured && hb_read_secret(cfg->secret_file, cache->secret, &cache->secret_len, err, errlen) == 0;
    if (!configured)
        snprintf(err, errlen, "no store= and secret_file= configured");
    else if (read && cache->secret_len < HB_SECRET_MIN)
        snprintf(err, errlen, "%s holds fewer than %d bytes", cfg->secret_file, HB_SECRET_MIN);
    else if (read && (derive_scope(cache) != 0 || make_key(cache, 'u', http_user, cache->key) != 0
                      || make_key(cache, 'a', http_user, cache->name_account) != 0))
        snprintf(err, errlen, "cannot compute an HMAC (OpenSSL)");
    else if (read)
        rc = 0;
    return rc;
}

void hb_cache_wipe(struct hb_cache *cache)
{
    OPENSSL_cleanse(cache, sizeof(*cache));
}

/* Decode a user record read as (rc, value, len); HB_STORE_OK, NOT_FOUND or ERROR (err set). */
static int user_from(const struct hb_cache *cache, int rc, const uint8_t *value, size_t len,
                     struct user_record *rec, char *err, size_t errlen)
{
    if (rc == HB_STORE_OK && decode_user(cache, cache->key, value, len, rec) != 0) {
        snprintf(err, errlen, "a cache record does not authenticate (%zu bytes): ignored", len);
        rc = HB_STORE_ERROR;
    }
    return rc;
}

/* Read the account record of id; HB_STORE_OK, or NOT_FOUND / ERROR when it cannot vouch. */
static int read_account(const struct hb_cache *cache, struct hb_store *store, const uint8_t *id,
                        struct account_record *acc, char *err, size_t errlen)
{
    uint8_t key[HB_CACHE_KEY_LEN], value[HB_STORE_VALUE_MAX];
    size_t len = 0;
    int rc;

    account_key(cache, id, key);
    rc = hb_store_get(store, key, sizeof(key), value, &len, err, errlen);
    if (rc == HB_STORE_OK && decode_account(cache, key, value, len, acc) != 0) {
        snprintf(err, errlen, "an account record does not authenticate (%zu bytes): ignored", len);
        rc = HB_STORE_ERROR;
    }
    return rc;
}

/* True when rec holds a refusal of password at or after at. */
static bool refused_since(const struct hb_cache *cache, const struct user_record *rec, const char *password,
                          int64_t at)
{
    return list_refused(cache, rec->t, rec->nt, password, at);
}

void hb_cache_name_account_key(const struct hb_cache *cache, uint8_t key[HB_CACHE_KEY_LEN])
{
    memcpy(key, cache->name_account, HB_CACHE_KEY_LEN);
}

int hb_cache_lookup_prefetched(const struct hb_cache *cache, struct hb_store *store, const char *password,
                               int64_t now, const struct hb_cache_prefetch *pf, int64_t *age,
                               char *err, size_t errlen)
{
    long window = hb_cache_window(cache->cfg);
    struct user_record rec;
    struct account_record acc;
    int64_t best = 0;
    int rc = user_from(cache, pf->user_rc, pf->user, pf->user_len, &rec, err, errlen);

    if (rc != HB_STORE_OK)
        return rc;
    rc = HB_STORE_NOT_FOUND;
    for (size_t i = 0; i < rec.nv; i++) {
        const struct entry *v = &rec.v[i];

        if (within(v->at, now, window) && v->at > rec.floor && (rc != HB_STORE_OK || v->at > best)
            && entry_matches(cache, v, password) && !refused_since(cache, &rec, password, v->at)) {
            best = v->at;
            rc = HB_STORE_OK;
        }
    }
    /* A record that names an account counts only while that account vouches for it. */
    if (rc == HB_STORE_OK && rec.has_account) {
        uint8_t key[HB_CACHE_KEY_LEN];
        int arc;

        account_key(cache, rec.account, key);
        if (pf->account != NULL && memcmp(key, cache->name_account, HB_CACHE_KEY_LEN) == 0) {
            /* The login name is the uid: the account record came with the same round trip. */
            arc = pf->account_rc;
            if (arc == HB_STORE_OK && decode_account(cache, key, pf->account, pf->account_len, &acc) != 0) {
                snprintf(err, errlen, "an account record does not authenticate (%zu bytes): ignored", pf->account_len);
                arc = HB_STORE_ERROR;
            }
        } else {
            arc = read_account(cache, store, rec.account, &acc, err, errlen);
        }
        if (arc != HB_STORE_OK)
            rc = arc == HB_STORE_ERROR ? HB_STORE_ERROR : HB_STORE_NOT_FOUND;
        else if (acc.floor >= best || list_refused(cache, acc.t, acc.nt, password, best))
            rc = HB_STORE_NOT_FOUND;
    }
    if (rc == HB_STORE_OK)
        *age = now - best;
    return rc;
}

int hb_cache_lookup(const struct hb_cache *cache, struct hb_store *store, const char *password,
                    int64_t now, int64_t *age, char *err, size_t errlen)
{
    uint8_t value[HB_STORE_VALUE_MAX];
    struct hb_cache_prefetch pf = {value, 0, HB_STORE_ERROR, NULL, 0, HB_STORE_ERROR};

    pf.user_rc = hb_store_get(store, cache->key, sizeof(cache->key), value, &pf.user_len, err, errlen);
    return hb_cache_lookup_prefetched(cache, store, password, now, &pf, age, err, errlen);
}

static void add_refusal(const struct hb_cache *cache, struct entry *t, size_t *nt, int64_t *late,
                        const struct entry *refusal, const char *password)
{
    for (size_t i = 0; i < *nt; i++)
        if (entry_matches(cache, &t[i], password)) {
            t[i].at = refusal->at > t[i].at ? refusal->at : t[i].at;
            return;
        }
    t[(*nt)++] = *refusal;
    if (*nt > HB_CACHE_MAX_REFUSALS) {
        size_t oldest = oldest_entry(t, *nt);

        *late = t[oldest].at > *late ? t[oldest].at : *late;
        remove_entry(t, nt, oldest);
    }
}

/* True when the list t[nt] holds a refusal of password at or after at. */
static bool list_refused(const struct hb_cache *cache, const struct entry *t, size_t nt, const char *password,
                         int64_t at)
{
    bool refused = false;

    for (size_t i = 0; i < nt; i++)
        refused = refused || (t[i].at >= at && entry_matches(cache, &t[i], password));
    return refused;
}

/* Drop the account's refusals older than their lifetime and a late floor past it. */
static void account_drop_void(struct account_record *acc, int64_t now, long refusal)
{
    for (size_t i = acc->nt; i-- > 0;)
        if (!within(acc->t[i].at, now, refusal))
            remove_entry(acc->t, &acc->nt, i);
    if (!within(acc->late, now, refusal))
        acc->late = 0;
}

/* Arguments of the update callbacks: they depend only on these. */
struct change {
    const struct hb_cache *cache;
    const uint8_t *key;
    const char *password;
    const struct entry *added;      /* remember: the new verifier */
    int64_t sent_at, now;
    const uint8_t *account;         /* remember: the account id, or NULL */
    const uint8_t *link;            /* account update: the user key's HMAC part */
    uint8_t *linked;                /* disable: out, the account id the record named */
    bool refused;                   /* out: a refusal since sent_at is known / an account is linked */
    size_t count;                   /* out: verifiers dropped / links seen */
    bool found;                     /* out: the record existed */
};

/* remember: add the verifier unless a refusal since sent_at is recorded. */
static enum hb_store_action remember_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                        size_t *outlen, long *ttl, void *arg)
{
    struct change *c = arg;
    struct user_record rec;

    if (old == NULL || decode_user(c->cache, c->key, old, oldlen, &rec) != 0)
        memset(&rec, 0, sizeof(rec));  /* absent or not authentic: start afresh */
    drop_void(&rec, c->now, hb_cache_window(c->cache->cfg), refusal_life(c->cache->cfg));
    /* Refused since it was sent, or so old that a refusal since may have been forgotten already. */
    c->refused = c->refused || rec.floor >= c->sent_at || rec.late >= c->sent_at
                 || c->now - c->sent_at >= refusal_life(c->cache->cfg)
                 || refused_since(c->cache, &rec, c->password, c->sent_at);
    if (c->refused)
        return HB_STORE_KEEP;
    for (size_t i = rec.nv; i-- > 0;)
        if (entry_matches(c->cache, &rec.v[i], c->password))
            remove_entry(rec.v, &rec.nv, i);
    while (rec.nv >= (size_t) c->cache->cfg->cache_per_user)
        remove_entry(rec.v, &rec.nv, oldest_entry(rec.v, rec.nv));
    rec.v[rec.nv++] = *c->added;
    if (c->account != NULL) {       /* an answer that names no account keeps the link */
        rec.has_account = true;
        memcpy(rec.account, c->account, HB_CACHE_MAC_LEN);
    }
    return put_user(c->cache, c->key, &rec, c->now, out, outlen, ttl);
}

/* account: add a link to the login name; note whether its floor refuses sent_at. */
static enum hb_store_action link_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                    size_t *outlen, long *ttl, void *arg)
{
    struct change *c = arg;
    struct account_record acc;
    bool linked = false;

    if (old == NULL || decode_account(c->cache, c->key, old, oldlen, &acc) != 0)
        memset(&acc, 0, sizeof(acc));
    account_drop_void(&acc, c->now, refusal_life(c->cache->cfg));
    c->refused = acc.floor >= c->sent_at || acc.late >= c->sent_at
                 || list_refused(c->cache, acc.t, acc.nt, c->password, c->sent_at);
    if (c->refused)
        return HB_STORE_KEEP;
    for (size_t i = 0; i < acc.n; i++)
        linked = linked || memcmp(acc.link[i], c->link, HB_CACHE_MAC_LEN) == 0;
    if (!linked && acc.n == HB_CACHE_MAX_LINKS)
        memmove(acc.link[0], acc.link[1], (HB_CACHE_MAX_LINKS - 1) * HB_CACHE_MAC_LEN);
    if (!linked)
        memcpy(acc.link[acc.n < HB_CACHE_MAX_LINKS ? acc.n++ : HB_CACHE_MAX_LINKS - 1], c->link, HB_CACHE_MAC_LEN);
    if ((*outlen = encode_account(c->cache, c->key, &acc, out)) == 0)
        return HB_STORE_KEEP;
    *ttl = hb_cache_window(c->cache->cfg);
    return HB_STORE_PUT;
}

int hb_cache_remember(const struct hb_cache *cache, struct hb_store *store, const char *password,
                      int64_t sent_at, int64_t now, const char *account, bool *refused,
                      char *err, size_t errlen)
{
    uint8_t akey[HB_CACHE_KEY_LEN];
    struct entry added;
    struct change c = {cache, cache->key, password, &added, sent_at, now, NULL, NULL, NULL, false, 0, false};
    bool has_account = account != NULL && account[0] != '\0';
    int rc = HB_STORE_OK;

    if (sent_at > now || new_entry(cache, password, sent_at, &added) != 0
        || (has_account && make_key(cache, 'a', account, akey) != 0)) {
        snprintf(err, errlen, "cannot make a verifier (OpenSSL or clock)");
        rc = HB_STORE_ERROR;
    }
    if (rc == HB_STORE_OK && has_account) {
        struct change link = {cache, akey, password, NULL, sent_at, now, NULL, cache->key + 1 + HB_CACHE_TAG_LEN,
                              NULL, false, 0, false};

        rc = hb_store_update(store, akey, sizeof(akey), link_fn, &link, err, errlen);
        c.refused = link.refused;
        c.account = akey + 1 + HB_CACHE_TAG_LEN;
    }
    if (rc == HB_STORE_OK)
        rc = hb_store_update(store, cache->key, sizeof(cache->key), remember_fn, &c, err, errlen);
    if (refused != NULL)
        *refused = c.refused;
    OPENSSL_cleanse(&added, sizeof(added));
    return rc;
}

/* revoke: drop the password's verifiers and record the refusal. */
static enum hb_store_action revoke_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                      size_t *outlen, long *ttl, void *arg)
{
    struct change *c = arg;
    struct user_record rec;

    if (old == NULL || decode_user(c->cache, c->key, old, oldlen, &rec) != 0)
        memset(&rec, 0, sizeof(rec));
    drop_void(&rec, c->now, hb_cache_window(c->cache->cfg), refusal_life(c->cache->cfg));
    for (size_t i = rec.nv; i-- > 0;)
        if (entry_matches(c->cache, &rec.v[i], c->password))
            remove_entry(rec.v, &rec.nv, i);
    add_refusal(c->cache, rec.t, &rec.nt, &rec.late, c->added, c->password);
    c->refused = rec.has_account;   /* out: the account to record the refusal in too */
    if (rec.has_account)
        memcpy(c->linked, rec.account, HB_CACHE_MAC_LEN);
    return put_user(c->cache, c->key, &rec, c->now, out, outlen, ttl);
}

/* account refusal: record the refusal under the account, for every name of it. */
static enum hb_store_action account_refuse_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                              size_t *outlen, long *ttl, void *arg)
{
    struct change *c = arg;
    struct account_record acc;

    if (old == NULL || decode_account(c->cache, c->key, old, oldlen, &acc) != 0)
        return HB_STORE_KEEP;   /* no account record: no name of it can match anyway */
    account_drop_void(&acc, c->now, refusal_life(c->cache->cfg));
    add_refusal(c->cache, acc.t, &acc.nt, &acc.late, c->added, c->password);
    if ((*outlen = encode_account(c->cache, c->key, &acc, out)) == 0)
        return HB_STORE_KEEP;
    *ttl = hb_cache_window(c->cache->cfg) + refusal_life(c->cache->cfg);
    return HB_STORE_PUT;
}

int hb_cache_revoke(const struct hb_cache *cache, struct hb_store *store, const char *password,
                    int64_t now, char *err, size_t errlen)
{
    uint8_t linked[HB_CACHE_MAC_LEN], akey[HB_CACHE_KEY_LEN];
    struct entry refusal;
    struct change c = {cache, cache->key, password, &refusal, now, now, NULL, NULL, linked, false, 0, false};
    int rc = HB_STORE_ERROR;

    if (new_entry(cache, password, now, &refusal) != 0)
        snprintf(err, errlen, "cannot make a refusal record (OpenSSL)");
    else
        rc = hb_store_update(store, cache->key, sizeof(cache->key), revoke_fn, &c, err, errlen);
    if (rc == HB_STORE_OK && c.refused) {
        struct change a = {cache, akey, password, &refusal, now, now, NULL, NULL, NULL, false, 0, false};

        account_key(cache, linked, akey);
        rc = hb_store_update(store, akey, sizeof(akey), account_refuse_fn, &a, err, errlen);
    }
    OPENSSL_cleanse(&refusal, sizeof(refusal));
    return rc;
}

/* disable: drop every verifier, floor at now; note the account the record named. */
static enum hb_store_action disable_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                       size_t *outlen, long *ttl, void *arg)
{
    struct change *c = arg;
    struct user_record rec;

    c->found = old != NULL && decode_user(c->cache, c->key, old, oldlen, &rec) == 0;
    if (!c->found)
        memset(&rec, 0, sizeof(rec));
    c->count = rec.nv;
    if (rec.has_account)
        memcpy(c->linked, rec.account, HB_CACHE_MAC_LEN);
    c->refused = rec.has_account;   /* out: an account is linked */
    rec.nv = 0;
    rec.floor = c->now > rec.floor ? c->now : rec.floor;
    return put_user(c->cache, c->key, &rec, c->now, out, outlen, ttl);
}

/* account floor: void every verification of the account up to now. */
static enum hb_store_action floor_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                     size_t *outlen, long *ttl, void *arg)
{
    struct change *c = arg;
    struct account_record acc;

    c->found = old != NULL && decode_account(c->cache, c->key, old, oldlen, &acc) == 0;
    if (!c->found)
        memset(&acc, 0, sizeof(acc));
    c->count = acc.n;
    account_drop_void(&acc, c->now, refusal_life(c->cache->cfg));
    acc.floor = c->now > acc.floor ? c->now : acc.floor;
    if ((*outlen = encode_account(c->cache, c->key, &acc, out)) == 0)
        return HB_STORE_KEEP;
    *ttl = hb_cache_window(c->cache->cfg) + refusal_life(c->cache->cfg);
    return HB_STORE_PUT;
}

/* Set the floor of the account key; *found and *names say what was there. */
static int floor_account(const struct hb_cache *cache, struct hb_store *store, const uint8_t *key, int64_t now,
                         bool *found, size_t *names, char *err, size_t errlen)
{
    struct change c = {cache, key, NULL, NULL, now, now, NULL, NULL, NULL, false, 0, false};
    int rc = hb_store_update(store, key, HB_CACHE_KEY_LEN, floor_fn, &c, err, errlen);

    *found = c.found;
    *names = c.count;
    return rc;
}

/* Scan state: the accounts whose links name one login name. */
struct link_scan {
    const struct hb_cache *cache;
    const uint8_t *link;
    uint8_t keys[16][HB_CACHE_KEY_LEN];
    size_t n;
};

static int link_scan_fn(const uint8_t *key, size_t keylen, const uint8_t *value, size_t valuelen, void *arg)
{
    struct link_scan *ls = arg;
    struct account_record acc;
    bool linked = false;

    if (keylen == HB_CACHE_KEY_LEN && decode_account(ls->cache, key, value, valuelen, &acc) == 0)
        for (size_t i = 0; i < acc.n; i++)
            linked = linked || memcmp(acc.link[i], ls->link, HB_CACHE_MAC_LEN) == 0;
    if (linked)
        memcpy(ls->keys[ls->n++], key, HB_CACHE_KEY_LEN);
    return ls->n < sizeof(ls->keys) / sizeof(ls->keys[0]) ? 0 : 1;
}

/*
 * The login name's own record is gone or does not authenticate (deleted or
 * garbled by a store writer): find the accounts it reached by their links
 * and floor them, so that the other names of the account stop too.
 */
static int floor_linked_accounts(const struct hb_cache *cache, struct hb_store *store, int64_t now,
                                 struct hb_cache_forgotten *what, char *err, size_t errlen)
{
    struct link_scan ls = {cache, cache->key + 1 + HB_CACHE_TAG_LEN, {{0}}, 0};
    uint8_t prefix[1 + HB_CACHE_TAG_LEN];
    int rc;

    prefix[0] = 'a';
    memcpy(prefix + 1, cache->scope, HB_CACHE_TAG_LEN);
    rc = hb_store_scan(store, prefix, sizeof(prefix), link_scan_fn, &ls, err, errlen) == HB_STORE_ERROR
         ? HB_STORE_ERROR : HB_STORE_OK;
    for (size_t i = 0; rc == HB_STORE_OK && i < ls.n; i++) {
        bool found;
        size_t names;

        rc = floor_account(cache, store, ls.keys[i], now, &found, &names, err, errlen);
        what->account_linked = true;
        what->account_names += names;
    }
    return rc;
}

/* Disable the login name of cache and the accounts behind it; what was found goes to *what. */
static int disable(const struct hb_cache *cache, struct hb_store *store, const char *name, int64_t now,
                   struct hb_cache_forgotten *what, char *err, size_t errlen)
{
    uint8_t linked[HB_CACHE_MAC_LEN] = {0}, key[HB_CACHE_KEY_LEN];
    struct change c = {cache, cache->key, NULL, NULL, now, now, NULL, NULL, linked, false, 0, false};
    int rc = hb_store_update(store, cache->key, sizeof(cache->key), disable_fn, &c, err, errlen);

    memset(what, 0, sizeof(*what));
    what->verifiers = c.count;
    what->account_linked = c.refused;
    if (rc == HB_STORE_OK && c.refused) {
        account_key(cache, linked, key);
        rc = floor_account(cache, store, key, now, &c.found, &what->account_names, err, errlen);
    } else if (rc == HB_STORE_OK && !c.found) {
        rc = floor_linked_accounts(cache, store, now, what, err, errlen);
    }
    if (rc == HB_STORE_OK && make_key(cache, 'a', name, key) == 0
        && (!c.refused || memcmp(key + 1 + HB_CACHE_TAG_LEN, linked, HB_CACHE_MAC_LEN) != 0))
        rc = floor_account(cache, store, key, now, &what->uid_account, &what->uid_names, err, errlen);
    return rc;
}

int hb_cache_drop_user(const struct hb_cache *cache, struct hb_store *store, int64_t now,
                       char *err, size_t errlen)
{
    struct hb_cache_forgotten what;

    return disable(cache, store, cache->name, now, &what, err, errlen) == HB_STORE_OK ? HB_STORE_OK : HB_STORE_ERROR;
}

int hb_cache_forget(const struct hb_config *cfg, const char *name, struct hb_cache_forgotten *what,
                    char *err, size_t errlen)
{
    struct hb_cache cache;
    struct hb_store *store = NULL;
    int rc = hb_cache_init(&cache, cfg, name, err, errlen);

    memset(what, 0, sizeof(*what));
    if (rc == 0 && (store = hb_store_acquire(cfg, err, errlen)) == NULL)
        rc = -1;
    if (rc == 0 && disable(&cache, store, name, (int64_t) time(NULL), what, err, errlen) != HB_STORE_OK)
        rc = -1;
    hb_store_release(store);
    hb_cache_wipe(&cache);
    return rc;
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

    if (keylen != HB_CACHE_KEY_LEN || decode_user(scan->cache, key, value, valuelen, &rec) != 0) {
        scan->totals->corrupt++;
        return 0;
    }
    for (size_t i = 0; i < rec.nv; i++) {
        int64_t age;

        if (!within(rec.v[i].at, scan->now, window) || rec.v[i].at <= rec.floor)
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

    if (keylen != HB_CACHE_KEY_LEN || decode_account(scan->cache, key, value, valuelen, &acc) != 0)
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
