/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mac.h - HMAC-SHA-256, the one place the module computes keyed MACs
 * (cache keys and records, guard keys, health records).
 *
 * HMAC (RFC 2104) over OpenSSL's SHA-256 block function: hb_mac_key hashes
 * the padded key into an inner and an outer state once per login, and each
 * MAC starts from copies of them.  Why not EVP_MAC: inside a PAM host,
 * where libpam loads and unloads modules around every login, one OpenSSL 3
 * EVP_MAC set-up and four MACs cost ~10 us (provider lookups, allocations,
 * cold caches); these cost ~1.3 us (tests/bench/README.md, section 7).
 * The result is HMAC-SHA-256 bit for bit: tests/unit/test_mac.c checks the
 * RFC 4231 vectors and random inputs against OpenSSL's EVP_MAC, and known
 * answers made before this file (the cache's scope and keys, a stored
 * password verifier, the guard's keys).
 * What this gives up: SHA256_Init/Update/Final are deprecated in OpenSSL 3
 * (still in 3.5, Debian 13's) and bypass the providers, so a FIPS
 * configuration does not govern these MACs (the cache's keys, record MACs
 * and password verifiers, the guard's and health's keys), and an OpenSSL
 * built with no-deprecated would not link the module.
 *
 * Contract: every function is safe to call from several threads at once
 * (a struct hb_mac may be shared read-only between them once keyed); no
 * allocation, nothing printed; a failure returns -1.  The states are as
 * secret as the key: hb_mac_free() clears them, and every copy made while
 * computing is cleared before returning.
 */
#ifndef PAM_HTTPBASIC_MAC_H
#define PAM_HTTPBASIC_MAC_H

#include <stddef.h>
#include <stdint.h>

#define HB_MAC_LEN 32

/* One input of a MAC: the inputs are hashed one after the other. */
struct hb_mac_part {
    const void *data;
    size_t len;
};

/* A keyed HMAC-SHA-256: the inner and outer SHA-256 states (opaque here); keyed false when not keyed. */
struct hb_mac {
    uint64_t state[32];
    int keyed;
};

/* Key m with secret (len > 0); 0 on success, -1 (m not keyed) on failure. */
int hb_mac_key(struct hb_mac *m, const unsigned char *secret, size_t len);

/* out = HMAC(key of m, parts[0] || ... || parts[n-1]); 0 on success, -1 if m is not keyed or OpenSSL fails. */
int hb_mac_compute(const struct hb_mac *m, const struct hb_mac_part *parts, size_t n, uint8_t out[HB_MAC_LEN]);

/* hb_mac_key + hb_mac_compute + hb_mac_free in one call, for a single MAC under secret. */
int hb_mac_once(const unsigned char *secret, size_t len, const struct hb_mac_part *parts, size_t n,
                uint8_t out[HB_MAC_LEN]);

/* Clear m (idempotent); m is all-zero, not keyed, afterwards. */
void hb_mac_free(struct hb_mac *m);

#endif
