/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * options.h - the options of pam_httpbasic: one struct, one key table, one parser.
 *
 * Module arguments ("key" or "key=value") and an optional config file
 * ("key = value" lines, named by the argument config=PATH) share the same
 * keys and the same parser.  Arguments override the file.  Any unknown key,
 * malformed value, duplicate key within one source, missing url or unsafe
 * file is an error that names the key (and the file and line).
 */
#ifndef HB_OPTIONS_H
#define HB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#define HB_MAX_STATUS 8          /* statuses per ok_status / deny_status list */
#define HB_MAX_VALUE_LEN 4096     /* bytes in one option value (url= included) */
#define HB_MAX_SERVERS 4         /* url values, tried in order */
#define HB_ERROR_LEN 512         /* size of an error message buffer */
#define HB_HOST_LEN 256          /* size of the host name kept for logging */

struct hb_server {
    char *url;                   /* WebDAV URL */
    char host[HB_HOST_LEN];      /* its host, for log lines */
};

struct hb_config {
    struct hb_server servers[HB_MAX_SERVERS];  /* url, at least one */
    size_t server_count;
    long server_retry_after;     /* s a server without answer is skipped, default 30 */
    char *method;                /* HTTP method, default PROPFIND */
    long timeout_ms;             /* whole request, default 30000 */
    long connect_timeout_ms;     /* TCP + TLS connect, default 5000 */
    long ok_status[HB_MAX_STATUS];
    size_t ok_status_count;      /* default: 207 */
    long deny_status[HB_MAX_STATUS];
    size_t deny_status_count;    /* default: 401 */
    char *forward_header;        /* default X-Forwarded-For; NULL = none */
    char *cafile;
    char *capath;
    char *pinned_pubkey;
    char *client_cert;
    char *client_key;
    char *proxy;                 /* NULL: no proxy, environment ignored */
    char *user_domain;           /* appended as @domain when absent */
    char *config;                /* path of the config file, if any */
    long max_password_len;       /* default 512 */
    char *store;                 /* lmdb:DIR, redis[s]://HOST[:PORT][/DB] or redis+unix:PATH[?db=N]; NULL: none */
    char *secret_file;           /* key of the keyed hashes; required with store */
    char *store_auth_file;       /* Redis: "PASSWORD" or "USER PASSWORD" */
    long store_timeout_ms;       /* bound of every store call, default 200 */
    char *store_cafile;          /* rediss://: CA certificate(s), PEM; required there */
    char *store_cert;            /* rediss://: client certificate (chain), PEM; optional */
    char *store_key;             /* rediss://: its private key, PEM (a secret file) */
    long cache_fresh;            /* s a verified password is accepted without a request; 0: never */
    long cache_stale;            /* s it is accepted while no server answers; 0: never */
    char *cache_realm;           /* names the cache's records instead of the server list; NULL: the list */
    long cache_per_user;         /* verifiers kept per user, default 8 */
    long guard_failures;         /* 401s per client address before it is refused; 0: off */
    long guard_window;           /* s those failures are counted over, default 900 */
    char *guard_exempt;          /* comma-separated addresses/CIDRs never guarded */
    long guard_ipv6_prefix;      /* IPv6 addresses are counted per /N (32..128), default 64 */
    bool insecure_skip_verify;
    bool allow_http;
    bool user_lowercase;
    bool user_strip_domain;
    bool debug;
    bool use_first_pass;
    bool try_first_pass;
    bool use_authtok;
    char warning[HB_ERROR_LEN];  /* a legal but risky setting, to log; "" for none */
};

/*
 * Fill cfg from the module arguments and, when they name one, the config
 * file.  Returns 0 on success.  On failure returns -1, leaves a message
 * naming the offending key (and file:line) in err, and cfg must still be
 * released with hb_config_free().
 */
int hb_config_load(struct hb_config *cfg, int argc, const char **argv,
                   char *err, size_t errlen);

/* Release every string cfg owns; cfg may be partly filled. */
void hb_config_free(struct hb_config *cfg);

/* Receives one key of the option table and its printable value (NULL: unset). */
typedef void hb_describe_fn(const char *key, const char *value, void *arg);

/*
 * Call fn once for every key of the option table, in table order, with the
 * value cfg holds: flags as yes/no, times in ms, status lists and URLs as
 * written in a config file.  Never a secret: credentials in a URL (proxy,
 * store) are replaced by "***", and files (secret_file, store_auth_file)
 * are only named, never read.
 */
void hb_config_describe(const struct hb_config *cfg, hb_describe_fn *fn, void *arg);

#endif
