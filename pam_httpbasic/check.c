/*
 * check.c - one PROPFIND with Basic auth, through libcurl.
 *
 * Threading and processes: libcurl's global state is initialised once
 * (pthread_once) and never cleaned up, since the module stays loaded for
 * the life of the process.  One idle easy handle is kept between checks so
 * that the next login in the same process reuses its open connection and
 * TLS session.  A check takes that handle if it is free (trylock: never
 * waits, never deadlocks, even in a child forked while another thread held
 * the lock), otherwise it makes its own; so threads never share a handle.
 * A process forked after a login drops the parent's handle without
 * touching it (closing it would shut down the parent's TLS connection) and
 * starts fresh.  Nothing tied to a user is kept: curl_easy_reset() clears
 * credentials and headers, and the cookie engine is never enabled.
 */
#include "check.h"
#include "health.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <security/_pam_types.h>

static const char propfind_body[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<d:propfind xmlns:d=\"DAV:\"><d:prop><d:resourcetype/></d:prop></d:propfind>\n";

struct body_sink {
    size_t received;
    bool too_large;
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

int hb_pam_code(enum hb_verdict verdict)
{
    switch (verdict) {
    case HB_OK: return PAM_SUCCESS;
    case HB_DENIED: return PAM_AUTH_ERR;
    case HB_THROTTLED: return PAM_MAXTRIES;
    case HB_UNAVAILABLE: return PAM_AUTHINFO_UNAVAIL;
    }
    return PAM_AUTHINFO_UNAVAIL;
}

const char *hb_verdict_name(enum hb_verdict verdict)
{
    switch (verdict) {
    case HB_OK: return "ok";
    case HB_DENIED: return "denied";
    case HB_THROTTLED: return "throttled";
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

    (void) data;
    if (n > HB_BODY_LIMIT - sink->received) {
        sink->too_large = true;
        return 0;
    }
    sink->received += n;
    return n;
}

/* Apply one option unless an earlier one failed. */
#define SET(handle, rc, option, value) \
    do { if ((rc) == CURLE_OK) (rc) = curl_easy_setopt((handle), (option), (value)); } while (0)

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

static CURLcode set_request_options(CURL *h, const struct hb_config *cfg,
                                    const struct hb_credentials *cred,
                                    struct curl_slist *headers)
{
    const char *protocols = cfg->allow_http ? "http,https" : "https";
    CURLcode rc = CURLE_OK;

    SET(h, rc, CURLOPT_PROTOCOLS_STR, protocols);
    SET(h, rc, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    SET(h, rc, CURLOPT_FOLLOWLOCATION, 0L);
    SET(h, rc, CURLOPT_NOSIGNAL, 1L);
    SET(h, rc, CURLOPT_NETRC, (long) CURL_NETRC_IGNORED);
    SET(h, rc, CURLOPT_PROXY, cfg->proxy != NULL ? cfg->proxy : "");
    SET(h, rc, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
    SET(h, rc, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    SET(h, rc, CURLOPT_CUSTOMREQUEST, cfg->method);
    if (is_propfind(cfg)) {
        SET(h, rc, CURLOPT_POSTFIELDS, propfind_body);
        SET(h, rc, CURLOPT_POSTFIELDSIZE, (long) (sizeof(propfind_body) - 1));
    } else if (strcmp(cfg->method, "HEAD") == 0) {
        SET(h, rc, CURLOPT_NOBODY, 1L);
    }
    SET(h, rc, CURLOPT_HTTPHEADER, headers);
    SET(h, rc, CURLOPT_USERAGENT, "pam_httpbasic/" PACKAGE_VERSION);
    SET(h, rc, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
    SET(h, rc, CURLOPT_USERNAME, cred->user);
    SET(h, rc, CURLOPT_PASSWORD, cred->password);
    if (rc == CURLE_OK)
        rc = set_tls_options(h, cfg);
    return rc;
}

static long elapsed_ms_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000L + (now.tv_nsec - start->tv_nsec) / 1000000L;
}

static pthread_once_t global_init_once = PTHREAD_ONCE_INIT;
static CURLcode global_init_result = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *idle_handle;      /* kept between checks, with its connections */
static pid_t idle_pid;         /* process that owns idle_handle */
static uint64_t idle_key;      /* connection_key() of the config it served */

/* FNV-1a over s and a separator, continuing from hash. */
static uint64_t hash_string(uint64_t hash, const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        hash = (hash ^ (unsigned char) *s) * 0x100000001b3ULL;
    return (hash ^ 0xff) * 0x100000001b3ULL;
}

/*
 * A fingerprint of everything that decides which connection may be used:
 * a handle is reused only for the same URL, TLS settings and proxy, so a
 * connection verified under one config never serves another.
 */
static uint64_t connection_key(const struct hb_config *cfg)
{
    const char *fields[] = {cfg->servers[0].url, cfg->cafile, cfg->capath, cfg->pinned_pubkey,
                            cfg->client_cert, cfg->client_key, cfg->proxy,
                            cfg->insecure_skip_verify ? "insecure" : "verify",
                            cfg->allow_http ? "http" : "https"};
    uint64_t hash = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        hash = hash_string(hash, fields[i]);
    for (size_t i = 1; i < cfg->server_count; i++)
        hash = hash_string(hash, cfg->servers[i].url);
    return hash;
}

/* The idle handle when this process owns it, it is free and made for key; else a new one. */
static CURL *take_handle(uint64_t key)
{
    CURL *h = NULL, *stale = NULL;

    if (pthread_mutex_trylock(&idle_lock) == 0) {
        if (idle_pid == getpid()) {
            if (idle_key == key)
                h = idle_handle;
            else
                stale = idle_handle;
        }
        idle_handle = NULL;    /* a forked child forgets the parent's handle */
        pthread_mutex_unlock(&idle_lock);
    }
    curl_easy_cleanup(stale);
    return h != NULL ? h : curl_easy_init();
}

/* Clear every option of h and keep it for the next check, or close it. */
static void give_back(CURL *h, uint64_t key)
{
    if (h == NULL)
        return;
    curl_easy_reset(h);
    if (pthread_mutex_trylock(&idle_lock) == 0) {
        if (idle_handle == NULL) {
            idle_handle = h;
            idle_pid = getpid();
            idle_key = key;
            h = NULL;
        }
        pthread_mutex_unlock(&idle_lock);
    }
    curl_easy_cleanup(h);
}

/* Record a finished transfer in attempt. */
static void classify(const struct hb_config *cfg, CURL *h, CURLcode rc,
                     const struct body_sink *sink, const char *errbuf,
                     struct hb_attempt *attempt)
{
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &attempt->http_status);
    if (rc == CURLE_OK) {
        attempt->verdict = hb_verdict_for_status(cfg, attempt->http_status);
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
    struct curl_slist *headers;
    struct body_sink sink;
    char errbuf[CURL_ERROR_SIZE];
};

/* Set every option but the URL; CURLE_OK on success. */
static CURLcode prepare(struct request *req, const struct hb_config *cfg,
                        const struct hb_credentials *cred, uint64_t key)
{
    CURLcode rc;

    pthread_once(&global_init_once, global_init);
    rc = global_init_result;
    if (rc == CURLE_OK && ((req->handle = take_handle(key)) == NULL
                           || (req->headers = hb_build_headers(cfg, cred->client_ip)) == NULL))
        rc = CURLE_OUT_OF_MEMORY;
    SET(req->handle, rc, CURLOPT_ERRORBUFFER, req->errbuf);
    SET(req->handle, rc, CURLOPT_WRITEFUNCTION, discard_body);
    SET(req->handle, rc, CURLOPT_WRITEDATA, &req->sink);
    if (rc == CURLE_OK)
        rc = set_request_options(req->handle, cfg, cred, req->headers);
    return rc;
}

/* One request to server index; fills attempt. */
static void attempt_server(struct request *req, const struct hb_config *cfg, size_t index,
                           struct hb_attempt *attempt)
{
    struct timespec start;
    CURLcode rc;

    clock_gettime(CLOCK_MONOTONIC, &start);
    attempt->server = index;
    req->sink.received = 0;
    req->sink.too_large = false;
    req->errbuf[0] = '\0';
    rc = curl_easy_setopt(req->handle, CURLOPT_URL, cfg->servers[index].url);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(req->handle);
    classify(cfg, req->handle, rc, &req->sink, req->errbuf, attempt);
    attempt->elapsed_ms = elapsed_ms_since(&start);
}

/* Try the servers in order until one gives a usable answer. */
static void try_servers(struct request *req, const struct hb_config *cfg, struct hb_store *store,
                        struct hb_outcome *out)
{
    bool failover = cfg->server_count > 1 && cfg->server_retry_after > 0;
    bool rests[HB_MAX_SERVERS];
    bool skip_resting = false;

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
        attempt_server(req, cfg, i, attempt);
        if (failover)
            hb_health_note(cfg, store, cfg->servers[i].url, attempt->http_status != 0);
        out->verdict = attempt->verdict;
        if (attempt->verdict != HB_UNAVAILABLE)
            return;
    }
}

void hb_check(const struct hb_config *cfg, const struct hb_credentials *cred,
              struct hb_store *store, struct hb_outcome *out)
{
    struct request req;
    struct timespec start;
    uint64_t key = connection_key(cfg);
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    memset(&req, 0, sizeof(req));
    out->verdict = HB_UNAVAILABLE;
    clock_gettime(CLOCK_MONOTONIC, &start);
    rc = prepare(&req, cfg, cred, key);
    if (rc == CURLE_OK) {
        try_servers(&req, cfg, store, out);
    } else {
        out->attempt_count = 1;
        out->attempts[0].verdict = HB_UNAVAILABLE;
        snprintf(out->attempts[0].error, sizeof(out->attempts[0].error), "%s", curl_easy_strerror(rc));
    }
    out->elapsed_ms = elapsed_ms_since(&start);
    give_back(req.handle, key);
    curl_slist_free_all(req.headers);
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
    SET(h, rc, CURLOPT_PROXY, cfg->proxy != NULL ? cfg->proxy : "");
    SET(h, rc, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
    SET(h, rc, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    SET(h, rc, CURLOPT_USERAGENT, "pam_httpbasic/" PACKAGE_VERSION);
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
        return "503: Nextcloud is in maintenance mode, or the account is disabled";
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
    }
    return "";
}
