/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * guard.h - the brute-force guard, on the shared store (any backend).
 *
 * A client address (the canonical IP from hb_rhost_ip; IPv6 counted per
 * /guard_ipv6_prefix network, default /64, IPv4-mapped addresses as IPv4)
 * gets at most guard_failures requests to the servers that are not known
 * to have been answered with something else than a wrong password within
 * guard_window seconds.  Every request is reserved before it is sent: one
 * atomic store update checks the count and adds one, or refuses when the
 * count has reached guard_failures (then no request is sent, nothing is
 * counted and the window is not extended).  After the answer the
 * reservation is settled: a wrong password (HB_DENIED) keeps it (it is
 * the failure counted); any other answer - 207, a disabled account, 429,
 * an outage - releases it (the count goes down by one, if the window it
 * was taken in still runs).  A login that dies between the two (killed,
 * crashed) leaves its reservation counted until the window ends.  So the
 * bound holds across threads, processes and hosts sharing the store: at
 * most guard_failures requests from one address can be in flight or have
 * failed within a window.  The window starts with the first reservation.
 * No IP, an address in guard_exempt, guard_failures=0 or a store error:
 * no guard (a store error never refuses a login).
 *
 * Record: key 'g' + HMAC-SHA-256(secret_file, "pam_httpbasic guard " +
 * ADDRESS) with ADDRESS the IPv4 address, the IPv6 address (prefix 128)
 * or "NETWORK/N" (the IP is never stored in clear); value 12 bytes:
 * window start (wall clock, milliseconds since the epoch, 8 bytes
 * little-endian) and count (4 bytes LE); TTL the rest of the window,
 * rounded up to a second.  Hosts sharing a store must have synchronised
 * clocks.
 */
#ifndef HB_GUARD_H
#define HB_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mac.h"
#include "options.h"
#include "store.h"

#define HB_GUARD_KEY_LEN 33          /* 'g' + HMAC-SHA-256 */

/* A reservation taken by hb_guard_reserve, settled by hb_guard_settle. */
struct hb_guard_ticket {
    bool held;                       /* a reservation is counted */
    int64_t start;                   /* of the window it was counted in */
    uint8_t key[HB_GUARD_KEY_LEN];
};

enum hb_guard_result {
    HB_GUARD_GO = 0,                 /* reserved (ticket held), or no guard applies */
    HB_GUARD_REFUSED = 1,            /* too many: send nothing */
    HB_GUARD_ERROR = -1,             /* store or secret failed (err): go on without the guard */
};

/* True when the guard is on and ip is an address it watches (not "", not exempt). */
bool hb_guard_applies(const struct hb_config *cfg, const char *ip);

/*
 * The store key of ip's record (for a caller reading several keys at once);
 * 0 or -1 with err set.  mac: HMAC keyed with secret_file when the caller
 * has one (the login's cache), or NULL to read the file.
 */
int hb_guard_key(const struct hb_config *cfg, const char *ip, const struct hb_mac *mac,
                 uint8_t key[HB_GUARD_KEY_LEN], char *err, size_t errlen);

/* True when a record value read at key hb_guard_key refuses its address now. */
bool hb_guard_value_refuses(const struct hb_config *cfg, const uint8_t *value, size_t len);

/*
 * Before a request: reserve one attempt for ip (see above).  ticket is
 * always initialised; hb_guard_settle it after the answer.  mac as for
 * hb_guard_key.
 */
enum hb_guard_result hb_guard_reserve(const struct hb_config *cfg, struct hb_store *store, const char *ip,
                                      const struct hb_mac *mac, struct hb_guard_ticket *ticket,
                                      char *err, size_t errlen);

/*
 * After the answer: keep the reservation when it was a wrong password
 * (failed), else release it.  Nothing to do without a held ticket.  0, or
 * -1 with a reason in err.
 */
int hb_guard_settle(const struct hb_config *cfg, struct hb_store *store, struct hb_guard_ticket *ticket,
                    bool failed, char *err, size_t errlen);

#endif
