/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pam_httpbasic.c - the PAM entry points: gather the inputs of a login,
 * call the HTTP check, map its outcome to a PAM code and log the decision.
 *
 * Threading: nothing here is global; everything lives on the stack or in
 * the PAM handle, so independent PAM handles may be used from several
 * threads at once (see check.c for libcurl's state).
 */
#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_PASSWORD

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "check.h"
#include "options.h"
#include "validate.h"

/*
 * pam_set_data key prefix: the PAM_USER this instance authenticated in
 * this handle.  Each instance (line of the stack) has its own key, made
 * from its arguments, so that a second instance failing never erases
 * what the first one vouched for.
 */
#define AUTH_DATA_PREFIX "pam_httpbasic:authenticated_user:"
#define AUTH_DATA_LEN (sizeof(AUTH_DATA_PREFIX) + 16)

#define LOG_FIELD 96   /* bytes of an escaped user or rhost in a log line */

/* The inputs of one authentication, gathered from the PAM handle. */
struct login {
    const char *user;               /* PAM_USER */
    const char *password;           /* PAM_AUTHTOK, owned by PAM */
    const char *rhost;              /* PAM_RHOST, may be NULL */
    char http_user[HB_USER_BUF];    /* user name sent to the server */
    char client_ip[HB_IP_BUF];      /* forwarded address, "" for none */
    char user_log[LOG_FIELD];       /* escaped for log lines */
    char rhost_log[LOG_FIELD];
};

/* This instance's pam_set_data key: the prefix and a hash of its arguments. */
static void auth_data_key(int argc, const char **argv, char key[AUTH_DATA_LEN])
{
    uint64_t hash = 0xcbf29ce484222325ULL;

    for (int i = 0; i < argc; i++)
        for (const char *c = argv[i]; ; c++) {
            hash = (hash ^ (unsigned char) *c) * 0x100000001b3ULL;
            if (*c == '\0')
                break;
        }
    snprintf(key, AUTH_DATA_LEN, "%s%016" PRIx64, AUTH_DATA_PREFIX, hash);
}

/* Parse arguments and config file into cfg; PAM_SERVICE_ERR on any error. */
static int load_config(pam_handle_t *pamh, int argc, const char **argv, struct hb_config *cfg)
{
    char err[HB_ERROR_LEN];

    if (hb_config_load(cfg, argc, argv, err, sizeof(err)) != 0) {
        pam_syslog(pamh, LOG_ERR, "config error: %s", err);
        return PAM_SERVICE_ERR;
    }
    if (cfg->warning[0] != '\0')
        pam_syslog(pamh, LOG_WARNING, "config warning: %s", cfg->warning);
    return PAM_SUCCESS;
}

/*
 * The password, from pam_get_authtok(): a PAM_AUTHTOK stored by an earlier
 * module is always used; otherwise, unless use_first_pass is among the
 * arguments (libpam reads it itself), the user is prompted and the answer
 * stored in PAM_AUTHTOK for the modules below.  libpam honours use_authtok
 * only when changing passwords, so the module enforces it here: with it,
 * only a stored password is used, never a prompt.
 */
static int get_password(pam_handle_t *pamh, const struct hb_config *cfg, const char **password)
{
    const void *stored = NULL;
    int rc;

    if (cfg->use_authtok && (pam_get_item(pamh, PAM_AUTHTOK, &stored) != PAM_SUCCESS || stored == NULL))
        rc = PAM_AUTH_ERR;
    else
        rc = pam_get_authtok(pamh, PAM_AUTHTOK, password, NULL);
    if (rc != PAM_SUCCESS && (cfg->use_first_pass || cfg->use_authtok))
        pam_syslog(pamh, LOG_NOTICE,
                   "auth refused: use_first_pass/use_authtok is set but no earlier module stored a password");
    return rc;
}

/* Log "auth refused" for invalid input; the request is never sent. */
static int refuse(pam_handle_t *pamh, const struct login *login, enum hb_input why, int code)
{
    pam_syslog(pamh, LOG_NOTICE, "auth refused: user=%s rhost=%s: %s (no request sent)",
               login->user_log, login->rhost_log, hb_input_text(why));
    return code;
}

/* Read user, password and rhost from PAM and validate them all. */
static int gather_inputs(pam_handle_t *pamh, const struct hb_config *cfg, struct login *login)
{
    const void *rhost = NULL;
    enum hb_input why;
    int rc = pam_get_user(pamh, &login->user, NULL);

    if (rc != PAM_SUCCESS)
        return rc;
    pam_get_item(pamh, PAM_RHOST, &rhost);
    login->rhost = rhost;
    hb_log_escape(login->user, login->user_log, sizeof(login->user_log));
    hb_log_escape(login->rhost, login->rhost_log, sizeof(login->rhost_log));
    rc = get_password(pamh, cfg, &login->password);
    if (rc != PAM_SUCCESS)
        return rc;
    why = hb_map_user(cfg, login->user, login->http_user);
    if (why != HB_INPUT_OK)
        return refuse(pamh, login, why, PAM_USER_UNKNOWN);
    why = hb_rhost_ip(login->rhost, login->client_ip);
    if (why == HB_INPUT_OK)
        why = hb_check_password(login->password, (size_t) cfg->max_password_len);
    if (why != HB_INPUT_OK)
        return refuse(pamh, login, why, PAM_AUTH_ERR);
    if (cfg->debug && login->rhost != NULL && login->client_ip[0] == '\0')
        pam_syslog(pamh, LOG_DEBUG, "rhost=%s is not an IP address: not forwarded", login->rhost_log);
    return PAM_SUCCESS;
}

static int log_priority(enum hb_verdict verdict)
{
    switch (verdict) {
    case HB_OK: return LOG_INFO;
    case HB_DENIED: return LOG_NOTICE;
    case HB_DISABLED: return LOG_NOTICE;
    case HB_THROTTLED: return LOG_WARNING;
    case HB_UNAVAILABLE: return LOG_ERR;
    }
    return LOG_ERR;
}

/* The PAM code for a verdict. */
static int pam_code(enum hb_verdict verdict)
{
    switch (verdict) {
    case HB_OK: return PAM_SUCCESS;
    case HB_DENIED: return PAM_AUTH_ERR;
    case HB_DISABLED: return PAM_PERM_DENIED;
    case HB_THROTTLED: return PAM_MAXTRIES;
    case HB_UNAVAILABLE: return PAM_AUTHINFO_UNAVAIL;
    }
    return PAM_AUTHINFO_UNAVAIL;
}

/* ' error="..."' for an attempt that failed, else "". */
static void format_error(const struct hb_attempt *attempt, char *out, size_t outlen)
{
    char escaped[HB_ERROR_LEN];

    out[0] = '\0';
    if (attempt->error[0] == '\0')
        return;
    hb_log_escape(attempt->error, escaped, sizeof(escaped));
    snprintf(out, outlen, " error=\"%s\"", escaped);
}

/* A warning for each server that gave no usable answer before the last one. */
static void log_failovers(pam_handle_t *pamh, const struct hb_config *cfg, const struct hb_outcome *out)
{
    char error[HB_ERROR_LEN + 16];

    for (size_t i = 0; i + 1 < out->attempt_count; i++) {
        const struct hb_attempt *a = &out->attempts[i];

        format_error(a, error, sizeof(error));
        pam_syslog(pamh, LOG_WARNING, "server %s gave no usable answer: status=%ld ms=%ld%s; trying the next one",
                   cfg->servers[a->server].host, a->http_status, a->elapsed_ms, error);
    }
}

/* One line per decision: verdict, who, from where, which server, how it went. */
static void log_decision(pam_handle_t *pamh, const struct hb_config *cfg,
                         const struct login *login, const struct hb_outcome *out)
{
    const struct hb_attempt *last = &out->attempts[out->attempt_count - 1];
    char error[HB_ERROR_LEN + 16];
    char servers[64] = "";
    const char *hint = "";

    log_failovers(pamh, cfg, out);
    format_error(last, error, sizeof(error));
    if (cfg->server_count > 1)
        snprintf(servers, sizeof(servers), " tried=%zu skipped=%zu", out->attempt_count, out->skipped);
    if (out->verdict == HB_THROTTLED)
        hint = " (the server throttles this client address; make sure this host is in"
               " Nextcloud's trusted_proxies so that it sees the real client)";
    pam_syslog(pamh, log_priority(out->verdict),
               "auth %s: user=%s rhost=%s forwarded=%s server=%s status=%ld ms=%ld%s%s%s",
               hb_verdict_name(out->verdict), login->user_log, login->rhost_log,
               login->client_ip[0] != '\0' && cfg->forward_header != NULL ? login->client_ip : "-",
               cfg->servers[last->server].host, last->http_status, out->elapsed_ms, servers, error, hint);
}

/* Ask the server about this login and log the answer. */
static int check_login(pam_handle_t *pamh, const struct hb_config *cfg, const struct login *login)
{
    const struct hb_credentials cred = {login->http_user, login->password, login->client_ip};
    char http_user_log[LOG_FIELD];
    struct hb_outcome out;

    if (cfg->insecure_skip_verify)
        pam_syslog(pamh, LOG_WARNING,
                   "insecure_skip_verify is set: the TLS certificate of %s is not verified",
                   cfg->servers[0].host);
    if (cfg->debug) {
        hb_log_escape(login->http_user, http_user_log, sizeof(http_user_log));
        pam_syslog(pamh, LOG_DEBUG, "sending %s %s as user %s (timeout %ld ms, %zu server(s))",
                   cfg->method, cfg->servers[0].url, http_user_log, cfg->timeout_ms,
                   cfg->server_count);
    }
    hb_check(cfg, &cred, NULL, &out);
    log_decision(pamh, cfg, login, &out);
    return pam_code(out.verdict);
}

static void free_data(pam_handle_t *pamh, void *data, int status)
{
    (void) pamh;
    (void) status;
    free(data);
}

/* Note that user passed this instance, for its pam_sm_acct_mgmt. */
static int remember_user(pam_handle_t *pamh, const char *key, const char *user)
{
    char *copy = strdup(user);

    if (copy == NULL || pam_set_data(pamh, key, copy, free_data) != PAM_SUCCESS) {
        free(copy);
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    }
    return PAM_SUCCESS;
}

/*
 * Check user and password against the configured WebDAV URL.
 * Returns PAM_SUCCESS, PAM_AUTH_ERR (wrong password, bad input),
 * PAM_USER_UNKNOWN (unusable user name), PAM_MAXTRIES (throttled),
 * PAM_AUTHINFO_UNAVAIL (no usable answer) or PAM_SERVICE_ERR (config).
 */
PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    char key[AUTH_DATA_LEN];
    struct hb_config cfg;
    struct login login;
    int rc;

    (void) flags;
    memset(&login, 0, sizeof(login));
    auth_data_key(argc, argv, key);
    pam_set_data(pamh, key, NULL, NULL);
    rc = load_config(pamh, argc, argv, &cfg);
    if (rc == PAM_SUCCESS)
        rc = gather_inputs(pamh, &cfg, &login);
    if (rc == PAM_SUCCESS)
        rc = check_login(pamh, &cfg, &login);
    if (rc == PAM_SUCCESS)
        rc = remember_user(pamh, key, login.user);
    hb_config_free(&cfg);
    explicit_bzero(&login, sizeof(login));
    hb_wipe_stack();
    return rc;
}

/* Nothing to set: credentials live in Nextcloud. */
PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void) pamh;
    (void) flags;
    (void) argc;
    (void) argv;
    return PAM_SUCCESS;
}

/*
 * Vouch only for the user this module authenticated in this PAM handle
 * (Dovecot always calls pam_acct_mgmt); PAM_IGNORE for anyone else.
 */
PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const void *authenticated = NULL;
    const char *user = NULL;
    char key[AUTH_DATA_LEN];

    (void) flags;
    auth_data_key(argc, argv, key);
    if (pam_get_data(pamh, key, &authenticated) != PAM_SUCCESS || authenticated == NULL
        || pam_get_item(pamh, PAM_USER, (const void **) &user) != PAM_SUCCESS || user == NULL
        || strcmp(user, authenticated) != 0) {
        pam_syslog(pamh, LOG_DEBUG, "account ignored: user was not authenticated by this module");
        return PAM_IGNORE;
    }
    return PAM_SUCCESS;
}

/* Application passwords are managed in Nextcloud, never through PAM. */
PAM_EXTERN int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void) flags;
    (void) argc;
    (void) argv;
    pam_syslog(pamh, LOG_NOTICE,
               "password change refused: application passwords are managed in Nextcloud");
    return PAM_PERM_DENIED;
}
