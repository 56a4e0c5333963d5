/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check.c - one PROPFIND with Basic auth, through libcurl.
 *
 * What stays in the host between logins, and why it is safe:
 * - libcurl's global state, initialised once (pthread_once) and never
 *   cleaned up (the module is never unloaded).  When the module is the
 *   first in the process to initialise libcurl it installs an allocator
 *   that wipes every block libcurl frees, so a request buffer that held
 *   the Authorization header leaves no copy behind.  In a setuid/setgid
 *   process (AT_SECURE) with SSLKEYLOGFILE set, libcurl would write TLS
 *   secrets to a file the caller names: the module then refuses to
 *   initialise libcurl at all and every login is unavailable.
 * - one connection pool per process: a CURLSH share of connections, DNS
 *   and TLS sessions.  Each check uses a fresh easy handle, cleaned up at
 *   its end, so no credential outlives the check in a handle; only the
 *   open connections stay, for the next login.  libcurl reuses a
 *   connection only for the same host, port, proxy and TLS settings
 *   (verification, CA, pinned key, client certificate).  A process forked
 *   after a login forgets the parent's pool without touching it and makes
 *   its own.  Sockets are opened close-on-exec and with TCP keepalive;
 *   a connection idle for more than MAX_IDLE_S seconds is not reused.
 * - the module builds the Authorization header itself and wipes its own
 *   copies (never CURLOPT_USERNAME/PASSWORD, which a handle keeps).
 * Threads: the pool's locks are per lock kind; a check never waits for
 * the pool registry (trylock), it then works without reuse.
 *
 * Outage evidence (hb_evidence): a resting server sends the logins of
 * every process and host sharing the store to the stale window, so only
 * evidence nobody can fake makes it rest.  A setuid/setgid process
 * (AT_SECURE: su, sudo...) can be stopped by the user who ran it, and an
 * attempt that outlived its timeout by more than HB_EVIDENCE_SLACK_MS was
 * stopped or starved: neither is evidence.  Otherwise an anonymous GET of
 * the same URL (no credentials, no forwarded address: Nextcloud's
 * throttle of one client address does not apply), on a fresh connection
 * bounded by connect_timeout, must get no HTTP status either.  Any answer
 * (even to that request) clears a rest.  Cost: a server that hangs makes
 * the login that finds it out wait connect_timeout more.
 */
#include "check.h"
#include "health.h"

#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define MAX_IDLE_S 30L           /* an idle connection older than this is not reused */
#define KEEPALIVE_IDLE_S 10L     /* TCP keepalive: first probe after this idle time */
#define KEEPALIVE_INTERVAL_S 5L
#define KEEPALIVE_PROBES 3

static const char propfind_body[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<d:propfind xmlns:d=\"DAV:\"><d:prop><d:resourcetype/><d:current-user-principal/>"
    "</d:prop></d:propfind>\n";

struct body_sink {
    size_t received;
    bool too_large;
    char prefix[HB_BODY_PREFIX];   /* the first bytes: a 503's kind, a 207's account */
    size_t prefix_len;
};

enum hb_verdict hb_verdict_for_status(const struct hb_config *cfg, long status)
{
    for (size_t i = 0; i < cfg->ok_status_count; i++)
        if (status == cfg->ok_status[i])
            return HB_OK;
    for (size_t i = 0; i < cfg->deny_status_count; i++)
        if (status == cfg->deny_status[i])
            return HB_DENIED;
    return status == 429 ? HB_THROTTLED : HB_UNAVAILABLE;
}

const char *hb_verdict_name(enum hb_verdict verdict)
{
    switch (verdict) {
    case HB_OK: return "ok";
    case HB_DENIED: return "denied";
    case HB_THROTTLED: return "throttled";
    case HB_DISABLED: return "denied: account disabled";
    case HB_UNAVAILABLE: return "unavailable";
    }
    return "unavailable";
}

static bool is_propfind(const struct hb_config *cfg)
{
    return strcmp(cfg->method, "PROPFIND") == 0;
}

struct curl_slist *hb_build_headers(const struct hb_config *cfg, const char *client_ip)
{
    char forwarded[128];
    struct curl_slist *list = NULL;
    const char *lines[4];
    size_t n = 0;

    lines[n++] = "Depth: 0";
    lines[n++] = "Expect:";    /* no 100-continue round trip */
    if (is_propfind(cfg))
        lines[n++] = "Content-Type: application/xml; charset=utf-8";
    if (cfg->forward_header != NULL && client_ip != NULL && client_ip[0] != '\0') {
        snprintf(forwarded, sizeof(forwarded), "%s: %s", cfg->forward_header, client_ip);
        lines[n++] = forwarded;
    }
    for (size_t i = 0; i < n; i++) {
        struct curl_slist *next = curl_slist_append(list, lines[i]);

        if (next == NULL) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    return list;
}

/* Write callback: count the body, refuse more than HB_BODY_LIMIT bytes. */
static size_t discard_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct body_sink *sink = userdata;
    size_t n = size * nmemb;

    if (n > HB_BODY_LIMIT - sink->received) {
        sink->too_large = true;
        return 0;
    }
    if (sink->prefix_len < sizeof(sink->prefix)) {
        size_t take = sizeof(sink->prefix) - sink->prefix_len;

        take = take < n ? take : n;
        memcpy(sink->prefix + sink->prefix_len, data, take);
        sink->prefix_len += take;
    }
    sink->received += n;
    return n;
}

/* Apply one option unless an earlier one failed (no hidden return). */
#define SET(handle, rc, option, value) \
    do { if ((rc) == CURLE_OK) (rc) = curl_easy_setopt((handle), (option), (value)); } while (0)

/* Every socket close-on-exec: a program the host executes inherits none. */
static curl_socket_t open_socket(void *unused, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void) unused;
    (void) purpose;
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* Give up on a silently dead peer after a few unanswered keepalive probes. */
static int set_socket_options(void *unused, curl_socket_t fd, curlsocktype purpose)
{
    int probes = KEEPALIVE_PROBES;

    (void) unused;
    if (purpose == CURLSOCKTYPE_IPCXN)
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
    return CURL_SOCKOPT_OK;
}

static CURLcode set_tls_options(CURL *h, const struct hb_config *cfg)
{
    CURLcode rc = CURLE_OK;

    SET(h, rc, CURLOPT_SSL_VERIFYPEER, cfg->insecure_skip_verify ? 0L : 1L);
    SET(h, rc, CURLOPT_SSL_VERIFYHOST, cfg->insecure_skip_verify ? 0L : 2L);
    if (cfg->cafile != NULL)
        SET(h, rc, CURLOPT_CAINFO, cfg->cafile);
    if (cfg->capath != NULL)
        SET(h, rc, CURLOPT_CAPATH, cfg->capath);
    if (cfg->pinned_pubkey != NULL)
        SET(h, rc, CURLOPT_PINNEDPUBLICKEY, cfg->pinned_pubkey);
    if (cfg->client_cert != NULL) {
        SET(h, rc, CURLOPT_SSLCERT, cfg->client_cert);
        SET(h, rc, CURLOPT_SSLKEY, cfg->client_key);
    }
    return rc;
}

static CURLcode set_connection_options(CURL *h, const struct hb_config *cfg)
{
    CURLcode rc = CURLE_OK;

    SET(h, rc, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(h, rc, CURLOPT_SOCKOPTFUNCTION, set_socket_options);
    SET(h, rc, CURLOPT_TCP_KEEPALIVE, 1L);
    SET(h, rc, CURLOPT_TCP_KEEPIDLE, KEEPALIVE_IDLE_S);
    SET(h, rc, CURLOPT_TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S);
    SET(h, rc, CURLOPT_MAXAGE_CONN, MAX_IDLE_S);
    SET(h, rc, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
    SET(h, rc, CURLOPT_PROXY, cfg->proxy != NULL ? cfg->proxy : "");
    SET(h, rc, CURLOPT_NOPROXY, "");    /* NO_PROXY in the environment never bypasses proxy= */
    return rc;
}

/* The transport rules (hb_transport_options), then this module's request. */
static CURLcode set_request_options(CURL *h, const struct hb_config *cfg,
                                    struct curl_slist *headers)
{
    CURLcode rc = (CURLcode) hb_transport_options(h, cfg);

    SET(h, rc, CURLOPT_CUSTOMREQUEST, cfg->method);
    if (is_propfind(cfg)) {
        SET(h, rc, CURLOPT_POSTFIELDS, propfind_body);
        SET(h, rc, CURLOPT_POSTFIELDSIZE, (long) (sizeof(propfind_body) - 1));
    } else if (strcmp(cfg->method, "HEAD") == 0) {
        SET(h, rc, CURLOPT_NOBODY, 1L);
    }
    SET(h, rc, CURLOPT_HTTPHEADER, headers);
    return rc;
}

static long elapsed_ms_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000L + (now.tv_nsec - start->tv_nsec) / 1000000L;
}

/* libcurl's allocator when the module initialises it: frees wipe. */
static void wipe_free(void *block)
{
    if (block != NULL)
        explicit_bzero(block, malloc_usable_size(block));
    free(block);
}

/* Never leave the old block unwiped behind a move. */
static void *wipe_realloc(void *block, size_t size)
{
    size_t old = block != NULL ? malloc_usable_size(block) : 0;
    void *moved = malloc(size > 0 ? size : 1);

    if (moved == NULL)
        return NULL;
    if (old > 0)
        memcpy(moved, block, old < size ? old : size);
    wipe_free(block);
    return moved;
}

static pthread_once_t global_init_once = PTHREAD_ONCE_INIT;
static CURLcode global_init_result = CURLE_FAILED_INIT;
static bool keylog_refused;     /* SSLKEYLOGFILE in a setuid process */

static void global_init(void)
{
    keylog_refused = getauxval(AT_SECURE) != 0 && getenv("SSLKEYLOGFILE") != NULL;
    if (!keylog_refused)
        global_init_result = curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wipe_free,
                                                  wipe_realloc, strdup, calloc);
}

/* This process's connections, kept between checks. */
struct pool {
    CURLSH *share;
    pid_t pid;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pool *process_pool;

static void pool_lock_data(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
    struct pool *pool = arg;

    (void) h;
    (void) access;
    pthread_mutex_lock(&pool->locks[data]);
}

static void pool_unlock_data(CURL *h, curl_lock_data data, void *arg)
{
    struct pool *pool = arg;

    (void) h;
    pthread_mutex_unlock(&pool->locks[data]);
}

/* A new pool sharing connections, DNS answers and TLS sessions; NULL on failure. */
static struct pool *pool_new(void)
{
    struct pool *pool = calloc(1, sizeof(*pool));
    CURLSHcode rc = CURLSHE_OK;

    if (pool == NULL || (pool->share = curl_share_init()) == NULL) {
        free(pool);
        return NULL;
    }
    pool->pid = getpid();
    for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&pool->locks[i], NULL);
    rc = curl_share_setopt(pool->share, CURLSHOPT_LOCKFUNC, pool_lock_data);
    if (rc == CURLSHE_OK)
        rc = curl_share_setopt(pool->share, CURLSHOPT_UNLOCKFUNC, pool_unlock_data);
    if (rc == CURLSHE_OK)
        rc = curl_share_setopt(pool->share, CURLSHOPT_USERDATA, pool);
    if (rc == CURLSHE_OK)
        rc = curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    if (rc == CURLSHE_OK)
        rc = curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (rc == CURLSHE_OK)
        rc = curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (rc != CURLSHE_OK) {
        curl_share_cleanup(pool->share);
        free(pool);
        pool = NULL;
    }
    return pool;
}

/*
 * This process's pool, made on first use; NULL (no reuse) when the
 * registry is busy or memory is short.  A child forked after a login finds
 * its parent's pool and forgets it: its sockets are the parent's.
 */
static struct pool *pool_get(void)
{
    struct pool *pool = NULL;

    if (pthread_mutex_trylock(&pool_lock) != 0)
        return NULL;
    if (process_pool != NULL && process_pool->pid != getpid())
        process_pool = NULL;
    if (process_pool == NULL)
        process_pool = pool_new();
    pool = process_pool;
    pthread_mutex_unlock(&pool_lock);
    return pool;
}

/* Record a finished transfer in attempt. */
static void classify(const struct hb_config *cfg, CURL *h, CURLcode rc,
                     const struct body_sink *sink, const char *errbuf,
                     struct hb_attempt *attempt)
{
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &attempt->http_status);
    if (rc == CURLE_OK) {
        attempt->verdict = hb_verdict_for_status(cfg, attempt->http_status);
        if (attempt->http_status == 503
            && hb_503_kind(sink->prefix, sink->prefix_len) == HB_503_ACCOUNT_REFUSED)
            attempt->verdict = HB_DISABLED;
        return;
    }
    attempt->verdict = HB_UNAVAILABLE;
    if (sink->too_large)
        snprintf(attempt->error, sizeof(attempt->error), "answer larger than %d bytes", HB_BODY_LIMIT);
    else
        snprintf(attempt->error, sizeof(attempt->error), "%s",
                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
}

/* Per-request state shared by the attempts of one check. */
struct request {
    CURL *handle;
    struct curl_slist *headers;  /* the Authorization line among them */
    struct body_sink sink;
    char errbuf[CURL_ERROR_SIZE];
};

static const char base64_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of len bytes at in, written at out (room for 4 * ((len + 2) / 3) + 1). */
static void base64_encode(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i += 3) {
        unsigned long group = (unsigned long) in[i] << 16;

        if (i + 1 < len)
            group |= (unsigned long) in[i + 1] << 8;
        if (i + 2 < len)
            group |= in[i + 2];
        *out++ = base64_digits[(group >> 18) & 63];
        *out++ = base64_digits[(group >> 12) & 63];
        *out++ = i + 1 < len ? base64_digits[(group >> 6) & 63] : '=';
        *out++ = i + 2 < len ? base64_digits[group & 63] : '=';
    }
    *out = '\0';
}

/*
 * Append "Authorization: Basic base64(user:password)" to *headers.  Every
 * buffer of ours that held the password is wiped before it is freed;
 * libcurl's copy is wiped by wipe_headers().  0 on success.
 */
static int add_authorization(struct curl_slist **headers, const struct hb_credentials *cred)
{
    static const char prefix[] = "Authorization: Basic ";
    size_t user_len = strlen(cred->user), plain_len = user_len + 1 + strlen(cred->password);
    size_t line_len = sizeof(prefix) + 4 * ((plain_len + 2) / 3);
    unsigned char *plain = malloc(plain_len);
    char *line = malloc(line_len);
    struct curl_slist *next = NULL;

    if (plain != NULL && line != NULL) {
        memcpy(plain, cred->user, user_len);
        plain[user_len] = ':';
        memcpy(plain + user_len + 1, cred->password, plain_len - user_len - 1);
        memcpy(line, prefix, sizeof(prefix) - 1);
        base64_encode(plain, plain_len, line + sizeof(prefix) - 1);
        next = curl_slist_append(*headers, line);
    }
    if (plain != NULL)
        explicit_bzero(plain, plain_len);
    if (line != NULL)
        explicit_bzero(line, line_len);
    free(plain);
    free(line);
    if (next == NULL)
        return -1;
    *headers = next;
    return 0;
}

/* Wipe and free the header list (one line holds the credentials). */
static void wipe_headers(struct curl_slist *headers)
{
    for (struct curl_slist *h = headers; h != NULL; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(headers);
}

/* Set every option but the URL; CURLE_OK on success. */
static CURLcode prepare(struct request *req, const struct hb_config *cfg,
                        const struct hb_credentials *cred)
{
    struct pool *pool;
    CURLcode rc;

    pthread_once(&global_init_once, global_init);
    rc = global_init_result;
    if (rc == CURLE_OK && ((req->handle = curl_easy_init()) == NULL
                           || (req->headers = hb_build_headers(cfg, cred->client_ip)) == NULL
                           || add_authorization(&req->headers, cred) != 0))
        rc = CURLE_OUT_OF_MEMORY;
    pool = rc == CURLE_OK ? pool_get() : NULL;
    if (pool != NULL)
        SET(req->handle, rc, CURLOPT_SHARE, pool->share);
    SET(req->handle, rc, CURLOPT_ERRORBUFFER, req->errbuf);
    SET(req->handle, rc, CURLOPT_WRITEFUNCTION, discard_body);
    SET(req->handle, rc, CURLOPT_WRITEDATA, &req->sink);
    if (rc == CURLE_OK)
        rc = set_request_options(req->handle, cfg, req->headers);
    return rc;
}

/* True when the transfer on h never got a connection (nothing was sent). */
static bool never_connected(CURL *h)
{
    curl_off_t pretransfer = 0;

    return curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer) != CURLE_OK
           || pretransfer <= 0;
}

/* One request to server index; fills attempt; *connect_failure when no connection was made. */
static void attempt_server(struct request *req, const struct hb_config *cfg, size_t index,
                           struct hb_attempt *attempt, bool *connect_failure)
{
    struct timespec start;
    CURLcode rc;

    clock_gettime(CLOCK_MONOTONIC, &start);
    attempt->server = index;
    memset(&req->sink, 0, sizeof(req->sink));
    req->errbuf[0] = '\0';
    rc = curl_easy_setopt(req->handle, CURLOPT_URL, cfg->servers[index].url);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(req->handle);
    classify(cfg, req->handle, rc, &req->sink, req->errbuf, attempt);
    attempt->elapsed_ms = elapsed_ms_since(&start);
    *connect_failure = rc != CURLE_OK && never_connected(req->handle);
}

enum hb_evidence hb_evidence(const struct hb_evidence_facts *f)
{
    long short_bound = f->connect_timeout_ms < f->timeout_ms ? f->connect_timeout_ms : f->timeout_ms;
    long bound = f->connect_failure ? short_bound : f->timeout_ms;

    if (f->answered)
        return HB_EVIDENCE_UP;
    if (f->secure_host || f->elapsed_ms > bound + HB_EVIDENCE_SLACK_MS)
        return HB_EVIDENCE_NONE;     /* a process its user can stop, or one that was stopped */
    if (!f->confirmed)
        return HB_EVIDENCE_CONFIRM;
    if (f->confirm_answered)
        return HB_EVIDENCE_UP;       /* up for others: slow or silent for this client only */
    if (f->confirm_elapsed_ms > short_bound + HB_EVIDENCE_SLACK_MS)
        return HB_EVIDENCE_NONE;
    return HB_EVIDENCE_DOWN;
}

/*
 * The anonymous request that confirms an outage: GET of url with the
 * transport rules of the check but no credentials, no forwarded address,
 * a fresh connection that is not kept, bounded by min(timeout,
 * connect_timeout).  Sets *answered (an HTTP status came) and *elapsed_ms.
 */
static void confirm_silence(const struct hb_config *cfg, const char *url, bool *answered,
                            long *elapsed_ms)
{
    CURL *h = curl_easy_init();
    struct body_sink sink;
    struct timespec start;
    long bound = cfg->connect_timeout_ms < cfg->timeout_ms ? cfg->connect_timeout_ms : cfg->timeout_ms;
    long status = 0;
    CURLcode rc = h != NULL ? (CURLcode) hb_transport_options(h, cfg) : CURLE_OUT_OF_MEMORY;

    memset(&sink, 0, sizeof(sink));
    clock_gettime(CLOCK_MONOTONIC, &start);
    SET(h, rc, CURLOPT_TIMEOUT_MS, bound);
    SET(h, rc, CURLOPT_HTTPGET, 1L);
    SET(h, rc, CURLOPT_FRESH_CONNECT, 1L);
    SET(h, rc, CURLOPT_FORBID_REUSE, 1L);
    SET(h, rc, CURLOPT_WRITEFUNCTION, discard_body);
    SET(h, rc, CURLOPT_WRITEDATA, &sink);
    SET(h, rc, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        curl_easy_perform(h);
    if (h != NULL)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    *answered = status != 0;
    *elapsed_ms = elapsed_ms_since(&start);
}

/*
 * Decide what attempt says about server index (hb_evidence), sending the
 * anonymous request when that is needed, and tell health.c when note.
 */
static void weigh_evidence(const struct hb_config *cfg, struct hb_store *store, size_t index,
                           bool connect_failure, bool note, struct hb_attempt *attempt)
{
    const char *url = cfg->servers[index].url;
    struct hb_evidence_facts facts = {
        .answered = attempt->http_status != 0,
        .secure_host = getauxval(AT_SECURE) != 0,
        .connect_failure = connect_failure,
        .elapsed_ms = attempt->elapsed_ms,
        .timeout_ms = cfg->timeout_ms,
        .connect_timeout_ms = cfg->connect_timeout_ms,
    };

    attempt->evidence = hb_evidence(&facts);
    if (attempt->evidence == HB_EVIDENCE_CONFIRM) {
        confirm_silence(cfg, url, &facts.confirm_answered, &facts.confirm_elapsed_ms);
        facts.confirmed = true;
        attempt->evidence = hb_evidence(&facts);
    }
    if (note && (attempt->evidence == HB_EVIDENCE_UP || attempt->evidence == HB_EVIDENCE_DOWN))
        hb_health_note(cfg, store, url, attempt->evidence == HB_EVIDENCE_UP);
}

bool hb_outcome_confirmed_outage(const struct hb_outcome *out)
{
    bool confirmed = out->verdict == HB_UNAVAILABLE && out->attempt_count > 0;

    for (size_t i = 0; i < out->attempt_count; i++)
        confirmed = confirmed && (out->attempts[i].http_status != 0
                                  || out->attempts[i].evidence == HB_EVIDENCE_DOWN);
    return confirmed;
}

/* Try the servers in order until one gives a usable answer. */
static void try_servers(struct request *req, const struct hb_config *cfg, struct hb_store *store,
                        struct hb_outcome *out)
{
    /* With a store a single server rests too: the cache answers meanwhile. */
    bool failover = (cfg->server_count > 1 || store != NULL) && cfg->server_retry_after > 0;
    bool rests[HB_MAX_SERVERS];
    bool skip_resting = false, connect_failure = false;

    /* Resting servers are skipped, unless all rest: then all are tried. */
    for (size_t i = 0; i < cfg->server_count; i++) {
        rests[i] = failover && hb_health_resting(cfg, store, cfg->servers[i].url);
        skip_resting = skip_resting || !rests[i];
    }
    for (size_t i = 0; i < cfg->server_count; i++) {
        struct hb_attempt *attempt = &out->attempts[out->attempt_count];

        if (skip_resting && rests[i]) {
            out->skipped++;
            continue;
        }
        out->attempt_count++;
        attempt_server(req, cfg, i, attempt, &connect_failure);
        if (failover || store != NULL)
            weigh_evidence(cfg, store, i, connect_failure, failover, attempt);
        out->verdict = attempt->verdict;
        if (attempt->verdict == HB_OK)
            hb_207_account(req->sink.prefix, req->sink.prefix_len, out->account);
        if (attempt->verdict != HB_UNAVAILABLE)
            return;
    }
}

/* Why a check could not even start. */
static const char *setup_error(CURLcode rc)
{
    if (keylog_refused)
        return "SSLKEYLOGFILE is set in a setuid/setgid program: libcurl not initialised";
    return curl_easy_strerror(rc);
}

void hb_check(const struct hb_config *cfg, const struct hb_credentials *cred,
              struct hb_store *store, struct hb_outcome *out)
{
    struct request req;
    struct timespec start;
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    memset(&req, 0, sizeof(req));
    out->verdict = HB_UNAVAILABLE;
    clock_gettime(CLOCK_MONOTONIC, &start);
    rc = prepare(&req, cfg, cred);
    if (rc == CURLE_OK) {
        try_servers(&req, cfg, store, out);
    } else {
        out->attempt_count = 1;
        out->attempts[0].verdict = HB_UNAVAILABLE;
        snprintf(out->attempts[0].error, sizeof(out->attempts[0].error), "%s", setup_error(rc));
    }
    out->elapsed_ms = elapsed_ms_since(&start);
    curl_easy_cleanup(req.handle);
    wipe_headers(req.headers);
}

/* Overwrite the dead stack below the caller, where libcurl's and OpenSSL's frames were. */
__attribute__((noinline)) void hb_wipe_stack(void)
{
    char area[HB_STACK_WIPE];

    explicit_bzero(area, sizeof(area));
    __asm__ __volatile__("" : : "r"(area) : "memory");
}

int hb_transport_options(void *handle, const struct hb_config *cfg)
{
    const char *protocols = cfg->allow_http ? "http,https" : "https";
    CURL *h = handle;
    CURLcode rc = CURLE_OK;

    SET(h, rc, CURLOPT_PROTOCOLS_STR, protocols);
    SET(h, rc, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    SET(h, rc, CURLOPT_FOLLOWLOCATION, 0L);
    SET(h, rc, CURLOPT_NOSIGNAL, 1L);
    SET(h, rc, CURLOPT_NETRC, (long) CURL_NETRC_IGNORED);
    SET(h, rc, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
    SET(h, rc, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    SET(h, rc, CURLOPT_USERAGENT, "pam_httpbasic/" PACKAGE_VERSION);
    if (rc == CURLE_OK)
        rc = set_connection_options(h, cfg);
    if (rc == CURLE_OK)
        rc = set_tls_options(h, cfg);
    return (int) rc;
}

/* True when the error text of a failed attempt contains one of words. */
static bool error_mentions(const struct hb_attempt *attempt, const char *const *words, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strstr(attempt->error, words[i]) != NULL)
            return true;
    return false;
}

/* The hint for an attempt that gave no usable answer. */
static const char *unavailable_hint(const struct hb_attempt *attempt)
{
    static const char *const tls[] = {"SSL", "TLS", "certificate", "pinned", "issuer"};
    static const char *const slow[] = {"timed out", "Timeout", "timeout"};
    static const char *const unreachable[] = {"resolve", "connect", "Connection refused", "reset"};

    if (error_mentions(attempt, tls, sizeof(tls) / sizeof(tls[0])))
        return "TLS failed: check that cafile/capath name the CA that signed the server's"
               " certificate, that the certificate is valid and names the host of url,"
               " and pinned_pubkey if set";
    if (error_mentions(attempt, slow, sizeof(slow) / sizeof(slow[0])))
        return "timed out: check that the server is reachable from this host (firewall, proxy)"
               " and answers within timeout/connect_timeout";
    if (error_mentions(attempt, unreachable, sizeof(unreachable) / sizeof(unreachable[0])))
        return "no connection: check the host and port of url, DNS and that the server is"
               " reachable from this host";
    if (attempt->http_status == 503)
        return "503: Nextcloud is in maintenance mode or overloaded"
               " (pam_httpbasic-ctl probe shows the maintenance flag)";
    if (attempt->http_status >= 300 && attempt->http_status < 400)
        return "redirect (never followed): url must be the exact WebDAV URL,"
               " e.g. https://HOST/remote.php/dav/";
    if (attempt->http_status != 0)
        return "unexpected status: check url (https://HOST/remote.php/dav/), method,"
               " ok_status and deny_status";
    return "no usable answer: check that the server is reachable from this host";
}

const char *hb_outcome_hint(const struct hb_outcome *out)
{
    const struct hb_attempt *last = &out->attempts[out->attempt_count > 0 ? out->attempt_count - 1 : 0];

    switch (out->verdict) {
    case HB_OK:
        return "";
    case HB_DENIED:
        return "wrong password for this user name: Nextcloud app passwords are bound to the"
               " login name (uid), not the e-mail address; see user_strip_domain and"
               " user_domain, and with token_auth_enforced only app passwords work";
    case HB_THROTTLED:
        return "the server throttles this client address; make sure this host is in"
               " Nextcloud's trusted_proxies (and HTTP_X_FORWARDED_FOR in"
               " forwarded_for_headers) so that it sees the real client";
    case HB_UNAVAILABLE:
        return unavailable_hint(last);
    case HB_DISABLED:
        return "the password is right but Nextcloud refused the account (disabled, or an app"
               " cancelled the login): enable it there (Users) if this user should log in";
    }
    return "";
}
