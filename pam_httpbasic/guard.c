/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * guard.c - reserve an attempt per client address (IPv6: per network) in
 * the store before each request, keep the reservations that got a wrong
 * password, and refuse an address that has too many (see guard.h).
 */
#include "guard.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "files.h"
#include "mac.h"
#include "validate.h"

#define GUARD_TAG 'g'
#define KEY_LEN HB_GUARD_KEY_LEN  /* tag + HMAC-SHA-256 */
#define RECORD_LEN 12            /* window start (8) + count (4) */
#define CLOCK_SKEW_MS 60000L     /* a window may start this far in the future (another host's clock) */
#define HASH_LABEL "pam_httpbasic guard "

/* One address's failures. */
struct record {
    int64_t start;               /* wall clock, ms since the epoch: first counted failure */
    uint32_t count;
};

/* What the update functions need: they depend only on their arguments (and set out fields). */
struct change {
    int64_t now;                 /* wall clock, ms */
    long window;                 /* s */
    uint32_t limit;              /* guard_failures */
    int64_t start;               /* settle: the ticket's window; reserve: out, the window counted in */
    bool refused;                /* reserve: out */
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

/*
 * What is counted for ip into out (HB_IP_BUF + 4 bytes): an IPv4 address
 * (or an IPv6 one with guard_ipv6_prefix 128) as it is, else the IPv6
 * network "NETWORK/N".  Its length.
 */
static size_t counted_address(const struct hb_config *cfg, const char *ip, char *out, size_t outlen)
{
    unsigned char a[16];
    long bits = cfg->guard_ipv6_prefix;
    char net[HB_IP_BUF];

    if (strchr(ip, ':') == NULL || bits <= 0 || bits >= 128 || inet_pton(AF_INET6, ip, a) != 1
        || inet_ntop(AF_INET6, a, net, sizeof(net)) == NULL)
        return (size_t) snprintf(out, outlen, "%.*s", HB_IP_BUF - 1, ip);
    for (long i = 0; i < 16; i++) {
        long keep = bits - i * 8;

        a[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char) (0xff << (8 - keep));
    }
    inet_ntop(AF_INET6, a, net, sizeof(net));
    return (size_t) snprintf(out, outlen, "%s/%ld", net, bits);
}

/*
 * The store key of ip: tag + HMAC-SHA-256 keyed with secret_file (with mac
 * when the caller has it keyed already, else the file is read); -1 with err set.
 */
static int guard_key(const struct hb_config *cfg, const char *ip, const struct hb_mac *mac, uint8_t key[KEY_LEN],
                     char *err, size_t errlen)
{
    unsigned char secret[HB_SECRET_MAX];
    char address[HB_IP_BUF + 8];
    size_t secretlen = 0, iplen = counted_address(cfg, ip, address, sizeof(address));
    struct hb_mac_part parts[2] = {{HASH_LABEL, sizeof(HASH_LABEL) - 1}, {address, 0}};
    int rc = -1;

    if (iplen >= sizeof(address))
        iplen = sizeof(address) - 1;
    parts[1].len = iplen;
    key[0] = GUARD_TAG;
    if (mac != NULL && mac->keyed) {
        if (hb_mac_compute(mac, parts, 2, key + 1) == 0)
            return 0;
        snprintf(err, errlen, "HMAC-SHA-256 failed");
        return -1;
    }
    if (cfg->secret_file == NULL) {
        snprintf(err, errlen, "secret_file is not set");
    } else if (hb_read_secret(cfg->secret_file, secret, &secretlen, err, errlen) == 0) {
        if (secretlen == 0)
            snprintf(err, errlen, "%s is empty", cfg->secret_file);
        else if (hb_mac_once(secret, secretlen, parts, 2, key + 1) != 0)
            snprintf(err, errlen, "HMAC-SHA-256 failed");
        else
            rc = 0;
    }
    OPENSSL_cleanse(secret, sizeof(secret));
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

/* The TTL of a record of window start at now: the rest of the window, at least 1 s. */
static long rest_of_window(int64_t start, int64_t now, long window)
{
    long ttl = (long) ((start + (int64_t) window * 1000 - now + 999) / 1000);

    return ttl < 1 ? 1 : ttl;
}

/* Update function: refuse when the running window is full, else count one more attempt in it. */
static enum hb_store_action reserve_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                       size_t *outlen, long *ttl_seconds, void *arg)
{
    struct change *c = arg;
    struct record r;

    if (!decode(old, oldlen, &r) || !window_open(&r, c->now, c->window)) {
        r.start = c->now;
        r.count = 0;
    }
    c->refused = r.count >= c->limit;
    c->start = r.start;
    if (c->refused)
        return HB_STORE_KEEP;
    r.count++;
    encode(&r, out);
    *outlen = RECORD_LEN;
    *ttl_seconds = rest_of_window(r.start, c->now, c->window);
    return HB_STORE_PUT;
}

/* Update function: give back one attempt counted in the window the ticket names, if it still runs. */
static enum hb_store_action release_fn(const uint8_t *old, size_t oldlen, uint8_t *out,
                                       size_t *outlen, long *ttl_seconds, void *arg)
{
    const struct change *c = arg;
    struct record r;

    if (!decode(old, oldlen, &r) || r.start != c->start || r.count == 0 || !window_open(&r, c->now, c->window))
        return HB_STORE_KEEP;
    if (--r.count == 0)
        return HB_STORE_DELETE;
    encode(&r, out);
    *outlen = RECORD_LEN;
    *ttl_seconds = rest_of_window(r.start, c->now, c->window);
    return HB_STORE_PUT;
}

int hb_guard_key(const struct hb_config *cfg, const char *ip, const struct hb_mac *mac,
                 uint8_t key[HB_GUARD_KEY_LEN], char *err, size_t errlen)
{
    err[0] = '\0';
    return guard_key(cfg, ip, mac, key, err, errlen);
}

bool hb_guard_value_refuses(const struct hb_config *cfg, const uint8_t *value, size_t len)
{
    struct record r;

    return cfg->guard_failures > 0 && decode(value, len, &r) && r.count >= (uint32_t) cfg->guard_failures
           && window_open(&r, wall_ms(), cfg->guard_window);
}

enum hb_guard_result hb_guard_reserve(const struct hb_config *cfg, struct hb_store *store, const char *ip,
                                      const struct hb_mac *mac, struct hb_guard_ticket *ticket,
                                      char *err, size_t errlen)
{
    struct change c = {wall_ms(), cfg->guard_window, (uint32_t) cfg->guard_failures, 0, false};

    memset(ticket, 0, sizeof(*ticket));
    err[0] = '\0';
    if (store == NULL || !hb_guard_applies(cfg, ip))
        return HB_GUARD_GO;
    if (guard_key(cfg, ip, mac, ticket->key, err, errlen) != 0
        || hb_store_update(store, ticket->key, sizeof(ticket->key), reserve_fn, &c, err, errlen) != HB_STORE_OK)
        return HB_GUARD_ERROR;
    if (c.refused)
        return HB_GUARD_REFUSED;
    ticket->held = true;
    ticket->start = c.start;
    return HB_GUARD_GO;
}

int hb_guard_settle(const struct hb_config *cfg, struct hb_store *store, struct hb_guard_ticket *ticket,
                    bool failed, char *err, size_t errlen)
{
    struct change c = {wall_ms(), cfg->guard_window, (uint32_t) cfg->guard_failures, ticket->start, false};
    int rc = 0;

    err[0] = '\0';
    if (ticket->held && !failed
        && hb_store_update(store, ticket->key, sizeof(ticket->key), release_fn, &c, err, errlen) != HB_STORE_OK)
        rc = -1;
    ticket->held = false;
    return rc;
}
