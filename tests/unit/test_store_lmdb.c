/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for store_lmdb.c, through the store.h API: values and
 * expiry, scan, the directory and file checks, a full map, corrupt files,
 * the writer lock's timeout, writers killed mid-write, fork, close-on-exec
 * and threads.  Each test works in its own mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "store.h"
#include "store_lmdb.h"

static char base[64];                /* this test's temporary directory */
static char dir[128];                /* base/s: the store directory */
static char name[160];               /* "lmdb:" dir */
static struct hb_config cfg;
static char err[HB_ERROR_LEN];

static struct hb_store *held;         /* acquired by this test's main thread */

/* ---- helpers ---- */

/* A store call returned want, or fail with its reason. */
static void expect(int got, int want)
{
    if (got != want)
        fail_msg("store call returned %d, not %d: %s", got, want, err);
}

/* Release the store the main thread holds (also after a failed assertion). */
static void release(void)
{
    hb_store_release(held);
    held = NULL;
}

/* nftw callback: remove one entry (children come first). */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

/* A fresh temporary directory; cfg names the store base/s (not created yet). */
static int setup(void **state)
{
    (void) state;
    strcpy(base, "/tmp/hb-lmdb-XXXXXX");
    if (mkdtemp(base) == NULL)
        return -1;
    snprintf(dir, sizeof(dir), "%s/s", base);
    snprintf(name, sizeof(name), "lmdb:%s", dir);
    memset(&cfg, 0, sizeof(cfg));
    cfg.store = name;
    cfg.store_timeout_ms = 200;
    return 0;
}

/* Release a store left held by a failed assertion, reset the map size, remove the directory. */
static int teardown(void **state)
{
    (void) state;
    release();
    hb_store_lmdb_set_map_size((size_t) 64 << 20);
    return nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* This process's store for cfg, or fail the test with the reason. */
static struct hb_store *acquire(void)
{
    struct hb_store *s = hb_store_acquire(&cfg, err, sizeof(err));

    if (s == NULL)
        fail_msg("hb_store_acquire(%s): %s", cfg.store, err);
    held = s;
    return s;
}

/* Acquire the store named lmdb:path; NULL with err set when refused. */
static struct hb_store *acquire_at(const char *path)
{
    static char other[PATH_MAX + 8];
    struct hb_config c = cfg;

    snprintf(other, sizeof(other), "lmdb:%s", path);
    c.store = other;
    held = hb_store_acquire(&c, err, sizeof(err));
    return held;
}

/* Make this process close the test's environment (by opening another). */
static void switch_away(void)
{
    char other[PATH_MAX];
    struct hb_store *s;

    snprintf(other, sizeof(other), "%s/away", base);
    s = acquire_at(other);
    if (s == NULL)
        fail_msg("%s", err);
    release();
}

struct put_arg {
    const void *value;
    size_t len;
    long ttl;
};

/* Update function: store arg's value with arg's ttl. */
static enum hb_store_action put_fn(const uint8_t *old, size_t oldlen, uint8_t *out, size_t *outlen,
                                   long *ttl, void *arg)
{
    const struct put_arg *p = arg;

    (void) old;
    (void) oldlen;
    memcpy(out, p->value, p->len);
    *outlen = p->len;
    *ttl = p->ttl;
    return HB_STORE_PUT;
}

/* Update function: delete the key. */
static enum hb_store_action delete_fn(const uint8_t *old, size_t oldlen, uint8_t *out, size_t *outlen,
                                      long *ttl, void *arg)
{
    (void) old, (void) oldlen, (void) out, (void) outlen, (void) ttl, (void) arg;
    return HB_STORE_DELETE;
}

struct seen {
    int present;
    size_t len;
    uint8_t value[HB_STORE_VALUE_MAX];
};

/* Update function: note the old value in arg (struct seen), change nothing. */
static enum hb_store_action keep_fn(const uint8_t *old, size_t oldlen, uint8_t *out, size_t *outlen,
                                    long *ttl, void *arg)
{
    struct seen *s = arg;

    (void) out, (void) outlen, (void) ttl;
    s->present = old != NULL;
    s->len = oldlen;
    if (old != NULL)
        memcpy(s->value, old, oldlen);
    return HB_STORE_KEEP;
}

/* Add one to the 8-byte counter (absent: 0). */
static enum hb_store_action count_fn(const uint8_t *old, size_t oldlen, uint8_t *out, size_t *outlen,
                                     long *ttl, void *arg)
{
    uint64_t n = 0;

    (void) arg;
    if (old != NULL && oldlen == sizeof(n))
        memcpy(&n, old, sizeof(n));
    n++;
    memcpy(out, &n, sizeof(n));
    *outlen = sizeof(n);
    *ttl = 3600;
    return HB_STORE_PUT;
}

/* Store len bytes of value under key for ttl seconds. */
static int put_bytes(struct hb_store *s, const char *key, const void *value, size_t len, long ttl)
{
    struct put_arg p = {value, len, ttl};

    return hb_store_update(s, (const uint8_t *) key, strlen(key), put_fn, &p, err, sizeof(err));
}

/* Store the string value under key for ttl seconds. */
static int put(struct hb_store *s, const char *key, const char *value, long ttl)
{
    return put_bytes(s, key, value, strlen(value), ttl);
}

/* Get key as a string into value (HB_STORE_VALUE_MAX + 1 bytes). */
static int get(struct hb_store *s, const char *key, char *value)
{
    size_t len = 0;
    int rc = hb_store_get(s, (const uint8_t *) key, strlen(key), (uint8_t *) value, &len, err, sizeof(err));

    value[rc == HB_STORE_OK ? len : 0] = '\0';
    return rc;
}

/* The counter under key (0 when absent). */
static uint64_t counter(struct hb_store *s, const char *key)
{
    uint64_t n = 0;
    size_t len = 0;
    uint8_t value[HB_STORE_VALUE_MAX];

    if (hb_store_get(s, (const uint8_t *) key, strlen(key), value, &len, err, sizeof(err)) == HB_STORE_OK
        && len == sizeof(n))
        memcpy(&n, value, sizeof(n));
    return n;
}

/* Add one to the counter under key. */
static int count(struct hb_store *s, const char *key)
{
    return hb_store_update(s, (const uint8_t *) key, strlen(key), count_fn, NULL, err, sizeof(err));
}

struct scan_result {
    int calls;
    int stop_after;              /* 0: never stop */
    char keys[512];
};

/* Scan callback: append the key to arg's list; stop after stop_after calls. */
static int scan_fn(const uint8_t *key, size_t keylen, const uint8_t *value, size_t valuelen, void *arg)
{
    struct scan_result *r = arg;
    size_t used = strlen(r->keys);

    (void) value;
    (void) valuelen;
    r->calls++;
    snprintf(r->keys + used, sizeof(r->keys) - used, "%.*s ", (int) keylen, (const char *) key);
    return r->stop_after != 0 && r->calls >= r->stop_after;
}

/* Scan the keys starting with prefix into r. */
static int scan(struct hb_store *s, const char *prefix, struct scan_result *r)
{
    return hb_store_scan(s, (const uint8_t *) prefix, strlen(prefix), scan_fn, r, err, sizeof(err));
}

/* CLOCK_MONOTONIC in milliseconds. */
static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

/* Write len bytes of data to path, with mode (whatever the umask). */
static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t) len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* The uid of "nobody", a user other than us. */
static uid_t nobody(void)
{
    struct passwd *pw = getpwnam("nobody");

    return pw != NULL ? pw->pw_uid : 65534;
}

/* ---- values ---- */

/* Every update action, empty and largest values, bad keys and bad update results. */
static void test_get_put_delete_keep(void **state)
{
    struct hb_store *s = acquire();
    char value[HB_STORE_VALUE_MAX + 1];
    uint8_t big[HB_STORE_VALUE_MAX], zeros[5] = {0};
    struct seen seen = {0};
    size_t len = 0;

    (void) state;
    expect(get(s, "k", value), HB_STORE_NOT_FOUND);
    expect(put(s, "k", "v1", 60), HB_STORE_OK);
    expect(get(s, "k", value), HB_STORE_OK);
    assert_string_equal(value, "v1");
    expect(put(s, "k", "v2", 60), HB_STORE_OK);
    expect(hb_store_update(s, (const uint8_t *) "k", 1, keep_fn, &seen, err, sizeof(err)), HB_STORE_OK);
    assert_true(seen.present);
    assert_memory_equal(seen.value, "v2", 2);
    assert_int_equal(seen.len, 2);
    expect(get(s, "k", value), HB_STORE_OK);
    assert_string_equal(value, "v2");
    expect(hb_store_update(s, (const uint8_t *) "k", 1, delete_fn, NULL, err, sizeof(err)), HB_STORE_OK);
    expect(get(s, "k", value), HB_STORE_NOT_FOUND);
    expect(hb_store_update(s, (const uint8_t *) "k", 1, delete_fn, NULL, err, sizeof(err)), HB_STORE_OK);
    expect(hb_store_update(s, (const uint8_t *) "k", 1, keep_fn, &seen, err, sizeof(err)), HB_STORE_OK);
    assert_false(seen.present);
    expect(get(s, "k", value), HB_STORE_NOT_FOUND);

    /* An empty value, binary bytes, the largest value. */
    expect(put(s, "empty", "", 60), HB_STORE_OK);
    expect(hb_store_update(s, (const uint8_t *) "empty", 5, keep_fn, &seen, err, sizeof(err)), HB_STORE_OK);
    assert_true(seen.present);
    assert_int_equal(seen.len, 0);
    expect(put_bytes(s, "zeros", zeros, sizeof(zeros), 60), HB_STORE_OK);
    expect(hb_store_get(s, (const uint8_t *) "zeros", 5, big, &len, err, sizeof(err)), HB_STORE_OK);
    assert_int_equal(len, sizeof(zeros));
    assert_memory_equal(big, zeros, sizeof(zeros));
    memset(big, 0x5a, sizeof(big));
    expect(put_bytes(s, "big", big, sizeof(big), 60), HB_STORE_OK);
    memset(big, 0, sizeof(big));
    expect(hb_store_get(s, (const uint8_t *) "big", 3, big, &len, err, sizeof(err)), HB_STORE_OK);
    assert_int_equal(len, HB_STORE_VALUE_MAX);
    assert_int_equal(big[0], 0x5a);
    assert_int_equal(big[HB_STORE_VALUE_MAX - 1], 0x5a);

    /* Bad keys and bad update results are errors that name no key. */
    expect(hb_store_get(s, (const uint8_t *) "", 0, big, &len, err, sizeof(err)), HB_STORE_ERROR);
    expect(put(s, "0123456789012345678901234567890123456789012345678901234567890123456789", "v", 60), HB_STORE_ERROR);
    assert_null(strstr(err, "0123456789"));
    expect(put(s, "ttl0", "secret-value", 0), HB_STORE_ERROR);
    assert_non_null(strstr(err, name));
    assert_null(strstr(err, "secret-value"));
    assert_null(strstr(err, "ttl0"));
    expect(get(s, "ttl0", value), HB_STORE_NOT_FOUND);
    release();
}

/* Scan by prefix (stopping early too); an expired record is absent for get, update and scan. */
static void test_expiry_and_scan(void **state)
{
    struct hb_store *s = acquire();
    char value[HB_STORE_VALUE_MAX + 1];
    struct seen seen = {0};
    struct scan_result r;
    static const char *const keys[] = {"u:alice:1", "u:alice:2", "u:alicia", "u:bob:1", "v:x"};

    (void) state;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        expect(put(s, keys[i], "v", 3600), HB_STORE_OK);
    expect(put(s, "u:alice:0", "short-lived", 1), HB_STORE_OK);

    memset(&r, 0, sizeof(r));
    expect(scan(s, "u:alice:", &r), HB_STORE_OK);
    assert_string_equal(r.keys, "u:alice:0 u:alice:1 u:alice:2 ");
    memset(&r, 0, sizeof(r));
    expect(scan(s, "", &r), HB_STORE_OK);
    assert_int_equal(r.calls, 6);
    memset(&r, 0, sizeof(r));
    expect(scan(s, "zzz", &r), HB_STORE_OK);
    assert_int_equal(r.calls, 0);
    memset(&r, 0, sizeof(r));
    r.stop_after = 2;
    expect(scan(s, "u:", &r), HB_STORE_OK);
    assert_string_equal(r.keys, "u:alice:0 u:alice:1 ");

    sleep(2);                    /* "u:alice:0" expires */
    expect(get(s, "u:alice:0", value), HB_STORE_NOT_FOUND);
    memset(&r, 0, sizeof(r));
    expect(scan(s, "u:ali", &r), HB_STORE_OK);
    assert_string_equal(r.keys, "u:alice:1 u:alice:2 u:alicia ");
    expect(hb_store_update(s, (const uint8_t *) "u:alice:0", 9, keep_fn, &seen, err, sizeof(err)), HB_STORE_OK);
    assert_false(seen.present);
    expect(get(s, "u:alice:1", value), HB_STORE_OK);
    release();
}

/* ---- files ---- */

/* path has exactly mode want and is ours. */
static void check_mode(const char *path, mode_t want)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, want);
    assert_int_equal(st.st_uid, geteuid());
}

/* A store created under umask mask gets a 0700 directory and 0600 files. */
static void check_created_with_umask(mode_t mask, const char *sub)
{
    static const char *const files[] = {"data.mdb", "lock.mdb", "write.lock"};
    char path[PATH_MAX + 32];
    mode_t old = umask(mask);
    struct hb_store *s;

    snprintf(path, sizeof(path), "%s/%s", base, sub);
    s = acquire_at(path);
    umask(old);
    if (s == NULL)
        fail_msg("%s", err);
    expect(put(s, "k", "v", 60), HB_STORE_OK);
    release();
    check_mode(path, 0700);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s/%s", base, sub, files[i]);
        check_mode(path, 0600);
    }
}

/* Directory and files are private whatever the umask; a missing parent is an error. */
static void test_creates_private_dir(void **state)
{
    char path[PATH_MAX];

    (void) state;
    check_created_with_umask(0, "umask0");
    check_created_with_umask(0777, "umask777");
    snprintf(path, sizeof(path), "%s/missing/s", base);
    assert_null(acquire_at(path));
    assert_non_null(strstr(err, "No such file or directory"));
}

/* acquire_at(path) is refused with a reason containing why. */
static void refused(const char *path, const char *why)
{
    struct hb_store *s = acquire_at(path);

    if (s != NULL) {
        release();
        fail_msg("%s was accepted", path);
    }
    if (strstr(err, why) == NULL)
        fail_msg("%s: \"%s\" does not say \"%s\"", path, err, why);
}

/* base/sub made a store directory (0700, with its files), its path in path. */
static void make_store(const char *sub, char *path, size_t len)
{
    struct hb_store *s;

    snprintf(path, len, "%s/%s", base, sub);
    s = acquire_at(path);
    if (s == NULL)
        fail_msg("%s", err);
    release();
    switch_away();
}

/* Group/other-writable, foreign, symlinked or non-directory DIR: refused. */
static void test_refuses_unsafe_dirs(void **state)
{
    char path[PATH_MAX], good[PATH_MAX];

    (void) state;
    snprintf(path, sizeof(path), "%s/groupw", base);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chmod(path, 0770), 0);
    refused(path, "is writable by group or others");

    snprintf(path, sizeof(path), "%s/otherw", base);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chmod(path, 0702), 0);
    refused(path, "is writable by group or others");

    snprintf(path, sizeof(path), "%s/foreign", base);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chown(path, nobody(), getegid()), 0);
    refused(path, "is owned by another user");

    make_store("good", good, sizeof(good));
    snprintf(path, sizeof(path), "%s/link", base);
    assert_int_equal(symlink(good, path), 0);
    refused(path, "is a symbolic link");
    strcat(path, "/");
    refused(path, "is a symbolic link");

    snprintf(path, sizeof(path), "%s/file", base);
    write_file(path, "x", 1, 0600);
    refused(path, "is not a directory");
}

/* Unsafe data.mdb, lock.mdb or write.lock: refused. */
static void test_refuses_unsafe_files(void **state)
{
    char path[PATH_MAX], file[PATH_MAX + 32], target[PATH_MAX + 32];

    (void) state;
    make_store("dataw", path, sizeof(path));
    snprintf(file, sizeof(file), "%s/data.mdb", path);
    assert_int_equal(chmod(file, 0620), 0);
    refused(path, "data.mdb is writable by group or others");

    make_store("lockforeign", path, sizeof(path));
    snprintf(file, sizeof(file), "%s/lock.mdb", path);
    assert_int_equal(chown(file, nobody(), getegid()), 0);
    refused(path, "lock.mdb is owned by another user");

    snprintf(path, sizeof(path), "%s/datalink", base);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(target, sizeof(target), "%s/elsewhere", base);
    write_file(target, "", 0, 0600);
    snprintf(file, sizeof(file), "%s/data.mdb", path);
    assert_int_equal(symlink(target, file), 0);
    refused(path, "data.mdb is a symbolic link");

    snprintf(path, sizeof(path), "%s/lockdir", base);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(file, sizeof(file), "%s/write.lock", path);
    assert_int_equal(mkdir(file, 0700), 0);
    refused(path, "write.lock is not a regular file");

    snprintf(path, sizeof(path), "%s/lockw", base);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(file, sizeof(file), "%s/write.lock", path);
    write_file(file, "", 0, 0666);
    refused(path, "write.lock is writable by group or others");
}

/* ---- full map ---- */

/* Writing three times what a 1 MiB map holds: every write succeeds, the earliest expiring go. */
static void test_full_map_evicts(void **state)
{
    struct hb_store *s;
    char key[32], value[HB_STORE_VALUE_MAX + 1];
    uint8_t payload[1000];
    struct scan_result r;
    const int n = 3000;

    (void) state;
    hb_store_lmdb_set_map_size((size_t) 1 << 20);
    s = acquire();
    memset(payload, 'p', sizeof(payload));
    /* About 3 MB into a 1 MiB map; key order differs from expiry order. */
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "k%08x", (unsigned) i * 2654435761u);
        if (put_bytes(s, key, payload, sizeof(payload), 100000 + i) != HB_STORE_OK)
            fail_msg("put %d: %s", i, err);
    }
    snprintf(key, sizeof(key), "k%08x", (unsigned) (n - 1) * 2654435761u);
    expect(get(s, key, value), HB_STORE_OK);
    snprintf(key, sizeof(key), "k%08x", 0u);
    expect(get(s, key, value), HB_STORE_NOT_FOUND);
    memset(&r, 0, sizeof(r));
    expect(scan(s, "k", &r), HB_STORE_OK);
    assert_true(r.calls > 100);
    assert_true(r.calls < n);
    release();
}

/* ---- corruption ---- */

/* Small records written on into a full 1 MiB map: no error, and most of what fits stays. */
static void test_full_map_keeps_most(void **state)
{
    struct hb_store *s;
    char key[32];
    uint8_t payload[60];
    struct scan_result r;
    int peak = 0;

    (void) state;
    hb_store_lmdb_set_map_size((size_t) 1 << 20);
    s = acquire();
    memset(payload, 'p', sizeof(payload));
    for (int i = 0; i < 30000; i++) {
        snprintf(key, sizeof(key), "c%08x", (unsigned) i * 2654435761u);
        if (put_bytes(s, key, payload, sizeof(payload), 100000 + i) != HB_STORE_OK)
            fail_msg("put %d: %s", i, err);
        if (i % 1000 == 999) {
            memset(&r, 0, sizeof(r));
            expect(scan(s, "c", &r), HB_STORE_OK);
            if (r.calls < peak / 2)
                fail_msg("after %d writes, %d records left of %d at most", i + 1, r.calls, peak);
            peak = r.calls > peak ? r.calls : peak;
        }
    }
    assert_true(peak < 30000);   /* the map did fill */
    release();
}

static uint8_t garbage[1 << 16];

/* A store at path (closed again) holding 300 records of 500 bytes. */
static void fill_store(const char *path)
{
    char key[32];
    struct hb_store *s = acquire_at(path);

    if (s == NULL)
        fail_msg("%s", err);
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        expect(put_bytes(s, key, garbage, 500, 3600), HB_STORE_OK);
    }
    release();
    switch_away();
}

/* Overwrite every page of path/data.mdb after the two meta pages with garbage. */
static void scribble_inner_pages(const char *path)
{
    char file[PATH_MAX + 32];
    struct stat st;
    int fd;

    snprintf(file, sizeof(file), "%s/data.mdb", path);
    fd = open(file, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    for (off_t at = 2 * 4096; at < st.st_size; at += sizeof(garbage))
        assert_true(pwrite(fd, garbage, sizeof(garbage), at) > 0);
    close(fd);
}

/* A garbage data file, a truncated one, garbage inner pages: errors, never a crash. */
static void test_corrupt_files(void **state)
{
    char path[PATH_MAX], file[PATH_MAX + 32], value[HB_STORE_VALUE_MAX + 1];
    struct hb_store *s;

    (void) state;
    memset(garbage, 0xa5, sizeof(garbage));
    /* Garbage instead of a data file. */
    snprintf(path, sizeof(path), "%s/garbage", base);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(file, sizeof(file), "%s/data.mdb", path);
    write_file(file, garbage, sizeof(garbage), 0600);
    refused(path, "mdb_env_open");

    /* A data file cut short of the pages it counts. */
    fill_store(dir);
    snprintf(file, sizeof(file), "%s/data.mdb", dir);
    assert_int_equal(truncate(file, 3 * 4096), 0);
    refused(dir, "data.mdb is shorter than its pages");

    /* Garbage over every page but the two meta pages: errors, no crash. */
    snprintf(path, sizeof(path), "%s/inner", base);
    fill_store(path);
    scribble_inner_pages(path);
    s = acquire_at(path);
    if (s == NULL)
        fail_msg("%s", err);
    expect(get(s, "key1", value), HB_STORE_ERROR);
    assert_non_null(strstr(err, "MDB_PAGE_NOTFOUND"));
    assert_null(strstr(err, "key1"));
    expect(put(s, "key1", "v", 60), HB_STORE_ERROR);
    release();
}

/* Put raw LMDB records (no expiry in front) into dir, with the store closed. */
static void put_raw(const char *key, const void *value, size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *) (uintptr_t) key}, v = {len, (void *) (uintptr_t) value};

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_mapsize(env, (size_t) 64 << 20), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Records shorter than an expiry or longer than the largest value. */
static void test_bad_record_sizes(void **state)
{
    static uint8_t big[HB_STORE_VALUE_MAX + 9];
    struct hb_store *s = acquire();
    char value[HB_STORE_VALUE_MAX + 1];
    struct seen seen = {0};
    struct scan_result r = {0};

    (void) state;
    expect(put(s, "good", "v", 60), HB_STORE_OK);
    release();
    switch_away();
    put_raw("short", "1234567", 7);
    put_raw("long", big, sizeof(big));
    s = acquire();
    expect(get(s, "short", value), HB_STORE_ERROR);
    assert_non_null(strstr(err, "corrupt record"));
    expect(get(s, "long", value), HB_STORE_ERROR);
    expect(scan(s, "", &r), HB_STORE_OK);
    assert_string_equal(r.keys, "good ");
    /* An update sees a corrupt record as absent, and replaces it. */
    expect(hb_store_update(s, (const uint8_t *) "short", 5, keep_fn, &seen, err, sizeof(err)), HB_STORE_OK);
    assert_false(seen.present);
    expect(get(s, "short", value), HB_STORE_NOT_FOUND);
    expect(put(s, "long", "fixed", 60), HB_STORE_OK);
    expect(get(s, "long", value), HB_STORE_OK);
    assert_string_equal(value, "fixed");
    release();
}

/* ---- processes ---- */

/* A child that holds lock_path's write lock until killed; its pid. */
static pid_t hold_write_lock(const char *lock_path)
{
    int fds[2];
    char c = 0;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        int fd = open(lock_path, O_RDWR | O_CREAT, 0600);

        if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) != 0 || write(fds[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &c, 1), 1);
    close(fds[0]);
    return pid;
}

/* Kill a child and reap it. */
static void stop_child(pid_t pid)
{
    int status;

    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

/* Another process holding write.lock: updates and opens give up within the timeout, reads go on. */
static void test_writer_lock_timeout(void **state)
{
    struct hb_store *s = acquire();
    char lock_path[PATH_MAX + 32], value[HB_STORE_VALUE_MAX + 1], fresh[PATH_MAX];
    double t0, elapsed;
    pid_t holder;

    (void) state;
    expect(put(s, "k", "v", 60), HB_STORE_OK);
    snprintf(lock_path, sizeof(lock_path), "%s/write.lock", dir);
    holder = hold_write_lock(lock_path);
    t0 = now_ms();
    expect(put(s, "k", "w", 60), HB_STORE_ERROR);
    elapsed = now_ms() - t0;
    assert_non_null(strstr(err, "store busy"));
    assert_true(elapsed >= 100);
    assert_true(elapsed < 5000);
    /* Readers do not wait for writers. */
    expect(get(s, "k", value), HB_STORE_OK);
    assert_string_equal(value, "v");
    stop_child(holder);
    expect(put(s, "k", "w", 60), HB_STORE_OK);
    expect(get(s, "k", value), HB_STORE_OK);
    assert_string_equal(value, "w");
    release();

    /* Opening waits for the lock too, with the same bound. */
    snprintf(fresh, sizeof(fresh), "%s/fresh", base);
    assert_int_equal(mkdir(fresh, 0700), 0);
    snprintf(lock_path, sizeof(lock_path), "%s/write.lock", fresh);
    holder = hold_write_lock(lock_path);
    t0 = now_ms();
    refused(fresh, "store busy");
    assert_true(now_ms() - t0 < 5000);
    stop_child(holder);
    s = acquire_at(fresh);
    assert_non_null(s);
    release();
}

/* In a child: stop (SIGSTOP) in the middle of a write transaction. */
static enum hb_store_action stop_fn(const uint8_t *old, size_t oldlen, uint8_t *out, size_t *outlen,
                                    long *ttl, void *arg)
{
    (void) old, (void) oldlen, (void) arg;
    raise(SIGSTOP);
    memcpy(out, "child", 5);
    *outlen = 5;
    *ttl = 60;
    return HB_STORE_PUT;
}

/* A writer stopped inside its transaction, then killed there. */
static void test_stopped_writer(void **state)
{
    struct hb_store *s = acquire();
    char value[HB_STORE_VALUE_MAX + 1];
    double t0;
    int status;
    pid_t pid;

    (void) state;
    expect(put(s, "k", "v", 60), HB_STORE_OK);
    release();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct hb_store *mine = hb_store_acquire(&cfg, err, sizeof(err));

        _exit(mine == NULL || hb_store_update(mine, (const uint8_t *) "k", 1, stop_fn, NULL, err, sizeof(err)) != 0);
    }
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    assert_true(WIFSTOPPED(status));
    /* It holds write.lock and LMDB's writer mutex: writers give up in time, readers go on. */
    s = acquire();
    t0 = now_ms();
    expect(put(s, "k", "parent", 60), HB_STORE_ERROR);
    assert_non_null(strstr(err, "store busy"));
    assert_true(now_ms() - t0 < 5000);
    expect(get(s, "k", value), HB_STORE_OK);
    assert_string_equal(value, "v");
    /* Killed there, it leaves a store whose next writer recovers the mutex. */
    stop_child(pid);
    expect(put(s, "k", "parent", 60), HB_STORE_OK);
    expect(get(s, "k", value), HB_STORE_OK);
    assert_string_equal(value, "parent");
    release();
}

/* In a child: write forever (a counter and assorted keys) until killed. */
_Noreturn static void write_forever(void)
{
    uint8_t payload[HB_STORE_VALUE_MAX];
    char key[32];
    struct hb_store *s = hb_store_acquire(&cfg, err, sizeof(err));

    memset(payload, 'w', sizeof(payload));
    if (s == NULL)
        _exit(1);
    for (unsigned i = 0;; i++) {
        snprintf(key, sizeof(key), "x%u", i % 500);
        count(s, "counter");
        put_bytes(s, key, payload, (i * 97) % sizeof(payload), 3600);
    }
}

/* Writers killed (SIGKILL) at random points leave a usable store. */
static void test_killed_writers(void **state)
{
    struct hb_store *s = acquire();
    char value[HB_STORE_VALUE_MAX + 1];
    struct scan_result r;
    uint64_t before, after;

    (void) state;
    expect(count(s, "counter"), HB_STORE_OK);
    release();
    srand(1);
    for (int i = 0; i < 30; i++) {
        pid_t pid = fork();
        struct timespec pause = {0, (1 + rand() % 30) * 1000000L};

        assert_true(pid >= 0);
        if (pid == 0)
            write_forever();
        nanosleep(&pause, NULL);
        stop_child(pid);
    }
    /* The parent's environment, opened before, goes on working. */
    s = acquire();
    before = counter(s, "counter");
    assert_true(before >= 1);
    expect(count(s, "counter"), HB_STORE_OK);
    assert_int_equal(counter(s, "counter"), before + 1);
    release();
    /* And so does a freshly opened one. */
    switch_away();
    s = acquire();
    after = counter(s, "counter");
    assert_int_equal(after, before + 1);
    memset(&r, 0, sizeof(r));
    expect(scan(s, "counter", &r), HB_STORE_OK);
    assert_int_equal(r.calls, 1);
    expect(put(s, "k", "v", 60), HB_STORE_OK);
    expect(get(s, "k", value), HB_STORE_OK);
    release();
}

/* In a forked child: use the store (its own) alongside the parent; exit status 0 when all went well. */
_Noreturn static void child_work(void)
{
    char value[HB_STORE_VALUE_MAX + 1];
    struct hb_store *s = hb_store_acquire(&cfg, err, sizeof(err));
    int bad = s == NULL;

    if (!bad)
        bad = get(s, "parent", value) != HB_STORE_OK || strcmp(value, "1") != 0
              || put(s, "child", "2", 60) != HB_STORE_OK;
    for (int i = 0; i < 200 && !bad; i++)
        bad = count(s, "counter") != HB_STORE_OK;
    if (s != NULL)
        hb_store_release(s);
    _exit(bad);
}

/* A forked child opens its own store and works alongside its parent. */
static void test_fork(void **state)
{
    struct hb_store *s;
    char value[HB_STORE_VALUE_MAX + 1];
    int status = -1;
    pid_t pid;

    (void) state;
    cfg.store_timeout_ms = 5000;         /* two processes updating as fast as they can */
    s = acquire();
    expect(put(s, "parent", "1", 60), HB_STORE_OK);
    release();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child_work();
    for (int i = 0; i < 200; i++) {
        s = acquire();
        expect(count(s, "counter"), HB_STORE_OK);
        release();
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    s = acquire();
    expect(get(s, "child", value), HB_STORE_OK);
    assert_string_equal(value, "2");
    assert_int_equal(counter(s, "counter"), 400);
    release();
}

/* Every descriptor of the store is close-on-exec, and an executed program inherits none. */
static void test_close_on_exec(void **state)
{
    struct hb_store *s = acquire();
    char value[HB_STORE_VALUE_MAX + 1], link[PATH_MAX], fdpath[300], out[8192];
    struct scan_result r = {0};
    DIR *d;
    struct dirent *e;
    int found = 0, fds[2], status;
    size_t used = 0;
    ssize_t n;
    pid_t pid;

    (void) state;
    expect(put(s, "k", "v", 60), HB_STORE_OK);
    expect(get(s, "k", value), HB_STORE_OK);
    expect(scan(s, "", &r), HB_STORE_OK);
    d = opendir("/proc/self/fd");
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);

        snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%s", e->d_name);
        n = readlink(fdpath, link, sizeof(link) - 1);
        if (e->d_name[0] == '.' || n <= 0)
            continue;
        link[n] = '\0';
        if (strncmp(link, dir, strlen(dir)) != 0)
            continue;
        found++;
        if ((fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0)
            fail_msg("fd %d (%s) is not close-on-exec", fd, link);
    }
    closedir(d);
    assert_true(found >= 3);     /* data.mdb (twice in LMDB 0.9.24), lock.mdb, write.lock */

    /* And what a program executed now inherits. */
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        execl("/bin/sh", "sh", "-c", "for f in /proc/$$/fd/*; do readlink \"$f\"; done", (char *) NULL);
        _exit(127);
    }
    close(fds[1]);
    while ((n = read(fds[0], out + used, sizeof(out) - 1 - used)) > 0)
        used += (size_t) n;
    out[used] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(used > 0);
    if (strstr(out, dir) != NULL)
        fail_msg("an executed program inherited:\n%s", out);
    release();
}

/* ---- threads ---- */

/* Thread: add one to "counter" 1000 times (retrying a failed call); failures counted in arg. */
static void *count_thousand(void *arg)
{
    char why[HB_ERROR_LEN];
    int *failures = arg;

    for (int i = 0; i < 1000; i++) {
        int done = 0;

        for (int tries = 0; tries < 100 && !done; tries++) {
            struct hb_store *s = hb_store_acquire(&cfg, why, sizeof(why));

            done = s != NULL && hb_store_update(s, (const uint8_t *) "counter", 7, count_fn, NULL,
                                                why, sizeof(why)) == HB_STORE_OK;
            hb_store_release(s);
        }
        *failures += !done;
    }
    return NULL;
}

/* 4 threads x 1000 increments of one counter: exactly 4000. */
static void test_threads(void **state)
{
    pthread_t threads[4];
    int failures[4] = {0};
    struct hb_store *s;

    (void) state;
    cfg.store_timeout_ms = 5000;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, count_thousand, &failures[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(failures[i], 0);
    }
    s = acquire();
    assert_int_equal(counter(s, "counter"), 4000);
    release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_put_delete_keep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creates_private_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_unsafe_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_unsafe_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_map_evicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_map_keeps_most, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_record_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_lock_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_on_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
