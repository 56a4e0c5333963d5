/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_preflight.c - what `pam_httpbasic-ctl check` does after the module's
 * parser accepted a configuration: everything that would otherwise break
 * the first login.  Every file the configuration names is opened (cafile,
 * capath, client certificate and key, a pinned key file, store_auth_file;
 * secret_file was already read by the parser with the module's own rules),
 * the store is opened and asked once through the module's own store code
 * (LMDB: directory and map; Redis: connect, AUTH, SELECT, a GET), every
 * warning the module would log is printed, and the cache records this
 * configuration uses are named.
 *
 * Every problem is one line in the module's format:
 *     config error: FILE:LINE: KEY: problem; what to do
 *     config warning: FILE:LINE: KEY: problem; what to do
 * where FILE:LINE is the config file line that set KEY, or "argument"
 * (a pam.d line's file and number for check --service).
 */
#include "ctl.h"
#include "cache.h"
#include "files.h"
#include "store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define WHERE_LEN 4200           /* a path and a line number */

/* One preflight: the configuration, where its keys came from, the counts. */
struct preflight {
    const struct hb_config *cfg;
    int count;                   /* module arguments */
    const char **args;
    const char *arg_origin;      /* "argument", or "FILE:LINE" of a pam.d line */
    struct ctl_counts *counts;
};

/* True when arg sets key ("key" or "key=..."). */
static bool arg_sets(const char *arg, const char *key)
{
    size_t len = strlen(key);

    return strncmp(arg, key, len) == 0 && (arg[len] == '\0' || arg[len] == '=');
}

/* The last line of the config file that sets key, or 0. */
static unsigned file_line_of(const char *path, const char *key)
{
    char line[8192];
    unsigned number = 0, found = 0;
    size_t len = strlen(key);
    FILE *fp = fopen(path, "re");

    if (fp == NULL)
        return 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        const char *s = line + strspn(line, " \t");

        number++;
        if (strncmp(s, key, len) == 0 && strchr(" \t=\r\n", s[len]) != NULL)   /* '\0' too */
            found = number;
    }
    fclose(fp);
    return found;
}

/* Where key was set, as the module's parser names it: FILE:LINE, FILE or the argument origin. */
static void where_of(const struct preflight *pf, const char *key, char *out, size_t outlen)
{
    unsigned line;

    for (int i = 0; i < pf->count; i++)
        if (arg_sets(pf->args[i], key)) {
            snprintf(out, outlen, "%s", pf->arg_origin);
            return;
        }
    if (pf->cfg->config == NULL) {
        snprintf(out, outlen, "%s", pf->arg_origin);
        return;
    }
    line = file_line_of(pf->cfg->config, key);
    if (line > 0)
        snprintf(out, outlen, "%s:%u", pf->cfg->config, line);
    else
        snprintf(out, outlen, "%s", pf->cfg->config);
}

/* One problem line about key, counted; on stderr, after what stdout holds so far. */
static void problem(struct preflight *pf, bool error, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct preflight *pf, bool error, const char *key, const char *fmt, ...)
{
    char where[WHERE_LEN], msg[HB_ERROR_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    where_of(pf, key, where, sizeof(where));
    fflush(stdout);
    fprintf(stderr, "config %s: %s: %s: %s\n", error ? "error" : "warning", where, key, msg);
    if (error)
        pf->counts->errors++;
    else
        pf->counts->warnings++;
}

/* OpenSSL's last error as text, or fallback. */
static const char *ssl_error(const char *fallback)
{
    static char text[256];
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        return fallback;
    ERR_error_string_n(e, text, sizeof(text));
    ERR_clear_error();
    return text;
}

/* cafile: readable, and at least one PEM certificate in it. */
static void check_cafile(struct preflight *pf)
{
    const char *path = pf->cfg->cafile;
    FILE *fp;
    X509 *cert;
    unsigned n = 0;

    if (path == NULL)
        return;
    fp = fopen(path, "re");
    if (fp == NULL) {
        problem(pf, true, "cafile", "cannot open %s: %s; name the PEM file of the CA that signed"
                " the server's certificate", path, strerror(errno));
        return;
    }
    while ((cert = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
        n++;
        X509_free(cert);
    }
    ERR_clear_error();
    fclose(fp);
    if (n == 0)
        problem(pf, true, "cafile", "%s holds no PEM certificate; name a PEM file"
                " (-----BEGIN CERTIFICATE-----) of the CA that signed the server's certificate", path);
}

/* True for OpenSSL's hashed names: 8 hex digits, '.', a number (r for CRLs). */
static bool is_hashed_name(const char *name)
{
    size_t i = 0;

    while (i < 8 && isxdigit((unsigned char) name[i]))
        i++;
    return i == 8 && name[8] == '.' && (isdigit((unsigned char) name[9])
                                        || (name[9] == 'r' && isdigit((unsigned char) name[10])));
}

/* capath: a directory with OpenSSL's hashed certificate names in it. */
static void check_capath(struct preflight *pf)
{
    const char *path = pf->cfg->capath;
    struct dirent *entry;
    unsigned hashed = 0;
    DIR *dir;

    if (path == NULL)
        return;
    dir = opendir(path);
    if (dir == NULL) {
        problem(pf, true, "capath", "cannot open the directory %s: %s; name a directory of CA"
                " certificates (openssl rehash DIR)", path, strerror(errno));
        return;
    }
    while ((entry = readdir(dir)) != NULL)
        hashed += is_hashed_name(entry->d_name);
    closedir(dir);
    if (hashed == 0)
        problem(pf, true, "capath", "%s holds no hashed certificate names (like 1a2b3c4d.0), so"
                " OpenSSL finds no CA in it; run openssl rehash %s", path, path);
}

/* client_cert and client_key: both load, the key is private and matches. */
static void check_client(struct preflight *pf)
{
    const char *cert = pf->cfg->client_cert, *key = pf->cfg->client_key;
    SSL_CTX *ctx;
    struct stat s;
    int fd;

    if (cert == NULL || key == NULL)
        return;
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        problem(pf, true, "client_cert", "OpenSSL: out of memory; try again");
        return;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        problem(pf, true, "client_cert", "cannot load %s: %s; name a PEM certificate the host can read",
                cert, ssl_error("unreadable"));
    fd = open(key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        problem(pf, true, "client_key", "cannot open %s: %s; the host process (root, or the user"
                " Dovecot's auth worker runs as) must be able to read it", key, strerror(errno));
    } else {
        if (fstat(fd, &s) == 0 && (s.st_mode & (S_IRWXG | S_IRWXO)) != 0)
            problem(pf, false, "client_key", "%s is readable or writable by group or others; chmod 600 %s",
                    key, key);
        close(fd);
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
            && ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
            problem(pf, true, "client_key", "cannot load %s: %s; name an unencrypted PEM private key",
                    key, ssl_error("unreadable"));
        else if (SSL_CTX_get0_certificate(ctx) != NULL && SSL_CTX_check_private_key(ctx) != 1)
            problem(pf, true, "client_key", "%s does not belong to the certificate in %s; name the"
                    " key made with that certificate", key, cert);
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
}

/* pinned_pubkey: a key file (not a sha256// hash) must be readable. */
static void check_pin(struct preflight *pf)
{
    const char *pin = pf->cfg->pinned_pubkey;
    int fd;

    if (pin == NULL || strncmp(pin, "sha256//", 8) == 0)
        return;
    fd = open(pin, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        problem(pf, true, "pinned_pubkey", "cannot open %s: %s; give sha256//BASE64 or a readable"
                " public key file", pin, strerror(errno));
    else
        close(fd);
}

/* store_auth_file: read with the module's own rules for secret files. */
static void check_store_auth(struct preflight *pf)
{
    unsigned char secret[HB_SECRET_MAX];
    char why[HB_ERROR_LEN];
    size_t len = 0;

    if (pf->cfg->store_auth_file == NULL)
        return;
    if (hb_read_secret(pf->cfg->store_auth_file, secret, &len, why, sizeof(why)) != 0)
        problem(pf, true, "store_auth_file", "%s; it must be a regular file owned by root (or the"
                " user the host runs as), mode 0600, holding PASSWORD or USER PASSWORD", why);
    else if (len == 0 || memchr(secret, '\n', len) != NULL)
        problem(pf, true, "store_auth_file", "%s must hold one line: PASSWORD or USER PASSWORD",
                pf->cfg->store_auth_file);
    explicit_bzero(secret, sizeof(secret));
}

/* The store, opened and asked once through the module's own code. */
static void check_store(struct preflight *pf)
{
    static const uint8_t key[] = "pam_httpbasic-ctl check";
    uint8_t value[HB_STORE_VALUE_MAX];
    size_t valuelen = 0;
    char err[HB_ERROR_LEN];
    bool lmdb;
    struct hb_store *store;
    int rc;

    if (pf->cfg->store == NULL)
        return;
    lmdb = strncmp(pf->cfg->store, "lmdb:", 5) == 0;
    store = hb_store_acquire(pf->cfg, err, sizeof(err));
    rc = store != NULL ? hb_store_get(store, key, sizeof(key) - 1, value, &valuelen, err, sizeof(err))
                       : HB_STORE_ERROR;
    hb_store_release(store);
    explicit_bzero(value, sizeof(value));
    if (rc == HB_STORE_ERROR)
        problem(pf, true, "store", "%s; %s", strncmp(err, "store: ", 7) == 0 ? err + 7 : err, lmdb
                ? "the directory and its files must belong to the user the host runs as, not be"
                  " writable by group or others (mode 0700), and not be symbolic links"
                : "check that Redis runs at that address, that store_auth_file holds a password"
                  " (and user) it accepts, and that the database number exists");
    else
        printf("store: %s answered (%s)\n", pf->cfg->store,
               lmdb ? "directory, files and map opened" : "connect, AUTH, SELECT and a GET");
}

/*
 * Which cache records this configuration reads and writes: today they are
 * keyed by the store (and its secret) and the server list (cache.h).  An
 * option that changes the key (a cache_realm=) belongs on this line too.
 */
static void print_cache_records(const struct hb_config *cfg)
{
    char scope[HB_ERROR_LEN];

    if (cfg->store == NULL) {
        printf("cache: none (no store=)\n");
        return;
    }
    if (cfg->cache_fresh == 0 && cfg->cache_stale == 0) {
        printf("cache: none (cache_fresh and cache_stale are 0); the store keeps resting servers"
               " and guard counters\n");
        return;
    }
    hb_cache_describe_scope(cfg, scope, sizeof(scope));
    printf("cache: records in store=%s of %s (fresh=%ld stale=%ld)\n", cfg->store, scope,
           cfg->cache_fresh, cfg->cache_stale);
}

void ctl_preflight(const struct hb_config *cfg, int count, const char **args, const char *arg_origin,
                   struct ctl_counts *counts)
{
    struct preflight pf = {cfg, count, args, arg_origin, counts};

    if (cfg->warning[0] != '\0') {
        fflush(stdout);
        fprintf(stderr, "config warning: %s\n", cfg->warning);
        counts->warnings++;
    }
    if (cfg->insecure_skip_verify)
        problem(&pf, false, "insecure_skip_verify", "the TLS certificate of %s is not verified (logged"
                " at every login); remove it and name the server's CA with cafile", cfg->servers[0].host);
    check_cafile(&pf);
    check_capath(&pf);
    check_client(&pf);
    check_pin(&pf);
    check_store_auth(&pf);
    check_store(&pf);
    print_cache_records(cfg);
}

int ctl_summary(const struct ctl_counts *counts)
{
    fflush(stderr);
    if (counts->errors == 0 && counts->warnings == 0) {
        printf("OK\n");
        return 0;
    }
    printf("%u error%s, %u warning%s\n", counts->errors, counts->errors == 1 ? "" : "s",
           counts->warnings, counts->warnings == 1 ? "" : "s");
    return counts->errors > 0 ? 1 : 2;
}
