/* SPDX-License-Identifier: BSD-3-Clause */
/* mac.c - HMAC-SHA-256 keyed once per login (see mac.h for why not EVP_MAC). */

/* SHA256_Init/Update/Final: deprecated in OpenSSL 3, still the allocation-free block function. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "mac.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#define BLOCK 64                 /* SHA-256 block size */

_Static_assert(2 * sizeof(SHA256_CTX) <= sizeof(((struct hb_mac *) 0)->state), "hb_mac holds two SHA-256 states");

static void states_of(const struct hb_mac *m, SHA256_CTX *inner, SHA256_CTX *outer)
{
    memcpy(inner, m->state, sizeof(*inner));
    memcpy(outer, (const unsigned char *) m->state + sizeof(*inner), sizeof(*outer));
}

int hb_mac_key(struct hb_mac *m, const unsigned char *secret, size_t len)
{
    unsigned char key[BLOCK] = {0}, pad[BLOCK];
    SHA256_CTX inner, outer;
    int ok;

    memset(m, 0, sizeof(*m));
    if (secret == NULL || len == 0)
        return -1;
    if (len > BLOCK) {           /* RFC 2104: a long key is hashed first */
        ok = SHA256_Init(&inner) && SHA256_Update(&inner, secret, len) && SHA256_Final(key, &inner);
    } else {
        memcpy(key, secret, len);
        ok = 1;
    }
    for (size_t i = 0; i < BLOCK; i++)
        pad[i] = key[i] ^ 0x36;
    ok = ok && SHA256_Init(&inner) && SHA256_Update(&inner, pad, BLOCK);
    for (size_t i = 0; i < BLOCK; i++)
        pad[i] = key[i] ^ 0x5c;
    ok = ok && SHA256_Init(&outer) && SHA256_Update(&outer, pad, BLOCK);
    if (ok) {
        memcpy(m->state, &inner, sizeof(inner));
        memcpy((unsigned char *) m->state + sizeof(inner), &outer, sizeof(outer));
        m->keyed = 1;
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(&inner, sizeof(inner));
    OPENSSL_cleanse(&outer, sizeof(outer));
    return ok ? 0 : -1;
}

int hb_mac_compute(const struct hb_mac *m, const struct hb_mac_part *parts, size_t n, uint8_t out[HB_MAC_LEN])
{
    SHA256_CTX inner, outer;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    int ok = m->keyed;

    if (!ok)
        return -1;
    states_of(m, &inner, &outer);
    for (size_t i = 0; ok && i < n; i++)
        ok = parts[i].len == 0 || SHA256_Update(&inner, parts[i].data, parts[i].len);
    ok = ok && SHA256_Final(digest, &inner) && SHA256_Update(&outer, digest, sizeof(digest))
         && SHA256_Final(out, &outer);
    OPENSSL_cleanse(&inner, sizeof(inner));
    OPENSSL_cleanse(&outer, sizeof(outer));
    OPENSSL_cleanse(digest, sizeof(digest));
    return ok ? 0 : -1;
}

int hb_mac_once(const unsigned char *secret, size_t len, const struct hb_mac_part *parts, size_t n,
                uint8_t out[HB_MAC_LEN])
{
    struct hb_mac m;
    int rc = hb_mac_key(&m, secret, len) == 0 ? hb_mac_compute(&m, parts, n, out) : -1;

    hb_mac_free(&m);
    return rc;
}

void hb_mac_free(struct hb_mac *m)
{
    OPENSSL_cleanse(m, sizeof(*m));
}
