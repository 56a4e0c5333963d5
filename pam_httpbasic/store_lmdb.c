/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_lmdb.c - the "lmdb:/DIR" store backend: one LMDB environment in
 * DIR, shared by every process of this host.
 *
 * Files: DIR (created 0700 when missing; its parent must exist) holds
 * LMDB's data.mdb and lock.mdb and our write.lock, all created 0600
 * whatever the umask.  DIR and each of them must be ours (effective uid),
 * not a symbolic link and not writable by group or others, or the store
 * is refused.  Every parent of DIR must be owned by root or by us and not
 * writable by group or others (a sticky directory owned by root, like
 * /tmp, is accepted: nobody else can rename what we own in it), and no
 * component may be a symbolic link: DIR is opened from "/" one component
 * at a time (openat, O_NOFOLLOW), each checked through its descriptor,
 * and LMDB opens its files through /proc/self/fd/N of DIR's checked
 * descriptor.  Residual: without /proc mounted, LMDB gets DIR's path; its
 * parents were checked, so only root or we could swap it in between.
 *
 * Records: 8 bytes of expiry (wall-clock seconds since the epoch,
 * little-endian) followed by the value.  A record whose expiry has come is
 * absent; one shorter than 8 bytes or longer than 8 + HB_STORE_VALUE_MAX is
 * corrupt: get reports an error, update treats it as absent (and so
 * repairs it), scan skips it.
 *
 * Bounded time: LMDB's writer mutex would wait forever behind a writer
 * that is stopped (SIGSTOP, debugger).  Writers (and openers, whose first
 * shared lock on lock.mdb may wait behind another opener's exclusive one)
 * therefore first take an open-file-description lock on DIR/write.lock,
 * polled until cfg->store_timeout_ms (as it was when the store was
 * opened): "store busy" after that.  Readers
 * keep one reset read transaction, and so their reader slot, for the life
 * of the environment: renewing it takes no lock.  What is left unbounded:
 * the fsync of a commit, and a process stopped inside LMDB's short reader
 * table critical section while we open (once per process).
 *
 * Map: 64 MiB (sparse: data.mdb grows as used; a few hundred thousand
 * records of 100 bytes).  Commits use MDB_NOMETASYNC (one fsync each; a
 * system crash may lose the last commit, never the store's integrity).
 * LMDB reuses a page freed by a transaction only from the second commit
 * after it on, and every write (deletions included) needs fresh pages: a
 * map left without free pages could never commit again.  So records are
 * evicted - the expired and corrupt ones, then live ones by earliest
 * expiry, a tenth of the records it may take per round - when a write fails with
 * MDB_MAP_FULL (it is aborted, and retried once afterwards), and after a
 * write that leaves fewer free pages than a 32nd of the map (at least
 * ROOM_LOW) once there are again as many records as when the last eviction
 * began (deleting records seldom frees whole pages, but their room in the
 * pages is reused first).  One round, more while fewer than ROOM_MIN pages
 * are free, within the call's deadline.  Deletions are committed in
 * batches of at most EVICT_BATCH (halved while the map is too full for
 * them) without fsync, then one small synced commit (the eviction marker,
 * which also keeps the record count) makes their pages reusable.  (A
 * system crash during those unsynced commits can damage the store on a
 * filesystem that reorders writes: then delete DIR, which holds only
 * state that can be lost.)
 *
 * Close-on-exec: LMDB 0.9.24 opens lock.mdb and its second (O_DSYNC)
 * descriptor of data.mdb with O_CLOEXEC but not the main data.mdb one, so
 * that one is set right after mdb_env_open (another thread forking and
 * executing in that instant would still inherit it).
 *
 * Fork: an environment must not be used, nor closed, in a forked child
 * (mdb_env_close would clear the parent's reader slots).  abandon() only
 * closes write.lock (an OFD lock stays with the parent's descriptor); our
 * struct, the environment's memory, mapping and descriptors are
 * deliberately leaked in the child, the struct kept on a list so that it
 * stays reachable (closing the lock.mdb descriptor would also drop the
 * child's own POSIX locks on that file, should the child open the store
 * again).
 *
 * Limits: LMDB trusts the pages it maps; only DIR's owner can corrupt
 * them.  A data.mdb shorter than its meta page says is refused at open
 * (reading past its end would fault), a bad meta page makes mdb_env_open
 * fail, but a forged inner page could still make LMDB abort.
 */
#include "store.h"
#include "store_lmdb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPIRY_LEN 8                              /* bytes in front of a value */
#define RECORD_MAX (EXPIRY_LEN + HB_STORE_VALUE_MAX)
#define DEFAULT_MAP_SIZE ((size_t) 64 << 20)      /* 64 MiB */
#define MAX_READERS 512                           /* reader slots: one per process */
#define EVICT_BATCH 1024                          /* deletions per eviction transaction */
#define ROOM_LOW 32                               /* fewer free pages (or a 32nd of the map): evict a round */
#define ROOM_MIN 12                               /* fewer: evict rounds until that many */
#define LMDB_KEY_LIMIT 511                        /* LMDB's default maximum key size */
#define POLL_MAX_NS 2000000L                      /* longest pause polling write.lock */
#define PROTECTED_KINDS "uahp"                    /* first key bytes that eviction spares (see protected_key) */

static size_t map_size = DEFAULT_MAP_SIZE;

struct lmdb_store {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *reader;             /* reset read transaction: keeps our reader slot */
    int lock_fd;                 /* DIR/write.lock */
    long timeout_ms;
    struct lmdb_store *next_abandoned;
    char name[];                 /* cfg->store, for messages */
};

/* Stores inherited across fork and abandoned: guarded by store.c's lock. */
static struct lmdb_store *abandoned;

/* Progress of an eviction round, carried from one batch transaction to the next. */
struct eviction {
    uint64_t now;                /* expiry at or before this: expired */
    size_t before;               /* records when the eviction began */
    uint64_t threshold;          /* live records expiring by then may go... */
    size_t live_quota;           /* ...this many more of them */
    uint8_t resume[LMDB_KEY_LIMIT];
    size_t resumelen;            /* 0: start from the first key */
    int done;
    int everything;              /* 0: live records of protected kinds are spared */
    size_t eligible;             /* live records the last round could take */
};

/* See store_lmdb.h (tests only). */
void hb_store_lmdb_set_map_size(size_t bytes)
{
    map_size = bytes;
}

/* The wall clock in seconds, as stored in records. */
static uint64_t now_seconds(void)
{
    time_t t = time(NULL);

    return t < 0 ? 0 : (uint64_t) t;
}

/* The 8-byte little-endian number at p. */
static uint64_t get_le64(const uint8_t *p)
{
    uint64_t x = 0;

    for (int i = EXPIRY_LEN - 1; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

/* Write x at p as 8 bytes, little-endian. */
static void put_le64(uint8_t *p, uint64_t x)
{
    for (int i = 0; i < EXPIRY_LEN; i++) {
        p[i] = (uint8_t) x;
        x >>= 8;
    }
}

/* An MDB_val for caller bytes (LMDB never writes through a key). */
static MDB_val bytes_val(const uint8_t *p, size_t len)
{
    MDB_val v = {len, (void *) (uintptr_t) p};

    return v;
}

/* Whether a caller's key has an allowed length (1..HB_STORE_KEY_MAX). */
static int key_ok(size_t keylen)
{
    return keylen > 0 && keylen <= HB_STORE_KEY_MAX;
}

/* Whether record v has a possible size. */
static int record_ok(const MDB_val *v)
{
    return v->mv_size >= EXPIRY_LEN && v->mv_size <= RECORD_MAX;
}

/* Whether record v (of a possible size) has expired at now. */
static int expired(const MDB_val *v, uint64_t now)
{
    return get_le64(v->mv_data) <= now;
}

/* Fill err with "NAME: WHAT: REASON"; returns HB_STORE_ERROR. */
static int fail(const struct lmdb_store *st, const char *what, int rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s: %s", st->name, what, mdb_strerror(rc));
    return HB_STORE_ERROR;
}

/* Map an internal code (0, MDB_NOTFOUND, errno or LMDB error) to the store's. */
static int outcome(const struct lmdb_store *st, int rc, const char *what, char *err, size_t errlen)
{
    int result = HB_STORE_OK;

    if (rc == MDB_NOTFOUND)
        result = HB_STORE_NOT_FOUND;
    else if (rc != 0)
        result = fail(st, what, rc, err, errlen);
    return result;
}

/* ---- time ---- */

/* The CLOCK_MONOTONIC time ms milliseconds from now. */
static struct timespec deadline_after(long ms)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Whether deadline (CLOCK_MONOTONIC) has come. */
static int past(const struct timespec *deadline)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec
           || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* ---- write.lock ---- */

/* Take write.lock before deadline, polling; 0, or ETIMEDOUT / an errno. */
static int lock_writer(struct lmdb_store *st, const struct timespec *deadline, const char **what)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    struct timespec pause = {0, 250000L};
    int rc;

    *what = "write.lock";
    while ((rc = fcntl(st->lock_fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno) != 0
           && (rc == EAGAIN || rc == EACCES || rc == EINTR) && !past(deadline)) {
        nanosleep(&pause, NULL);
        pause.tv_nsec = pause.tv_nsec * 2 > POLL_MAX_NS ? POLL_MAX_NS : pause.tv_nsec * 2;
    }
    if (rc == EAGAIN || rc == EACCES || rc == EINTR) {
        *what = "store busy (write.lock held by another process)";
        rc = ETIMEDOUT;
    }
    return rc;
}

/* Release write.lock (taken by lock_writer). */
static void unlock_writer(struct lmdb_store *st)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};

    fcntl(st->lock_fd, F_OFD_SETLK, &fl);
}

/* ---- open ---- */

/* MDB_CORRUPTED when data.mdb is shorter than the pages its meta page counts. */
static int check_size(MDB_env *env, int fd)
{
    MDB_envinfo info;
    MDB_stat stat;
    struct stat s;
    int rc = mdb_env_info(env, &info);

    if (rc == 0)
        rc = mdb_env_stat(env, &stat);
    if (rc == 0 && fstat(fd, &s) != 0)
        rc = errno;
    if (rc == 0 && (uint64_t) s.st_size / stat.ms_psize <= (uint64_t) info.me_last_pgno)
        rc = MDB_CORRUPTED;
    return rc;
}

/* Open the environment in dir (with write.lock held); 0 or a code, *what naming the step. */
static int start_env(struct lmdb_store *st, const char *dir, const char **what)
{
    int fd = -1, dead = 0;
    int rc = mdb_env_create(&st->env);

    *what = "mdb_env_create";
    if (rc == 0 && (rc = mdb_env_set_mapsize(st->env, map_size)) != 0)
        *what = "mdb_env_set_mapsize";
    if (rc == 0 && (rc = mdb_env_set_maxreaders(st->env, MAX_READERS)) != 0)
        *what = "mdb_env_set_maxreaders";
    if (rc == 0 && (rc = mdb_env_open(st->env, dir, MDB_NOTLS | MDB_NOMETASYNC, 0600)) != 0)
        *what = "mdb_env_open";
    if (rc == 0 && (rc = mdb_env_get_fd(st->env, &fd)) != 0)
        *what = "mdb_env_get_fd";
    if (rc == 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        rc = errno;
        *what = "fcntl(FD_CLOEXEC)";
    }
    if (rc == 0 && (rc = check_size(st->env, fd)) != 0)
        *what = "data.mdb is shorter than its pages";
    if (rc == 0 && (rc = mdb_reader_check(st->env, &dead)) != 0)
        *what = "mdb_reader_check";
    if (rc == 0 && (rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->reader)) != 0)
        *what = "mdb_txn_begin";
    if (rc == 0 && (rc = mdb_dbi_open(st->reader, NULL, 0, &st->dbi)) != 0)
        *what = "mdb_dbi_open";
    if (rc == 0)
        mdb_txn_reset(st->reader);
    return rc;
}

/* Free st and everything it opened (in the process that opened it). */
static void discard(struct lmdb_store *st)
{
    if (st->reader != NULL)
        mdb_txn_abort(st->reader);
    if (st->env != NULL)
        mdb_env_close(st->env);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    free(st);
}

/* Check DIR and its files, then open the environment through DIR's checked descriptor; 0 or -1 with err set. */
static int open_store(struct lmdb_store *st, long timeout_ms, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct timespec deadline = deadline_after(timeout_ms);
    const char *what = NULL;     /* set by the LMDB steps only */
    int dirfd = hb_lmdb_prepare(st->name, &st->lock_fd, path, sizeof(path), err, errlen);
    int rc = dirfd < 0 ? -1 : 0;

    if (rc == 0 && (rc = lock_writer(st, &deadline, &what)) == 0) {
        rc = start_env(st, path, &what);
        unlock_writer(st);
    }
    if (dirfd >= 0)
        close(dirfd);
    if (rc != 0 && what != NULL)
        fail(st, what, rc, err, errlen);
    return rc == 0 ? 0 : -1;
}

/* The ops' open: a store for cfg->store ("lmdb:/DIR"), or NULL with err set. */
static void *lmdb_open(const struct hb_config *cfg, char *err, size_t errlen)
{
    size_t namelen = strlen(cfg->store);
    struct lmdb_store *st = calloc(1, sizeof(*st) + namelen + 1);

    if (st == NULL) {
        snprintf(err, errlen, "%s: out of memory", cfg->store);
    } else {
        memcpy(st->name, cfg->store, namelen + 1);
        st->lock_fd = -1;
        st->timeout_ms = cfg->store_timeout_ms;
        if (open_store(st, cfg->store_timeout_ms, err, errlen) != 0) {
            discard(st);
            st = NULL;
        }
    }
    return st;
}

/*
 * In a forked child: give up the parent's store without touching LMDB (see
 * the top of this file); only write.lock is closed.  The store is kept on
 * a list, never used again, so that leak checkers see it as reachable.
 */
static void lmdb_abandon(void *backend)
{
    struct lmdb_store *st = backend;

    close(st->lock_fd);
    st->lock_fd = -1;
    st->next_abandoned = abandoned;
    abandoned = st;
}

/* Close a store this process opened, and free it. */
static void lmdb_close(void *backend)
{
    discard(backend);
}

/* ---- reads ---- */

/* The live value of k in the reader transaction into value; 0, MDB_NOTFOUND or a code, *what naming it. */
static int read_one(struct lmdb_store *st, const uint8_t *key, size_t keylen, uint8_t *value,
                    size_t *valuelen, const char **what)
{
    MDB_val k = bytes_val(key, keylen), v;
    int rc;

    *what = "mdb_get";
    rc = mdb_get(st->reader, st->dbi, &k, &v);
    if (rc == 0 && !record_ok(&v)) {
        *what = "corrupt record";
        rc = MDB_CORRUPTED;
    } else if (rc == 0 && expired(&v, now_seconds())) {
        rc = MDB_NOTFOUND;
    } else if (rc == 0) {
        *valuelen = v.mv_size - EXPIRY_LEN;
        memcpy(value, (const uint8_t *) v.mv_data + EXPIRY_LEN, *valuelen);
    }
    return rc;
}

/* n gets in one read transaction; a bad key or a corrupt record fails only its own rcs[i]. */
static int lmdb_get_many(void *backend, const uint8_t *const keys[], const size_t keylens[], size_t n,
                         uint8_t values[][HB_STORE_VALUE_MAX], size_t valuelens[], int rcs[],
                         char *err, size_t errlen)
{
    struct lmdb_store *st = backend;
    const char *what = "mdb_txn_renew";
    int rc = mdb_txn_renew(st->reader);

    if (rc != 0)
        return fail(st, what, rc, err, errlen);
    for (size_t i = 0; i < n; i++) {
        int one = key_ok(keylens[i]) ? read_one(st, keys[i], keylens[i], values[i], &valuelens[i], &what)
                                     : EINVAL;

        if (one == EINVAL)
            what = "key length";
        rcs[i] = one == 0 ? HB_STORE_OK : one == MDB_NOTFOUND ? HB_STORE_NOT_FOUND : HB_STORE_ERROR;
        if (rcs[i] == HB_STORE_ERROR)
            fail(st, what, one, err, errlen);
    }
    mdb_txn_reset(st->reader);
    return HB_STORE_OK;
}

/* Copy key's live value out; HB_STORE_NOT_FOUND when absent or expired. */
static int lmdb_get(void *backend, const uint8_t *key, size_t keylen,
                    uint8_t *value, size_t *valuelen, char *err, size_t errlen)
{
    struct lmdb_store *st = backend;
    const char *what = "key length";
    int rc = key_ok(keylen) ? 0 : EINVAL;

    if (rc == 0 && (rc = mdb_txn_renew(st->reader)) != 0)
        what = "mdb_txn_renew";
    if (rc == 0) {
        rc = read_one(st, key, keylen, value, valuelen, &what);
        mdb_txn_reset(st->reader);
    }
    return outcome(st, rc, what, err, errlen);
}

/* Call fn for each live record under prefix in the reader transaction; 0 or a code. */
static int walk_prefix(struct lmdb_store *st, const uint8_t *prefix, size_t prefixlen,
                       hb_store_scan_fn fn, void *arg, const char **what)
{
    MDB_cursor *cur;
    MDB_val k = bytes_val(prefix, prefixlen), v;
    uint64_t now = now_seconds();
    int stop = 0;
    int rc = mdb_cursor_open(st->reader, st->dbi, &cur);

    *what = "mdb_cursor_open";
    if (rc == 0) {
        *what = "mdb_cursor_get";
        rc = mdb_cursor_get(cur, &k, &v, prefixlen == 0 ? MDB_FIRST : MDB_SET_RANGE);
        while (rc == 0 && !stop && k.mv_size >= prefixlen
               && (prefixlen == 0 || memcmp(k.mv_data, prefix, prefixlen) == 0)) {
            if (k.mv_size <= HB_STORE_KEY_MAX && record_ok(&v) && !expired(&v, now))
                stop = fn(k.mv_data, k.mv_size, (const uint8_t *) v.mv_data + EXPIRY_LEN,
                          v.mv_size - EXPIRY_LEN, arg);
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Call fn for each live record whose key starts with prefix, until it returns non-zero. */
static int lmdb_scan(void *backend, const uint8_t *prefix, size_t prefixlen,
                     hb_store_scan_fn fn, void *arg, char *err, size_t errlen)
{
    struct lmdb_store *st = backend;
    const char *what = "prefix length";
    int rc = prefixlen <= HB_STORE_KEY_MAX ? 0 : EINVAL;

    if (rc == 0 && (rc = mdb_txn_renew(st->reader)) != 0)
        what = "mdb_txn_renew";
    if (rc == 0) {
        rc = walk_prefix(st, prefix, prefixlen, fn, arg, &what);
        mdb_txn_reset(st->reader);
    }
    return outcome(st, rc, what, err, errlen);
}

/* ---- writes ---- */

/*
 * Do what fn decided for key k in txn: record holds room for the expiry
 * and, after it, fn's value.  stale: k holds an expired or corrupt record.
 */
static int apply(struct lmdb_store *st, MDB_txn *txn, MDB_val *k, enum hb_store_action action,
                 uint8_t *record, size_t outlen, long ttl, int stale, const char **what)
{
    MDB_val v = bytes_val(record, EXPIRY_LEN + outlen);
    int rc = 0;

    if (action == HB_STORE_PUT && (outlen > HB_STORE_VALUE_MAX || ttl <= 0)) {
        *what = "update function: bad value length or ttl";
        rc = EINVAL;
    } else if (action == HB_STORE_PUT) {
        *what = "mdb_put";
        put_le64(record, now_seconds() + (uint64_t) ttl);
        rc = mdb_put(txn, st->dbi, k, &v, 0);
    } else if (action == HB_STORE_DELETE || (action == HB_STORE_KEEP && stale)) {
        *what = "mdb_del";
        rc = mdb_del(txn, st->dbi, k, NULL);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    } else if (action != HB_STORE_KEEP) {
        *what = "update function: bad action";
        rc = EINVAL;
    }
    return rc;
}

/* One write transaction: read key, let fn decide, apply, commit; 0 or a code (nothing changed). */
static int update_once(struct lmdb_store *st, const uint8_t *key, size_t keylen,
                       hb_store_update_fn fn, void *arg, const char **what)
{
    uint8_t record[RECORD_MAX];
    MDB_val k = bytes_val(key, keylen), v;
    MDB_txn *txn;
    const uint8_t *old = NULL;
    size_t oldlen = 0, outlen = 0;
    long ttl = 0;
    int stale = 0;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);

    *what = "mdb_txn_begin";
    if (rc == 0) {
        *what = "mdb_get";
        rc = mdb_get(txn, st->dbi, &k, &v);
        stale = rc == 0 && (!record_ok(&v) || expired(&v, now_seconds()));
        if (rc == 0 && !stale) {
            old = (const uint8_t *) v.mv_data + EXPIRY_LEN;
            oldlen = v.mv_size - EXPIRY_LEN;
        }
        rc = rc == MDB_NOTFOUND ? 0 : rc;
        if (rc == 0) {
            enum hb_store_action action = fn(old, oldlen, record + EXPIRY_LEN, &outlen, &ttl, arg);

            rc = apply(st, txn, &k, action, record, outlen, ttl, stale, what);
        }
        if (rc == 0) {
            *what = "mdb_txn_commit";
            rc = mdb_txn_commit(txn);
        } else {
            mdb_txn_abort(txn);
        }
    }
    return rc;
}

/*
 * Whether key k is of a kind only this module's own verified answers
 * create (PROTECTED_KINDS: verifiers, account records, resting servers,
 * probe tokens), which eviction spares while records of other kinds (the
 * guard's, one per client address, which an attacker creates at will, and
 * anything else) are left.
 */
static int protected_key(const MDB_val *k)
{
    return k->mv_size > 0 && k->mv_size <= HB_STORE_KEY_MAX
           && memchr(PROTECTED_KINDS, *(const uint8_t *) k->mv_data, sizeof(PROTECTED_KINDS) - 1) != NULL;
}

/* Whether a live record k may go in this eviction. */
static int eligible(const MDB_val *k, const struct eviction *ev)
{
    return ev->everything || !protected_key(k);
}

/* Whether eviction deletes record v at k; counts the live ones against the quota. */
static int doomed(const MDB_val *k, const MDB_val *v, struct eviction *ev)
{
    int dead = !record_ok(v) || expired(v, ev->now);
    int early = !dead && ev->live_quota > 0 && eligible(k, ev) && get_le64(v->mv_data) <= ev->threshold;

    if (early)
        ev->live_quota--;
    return dead || early;
}

/*
 * One eviction transaction: from ev's resume key, delete up to batch
 * doomed records, commit, remember where to go on.  0 or a code (then
 * nothing changed and ev is as before).
 */
static int evict_batch(struct lmdb_store *st, size_t batch, struct eviction *ev)
{
    struct eviction next = *ev;
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_val k = bytes_val(ev->resume, ev->resumelen), v;
    size_t deleted = 0;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);

    if (rc == 0 && (rc = mdb_cursor_open(txn, st->dbi, &cur)) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, ev->resumelen == 0 ? MDB_FIRST : MDB_SET_RANGE);
        while (rc == 0 && deleted < batch) {
            if (doomed(&k, &v, &next)) {
                rc = mdb_cursor_del(cur, 0);
                deleted++;
            }
            if (rc == 0)
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (rc == 0 && k.mv_size > sizeof(next.resume))
            rc = MDB_CORRUPTED;
        if (rc == 0) {
            memcpy(next.resume, k.mv_data, k.mv_size);
            next.resumelen = k.mv_size;
        }
        next.done = rc == MDB_NOTFOUND;
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else if (txn != NULL)
        mdb_txn_abort(txn);
    if (rc == 0)
        *ev = next;
    return rc;
}

/* qsort order of uint64_t values. */
static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return (x > y) - (x < y);
}

/*
 * Start an eviction round: the expiry by which about a tenth of the
 * records it may take (eligible) expire, from a sample of at most 1024 of
 * them, and how many live records to delete (a tenth); 0 or a code.
 */
static int start_round(struct lmdb_store *st, struct eviction *ev)
{
    uint64_t sample[1024];
    size_t n = 0, seen = 0, stride;
    MDB_stat stat;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_txn_renew(st->reader);

    if (rc == 0) {
        rc = mdb_stat(st->reader, st->dbi, &stat);
        stride = rc == 0 ? stat.ms_entries / 1024 + 1 : 1;
        ev->before = ev->before == 0 && rc == 0 ? stat.ms_entries : ev->before;
        if (rc == 0 && (rc = mdb_cursor_open(st->reader, st->dbi, &cur)) == 0) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
            for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
                if (eligible(&k, ev) && seen++ % stride == 0 && n < 1024)
                    sample[n++] = record_ok(&v) ? get_le64(v.mv_data) : 0;
            mdb_cursor_close(cur);
        }
        ev->eligible = seen;
        ev->live_quota = seen / 10 + 1;
        mdb_txn_reset(st->reader);
    }
    qsort(sample, n, sizeof(sample[0]), compare_u64);
    ev->threshold = n > 0 && sample[n / 10] > ev->now ? sample[n / 10] : ev->now;
    ev->resumelen = 0;
    ev->done = 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One round: batches (halved while the map is too full for them) until the walk ends or the deadline; 0 or a code. */
static int evict_round(struct lmdb_store *st, struct eviction *ev, size_t *batch,
                       const struct timespec *deadline)
{
    int rc = start_round(st, ev);

    while (rc == 0 || (rc == MDB_MAP_FULL && *batch > 1)) {
        *batch = rc == MDB_MAP_FULL ? *batch / 2 : *batch;
        rc = evict_batch(st, *batch, ev);
        if (rc == 0 && (ev->done || past(deadline)))
            break;
    }
    return rc;
}

/*
 * Pages the map can still give: the never used ones, plus (only when those
 * are fewer than *low, as that takes a walk) the free ones listed in the
 * free-page database; *low is this map's low-water mark, a 32nd of its
 * pages but at least ROOM_LOW.  0 or a code.
 */
static int room(struct lmdb_store *st, size_t *pages, size_t *low)
{
    MDB_envinfo info;
    MDB_stat stat;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t count;
    int rc = mdb_env_info(st->env, &info);

    if (rc == 0)
        rc = mdb_env_stat(st->env, &stat);
    *pages = rc == 0 ? info.me_mapsize / stat.ms_psize - info.me_last_pgno - 1 : 0;
    *low = rc == 0 && info.me_mapsize / stat.ms_psize / 32 > ROOM_LOW ? info.me_mapsize / stat.ms_psize / 32
                                                                       : ROOM_LOW;
    if (rc == 0 && *pages < *low && (rc = mdb_txn_renew(st->reader)) == 0) {
        if ((rc = mdb_cursor_open(st->reader, 0, &cur)) == 0) {
            for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && v.mv_size >= sizeof(count);
                 rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                memcpy(&count, v.mv_data, sizeof(count));
                *pages += count;
            }
            mdb_cursor_close(cur);
        }
        mdb_txn_reset(st->reader);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The eviction marker's key: longer than any caller's key, so get, update and scan never see it. */
static MDB_val marker_key(uint8_t *key)
{
    memset(key, 0xff, HB_STORE_KEY_MAX + 1);
    return bytes_val(key, HB_STORE_KEY_MAX + 1);
}

/*
 * Commit one more small write: the eviction marker, an already expired
 * record whose value is the number of records when the eviction began.
 * LMDB reuses the pages a transaction frees only from the second
 * transaction after it on: this makes the eviction's pages available to
 * the retried update.  0 or a code.
 */
static int settle(struct lmdb_store *st, const struct eviction *ev)
{
    uint8_t key[HB_STORE_KEY_MAX + 1], record[EXPIRY_LEN + 8];
    MDB_val k = marker_key(key), v = bytes_val(record, sizeof(record));
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);

    put_le64(record, ev->now);
    put_le64(record + EXPIRY_LEN, ev->before);
    if (rc == 0)
        rc = mdb_put(txn, st->dbi, &k, &v, 0);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else if (txn != NULL)
        mdb_txn_abort(txn);
    return rc;
}

/* Whether there are as many records now as when the last eviction began (or no record of one). */
static int grown(struct lmdb_store *st)
{
    uint8_t key[HB_STORE_KEY_MAX + 1];
    MDB_val k = marker_key(key), v;
    MDB_stat stat;
    int more = 1;

    if (mdb_txn_renew(st->reader) == 0) {
        if (mdb_stat(st->reader, st->dbi, &stat) == 0 && mdb_get(st->reader, st->dbi, &k, &v) == 0
            && v.mv_size == EXPIRY_LEN + 8)
            more = stat.ms_entries >= get_le64((const uint8_t *) v.mv_data + EXPIRY_LEN);
        mdb_txn_reset(st->reader);
    }
    return more;
}

/*
 * Make room (see the top of this file): one round of eviction, more while
 * fewer than ROOM_MIN pages are free and the deadline has not passed,
 * without fsync (the settling commit syncs them all); then settle.  0 or a
 * code.
 */
static int evict(struct lmdb_store *st, const struct timespec *deadline, const char **what)
{
    struct eviction ev = {.now = now_seconds()};
    size_t batch = EVICT_BATCH, pages = 0, low;
    int rc;

    *what = "evicting";
    mdb_env_set_flags(st->env, MDB_NOSYNC, 1);
    do {
        rc = evict_round(st, &ev, &batch, deadline);
        if (rc == 0)
            rc = room(st, &pages, &low);
        /* Nothing but protected records left to take: from now on, every kind. */
        if (rc == 0 && !ev.everything && ev.eligible == 0)
            ev.everything = 1;
    } while (rc == 0 && pages < ROOM_MIN && !past(deadline));
    mdb_env_set_flags(st->env, MDB_NOSYNC, 0);
    if (rc == 0)
        rc = settle(st, &ev);
    return rc;
}

/*
 * After a successful write, within the deadline: evict before the map has
 * no room left for the eviction's own transactions (it could then never
 * commit again): when fewer pages than the map's low-water mark are free
 * and there are again as many records as when the last eviction began
 * (deleting records seldom frees whole pages, but their room in the pages
 * is reused first), or at once below ROOM_MIN.  A failure here leaves the
 * write done and is not reported.
 */
static void keep_room(struct lmdb_store *st, const struct timespec *deadline)
{
    size_t pages = 0, low = ROOM_LOW;
    const char *what;

    if (!past(deadline) && room(st, &pages, &low) == 0 && pages < low && (pages < ROOM_MIN || grown(st)))
        evict(st, deadline, &what);
}

/* Read-modify-write key in one transaction under write.lock, making room once if the map is full. */
static int lmdb_update(void *backend, const uint8_t *key, size_t keylen,
                       hb_store_update_fn fn, void *arg, char *err, size_t errlen)
{
    struct lmdb_store *st = backend;
    struct timespec deadline = deadline_after(st->timeout_ms);
    const char *what = "key length";
    int rc = key_ok(keylen) ? lock_writer(st, &deadline, &what) : EINVAL;

    if (rc == 0) {
        rc = update_once(st, key, keylen, fn, arg, &what);
        if (rc == MDB_MAP_FULL && (rc = evict(st, &deadline, &what)) == 0)
            rc = update_once(st, key, keylen, fn, arg, &what);
        if (rc == 0)
            keep_room(st, &deadline);
        unlock_writer(st);
    }
    return outcome(st, rc, what, err, errlen);
}

const struct hb_store_ops hb_store_lmdb_ops = {
    .scheme = "lmdb:",
    .open = lmdb_open,
    .abandon = lmdb_abandon,
    .close = lmdb_close,
    .get = lmdb_get,
    .get_many = lmdb_get_many,
    .update = lmdb_update,
    .scan = lmdb_scan,
};
