/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_probe.c - pam_httpbasic-ctl probe: how each configured server looks
 * from this host, for an administrator or a monitoring system.
 *
 * Per server: a TLS connection set up as the module would (same transport
 * options: hb_transport_options), its steps timed (DNS, TCP, TLS) and the
 * certificate read; when verification fails, a second handshake without
 * verification, only to show what the server presented.  Then a request
 * without credentials (expected: 401 with WWW-Authenticate: Basic) and,
 * for a Nextcloud-shaped URL, status.php (version, maintenance).  Only what
 * is wrong warns: a server without status.php (Apache mod_dav, SabreDAV)
 * is reported as nextcloud=no, which is information.  No password is ever
 * sent.  libcurl is used directly here, since this is the admin tool.
 */
#include "check.h"
#include "ctl.h"
#include "options.h"
#include "validate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define EXPIRY_WARN_DAYS 14
#define STATUS_BODY_MAX 8192     /* bytes of status.php kept */
#define TEXT_LEN 256
#define URL_MAX 4200             /* a url (at most 4096 bytes) with status.php */

enum level { LEVEL_OK, LEVEL_WARNING, LEVEL_CRITICAL };

static const char *const level_names[] = {"OK", "WARNING", "CRITICAL"};

/* What was learnt about one server. */
struct probe {
    const struct hb_config *cfg;
    const struct hb_server *server;
    bool verbose;
    long dns_ms, connect_ms, tls_ms, http_ms;   /* -1: not reached */
    char tls[32];                 /* protocol, or "-" */
    char subject[TEXT_LEN], issuer[TEXT_LEN];
    long cert_days;               /* days until notAfter; valid when have_cert */
    bool have_cert;
    const char *verify;           /* ok, failed, skipped, - */
    long http;                    /* status of the anonymous request, 0: none */
    bool basic;                   /* WWW-Authenticate: Basic seen */
    char nextcloud[40];           /* version, "no", or "-" */
    const char *maintenance;      /* true, false or - */
    enum level level;
    bool down;                    /* no answer at all: counts against "usable" */
    char reason[HB_ERROR_LEN];    /* the first problem, for the summary */
    char error[CURL_ERROR_SIZE];  /* libcurl's text for a failed step */
};

/* Raise p's level to at least level; the first reason of the worst level wins. */
static void raise_level(struct probe *p, enum level level, const char *reason)
{
    if (level > p->level || (level == p->level && p->reason[0] == '\0')) {
        p->level = level;
        snprintf(p->reason, sizeof(p->reason), "%s", reason);
    }
}

/* A handle with the module's transport rules for url, or NULL. */
static CURL *new_handle(const struct hb_config *cfg, const char *url, char *errbuf)
{
    CURL *h = curl_easy_init();

    if (h != NULL && (hb_transport_options(h, cfg) != 0
                      || curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK
                      || curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK)) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    if (errbuf != NULL)
        errbuf[0] = '\0';
    return h;
}

/* An X509 name as one line ("CN=..., O=..."), printable ASCII only. */
static void name_text(X509_NAME *name, char *out, size_t outlen)
{
    char raw[TEXT_LEN];
    BIO *bio = BIO_new(BIO_s_mem());
    int len = 0;

    if (bio != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0)
        len = BIO_read(bio, raw, (int) sizeof(raw) - 1);
    raw[len > 0 ? len : 0] = '\0';
    BIO_free(bio);
    hb_log_escape(raw, out, outlen);
}

/* Read protocol and certificate from a finished handshake. */
static void read_tls(struct probe *p, const SSL *ssl)
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    int days = 0, secs = 0;

    snprintf(p->tls, sizeof(p->tls), "%s", SSL_get_version(ssl));
    if (cert == NULL)
        return;
    name_text(X509_get_subject_name(cert), p->subject, sizeof(p->subject));
    name_text(X509_get_issuer_name(cert), p->issuer, sizeof(p->issuer));
    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)) == 1) {
        p->cert_days = days - (secs < 0 && days <= 0);
        p->have_cert = true;
    }
    X509_free(cert);
}

/* OpenSSL info callback: at the end of a handshake, read it into the probe. */
static void handshake_done(const SSL *ssl, int where, int ret)
{
    struct probe *p = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

    (void) ret;
    if ((where & SSL_CB_HANDSHAKE_DONE) != 0 && p != NULL)
        read_tls(p, ssl);
}

/*
 * CURLOPT_SSL_CTX_FUNCTION: watch the handshake (libcurl hands out the SSL
 * of a connection only during a transfer, never after CONNECT_ONLY).
 */
static CURLcode watch_tls(CURL *h, void *ctx, void *probe)
{
    (void) h;
    SSL_CTX_set_app_data(ctx, probe);
    SSL_CTX_set_info_callback(ctx, handshake_done);
    return CURLE_OK;
}

/* Make h only connect (TCP, TLS) and report the handshake to p. */
static CURLcode connect_only(CURL *h, struct probe *p)
{
    CURLcode rc = curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);

    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, watch_tls);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, p);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(h);
    return rc;
}

/* Microseconds of a timing info as ms, or -1 when the step was not reached. */
static long step_ms(CURL *h, CURLINFO info, curl_off_t since)
{
    curl_off_t us = 0;

    curl_easy_getinfo(h, info, &us);
    return us > 0 && us >= since ? (long) ((us - since) / 1000) : -1;
}

/* Fill the DNS / TCP / TLS timings of the last transfer of h. */
static void read_timings(struct probe *p, CURL *h, bool tls)
{
    curl_off_t dns = 0, tcp = 0;

    curl_easy_getinfo(h, CURLINFO_NAMELOOKUP_TIME_T, &dns);
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &tcp);
    p->dns_ms = step_ms(h, CURLINFO_NAMELOOKUP_TIME_T, 0);
    p->connect_ms = tcp > 0 ? step_ms(h, CURLINFO_CONNECT_TIME_T, dns) : -1;
    p->tls_ms = tls && tcp > 0 ? step_ms(h, CURLINFO_APPCONNECT_TIME_T, tcp) : -1;
}

/* True for a failure of certificate checks rather than of the network. */
static bool is_verification_error(CURLcode rc)
{
    return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH
           || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM
           || rc == CURLE_SSL_CRL_BADFILE || rc == CURLE_SSL_ISSUER_ERROR;
}

/* The step a failed connection stopped at. */
static const char *failed_step(CURLcode rc, const struct probe *p)
{
    if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY)
        return "dns";
    if (is_verification_error(rc))
        return "tls verification";
    if (rc == CURLE_SSL_CONNECT_ERROR || (rc == CURLE_OPERATION_TIMEDOUT && p->connect_ms >= 0))
        return "tls";
    return "connect";
}

/* A second handshake without verification, only to show the certificate. */
static void inspect_unverified(struct probe *p)
{
    struct hb_config loose = *p->cfg;
    CURL *h;

    loose.insecure_skip_verify = true;
    loose.pinned_pubkey = NULL;
    h = new_handle(&loose, p->server->url, NULL);
    if (h != NULL)
        connect_only(h, p);
    curl_easy_cleanup(h);
}

/* Judge the certificate read from the server. */
static void judge_certificate(struct probe *p)
{
    char reason[64];

    if (!p->have_cert)
        return;
    if (p->cert_days < 0) {
        raise_level(p, LEVEL_CRITICAL, "certificate expired");
    } else if (p->cert_days < EXPIRY_WARN_DAYS) {
        snprintf(reason, sizeof(reason), "certificate expires in %ld days", p->cert_days);
        raise_level(p, LEVEL_WARNING, reason);
    }
}

/* DNS, TCP and TLS, as the module would connect; false when it failed. */
static bool probe_connect(struct probe *p)
{
    bool tls = strncasecmp(p->server->url, "https:", 6) == 0;
    CURL *h = new_handle(p->cfg, p->server->url, p->error);
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    char reason[HB_ERROR_LEN];

    if (h != NULL) {
        rc = connect_only(h, p);
        read_timings(p, h, tls);
    }
    if (rc == CURLE_OK && tls) {
        p->verify = p->cfg->insecure_skip_verify ? (p->cfg->pinned_pubkey != NULL ? "pin-only" : "skipped") : "ok";
    }
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        snprintf(reason, sizeof(reason), "%s failed", failed_step(rc, p));
        p->down = !is_verification_error(rc);
        if (is_verification_error(rc)) {
            p->verify = "failed";
            inspect_unverified(p);
        }
        judge_certificate(p);
        raise_level(p, LEVEL_CRITICAL, reason);
    } else {
        judge_certificate(p);
    }
    if (rc == CURLE_OK && tls && p->cfg->insecure_skip_verify)
        raise_level(p, LEVEL_WARNING, "insecure_skip_verify is set");
    return rc == CURLE_OK;
}

/* Header callback: note a WWW-Authenticate: Basic challenge. */
static size_t see_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct probe *p = userdata;
    size_t n = size * nmemb;
    static const char name[] = "WWW-Authenticate:";

    if (n > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        const char *value = data + sizeof(name) - 1;
        size_t skip = strspn(value, " \t");

        if (n - (sizeof(name) - 1) - skip >= 5 && strncasecmp(value + skip, "Basic", 5) == 0)
            p->basic = true;
    }
    return n;
}

/* A body kept up to its capacity; the rest is dropped. */
struct body {
    char text[STATUS_BODY_MAX + 1];
    size_t len;
};

static size_t keep_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct body *body = userdata;
    size_t n = size * nmemb;
    size_t room = STATUS_BODY_MAX - body->len;
    size_t take = n < room ? n : room;

    memcpy(body->text + body->len, data, take);
    body->len += take;
    body->text[body->len] = '\0';
    return n;
}

/* One request without credentials; the status, or 0 with p->error set. */
static long request(struct probe *p, const char *url, const char *method, struct body *body,
                    long *ms)
{
    struct curl_slist *headers = curl_slist_append(NULL, "Depth: 0");
    CURL *h = new_handle(p->cfg, url, p->error);
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    long status = 0;

    if (h != NULL && headers != NULL) {
        rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (rc == CURLE_OK && strcmp(method, "GET") != 0)
            rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        if (rc == CURLE_OK && strcmp(method, "HEAD") == 0)
            rc = curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, see_header);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(h, CURLOPT_HEADERDATA, p);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
        if (rc == CURLE_OK)
            rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        *ms = step_ms(h, CURLINFO_TOTAL_TIME_T, 0);
    }
    if (rc != CURLE_OK && p->error[0] == '\0')
        snprintf(p->error, sizeof(p->error), "%s", curl_easy_strerror(rc));
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    return rc == CURLE_OK ? status : 0;
}

/* The anonymous request: 401 with a Basic challenge is what a login needs. */
static bool probe_http(struct probe *p)
{
    struct body body;
    char reason[64];

    body.len = 0;
    p->http = request(p, p->server->url, p->cfg->method, &body, &p->http_ms);
    if (p->http == 0) {
        p->down = true;
        raise_level(p, LEVEL_CRITICAL, "no HTTP answer");
    } else if (p->http != 401 || !p->basic) {
        snprintf(reason, sizeof(reason), "anonymous %s answered %ld%s", p->cfg->method, p->http,
                 p->http == 401 ? " without a Basic challenge" : " instead of 401");
        raise_level(p, LEVEL_WARNING, reason);
    }
    return p->http != 0;
}

/* status.php next to remote.php/dav in url, into out; false when url is not Nextcloud-shaped. */
static bool status_url(const char *url, char *out, size_t outlen)
{
    const char *dav = strstr(url, "/remote.php/dav");

    if (dav == NULL)
        return false;
    snprintf(out, outlen, "%.*s/status.php", (int) (dav - url), url);
    return true;
}

/* Copy the JSON string value of key in json into out (letters, digits, ".-+~" only). */
static bool json_string(const char *json, const char *key, char *out, size_t outlen)
{
    const char *at = strstr(json, key);
    size_t n = 0;

    if (at == NULL)
        return false;
    at += strlen(key);
    at += strspn(at, " \t:");
    if (*at++ != '"')
        return false;
    while (n + 1 < outlen && at[n] != '"' && at[n] != '\0' && strchr("0123456789.-+~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", at[n]) != NULL) {
        out[n] = at[n];
        n++;
    }
    out[n] = '\0';
    return n > 0;
}

/* The JSON boolean value of key: "true", "false" or "-". */
static const char *json_bool(const char *json, const char *key)
{
    const char *at = strstr(json, key);

    if (at == NULL)
        return "-";
    at += strlen(key);
    at += strspn(at, " \t:");
    return strncmp(at, "true", 4) == 0 ? "true" : strncmp(at, "false", 5) == 0 ? "false" : "-";
}

/* Nextcloud's status.php: version and maintenance flag; anything else means not Nextcloud. */
static void probe_nextcloud(struct probe *p)
{
    struct body body;
    char url[URL_MAX];
    long ms = 0, status;

    if (!status_url(p->server->url, url, sizeof(url)))
        return;
    body.len = 0;
    body.text[0] = '\0';
    status = request(p, url, "GET", &body, &ms);
    if (p->verbose)
        printf("# %s: GET %s -> %ld (%ld ms)\n", p->server->host, url, status, ms);
    if (status == 200 && strstr(body.text, "\"installed\"") != NULL) {
        if (!json_string(body.text, "\"versionstring\"", p->nextcloud, sizeof(p->nextcloud)))
            snprintf(p->nextcloud, sizeof(p->nextcloud), "unknown");
        p->maintenance = json_bool(body.text, "\"maintenance\"");
        if (strcmp(p->maintenance, "true") == 0)
            raise_level(p, LEVEL_CRITICAL, "Nextcloud is in maintenance mode");
    } else {
        /*
         * Not Nextcloud (Apache mod_dav, SabreDAV, another product): the
         * login works all the same, so this is information, not a warning.
         */
        snprintf(p->nextcloud, sizeof(p->nextcloud), "no");
        if (p->verbose)
            printf("# %s: no Nextcloud status.php (HTTP %ld): a WebDAV server of another kind;"
                   " nothing to check there\n", p->server->host, status);
    }
}

/* A number for the server line, or "-" when unknown. */
static const char *number_text(bool known, long n, char *buf, size_t len)
{
    if (!known)
        return "-";
    snprintf(buf, len, "%ld", n);
    return buf;
}

/* A time for the server line: the number, or "-". */
static const char *ms_text(long ms, char *buf, size_t len)
{
    return number_text(ms >= 0, ms, buf, len);
}

static void print_verbose(const struct probe *p)
{
    if (p->have_cert)
        printf("# %s: certificate subject=\"%s\" issuer=\"%s\" expires in %ld days, verification %s\n",
               p->server->host, p->subject, p->issuer, p->cert_days, p->verify);
    if (p->error[0] != '\0')
        printf("# %s: error: %s\n", p->server->host, p->error);
    printf("# %s: %s\n", p->server->host, p->reason[0] != '\0' ? p->reason : "all steps passed");
}

/* One line per server: key=value pairs, the error last and quoted. */
static void print_server(const struct probe *p)
{
    char dns[24], tcp[24], tls[24], http[24], days[24], error[HB_ERROR_LEN];

    hb_log_escape(p->error, error, sizeof(error));
    if (p->verbose)
        print_verbose(p);
    printf("server=%s status=%s dns_ms=%s connect_ms=%s tls_ms=%s tls=%s cert_days=%s verify=%s"
           " http=%ld auth=%s http_ms=%s nextcloud=%s maintenance=%s%s%s%s\n",
           p->server->host, level_names[p->level], ms_text(p->dns_ms, dns, sizeof(dns)),
           ms_text(p->connect_ms, tcp, sizeof(tcp)), ms_text(p->tls_ms, tls, sizeof(tls)),
           p->tls, number_text(p->have_cert, p->cert_days, days, sizeof(days)), p->verify,
           p->http, p->basic ? "basic" : p->http != 0 ? "none" : "-",
           ms_text(p->http_ms, http, sizeof(http)), p->nextcloud, p->maintenance,
           p->error[0] != '\0' ? " error=\"" : "", p->error[0] != '\0' ? error : "",
           p->error[0] != '\0' ? "\"" : "");
}

/* Every step for one server, then its line. */
static void probe_server(struct probe *p)
{
    if (probe_connect(p) && probe_http(p))
        probe_nextcloud(p);
    print_server(p);
}

/* The exit code: 2 when no server is usable or one failed in a way that needs fixing, 1 on a warning. */
static int overall(const struct probe *probes, size_t count, char *summary, size_t len)
{
    size_t down = 0, used = 0;
    enum level worst = LEVEL_OK;
    bool fatal = false;

    summary[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        const struct probe *p = &probes[i];

        down += p->down;
        fatal = fatal || (p->level == LEVEL_CRITICAL && !p->down);
        worst = p->level > worst ? p->level : worst;
        if (p->level != LEVEL_OK && used < len)
            used += (size_t) snprintf(summary + used, len - used, "%s%s: %s", used > 0 ? "; " : "",
                                      p->server->host, p->reason);
    }
    if (fatal || down == count)
        return 2;
    return worst == LEVEL_OK ? 0 : 1;
}

/* Parse probe's own options; the index of the first module argument, or -1. */
static int probe_options(int argc, char **argv, bool *verbose)
{
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], CTL_NO_CONFIG) == 0)
            ctl_no_config = true;
        else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
            *verbose = true;
        else
            return -1;
    }
    return i;
}

int ctl_probe(int argc, char **argv)
{
    static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
    struct probe probes[HB_MAX_SERVERS];
    const char *args[CTL_MAX_ARGS];
    struct hb_config cfg;
    char summary[2048] = "bad arguments (probe [--verbose] [ARG...])";
    bool verbose = false;
    int first = probe_options(argc, argv, &verbose);
    int rc = 3;

    if (first > 0 && ctl_load(&cfg, ctl_args(argc - first, argv + first, args), args) == 0
        && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {
        for (size_t i = 0; i < cfg.server_count; i++) {
            probes[i] = (struct probe) {.cfg = &cfg, .server = &cfg.servers[i], .verbose = verbose,
                                        .dns_ms = -1, .connect_ms = -1, .tls_ms = -1, .http_ms = -1,
                                        .tls = "-", .verify = "-", .nextcloud = "-", .maintenance = "-"};
            probe_server(&probes[i]);
        }
        rc = overall(probes, cfg.server_count, summary, sizeof(summary));
        if (rc == 0)
            snprintf(summary, sizeof(summary), "%zu of %zu servers OK", cfg.server_count, cfg.server_count);
    } else if (first > 0) {
        snprintf(summary, sizeof(summary), "configuration error");
    }
    printf("HTTPBASIC %s - %s\n", names[rc], summary);
    if (first > 0)
        hb_config_free(&cfg);
    return rc;
}
