/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_redis_conn.c - the Redis store's connection and calls: the socket
 * (opened and connected here), AUTH, SELECT, TLS, one deadline per call,
 * failures and the pause before reconnecting.  See store_redis_conn.h.
 */
#include "store_redis_conn.h"

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

/* Milliseconds from one CLOCK_MONOTONIC time to another (negative when to is earlier). */
static long ms_between(const struct timespec *from, const struct timespec *to)
{
    return (to->tv_sec - from->tv_sec) * 1000L + (to->tv_nsec - from->tv_nsec) / 1000000L;
}

/* (Re)start the call's deadline: store_timeout from now (scan: one per round trip). */
void rc_renew(struct call *call)
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
void rc_begin(struct call *call, struct redis_store *rs, char *err, size_t errlen)
{
    sigset_t pipe_set, pending;

    call->rs = rs;
    call->err = err;
    call->errlen = errlen;
    err[0] = '\0';
    rc_renew(call);
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    call->pipe_was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &call->old_mask);
}

/* End a call: consume a SIGPIPE the call raised, restore the signal mask. */
void rc_end(struct call *call)
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
int rc_fail(struct call *call, const char *what, const char *why)
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
        return rc_fail(call, what, "timed out");
    if (left == call->rs->armed_ms)
        return 0;
    tv.tv_sec = left / 1000;
    tv.tv_usec = (left % 1000) * 1000;
    if (redisSetTimeout(call->rs->c, tv) != REDIS_OK)
        return rc_fail(call, what, io_reason(call->rs->c));
    call->rs->armed_ms = left;
    return 0;
}

/*
 * Read the next reply (flushing what was appended first).  An I/O error or
 * an error reply fails the call and gives NULL; else the caller frees it.
 */
redisReply *rc_next_reply(struct call *call, const char *what)
{
    void *reply = NULL;
    redisReply *r;

    if (arm_timeout(call, what) != 0)
        return NULL;
    if (redisGetReply(call->rs->c, &reply) != REDIS_OK || reply == NULL) {
        rc_fail(call, what, io_reason(call->rs->c));
        return NULL;
    }
    r = reply;
    if (r->type == REDIS_REPLY_ERROR) {
        rc_fail(call, what, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Append one command (hiredis format, %b for bytes) to the pipeline; -1 failed. */
int rc_append(struct call *call, const char *what, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = redisvAppendCommand(call->rs->c, fmt, ap);
    va_end(ap);
    return rc == REDIS_OK ? 0 : rc_fail(call, what, "out of memory");
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
                return rc_fail(call, what, errno == EAGAIN ? "timed out" : "TLS write failed");
            done += (size_t) w;
            continue;
        }
#endif
        n = write(call->rs->c->fd, buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return rc_fail(call, what, errno == EAGAIN ? "timed out" : strerror(errno));
        done += (size_t) n;
    }
    return 0;
}

/* A status reply ("+OK") is expected; -1 failed. */
int rc_expect_status(struct call *call, const char *what)
{
    redisReply *r = rc_next_reply(call, what);
    int rc = 0;

    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_STATUS)
        rc = rc_fail(call, what, "unexpected reply");
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
        return rc_fail(call, "store_auth_file", why);
    passlen = split_auth(secret, len, &userlen, &passoff);
    if (passlen > 0 && userlen > 0)
        cmdlen = redisFormatCommand(&cmd, "AUTH %b %b", secret, userlen, secret + passoff, (size_t) passlen);
    else if (passlen > 0)
        cmdlen = redisFormatCommand(&cmd, "AUTH %b", secret, (size_t) passlen);
    explicit_bzero(secret, sizeof(secret));
    if (passlen <= 0)
        return rc_fail(call, "store_auth_file", "expected one line: PASSWORD or USER PASSWORD");
    if (cmdlen < 0)
        return rc_fail(call, "AUTH", "out of memory");
    rc = write_raw(call, "AUTH", cmd, (size_t) cmdlen);
    explicit_bzero(cmd, (size_t) cmdlen);
    redisFreeCommand(cmd);
    return rc == 0 ? rc_expect_status(call, "AUTH") : -1;
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
int rc_tls_setup(struct redis_store *rs, const struct hb_config *cfg, char *err, size_t errlen)
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
        return rc_fail(call, "TLS", "cannot set up the TLS connection");
    }
    rs->c->flags &= ~REDIS_BLOCK;
    started = redisInitiateSSL(rs->c, ssl);
    rs->c->flags |= REDIS_BLOCK;
    if (started != REDIS_OK) {          /* hiredis did not take it */
        SSL_free(ssl);
        ERR_clear_error();
        return rc_fail(call, "TLS", rs->c->errstr[0] != '\0' ? rs->c->errstr : "handshake failed");
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
        return rc_fail(call, "TLS", reason);
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
        return rc_fail(call, "connect", strerror(errno));
    if (connect(fd, (const struct sockaddr *) &rs->addr, rs->addrlen) != 0)
        error = errno == EINPROGRESS ? wait_connected(call, fd) : errno;
    if (error == 0 && !rs->tls && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
        error = errno;
    if (error == 0 && rs->addr.ss_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (error != 0) {
        close(fd);
        return rc_fail(call, "connect", error == ETIMEDOUT ? "timed out" : strerror(error));
    }
    return fd;
}

/* Connect (TLS for rediss://), keepalive (TCP), AUTH, SELECT; -1 failed. */
int rc_connect(struct call *call)
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
        return rc_fail(call, "connect", "out of memory");
    }
#ifdef HAVE_HIREDIS_SSL
    if (rs->tls && rs->c->err == 0) {
        if (tls_connect(call) != 0)
            return -1;
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
            return rc_fail(call, "connect", strerror(errno));
    }
#endif
    if (rs->c->err != 0)
        return rc_fail(call, "connect", rs->c->errstr);
    if (rs->addr.ss_family != AF_UNIX && redisEnableKeepAlive(rs->c) != REDIS_OK)
        return rc_fail(call, "keepalive", rs->c->errstr);
    if (authenticate(call) != 0)
        return -1;
    if (rc_append(call, "SELECT", "SELECT %ld", rs->db) != 0 || rc_expect_status(call, "SELECT") != 0)
        return -1;
    rs->failed = false;
    return 0;
}

/* A usable connection: the open one, or a new one unless the last failure is too recent. */
int rc_ready(struct call *call)
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
    return rc_connect(call);
}
