/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Red team: cache.c and the store side of health.c tried as the four
 * attackers of pam_httpbasic(8) THREAT MODEL would, on a real LMDB store in
 * a temporary directory.  Time is passed as "now" (one 2 s sleep, for
 * health.c, which reads the clock); store TTLs run on the real clock, so a
 * record's expiry is emulated by deleting it.
 *
 * Tests that FAILED on the code they were written against (commit
 * f970ce5), each a finding of the red-team report, fixed since in cache.c
 * (they pass now and stay as regression tests):
 *   test_refusal_flood_keeps_other_verifiers      remote: 7 wrong passwords void every verifier
 *   test_stopped_acceptance_after_refusal_expired local: a 207 stored past refusal_life resurrects
 *   test_stopped_acceptance_after_disable_expired the same after a disabled answer (unlinked name)
 *   test_disabled_alias_record_deleted            store writer: a deleted alias record hides the account
 *   test_disabled_alias_record_garbled            the same with a garbled record
 *   test_refusal_covers_every_name_of_the_account a 401 under the uid leaves the e-mail name's verifier
 *   test_link_kept_without_principal              a 207 without principal unlinks a name
 *   test_extreme_times_no_overflow                only under UBSan: INT64_MAX + refusal_life
 * The others are attacks that are stopped (regression tests).
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
#include <openssl/hmac.h>

#include "cache.h"
#include "health.h"
#include "store.h"

#define T0 1700000000LL

static char tmpdir[] = "/tmp/test_cache_attacks.XXXXXX";
static char store_name[128], secret_path[128];
static char url_a[] = "https://cloud.example.org/remote.php/dav/";
static char url_b[] = "https://other.example.org/remote.php/dav/";
static const char secret_text[] = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n";

static void make_config(struct hb_config *cfg, char *url)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->servers[cfg->server_count++].url = url;
    cfg->store = store_name;
    cfg->secret_file = secret_path;
    cfg->store_timeout_ms = 2000;
    cfg->timeout_ms = 10000;          /* refusal_life = 10 + 5 + 5 = 20 s */
    cfg->connect_timeout_ms = 5000;
    cfg->cache_fresh = 300;
    cfg->cache_stale = 3600;
    cfg->cache_per_user = 8;
    cfg->server_retry_after = 30;
}

static int setup_all(void **state)
{
    int fd;

    (void) state;
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    chmod(tmpdir, 0700);
    snprintf(store_name, sizeof(store_name), "lmdb:%s", tmpdir);
    snprintf(secret_path, sizeof(secret_path), "%s.secret", tmpdir);
    fd = open(secret_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, secret_text, strlen(secret_text)) != (ssize_t) strlen(secret_text))
        return -1;
    close(fd);
    return 0;
}

static int teardown_all(void **state)
{
    char cmd[512];

    (void) state;
    unlink(secret_path);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

struct fixture {
    struct hb_config cfg;
    struct hb_cache cache;
    struct hb_store *store;
    char err[HB_ERROR_LEN];
};

static struct hb_store *held_store;

static void open_fixture(struct fixture *f, char *url, const char *user)
{
    make_config(&f->cfg, url);
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

static int release_left(void **state)
{
    (void) state;
    hb_store_release(held_store);
    held_store = NULL;
    return 0;
}

/* The age of the newest valid verifier of password, -1 for none or a record that does not authenticate. */
static int64_t age_of(struct fixture *f, const char *password, int64_t now)
{
    int64_t age = -1;

    return hb_cache_lookup(&f->cache, f->store, password, now, &age, f->err, sizeof(f->err)) == HB_STORE_OK ? age : -1;
}

static void remember_at(struct fixture *f, const char *password, int64_t sent_at, int64_t now,
                        const char *account, bool *refused)
{
    assert_int_equal(hb_cache_remember(&f->cache, f->store, password, sent_at, now, account, refused,
                                       f->err, sizeof(f->err)), HB_STORE_OK);
}

static void revoke_at(struct fixture *f, const char *password, int64_t now)
{
    assert_int_equal(hb_cache_revoke(&f->cache, f->store, password, now, f->err, sizeof(f->err)), HB_STORE_OK);
}

/* Raw bytes of a store value. */
struct bytes {
    uint8_t data[HB_STORE_VALUE_MAX];
    size_t len;
};

static enum hb_store_action put_bytes(const uint8_t *old, size_t oldlen, uint8_t *out, size_t *outlen,
                                      long *ttl, void *arg)
{
    const struct bytes *b = arg;

    (void) old;
    (void) oldlen;
    memcpy(out, b->data, b->len);
    *outlen = b->len;
    *ttl = 3600;
    return HB_STORE_PUT;
}

static enum hb_store_action delete_key(const uint8_t *old, size_t oldlen, uint8_t *out, size_t *outlen,
                                       long *ttl, void *arg)
{
    (void) old;
    (void) oldlen;
    (void) out;
    (void) outlen;
    (void) ttl;
    (void) arg;
    return HB_STORE_DELETE;
}

static void read_raw(struct fixture *f, const uint8_t *key, size_t keylen, struct bytes *b)
{
    assert_int_equal(hb_store_get(f->store, key, keylen, b->data, &b->len, f->err, sizeof(f->err)), HB_STORE_OK);
}

static void write_raw(struct fixture *f, const uint8_t *key, size_t keylen, struct bytes *b)
{
    assert_int_equal(hb_store_update(f->store, key, keylen, put_bytes, b, f->err, sizeof(f->err)),
                     HB_STORE_OK);
}

static void delete_raw(struct fixture *f, const uint8_t *key, size_t keylen)
{
    assert_int_equal(hb_store_update(f->store, key, keylen, delete_key, NULL, f->err, sizeof(f->err)), HB_STORE_OK);
}

/* The key of the account record a user record names (bytes 4..35 of the record, cache.h). */
static void linked_account_key(const struct fixture *f, const struct bytes *user_record, uint8_t key[HB_CACHE_KEY_LEN])
{
    key[0] = 'a';
    memcpy(key + 1, f->cache.key + 1, HB_CACHE_TAG_LEN);
    memcpy(key + 1 + HB_CACHE_TAG_LEN, user_record->data + 4, HB_CACHE_MAC_LEN);
}

/*
 * Attacker 4 (remote): seven wrong passwords for alice within refusal_life
 * (no knowledge of hers) overflow the refusal list; the oldest refusal
 * becomes a floor that voids every verifier of alice, her right password
 * included, so when Nextcloud goes down she is locked out (no stale
 * window).  A refusal of one password must never void another password's
 * verification that the server gave before.  FAILS on f970ce5.
 */
static void test_refusal_flood_keeps_other_verifiers(void **state)
{
    struct fixture f;
    char guess[32];

    (void) state;
    open_fixture(&f, url_a, "flood-alice");
    remember_at(&f, "alice-right-pass", T0, T0, NULL, NULL);
    assert_int_equal(age_of(&f, "alice-right-pass", T0 + 100), 100);
    for (int i = 0; i <= HB_CACHE_MAX_REFUSALS; i++) {
        snprintf(guess, sizeof(guess), "attacker-guess-%d", i);
        revoke_at(&f, guess, T0 + 100 + i);
    }
    if (age_of(&f, "alice-right-pass", T0 + 110) != 110)
        fail_msg("%d wrong passwords from an attacker voided alice's verified password", HB_CACHE_MAX_REFUSALS + 1);
    close_fixture(&f);
}

/*
 * Attacker 3 (local): A's request for the old password got its 207 and the
 * process was stopped (SIGSTOP) before it stored the verifier; meanwhile
 * the password was revoked and B's 401 recorded the refusal.  A is resumed
 * after the refusal aged out (refusal_life = 20 s here): its 207, sent at
 * T0 + 10, must not be stored, since no uninterrupted request takes longer
 * than refusal_life.  FAILS on f970ce5 (the revoked password is a cache
 * hit for the rest of cache_fresh, and in the stale window for cache_stale).
 */
static void test_stopped_acceptance_after_refusal_expired(void **state)
{
    struct fixture f;
    bool refused = false;

    (void) state;
    open_fixture(&f, url_a, "stopped-carol");
    remember_at(&f, "carol-old", T0, T0, NULL, NULL);
    revoke_at(&f, "carol-old", T0 + 11);                           /* B's 401 */
    assert_int_equal(age_of(&f, "carol-old", T0 + 12), -1);
    /* Within refusal_life the rule holds (regression). */
    remember_at(&f, "carol-old", T0 + 10, T0 + 25, NULL, &refused);
    assert_true(refused);
    assert_int_equal(age_of(&f, "carol-old", T0 + 26), -1);
    /* A, stopped for 60 s, resumes: its 207 is 60 s old. */
    remember_at(&f, "carol-old", T0 + 10, T0 + 70, NULL, &refused);
    if (age_of(&f, "carol-old", T0 + 71) != -1)
        fail_msg("a 207 stored 60 s after its request was sent brought back a refused password"
                 " (refused=%d)", refused);
    close_fixture(&f);
}

/*
 * The same with a disabled answer for a login name with no account link
 * (a server that does not name the principal, and every login on
 * f970ce5, whose check.c never fills out->account): the user record holding
 * only the floor expires refusal_life after the disable (its store TTL,
 * emulated here by deleting it), and a stopped process's 207 sent before
 * the disable is then stored.  FAILS on f970ce5.
 */
static void test_stopped_acceptance_after_disable_expired(void **state)
{
    struct fixture f;
    bool refused = false;

    (void) state;
    open_fixture(&f, url_a, "stopped-dave");
    remember_at(&f, "dave-pass", T0, T0, NULL, NULL);
    assert_int_equal(hb_cache_drop_user(&f.cache, f.store, T0 + 11, f.err, sizeof(f.err)), HB_STORE_OK);
    assert_int_equal(age_of(&f, "dave-pass", T0 + 12), -1);
    delete_raw(&f, f.cache.key, HB_CACHE_KEY_LEN);                 /* its TTL (floor + 20 s) ran out */
    remember_at(&f, "dave-pass", T0 + 10, T0 + 70, NULL, &refused);
    if (age_of(&f, "dave-pass", T0 + 71) != -1)
        fail_msg("a 207 sent before the disabled answer, stored 60 s later, let the disabled account in");
    close_fixture(&f);
}

/*
 * The largest record (cache_per_user = 64 verifiers + 6 refusals: 3996
 * bytes) fits HB_STORE_VALUE_MAX and round-trips; every verifier still
 * matches, every refused password stays refused.
 */
static void test_largest_record_fits(void **state)
{
    struct fixture f;
    struct bytes b;
    char pw[32];

    (void) state;
    open_fixture(&f, url_a, "largest-user");
    f.cfg.cache_per_user = HB_CACHE_MAX_VERIFIERS;
    for (int i = 0; i < HB_CACHE_MAX_VERIFIERS; i++) {
        snprintf(pw, sizeof(pw), "pass-%02d", i);
        remember_at(&f, pw, T0 + i, T0 + i, NULL, NULL);
    }
    for (int i = 0; i < HB_CACHE_MAX_REFUSALS; i++) {
        snprintf(pw, sizeof(pw), "wrong-%d", i);
        revoke_at(&f, pw, T0 + 100);
    }
    read_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &b);
    /* 3996 bytes with f970ce5's layout (44 + 70 x 56 + 32): a longer header still fits. */
    assert_true(b.len >= (HB_CACHE_MAX_VERIFIERS + HB_CACHE_MAX_REFUSALS) * 56 + 32);
    assert_true(b.len <= HB_STORE_VALUE_MAX);
    for (int i = 0; i < HB_CACHE_MAX_VERIFIERS; i++) {
        snprintf(pw, sizeof(pw), "pass-%02d", i);
        if (age_of(&f, pw, T0 + 101) != 101 - i)
            fail_msg("verifier %d of %d lost in the largest record", i, HB_CACHE_MAX_VERIFIERS);
    }
    /* One more verifier: the oldest goes, the record stays within bounds. */
    remember_at(&f, "pass-new", T0 + 101, T0 + 101, NULL, NULL);
    assert_int_equal(age_of(&f, "pass-00", T0 + 102), -1);
    assert_int_equal(age_of(&f, "pass-new", T0 + 102), 1);
    read_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &b);
    assert_true(b.len <= HB_STORE_VALUE_MAX);
    close_fixture(&f);
}

/*
 * Attacker 2: records moved between kinds and scopes.  A user record put
 * under its account key, an account record under a user key, a record of
 * one scope under the same user's key in another scope, a health record
 * under a user key: none counts.
 */
static void test_kind_and_scope_collisions(void **state)
{
    struct fixture f, other;
    struct bytes user_rec, acct_rec, other_rec;
    uint8_t akey[HB_CACHE_KEY_LEN];

    (void) state;
    open_fixture(&f, url_a, "kind-erin");
    remember_at(&f, "erin-pass", T0, T0, "kind-erin", NULL);
    assert_int_equal(age_of(&f, "erin-pass", T0 + 1), 1);
    read_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &user_rec);
    linked_account_key(&f, &user_rec, akey);
    read_raw(&f, akey, sizeof(akey), &acct_rec);
    /* The user record under the account key: the account no longer vouches. */
    write_raw(&f, akey, sizeof(akey), &user_rec);
    assert_int_equal(age_of(&f, "erin-pass", T0 + 1), -1);
    write_raw(&f, akey, sizeof(akey), &acct_rec);
    assert_int_equal(age_of(&f, "erin-pass", T0 + 1), 1);
    /* The account record under the user key. */
    write_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &acct_rec);
    assert_int_equal(age_of(&f, "erin-pass", T0 + 1), -1);
    /* The same user, same password, another scope (another server list): not under this scope's key. */
    close_fixture(&f);
    open_fixture(&other, url_b, "kind-erin");
    remember_at(&other, "erin-pass", T0, T0, "kind-erin", NULL);
    read_raw(&other, other.cache.key, HB_CACHE_KEY_LEN, &other_rec);
    close_fixture(&other);
    open_fixture(&f, url_a, "kind-erin");
    write_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &other_rec);
    assert_int_equal(age_of(&f, "erin-pass", T0 + 1), -1);
    /* The genuine bytes count again: only these changes were refused. */
    write_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &user_rec);
    assert_int_equal(age_of(&f, "erin-pass", T0 + 1), 1);
    close_fixture(&f);
}

/*
 * Attacker 2: a user record whose account link is spliced to another
 * account (bytes 4..35) or whose flag is cleared (so that no account has
 * to vouch) does not authenticate; and an account record of account X put
 * under account Y's key does not vouch for Y's names after Y was disabled.
 */
static void test_account_splice(void **state)
{
    struct fixture x, y;
    struct bytes xu, yu, xa, t;
    uint8_t xkey[HB_CACHE_KEY_LEN], ykey[HB_CACHE_KEY_LEN];

    (void) state;
    open_fixture(&x, url_a, "splice-xavier");
    remember_at(&x, "x-pass", T0, T0, "splice-xavier", NULL);
    read_raw(&x, x.cache.key, HB_CACHE_KEY_LEN, &xu);
    linked_account_key(&x, &xu, xkey);
    read_raw(&x, xkey, sizeof(xkey), &xa);
    close_fixture(&x);
    open_fixture(&y, url_a, "splice-yvonne@example.org");
    remember_at(&y, "y-pass", T0, T0, "splice-yvonne", NULL);
    read_raw(&y, y.cache.key, HB_CACHE_KEY_LEN, &yu);
    linked_account_key(&y, &yu, ykey);
    /* Yvonne's account is disabled (under her e-mail name). */
    assert_int_equal(hb_cache_drop_user(&y.cache, y.store, T0 + 10, y.err, sizeof(y.err)), HB_STORE_OK);
    /* Her old record put back (a rollback) with the link spliced to Xavier's live account. */
    t = yu;
    memcpy(t.data + 4, xkey + 1 + HB_CACHE_TAG_LEN, HB_CACHE_MAC_LEN);
    write_raw(&y, y.cache.key, HB_CACHE_KEY_LEN, &t);
    assert_int_equal(age_of(&y, "y-pass", T0 + 11), -1);
    /* ... or with the account flag cleared. */
    t = yu;
    t.data[3] = 0;
    write_raw(&y, y.cache.key, HB_CACHE_KEY_LEN, &t);
    assert_int_equal(age_of(&y, "y-pass", T0 + 11), -1);
    /* Her old record put back byte for byte, and Xavier's account record over hers. */
    write_raw(&y, y.cache.key, HB_CACHE_KEY_LEN, &yu);
    write_raw(&y, ykey, sizeof(ykey), &xa);
    assert_int_equal(age_of(&y, "y-pass", T0 + 11), -1);
    /* Her account record deleted: denial of service only. */
    delete_raw(&y, ykey, sizeof(ykey));
    assert_int_equal(age_of(&y, "y-pass", T0 + 11), -1);
    close_fixture(&y);
}

/*
 * Attacker 2 + the disabled user: the e-mail name's record is deleted (or
 * garbled) in the store - "deny service" only, the man page says.  Then
 * the account is disabled and its owner logs in under the e-mail name:
 * the 503 voids nothing beyond that name, because disable() learns the
 * account only from the (now missing) record, so the uid name's verifier
 * keeps answering (fresh window, then stale).  Writing to the store made a
 * login of a disabled account succeed.  FAILS on f970ce5.
 */
static void disabled_alias_case(bool garble)
{
    struct fixture uid, mail;
    uint8_t junk_key[HB_CACHE_KEY_LEN];
    struct bytes junk = {{0}, 100};

    open_fixture(&uid, url_a, garble ? "alias-kate" : "alias-lisa");
    remember_at(&uid, "uid-pass", T0, T0, garble ? "alias-kate" : "alias-lisa", NULL);
    close_fixture(&uid);
    open_fixture(&mail, url_a, garble ? "kate@example.org" : "lisa@example.org");
    remember_at(&mail, "mail-pass", T0 + 1, T0 + 1, garble ? "alias-kate" : "alias-lisa", NULL);
    memcpy(junk_key, mail.cache.key, sizeof(junk_key));
    if (garble)
        write_raw(&mail, junk_key, sizeof(junk_key), &junk);    /* the attacker garbles it */
    else
        delete_raw(&mail, junk_key, sizeof(junk_key));            /* the attacker deletes it */
    assert_int_equal(hb_cache_drop_user(&mail.cache, mail.store, T0 + 10, mail.err, sizeof(mail.err)), HB_STORE_OK);
    close_fixture(&mail);
    open_fixture(&uid, url_a, garble ? "alias-kate" : "alias-lisa");
    if (age_of(&uid, "uid-pass", T0 + 11) != -1)
        fail_msg("after the e-mail name's record was %s, a disabled answer under it left the uid's verifier valid",
                 garble ? "garbled" : "deleted");
    close_fixture(&uid);
}

static void test_disabled_alias_record_deleted(void **state)
{
    (void) state;
    disabled_alias_case(false);
}

static void test_disabled_alias_record_garbled(void **state)
{
    (void) state;
    disabled_alias_case(true);
}

/*
 * One account, many names, one password: the login password works under
 * the uid and the e-mail address (facts.md).  It is changed; the next login
 * under the uid gets 401 and drops the verifier - under the uid only.  The
 * old password keeps answering from the cache under the e-mail name (fresh
 * window, and the stale window in the next outage).  A refusal under one
 * name of an account must void that password under every name of the
 * account.  FAILS on f970ce5.
 */
static void test_refusal_covers_every_name_of_the_account(void **state)
{
    struct fixture uid, mail;

    (void) state;
    open_fixture(&uid, url_a, "refuse-mona");
    remember_at(&uid, "mona-login-pass", T0, T0, "refuse-mona", NULL);
    close_fixture(&uid);
    open_fixture(&mail, url_a, "mona@example.org");
    remember_at(&mail, "mona-login-pass", T0 + 1, T0 + 1, "refuse-mona", NULL);
    close_fixture(&mail);
    open_fixture(&uid, url_a, "refuse-mona");
    revoke_at(&uid, "mona-login-pass", T0 + 10);                   /* changed in Nextcloud: 401 */
    assert_int_equal(age_of(&uid, "mona-login-pass", T0 + 11), -1);
    close_fixture(&uid);
    open_fixture(&mail, url_a, "mona@example.org");
    if (age_of(&mail, "mona-login-pass", T0 + 11) != -1)
        fail_msg("a password the server refused under the uid still answers under the e-mail name");
    close_fixture(&mail);
}

/*
 * A 207 that names no principal (another server of the realm, or a body in
 * which the principal was not found) must not unlink a login name from its
 * account: the name would escape every later disabled answer or forget of
 * the account.  FAILS on f970ce5 (remember_fn sets has_account from the
 * latest 207 only).
 */
static void test_link_kept_without_principal(void **state)
{
    struct fixture uid, mail;

    (void) state;
    open_fixture(&mail, url_a, "nora@example.org");
    remember_at(&mail, "nora-pass", T0, T0, "link-nora", NULL);
    remember_at(&mail, "nora-pass", T0 + 5, T0 + 5, NULL, NULL);      /* no principal this time */
    close_fixture(&mail);
    open_fixture(&uid, url_a, "link-nora");
    assert_int_equal(hb_cache_drop_user(&uid.cache, uid.store, T0 + 10, uid.err, sizeof(uid.err)), HB_STORE_OK);
    close_fixture(&uid);
    open_fixture(&mail, url_a, "nora@example.org");
    if (age_of(&mail, "nora-pass", T0 + 11) != -1)
        fail_msg("the e-mail name, unlinked by a 207 without principal, escaped the account's disabled answer");
    close_fixture(&mail);
}

/*
 * Attacker 2, the documented residual (man page: "a rollback"): a
 * byte-exact earlier record of the same key brings back a verification a
 * later refusal removed, but never beyond the window of that verification,
 * and never for another password or user.
 */
static void test_rollback_is_bounded(void **state)
{
    struct fixture f;
    struct bytes saved;

    (void) state;
    open_fixture(&f, url_a, "rollback-frank");
    remember_at(&f, "frank-old", T0, T0, NULL, NULL);
    read_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &saved);
    revoke_at(&f, "frank-old", T0 + 50);
    assert_int_equal(age_of(&f, "frank-old", T0 + 51), -1);
    write_raw(&f, f.cache.key, HB_CACHE_KEY_LEN, &saved);
    /* The residual is real (documented): within the window it counts again. */
    assert_int_equal(age_of(&f, "frank-old", T0 + 52), 52);
    /* Bounded: fresh ends at cache_fresh, stale at cache_stale after the verification. */
    assert_false(hb_cache_is_fresh(&f.cfg, age_of(&f, "frank-old", T0 + 300)));
    assert_int_equal(age_of(&f, "frank-old", T0 + 3600), -1);
    assert_int_equal(age_of(&f, "frank-other", T0 + 52), -1);
    close_fixture(&f);
}

/* A 200 followed by a 401 in the same second: the later refusal wins (never the earlier 207). */
static void test_same_second_refusal_wins(void **state)
{
    struct fixture f;
    bool refused = false;

    (void) state;
    open_fixture(&f, url_a, "second-gina");
    revoke_at(&f, "gina-pass", T0 + 5);
    remember_at(&f, "gina-pass", T0 + 5, T0 + 5, NULL, &refused);
    assert_true(refused);
    assert_int_equal(age_of(&f, "gina-pass", T0 + 6), -1);
    close_fixture(&f);
}

/*
 * Attacker 4: odd passwords and names.  Every byte of the password counts
 * (UTF-8, ':' and a long one); a verifier of "pw" does not answer for
 * "pw\xc2\xa0", nor for another letter case of the name (each spelling is
 * its own record; only an account link joins them).
 */
static void test_odd_passwords_and_names(void **state)
{
    struct fixture f, g;
    char longpw[600];

    (void) state;
    memset(longpw, 'x', sizeof(longpw) - 1);
    longpw[sizeof(longpw) - 1] = '\0';
    open_fixture(&f, url_a, "odd-hank");
    remember_at(&f, "p\xc3\xa4ss:w\xc3\xb6rd", T0, T0, NULL, NULL);
    remember_at(&f, longpw, T0, T0, NULL, NULL);
    assert_int_equal(age_of(&f, "p\xc3\xa4ss:w\xc3\xb6rd", T0 + 1), 1);
    assert_int_equal(age_of(&f, "p\xc3\xa4ss:w\xc3\xb6rd\xc2\xa0", T0 + 1), -1);
    assert_int_equal(age_of(&f, "pass:word", T0 + 1), -1);
    assert_int_equal(age_of(&f, "p\xc3\xa4ss", T0 + 1), -1);
    assert_int_equal(age_of(&f, longpw, T0 + 1), 1);
    longpw[sizeof(longpw) - 2] = 'y';
    assert_int_equal(age_of(&f, longpw, T0 + 1), -1);
    close_fixture(&f);
    open_fixture(&g, url_a, "ODD-hank");
    assert_int_equal(age_of(&g, "p\xc3\xa4ss:w\xc3\xb6rd", T0 + 1), -1);
    close_fixture(&g);
    /* "user:pass" splits: the name "odd-hank:p" with "ass" is another record. */
    open_fixture(&g, url_a, "odd-hank:p\xc3\xa4ss");
    assert_int_equal(age_of(&g, ":w\xc3\xb6rd", T0 + 1), -1);
    close_fixture(&g);
}

/*
 * No arithmetic on a time overflows, whatever "now" the caller passes
 * (cache.h: "no arithmetic on a stored time can overflow").  Fails only
 * under UBSan (the asan stage of tests/run: -fsanitize=undefined
 * -fno-sanitize-recover): on f970ce5 put_user() computes
 * INT64_MAX + refusal_life (cache.c:378 and 379), as test_cache's
 * test_times_are_bounded already does.
 */
static void test_extreme_times_no_overflow(void **state)
{
    struct fixture f;
    int64_t age = -1;

    (void) state;
    open_fixture(&f, url_a, "extreme-judy");
    revoke_at(&f, "judy-pass", INT64_MAX);
    (void) hb_cache_remember(&f.cache, f.store, "judy-pass", INT64_MIN, INT64_MIN, NULL, NULL, f.err, sizeof(f.err));
    (void) hb_cache_lookup(&f.cache, f.store, "judy-pass", INT64_MIN, &age, f.err, sizeof(f.err));
    (void) hb_cache_drop_user(&f.cache, f.store, INT64_MAX, f.err, sizeof(f.err));
    (void) hb_cache_lookup(&f.cache, f.store, "judy-pass", INT64_MAX, &age, f.err, sizeof(f.err));
    close_fixture(&f);
}

/* The health store key of kind over parts (health.c's layout), computed with the test's secret. */
static void health_key(char kind, const char *const *parts, size_t n, uint8_t key[33])
{
    static const uint8_t label[] = "pam_httpbasic health v2";
    uint8_t data[1024];
    size_t len = 0;
    unsigned int maclen = 0;

    memcpy(data, label, sizeof(label));
    len = sizeof(label);
    data[len++] = (uint8_t) kind;
    for (size_t i = 0; i < n; i++) {
        memcpy(data + len, parts[i], strlen(parts[i]) + 1);
        len += strlen(parts[i]) + 1;
    }
    key[0] = (uint8_t) kind;
    assert_non_null(HMAC(EVP_sha256(), secret_text, (int) strlen(secret_text) - 1, data, len, key + 1, &maclen));
    assert_int_equal(maclen, 32);
}

/*
 * Attacker 2 on health: a genuine rest record of server A copied to
 * server B's key does not rest B; a genuine rest record copied to the
 * probe token's key does not hold the token.
 */
static void test_health_record_moved(void **state)
{
    struct fixture f;
    struct hb_config two;
    struct bytes rest;
    uint8_t ka[33], kb[33], kp[33];
    const char *pa[] = {url_a}, *pb[] = {url_b}, *pp[] = {"p", url_a, url_b};

    (void) state;
    open_fixture(&f, url_a, "health-ivan");
    two = f.cfg;
    two.servers[1].url = url_b;
    two.server_count = 2;
    health_key('h', pa, 1, ka);
    health_key('h', pb, 1, kb);
    health_key('p', pp, 3, kp);
    hb_health_note(&two, f.store, url_a, false);
    assert_true(hb_health_resting(&two, f.store, url_a));
    read_raw(&f, ka, sizeof(ka), &rest);                 /* the key computed here is the module's */
    assert_int_equal(rest.len, 41);
    write_raw(&f, kb, sizeof(kb), &rest);
    assert_false(hb_health_resting(&two, f.store, url_b));
    assert_false(hb_health_all_resting(&two, f.store));
    write_raw(&f, kp, sizeof(kp), &rest);
    assert_true(hb_health_take_probe(&two, f.store));     /* the copied value holds no token */
    assert_false(hb_health_take_probe(&two, f.store));    /* the genuine token now does */
    hb_health_note(&two, f.store, url_a, true);
    assert_false(hb_health_resting(&two, f.store, url_a));
    close_fixture(&f);
}

/*
 * Attacker 2, the residual on health: a genuine rest record put back after
 * the server answered (a rollback) makes it rest again, but never past the
 * period it was written for (its "until" is capped at now +
 * server_retry_after when read, whatever the store's TTL).
 */
static void test_health_replay_bounded(void **state)
{
    struct fixture f;
    struct bytes rest;
    uint8_t key[33];
    const char *parts[] = {url_b};

    (void) state;
    open_fixture(&f, url_b, "health-replay");
    f.cfg.server_retry_after = 1;
    health_key('h', parts, 1, key);
    hb_health_note(&f.cfg, f.store, url_b, false);
    assert_true(hb_health_resting(&f.cfg, f.store, url_b));
    read_raw(&f, key, sizeof(key), &rest);
    hb_health_note(&f.cfg, f.store, url_b, true);
    assert_false(hb_health_resting(&f.cfg, f.store, url_b));
    write_raw(&f, key, sizeof(key), &rest);                 /* rolled back, with a 3600 s TTL */
    assert_true(hb_health_resting(&f.cfg, f.store, url_b)); /* the residual */
    sleep(2);
    assert_false(hb_health_resting(&f.cfg, f.store, url_b)); /* bounded by its own period */
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_refusal_flood_keeps_other_verifiers, release_left),
        cmocka_unit_test_teardown(test_stopped_acceptance_after_refusal_expired, release_left),
        cmocka_unit_test_teardown(test_stopped_acceptance_after_disable_expired, release_left),
        cmocka_unit_test_teardown(test_largest_record_fits, release_left),
        cmocka_unit_test_teardown(test_kind_and_scope_collisions, release_left),
        cmocka_unit_test_teardown(test_account_splice, release_left),
        cmocka_unit_test_teardown(test_disabled_alias_record_deleted, release_left),
        cmocka_unit_test_teardown(test_disabled_alias_record_garbled, release_left),
        cmocka_unit_test_teardown(test_refusal_covers_every_name_of_the_account, release_left),
        cmocka_unit_test_teardown(test_link_kept_without_principal, release_left),
        cmocka_unit_test_teardown(test_rollback_is_bounded, release_left),
        cmocka_unit_test_teardown(test_same_second_refusal_wins, release_left),
        cmocka_unit_test_teardown(test_odd_passwords_and_names, release_left),
        cmocka_unit_test_teardown(test_extreme_times_no_overflow, release_left),
        cmocka_unit_test_teardown(test_health_record_moved, release_left),
        cmocka_unit_test_teardown(test_health_replay_bounded, release_left),
    };

    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
