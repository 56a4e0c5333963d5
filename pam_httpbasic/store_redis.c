/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_redis.c - the store in Redis, shared by every host that uses the
 * same Redis (hiredis 0.14 or later, blocking API; TLS with hiredis_ssl).
 *
 *   redis://HOST[:PORT][/DB]     HOST an IPv4 literal or [IPv6] literal
 *   rediss://HOST[:PORT][/DB]    the same over TLS (hiredis >= 1.0 with
 *                                hiredis_ssl; HAVE_HIREDIS_SSL)
 *   redis+unix:/PATH[?db=N]
 *
 * HOST must be an address: hiredis resolves names with a getaddrinfo()
 * that no timeout bounds.  Keys are "pam_httpbasic:" followed by the
 * caller's bytes; values are stored as they are, with a Redis TTL
 * (SET ... EX), so Redis frees expired entries itself.  update() is an
 * optimistic transaction (WATCH, GET, the caller's function, MULTI,
 * SET or DEL, EXEC); an EXEC aborted by a concurrent write is tried again
 * after a random pause below 2 ms, within the call's deadline.
 *
 * The connection, its deadlines and failures: store_redis_conn.c.
 */
#include "store.h"
#include "store_redis_conn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#define KEY_PREFIX "pam_httpbasic:"
#define KEY_PREFIX_LEN (sizeof(KEY_PREFIX) - 1)
#define FULL_KEY_MAX (KEY_PREFIX_LEN + HB_STORE_KEY_MAX)
#define PATTERN_MAX (2 * FULL_KEY_MAX + 2)
#define UPDATE_TRIES 1000        /* optimistic transactions per update, within the deadline */
#define RETRY_PAUSE_US 2000      /* at most this long (random) before trying again */
#define SCAN_COUNT 100           /* keys asked for per SCAN */
#define DB_MAX 1000000L          /* Redis itself refuses what it lacks */

/* "pam_httpbasic:" + key into out; its length, or 0 (call failed) for a bad key. */
static size_t full_key(struct call *call, const uint8_t *key, size_t keylen, uint8_t out[FULL_KEY_MAX])
{
    if (keylen == 0 || keylen > HB_STORE_KEY_MAX) {
        snprintf(call->err, call->errlen, "%s: key of %zu bytes", call->rs->where, keylen);
        return 0;
    }
    memcpy(out, KEY_PREFIX, KEY_PREFIX_LEN);
    memcpy(out + KEY_PREFIX_LEN, key, keylen);
    return KEY_PREFIX_LEN + keylen;
}

/* The value in a GET reply: HB_STORE_OK (copied), HB_STORE_NOT_FOUND, or an error. */
static int take_value(struct call *call, const redisReply *r, uint8_t *value, size_t *valuelen)
{
    if (r->type == REDIS_REPLY_NIL)
        return HB_STORE_NOT_FOUND;
    if (r->type != REDIS_REPLY_STRING)
        return rc_fail(call, "GET", "unexpected reply");
    if (r->len > HB_STORE_VALUE_MAX)
        return rc_fail(call, "GET", "value larger than HB_STORE_VALUE_MAX");
    memcpy(value, r->str, r->len);
    *valuelen = r->len;
    return HB_STORE_OK;
}

static int redis_get(void *backend, const uint8_t *key, size_t keylen,
                     uint8_t *value, size_t *valuelen, char *err, size_t errlen)
{
    struct call call;
    uint8_t k[FULL_KEY_MAX];
    redisReply *r = NULL;
    size_t klen;
    int rc = HB_STORE_ERROR;

    rc_begin(&call, backend, err, errlen);
    klen = full_key(&call, key, keylen, k);
    if (klen > 0 && rc_ready(&call) == 0 && rc_append(&call, "GET", "GET %b", k, klen) == 0)
        r = rc_next_reply(&call, "GET");
    if (r != NULL)
        rc = take_value(&call, r, value, valuelen);
    freeReplyObject(r);
    rc_end(&call);
    return rc;
}

/* n gets in one round trip (MGET); a bad key fails only its own rcs[i]. */
static int redis_get_many(void *backend, const uint8_t *const keys[], const size_t keylens[], size_t n,
                          uint8_t values[][HB_STORE_VALUE_MAX], size_t valuelens[], int rcs[],
                          char *err, size_t errlen)
{
    struct call call;
    uint8_t k[HB_STORE_MANY_MAX][FULL_KEY_MAX];
    const char *argv[1 + HB_STORE_MANY_MAX];
    size_t argvlen[1 + HB_STORE_MANY_MAX], sent[HB_STORE_MANY_MAX];
    size_t argc = 1, m = 0;
    redisReply *r = NULL;
    int rc = HB_STORE_ERROR;

    rc_begin(&call, backend, err, errlen);
    argv[0] = "MGET";
    argvlen[0] = 4;
    for (size_t i = 0; i < n && i < HB_STORE_MANY_MAX; i++) {
        size_t klen = full_key(&call, keys[i], keylens[i], k[i]);

        rcs[i] = HB_STORE_ERROR;
        if (klen > 0) {
            argv[argc] = (const char *) k[i];
            argvlen[argc++] = klen;
            sent[m++] = i;
        }
    }
    if (m == 0) {
        rc = HB_STORE_OK;        /* every key was bad: each has its error */
    } else if (rc_ready(&call) == 0) {
        if (redisAppendCommandArgv(call.rs->c, (int) argc, argv, argvlen) != REDIS_OK)
            rc_fail(&call, "MGET", "out of memory");
        else
            r = rc_next_reply(&call, "MGET");
    }
    if (r != NULL && (r->type != REDIS_REPLY_ARRAY || r->elements != m)) {
        rc_fail(&call, "MGET", "unexpected reply");
    } else if (r != NULL) {
        rc = HB_STORE_OK;
        for (size_t j = 0; j < m && rc == HB_STORE_OK; j++)
            rcs[sent[j]] = take_value(&call, r->element[j], values[sent[j]], &valuelens[sent[j]]);
        for (size_t j = 0; j < m; j++)
            rc = rcs[sent[j]] == HB_STORE_ERROR ? HB_STORE_ERROR : rc;
    }
    freeReplyObject(r);
    rc_end(&call);
    return rc;
}

/*
 * One optimistic transaction: WATCH, GET, fn, then MULTI/SET or DEL/EXEC
 * (or UNWATCH for KEEP).  1 when EXEC was aborted by a concurrent write
 * (try again), 0 done, -1 failed.
 */
static int update_once(struct call *call, const uint8_t *k, size_t klen,
                       hb_store_update_fn fn, void *arg)
{
    uint8_t old[HB_STORE_VALUE_MAX], out[HB_STORE_VALUE_MAX];
    size_t oldlen = 0, outlen = 0;
    long ttl = 0;
    enum hb_store_action action;
    redisReply *r;
    int rc;

    if (rc_append(call, "WATCH", "WATCH %b", k, klen) != 0 || rc_expect_status(call, "WATCH") != 0
        || rc_append(call, "GET", "GET %b", k, klen) != 0 || (r = rc_next_reply(call, "GET")) == NULL)
        return -1;
    rc = take_value(call, r, old, &oldlen);
    freeReplyObject(r);
    if (rc == HB_STORE_ERROR)
        return -1;
    action = fn(oldlen > 0 || rc == HB_STORE_OK ? old : NULL, oldlen, out, &outlen, &ttl, arg);
    if (action == HB_STORE_KEEP)
        return rc_append(call, "UNWATCH", "UNWATCH") == 0 ? rc_expect_status(call, "UNWATCH") : -1;
    if (action == HB_STORE_PUT && (ttl <= 0 || outlen > HB_STORE_VALUE_MAX)) {
        /* the caller's mistake, not the connection's: keep it */
        snprintf(call->err, call->errlen, "%s: update function: bad value length or ttl", call->rs->where);
        if (rc_append(call, "UNWATCH", "UNWATCH") == 0)
            rc_expect_status(call, "UNWATCH");   /* a failure there frees the connection */
        return -1;
    }
    if (rc_append(call, "MULTI", "MULTI") != 0
        || (action == HB_STORE_PUT ? rc_append(call, "SET", "SET %b %b EX %ld", k, klen, out, outlen, ttl)
                                   : rc_append(call, "DEL", "DEL %b", k, klen)) != 0
        || rc_append(call, "EXEC", "EXEC") != 0
        || rc_expect_status(call, "MULTI") != 0 || rc_expect_status(call, "QUEUED") != 0
        || (r = rc_next_reply(call, "EXEC")) == NULL)
        return -1;
    if (r->type == REDIS_REPLY_NIL)
        rc = 1;
    else if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->type == REDIS_REPLY_ERROR)
        rc = rc_fail(call, "EXEC", r->type == REDIS_REPLY_ARRAY && r->elements == 1 ? r->element[0]->str
                                                                              : "unexpected reply");
    else
        rc = 0;
    freeReplyObject(r);
    return rc;
}

/* After a lost race: a random pause below RETRY_PAUSE_US, so that contenders spread out. */
static void pause_before_retry(unsigned *seed)
{
    struct timespec pause = {0, (long) (rand_r(seed) % RETRY_PAUSE_US) * 1000L};

    nanosleep(&pause, NULL);
}

static int redis_update(void *backend, const uint8_t *key, size_t keylen,
                        hb_store_update_fn fn, void *arg, char *err, size_t errlen)
{
    struct call call;
    uint8_t k[FULL_KEY_MAX];
    size_t klen;
    int rc = -1;

    rc_begin(&call, backend, err, errlen);
    klen = full_key(&call, key, keylen, k);
    if (klen > 0 && rc_ready(&call) == 0) {
        unsigned seed = (unsigned) getpid() ^ (unsigned) call.deadline.tv_nsec;

        rc = update_once(&call, k, klen, fn, arg);
        for (int tries = 1; rc == 1 && tries < UPDATE_TRIES; tries++) {
            pause_before_retry(&seed);
            rc = update_once(&call, k, klen, fn, arg);
        }
        if (rc == 1)
            rc = rc_fail(&call, "update", "too many concurrent changes of the key");
    }
    rc_end(&call);
    return rc == 0 ? HB_STORE_OK : HB_STORE_ERROR;
}

/* A SCAN MATCH pattern for keys starting with KEY_PREFIX + prefix: glob characters escaped. */
static size_t scan_pattern(const uint8_t *k, size_t klen, char out[PATTERN_MAX])
{
    size_t n = 0;

    for (size_t i = 0; i < klen; i++) {
        if (memchr("*?[]\\", k[i], 5) != NULL)
            out[n++] = '\\';
        out[n++] = (char) k[i];
    }
    out[n++] = '*';
    return n;
}

/* GET every key of one SCAN batch (pipelined) and hand the live ones to fn; 1 when fn stopped. */
static int scan_batch(struct call *call, const redisReply *keys, hb_store_scan_fn fn, void *arg)
{
    int rc = 0;

    for (size_t i = 0; i < keys->elements && rc == 0; i++)
        rc = keys->element[i]->type != REDIS_REPLY_STRING
                 ? rc_fail(call, "SCAN", "unexpected reply")
                 : rc_append(call, "GET", "GET %b", keys->element[i]->str, keys->element[i]->len);
    for (size_t i = 0; i < keys->elements && rc >= 0; i++) {
        const redisReply *key = keys->element[i];
        redisReply *r = rc_next_reply(call, "GET");

        if (r == NULL)
            rc = -1;
        else if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)
            rc = rc_fail(call, "GET", "unexpected reply");
        else if (rc == 0 && r->type == REDIS_REPLY_STRING && key->len > KEY_PREFIX_LEN)
            rc = fn((const uint8_t *) key->str + KEY_PREFIX_LEN, key->len - KEY_PREFIX_LEN,
                    (const uint8_t *) r->str, r->len, arg) != 0;
        freeReplyObject(r);
    }
    return rc;
}

/* The scan itself; 0 when every batch was seen or fn stopped, -1 failed. */
static int scan_all(struct call *call, const char *pattern, size_t patlen, hb_store_scan_fn fn, void *arg)
{
    char cursor[32] = "0";
    int rc = 0;

    do {
        redisReply *r;

        rc_renew(call);
        if (rc_append(call, "SCAN", "SCAN %s MATCH %b COUNT %d", cursor, pattern, patlen, SCAN_COUNT) != 0
            || (r = rc_next_reply(call, "SCAN")) == NULL)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING
            || r->element[0]->len >= sizeof(cursor) || r->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = rc_fail(call, "SCAN", "unexpected reply");
        } else {
            memcpy(cursor, r->element[0]->str, r->element[0]->len);
            cursor[r->element[0]->len] = '\0';
            rc = scan_batch(call, r->element[1], fn, arg);
        }
        freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    return rc < 0 ? -1 : 0;
}

static int redis_scan(void *backend, const uint8_t *prefix, size_t prefixlen,
                      hb_store_scan_fn fn, void *arg, char *err, size_t errlen)
{
    struct call call;
    uint8_t k[FULL_KEY_MAX];
    char pattern[PATTERN_MAX];
    size_t patlen;
    int rc = -1;

    rc_begin(&call, backend, err, errlen);
    if (prefixlen > HB_STORE_KEY_MAX) {
        snprintf(err, errlen, "%s: prefix of %zu bytes", call.rs->where, prefixlen);
    } else if (rc_ready(&call) == 0) {
        memcpy(k, KEY_PREFIX, KEY_PREFIX_LEN);
        if (prefixlen > 0)
            memcpy(k + KEY_PREFIX_LEN, prefix, prefixlen);
        patlen = scan_pattern(k, KEY_PREFIX_LEN + prefixlen, pattern);
        rc = scan_all(&call, pattern, patlen, fn, arg);
    }
    rc_end(&call);
    return rc == 0 ? HB_STORE_OK : HB_STORE_ERROR;
}

/* Digits of a number in [0, max] at s; the position after them, or NULL. */
static const char *parse_number(const char *s, long max, long *out)
{
    long n = 0;

    if (*s < '0' || *s > '9')
        return NULL;
    for (; *s >= '0' && *s <= '9'; s++) {
        n = n * 10 + (*s - '0');
        if (n > max)
            return NULL;
    }
    *out = n;
    return s;
}

/* "redis://ADDRESS[:PORT][/DB]": ADDRESS an IPv4 literal or a bracketed IPv6 literal. */
static int parse_tcp(struct redis_store *rs, const char *s)
{
    struct sockaddr_in *in = (struct sockaddr_in *) &rs->addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &rs->addr;
    const char *end = s[0] == '[' ? strchr(s, ']') : s + strcspn(s, ":/");
    char host[HB_IP_BUF];
    long port = 6379;
    size_t len = end == NULL ? 0 : (size_t) (end - s) - (s[0] == '[');

    if (end == NULL || len == 0 || len >= sizeof(host))
        return -1;
    memcpy(host, s + (s[0] == '['), len);
    host[len] = '\0';
    if (s[0] == '[' ? inet_pton(AF_INET6, host, &in6->sin6_addr) != 1 : inet_pton(AF_INET, host, &in->sin_addr) != 1)
        return -1;
    rs->addr.ss_family = s[0] == '[' ? AF_INET6 : AF_INET;
    rs->addrlen = s[0] == '[' ? sizeof(*in6) : sizeof(*in);
    s = s[0] == '[' ? end + 1 : end;
    if (*s == ':' && ((s = parse_number(s + 1, 65535, &port)) == NULL || port == 0))
        return -1;
    if (rs->addr.ss_family == AF_INET6)
        in6->sin6_port = htons((uint16_t) port);
    else
        in->sin_port = htons((uint16_t) port);
    if (*s == '/' && (s = parse_number(s + 1, DB_MAX, &rs->db)) == NULL)
        return -1;
    snprintf(rs->where, sizeof(rs->where), rs->addr.ss_family == AF_INET6 ? "%s [%s]:%ld/%ld" : "%s %s:%ld/%ld",
             rs->tls ? "rediss" : "redis", host, port, rs->db);
    memcpy(rs->host, host, sizeof(rs->host));
    return *s == '\0' ? 0 : -1;
}

/* "redis+unix:/PATH[?db=N]". */
static int parse_unix(struct redis_store *rs, const char *s)
{
    struct sockaddr_un *un = (struct sockaddr_un *) &rs->addr;
    size_t len = strcspn(s, "?");

    if (s[0] != '/' || len >= sizeof(un->sun_path))
        return -1;
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, s, len);
    rs->addrlen = sizeof(*un);
    s += len;
    if (strncmp(s, "?db=", 4) == 0 && (s = parse_number(s + 4, DB_MAX, &rs->db)) == NULL)
        return -1;
    snprintf(rs->where, sizeof(rs->where), "redis unix:%.60s?db=%ld", un->sun_path, rs->db);
    return *s == '\0' ? 0 : -1;
}

/* Fill rs from the store name; the name is not echoed (it could hold a mistyped secret). */
static int parse_name(struct redis_store *rs, const char *name, char *err, size_t errlen)
{
    int rc = -1;

    if (strncmp(name, "redis://", 8) == 0) {
        rc = parse_tcp(rs, name + 8);
        if (rc != 0)
            snprintf(err, errlen, "store: expected redis://ADDRESS[:PORT][/DB] with ADDRESS an IPv4"
                     " or [IPv6] literal (names are not resolved: no timeout bounds a lookup)");
    } else if (strncmp(name, "rediss://", 9) == 0) {
#ifdef HAVE_HIREDIS_SSL
        rs->tls = true;
        rc = parse_tcp(rs, name + 9);
        if (rc != 0)
            snprintf(err, errlen, "store: expected rediss://ADDRESS[:PORT][/DB] with ADDRESS an IPv4"
                     " or [IPv6] literal (names are not resolved: no timeout bounds a lookup)");
#else
        snprintf(err, errlen, "store: rediss:// (Redis over TLS) needs hiredis >= 1.0 with hiredis_ssl;"
                 " this module was built without it");
#endif
    } else if (strncmp(name, "redis+unix:", 11) == 0) {
        rc = parse_unix(rs, name + 11);
        if (rc != 0)
            snprintf(err, errlen, "store: expected redis+unix:/PATH[?db=N] (PATH below 108 bytes)");
    } else {
        snprintf(err, errlen, "store: not a Redis store name");
    }
    return rc;
}

/* Free the connection (closing this process's descriptor, sending nothing) and rs. */
static void redis_free(void *backend)
{
    struct redis_store *rs = backend;

    if (rs->c != NULL)
        redisFree(rs->c);
#ifdef HAVE_HIREDIS_SSL
    SSL_CTX_free(rs->ssl_ctx);
#endif
    free(rs->auth_file);
    free(rs);
}

/*
 * Parse the name (NULL with err set when it is wrong) and connect.  A
 * failed connection still gives the backend, in the failed state: its
 * calls fail at once with the reason until RETRY_MS have passed, so that
 * store.c, which would open again at every login, does not make each
 * login wait for a dead or hung Redis.
 */
static void *redis_open(const struct hb_config *cfg, char *err, size_t errlen)
{
    struct redis_store *rs = calloc(1, sizeof(*rs));
    struct call call;

    err[0] = '\0';
    if (rs == NULL) {
        snprintf(err, errlen, "out of memory");
    } else if (parse_name(rs, cfg->store, err, errlen) != 0
               || (cfg->store_auth_file != NULL && (rs->auth_file = strdup(cfg->store_auth_file)) == NULL)) {
        if (err[0] == '\0')
            snprintf(err, errlen, "out of memory");
        redis_free(rs);
        rs = NULL;
#ifdef HAVE_HIREDIS_SSL
    } else if (rs->tls && rc_tls_setup(rs, cfg, err, errlen) != 0) {
        redis_free(rs);      /* a file of store_cafile, store_cert, store_key is unusable */
        rs = NULL;
#endif
    } else {
        rs->timeout_ms = cfg->store_timeout_ms;
        rc_begin(&call, rs, err, errlen);
        rc_connect(&call);
        rc_end(&call);
        err[0] = '\0';
    }
    return rs;
}

const struct hb_store_ops hb_store_redis_ops = {
    .scheme = "redis",           /* both redis:// and redis+unix: */
    .open = redis_open,
    .abandon = redis_free,
    .close = redis_free,
    .get = redis_get,
    .get_many = redis_get_many,
    .update = redis_update,
    .scan = redis_scan,
};
