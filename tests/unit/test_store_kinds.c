/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for what issue 16 added to the store, on LMDB through the
 * store.h API: hb_store_get_many, the TTL clamp, eviction that spares the
 * protected kinds (verifiers) from a flood of other records, the parents
 * of the store directory, and calls from threads while another thread
 * holds the store acquired.  Each test works in its own mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_lmdb.h"

static char base[64];
static char name[2 * PATH_MAX + 16];
static struct hb_config cfg;
static char err[HB_ERROR_LEN];
static struct hb_store *held;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void) state;
    strcpy(base, "/tmp/hb-kinds-XXXXXX");
    if (mkdtemp(base) == NULL)
        return -1;
    snprintf(name, sizeof(name), "lmdb:%s/s", base);
    memset(&cfg, 0, sizeof(cfg));
    cfg.store = name;
    cfg.store_timeout_ms = 2000;
    return 0;
}

static int teardown(void **state)
{
    (void) state;
    hb_store_release(held);
    held = NULL;
    hb_store_lmdb_set_map_size((size_t) 64 << 20);
    chmod(base, 0700);
    return nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct hb_store *acquire(void)
{
    held = hb_store_acquire(&cfg, err, sizeof(err));
    if (held == NULL)
        fail_msg("hb_store_acquire(%s): %s", cfg.store, err);
    return held;
}

struct put_arg {
    const void *value;
    size_t len;
    long ttl;
};

static enum hb_store_action put_fn(const uint8_t *old, size_t oldlen, uint8_t *out, size_t *outlen,
                                   long *ttl, void *arg)
{
    const struct put_arg *p = arg;

    (void) old, (void) oldlen;
    memcpy(out, p->value, p->len);
    *outlen = p->len;
    *ttl = p->ttl;
    return HB_STORE_PUT;
}

static int put_bytes(struct hb_store *s, const char *key, const void *value, size_t len, long ttl)
{
    struct put_arg p = {value, len, ttl};

    return hb_store_update(s, (const uint8_t *) key, strlen(key), put_fn, &p, err, sizeof(err));
}

/* Every present key, absent key, bad key and the count limit, in one call. */
static void test_get_many(void **state)
{
    struct hb_store *s = acquire();
    static uint8_t values[HB_STORE_MANY_MAX + 1][HB_STORE_VALUE_MAX];
    const uint8_t *keys[HB_STORE_MANY_MAX + 1];
    size_t keylens[HB_STORE_MANY_MAX + 1], lens[HB_STORE_MANY_MAX + 1];
    int rcs[HB_STORE_MANY_MAX + 1];
    char big[HB_STORE_KEY_MAX + 2];

    (void) state;
    assert_int_equal(put_bytes(s, "ua", "alpha", 5, 60), HB_STORE_OK);
    assert_int_equal(put_bytes(s, "gb", "", 0, 60), HB_STORE_OK);
    assert_int_equal(put_bytes(s, "hc", "gone", 4, 60), HB_STORE_OK);
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    keys[0] = (const uint8_t *) "ua", keylens[0] = 2;
    keys[1] = (const uint8_t *) "zz", keylens[1] = 2;
    keys[2] = (const uint8_t *) "gb", keylens[2] = 2;
    keys[3] = (const uint8_t *) big, keylens[3] = strlen(big);
    keys[4] = (const uint8_t *) "hc", keylens[4] = 2;
    assert_int_equal(hb_store_get_many(s, keys, keylens, 5, values, lens, rcs, err, sizeof(err)), HB_STORE_OK);
    assert_int_equal(rcs[0], HB_STORE_OK);
    assert_int_equal(lens[0], 5);
    assert_memory_equal(values[0], "alpha", 5);
    assert_int_equal(rcs[1], HB_STORE_NOT_FOUND);
    assert_int_equal(rcs[2], HB_STORE_OK);
    assert_int_equal(lens[2], 0);
    assert_int_equal(rcs[3], HB_STORE_ERROR);    /* a key too long: that key alone */
    assert_int_equal(rcs[4], HB_STORE_OK);
    assert_memory_equal(values[4], "gone", 4);
    for (int i = 0; i <= HB_STORE_MANY_MAX; i++)
        keys[i] = (const uint8_t *) "ua", keylens[i] = 2;
    assert_int_equal(hb_store_get_many(s, keys, keylens, HB_STORE_MANY_MAX, values, lens, rcs, err, sizeof(err)),
                     HB_STORE_OK);
    assert_int_equal(rcs[HB_STORE_MANY_MAX - 1], HB_STORE_OK);
    assert_int_equal(hb_store_get_many(s, keys, keylens, HB_STORE_MANY_MAX + 1, values, lens, rcs, err, sizeof(err)),
                     HB_STORE_ERROR);
    assert_int_equal(rcs[0], HB_STORE_ERROR);
    assert_int_equal(hb_store_get_many(s, keys, keylens, 0, values, lens, rcs, err, sizeof(err)), HB_STORE_OK);
}

/* A ttl of 100 years (or LONG_MAX) is stored, and expires within HB_STORE_TTL_MAX. */
static void test_ttl_clamp(void **state)
{
    struct hb_store *s = acquire();
    uint8_t value[HB_STORE_VALUE_MAX];
    size_t len = 0;

    (void) state;
    assert_int_equal(put_bytes(s, "uf", "far", 3, 100L * 366 * 86400), HB_STORE_OK);
    assert_int_equal(put_bytes(s, "um", "max", 3, LONG_MAX), HB_STORE_OK);
    assert_int_equal(hb_store_get(s, (const uint8_t *) "uf", 2, value, &len, err, sizeof(err)), HB_STORE_OK);
    assert_int_equal(hb_store_get(s, (const uint8_t *) "um", 2, value, &len, err, sizeof(err)), HB_STORE_OK);
    assert_memory_equal(value, "max", 3);
}

/*
 * A map of 1 MiB holding 300 verifiers ('u', expiring in 10 minutes) is
 * flooded with 30,000 guard records ('g', one per address, expiring in 15
 * minutes: later than the verifiers): every write succeeds and every
 * verifier stays.
 */
static void test_flood_spares_verifiers(void **state)
{
    struct hb_store *s;
    uint8_t payload[100], value[HB_STORE_VALUE_MAX];
    char key[40];
    size_t len;
    int kept = 0;

    (void) state;
    hb_store_lmdb_set_map_size((size_t) 1 << 20);
    s = acquire();
    memset(payload, 'v', sizeof(payload));
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "u%031d", i);
        if (put_bytes(s, key, payload, sizeof(payload), 600) != HB_STORE_OK)
            fail_msg("verifier %d: %s", i, err);
    }
    for (int i = 0; i < 30000; i++) {
        snprintf(key, sizeof(key), "g%031x", (unsigned) i * 2654435761u);
        if (put_bytes(s, key, payload, 12, 900) != HB_STORE_OK)
            fail_msg("guard record %d: %s", i, err);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "u%031d", i);
        kept += hb_store_get(s, (const uint8_t *) key, strlen(key), value, &len, err, sizeof(err)) == HB_STORE_OK;
    }
    assert_int_equal(kept, 300);
    /* The flood did fill the map: its earliest guard records are gone. */
    snprintf(key, sizeof(key), "g%031x", 0u);
    assert_int_equal(hb_store_get(s, (const uint8_t *) key, strlen(key), value, &len, err, sizeof(err)),
                     HB_STORE_NOT_FOUND);
}

/* With nothing but verifiers, a full map still takes writes (they are evicted by earliest expiry then). */
static void test_only_verifiers_still_evicted(void **state)
{
    struct hb_store *s;
    uint8_t payload[200];
    char key[40];

    (void) state;
    hb_store_lmdb_set_map_size((size_t) 1 << 20);
    s = acquire();
    memset(payload, 'v', sizeof(payload));
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "u%031x", (unsigned) i * 2654435761u);
        if (put_bytes(s, key, payload, sizeof(payload), 1000 + i) != HB_STORE_OK)
            fail_msg("verifier %d: %s", i, err);
    }
}

/* A store directory under a parent others can write (not sticky): refused, saying which. */
static void test_untrusted_parent(void **state)
{
    char path[PATH_MAX + 16], parent[PATH_MAX / 2], link[PATH_MAX / 2];

    (void) state;
    snprintf(parent, sizeof(parent), "%s/open", base);
    assert_int_equal(mkdir(parent, 0700), 0);
    assert_int_equal(chmod(parent, 0777), 0);
    snprintf(path, sizeof(path), "%s/store", parent);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(name, sizeof(name), "lmdb:%s", path);
    held = hb_store_acquire(&cfg, err, sizeof(err));
    assert_null(held);
    if (strstr(err, "is writable by group or others") == NULL || strstr(err, "/open") == NULL)
        fail_msg("unexpected reason: %s", err);
    /* Sticky and owned by root (like /tmp): a parent others cannot swap our entries in. */
    assert_int_equal(chmod(parent, 01777), 0);
    held = hb_store_acquire(&cfg, err, sizeof(err));
    if (held == NULL && geteuid() == 0)
        fail_msg("sticky root-owned parent refused: %s", err);
    hb_store_release(held);
    held = NULL;
    /* A symbolic link anywhere on the path: refused (a swap is never followed). */
    snprintf(link, sizeof(link), "%s/via", base);
    assert_int_equal(symlink(parent, link), 0);
    snprintf(name, sizeof(name), "lmdb:%s/store", link);
    held = hb_store_acquire(&cfg, err, sizeof(err));
    assert_null(held);
    if (strstr(err, "is a symbolic link") == NULL)
        fail_msg("unexpected reason: %s", err);
}

struct slow {
    struct hb_store *store;
    int ok;
};

static void *use_store(void *arg)
{
    struct slow *t = arg;
    char why[HB_ERROR_LEN];
    struct put_arg p = {"t", 1, 60};

    t->ok = hb_store_update(t->store, (const uint8_t *) "ut", 2, put_fn, &p, why, sizeof(why)) == HB_STORE_OK;
    return NULL;
}

/* A store acquired by one thread (a login waiting for its server) does not block another's calls. */
static void test_acquired_does_not_block(void **state)
{
    struct hb_store *s = acquire(), *other;
    struct slow t;
    pthread_t tid;
    struct timespec t0, t1;

    (void) state;
    other = hb_store_acquire(&cfg, err, sizeof(err));
    assert_ptr_equal(other, s);
    t.store = other;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(pthread_create(&tid, NULL, use_store, &t), 0);
    pthread_join(tid, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    hb_store_release(other);
    assert_true(t.ok);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < cfg.store_timeout_ms / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_clamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_spares_verifiers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_verifiers_still_evicted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acquired_does_not_block, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
