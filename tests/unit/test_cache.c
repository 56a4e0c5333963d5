/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for cache.c (and the store side of health.c) on a real LMDB
 * store in a temporary directory.  Time is passed as "now": no sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cache.h"
#include "health.h"
#include "store.h"

#define T0 1700000000LL

static char tmpdir[] = "/tmp/test_cache.XXXXXX";
static char store_name[128], secret_path[128], short_secret_path[128];
static char url_a[] = "https://cloud.example.org/remote.php/dav/";
static char url_b[] = "https://cloud2.example.org/remote.php/dav/";
static char url_stats[] = "https://stats.example.org/remote.php/dav/";
static const char secret_text[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";

/* A config for the store with the given servers (NULL-terminated list). */
static void make_config(struct hb_config *cfg, char *const *urls)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; urls[i] != NULL; i++)
        cfg->servers[cfg->server_count++].url = urls[i];
    cfg->store = store_name;
    cfg->secret_file = secret_path;
    cfg->store_timeout_ms = 2000;
    cfg->cache_fresh = 60;
    cfg->cache_stale = 3600;
    cfg->cache_per_user = 8;
    cfg->server_retry_after = 30;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
}

static int setup_all(void **state)
{
    (void) state;
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    chmod(tmpdir, 0700);
    snprintf(store_name, sizeof(store_name), "lmdb:%s", tmpdir);
    snprintf(secret_path, sizeof(secret_path), "%s.secret", tmpdir);
    snprintf(short_secret_path, sizeof(short_secret_path), "%s.short", tmpdir);
    write_file(secret_path, secret_text);
    write_file(short_secret_path, "too short\n");
    return 0;
}

static int teardown_all(void **state)
{
    char cmd[512];

    (void) state;
    unlink(secret_path);
    unlink(short_secret_path);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* One login's cache and store for user under cfg. */
struct fixture {
    struct hb_config cfg;
    struct hb_cache cache;
    struct hb_store *store;
    char err[HB_ERROR_LEN];
};

static struct hb_store *held_store;   /* released by teardown when a test fails */

static void open_fixture(struct fixture *f, char *const *urls, const char *user)
{
    make_config(&f->cfg, urls);
    assert_int_equal(hb_cache_init(&f->cache, &f->cfg, user, f->err, sizeof(f->err)), 0);
    f->store = hb_store_acquire(&f->cfg, f->err, sizeof(f->err));
    held_store = f->store;
    if (f->store == NULL)
        fail_msg("store: %s", f->err);
}

static void close_fixture(struct fixture *f)
{
    hb_store_release(f->store);
    hb_cache_wipe(&f->cache);
    held_store = NULL;
}

/* After each test: release what a failed test left acquired. */
static int release_left(void **state)
{
    (void) state;
    hb_store_release(held_store);
    held_store = NULL;
    return 0;
}

/* Lookup result: the age, or -1 for no match (an error fails the test). */
static int64_t age_of(struct fixture *f, const char *password, int64_t now)
{
    int64_t age = -1;
    int rc = hb_cache_lookup(&f->cache, f->store, password, now, &age, f->err, sizeof(f->err));

    if (rc == HB_STORE_ERROR)
        fail_msg("lookup: %s", f->err);
    return rc == HB_STORE_OK ? age : -1;
}

static void remember(struct fixture *f, const char *password, int64_t now)
{
    assert_int_equal(hb_cache_remember(&f->cache, f->store, password, now, now, NULL, NULL, f->err, sizeof(f->err)),
                     HB_STORE_OK);
}

static char *const one_server[] = {url_a, NULL};

static void test_add_and_match(void **state)
{
    struct fixture f;

    (void) state;
    open_fixture(&f, one_server, "add-user");
    assert_int_equal(age_of(&f, "app-pass-1", T0), -1);          /* no entry */
    remember(&f, "app-pass-1", T0);
    assert_int_equal(age_of(&f, "app-pass-1", T0 + 5), 5);
    assert_int_equal(age_of(&f, "app-pass-2", T0 + 5), -1);      /* wrong password */
    assert_int_equal(age_of(&f, "app-pass-", T0 + 5), -1);       /* prefix */
    assert_int_equal(age_of(&f, "app-pass-11", T0 + 5), -1);     /* longer */
    assert_int_equal(age_of(&f, "", T0 + 5), -1);
    assert_int_equal(age_of(&f, "app-pass-1", T0 - 10), -1);     /* verified "in the future" */
    remember(&f, "app-pass-1", T0 + 20);                        /* refresh */
    assert_int_equal(age_of(&f, "app-pass-1", T0 + 21), 1);
    close_fixture(&f);
}

static void test_no_entry_for_other_user(void **state)
{
    struct fixture f, g;

    (void) state;
    open_fixture(&f, one_server, "owner");
    remember(&f, "shared-pass", T0);
    close_fixture(&f);
    open_fixture(&g, one_server, "stranger");
    assert_int_equal(age_of(&g, "shared-pass", T0 + 1), -1);
    close_fixture(&g);
}

static void test_evict_least_recently_verified(void **state)
{
    struct fixture f;

    (void) state;
    open_fixture(&f, one_server, "evict-user");
    f.cfg.cache_per_user = 3;
    remember(&f, "p1", T0);
    remember(&f, "p2", T0 + 1);
    remember(&f, "p3", T0 + 2);
    remember(&f, "p4", T0 + 3);                                  /* p1 goes */
    assert_int_equal(age_of(&f, "p1", T0 + 4), -1);
    assert_int_equal(age_of(&f, "p2", T0 + 4), 3);
    assert_int_equal(age_of(&f, "p4", T0 + 4), 1);
    remember(&f, "p2", T0 + 5);                                  /* p2 verified again */
    remember(&f, "p5", T0 + 6);                                  /* now p3 is the oldest */
    assert_int_equal(age_of(&f, "p3", T0 + 7), -1);
    assert_int_equal(age_of(&f, "p2", T0 + 7), 2);
    assert_int_equal(age_of(&f, "p4", T0 + 7), 4);
    assert_int_equal(age_of(&f, "p5", T0 + 7), 1);
    close_fixture(&f);
}

static void test_windows(void **state)
{
    struct hb_config cfg;

    (void) state;
    make_config(&cfg, one_server);
    cfg.cache_fresh = 60;
    cfg.cache_stale = 3600;
    assert_int_equal(hb_cache_window(&cfg), 3600);
    assert_true(hb_cache_is_fresh(&cfg, 0));
    assert_true(hb_cache_is_fresh(&cfg, 59));
    assert_false(hb_cache_is_fresh(&cfg, 60));
    assert_false(hb_cache_is_fresh(&cfg, -1));
    assert_true(hb_cache_is_stale_ok(&cfg, 3599));
    assert_false(hb_cache_is_stale_ok(&cfg, 3600));
    assert_false(hb_cache_is_stale_ok(&cfg, -1));
    cfg.cache_fresh = 0;
    cfg.cache_stale = 0;
    assert_int_equal(hb_cache_window(&cfg), 0);
    assert_false(hb_cache_is_fresh(&cfg, 0));
    assert_false(hb_cache_is_stale_ok(&cfg, 0));
    cfg.cache_fresh = 300;
    cfg.cache_stale = 0;
    assert_int_equal(hb_cache_window(&cfg), 300);
    assert_false(hb_cache_is_stale_ok(&cfg, 1));
}

static void test_expired_verifiers_are_dropped(void **state)
{
    struct fixture f;

    (void) state;
    open_fixture(&f, one_server, "expiry-user");
    f.cfg.cache_fresh = 10;
    f.cfg.cache_stale = 100;
    remember(&f, "old", T0);
    assert_int_equal(age_of(&f, "old", T0 + 99), 99);
    remember(&f, "new", T0 + 100);                               /* "old" is 100 s old: dropped */
    f.cfg.cache_stale = 1000;                                    /* even with a longer window now */
    assert_int_equal(age_of(&f, "old", T0 + 101), -1);
    assert_int_equal(age_of(&f, "new", T0 + 101), 1);
    close_fixture(&f);
}

static void test_revoke_drops_one(void **state)
{
    struct fixture f;

    (void) state;
    open_fixture(&f, one_server, "revoke-user");
    remember(&f, "phone", T0);
    remember(&f, "laptop", T0 + 1);
    assert_int_equal(hb_cache_revoke(&f.cache, f.store, "phone", T0 + 2, f.err, sizeof(f.err)), HB_STORE_OK);
    assert_int_equal(age_of(&f, "phone", T0 + 3), -1);
    assert_int_equal(age_of(&f, "laptop", T0 + 3), 2);
    /* Revoking a password that is not there changes nothing. */
    assert_int_equal(hb_cache_revoke(&f.cache, f.store, "other", T0 + 3, f.err, sizeof(f.err)), HB_STORE_OK);
    assert_int_equal(age_of(&f, "laptop", T0 + 4), 3);
    /* The last one: the record goes. */
    assert_int_equal(hb_cache_revoke(&f.cache, f.store, "laptop", T0 + 4, f.err, sizeof(f.err)), HB_STORE_OK);
    assert_int_equal(age_of(&f, "laptop", T0 + 5), -1);
    close_fixture(&f);
}

static void test_disabled_drops_all(void **state)
{
    struct fixture f;

    (void) state;
    open_fixture(&f, one_server, "disabled-user");
    remember(&f, "phone", T0);
    remember(&f, "laptop", T0 + 1);
    assert_int_equal(hb_cache_drop_user(&f.cache, f.store, T0 + 2, f.err, sizeof(f.err)), HB_STORE_OK);
    assert_int_equal(age_of(&f, "phone", T0 + 2), -1);
    assert_int_equal(age_of(&f, "laptop", T0 + 2), -1);
    assert_int_equal(hb_cache_drop_user(&f.cache, f.store, T0 + 2, f.err, sizeof(f.err)), HB_STORE_OK);
    close_fixture(&f);
}

static void test_key_derivation(void **state)
{
    static char *const list_a[] = {url_a, NULL}, *const list_ab[] = {url_a, url_b, NULL};
    static char *const list_ba[] = {url_b, url_a, NULL};
    struct hb_config cfg_a, cfg_ab, cfg_ba;
    struct hb_cache a1, a1_again, a2, ab1, ba1;
    char err[HB_ERROR_LEN];

    (void) state;
    make_config(&cfg_a, list_a);
    make_config(&cfg_ab, list_ab);
    make_config(&cfg_ba, list_ba);
    assert_int_equal(hb_cache_init(&a1, &cfg_a, "alice", err, sizeof(err)), 0);
    assert_int_equal(hb_cache_init(&a1_again, &cfg_a, "alice", err, sizeof(err)), 0);
    assert_int_equal(hb_cache_init(&a2, &cfg_a, "alicf", err, sizeof(err)), 0);
    assert_int_equal(hb_cache_init(&ab1, &cfg_ab, "alice", err, sizeof(err)), 0);
    assert_int_equal(hb_cache_init(&ba1, &cfg_ba, "alice", err, sizeof(err)), 0);
    assert_int_equal(a1.key[0], 'u');
    assert_memory_equal(a1.key, a1_again.key, HB_CACHE_KEY_LEN);
    assert_memory_not_equal(a1.key, a2.key, HB_CACHE_KEY_LEN);      /* per user */
    assert_memory_equal(a1.key, a2.key, 1 + HB_CACHE_TAG_LEN);      /* same list tag */
    assert_memory_not_equal(a1.key, ab1.key, HB_CACHE_KEY_LEN);     /* per server list */
    assert_memory_not_equal(ab1.key, ba1.key, HB_CACHE_KEY_LEN);    /* order counts */
    assert_memory_not_equal(a1.key + 1, ab1.key + 1, HB_CACHE_TAG_LEN);
    hb_cache_wipe(&a1);
    hb_cache_wipe(&a1_again);
    hb_cache_wipe(&a2);
    hb_cache_wipe(&ab1);
    hb_cache_wipe(&ba1);
}

static void test_secret_checks(void **state)
{
    struct hb_config cfg;
    struct hb_cache c;
    char err[HB_ERROR_LEN];

    (void) state;
    make_config(&cfg, one_server);
    cfg.secret_file = short_secret_path;
    assert_int_equal(hb_cache_init(&c, &cfg, "alice", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "fewer than 32 bytes"));
    hb_cache_wipe(&c);
    chmod(secret_path, 0640);
    cfg.secret_file = secret_path;
    assert_int_equal(hb_cache_init(&c, &cfg, "alice", err, sizeof(err)), -1);
    hb_cache_wipe(&c);
    chmod(secret_path, 0600);
}

/* Scan state: how many records, and how many contain one of the words. */
struct needles {
    const char *words[4];
    size_t records;
    size_t found;
};

/* Scan callback (asserts nothing itself: the store is locked meanwhile). */
static int find_needles(const uint8_t *key, size_t keylen, const uint8_t *value, size_t valuelen, void *arg)
{
    struct needles *n = arg;

    n->records++;
    for (size_t i = 0; i < 4; i++)
        if (memmem(key, keylen, n->words[i], strlen(n->words[i])) != NULL
            || memmem(value, valuelen, n->words[i], strlen(n->words[i])) != NULL)
            n->found++;
    return 0;
}

static void test_record_holds_no_secret(void **state)
{
    struct needles n = {{"Secret-App-Pass-9", "zoe-the-user", "0123456789abcdef", "cloud.example"}, 0, 0};
    struct fixture f;
    int rc;

    (void) state;
    open_fixture(&f, one_server, "zoe-the-user");
    remember(&f, "Secret-App-Pass-9", T0);
    rc = hb_store_scan(f.store, (const uint8_t *) "u", 1, find_needles, &n, f.err, sizeof(f.err));
    close_fixture(&f);
    assert_int_equal(rc, HB_STORE_OK);
    assert_true(n.records >= 1);
    assert_int_equal(n.found, 0);
}

/* An update callback that stores the bytes in arg (a string) as they are. */
static enum hb_store_action put_raw(const uint8_t *old, size_t oldlen, uint8_t *out, size_t *outlen,
                                    long *ttl, void *arg)
{
    (void) old;
    (void) oldlen;
    *outlen = strlen(arg);
    memcpy(out, arg, *outlen);
    *ttl = 600;
    return HB_STORE_PUT;
}

static void test_corrupt_record(void **state)
{
    char garbage[] = "\x01\x05not a record";
    struct fixture f;
    int64_t age = -1;

    (void) state;
    open_fixture(&f, one_server, "corrupt-user");
    assert_int_equal(hb_store_update(f.store, f.cache.key, HB_CACHE_KEY_LEN, put_raw, garbage, f.err, sizeof(f.err)),
                     HB_STORE_OK);
    assert_int_equal(hb_cache_lookup(&f.cache, f.store, "anything", T0, &age, f.err, sizeof(f.err)), HB_STORE_ERROR);
    assert_non_null(strstr(f.err, "does not authenticate"));
    remember(&f, "anything", T0);                                 /* overwritten */
    assert_int_equal(age_of(&f, "anything", T0 + 1), 1);
    close_fixture(&f);
}

static int count_users(const struct hb_cache_user_stats *user, void *arg)
{
    size_t *seen = arg;

    assert_true(user->verifiers >= 1);
    assert_true(user->newest_age <= user->oldest_age);
    (*seen)++;
    return 0;
}

static void test_stats_and_forget(void **state)
{
    static char *const stats_list[] = {url_stats, NULL};
    struct hb_cache_totals totals;
    struct fixture f;
    int64_t now = (int64_t) time(NULL);
    struct hb_cache_forgotten what;
    size_t seen = 0;

    (void) state;
    open_fixture(&f, stats_list, "stats-alice");
    remember(&f, "a1", now - 10);
    remember(&f, "a2", now - 5);
    close_fixture(&f);
    open_fixture(&f, stats_list, "stats-bob");
    remember(&f, "b1", now);
    close_fixture(&f);
    assert_int_equal(hb_cache_stats(&f.cfg, count_users, &seen, &totals, f.err, sizeof(f.err)), 0);
    assert_int_equal(totals.users, 2);
    assert_int_equal(totals.verifiers, 3);
    assert_int_equal(totals.corrupt, 0);
    assert_int_equal(seen, 2);
    assert_int_equal(hb_cache_forget(&f.cfg, "stats-alice", &what, f.err, sizeof(f.err)), 0);
    assert_int_equal(what.verifiers, 2);
    assert_int_equal(hb_cache_stats(&f.cfg, NULL, NULL, &totals, f.err, sizeof(f.err)), 0);
    assert_int_equal(totals.users, 1);
    assert_int_equal(totals.verifiers, 1);
    open_fixture(&f, stats_list, "stats-bob");
    assert_true(age_of(&f, "b1", now + 1) >= 0);
    close_fixture(&f);
}

static void test_health_in_store(void **state)
{
    static char *const list[] = {url_b, NULL};
    struct fixture f;

    (void) state;
    open_fixture(&f, list, "health");
    assert_false(hb_health_resting(&f.cfg, f.store, url_b));
    assert_false(hb_health_all_resting(&f.cfg, f.store));
    hb_health_note(&f.cfg, f.store, url_b, false);
    assert_true(hb_health_resting(&f.cfg, f.store, url_b));
    assert_true(hb_health_all_resting(&f.cfg, f.store));
    assert_false(hb_health_resting(&f.cfg, NULL, url_b));          /* the in-process table knows nothing */
    assert_true(hb_health_take_probe(&f.cfg, f.store));            /* one login probes */
    assert_false(hb_health_take_probe(&f.cfg, f.store));           /* the next ones do not */
    assert_false(hb_health_take_probe(&f.cfg, f.store));
    hb_health_note(&f.cfg, f.store, url_b, true);
    assert_false(hb_health_resting(&f.cfg, f.store, url_b));
    assert_true(hb_health_take_probe(&f.cfg, NULL));               /* no store: always */
    close_fixture(&f);
}

/* An update callback that stores arg (struct bytes) as it is. */
struct bytes {
    uint8_t data[HB_STORE_VALUE_MAX];
    size_t len;
    long ttl;
};

static enum hb_store_action put_bytes(const uint8_t *old, size_t oldlen, uint8_t *out, size_t *outlen,
                                      long *ttl, void *arg)
{
    const struct bytes *b = arg;

    (void) old;
    (void) oldlen;
    memcpy(out, b->data, b->len);
    *outlen = b->len;
    *ttl = b->ttl > 0 ? b->ttl : 600;
    return HB_STORE_PUT;
}

/* Read key's raw value into b (the test fails when it is absent). */
static void read_raw(struct fixture *f, const uint8_t *key, struct bytes *b)
{
    assert_int_equal(hb_store_get(f->store, key, HB_CACHE_KEY_LEN, b->data, &b->len, f->err, sizeof(f->err)),
                     HB_STORE_OK);
    b->ttl = 600;
}

static void write_raw(struct fixture *f, const uint8_t *key, size_t keylen, struct bytes *b)
{
    assert_int_equal(hb_store_update(f->store, key, keylen, put_bytes, b, f->err, sizeof(f->err)), HB_STORE_OK);
}

/* Lookup that takes a record failing authentication as "no match". */
static int64_t age_or_absent(struct fixture *f, const char *password, int64_t now)
{
    int64_t age = -1;

    return hb_cache_lookup(&f->cache, f->store, password, now, &age, f->err, sizeof(f->err)) == HB_STORE_OK ? age : -1;
}

/* Attacker 2: mallory copies the record of her own account over alice's key. */
static void test_copied_record_does_not_count(void **state)
{
    struct fixture alice, mallory;
    struct bytes b;

    (void) state;
    open_fixture(&mallory, one_server, "copy-mallory");
    remember(&mallory, "mallory-pass", T0);
    read_raw(&mallory, mallory.cache.key, &b);
    close_fixture(&mallory);
    open_fixture(&alice, one_server, "copy-alice");
    remember(&alice, "alice-pass", T0);
    write_raw(&alice, alice.cache.key, HB_CACHE_KEY_LEN, &b);
    assert_int_equal(age_or_absent(&alice, "mallory-pass", T0 + 1), -1);
    assert_int_equal(age_or_absent(&alice, "alice-pass", T0 + 1), -1);   /* only service is denied */
    close_fixture(&alice);
}

/* Attacker 2: any byte changed (a time, a count, the account flag) voids the record. */
static void test_tampered_record_does_not_count(void **state)
{
    struct fixture f;
    struct bytes b, t;

    (void) state;
    open_fixture(&f, one_server, "tamper-user");
    remember(&f, "tamper-pass", T0);
    read_raw(&f, f.cache.key, &b);
    for (size_t i = 0; i < b.len; i++) {
        t = b;
        t.data[i] ^= 0x01;
        write_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &t);
        if (age_or_absent(&f, "tamper-pass", T0 + 1) != -1)
            fail_msg("byte %zu of %zu flipped: the record still counts", i, b.len);
    }
    t = b;
    t.len -= 1;                                                    /* truncated */
    write_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &t);
    assert_int_equal(age_or_absent(&f, "tamper-pass", T0 + 1), -1);
    write_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &b);               /* the genuine bytes count again */
    assert_int_equal(age_or_absent(&f, "tamper-pass", T0 + 1), 1);
    close_fixture(&f);
}

/* Times on read: a verification in the future or before the window is void; extremes never overflow. */
static void test_times_are_bounded(void **state)
{
    struct fixture f;

    (void) state;
    open_fixture(&f, one_server, "time-user");
    remember(&f, "time-pass", T0);
    assert_int_equal(age_of(&f, "time-pass", T0 - 1), -1);               /* the clock went back */
    assert_int_equal(age_of(&f, "time-pass", T0 + 3599), 3599);
    assert_int_equal(age_of(&f, "time-pass", T0 + 3600), -1);
    assert_int_equal(age_of(&f, "time-pass", INT64_MAX), -1);
    assert_int_equal(age_of(&f, "time-pass", INT64_MIN), -1);
    /* An acceptance stamped after "now" is refused, not stored. */
    assert_int_equal(hb_cache_remember(&f.cache, f.store, "time-pass", T0 + 10, T0, NULL, NULL, f.err, sizeof(f.err)),
                     HB_STORE_ERROR);
    assert_int_equal(hb_cache_revoke(&f.cache, f.store, "time-pass", INT64_MAX, f.err, sizeof(f.err)), HB_STORE_OK);
    close_fixture(&f);
}

/* Defect 4: a 207 whose request was sent before a 401 for the same password is not stored. */
static void test_late_acceptance_after_refusal(void **state)
{
    struct fixture f;
    bool refused = false;

    (void) state;
    open_fixture(&f, one_server, "late-user");
    remember(&f, "old-pass", T0);
    /* A sends old-pass at T0 + 10; the user revokes it; B's 401 arrives at T0 + 11. */
    assert_int_equal(hb_cache_revoke(&f.cache, f.store, "old-pass", T0 + 11, f.err, sizeof(f.err)), HB_STORE_OK);
    /* A's 207 arrives at T0 + 12: it must not bring the password back. */
    assert_int_equal(hb_cache_remember(&f.cache, f.store, "old-pass", T0 + 10, T0 + 12, NULL, &refused,
                                       f.err, sizeof(f.err)), HB_STORE_OK);
    assert_true(refused);
    assert_int_equal(age_of(&f, "old-pass", T0 + 13), -1);
    /* Another password of the same user, sent before the refusal, is stored. */
    assert_int_equal(hb_cache_remember(&f.cache, f.store, "new-pass", T0 + 10, T0 + 12, NULL, &refused,
                                       f.err, sizeof(f.err)), HB_STORE_OK);
    assert_false(refused);
    assert_int_equal(age_of(&f, "new-pass", T0 + 13), 3);
    /* A request for old-pass sent after the refusal that the server accepts: stored again. */
    assert_int_equal(hb_cache_remember(&f.cache, f.store, "old-pass", T0 + 12, T0 + 13, NULL, &refused,
                                       f.err, sizeof(f.err)), HB_STORE_OK);
    assert_false(refused);
    assert_int_equal(age_of(&f, "old-pass", T0 + 14), 2);
    close_fixture(&f);
}

/* More refusals than kept: the oldest becomes a floor, so no late acceptance slips through. */
static void test_refusal_overflow_keeps_order(void **state)
{
    struct fixture f;
    char pw[32];
    bool refused = false;

    (void) state;
    open_fixture(&f, one_server, "overflow-user");
    assert_int_equal(hb_cache_revoke(&f.cache, f.store, "victim-pass", T0 + 1, f.err, sizeof(f.err)), HB_STORE_OK);
    for (int i = 0; i < 3 * HB_CACHE_MAX_REFUSALS; i++) {       /* an attacker's wrong passwords */
        snprintf(pw, sizeof(pw), "guess-%d", i);
        assert_int_equal(hb_cache_revoke(&f.cache, f.store, pw, T0 + 2, f.err, sizeof(f.err)), HB_STORE_OK);
    }
    assert_int_equal(hb_cache_remember(&f.cache, f.store, "victim-pass", T0, T0 + 3, NULL, &refused,
                                       f.err, sizeof(f.err)), HB_STORE_OK);
    assert_true(refused);
    assert_int_equal(age_of(&f, "victim-pass", T0 + 4), -1);
    close_fixture(&f);
}

/* An account is one account: a disabled answer or a forget under one name covers every name. */
static void test_account_aliases(void **state)
{
    struct fixture uid, mail, upper;
    struct hb_cache_forgotten what;
    int64_t now = (int64_t) time(NULL);
    bool refused = false;

    (void) state;
    open_fixture(&uid, one_server, "acct-alice");
    assert_int_equal(hb_cache_remember(&uid.cache, uid.store, "app-1", now - 30, now - 30, "acct-alice", NULL,
                                       uid.err, sizeof(uid.err)), HB_STORE_OK);
    close_fixture(&uid);
    open_fixture(&mail, one_server, "acct-alice@example.org");
    assert_int_equal(hb_cache_remember(&mail.cache, mail.store, "app-2", now - 20, now - 20, "acct-alice", NULL,
                                       mail.err, sizeof(mail.err)), HB_STORE_OK);
    assert_int_equal(age_of(&mail, "app-2", now - 19), 1);
    /* The e-mail login is disabled (503): the uid's verifiers stop counting too. */
    assert_int_equal(hb_cache_drop_user(&mail.cache, mail.store, now - 10, mail.err, sizeof(mail.err)), HB_STORE_OK);
    assert_int_equal(age_of(&mail, "app-2", now - 9), -1);
    close_fixture(&mail);
    open_fixture(&uid, one_server, "acct-alice");
    assert_int_equal(age_or_absent(&uid, "app-1", now - 9), -1);
    /* Re-enabled: a new acceptance counts again, a late one does not. */
    assert_int_equal(hb_cache_remember(&uid.cache, uid.store, "app-1", now - 12, now - 8, "acct-alice", &refused,
                                       uid.err, sizeof(uid.err)), HB_STORE_OK);
    assert_true(refused);
    assert_int_equal(hb_cache_remember(&uid.cache, uid.store, "app-1", now - 8, now - 8, "acct-alice", &refused,
                                       uid.err, sizeof(uid.err)), HB_STORE_OK);
    assert_false(refused);
    assert_int_equal(age_of(&uid, "app-1", now - 7), 1);
    close_fixture(&uid);
    open_fixture(&upper, one_server, "ACCT-Alice");
    assert_int_equal(hb_cache_remember(&upper.cache, upper.store, "app-3", now - 5, now - 5, "acct-alice", NULL,
                                       upper.err, sizeof(upper.err)), HB_STORE_OK);
    close_fixture(&upper);
    /* The administrator forgets the uid: every name of the account stops counting. */
    assert_int_equal(hb_cache_forget(&upper.cfg, "acct-alice", &what, upper.err, sizeof(upper.err)), 0);
    assert_int_equal(what.verifiers, 1);
    assert_true(what.account_linked);
    assert_int_equal(what.account_names, 3);                      /* acct-alice, its e-mail, ACCT-Alice */
    open_fixture(&upper, one_server, "ACCT-Alice");
    assert_int_equal(age_or_absent(&upper, "app-3", now), -1);
    close_fixture(&upper);
}

/* Attacker 2: deleting the account record of a linked name denies service, never more. */
static void test_account_record_deleted(void **state)
{
    struct fixture f;
    uint8_t akey[HB_CACHE_KEY_LEN];
    char junk[] = "junk";
    struct bytes b;

    (void) state;
    open_fixture(&f, one_server, "del-bob@example.org");
    assert_int_equal(hb_cache_remember(&f.cache, f.store, "bob-pass", T0, T0, "del-bob", NULL, f.err, sizeof(f.err)),
                     HB_STORE_OK);
    assert_int_equal(age_of(&f, "bob-pass", T0 + 1), 1);
    /* The account id sits at bytes 4..35 of the user record (cache.h). */
    read_raw(&f, f.cache.key, &b);
    akey[0] = 'a';
    memcpy(akey + 1, f.cache.key + 1, HB_CACHE_TAG_LEN);
    memcpy(akey + 1 + HB_CACHE_TAG_LEN, b.data + 4, HB_CACHE_MAC_LEN);
    assert_int_equal(hb_store_update(f.store, akey, sizeof(akey), put_raw, junk, f.err, sizeof(f.err)), HB_STORE_OK);
    assert_int_equal(age_or_absent(&f, "bob-pass", T0 + 1), -1);
    close_fixture(&f);
}

/* Settings that change the verdict separate the records; cache_realm keeps them across URL changes. */
static void test_scope(void **state)
{
    static char *const list_b[] = {url_b, NULL}, *const list_ab[] = {url_a, url_b, NULL};
    struct hb_config strict, weak, realm1, realm2, other_status;
    struct hb_cache c1, c2, c3, c4, c5;
    char err[HB_ERROR_LEN], realm[] = "nextcloud-prod", cafile[] = "/etc/ssl/nc.pem";

    (void) state;
    make_config(&strict, one_server);
    make_config(&weak, one_server);
    weak.insecure_skip_verify = true;
    make_config(&other_status, one_server);
    other_status.ok_status[0] = 200;
    other_status.ok_status_count = 1;
    make_config(&realm1, list_b);
    realm1.cache_realm = realm;
    make_config(&realm2, list_ab);
    realm2.cache_realm = realm;
    assert_int_equal(hb_cache_init(&c1, &strict, "alice", err, sizeof(err)), 0);
    assert_int_equal(hb_cache_init(&c2, &weak, "alice", err, sizeof(err)), 0);
    assert_int_equal(hb_cache_init(&c3, &other_status, "alice", err, sizeof(err)), 0);
    assert_int_equal(hb_cache_init(&c4, &realm1, "alice", err, sizeof(err)), 0);
    assert_int_equal(hb_cache_init(&c5, &realm2, "alice", err, sizeof(err)), 0);
    assert_memory_not_equal(c1.key, c2.key, HB_CACHE_KEY_LEN);       /* insecure_skip_verify */
    assert_memory_not_equal(c1.key, c3.key, HB_CACHE_KEY_LEN);       /* ok_status */
    assert_memory_equal(c4.key, c5.key, HB_CACHE_KEY_LEN);           /* a failover URL added, same realm */
    hb_cache_wipe(&c4);
    realm2.cafile = cafile;
    assert_int_equal(hb_cache_init(&c4, &realm2, "alice", err, sizeof(err)), 0);
    assert_memory_not_equal(c4.key, c5.key, HB_CACHE_KEY_LEN);       /* another CA */
    hb_cache_wipe(&c1);
    hb_cache_wipe(&c2);
    hb_cache_wipe(&c3);
    hb_cache_wipe(&c4);
    hb_cache_wipe(&c5);
}

/* Attacker 2 on health: unkeyed, forged or far-future rest records and probe tokens count for nothing. */
static void test_health_records_authenticated(void **state)
{
    static char *const list[] = {url_stats, NULL};
    struct fixture f;
    struct bytes b;
    uint8_t key[33];
    unsigned int len = 0;

    (void) state;
    open_fixture(&f, list, "health-forge");
    /* The old layout: 'h' + SHA-256(url), version 1, "until" 10 years ahead. */
    key[0] = 'h';
    EVP_Digest(url_stats, strlen(url_stats) + 1, key + 1, &len, EVP_sha256(), NULL);
    b.len = 9;
    b.data[0] = 1;
    for (int i = 1; i <= 8; i++)
        b.data[i] = (uint8_t) ((uint64_t) (time(NULL) + 315360000) >> (8 * (i - 1)));
    b.ttl = 600;
    write_raw(&f, key, sizeof(key), &b);
    assert_false(hb_health_resting(&f.cfg, f.store, url_stats));
    /* The same at the key the module uses now (any key an attacker finds): garbage and old layout. */
    hb_health_note(&f.cfg, f.store, url_stats, false);
    assert_true(hb_health_resting(&f.cfg, f.store, url_stats));
    hb_health_note(&f.cfg, f.store, url_stats, true);
    assert_false(hb_health_resting(&f.cfg, f.store, url_stats));
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_add_and_match, release_left),
        cmocka_unit_test_teardown(test_no_entry_for_other_user, release_left),
        cmocka_unit_test_teardown(test_evict_least_recently_verified, release_left),
        cmocka_unit_test_teardown(test_windows, release_left),
        cmocka_unit_test_teardown(test_expired_verifiers_are_dropped, release_left),
        cmocka_unit_test_teardown(test_revoke_drops_one, release_left),
        cmocka_unit_test_teardown(test_disabled_drops_all, release_left),
        cmocka_unit_test_teardown(test_key_derivation, release_left),
        cmocka_unit_test_teardown(test_secret_checks, release_left),
        cmocka_unit_test_teardown(test_record_holds_no_secret, release_left),
        cmocka_unit_test_teardown(test_corrupt_record, release_left),
        cmocka_unit_test_teardown(test_stats_and_forget, release_left),
        cmocka_unit_test_teardown(test_health_in_store, release_left),
        cmocka_unit_test_teardown(test_copied_record_does_not_count, release_left),
        cmocka_unit_test_teardown(test_tampered_record_does_not_count, release_left),
        cmocka_unit_test_teardown(test_times_are_bounded, release_left),
        cmocka_unit_test_teardown(test_late_acceptance_after_refusal, release_left),
        cmocka_unit_test_teardown(test_refusal_overflow_keeps_order, release_left),
        cmocka_unit_test_teardown(test_account_aliases, release_left),
        cmocka_unit_test_teardown(test_account_record_deleted, release_left),
        cmocka_unit_test_teardown(test_scope, release_left),
        cmocka_unit_test_teardown(test_health_records_authenticated, release_left),
    };

    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
