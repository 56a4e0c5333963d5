/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pam_httpbasic.c - the PAM entry points: gather and validate the inputs
 * of a login, and let decide.c decide it (cache, servers, decision line).
 *
 * Threading: nothing here is global; everything lives on the stack or in
 * the PAM handle, so independent PAM handles may be used from several
 * threads at once (see check.c for libcurl's state).
 */
#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_PASSWORD

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "check.h"
#include "decide.h"
#include "options.h"
#include "validate.h"

/*
 * pam_set_data key: the PAM_USER an instance of this module authenticated
 * in this handle.  One key for every instance, because an account line
 * ("account required pam_httpbasic.so", no arguments) must find what the
 * auth line vouched for; it is only ever set by a success and never
 * cleared by a failure, so a failing second instance in the same stack
 * cannot take back what the first one vouched for.  pam_sm_acct_mgmt
 * compares it with PAM_USER, so a handle reused for another user gets
 * nothing.
 */
#define AUTH_DATA "pam_httpbasic:authenticated_user"

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
static int refuse(pam_handle_t *pamh, const struct hb_login *login, enum hb_input why, int code)
{
    pam_syslog(pamh, LOG_NOTICE, "auth refused: user=%s rhost=%s: %s (no request sent)",
               login->user_log, login->rhost_log, hb_input_text(why));
    return code;
}

/* Read user, password and rhost from PAM and validate them all. */
static int gather_inputs(pam_handle_t *pamh, const struct hb_config *cfg, struct hb_login *login)
{
    const void *rhost = NULL;
    enum hb_input why;
    int rc = pam_get_user(pamh, &login->user, NULL);

    if (rc != PAM_SUCCESS)
        return rc;
    pam_get_item(pamh, PAM_RHOST, &rhost);
    login->rhost = rhost;
    hb_log_field(login->user, login->user_log, sizeof(login->user_log));
    hb_log_field(login->rhost, login->rhost_log, sizeof(login->rhost_log));
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

static void free_data(pam_handle_t *pamh, void *data, int status)
{
    (void) pamh;
    (void) status;
    free(data);
}

/* Note that user passed this module, for pam_sm_acct_mgmt. */
static int remember_user(pam_handle_t *pamh, const char *user)
{
    char *copy = strdup(user);

    if (copy == NULL || pam_set_data(pamh, AUTH_DATA, copy, free_data) != PAM_SUCCESS) {
        free(copy);
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    }
    return PAM_SUCCESS;
}

/*
 * Check user and password against the configured WebDAV URL.
 * Returns PAM_SUCCESS, PAM_AUTH_ERR (wrong password, bad input),
 * PAM_USER_UNKNOWN (unusable user name), PAM_MAXTRIES (throttled, or
 * refused by the guard), PAM_PERM_DENIED (account disabled),
 * PAM_AUTHINFO_UNAVAIL (no usable answer) or PAM_SERVICE_ERR (config).
 */
PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct hb_config cfg;
    struct hb_login login;
    int rc;

    (void) flags;
    memset(&login, 0, sizeof(login));
    rc = load_config(pamh, argc, argv, &cfg);
    if (rc == PAM_SUCCESS)
        rc = gather_inputs(pamh, &cfg, &login);
    if (rc == PAM_SUCCESS)
        rc = hb_decide(pamh, &cfg, &login);
    if (rc == PAM_SUCCESS)
        rc = remember_user(pamh, login.user);
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

    (void) flags;
    (void) argc;
    (void) argv;
    if (pam_get_data(pamh, AUTH_DATA, &authenticated) != PAM_SUCCESS || authenticated == NULL
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
