/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache.c - what a login does with the credential cache (cache.h): look a
 * password up, learn from the servers' verdict (accepted, refused,
 * account disabled) and forget a name.  The records themselves (keys,
 * MACs, layouts) are cache_record.c's; the admin tool's scans are in
 * cache_admin.c.
 */
#include "cache.h"
#include "cache_record.h"
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

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



/* Store rec as the new value of key (or delete the key when nothing in it matters). */
static enum hb_store_action put_user(const struct hb_cache *cache, const uint8_t *key, struct user_record *rec,
                                     int64_t now, uint8_t *out, size_t *outlen, long *ttl)
{
    long window = hb_cache_window(cache->cfg), refusal = cr_refusal_life(cache->cfg), keep = 0, l;

    cr_drop_void(rec, now, window, refusal);
    for (size_t i = 0; i < rec->nv; i++)
        keep = (l = cr_left(rec->v[i].at, now, window)) > keep ? l : keep;
    for (size_t i = 0; i < rec->nt; i++)
        keep = (l = cr_left(rec->t[i].at, now, refusal)) > keep ? l : keep;
    if (rec->floor != 0)
        keep = (l = cr_left(rec->floor, now, refusal)) > keep ? l : keep;
    if (rec->late != 0)
        keep = (l = cr_left(rec->late, now, refusal)) > keep ? l : keep;
    if (keep <= 0 || (*outlen = cr_encode_user(cache, key, rec, out)) == 0)
        return HB_STORE_DELETE;
    *ttl = keep;
    return HB_STORE_PUT;
}


int hb_cache_init(struct hb_cache *cache, const struct hb_config *cfg, const char *http_user,
                  char *err, size_t errlen)
{
    unsigned char secret[HB_SECRET_MAX];
    size_t secret_len = 0;
    bool configured, read;
    int rc = -1;

    memset(cache, 0, sizeof(*cache));
    cache->cfg = cfg;
    cache->name = http_user;
    configured = cfg->store != NULL && cfg->secret_file != NULL;
    read = configured && hb_read_secret(cfg->secret_file, secret, &secret_len, err, errlen) == 0;
    if (!configured)
        snprintf(err, errlen, "no store= and secret_file= configured");
    else if (read && secret_len < HB_SECRET_MIN)
        snprintf(err, errlen, "%s holds fewer than %d bytes", cfg->secret_file, HB_SECRET_MIN);
    else if (read && (hb_mac_key(&cache->mac, secret, secret_len) != 0 || cr_derive_scope(cache) != 0
                      || cr_make_key(cache, 'u', http_user, cache->key) != 0
                      || cr_make_key(cache, 'a', http_user, cache->name_account) != 0))
        snprintf(err, errlen, "cannot compute an HMAC (OpenSSL)");
    else if (read)
        rc = 0;
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

void hb_cache_wipe(struct hb_cache *cache)
{
    hb_mac_free(&cache->mac);
    OPENSSL_cleanse(cache, sizeof(*cache));
}

/* Decode a user record read as (rc, value, len); HB_STORE_OK, NOT_FOUND or ERROR (err set). */
static int user_from(const struct hb_cache *cache, int rc, const uint8_t *value, size_t len,
                     struct user_record *rec, char *err, size_t errlen)
{
    if (rc == HB_STORE_OK && cr_decode_user(cache, cache->key, value, len, rec) != 0) {
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

    cr_account_key(cache, id, key);
    rc = hb_store_get(store, key, sizeof(key), value, &len, err, errlen);
    if (rc == HB_STORE_OK && cr_decode_account(cache, key, value, len, acc) != 0) {
        snprintf(err, errlen, "an account record does not authenticate (%zu bytes): ignored", len);
        rc = HB_STORE_ERROR;
    }
    return rc;
}

/* True when rec holds a refusal of password at or after at. */
static bool refused_since(const struct hb_cache *cache, const struct user_record *rec, const char *password,
                          int64_t at)
{
    return cr_list_refused(cache, rec->t, rec->nt, password, at);
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

        if (cr_within(v->at, now, window) && v->at > rec.floor && (rc != HB_STORE_OK || v->at > best)
            && cr_entry_matches(cache, v, password) && !refused_since(cache, &rec, password, v->at)) {
            best = v->at;
            rc = HB_STORE_OK;
        }
    }
    /* A record that names an account counts only while that account vouches for it. */
    if (rc == HB_STORE_OK && rec.has_account) {
        uint8_t key[HB_CACHE_KEY_LEN];
        int arc;

        cr_account_key(cache, rec.account, key);
        if (pf->account != NULL && memcmp(key, cache->name_account, HB_CACHE_KEY_LEN) == 0) {
            /* The login name is the uid: the account record came with the same round trip. */
            arc = pf->account_rc;
            if (arc == HB_STORE_OK && cr_decode_account(cache, key, pf->account, pf->account_len, &acc) != 0) {
                snprintf(err, errlen, "an account record does not authenticate (%zu bytes): ignored", pf->account_len);
                arc = HB_STORE_ERROR;
            }
        } else {
            arc = read_account(cache, store, rec.account, &acc, err, errlen);
        }
        if (arc != HB_STORE_OK)
            rc = arc == HB_STORE_ERROR ? HB_STORE_ERROR : HB_STORE_NOT_FOUND;
        else if (acc.floor >= best || cr_list_refused(cache, acc.t, acc.nt, password, best))
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

    if (old == NULL || cr_decode_user(c->cache, c->key, old, oldlen, &rec) != 0)
        memset(&rec, 0, sizeof(rec));  /* absent or not authentic: start afresh */
    cr_drop_void(&rec, c->now, hb_cache_window(c->cache->cfg), cr_refusal_life(c->cache->cfg));
    /* Refused since it was sent, or so old that a refusal since may have been forgotten already. */
    c->refused = c->refused || rec.floor >= c->sent_at || rec.late >= c->sent_at
                 || c->now - c->sent_at >= cr_refusal_life(c->cache->cfg)
                 || refused_since(c->cache, &rec, c->password, c->sent_at);
    if (c->refused)
        return HB_STORE_KEEP;
    for (size_t i = rec.nv; i-- > 0;)
        if (cr_entry_matches(c->cache, &rec.v[i], c->password))
            cr_remove_entry(rec.v, &rec.nv, i);
    while (rec.nv >= (size_t) c->cache->cfg->cache_per_user)
        cr_remove_entry(rec.v, &rec.nv, cr_oldest_entry(rec.v, rec.nv));
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

    if (old == NULL || cr_decode_account(c->cache, c->key, old, oldlen, &acc) != 0)
        memset(&acc, 0, sizeof(acc));
    cr_account_drop_void(&acc, c->now, cr_refusal_life(c->cache->cfg));
    c->refused = acc.floor >= c->sent_at || acc.late >= c->sent_at
                 || cr_list_refused(c->cache, acc.t, acc.nt, c->password, c->sent_at);
    if (c->refused)
        return HB_STORE_KEEP;
    for (size_t i = 0; i < acc.n; i++)
        linked = linked || memcmp(acc.link[i], c->link, HB_CACHE_MAC_LEN) == 0;
    if (!linked && acc.n == HB_CACHE_MAX_LINKS)
        memmove(acc.link[0], acc.link[1], (HB_CACHE_MAX_LINKS - 1) * HB_CACHE_MAC_LEN);
    if (!linked)
        memcpy(acc.link[acc.n < HB_CACHE_MAX_LINKS ? acc.n++ : HB_CACHE_MAX_LINKS - 1], c->link, HB_CACHE_MAC_LEN);
    if ((*outlen = cr_encode_account(c->cache, c->key, &acc, out)) == 0)
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
    struct change c = {.cache = cache, .key = cache->key, .password = password, .added = &added,
                       .sent_at = sent_at, .now = now};
    bool has_account = account != NULL && account[0] != '\0';
    int rc = HB_STORE_OK;

    if (sent_at > now || cr_new_entry(cache, password, sent_at, &added) != 0
        || (has_account && cr_make_key(cache, 'a', account, akey) != 0)) {
        snprintf(err, errlen, "cannot make a verifier (OpenSSL or clock)");
        rc = HB_STORE_ERROR;
    }
    if (rc == HB_STORE_OK && has_account) {
        struct change link = {.cache = cache, .key = akey, .password = password, .sent_at = sent_at,
                              .now = now, .link = cache->key + 1 + HB_CACHE_TAG_LEN};

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

    if (old == NULL || cr_decode_user(c->cache, c->key, old, oldlen, &rec) != 0)
        memset(&rec, 0, sizeof(rec));
    cr_drop_void(&rec, c->now, hb_cache_window(c->cache->cfg), cr_refusal_life(c->cache->cfg));
    for (size_t i = rec.nv; i-- > 0;)
        if (cr_entry_matches(c->cache, &rec.v[i], c->password))
            cr_remove_entry(rec.v, &rec.nv, i);
    cr_add_refusal(c->cache, rec.t, &rec.nt, &rec.late, c->added, c->password);
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

    if (old == NULL || cr_decode_account(c->cache, c->key, old, oldlen, &acc) != 0)
        return HB_STORE_KEEP;   /* no account record: no name of it can match anyway */
    cr_account_drop_void(&acc, c->now, cr_refusal_life(c->cache->cfg));
    cr_add_refusal(c->cache, acc.t, &acc.nt, &acc.late, c->added, c->password);
    if ((*outlen = cr_encode_account(c->cache, c->key, &acc, out)) == 0)
        return HB_STORE_KEEP;
    *ttl = hb_cache_window(c->cache->cfg) + cr_refusal_life(c->cache->cfg);
    return HB_STORE_PUT;
}

int hb_cache_revoke(const struct hb_cache *cache, struct hb_store *store, const char *password,
                    int64_t now, char *err, size_t errlen)
{
    uint8_t linked[HB_CACHE_MAC_LEN], akey[HB_CACHE_KEY_LEN];
    struct entry refusal;
    struct change c = {.cache = cache, .key = cache->key, .password = password, .added = &refusal,
                       .sent_at = now, .now = now, .linked = linked};
    int rc = HB_STORE_ERROR;

    if (cr_new_entry(cache, password, now, &refusal) != 0)
        snprintf(err, errlen, "cannot make a refusal record (OpenSSL)");
    else
        rc = hb_store_update(store, cache->key, sizeof(cache->key), revoke_fn, &c, err, errlen);
    if (rc == HB_STORE_OK && c.refused) {
        struct change a = {.cache = cache, .key = akey, .password = password, .added = &refusal,
                           .sent_at = now, .now = now};

        cr_account_key(cache, linked, akey);
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

    c->found = old != NULL && cr_decode_user(c->cache, c->key, old, oldlen, &rec) == 0;
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

    c->found = old != NULL && cr_decode_account(c->cache, c->key, old, oldlen, &acc) == 0;
    if (!c->found)
        memset(&acc, 0, sizeof(acc));
    c->count = acc.n;
    cr_account_drop_void(&acc, c->now, cr_refusal_life(c->cache->cfg));
    acc.floor = c->now > acc.floor ? c->now : acc.floor;
    if ((*outlen = cr_encode_account(c->cache, c->key, &acc, out)) == 0)
        return HB_STORE_KEEP;
    *ttl = hb_cache_window(c->cache->cfg) + cr_refusal_life(c->cache->cfg);
    return HB_STORE_PUT;
}

/* Set the floor of the account key; *found and *names say what was there. */
static int floor_account(const struct hb_cache *cache, struct hb_store *store, const uint8_t *key, int64_t now,
                         bool *found, size_t *names, char *err, size_t errlen)
{
    struct change c = {.cache = cache, .key = key, .sent_at = now, .now = now};
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

    if (keylen == HB_CACHE_KEY_LEN && cr_decode_account(ls->cache, key, value, valuelen, &acc) == 0)
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
    struct change c = {.cache = cache, .key = cache->key, .sent_at = now, .now = now, .linked = linked};
    int rc = hb_store_update(store, cache->key, sizeof(cache->key), disable_fn, &c, err, errlen);

    memset(what, 0, sizeof(*what));
    what->verifiers = c.count;
    what->account_linked = c.refused;
    if (rc == HB_STORE_OK && c.refused) {
        cr_account_key(cache, linked, key);
        rc = floor_account(cache, store, key, now, &c.found, &what->account_names, err, errlen);
    } else if (rc == HB_STORE_OK && !c.found) {
        rc = floor_linked_accounts(cache, store, now, what, err, errlen);
    }
    if (rc == HB_STORE_OK && cr_make_key(cache, 'a', name, key) == 0
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
