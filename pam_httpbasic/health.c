/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * health.c - resting servers.  The in-process table below is used when no
 * store is configured: a few slots keyed by a hash of the URL, guarded by
 * a lock that is only ever tried (never waited for), so a thread or a
 * child forked while another thread held it goes on as if nothing rested.
 * With a store, the same facts live in the store (see health.h), shared
 * by every process using it.
 */
#include "health.h"
#include "store.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <sys/auxv.h>

#include <openssl/crypto.h>

#include "files.h"
#include "mac.h"

#define STORE_VERSION 2
#define STORE_KEY_LEN 33         /* kind byte + HMAC-SHA-256 */
#define STORE_BODY_LEN 9         /* version + int64 LE */
#define STORE_VALUE_LEN (STORE_BODY_LEN + 32)   /* + HMAC-SHA-256 of key and body */

/* A store key and the MAC keyed with the secret it was made with. */
struct rest_key {
    struct hb_mac mac;
    uint8_t key[STORE_KEY_LEN];
};

#define RESTING_SLOTS 16

static pthread_mutex_t resting_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t url_key;
    time_t until;            /* CLOCK_MONOTONIC seconds */
} resting[RESTING_SLOTS];   /* servers that recently gave no answer */

static time_t now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* FNV-1a of url. */
static uint64_t url_key(const char *url)
{
    uint64_t hash = 0xcbf29ce484222325ULL;

    for (; *url != '\0'; url++)
        hash = (hash ^ (unsigned char) *url) * 0x100000001b3ULL;
    return hash;
}

static bool table_resting(uint64_t key, time_t now)
{
    bool found = false;

    if (pthread_mutex_trylock(&resting_lock) != 0)
        return false;
    for (size_t i = 0; i < RESTING_SLOTS; i++)
        if (resting[i].url_key == key && resting[i].until > now)
            found = true;
    pthread_mutex_unlock(&resting_lock);
    return found;
}

/*
 * Let the server rest until until (0: it answered, forget it).  A new
 * resting server takes the entry that expires first; forgetting a server
 * that is not in the table changes nothing.
 */
static void table_set(uint64_t key, time_t until)
{
    size_t slot = RESTING_SLOTS, oldest = 0;

    if (pthread_mutex_trylock(&resting_lock) != 0)
        return;
    for (size_t i = 0; i < RESTING_SLOTS && slot == RESTING_SLOTS; i++) {
        if (resting[i].url_key == key)
            slot = i;
        else if (resting[i].until < resting[oldest].until)
            oldest = i;
    }
    if (slot == RESTING_SLOTS && until != 0)
        slot = oldest;
    if (slot < RESTING_SLOTS) {
        resting[slot].url_key = key;
        resting[slot].until = until;
    }
    pthread_mutex_unlock(&resting_lock);
}

/* Key k->mac with the secret and make the store key of kind over the strings in parts; 0 on success. */
static int store_key(const struct hb_config *cfg, char kind, const char *const *parts, size_t n, struct rest_key *k)
{
    char err[HB_ERROR_LEN];
    static const uint8_t label[] = "pam_httpbasic health v2";
    unsigned char secret[HB_SECRET_MAX];
    struct hb_mac_part in[3 + HB_MAX_SERVERS];       /* label, kind, the url list and one more */
    size_t secret_len = 0;
    int ok;

    ok = n <= 1 + HB_MAX_SERVERS && cfg->secret_file != NULL
         && hb_read_secret(cfg->secret_file, secret, &secret_len, err, sizeof(err)) == 0
         && secret_len >= HB_SECRET_MIN && hb_mac_key(&k->mac, secret, secret_len) == 0;
    OPENSSL_cleanse(secret, sizeof(secret));
    in[0] = (struct hb_mac_part) {label, sizeof(label)};
    in[1] = (struct hb_mac_part) {&kind, 1};
    for (size_t i = 0; ok && i < n; i++)
        in[2 + i] = (struct hb_mac_part) {parts[i], strlen(parts[i]) + 1};
    k->key[0] = (uint8_t) kind;
    return ok && hb_mac_compute(&k->mac, in, 2 + n, k->key + 1) == 0 ? 0 : -1;
}

/* The record MAC of the first STORE_BODY_LEN bytes of value under k; 0 on success. */
static int value_mac(const struct rest_key *k, const uint8_t *value, uint8_t out[32])
{
    static const char label[] = "pam_httpbasic health record v2";
    const struct hb_mac_part in[] = {{label, sizeof(label)}, {k->key, STORE_KEY_LEN}, {value, STORE_BODY_LEN}};

    return hb_mac_compute(&k->mac, in, 3, out);
}

/*
 * The time T stored in value, capped at now + retry_after (a rest or a
 * token never lasts longer than one period from now, whatever the clock
 * did), or 0 when it is absent, of another shape or not authentic.
 */
static int64_t stored_until(const struct rest_key *k, const uint8_t *value, size_t len, int64_t now, long retry_after)
{
    uint8_t mac[32];
    bool valid = value != NULL && len == STORE_VALUE_LEN && value[0] == STORE_VERSION
                 && value_mac(k, value, mac) == 0
                 && CRYPTO_memcmp(mac, value + STORE_BODY_LEN, 32) == 0;
    uint64_t u = 0;
    int64_t until;

    for (int i = 8; valid && i >= 1; i--)
        u = (u << 8) | value[i];
    until = (int64_t) u;
    if (!valid || until <= 0)
        return 0;
    return until > now + retry_after ? now + retry_after : until;
}

/* Encode until into out under k; returns the length, 0 on failure. */
static size_t store_value(const struct rest_key *k, int64_t until, uint8_t *out)
{
    out[0] = STORE_VERSION;
    for (int i = 1; i <= 8; i++)
        out[i] = (uint8_t) ((uint64_t) until >> (8 * (i - 1)));
    return value_mac(k, out, out + STORE_BODY_LEN) == 0 ? STORE_VALUE_LEN : 0;
}

/* Arguments of the store update callbacks. */
struct rest_change {
    const struct rest_key *k;
    int64_t now;
    long retry_after;
    bool answered;           /* note_fn: the server answered */
    bool taken;              /* probe_fn: out, the token was taken */
};

/* note: a server that answered is forgotten, one that did not rests. */
static enum hb_store_action note_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                    size_t *outlen, long *ttl, void *arg)
{
    const struct rest_change *c = arg;

    (void) oldlen;
    if (c->answered)
        return old == NULL ? HB_STORE_KEEP : HB_STORE_DELETE;
    *outlen = store_value(c->k, c->now + c->retry_after, out);
    *ttl = c->retry_after;
    return *outlen > 0 ? HB_STORE_PUT : HB_STORE_KEEP;
}

/* probe: take the token when there is none, it expired or it is not authentic. */
static enum hb_store_action probe_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                     size_t *outlen, long *ttl, void *arg)
{
    struct rest_change *c = arg;

    c->taken = stored_until(c->k, old, oldlen, c->now, c->retry_after) <= c->now;
    if (c->taken) {
        *outlen = store_value(c->k, c->now + c->retry_after, out);
        *ttl = c->retry_after;
        c->taken = *outlen > 0;
    }
    return c->taken ? HB_STORE_PUT : HB_STORE_KEEP;
}

/* Make the key of kind over parts (secret read); 0 on success.  Pair with key_wipe(). */
static int key_make(const struct hb_config *cfg, char kind, const char *const *parts, size_t n, struct rest_key *k)
{
    memset(k, 0, sizeof(*k));
    return store_key(cfg, kind, parts, n, k);
}

static void key_wipe(struct rest_key *k)
{
    hb_mac_free(&k->mac);
    OPENSSL_cleanse(k, sizeof(*k));
}

/* True while url rests according to the store; false on any store or secret error. */
static bool store_resting(const struct hb_config *cfg, struct hb_store *store, const char *url)
{
    uint8_t value[HB_STORE_VALUE_MAX];
    size_t len = 0;
    char err[HB_ERROR_LEN];
    struct rest_key k;
    int64_t now = (int64_t) time(NULL);
    bool rests = key_make(cfg, 'h', &url, 1, &k) == 0
                   && hb_store_get(store, k.key, sizeof(k.key), value, &len, err, sizeof(err)) == HB_STORE_OK
                   && stored_until(&k, value, len, now, cfg->server_retry_after) > now;

    key_wipe(&k);
    return rests;
}

bool hb_health_resting(const struct hb_config *cfg, struct hb_store *store, const char *url)
{
    (void) cfg;
    return store != NULL ? store_resting(cfg, store, url) : table_resting(url_key(url), now_seconds());
}

void hb_health_note(const struct hb_config *cfg, struct hb_store *store, const char *url, bool answered)
{
    struct rest_key k;
    struct rest_change c = {&k, (int64_t) time(NULL), cfg->server_retry_after, answered, false};
    char err[HB_ERROR_LEN];

    /* An answer from a server that does not rest (the usual case) costs a read, no write. */
    if (store == NULL) {
        table_set(url_key(url), answered ? 0 : now_seconds() + cfg->server_retry_after);
        return;
    }
    if ((!answered || store_resting(cfg, store, url)) && cfg->server_retry_after > 0
        && key_make(cfg, 'h', &url, 1, &k) == 0)
        hb_store_update(store, k.key, sizeof(k.key), note_fn, &c, err, sizeof(err));
    key_wipe(&k);
}

bool hb_health_all_resting(const struct hb_config *cfg, struct hb_store *store)
{
    bool all = cfg->server_retry_after > 0;

    for (size_t i = 0; all && i < cfg->server_count; i++)
        all = hb_health_resting(cfg, store, cfg->servers[i].url);
    return all;
}

bool hb_health_take_probe(const struct hb_config *cfg, struct hb_store *store)
{
    struct rest_key k;
    struct rest_change c = {&k, (int64_t) time(NULL), cfg->server_retry_after, false, true};
    const char *parts[1 + HB_MAX_SERVERS] = {"p"};
    char err[HB_ERROR_LEN];
    bool taken;

    if (store == NULL || cfg->server_retry_after <= 0)
        return true;
    /* A process a user controls (setuid, AT_SECURE) never holds the token: it could keep it stopped. */
    if (getauxval(AT_SECURE) != 0)
        return false;
    for (size_t i = 0; i < cfg->server_count; i++)
        parts[1 + i] = cfg->servers[i].url;
    taken = key_make(cfg, 'p', parts, 1 + cfg->server_count, &k) != 0
            || hb_store_update(store, k.key, sizeof(k.key), probe_fn, &c, err, sizeof(err)) != HB_STORE_OK
            || c.taken;
    key_wipe(&k);
    return taken;
}
