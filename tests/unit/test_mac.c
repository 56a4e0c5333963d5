/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of mac.c: the module's HMAC-SHA-256 (keyed once, computed
 * from copies of the padded-key states) is HMAC-SHA-256 bit for bit.
 * RFC 4231's test cases 1-4, 6 and 7 (6 and 7: a key longer than a block),
 * then random keys of 1..200 bytes and random messages cut into random
 * parts, each against OpenSSL's EVP_MAC "HMAC".  And the guard's key of
 * an address is the same whether it is made from the login's keyed MAC
 * (decide.c on a login with a cache) or from the secret file (everything
 * else, ctl included).  Known answers made by the code before mac.c
 * (d18209e: OpenSSL's EVP_MAC and HMAC()) for a fixed secret: the cache's
 * scope and keys, a stored password verifier and the guard's keys, so a
 * store written before this file stays valid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <unistd.h>

#include "cache.h"
#include "cache_record.h"
#include "guard.h"
#include "mac.h"

static void from_hex(const char *hex, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t) v;
    }
}

/* HMAC-SHA-256 by OpenSSL's EVP_MAC, the reference. */
static void reference(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen, uint8_t out[32])
{
    size_t outlen = 0;

    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, msg, msglen, out, 32, &outlen));
    assert_int_equal(outlen, 32);
}

static void check(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen, const char *expect_hex)
{
    struct hb_mac m;
    struct hb_mac_part part = {msg, msglen};
    uint8_t out[HB_MAC_LEN], expect[HB_MAC_LEN], once[HB_MAC_LEN];

    from_hex(expect_hex, expect, sizeof(expect));
    assert_int_equal(hb_mac_key(&m, key, keylen), 0);
    assert_int_equal(hb_mac_compute(&m, &part, 1, out), 0);
    assert_memory_equal(out, expect, HB_MAC_LEN);
    /* The same keyed state gives the same MAC again (compute does not consume it). */
    assert_int_equal(hb_mac_compute(&m, &part, 1, out), 0);
    assert_memory_equal(out, expect, HB_MAC_LEN);
    hb_mac_free(&m);
    assert_int_equal(hb_mac_once(key, keylen, &part, 1, once), 0);
    assert_memory_equal(once, expect, HB_MAC_LEN);
    reference(key, keylen, msg, msglen, out);
    assert_memory_equal(out, expect, HB_MAC_LEN);
}

static void test_rfc4231(void **state)
{
    uint8_t key[131], msg[152];
    (void) state;

    memset(key, 0x0b, 20);
    check(key, 20, (const uint8_t *) "Hi There", 8,
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    check((const uint8_t *) "Jefe", 4, (const uint8_t *) "what do ya want for nothing?", 28,
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, 20);
    memset(msg, 0xdd, 50);
    check(key, 20, msg, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (int i = 0; i < 25; i++)
        key[i] = (uint8_t) (i + 1);
    memset(msg, 0xcd, 50);
    check(key, 25, msg, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(key, 0xaa, 131);
    check(key, 131, (const uint8_t *) "Test Using Larger Than Block-Size Key - Hash Key First", 54,
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    check(key, 131,
          (const uint8_t *) "This is a test using a larger than block-size key and a larger than block-size data."
                            " The key needs to be hashed before being used by the HMAC algorithm.", 152,
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* Random keys (1..200 bytes, across the block size) and messages cut into random parts, some empty. */
static void test_random_against_openssl(void **state)
{
    uint8_t key[200], msg[600], out[HB_MAC_LEN], ref[HB_MAC_LEN];
    (void) state;

    for (int round = 0; round < 2000; round++) {
        size_t keylen = 1 + (size_t) (rand() % 200), msglen = (size_t) (rand() % 600), at = 0, n = 0;
        struct hb_mac_part parts[8];
        struct hb_mac m;

        assert_int_equal(RAND_bytes(key, (int) keylen), 1);
        assert_int_equal(RAND_bytes(msg, (int) sizeof(msg)), 1);
        while (n < 7 && at < msglen) {
            size_t len = (size_t) rand() % (msglen - at + 1);
            parts[n++] = (struct hb_mac_part) {msg + at, len};
            at += len;
        }
        parts[n++] = (struct hb_mac_part) {msg + at, msglen - at};
        assert_int_equal(hb_mac_key(&m, key, keylen), 0);
        assert_int_equal(hb_mac_compute(&m, parts, n, out), 0);
        hb_mac_free(&m);
        reference(key, keylen, msg, msglen, ref);
        assert_memory_equal(out, ref, HB_MAC_LEN);
    }
}

/* Not keyed (never, an empty key, or freed): every compute fails; free clears the states. */
static void test_unkeyed_fails_and_free_clears(void **state)
{
    static const uint8_t zero[sizeof(struct hb_mac)];
    struct hb_mac m;
    struct hb_mac_part part = {"x", 1};
    uint8_t out[HB_MAC_LEN];
    (void) state;

    memset(&m, 0, sizeof(m));
    assert_int_equal(hb_mac_compute(&m, &part, 1, out), -1);
    assert_int_equal(hb_mac_key(&m, (const uint8_t *) "", 0), -1);
    assert_int_equal(hb_mac_compute(&m, &part, 1, out), -1);
    assert_int_equal(hb_mac_key(&m, NULL, 5), -1);
    assert_int_equal(hb_mac_once((const uint8_t *) "", 0, &part, 1, out), -1);
    assert_int_equal(hb_mac_key(&m, (const uint8_t *) "secret", 6), 0);
    assert_memory_not_equal(&m, zero, sizeof(m));
    hb_mac_free(&m);
    assert_memory_equal(&m, zero, sizeof(m));
    assert_int_equal(hb_mac_compute(&m, &part, 1, out), -1);
    hb_mac_free(&m);             /* idempotent */
}

static void test_guard_key_same_either_way(void **state)
{
    static const char *const ips[] = {"192.0.2.7", "2001:db8:1:2::1", "2001:db8:1:2::99", "2001:db8:1:3::1"};
    char path[] = "/tmp/test_mac.XXXXXX", err[256];
    unsigned char secret[48];
    uint8_t from_file[HB_GUARD_KEY_LEN], from_mac[HB_GUARD_KEY_LEN], other[HB_GUARD_KEY_LEN];
    struct hb_config cfg;
    struct hb_mac m, wrong;
    int fd = mkstemp(path);
    (void) state;

    assert_true(fd >= 0);
    assert_int_equal(RAND_bytes(secret, sizeof(secret)), 1);
    assert_int_equal(write(fd, secret, sizeof(secret)), (ssize_t) sizeof(secret));
    close(fd);
    memset(&cfg, 0, sizeof(cfg));
    cfg.secret_file = path;
    cfg.guard_failures = 3;
    cfg.guard_ipv6_prefix = 64;
    assert_int_equal(hb_mac_key(&m, secret, sizeof(secret)), 0);
    secret[0] ^= 1;
    assert_int_equal(hb_mac_key(&wrong, secret, sizeof(secret)), 0);
    for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
        assert_int_equal(hb_guard_key(&cfg, ips[i], NULL, from_file, err, sizeof(err)), 0);
        assert_int_equal(hb_guard_key(&cfg, ips[i], &m, from_mac, err, sizeof(err)), 0);
        assert_memory_equal(from_file, from_mac, HB_GUARD_KEY_LEN);
        assert_int_equal(hb_guard_key(&cfg, ips[i], &wrong, other, err, sizeof(err)), 0);
        assert_memory_not_equal(from_file, other, HB_GUARD_KEY_LEN);
    }
    /* One IPv6 /64, one key, made either way. */
    assert_int_equal(hb_guard_key(&cfg, ips[1], &m, from_mac, err, sizeof(err)), 0);
    assert_int_equal(hb_guard_key(&cfg, ips[2], NULL, from_file, err, sizeof(err)), 0);
    assert_memory_equal(from_file, from_mac, HB_GUARD_KEY_LEN);
    hb_mac_free(&m);
    hb_mac_free(&wrong);
    unlink(path);
}

/* Keys of 64 (one block) and 65 bytes, an empty message, no parts at all. */
static void test_edges_against_openssl(void **state)
{
    uint8_t key[200], out[HB_MAC_LEN], ref[HB_MAC_LEN];
    static const size_t lens[] = {1, 63, 64, 65, 128, 200};
    struct hb_mac_part empty = {"", 0};
    (void) state;

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct hb_mac m;

        assert_int_equal(RAND_bytes(key, (int) lens[i]), 1);
        reference(key, lens[i], (const uint8_t *) "", 0, ref);
        assert_int_equal(hb_mac_key(&m, key, lens[i]), 0);
        assert_int_equal(hb_mac_compute(&m, NULL, 0, out), 0);
        assert_memory_equal(out, ref, HB_MAC_LEN);
        assert_int_equal(hb_mac_compute(&m, &empty, 1, out), 0);
        assert_memory_equal(out, ref, HB_MAC_LEN);
        reference(key, lens[i], (const uint8_t *) "abc", 3, ref);
        assert_int_equal(hb_mac_once(key, lens[i], &(struct hb_mac_part) {"abc", 3}, 1, out), 0);
        assert_memory_equal(out, ref, HB_MAC_LEN);
        hb_mac_free(&m);
    }
}

static void assert_hex(const uint8_t *bytes, size_t len, const char *hex)
{
    uint8_t want[64];

    assert_int_equal(strlen(hex), 2 * len);
    from_hex(hex, want, len);
    assert_memory_equal(bytes, want, len);
}

static void test_known_answers_of_d18209e(void **state)
{
    char path[] = "/tmp/test_mac_kat.XXXXXX", err[256];
    static char url[] = "https://cloud.example.org/remote.php/dav/", store[] = "lmdb:/nonexistent";
    static const char secret[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
    struct hb_config cfg;
    struct hb_cache c;
    struct entry e;
    uint8_t g[HB_GUARD_KEY_LEN];
    int fd = mkstemp(path);
    (void) state;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, secret, sizeof(secret) - 1), (ssize_t) sizeof(secret) - 1);
    close(fd);
    memset(&cfg, 0, sizeof(cfg));
    cfg.servers[0].url = url;
    cfg.server_count = 1;
    cfg.ok_status[0] = 207;
    cfg.ok_status_count = 1;
    cfg.deny_status[0] = 401;
    cfg.deny_status_count = 1;
    cfg.store = store;
    cfg.secret_file = path;
    cfg.guard_failures = 5;
    cfg.guard_ipv6_prefix = 64;
    assert_int_equal(hb_cache_init(&c, &cfg, "alice@example.org", err, sizeof(err)), 0);
    assert_hex(c.scope, sizeof(c.scope), "98dc52049210deacd5f7d180fea9bda634b0ea1f3f3374763898b95768036f49");
    assert_hex(c.key, sizeof(c.key), "7598dc52049210deac52431f0f5e7e913f9fb9b642c9f4b0ef73e33a4a20dbd929847965913a5a90d5");
    assert_hex(c.name_account, sizeof(c.name_account),
               "6198dc52049210deac7da089a0b64c4ff1fcdde809b0e2b8f8e5e70cd7ee5c3449de951943e7d491d8");
    /* A verifier d18209e stored for App-Pass-1 (salt, MAC) still matches, and only it. */
    from_hex("2650ece5536317ec5ee85e0cbac0c7f8", e.salt, sizeof(e.salt));
    from_hex("1712c379f564af0ad9a468bec3a71efc5bdf3a635aab69f272f29b62cc9e71fc", e.mac, sizeof(e.mac));
    e.at = 1700000000;
    assert_true(cr_entry_matches(&c, &e, "App-Pass-1"));
    assert_false(cr_entry_matches(&c, &e, "App-Pass-2"));
    /* The guard's keys, from the file and from the login's MAC. */
    assert_int_equal(hb_guard_key(&cfg, "2001:db8:1:2::7", NULL, g, err, sizeof(err)), 0);
    assert_hex(g, sizeof(g), "67cf4cd87a0674372ddea8574c7f9dfdab01188f1d20d1e5a3fc2eb34996580383");
    assert_int_equal(hb_guard_key(&cfg, "192.0.2.7", &c.mac, g, err, sizeof(err)), 0);
    assert_hex(g, sizeof(g), "67c94988cae8c2930a3539706d62ec694c1e1f37ff2e7ae905952cd448f02d7af0");
    hb_cache_wipe(&c);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231),
        cmocka_unit_test(test_random_against_openssl),
        cmocka_unit_test(test_unkeyed_fails_and_free_clears),
        cmocka_unit_test(test_guard_key_same_either_way),
        cmocka_unit_test(test_edges_against_openssl),
        cmocka_unit_test(test_known_answers_of_d18209e),
    };

    srand(4231);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
