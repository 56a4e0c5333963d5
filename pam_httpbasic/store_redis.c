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
 * Time: every call (connect, AUTH and SELECT included when it has to
 * connect) gets one deadline, store_timeout from its start; before each
 * round trip the socket's send and receive timeouts are set to what is
 * left.  scan() is for the admin tool and gives each round trip its own
 * store_timeout.
 *
 * Failures: any error (refused, reset, timeout, error reply, unexpected
 * reply) frees the connection and is reported as HB_STORE_ERROR with a
 * short reason; the next call reconnects, but not within RETRY_MS of the
 * failure (calls in between fail at once, naming the last error), so a
 * Redis that is down or hung costs one store_timeout per second per
 * process, and a Redis restart costs only what it held.  open() fails
 * only for a wrong store name: a Redis that cannot be reached at open
 * gives a backend in that failed state (store.c would otherwise try to
 * open it again, and wait for it, at every login).
 *
 * Descriptors and signals: this file opens and connects the socket itself
 * (SOCK_CLOEXEC, so no exec ever inherits it; a non-blocking connect
 * bounded by the deadline; no name lookup) and hands it to hiredis with
 * redisConnectFd(); hiredis 0.14 would open it without close-on-exec and
 * resolve with an unbounded getaddrinfo().  hiredis writes with
 * write(), so SIGPIPE is blocked in the calling thread during each call
 * and one it caused is consumed before the mask is restored; no handler
 * is installed.  The AUTH command is written by this file, from a buffer
 * it wipes, so the password is never left in hiredis' output buffer.
 *
 * TLS (rediss://): the socket stays non-blocking through the handshake;
 * hiredis gets the SSL object (redisInitiateSSL, with its blocking flag
 * cleared for that call, so it only starts the handshake) and this file
 * finishes the handshake itself, polling within the call's deadline, then
 * makes the socket blocking for the commands.  Redis's certificate must chain to
 * store_cafile and name HOST's address (an IP SAN: there is no host name);
 * TLS 1.2 at least.  store_cert/store_key: an optional client certificate.
 * The three files are read by this file (close-on-exec, no symlink, owner
 * and mode checked; the key as a secret file), never by OpenSSL's own
 * file functions, and loaded from memory; the key's buffer is wiped.
 * OpenSSL's error queue is left empty.
 *
 * Fork: close and abandon are the same: redisFree() closes this process's
 * descriptor and frees memory, sending nothing (no QUIT), so a child
 * dropping an inherited connection leaves the parent's intact.
 */
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#ifdef HAVE_HIREDIS_SSL
#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "store_redis_tls.h"
#endif

#include "files.h"
#include "validate.h"

#define KEY_PREFIX "pam_httpbasic:"
#define KEY_PREFIX_LEN (sizeof(KEY_PREFIX) - 1)
#define FULL_KEY_MAX (KEY_PREFIX_LEN + HB_STORE_KEY_MAX)
#define PATTERN_MAX (2 * FULL_KEY_MAX + 2)
#define RETRY_MS 1000L           /* no reconnect sooner after a failure */
#define UPDATE_TRIES 1000        /* optimistic transactions per update, within the deadline */
#define RETRY_PAUSE_US 2000      /* at most this long (random) before trying again */
#define SCAN_COUNT 100           /* keys asked for per SCAN */
#define REASON_LEN 160
#define DB_MAX 1000000L          /* Redis itself refuses what it lacks */

struct redis_store {
    redisContext *c;             /* NULL while not connected */
    struct sockaddr_storage addr; /* where Redis listens: IPv4, IPv6 or unix */
    socklen_t addrlen;
    long db;
    char *auth_file;             /* NULL: no AUTH */
    long timeout_ms;
    long armed_ms;               /* the socket timeouts last set on c, -1: none yet */
    char where[80];              /* "redis 127.0.0.1:6379/0", for reasons */
    bool tls;                    /* rediss:// */
    char host[HB_IP_BUF];        /* the address literal, for the certificate check */
#ifdef HAVE_HIREDIS_SSL
    SSL_CTX *ssl_ctx;            /* rediss://: CA, client certificate; NULL otherwise */
    SSL *ssl;                    /* the connection's, owned by hiredis once handed over */
#endif
    bool failed;                 /* last connection attempt or call failed */
    struct timespec failed_at;   /* CLOCK_MONOTONIC, when it did */
    char last_error[REASON_LEN];
};

/* One call: its deadline, where its error goes, the SIGPIPE state to restore. */
struct call {
    struct redis_store *rs;
    struct timespec deadline;    /* CLOCK_MONOTONIC */
    char *err;
    size_t errlen;
    sigset_t old_mask;
    bool pipe_was_pending;
};

/* Milliseconds from one CLOCK_MONOTONIC time to another (negative when to is earlier). */
static long ms_between(const struct timespec *from, const struct timespec *to)
{
    return (to->tv_sec - from->tv_sec) * 1000L + (to->tv_nsec - from->tv_nsec) / 1000000L;
}

/* (Re)start the call's deadline: store_timeout from now (scan: one per round trip). */
static void call_renew(struct call *call)
{
    clock_gettime(CLOCK_MONOTONIC, &call->deadline);
    call->deadline.tv_sec += call->rs->timeout_ms / 1000;
    call->deadline.tv_nsec += (call->rs->timeout_ms % 1000) * 1000000L;
    if (call->deadline.tv_nsec >= 1000000000L) {
        call->deadline.tv_sec++;
        call->deadline.tv_nsec -= 1000000000L;
    }
}

/* Start a call: deadline store_timeout from now, SIGPIPE blocked in this thread. */
static void call_begin(struct call *call, struct redis_store *rs, char *err, size_t errlen)
{
    sigset_t pipe_set, pending;

    call->rs = rs;
    call->err = err;
    call->errlen = errlen;
    err[0] = '\0';
    call_renew(call);
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    call->pipe_was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &call->old_mask);
}

/* End a call: consume a SIGPIPE the call raised, restore the signal mask. */
static void call_end(struct call *call)
{
    static const struct timespec no_wait = {0, 0};
    sigset_t pipe_set;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (!call->pipe_was_pending)
        while (sigtimedwait(&pipe_set, NULL, &no_wait) == SIGPIPE)
            ;
    pthread_sigmask(SIG_SETMASK, &call->old_mask, NULL);
}

/*
 * The call failed: free the connection, remember when and why, and put
 * "WHERE: WHAT: WHY" into the caller's err.  Returns -1.
 */
static int fail(struct call *call, const char *what, const char *why)
{
    struct redis_store *rs = call->rs;

    snprintf(rs->last_error, sizeof(rs->last_error), "%s: %.100s", what, why);
    for (char *p = rs->last_error; *p != '\0'; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            *p = '?';
    snprintf(call->err, call->errlen, "%s: %s", rs->where, rs->last_error);
    if (rs->c != NULL)
        redisFree(rs->c);
    rs->c = NULL;
    rs->armed_ms = -1;
    rs->failed = true;
    clock_gettime(CLOCK_MONOTONIC, &rs->failed_at);
    return -1;
}

/* The reason of an I/O failure of the context: a timeout says so. */
static const char *io_reason(const redisContext *c)
{
    if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        return "timed out";
    if (c->err == REDIS_ERR_EOF)
        return "connection closed by the server";
    return c->errstr;
}

/*
 * Set the socket timeouts to what is left of the call; -1 (failed) when
 * nothing is.  The first read of a call finds the whole store_timeout left,
 * as the last call did: the two setsockopt() are then skipped.
 */
static int arm_timeout(struct call *call, const char *what)
{
    struct timespec now;
    struct timeval tv;
    long left;

    clock_gettime(CLOCK_MONOTONIC, &now);
    left = ms_between(&now, &call->deadline);
    if (left <= 0)
        return fail(call, what, "timed out");
    if (left == call->rs->armed_ms)
        return 0;
    tv.tv_sec = left / 1000;
    tv.tv_usec = (left % 1000) * 1000;
    if (redisSetTimeout(call->rs->c, tv) != REDIS_OK)
        return fail(call, what, io_reason(call->rs->c));
    call->rs->armed_ms = left;
    return 0;
}

/*
 * Read the next reply (flushing what was appended first).  An I/O error or
 * an error reply fails the call and gives NULL; else the caller frees it.
 */
static redisReply *next_reply(struct call *call, const char *what)
{
    void *reply = NULL;
    redisReply *r;

    if (arm_timeout(call, what) != 0)
        return NULL;
    if (redisGetReply(call->rs->c, &reply) != REDIS_OK || reply == NULL) {
        fail(call, what, io_reason(call->rs->c));
        return NULL;
    }
    r = reply;
    if (r->type == REDIS_REPLY_ERROR) {
        fail(call, what, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Append one command (hiredis format, %b for bytes) to the pipeline; -1 failed. */
static int append(struct call *call, const char *what, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = redisvAppendCommand(call->rs->c, fmt, ap);
    va_end(ap);
    return rc == REDIS_OK ? 0 : fail(call, what, "out of memory");
}

/* Write len bytes straight to the socket, within the call's deadline. */
static int write_raw(struct call *call, const char *what, const char *buf, size_t len)
{
    size_t done = 0;

    if (arm_timeout(call, what) != 0)
        return -1;
    while (done < len) {
        ssize_t n;

#ifdef HAVE_HIREDIS_SSL
        if (call->rs->ssl != NULL) {   /* rediss://: through the TLS connection */
            int w;

            ERR_clear_error();
            w = SSL_write(call->rs->ssl, buf + done, (int) (len - done));
            ERR_clear_error();
            if (w <= 0)
                return fail(call, what, errno == EAGAIN ? "timed out" : "TLS write failed");
            done += (size_t) w;
            continue;
        }
#endif
        n = write(call->rs->c->fd, buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail(call, what, errno == EAGAIN ? "timed out" : strerror(errno));
        done += (size_t) n;
    }
    return 0;
}

/* A status reply ("+OK") is expected; -1 failed. */
static int expect_status(struct call *call, const char *what)
{
    redisReply *r = next_reply(call, what);
    int rc = 0;

    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_STATUS)
        rc = fail(call, what, "unexpected reply");
    freeReplyObject(r);
    return rc;
}

/* Split the first line of an auth file into user (maybe empty) and password. */
static int split_auth(const unsigned char *buf, size_t len, size_t *userlen, size_t *passoff)
{
    const unsigned char *nl = memchr(buf, '\n', len);
    const unsigned char *space;

    if (nl != NULL)
        len = (size_t) (nl - buf);
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    space = memchr(buf, ' ', len);
    *userlen = space == NULL ? 0 : (size_t) (space - buf);
    *passoff = space == NULL ? 0 : *userlen + 1;
    if (len == 0 || (space != NULL && (*userlen == 0 || *passoff == len)))
        return -1;
    return (int) (len - *passoff);
}

/* AUTH with store_auth_file ("PASSWORD" or "USER PASSWORD"); the password never reaches a log. */
static int authenticate(struct call *call)
{
    struct redis_store *rs = call->rs;
    unsigned char secret[HB_SECRET_MAX];
    char why[HB_ERROR_LEN];
    char *cmd = NULL;
    size_t len = 0, userlen, passoff;
    int passlen, cmdlen = -1, rc;

    if (rs->auth_file == NULL)
        return 0;
    if (hb_read_secret(rs->auth_file, secret, &len, why, sizeof(why)) != 0)
        return fail(call, "store_auth_file", why);
    passlen = split_auth(secret, len, &userlen, &passoff);
    if (passlen > 0 && userlen > 0)
        cmdlen = redisFormatCommand(&cmd, "AUTH %b %b", secret, userlen, secret + passoff, (size_t) passlen);
    else if (passlen > 0)
        cmdlen = redisFormatCommand(&cmd, "AUTH %b", secret, (size_t) passlen);
    explicit_bzero(secret, sizeof(secret));
    if (passlen <= 0)
        return fail(call, "store_auth_file", "expected one line: PASSWORD or USER PASSWORD");
    if (cmdlen < 0)
        return fail(call, "AUTH", "out of memory");
    rc = write_raw(call, "AUTH", cmd, (size_t) cmdlen);
    explicit_bzero(cmd, (size_t) cmdlen);
    redisFreeCommand(cmd);
    return rc == 0 ? expect_status(call, "AUTH") : -1;
}

/* Wait until the non-blocking connect on fd finished or the call's deadline; 0 or an errno. */
static int wait_connected(struct call *call, int fd)
{
    struct pollfd pfd = {fd, POLLOUT, 0};
    struct timespec now;
    int rc, error = 0;
    socklen_t len = sizeof(error);

    do {
        long left;

        clock_gettime(CLOCK_MONOTONIC, &now);
        left = ms_between(&now, &call->deadline);
        rc = poll(&pfd, 1, left > 0 ? (int) left : 0);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return errno;
    if (rc == 0)
        return ETIMEDOUT;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
        return errno;
    return error;
}

#ifdef HAVE_HIREDIS_SSL
/* The TLS context of a rediss:// store (store_redis_tls.c); -1 with err set. */
static int tls_setup(struct redis_store *rs, const struct hb_config *cfg, char *err, size_t errlen)
{
    char why[HB_ERROR_LEN];

    rs->ssl_ctx = hb_redis_tls_context(cfg, why, sizeof(why));
    if (rs->ssl_ctx == NULL) {
        snprintf(err, errlen, "%s: %s", rs->where, why);
        return -1;
    }
    return 0;
}

/*
 * TLS on the connected, still non-blocking socket of rs->c, within the
 * call's deadline; -1 (call failed) otherwise.  hiredis gets the SSL
 * object first (redisInitiateSSL, with its blocking flag cleared for that
 * call so that it only starts the handshake and returns), then this
 * function finishes the handshake itself, polling between the steps, so
 * that no blocking read can outlast the deadline.  rs->ssl is hiredis's
 * from then on (freed by redisFree).
 */
static int tls_connect(struct call *call)
{
    struct redis_store *rs = call->rs;
    SSL *ssl = SSL_new(rs->ssl_ctx);
    const char *why = NULL;
    int started;

    if (ssl == NULL || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), rs->host) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return fail(call, "TLS", "cannot set up the TLS connection");
    }
    rs->c->flags &= ~REDIS_BLOCK;
    started = redisInitiateSSL(rs->c, ssl);
    rs->c->flags |= REDIS_BLOCK;
    if (started != REDIS_OK) {          /* hiredis did not take it */
        SSL_free(ssl);
        ERR_clear_error();
        return fail(call, "TLS", rs->c->errstr[0] != '\0' ? rs->c->errstr : "handshake failed");
    }
    rs->ssl = ssl;
    while (why == NULL) {
        struct pollfd pfd = {rs->c->fd, POLLIN, 0};
        struct timespec now;
        long left, verify;
        int rc, e;

        ERR_clear_error();
        rc = SSL_do_handshake(ssl);
        if (rc == 1)
            break;
        e = SSL_get_error(ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            verify = SSL_get_verify_result(ssl);
            if (verify != X509_V_OK)
                why = X509_verify_cert_error_string(verify);
            else if (e == SSL_ERROR_SYSCALL)
                why = errno != 0 ? strerror(errno) : "connection closed by the server";
            else if ((why = ERR_reason_error_string(ERR_peek_last_error())) == NULL)
                why = "handshake failed";
            break;
        }
        pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = ms_between(&now, &call->deadline);
        rc = left > 0 ? poll(&pfd, 1, (int) left) : 0;
        if (rc == 0)
            why = "timed out";
        else if (rc < 0 && errno != EINTR)
            why = strerror(errno);
    }
    if (why != NULL) {
        char reason[REASON_LEN];

        snprintf(reason, sizeof(reason), "%s", why);   /* before the error queue goes */
        ERR_clear_error();
        rs->ssl = NULL;                                 /* redisFree (in fail) frees it */
        return fail(call, "TLS", reason);
    }
    ERR_clear_error();
    return 0;
}
#endif

/*
 * A socket connected to Redis within the call's deadline, made
 * close-on-exec atomically (SOCK_CLOEXEC); -1 (call failed) otherwise.
 * Blocking, except for rediss://, whose handshake needs it non-blocking
 * (tls_connect; set_blocking afterwards).
 */
static int open_socket(struct call *call)
{
    struct redis_store *rs = call->rs;
    int fd = socket(rs->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int error = 0, one = 1;

    if (fd < 0)
        return fail(call, "connect", strerror(errno));
    if (connect(fd, (const struct sockaddr *) &rs->addr, rs->addrlen) != 0)
        error = errno == EINPROGRESS ? wait_connected(call, fd) : errno;
    if (error == 0 && !rs->tls && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
        error = errno;
    if (error == 0 && rs->addr.ss_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (error != 0) {
        close(fd);
        return fail(call, "connect", error == ETIMEDOUT ? "timed out" : strerror(error));
    }
    return fd;
}

/* Connect (TLS for rediss://), keepalive (TCP), AUTH, SELECT; -1 failed. */
static int connect_store(struct call *call)
{
    struct redis_store *rs = call->rs;
    int fd;

#ifdef HAVE_HIREDIS_SSL
    rs->ssl = NULL;
#endif
    fd = open_socket(call);
    if (fd < 0)
        return -1;
    rs->c = redisConnectFd(fd);
    rs->armed_ms = -1;
    if (rs->c == NULL) {
        close(fd);
        return fail(call, "connect", "out of memory");
    }
#ifdef HAVE_HIREDIS_SSL
    if (rs->tls && rs->c->err == 0) {
        if (tls_connect(call) != 0)
            return -1;
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
            return fail(call, "connect", strerror(errno));
    }
#endif
    if (rs->c->err != 0)
        return fail(call, "connect", rs->c->errstr);
    if (rs->addr.ss_family != AF_UNIX && redisEnableKeepAlive(rs->c) != REDIS_OK)
        return fail(call, "keepalive", rs->c->errstr);
    if (authenticate(call) != 0)
        return -1;
    if (append(call, "SELECT", "SELECT %ld", rs->db) != 0 || expect_status(call, "SELECT") != 0)
        return -1;
    rs->failed = false;
    return 0;
}

/* A usable connection: the open one, or a new one unless the last failure is too recent. */
static int ready(struct call *call)
{
    struct redis_store *rs = call->rs;
    struct timespec now;
    long since;

    if (rs->c != NULL)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    since = ms_between(&rs->failed_at, &now);
    if (rs->failed && since >= 0 && since < RETRY_MS) {
        snprintf(call->err, call->errlen, "%s: %s (next try in %ld ms)",
                 rs->where, rs->last_error, RETRY_MS - since);
        return -1;
    }
    return connect_store(call);
}

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
        return fail(call, "GET", "unexpected reply");
    if (r->len > HB_STORE_VALUE_MAX)
        return fail(call, "GET", "value larger than HB_STORE_VALUE_MAX");
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

    call_begin(&call, backend, err, errlen);
    klen = full_key(&call, key, keylen, k);
    if (klen > 0 && ready(&call) == 0 && append(&call, "GET", "GET %b", k, klen) == 0)
        r = next_reply(&call, "GET");
    if (r != NULL)
        rc = take_value(&call, r, value, valuelen);
    freeReplyObject(r);
    call_end(&call);
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

    call_begin(&call, backend, err, errlen);
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
    } else if (ready(&call) == 0) {
        if (redisAppendCommandArgv(call.rs->c, (int) argc, argv, argvlen) != REDIS_OK)
            fail(&call, "MGET", "out of memory");
        else
            r = next_reply(&call, "MGET");
    }
    if (r != NULL && (r->type != REDIS_REPLY_ARRAY || r->elements != m)) {
        fail(&call, "MGET", "unexpected reply");
    } else if (r != NULL) {
        rc = HB_STORE_OK;
        for (size_t j = 0; j < m && rc == HB_STORE_OK; j++)
            rcs[sent[j]] = take_value(&call, r->element[j], values[sent[j]], &valuelens[sent[j]]);
        for (size_t j = 0; j < m; j++)
            rc = rcs[sent[j]] == HB_STORE_ERROR ? HB_STORE_ERROR : rc;
    }
    freeReplyObject(r);
    call_end(&call);
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

    if (append(call, "WATCH", "WATCH %b", k, klen) != 0 || expect_status(call, "WATCH") != 0
        || append(call, "GET", "GET %b", k, klen) != 0 || (r = next_reply(call, "GET")) == NULL)
        return -1;
    rc = take_value(call, r, old, &oldlen);
    freeReplyObject(r);
    if (rc == HB_STORE_ERROR)
        return -1;
    action = fn(oldlen > 0 || rc == HB_STORE_OK ? old : NULL, oldlen, out, &outlen, &ttl, arg);
    if (action == HB_STORE_KEEP)
        return append(call, "UNWATCH", "UNWATCH") == 0 ? expect_status(call, "UNWATCH") : -1;
    if (action == HB_STORE_PUT && (ttl <= 0 || outlen > HB_STORE_VALUE_MAX)) {
        /* the caller's mistake, not the connection's: keep it */
        snprintf(call->err, call->errlen, "%s: update function: bad value length or ttl", call->rs->where);
        if (append(call, "UNWATCH", "UNWATCH") == 0)
            expect_status(call, "UNWATCH");   /* a failure there frees the connection */
        return -1;
    }
    if (append(call, "MULTI", "MULTI") != 0
        || (action == HB_STORE_PUT ? append(call, "SET", "SET %b %b EX %ld", k, klen, out, outlen, ttl)
                                   : append(call, "DEL", "DEL %b", k, klen)) != 0
        || append(call, "EXEC", "EXEC") != 0
        || expect_status(call, "MULTI") != 0 || expect_status(call, "QUEUED") != 0
        || (r = next_reply(call, "EXEC")) == NULL)
        return -1;
    if (r->type == REDIS_REPLY_NIL)
        rc = 1;
    else if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->type == REDIS_REPLY_ERROR)
        rc = fail(call, "EXEC", r->type == REDIS_REPLY_ARRAY && r->elements == 1 ? r->element[0]->str
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

    call_begin(&call, backend, err, errlen);
    klen = full_key(&call, key, keylen, k);
    if (klen > 0 && ready(&call) == 0) {
        unsigned seed = (unsigned) getpid() ^ (unsigned) call.deadline.tv_nsec;

        rc = update_once(&call, k, klen, fn, arg);
        for (int tries = 1; rc == 1 && tries < UPDATE_TRIES; tries++) {
            pause_before_retry(&seed);
            rc = update_once(&call, k, klen, fn, arg);
        }
        if (rc == 1)
            rc = fail(&call, "update", "too many concurrent changes of the key");
    }
    call_end(&call);
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
                 ? fail(call, "SCAN", "unexpected reply")
                 : append(call, "GET", "GET %b", keys->element[i]->str, keys->element[i]->len);
    for (size_t i = 0; i < keys->elements && rc >= 0; i++) {
        const redisReply *key = keys->element[i];
        redisReply *r = next_reply(call, "GET");

        if (r == NULL)
            rc = -1;
        else if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)
            rc = fail(call, "GET", "unexpected reply");
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

        call_renew(call);
        if (append(call, "SCAN", "SCAN %s MATCH %b COUNT %d", cursor, pattern, patlen, SCAN_COUNT) != 0
            || (r = next_reply(call, "SCAN")) == NULL)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING
            || r->element[0]->len >= sizeof(cursor) || r->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = fail(call, "SCAN", "unexpected reply");
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

    call_begin(&call, backend, err, errlen);
    if (prefixlen > HB_STORE_KEY_MAX) {
        snprintf(err, errlen, "%s: prefix of %zu bytes", call.rs->where, prefixlen);
    } else if (ready(&call) == 0) {
        memcpy(k, KEY_PREFIX, KEY_PREFIX_LEN);
        if (prefixlen > 0)
            memcpy(k + KEY_PREFIX_LEN, prefix, prefixlen);
        patlen = scan_pattern(k, KEY_PREFIX_LEN + prefixlen, pattern);
        rc = scan_all(&call, pattern, patlen, fn, arg);
    }
    call_end(&call);
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
    } else if (rs->tls && tls_setup(rs, cfg, err, errlen) != 0) {
        redis_free(rs);      /* a file of store_cafile, store_cert, store_key is unusable */
        rs = NULL;
#endif
    } else {
        rs->timeout_ms = cfg->store_timeout_ms;
        call_begin(&call, rs, err, errlen);
        connect_store(&call);
        call_end(&call);
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
