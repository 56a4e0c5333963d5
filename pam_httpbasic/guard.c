/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * guard.c - count wrong passwords per client address in the store and
 * refuse an address that had too many (see guard.h).
 */
#include "guard.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "files.h"
#include "validate.h"

#define GUARD_TAG 'g'
#define KEY_LEN (1 + 32)         /* tag + HMAC-SHA-256 */
#define RECORD_LEN 12            /* window start (8) + count (4) */
#define CLOCK_SKEW_MS 60000L     /* a window may start this far in the future (another host's clock) */
#define HASH_LABEL "pam_httpbasic guard "

/* One address's failures. */
struct record {
    int64_t start;               /* wall clock, ms since the epoch: first counted failure */
    uint32_t count;
};

/* What count_one needs: it must depend only on its arguments. */
struct count_arg {
    int64_t now;                 /* wall clock, ms */
    long window;                 /* s */
};

/* The wall clock in milliseconds since the epoch. */
static int64_t wall_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

bool hb_guard_applies(const struct hb_config *cfg, const char *ip)
{
    return cfg->guard_failures > 0 && ip != NULL && ip[0] != '\0'
           && !hb_address_in_list(cfg->guard_exempt, ip);
}

/* The store key of ip: tag + HMAC-SHA-256 keyed with secret_file; -1 with err set. */
static int guard_key(const struct hb_config *cfg, const char *ip, uint8_t key[KEY_LEN],
                     char *err, size_t errlen)
{
    unsigned char secret[HB_SECRET_MAX], data[sizeof(HASH_LABEL) + HB_IP_BUF];
    unsigned int maclen = 0;
    size_t secretlen = 0, iplen = strnlen(ip, HB_IP_BUF - 1);
    int rc = -1;

    if (cfg->secret_file == NULL) {
        snprintf(err, errlen, "secret_file is not set");
    } else if (hb_read_secret(cfg->secret_file, secret, &secretlen, err, errlen) == 0) {
        memcpy(data, HASH_LABEL, sizeof(HASH_LABEL) - 1);
        memcpy(data + sizeof(HASH_LABEL) - 1, ip, iplen);
        key[0] = GUARD_TAG;
        if (secretlen == 0)
            snprintf(err, errlen, "%s is empty", cfg->secret_file);
        else if (HMAC(EVP_sha256(), secret, (int) secretlen, data, sizeof(HASH_LABEL) - 1 + iplen,
                      key + 1, &maclen) == NULL || maclen != KEY_LEN - 1)
            snprintf(err, errlen, "HMAC-SHA-256 failed");
        else
            rc = 0;
    }
    explicit_bzero(secret, sizeof(secret));
    return rc;
}

static void encode(const struct record *r, uint8_t out[RECORD_LEN])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t) ((uint64_t) r->start >> (8 * i));
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t) (r->count >> (8 * i));
}

/* Decode a record; false when the value is not one. */
static bool decode(const uint8_t *value, size_t len, struct record *r)
{
    uint64_t start = 0;

    if (value == NULL || len != RECORD_LEN)
        return false;
    for (int i = 7; i >= 0; i--)
        start = (start << 8) | value[i];
    r->start = (int64_t) start;
    r->count = 0;
    for (int i = 3; i >= 0; i--)
        r->count = (r->count << 8) | value[8 + i];
    return true;
}

/* True when r's window (start + window seconds) is still running at now (ms). */
static bool window_open(const struct record *r, int64_t now, long window)
{
    return r->start <= now + CLOCK_SKEW_MS && now < r->start + (int64_t) window * 1000;
}

/* Update function: one more failure in the running window, or the first of a new one. */
static enum hb_store_action count_one(const uint8_t *old, size_t oldlen, uint8_t *out,
                                      size_t *outlen, long *ttl_seconds, void *arg)
{
    const struct count_arg *a = arg;
    struct record r;

    if (!decode(old, oldlen, &r) || !window_open(&r, a->now, a->window)) {
        r.start = a->now;
        r.count = 0;
    }
    if (r.count < UINT32_MAX)
        r.count++;
    encode(&r, out);
    *outlen = RECORD_LEN;
    *ttl_seconds = (long) ((r.start + (int64_t) a->window * 1000 - a->now + 999) / 1000);
    if (*ttl_seconds < 1)
        *ttl_seconds = 1;
    return HB_STORE_PUT;
}

bool hb_guard_blocked(const struct hb_config *cfg, struct hb_store *store, const char *ip,
                      char *err, size_t errlen)
{
    uint8_t key[KEY_LEN], value[HB_STORE_VALUE_MAX];
    size_t len = 0;
    struct record r;
    int rc = HB_STORE_ERROR;

    err[0] = '\0';
    if (guard_key(cfg, ip, key, err, errlen) == 0)
        rc = hb_store_get(store, key, sizeof(key), value, &len, err, errlen);
    if (rc == HB_STORE_NOT_FOUND)
        err[0] = '\0';
    return rc == HB_STORE_OK && decode(value, len, &r) && r.count >= (uint32_t) cfg->guard_failures
           && window_open(&r, wall_ms(), cfg->guard_window);
}

int hb_guard_count_failure(const struct hb_config *cfg, struct hb_store *store, const char *ip,
                           char *err, size_t errlen)
{
    uint8_t key[KEY_LEN];
    struct count_arg arg = {wall_ms(), cfg->guard_window};

    err[0] = '\0';
    if (guard_key(cfg, ip, key, err, errlen) != 0
        || hb_store_update(store, key, sizeof(key), count_one, &arg, err, errlen) != HB_STORE_OK)
        return -1;
    return 0;
}
