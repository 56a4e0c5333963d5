/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * guard.h - the brute-force guard, on the shared store (any backend).
 *
 * A client address (the canonical IP from hb_rhost_ip) that got
 * guard_failures wrong-password answers (HB_DENIED) within guard_window
 * seconds is refused at once, without a request, until the window that
 * began with its first counted failure has passed; refused attempts are
 * not counted and do not extend it.  Outages and 429s never count.  No
 * IP, an address in guard_exempt, guard_failures=0 or a store error: no
 * guard (a store error never refuses a login).
 *
 * Record: key 'g' + HMAC-SHA-256(secret_file, "pam_httpbasic guard " + IP)
 * (the IP is never stored in clear); value 12 bytes: window start (wall
 * clock, milliseconds since the epoch, 8 bytes little-endian) and count
 * (4 bytes LE); TTL the rest of the window, rounded up to a second.  Hosts
 * sharing a store must have synchronised clocks.
 */
#ifndef HB_GUARD_H
#define HB_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"
#include "store.h"

/* True when the guard is on and ip is an address it watches (not "", not exempt). */
bool hb_guard_applies(const struct hb_config *cfg, const char *ip);

/*
 * True when ip must be refused now.  False when it may go on, and false
 * with a reason in err (non-empty) when the store or the secret failed.
 */
bool hb_guard_blocked(const struct hb_config *cfg, struct hb_store *store, const char *ip,
                      char *err, size_t errlen);

/* Count one wrong password from ip; 0, or -1 with a reason in err. */
int hb_guard_count_failure(const struct hb_config *cfg, struct hb_store *store, const char *ip,
                           char *err, size_t errlen);

#endif
