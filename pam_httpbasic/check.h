/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check.h - the HTTP check: credentials + client address + config ->
 * outcome.  This is the only part of the module that uses libcurl.
 */
#ifndef HB_CHECK_H
#define HB_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"
#include "validate.h"

struct hb_store;

#define HB_BODY_LIMIT (64 * 1024)   /* larger answers abort the request */
#define HB_BODY_PREFIX 1024         /* bytes of an answer kept to read a 503 */

enum hb_verdict {
    HB_OK,            /* status in ok_status: the password is right */
    HB_DENIED,        /* status in deny_status: the password is wrong */
    HB_THROTTLED,     /* 429: the server throttles this client address */
    HB_UNAVAILABLE,   /* no usable answer: network, TLS, timeout, other status */
    HB_DISABLED,      /* Nextcloud's 503 for a disabled account (right password) */
};

struct hb_credentials {
    const char *user;        /* as sent to the server (after mapping) */
    const char *password;
    const char *client_ip;   /* canonical IP literal, or "" for none */
};

/* One request to one server. */
struct hb_attempt {
    size_t server;           /* index into cfg->servers */
    enum hb_verdict verdict;
    long http_status;        /* 0 when no answer came */
    long elapsed_ms;
    char error[HB_ERROR_LEN];/* why there was no usable answer, or "" */
};

/* The result of a check: the last attempt decides. */
struct hb_outcome {
    enum hb_verdict verdict;
    size_t attempt_count;    /* at least 1 */
    struct hb_attempt attempts[HB_MAX_SERVERS];
    size_t skipped;          /* servers skipped while resting */
    char account[HB_USER_BUF]; /* on a 207: the uid of current-user-principal, or "" */
    long elapsed_ms;         /* all attempts together */
};

/* The verdict for an HTTP status under cfg's ok_status / deny_status lists. */
enum hb_verdict hb_verdict_for_status(const struct hb_config *cfg, long status);

/* Short lower-case word for a verdict, used in log lines: "ok", "denied"... */
const char *hb_verdict_name(enum hb_verdict verdict);

/*
 * The request headers for one check (Depth, Content-Type, no Expect, and
 * the forwarded client address when cfg->forward_header and client_ip are
 * set).  Returns a list for CURLOPT_HTTPHEADER, or NULL when out of memory;
 * free it with curl_slist_free_all().
 */
struct curl_slist *hb_build_headers(const struct hb_config *cfg, const char *client_ip);

/*
 * Check the credentials with the configured servers and fill out.  The
 * servers are tried in order; the next one only when the previous gave no
 * usable answer (no answer, or a status that is neither ok, deny nor 429),
 * so a wrong password is never tried twice.  A server that did not answer
 * at all rests for cfg->server_retry_after seconds (skipped, unless every
 * server rests; store, which may be NULL, shares that with other processes,
 * see health.h).  Each attempt is bounded by cfg->timeout_ms; never follows
 * redirects, never uses a proxy from the environment.  Thread-safe.
 */
void hb_check(const struct hb_config *cfg, const struct hb_credentials *cred,
              struct hb_store *store, struct hb_outcome *out);

/*
 * True when the first len bytes of an answer's body carry Nextcloud's
 * "OC\User\LoginException: Account disabled" (its 503 for a disabled
 * account, as opposed to the 503 of maintenance mode).
 */
bool hb_says_disabled(const char *body, size_t len);

#define HB_STACK_WIPE (16 * 1024)   /* bytes of dead stack hb_wipe_stack() clears */

/*
 * Overwrite HB_STACK_WIPE bytes of stack below the caller's frame, where
 * the frames of a finished check (libcurl, OpenSSL) may have held the
 * password; called by the PAM layer before it returns to the host.
 */
void hb_wipe_stack(void);

/*
 * Set on a libcurl easy handle (a CURL *) every transport rule the check
 * follows: allowed protocols, no redirects, no signals, no .netrc,
 * timeouts, user agent, the connection options (close-on-exec sockets,
 * keepalive, HTTP/1.1, the configured proxy or none: never the
 * environment's, NO_PROXY ignored) and the TLS settings (verification,
 * cafile, capath, pinned key, client certificate).  No credentials, method
 * or URL.  Returns a CURLcode
 * (0 = CURLE_OK).  For tools that must connect exactly as the module does.
 */
int hb_transport_options(void *handle, const struct hb_config *cfg);

/*
 * What an administrator should change after a failed check, in one line
 * (for the log and for pam_httpbasic-ctl login): by verdict, and for "no
 * usable answer" by the last attempt's error (TLS, timeout, connection) or
 * status.  "" for HB_OK.  Never contains user input.
 */
const char *hb_outcome_hint(const struct hb_outcome *out);

#endif
