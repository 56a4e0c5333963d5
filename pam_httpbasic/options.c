/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * options.c - parse module arguments and the config file into struct hb_config.
 *
 * Every key is described once in the option table below.  Both sources go
 * through set_option(); the file is read first, then the arguments, which
 * may override what the file said.  Nothing here touches the network or PAM.
 */
#include "options.h"
#include "files.h"
#include "url.h"
#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_SIZE (64 * 1024)
#define THROTTLE_TIMEOUT_MS 26000   /* Nextcloud's longest throttle delay (25 s) + 1 s */

enum option_type {
    OPT_FLAG,       /* bool; bare key, or yes/no/true/false/on/off/1/0 */
    OPT_BARE,       /* bool; only the bare key (libpam reads these itself) */
    OPT_STRING,     /* free text without control characters */
    OPT_PATH,       /* absolute path */
    OPT_MS,         /* milliseconds within [min, max] */
    OPT_NUMBER,     /* plain number within [min, max] */
    OPT_STATUSES,   /* comma-separated HTTP statuses */
    OPT_METHOD,     /* HTTP method token */
    OPT_HEADER,     /* header name, or "none" */
    OPT_DOMAIN,     /* domain for user_domain */
    OPT_URLS,       /* url: may be repeated, or a space-separated list */
};

enum source { SOURCE_NONE = 0, SOURCE_FILE, SOURCE_ARG };

struct option {
    const char *name;
    enum option_type type;
    size_t offset;          /* of the field in struct hb_config */
    size_t count_offset;    /* OPT_STATUSES: offset of the count field */
    long min, max;          /* OPT_MS / OPT_NUMBER range */
};

#ifndef HB_HIREDIS_VERSION
#define HB_HIREDIS_VERSION "?"   /* set by configure */
#endif

#define FIELD(f) offsetof(struct hb_config, f)

static const struct option options[] = {
    {"url", OPT_URLS, FIELD(servers), FIELD(server_count), 0, 0},
    {"server_retry_after", OPT_NUMBER, FIELD(server_retry_after), 0, 0, 3600},
    {"method", OPT_METHOD, FIELD(method), 0, 0, 0},
    {"timeout", OPT_MS, FIELD(timeout_ms), 0, 100, 300000},
    {"connect_timeout", OPT_MS, FIELD(connect_timeout_ms), 0, 100, 300000},
    {"ok_status", OPT_STATUSES, FIELD(ok_status), FIELD(ok_status_count), 0, 0},
    {"deny_status", OPT_STATUSES, FIELD(deny_status), FIELD(deny_status_count), 0, 0},
    {"forward_header", OPT_HEADER, FIELD(forward_header), 0, 0, 0},
    {"cafile", OPT_PATH, FIELD(cafile), 0, 0, 0},
    {"capath", OPT_PATH, FIELD(capath), 0, 0, 0},
    {"pinned_pubkey", OPT_STRING, FIELD(pinned_pubkey), 0, 0, 0},
    {"client_cert", OPT_PATH, FIELD(client_cert), 0, 0, 0},
    {"client_key", OPT_PATH, FIELD(client_key), 0, 0, 0},
    {"insecure_skip_verify", OPT_FLAG, FIELD(insecure_skip_verify), 0, 0, 0},
    {"allow_http", OPT_FLAG, FIELD(allow_http), 0, 0, 0},
    {"proxy", OPT_STRING, FIELD(proxy), 0, 0, 0},
    {"max_password_len", OPT_NUMBER, FIELD(max_password_len), 0, 1, 4096},
    {"user_lowercase", OPT_FLAG, FIELD(user_lowercase), 0, 0, 0},
    {"user_strip_domain", OPT_FLAG, FIELD(user_strip_domain), 0, 0, 0},
    {"user_domain", OPT_DOMAIN, FIELD(user_domain), 0, 0, 0},
    {"debug", OPT_FLAG, FIELD(debug), 0, 0, 0},
    {"use_first_pass", OPT_BARE, FIELD(use_first_pass), 0, 0, 0},
    {"try_first_pass", OPT_BARE, FIELD(try_first_pass), 0, 0, 0},
    {"use_authtok", OPT_BARE, FIELD(use_authtok), 0, 0, 0},
    {"config", OPT_PATH, FIELD(config), 0, 0, 0},
    {"store", OPT_STRING, FIELD(store), 0, 0, 0},
    {"secret_file", OPT_PATH, FIELD(secret_file), 0, 0, 0},
    {"store_auth_file", OPT_PATH, FIELD(store_auth_file), 0, 0, 0},
    {"store_timeout", OPT_MS, FIELD(store_timeout_ms), 0, 10, 10000},
    {"store_cafile", OPT_PATH, FIELD(store_cafile), 0, 0, 0},
    {"store_cert", OPT_PATH, FIELD(store_cert), 0, 0, 0},
    {"store_key", OPT_PATH, FIELD(store_key), 0, 0, 0},
    {"cache_fresh", OPT_NUMBER, FIELD(cache_fresh), 0, 0, 31536000},
    {"cache_stale", OPT_NUMBER, FIELD(cache_stale), 0, 0, 31536000},
    {"cache_per_user", OPT_NUMBER, FIELD(cache_per_user), 0, 1, 64},
    {"cache_realm", OPT_STRING, FIELD(cache_realm), 0, 0, 0},
    {"guard_failures", OPT_NUMBER, FIELD(guard_failures), 0, 0, 1000},
    {"guard_window", OPT_NUMBER, FIELD(guard_window), 0, 1, 86400},
    {"guard_exempt", OPT_STRING, FIELD(guard_exempt), 0, 0, 0},
    {"guard_ipv6_prefix", OPT_NUMBER, FIELD(guard_ipv6_prefix), 0, 32, 128},
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

/* Header names the module sets itself or that change the request framing. */
static const char *const reserved_headers[] = {
    "Authorization", "Connection", "Content-Length", "Content-Type", "Cookie",
    "Depth", "Expect", "Host", "Proxy-Authorization", "Transfer-Encoding",
    "User-Agent", "X-Requested-With",
};

/* Parser state: where the current key comes from, and who set what. */
struct parser {
    struct hb_config *cfg;
    enum source seen[OPTION_COUNT];
    unsigned line_of[OPTION_COUNT];  /* file line that set the key, 0 for an argument */
    enum source source;
    const char *where;      /* "argument" or the file name */
    unsigned line;          /* file line, 0 for arguments */
    char *err;
    size_t errlen;
};

/* Format "WHERE[:LINE]: key: message" into the parser's error buffer; returns -1. */
static int vfail_at(struct parser *p, const char *where, unsigned line, const char *key,
                    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static int vfail_at(struct parser *p, const char *where, unsigned line, const char *key,
                    const char *fmt, va_list ap)
{
    char msg[HB_ERROR_LEN];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (line > 0)
        snprintf(p->err, p->errlen, "%s:%u: %s: %s", where, line, key, msg);
    else
        snprintf(p->err, p->errlen, "%s: %s: %s", where, key, msg);
    for (char *c = p->err; *c != '\0'; c++)
        if (hb_is_control((unsigned char) *c))
            *c = '?';    /* the message goes to syslog: no control characters */
    return -1;
}

/* An error at the place being read (file line or argument); returns -1. */
static int fail(struct parser *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, const char *key, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail_at(p, p->where, p->line, key, fmt, ap);
    va_end(ap);
    return -1;
}

static const struct option *find_option(const char *key);

/*
 * Where key was set: "FILE" and its line when the config file set it,
 * "argument" when a module argument did; for a key set nowhere, the config
 * file (line 0) when there is one, else "argument".
 */
static const char *origin(const struct parser *p, const char *key, unsigned *line)
{
    const struct option *opt = find_option(key);
    size_t i = opt != NULL ? (size_t) (opt - options) : 0;
    enum source src = opt != NULL ? p->seen[i] : SOURCE_NONE;

    *line = src == SOURCE_FILE ? p->line_of[i] : 0;
    if (src == SOURCE_FILE || (src == SOURCE_NONE && p->cfg->config != NULL))
        return p->cfg->config;
    return "argument";
}

/*
 * An error about key after both sources were read (the checks that
 * involve several keys), placed where the key "at" was set: "FILE:LINE:
 * key: message", the format of an error found while reading.  Returns -1.
 */
static int fail_near(struct parser *p, const char *at, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_near(struct parser *p, const char *at, const char *key, const char *fmt, ...)
{
    unsigned line;
    const char *where = origin(p, at, &line);
    va_list ap;

    va_start(ap, fmt);
    vfail_at(p, where, line, key, fmt, ap);
    va_end(ap);
    return -1;
}

/* An error placed where key itself was set. */
#define fail_key(p, key, ...) fail_near(p, key, key, __VA_ARGS__)

/* A warning about a key, in the error format, into cfg->warning. */
static void warn_key(struct parser *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn_key(struct parser *p, const char *key, const char *fmt, ...)
{
    char *err = p->err;
    size_t errlen = p->errlen;
    unsigned line;
    const char *where = origin(p, key, &line);
    va_list ap;

    p->err = p->cfg->warning;
    p->errlen = sizeof(p->cfg->warning);
    va_start(ap, fmt);
    vfail_at(p, where, line, key, fmt, ap);
    va_end(ap);
    p->err = err;
    p->errlen = errlen;
}

/* Edit distance of a and b (ASCII case ignored), capped at 9. */
static unsigned edit_distance(const char *a, const char *b)
{
    unsigned row[64], diag, next;
    size_t la = strlen(a), lb = strlen(b);

    if (la >= 63 || lb >= 63)
        return 9;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned) j;
    for (size_t i = 1; i <= la; i++) {
        diag = row[0];
        row[0] = (unsigned) i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = tolower((unsigned char) a[i - 1]) != tolower((unsigned char) b[j - 1]);
            unsigned best = diag + cost;

            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            next = row[j];
            row[j] = best;
            diag = next;
        }
    }
    return row[lb] > 9 ? 9 : row[lb];
}

/* The known key closest to an unknown one, or NULL when none is close. */
static const char *closest_key(const char *key);

/* True when s holds a control character. */
static bool has_control(const char *s)
{
    for (; *s != '\0'; s++)
        if (hb_is_control((unsigned char) *s))
            return true;
    return false;
}

static const struct option *find_option(const char *key)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strcmp(options[i].name, key) == 0)
            return &options[i];
    return NULL;
}

static const char *closest_key(const char *key)
{
    const char *best = NULL;
    unsigned best_distance = 9;
    size_t len = strlen(key);
    /* Close: at most 2 edits, and fewer than a third of the key's letters. */
    unsigned limit = len >= 9 ? 2 : len >= 4 ? 1 : 0;

    for (size_t i = 0; i < OPTION_COUNT; i++) {
        unsigned d = edit_distance(key, options[i].name);

        if (d <= limit && d < best_distance) {
            best = options[i].name;
            best_distance = d;
        }
    }
    return best;
}

/* Parse a decimal number within [min, max]; 0 on success. */
static int parse_long(const char *value, long min, long max, long *out)
{
    char *end;
    long n;

    if (!isdigit((unsigned char) value[0]))
        return -1;
    errno = 0;
    n = strtol(value, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

static int parse_flag(const char *value, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    if (value == NULL) {
        *out = true;
        return 0;
    }
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int parse_statuses(struct parser *p, const struct option *opt, const char *value)
{
    long *list = (long *) ((char *) p->cfg + opt->offset);
    size_t *count = (size_t *) ((char *) p->cfg + opt->count_offset);
    char buf[128];
    char *save = NULL;
    size_t n = 0;

    if (strlen(value) >= sizeof(buf))
        return fail(p, opt->name, "value too long");
    strcpy(buf, value);
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (n == HB_MAX_STATUS)
            return fail(p, opt->name, "more than %d statuses", HB_MAX_STATUS);
        if (parse_long(tok, 100, 599, &list[n]) != 0)
            return fail(p, opt->name, "\"%s\" is not an HTTP status (100-599)", tok);
        n++;
    }
    if (n == 0)
        return fail(p, opt->name, "needs at least one status");
    *count = n;
    return 0;
}

static bool is_token_char(char c)
{
    return isalnum((unsigned char) c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int check_method(struct parser *p, const char *key, const char *value)
{
    size_t len = strlen(value);

    if (len == 0 || len > 32)
        return fail(p, key, "must be 1 to 32 letters");
    for (const char *c = value; *c != '\0'; c++)
        if (!isupper((unsigned char) *c) && *c != '-' && *c != '_')
            return fail(p, key, "\"%s\" is not an upper-case HTTP method", value);
    return 0;
}

static int check_header(struct parser *p, const char *key, const char *value)
{
    size_t len = strlen(value);

    if (len == 0 || len > 64)
        return fail(p, key, "must be a header name of 1 to 64 characters, or none");
    for (const char *c = value; *c != '\0'; c++)
        if (!is_token_char(*c))
            return fail(p, key, "\"%s\" is not a valid header name", value);
    for (size_t i = 0; i < sizeof(reserved_headers) / sizeof(reserved_headers[0]); i++)
        if (strcasecmp(value, reserved_headers[i]) == 0)
            return fail(p, key, "\"%s\" is a header the module must control", value);
    return 0;
}

static int check_domain(struct parser *p, const char *key, const char *value)
{
    size_t len = strlen(value);

    if (len == 0 || len > 253)
        return fail(p, key, "must be a domain of 1 to 253 characters");
    if (strpbrk(value, "@: /") != NULL)
        return fail(p, key, "must not contain '@', ':', '/' or spaces");
    return 0;
}

/* Validate value for opt; for string types report whether it is acceptable. */
static int check_string(struct parser *p, const struct option *opt, const char *value)
{
    if (has_control(value))
        return fail(p, opt->name, "contains a control character");
    if (strlen(value) > HB_MAX_VALUE_LEN)
        return fail(p, opt->name, "value longer than %d bytes", HB_MAX_VALUE_LEN);
    switch (opt->type) {
    case OPT_PATH:
        if (value[0] != '/')
            return fail(p, opt->name, "must be an absolute path");
        return 0;
    case OPT_METHOD:
        return check_method(p, opt->name, value);
    case OPT_HEADER:
        return strcmp(value, "none") == 0 ? 0 : check_header(p, opt->name, value);
    case OPT_DOMAIN:
        return check_domain(p, opt->name, value);
    default:
        if (value[0] == '\0')
            return fail(p, opt->name, "needs a value");
        return 0;
    }
}

static int store_string(struct parser *p, const struct option *opt, const char *value)
{
    char **field = (char **) ((char *) p->cfg + opt->offset);
    char *copy = NULL;

    if (check_string(p, opt, value) != 0)
        return -1;
    if (!(opt->type == OPT_HEADER && strcmp(value, "none") == 0)) {
        copy = strdup(value);
        if (copy == NULL)
            return fail(p, opt->name, "out of memory");
    }
    free(*field);
    *field = copy;
    return 0;
}

static void free_servers(struct hb_config *cfg)
{
    for (size_t i = 0; i < cfg->server_count; i++) {
        free(cfg->servers[i].url);
        cfg->servers[i].url = NULL;
    }
    cfg->server_count = 0;
}

/* Append the space-separated URLs in value to the server list. */
static int add_servers(struct parser *p, const struct option *opt, const char *value)
{
    struct hb_config *cfg = p->cfg;
    const char *start = value;

    if (check_string(p, opt, value) != 0)
        return -1;
    while (*start != '\0') {
        size_t len = strcspn(start, " \t");

        if (len > 0) {
            if (cfg->server_count == HB_MAX_SERVERS)
                return fail(p, opt->name, "more than %d servers", HB_MAX_SERVERS);
            cfg->servers[cfg->server_count].url = strndup(start, len);
            if (cfg->servers[cfg->server_count].url == NULL)
                return fail(p, opt->name, "out of memory");
            cfg->server_count++;
        }
        start += len + strspn(start + len, " \t");
    }
    return 0;
}

/* Apply one key/value pair (value NULL for a bare key) from the current source. */
static int set_option(struct parser *p, const char *key, const char *value)
{
    const struct option *opt = find_option(key);
    size_t index;
    void *field;

    if (opt == NULL) {
        const char *close = closest_key(key);

        if (close != NULL)
            return fail(p, key, "unknown key; did you mean %s?", close);
        return fail(p, key, "unknown key; pam_httpbasic(8) lists the keys");
    }
    index = (size_t) (opt - options);
    if (p->seen[index] == p->source && opt->type != OPT_URLS)
        return fail(p, key, "duplicate key");
    if (opt->offset == FIELD(config) && p->source == SOURCE_FILE)
        return fail(p, key, "not allowed inside a config file");
    if (opt->type == OPT_URLS && p->seen[index] != p->source)
        free_servers(p->cfg);   /* arguments replace the file's list */
    p->seen[index] = p->source;
    p->line_of[index] = p->line;
    field = (char *) p->cfg + opt->offset;
    if (opt->type == OPT_FLAG) {
        if (parse_flag(value, (bool *) field) != 0)
            return fail(p, key, "\"%s\" is not yes or no", value);
        return 0;
    }
    if (opt->type == OPT_BARE) {
        if (value != NULL)
            return fail(p, key, "takes no value: libpam's pam_get_authtok() treats any %s... as set", key);
        *(bool *) field = true;
        return 0;
    }
    if (value == NULL)
        return fail(p, key, "needs a value (%s=...)", key);
    switch (opt->type) {
    case OPT_MS:
    case OPT_NUMBER:
        if (parse_long(value, opt->min, opt->max, (long *) field) != 0)
            return fail(p, key, "\"%s\" is not a number from %ld to %ld", value, opt->min, opt->max);
        return 0;
    case OPT_STATUSES:
        return parse_statuses(p, opt, value);
    case OPT_URLS:
        return add_servers(p, opt, value);
    default:
        return store_string(p, opt, value);
    }
}

/* Split "key=value" (or a bare "key") and apply it. */
static int set_argument(struct parser *p, const char *arg)
{
    char key[64];
    const char *eq = strchr(arg, '=');
    size_t keylen = eq != NULL ? (size_t) (eq - arg) : strlen(arg);

    if (keylen == 0 || keylen >= sizeof(key))
        return fail(p, arg, "malformed argument");
    memcpy(key, arg, keylen);
    key[keylen] = '\0';
    return set_option(p, key, eq != NULL ? eq + 1 : NULL);
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* Parse one config file line: blank, "# comment", "key" or "key = value". */
static int parse_line(struct parser *p, char *line)
{
    char *key = trim(line);
    char *eq;

    if (*key == '\0' || *key == '#')
        return 0;
    eq = strchr(key, '=');
    if (eq == NULL)
        return set_option(p, key, NULL);
    *eq = '\0';
    key = trim(key);
    if (*key == '\0')
        return fail(p, "=", "line has no key");
    if (strstr(eq + 1, " #") != NULL || strstr(eq + 1, "\t#") != NULL)
        return fail(p, key, "a '#' after the value: comments must stand on their own line");
    return set_option(p, key, trim(eq + 1));
}

/* Open the config file: no symlink, root's, writable only by its owner. */
static int open_config(struct parser *p, const char *path)
{
    char why[HB_ERROR_LEN];
    int fd = hb_open_trusted(path, S_IWGRP | S_IWOTH, MAX_FILE_SIZE, why, sizeof(why));

    if (fd < 0)
        return fail(p, "config", "%s", why);
    return fd;
}

static int parse_file(struct parser *p, const char *path)
{
    char line[HB_MAX_VALUE_LEN + 256];
    int rc = 0;
    int fd = open_config(p, path);
    FILE *fp;

    if (fd < 0)
        return -1;
    fp = fdopen(fd, "r");
    if (fp == NULL) {
        close(fd);
        return fail(p, "config", "cannot read %s", path);
    }
    p->source = SOURCE_FILE;
    p->where = path;
    while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
        size_t len = strlen(line);

        p->line++;
        if (len > 0 && line[len - 1] == '\n')
            line[len - 1] = '\0';
        else if (!feof(fp))
            rc = fail(p, "line", "longer than %zu bytes", sizeof(line) - 2);
        if (rc == 0)
            rc = parse_line(p, line);
    }
    if (rc == 0 && ferror(fp))
        rc = fail(p, "config", "error reading %s", path);
    fclose(fp);
    p->line = 0;
    return rc;
}

/*
 * Parse one url: only http(s), http only with allow_http, no credentials.
 * The url is replaced by libcurl's normalised form, so that what is checked
 * here ("https://host/...") is the very text used for requests and logs.
 */
static int check_url(struct parser *p, struct hb_server *server)
{
    char why[HB_ERROR_LEN], *normalised = NULL;

    if (hb_url_check(server->url, p->cfg->allow_http, &normalised, server->host, why, sizeof(why)) != 0)
        return fail_key(p, "url", "%s", why);
    free(server->url);
    server->url = normalised;
    return 0;
}

static int check_proxy(struct parser *p)
{
    static const char *const schemes[] = {"http://", "https://", "socks5://", "socks5h://"};
    const char *proxy = p->cfg->proxy;

    if (proxy == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strncasecmp(proxy, schemes[i], strlen(schemes[i])) == 0)
            return 0;
    return fail_key(p, "proxy", "must start with http://, https://, socks5:// or socks5h://; add the scheme");
}

/* True when key was set by an argument or the file. */
static bool is_set(const struct parser *p, const char *key)
{
    return p->seen[find_option(key) - options] != SOURCE_NONE;
}

/*
 * The secret: a file hb_read_secret() trusts (root-owned, no group or
 * other access) holding at least HB_SECRET_MIN bytes.  The bytes are wiped.
 */
static int check_secret(struct parser *p)
{
    unsigned char secret[HB_SECRET_MAX];
    char why[HB_ERROR_LEN];
    size_t len = 0;
    int rc = 0;

    if (hb_read_secret(p->cfg->secret_file, secret, &len, why, sizeof(why)) != 0)
        rc = fail_key(p, "secret_file", "%s; it must be a regular file owned by root (or the user the host runs as), mode 0600", why);
    else if (len < HB_SECRET_MIN)
        rc = fail_key(p, "secret_file", "%s holds %zu bytes, at least %d are needed; make a new one: openssl rand -hex 32 > %s",
                  p->cfg->secret_file, len, HB_SECRET_MIN, p->cfg->secret_file);
    explicit_bzero(secret, sizeof(secret));
    return rc;
}

/*
 * Redis over TLS: rediss:// needs a module built with hiredis_ssl (hiredis
 * >= 1.0) and store_cafile; store_cafile, store_cert and store_key belong
 * to rediss:// only, and the client certificate and key go together.
 */
static int check_store_tls(struct parser *p)
{
    const struct hb_config *cfg = p->cfg;
    bool tls = strncmp(cfg->store, "rediss://", 9) == 0;
    static const char *const tls_only[] = {"store_cafile", "store_cert", "store_key"};

    if (!tls) {
        for (size_t i = 0; i < sizeof(tls_only) / sizeof(tls_only[0]); i++)
            if (is_set(p, tls_only[i]))
                return fail_key(p, tls_only[i], "only for a rediss:// store (Redis over TLS)");
        return 0;
    }
#ifndef HAVE_HIREDIS_SSL
    return fail_key(p, "store", "rediss:// (Redis over TLS) needs hiredis >= 1.0 with hiredis_ssl; this module"
                " was built with hiredis %s, which has no TLS (use redis:// over a trusted network,"
                " redis+unix:, or a build against hiredis >= 1.0, e.g. on Debian 13)", HB_HIREDIS_VERSION);
#else
    if (cfg->store_cafile == NULL)
        return fail_key(p, "store_cafile", "required with rediss:// (the CA certificate(s) that signed Redis's"
                    " certificate, PEM)");
    if ((cfg->store_cert == NULL) != (cfg->store_key == NULL))
        return fail_key(p, cfg->store_cert == NULL ? "store_cert" : "store_key",
                    "store_cert and store_key go together");
    return 0;
#endif
}

/*
 * The store: a known scheme (the backend checks the rest when it opens),
 * a secret with it, and the options that need a store only with one.
 */
static int check_store(struct parser *p)
{
    static const char *const needs_store[] = {
        "secret_file", "store_auth_file", "store_timeout", "store_cafile", "store_cert", "store_key",
        "cache_fresh", "cache_stale", "cache_per_user", "cache_realm", "guard_failures", "guard_window",
        "guard_exempt", "guard_ipv6_prefix"};
    const char *store = p->cfg->store;
    char bad[80];

    if (store == NULL) {
        for (size_t i = 0; i < sizeof(needs_store) / sizeof(needs_store[0]); i++)
            if (is_set(p, needs_store[i]))
                return fail_key(p, needs_store[i], "needs store=; set store= or remove %s", needs_store[i]);
        return 0;
    }
    if (strncmp(store, "lmdb:/", 6) != 0 && strncmp(store, "redis://", 8) != 0
        && strncmp(store, "rediss://", 9) != 0 && strncmp(store, "redis+unix:/", 12) != 0)
        return fail_key(p, "store", "must be lmdb:/DIR, redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB]"
                        " or redis+unix:/PATH[?db=N]; for one host: store = lmdb:/var/cache/pam_httpbasic");
    if (check_store_tls(p) != 0)
        return -1;
    if (p->cfg->secret_file == NULL)
        return fail_near(p, "store", "secret_file", "required with store=; create one (openssl rand -hex 32 > FILE;"
                         " chmod 600 FILE) and add secret_file = FILE");
    if (p->cfg->store_auth_file != NULL && strncmp(store, "lmdb:", 5) == 0)
        return fail_key(p, "store_auth_file", "only for a Redis store; remove it, or use store = redis://...");
    if (p->cfg->guard_exempt != NULL && !hb_address_list_valid(p->cfg->guard_exempt, bad, sizeof(bad)))
        return fail_key(p, "guard_exempt", "'%s' is not an address or network; write a.b.c.d[/BITS] or IPv6[/BITS], comma-separated", bad);
    return check_secret(p);
}

/* Checks that involve several keys, after both sources were read. */
static int check_complete(struct parser *p)
{
    struct hb_config *cfg = p->cfg;

    if (cfg->server_count == 0)
        return fail_key(p, "url", "missing; add url=https://HOST/remote.php/dav/");
    for (size_t i = 0; i < cfg->server_count; i++)
        if (check_url(p, &cfg->servers[i]) != 0)
            return -1;
    if (check_proxy(p) != 0)
        return -1;
    if (cfg->connect_timeout_ms > cfg->timeout_ms) {
        if (is_set(p, "connect_timeout"))
            return fail_key(p, "connect_timeout", "must not exceed timeout (%ld ms); lower connect_timeout or raise timeout", cfg->timeout_ms);
        cfg->connect_timeout_ms = cfg->timeout_ms;   /* the default follows a short timeout */
    }
    if ((cfg->client_cert == NULL) != (cfg->client_key == NULL))
        return fail_near(p, cfg->client_cert == NULL ? "client_key" : "client_cert",
                         cfg->client_cert == NULL ? "client_cert" : "client_key",
                         "client_cert and client_key go together; set both or neither");
    if (check_store(p) != 0)
        return -1;
    if (cfg->timeout_ms < THROTTLE_TIMEOUT_MS)
        warn_key(p, "timeout", "timeout=%ld ms is below %d ms: Nextcloud delays every request from a"
                 " throttled address by up to 25 s, so such logins (right passwords included) will"
                 " time out; raise timeout to %d or more", cfg->timeout_ms, THROTTLE_TIMEOUT_MS,
                 THROTTLE_TIMEOUT_MS);
    for (size_t i = 0; i < cfg->ok_status_count; i++)
        for (size_t j = 0; j < cfg->deny_status_count; j++)
            if (cfg->ok_status[i] == cfg->deny_status[j])
                return fail_key(p, "deny_status", "%ld is also in ok_status; a status is either ok or denied", cfg->ok_status[i]);
    return 0;
}

static int set_defaults(struct parser *p)
{
    struct hb_config *cfg = p->cfg;

    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_ms = 30000;
    cfg->connect_timeout_ms = 5000;
    cfg->ok_status[0] = 207;
    cfg->ok_status_count = 1;
    cfg->deny_status[0] = 401;
    cfg->deny_status_count = 1;
    cfg->max_password_len = 512;
    cfg->server_retry_after = 30;
    cfg->store_timeout_ms = 200;
    cfg->cache_per_user = 8;
    cfg->guard_window = 900;
    cfg->guard_ipv6_prefix = 64;
    cfg->method = strdup("PROPFIND");
    cfg->forward_header = strdup("X-Forwarded-For");
    if (cfg->method == NULL || cfg->forward_header == NULL)
        return fail(p, "config", "out of memory");
    return 0;
}

int hb_config_load(struct hb_config *cfg, int argc, const char **argv,
                   char *err, size_t errlen)
{
    struct parser p = {.cfg = cfg, .source = SOURCE_ARG, .where = "argument",
                       .err = err, .errlen = errlen};
    int rc = set_defaults(&p);

    /* The file comes first so that the arguments override it. */
    for (int i = 0; rc == 0 && i < argc; i++)
        if (strncmp(argv[i], "config=", 7) == 0)
            rc = set_argument(&p, argv[i]);
    if (rc == 0 && cfg->config != NULL)
        rc = parse_file(&p, cfg->config);
    p.source = SOURCE_ARG;
    p.where = "argument";
    for (int i = 0; rc == 0 && i < argc; i++)
        if (strncmp(argv[i], "config=", 7) != 0)
            rc = set_argument(&p, argv[i]);
    if (rc == 0)
        rc = check_complete(&p);
    return rc;
}

void hb_config_free(struct hb_config *cfg)
{
    free_servers(cfg);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (options[i].type == OPT_FLAG || options[i].type == OPT_BARE || options[i].type == OPT_MS || options[i].type == OPT_NUMBER
            || options[i].type == OPT_STATUSES || options[i].type == OPT_URLS)
            continue;
        char **field = (char **) ((char *) cfg + options[i].offset);
        free(*field);
        *field = NULL;
    }
}

/*
 * Copy value into out for printing, with the user:password of a
 * "scheme://user:password@host" URL replaced by "***" (proxy, store).
 */
static void mask_userinfo(const char *value, char *out, size_t outlen)
{
    const char *authority = strstr(value, "://");
    const char *at = authority != NULL ? strchr(authority + 3, '@') : NULL;
    const char *slash = authority != NULL ? strchr(authority + 3, '/') : NULL;

    if (at == NULL || (slash != NULL && slash < at))
        snprintf(out, outlen, "%s", value);
    else
        snprintf(out, outlen, "%.*s***%s", (int) (authority + 3 - value), value, at);
}

/* The printable value of opt in cfg, written to out; NULL when unset. */
static const char *describe_value(const struct hb_config *cfg, const struct option *opt,
                                  char *out, size_t outlen)
{
    const char *field = (const char *) cfg + opt->offset;
    const char *const *text = (const char *const *) (const void *) field;
    size_t used = 0;

    out[0] = '\0';
    switch (opt->type) {
    case OPT_FLAG:
    case OPT_BARE:
        return *(const bool *) (const void *) field ? "yes" : "no";
    case OPT_MS:
    case OPT_NUMBER:
        snprintf(out, outlen, "%ld", *(const long *) (const void *) field);
        return out;
    case OPT_STATUSES:
        for (size_t i = 0; i < *(const size_t *) (const void *) ((const char *) cfg + opt->count_offset); i++)
            used += (size_t) snprintf(out + used, outlen - used, "%s%ld", i > 0 ? "," : "",
                                      ((const long *) (const void *) field)[i]);
        return out;
    case OPT_URLS:
        for (size_t i = 0; i < cfg->server_count && used < outlen; i++)
            used += (size_t) snprintf(out + used, outlen - used, "%s%s", i > 0 ? " " : "",
                                      cfg->servers[i].url);
        return cfg->server_count > 0 ? out : NULL;
    case OPT_HEADER:
        return *text != NULL ? *text : "none";
    case OPT_STRING:
    case OPT_PATH:
    case OPT_METHOD:
    case OPT_DOMAIN:
        if (*text == NULL)
            return NULL;
        mask_userinfo(*text, out, outlen);
        return out;
    }
    return NULL;    /* every type is listed above: -Wswitch flags a new one */
}

void hb_config_describe(const struct hb_config *cfg, hb_describe_fn *fn, void *arg)
{
    char value[HB_MAX_SERVERS * (HB_MAX_VALUE_LEN + 1) + 1];

    for (size_t i = 0; i < OPTION_COUNT; i++)
        fn(options[i].name, describe_value(cfg, &options[i], value, sizeof(value)), arg);
}
