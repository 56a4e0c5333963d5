/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * decide.h - the decision for one login: the shared cache (cache.h), the
 * servers (check.h), and the one decision line in the log.
 */
#ifndef HB_DECIDE_H
#define HB_DECIDE_H

#include <security/pam_modules.h>

#include "options.h"
#include "validate.h"

#define HB_LOG_FIELD 96   /* bytes of an escaped user or rhost in a log line */

/* The inputs of one authentication, gathered from the PAM handle and validated. */
struct hb_login {
    const char *user;               /* PAM_USER */
    const char *password;           /* PAM_AUTHTOK, owned by PAM */
    const char *rhost;              /* PAM_RHOST, may be NULL */
    char http_user[HB_USER_BUF];    /* user name sent to the server */
    char client_ip[HB_IP_BUF];      /* forwarded address, "" for none */
    char user_log[HB_LOG_FIELD];    /* escaped for log lines */
    char rhost_log[HB_LOG_FIELD];
};

/*
 * Decide a validated login and log one decision line:
 *   1. a password verified within cache_fresh: accepted, no request;
 *   2. every server resting, a password verified within cache_stale and
 *      another login holding the probe token: accepted, no request;
 *   3. otherwise the servers decide (hb_check); a 207 adds or refreshes
 *      the verifier, a 401 drops it, a disabled account drops them all;
 *   4. when no server gave a usable answer (an outage, never a 401, 403 or
 *      429), a password verified within cache_stale is accepted.
 * A store or cache failure is logged (one warning per process) and the
 * login goes on as without a store.  Returns the PAM code of the decision.
 */
int hb_decide(pam_handle_t *pamh, const struct hb_config *cfg, const struct hb_login *login);

#endif
