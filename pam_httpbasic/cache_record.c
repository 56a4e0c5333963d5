/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache_record.c - the record layer of the credential cache (see
 * cache_record.h; layouts in cache.h).  Every MAC is HMAC-SHA-256 computed
 * with OpenSSL's EVP_MAC fed part by part (so no buffer ever holds a
 * password next to a salt) with a label per use; MACs are compared with
 * CRYPTO_memcmp.  A record is decoded only after its MAC, bound to its
 * key, has been checked: a record that fails counts as absent.
 */
#include "cache_record.h"
#include "mac.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* HMAC-SHA-256(secret, parts...) into out under the login's keyed MAC; 0 on success. */
static int mac_of(const struct hb_cache *cache, const struct hb_mac_part *parts, size_t n, uint8_t out[HB_CACHE_MAC_LEN])
{
    return hb_mac_compute(&cache->mac, parts, n, out);
}

/* A text with its terminating NUL, as a MAC part (so that no two lists run together). */
static struct hb_mac_part text(const char *s)
{
    return (struct hb_mac_part) {s != NULL ? s : "", s != NULL ? strlen(s) + 1 : 1};
}

/* The scope: HMAC(secret, label, realm, verdict settings); 0 on success. */
int cr_derive_scope(struct hb_cache *cache)
{
    const struct hb_config *cfg = cache->cfg;
    char statuses[2][HB_MAX_STATUS * 8 + 1] = {"", ""};
    struct hb_mac_part parts[16 + HB_MAX_SERVERS];
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
int cr_make_key(const struct hb_cache *cache, char kind, const char *name, uint8_t key[HB_CACHE_KEY_LEN])
{
    const struct hb_mac_part parts[] = {text(kind == 'u' ? LABEL_USER : LABEL_ACCOUNT),
                                 {cache->scope, sizeof(cache->scope)}, {name, strlen(name)}};

    key[0] = (uint8_t) kind;
    memcpy(key + 1, cache->scope, HB_CACHE_TAG_LEN);
    return mac_of(cache, parts, 3, key + 1 + HB_CACHE_TAG_LEN);
}

/* The account key whose HMAC part is id. */
void cr_account_key(const struct hb_cache *cache, const uint8_t id[HB_CACHE_MAC_LEN], uint8_t key[HB_CACHE_KEY_LEN])
{
    key[0] = 'a';
    memcpy(key + 1, cache->scope, HB_CACHE_TAG_LEN);
    memcpy(key + 1 + HB_CACHE_TAG_LEN, id, HB_CACHE_MAC_LEN);
}

/* The record MAC of body under key; 0 on success. */
static int record_mac(const struct hb_cache *cache, const uint8_t *key, const uint8_t *body, size_t len,
                      uint8_t out[HB_CACHE_MAC_LEN])
{
    const struct hb_mac_part parts[] = {text(LABEL_RECORD), {key, HB_CACHE_KEY_LEN}, {body, len}};

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
    const struct hb_mac_part parts[] = {text(LABEL_VERIFIER), {salt, HB_CACHE_SALT_LEN}, {password, strlen(password)}};

    return mac_of(cache, parts, 3, out);
}

/* True when e is an entry of password (constant-time comparison). */
bool cr_entry_matches(const struct hb_cache *cache, const struct entry *e, const char *password)
{
    uint8_t mac[HB_CACHE_MAC_LEN];
    bool match = password_mac(cache, e->salt, password, mac) == 0
                 && CRYPTO_memcmp(mac, e->mac, HB_CACHE_MAC_LEN) == 0;

    OPENSSL_cleanse(mac, sizeof(mac));
    return match;
}

/* A fresh entry of password stamped at; 0 on success. */
int cr_new_entry(const struct hb_cache *cache, const char *password, int64_t at, struct entry *e)
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
bool cr_within(int64_t at, int64_t now, long window)
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
int cr_decode_user(const struct hb_cache *cache, const uint8_t *key, const uint8_t *value, size_t len,
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
size_t cr_encode_user(const struct hb_cache *cache, const uint8_t *key, const struct user_record *rec, uint8_t *out)
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

int cr_decode_account(const struct hb_cache *cache, const uint8_t *key, const uint8_t *value, size_t len,
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

size_t cr_encode_account(const struct hb_cache *cache, const uint8_t *key, const struct account_record *rec,
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
void cr_remove_entry(struct entry *e, size_t *count, size_t i)
{
    memmove(&e[i], &e[i + 1], (*count - i - 1) * sizeof(e[0]));
    (*count)--;
}

/* Index of the entry with the smallest "at". */
size_t cr_oldest_entry(const struct entry *e, size_t count)
{
    size_t oldest = 0;

    for (size_t i = 1; i < count; i++)
        if (e[i].at < e[oldest].at)
            oldest = i;
    return oldest;
}


/* Seconds a refusal is kept: as long as a request sent before it may still be answered. */
long cr_refusal_life(const struct hb_config *cfg)
{
    long per_server = (cfg->timeout_ms + cfg->connect_timeout_ms + 999) / 1000;

    return per_server * (long) (cfg->server_count > 0 ? cfg->server_count : 1) + 5;
}

void cr_add_refusal(const struct hb_cache *cache, struct entry *t, size_t *nt, int64_t *late,
                        const struct entry *refusal, const char *password)
{
    for (size_t i = 0; i < *nt; i++)
        if (cr_entry_matches(cache, &t[i], password)) {
            t[i].at = refusal->at > t[i].at ? refusal->at : t[i].at;
            return;
        }
    t[(*nt)++] = *refusal;
    if (*nt > HB_CACHE_MAX_REFUSALS) {
        size_t oldest = cr_oldest_entry(t, *nt);

        *late = t[oldest].at > *late ? t[oldest].at : *late;
        cr_remove_entry(t, nt, oldest);
    }
}

/* True when the list t[nt] holds a refusal of password at or after at. */
bool cr_list_refused(const struct hb_cache *cache, const struct entry *t, size_t nt, const char *password,
                         int64_t at)
{
    bool refused = false;

    for (size_t i = 0; i < nt; i++)
        refused = refused || (t[i].at >= at && cr_entry_matches(cache, &t[i], password));
    return refused;
}

/* Drop the account's refusals older than their lifetime and a late floor past it. */
void cr_account_drop_void(struct account_record *acc, int64_t now, long refusal)
{
    for (size_t i = acc->nt; i-- > 0;)
        if (!cr_within(acc->t[i].at, now, refusal))
            cr_remove_entry(acc->t, &acc->nt, i);
    if (!cr_within(acc->late, now, refusal))
        acc->late = 0;
}

/* Drop what is void at now: entries outside their lifetime, verifiers at or before the floor. */
void cr_drop_void(struct user_record *rec, int64_t now, long window, long refusal)
{
    for (size_t i = rec->nv; i-- > 0;)
        if (!cr_within(rec->v[i].at, now, window) || rec->v[i].at <= rec->floor)
            cr_remove_entry(rec->v, &rec->nv, i);
    for (size_t i = rec->nt; i-- > 0;)
        if (!cr_within(rec->t[i].at, now, refusal))
            cr_remove_entry(rec->t, &rec->nt, i);
    if (!cr_within(rec->floor, now, window > refusal ? window : refusal))
        rec->floor = 0;
    if (!cr_within(rec->late, now, refusal))
        rec->late = 0;
}

/* Seconds left of something stamped at (within life of now): never overflows. */
long cr_left(int64_t at, int64_t now, long life)
{
    return cr_within(at, now, life) ? life - (long) (now - at) : 0;
}
