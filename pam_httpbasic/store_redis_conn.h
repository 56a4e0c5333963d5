/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_redis_conn.h - the Redis store's connection and calls, shared by
 * store_redis.c (the store operations) and store_redis_conn.c (connecting,
 * AUTH, SELECT, TLS, deadlines, failures).  Internal to those two files.
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
#ifndef PAM_HTTPBASIC_STORE_REDIS_CONN_H
#define PAM_HTTPBASIC_STORE_REDIS_CONN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include <hiredis/hiredis.h>
#ifdef HAVE_HIREDIS_SSL
#include <openssl/ssl.h>
#endif

#include "options.h"
#include "validate.h"

#define RETRY_MS 1000L           /* no reconnect sooner after a failure */
#define REASON_LEN 160

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

/* Start a call: deadline store_timeout from now, SIGPIPE blocked in this thread. */
void rc_begin(struct call *call, struct redis_store *rs, char *err, size_t errlen);

/* End a call: consume a SIGPIPE the call raised, restore the signal mask. */
void rc_end(struct call *call);

/* (Re)start the call's deadline: store_timeout from now (scan: one per round trip). */
void rc_renew(struct call *call);

/* The call failed: free the connection, remember why, "WHERE: WHAT: WHY" into err.  Returns -1. */
int rc_fail(struct call *call, const char *what, const char *why);

/* Append one command (hiredis format, %b for bytes) to the pipeline; -1 failed. */
int rc_append(struct call *call, const char *what, const char *fmt, ...);

/* The next reply (what was appended is flushed first); NULL (call failed) on an I/O or error reply. */
redisReply *rc_next_reply(struct call *call, const char *what);

/* Read a reply that must be +OK (or another status); -1 (call failed) otherwise. */
int rc_expect_status(struct call *call, const char *what);

/* Connect, authenticate and select the database within the call's deadline; -1 (call failed). */
int rc_connect(struct call *call);

/* A usable connection: the open one, or a new one unless the last failure is too recent. */
int rc_ready(struct call *call);

#ifdef HAVE_HIREDIS_SSL
/* The TLS context of a rediss:// store (store_redis_tls.c); -1 with err set. */
int rc_tls_setup(struct redis_store *rs, const struct hb_config *cfg, char *err, size_t errlen);
#endif

#endif
