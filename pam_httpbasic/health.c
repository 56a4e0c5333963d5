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

#include <openssl/evp.h>

#define STORE_VERSION 1
#define STORE_KEY_LEN 33         /* kind byte + SHA-256 */
#define STORE_VALUE_LEN 9        /* version + int64 LE */

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

/* The store key of kind ('h' or 'p') over the strings in parts; 0 on success. */
static int store_key(char kind, const char *const *parts, size_t n, uint8_t key[STORE_KEY_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);

    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1);
    ok = ok && EVP_DigestFinal_ex(ctx, key + 1, &len) && len == STORE_KEY_LEN - 1;
    EVP_MD_CTX_free(ctx);
    key[0] = (uint8_t) kind;
    return ok ? 0 : -1;
}

/* The time T stored in value, or 0 when it is absent or of another shape. */
static int64_t stored_until(const uint8_t *value, size_t len)
{
    bool valid = value != NULL && len == STORE_VALUE_LEN && value[0] == STORE_VERSION;
    uint64_t u = 0;

    for (int i = 8; valid && i >= 1; i--)
        u = (u << 8) | value[i];
    return (int64_t) u;
}

/* Encode until into out; returns the length. */
static size_t store_value(int64_t until, uint8_t *out)
{
    out[0] = STORE_VERSION;
    for (int i = 1; i <= 8; i++)
        out[i] = (uint8_t) ((uint64_t) until >> (8 * (i - 1)));
    return STORE_VALUE_LEN;
}

/* Arguments of the store update callbacks. */
struct rest_change {
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
    enum hb_store_action action = HB_STORE_PUT;

    (void) oldlen;
    if (c->answered)
        action = old == NULL ? HB_STORE_KEEP : HB_STORE_DELETE;
    else
        *outlen = store_value(c->now + c->retry_after, out);
    *ttl = c->retry_after;
    return action;
}

/* probe: take the token when there is none or it expired. */
static enum hb_store_action probe_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                     size_t *outlen, long *ttl, void *arg)
{
    struct rest_change *c = arg;

    c->taken = stored_until(old, oldlen) <= c->now;
    if (c->taken) {
        *outlen = store_value(c->now + c->retry_after, out);
        *ttl = c->retry_after;
    }
    return c->taken ? HB_STORE_PUT : HB_STORE_KEEP;
}

/* True while url rests according to the store; false on any store error. */
static bool store_resting(struct hb_store *store, const char *url)
{
    uint8_t key[STORE_KEY_LEN], value[HB_STORE_VALUE_MAX];
    size_t len = 0;
    char err[HB_ERROR_LEN];

    return store_key('h', &url, 1, key) == 0
           && hb_store_get(store, key, sizeof(key), value, &len, err, sizeof(err)) == HB_STORE_OK
           && stored_until(value, len) > (int64_t) time(NULL);
}

bool hb_health_resting(const struct hb_config *cfg, struct hb_store *store, const char *url)
{
    (void) cfg;
    return store != NULL ? store_resting(store, url) : table_resting(url_key(url), now_seconds());
}

void hb_health_note(const struct hb_config *cfg, struct hb_store *store, const char *url, bool answered)
{
    struct rest_change c = {(int64_t) time(NULL), cfg->server_retry_after, answered, false};
    uint8_t key[STORE_KEY_LEN];
    char err[HB_ERROR_LEN];

    /* An answer from a server that does not rest (the usual case) costs a read, no write. */
    if (store == NULL)
        table_set(url_key(url), answered ? 0 : now_seconds() + cfg->server_retry_after);
    else if ((!answered || store_resting(store, url)) && cfg->server_retry_after > 0
             && store_key('h', &url, 1, key) == 0)
        hb_store_update(store, key, sizeof(key), note_fn, &c, err, sizeof(err));
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
    struct rest_change c = {(int64_t) time(NULL), cfg->server_retry_after, false, true};
    const char *parts[1 + HB_MAX_SERVERS] = {"p"};
    uint8_t key[STORE_KEY_LEN];
    char err[HB_ERROR_LEN];

    for (size_t i = 0; i < cfg->server_count; i++)
        parts[1 + i] = cfg->servers[i].url;
    if (store == NULL || cfg->server_retry_after <= 0
        || store_key('p', parts, 1 + cfg->server_count, key) != 0
        || hb_store_update(store, key, sizeof(key), probe_fn, &c, err, sizeof(err)) != HB_STORE_OK)
        return true;
    return c.taken;
}
