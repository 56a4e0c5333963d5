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
#define HB_BODY_PREFIX 4096         /* bytes of an answer kept: a 503's kind, a 207's account */
#define HB_EVIDENCE_SLACK_MS 1000   /* an attempt longer than its timeout + this was stopped */

enum hb_verdict {
    HB_OK,            /* status in ok_status: the password is right */
    HB_DENIED,        /* status in deny_status: the password is wrong */
    HB_THROTTLED,     /* 429: the server throttles this client address */
    HB_UNAVAILABLE,   /* no usable answer: network, TLS, timeout, other status */
    HB_DISABLED,      /* Nextcloud's 503 refusing the account (right password) */
};

/*
 * What a failed attempt says about its server (health.h), decided by
 * hb_evidence() in check.c:
 * - an answer (any HTTP status) says it is up;
 * - no answer is evidence of an outage only when this process can be
 *   trusted with it and the server stays silent to an anonymous request
 *   (HB_EVIDENCE_CONFIRM asks for that request).
 */
enum hb_evidence {
    HB_EVIDENCE_NONE,     /* no evidence (or health not used): nothing noted */
    HB_EVIDENCE_UP,       /* it answered (this request or the anonymous one) */
    HB_EVIDENCE_CONFIRM,  /* no answer: send the anonymous request, then decide again */
    HB_EVIDENCE_DOWN,     /* no answer, confirmed: the server rests */
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
    enum hb_evidence evidence;  /* what it says about the server (NONE without a store
                                 * and without failover: then nothing is weighed) */
};

/* The result of a check: the last attempt decides. */
struct hb_outcome {
    enum hb_verdict verdict;
    size_t attempt_count;    /* at least 1 */
    struct hb_attempt attempts[HB_MAX_SERVERS];
    size_t skipped;          /* servers skipped while resting */
    long elapsed_ms;         /* all attempts together */
    /*
     * The account (Nextcloud uid) behind the login name, from the
     * current-user-principal of an ok answer; "" when the answer named
     * none (e.g. Apache mod_dav) or a refused one (hb_207_account).
     */
    char account[HB_USER_BUF];
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
 * see health.h), but only on evidence (hb_evidence): a process that is not
 * setuid, was not stopped, and whose anonymous request (GET of the same
 * URL, no credentials, no forwarded address, bounded by connect_timeout)
 * got no answer either.  The request asks for the resource type and the
 * current-user-principal (out->account).  Each attempt is bounded by cfg->timeout_ms; never follows
 * redirects, never uses a proxy from the environment.  Thread-safe.
 */
void hb_check(const struct hb_config *cfg, const struct hb_credentials *cred,
              struct hb_store *store, struct hb_outcome *out);

/* What a 503 says, from its body (answer.c). */
enum hb_503 {
    HB_503_OTHER,            /* anything else: an outage */
    HB_503_MAINTENANCE,      /* Nextcloud's maintenance mode: an outage */
    HB_503_ACCOUNT_REFUSED,  /* Nextcloud refused the account: HB_DISABLED */
};

/*
 * The kind of a 503 from the first len bytes of its body (a Sabre error:
 * <d:error><s:exception>CLASS</s:exception><s:message>TEXT</s:message>).
 * Decided on the exception class, never on the (translated) text:
 * - exception OCA\DAV\Exception\ServerMaintenanceMode: HB_503_MAINTENANCE;
 * - exception OC\User\DisabledUserException, or a message that starts
 *   with the class OC\User\LoginException or OC\User\DisabledUserException
 *   ("OC\User\LoginException: Konto deaktiviert", "...: Login canceled by
 *   app"): HB_503_ACCOUNT_REFUSED;
 * - anything else (an HTML page of a proxy, another Sabre exception, a body
 *   cut before the elements): HB_503_OTHER.  An unknown 503 is an outage,
 *   not a refusal: a proxy or an overloaded server must not make the
 *   module forget every user's verifiers; the price is that a refusal
 *   Nextcloud would phrase with another class is taken for an outage.
 * Any namespace prefix; blanks around the text; entities decoded.
 */
enum hb_503 hb_503_kind(const char *body, size_t len);

/*
 * The account named by a 207's body (first len bytes):
 * <d:current-user-principal><d:href>.../principals/users/UID/</d:href>,
 * any namespace prefix, UID percent-decoded.  True and account filled;
 * false and account "" when there is none, or UID is empty, longer than
 * HB_USER_BUF - 1 bytes, or holds a control character or '/'.
 */
bool hb_207_account(const char *body, size_t len, char account[HB_USER_BUF]);

/* The facts hb_evidence() decides on. */
struct hb_evidence_facts {
    bool answered;           /* the attempt got an HTTP status */
    bool secure_host;        /* the process runs with AT_SECURE (setuid/setgid) */
    bool connect_failure;    /* no connection was made (the bound is connect_timeout) */
    long elapsed_ms;         /* the attempt's monotonic duration */
    bool confirmed;          /* the anonymous request was sent (below: its result) */
    bool confirm_answered;   /* it got an HTTP status */
    long confirm_elapsed_ms;
    long timeout_ms, connect_timeout_ms;
};

/*
 * What an attempt says about its server.  Answered: HB_EVIDENCE_UP.  No
 * answer: HB_EVIDENCE_NONE in a setuid/setgid process (its user can stop
 * it) or when the attempt took more than its bound (timeout_ms, or
 * min(timeout_ms, connect_timeout_ms) when no connection was made) plus
 * HB_EVIDENCE_SLACK_MS (the process was stopped or starved); otherwise
 * HB_EVIDENCE_CONFIRM until the anonymous request was sent, then
 * HB_EVIDENCE_UP when it was answered, HB_EVIDENCE_DOWN when it got no
 * status within its own bound (min(timeout_ms, connect_timeout_ms) + slack),
 * else HB_EVIDENCE_NONE.
 */
enum hb_evidence hb_evidence(const struct hb_evidence_facts *facts);

/*
 * True when out is an outage the servers themselves declared: no usable
 * answer, and every attempt either got an HTTP status (a 503, another
 * status) or got none with confirmed evidence (HB_EVIDENCE_DOWN).  False
 * for a login of a setuid process, of a stopped one, or whose request was
 * only slow or silent for this client (the server answered the anonymous
 * request): the stale window should not answer those.
 */
bool hb_outcome_confirmed_outage(const struct hb_outcome *out);

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
