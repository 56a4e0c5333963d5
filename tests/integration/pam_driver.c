/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pam_driver - a minimal PAM application for the integration tests.
 *
 *   pam_driver [--rhost R] [--password P] [--password-env VAR]
 *              [--preset-authtok P] [--acct] [--no-auth] [--repeat N]
 *              [--pause MS] [--acct-as USER] SERVICE USER
 *
 * Does what Dovecot's passdb pam does: pam_start(SERVICE, USER), optionally
 * PAM_RHOST, pam_authenticate (unless --no-auth), pam_acct_mgmt (with
 * --acct), pam_end.  --preset-authtok P emulates a module stacked above
 * that already stored PAM_AUTHTOK: an application may not set that item
 * itself (libpam answers PAM_BAD_ITEM), so the driver exports P as the
 * environment variable PAM_AUTHTOK, and the service file must start with
 * "auth optional pam_set_items.so" (from pam_wrapper), which copies it into
 * PAM_AUTHTOK; lib.sh's write_service_preset does that.  The conversation
 * answers every PAM_PROMPT_ECHO_OFF with the password and PAM_PROMPT_ECHO_ON
 * with the user name; without a password it fails with PAM_CONV_ERR.
 * --password-env VAR takes the password from the environment (any bytes).
 * --repeat N runs the whole transaction N times in this process, with
 * --pause MS milliseconds between two rounds.  --acct-as USER changes
 * PAM_USER between pam_authenticate and pam_acct_mgmt (implies --acct).
 *
 * Prints one machine-readable line per step and per round:
 *   start=PAM_SUCCESS authenticate=PAM_AUTH_ERR acct_mgmt=... end=...
 *   elapsed_ms=N   (time of pam_authenticate + pam_acct_mgmt of that round)
 *   prompts=N      (number of messages the conversation was asked about)
 *   pam_user=...   (PAM_USER after the transaction)
 * Exit status: 0 when the last round's authenticate (and acct_mgmt, when
 * asked) returned PAM_SUCCESS, 1 when PAM said no, 2 on usage errors.
 *
 * Service files: with HB_CONFDIR set, from that directory through
 * pam_start_confdir() (no pam_wrapper needed: nothing shared with other
 * tests running at the same time); else from /etc/pam.d or pam_wrapper's.
 * Log lines: linked with syslog_stderr.c, so every pam_syslog() line of a
 * module reaches stderr in pam_wrapper's format.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

struct conv_data {
    const char *user;
    const char *password;   /* NULL: answer with PAM_CONV_ERR */
    int prompts;
};

static const struct {
    int code;
    const char *name;
} pam_names[] = {
#define N(x) { x, #x }
    N(PAM_SUCCESS), N(PAM_OPEN_ERR), N(PAM_SYMBOL_ERR), N(PAM_SERVICE_ERR),
    N(PAM_SYSTEM_ERR), N(PAM_BUF_ERR), N(PAM_PERM_DENIED), N(PAM_AUTH_ERR),
    N(PAM_CRED_INSUFFICIENT), N(PAM_AUTHINFO_UNAVAIL), N(PAM_USER_UNKNOWN),
    N(PAM_MAXTRIES), N(PAM_NEW_AUTHTOK_REQD), N(PAM_ACCT_EXPIRED),
    N(PAM_SESSION_ERR), N(PAM_CRED_UNAVAIL), N(PAM_CRED_EXPIRED),
    N(PAM_CRED_ERR), N(PAM_NO_MODULE_DATA), N(PAM_CONV_ERR),
    N(PAM_AUTHTOK_ERR), N(PAM_AUTHTOK_RECOVERY_ERR), N(PAM_AUTHTOK_LOCK_BUSY),
    N(PAM_AUTHTOK_DISABLE_AGING), N(PAM_TRY_AGAIN), N(PAM_IGNORE),
    N(PAM_ABORT), N(PAM_AUTHTOK_EXPIRED), N(PAM_MODULE_UNKNOWN),
    N(PAM_BAD_ITEM), N(PAM_CONV_AGAIN), N(PAM_INCOMPLETE),
#undef N
};

static const char *pam_name(int code)
{
    static char buf[32];
    for (size_t i = 0; i < sizeof(pam_names) / sizeof(pam_names[0]); i++)
        if (pam_names[i].code == code)
            return pam_names[i].name;
    snprintf(buf, sizeof(buf), "PAM_UNKNOWN_%d", code);
    return buf;
}

static int conversation(int num_msg, const struct pam_message **msg,
                        struct pam_response **resp, void *appdata)
{
    struct conv_data *cd = appdata;
    struct pam_response *r;

    if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG)
        return PAM_CONV_ERR;
    r = calloc((size_t)num_msg, sizeof(*r));
    if (r == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < num_msg; i++) {
        const char *answer = NULL;
        cd->prompts++;
        switch (msg[i]->msg_style) {
        case PAM_PROMPT_ECHO_OFF:
            if (cd->password == NULL)
                goto fail;
            answer = cd->password;
            break;
        case PAM_PROMPT_ECHO_ON:
            answer = cd->user;
            break;
        case PAM_ERROR_MSG:
        case PAM_TEXT_INFO:
            fprintf(stderr, "pam_driver: conversation message: %s\n",
                    msg[i]->msg ? msg[i]->msg : "(null)");
            break;
        default:
            goto fail;
        }
        if (answer != NULL) {
            r[i].resp = strdup(answer);
            if (r[i].resp == NULL)
                goto fail;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
fail:
    for (int i = 0; i < num_msg; i++) {
        if (r[i].resp != NULL) {
            memset(r[i].resp, 0, strlen(r[i].resp));
            free(r[i].resp);
        }
    }
    free(r);
    return PAM_CONV_ERR;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: pam_driver [--rhost R] [--password P] [--password-env VAR]\n"
            "                  [--preset-authtok P] [--acct] [--no-auth] [--repeat N]\n"
            "                  [--pause MS] [--acct-as USER] SERVICE USER\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *rhost = NULL, *preset = NULL, *acct_as = NULL, *service, *user;
    struct conv_data cd = { 0 };
    int acct = 0, auth = 1, repeat = 1, ok = 0;
    long pause_ms = 0;
    int i;

    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--") == 0) {
            i++;
            break;
        } else if (strcmp(opt, "--acct") == 0) {
            acct = 1;
        } else if (strcmp(opt, "--no-auth") == 0) {
            auth = 0;
        } else if (i + 1 >= argc) {
            usage();
        } else if (strcmp(opt, "--rhost") == 0) {
            rhost = argv[++i];
        } else if (strcmp(opt, "--password") == 0) {
            cd.password = argv[++i];
        } else if (strcmp(opt, "--password-env") == 0) {
            cd.password = getenv(argv[++i]);
            if (cd.password == NULL) {
                fprintf(stderr, "pam_driver: %s is not set\n", argv[i]);
                return 2;
            }
        } else if (strcmp(opt, "--preset-authtok") == 0) {
            preset = argv[++i];
        } else if (strcmp(opt, "--repeat") == 0) {
            repeat = atoi(argv[++i]);
            if (repeat < 1)
                usage();
        } else if (strcmp(opt, "--acct-as") == 0) {
            acct_as = argv[++i];
            acct = 1;
        } else if (strcmp(opt, "--pause") == 0) {
            pause_ms = atol(argv[++i]);
            if (pause_ms < 0)
                usage();
        } else {
            usage();
        }
    }
    if (argc - i != 2)
        usage();
    service = argv[i];
    user = argv[i + 1];
    if (preset != NULL && setenv("PAM_AUTHTOK", preset, 1) != 0) {
        perror("pam_driver: setenv");
        return 2;
    }
    cd.user = user;

    for (int round = 0; round < repeat; round++) {
        struct pam_conv conv = { conversation, &cd };
        pam_handle_t *pamh = NULL;
        const void *item = NULL;
        int rc, auth_rc = PAM_SUCCESS, acct_rc = PAM_SUCCESS;
        long t0;

        cd.prompts = 0;
        if (round > 0 && pause_ms > 0) {
            struct timespec ts = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        if (repeat > 1)
            printf("round=%d\n", round + 1);
        rc = getenv("HB_CONFDIR") != NULL
                 ? pam_start_confdir(service, user, &conv, getenv("HB_CONFDIR"), &pamh)
                 : pam_start(service, user, &conv, &pamh);
        printf("start=%s\n", pam_name(rc));
        if (rc != PAM_SUCCESS) {
            fflush(stdout);
            return 1;
        }
        if (rhost != NULL) {
            rc = pam_set_item(pamh, PAM_RHOST, rhost);
            if (rc != PAM_SUCCESS)
                printf("set_rhost=%s\n", pam_name(rc));
        }
        t0 = now_ms();
        if (auth) {
            auth_rc = pam_authenticate(pamh, 0);
            printf("authenticate=%s\n", pam_name(auth_rc));
        }
        if (acct_as != NULL) {
            rc = pam_set_item(pamh, PAM_USER, acct_as);
            if (rc != PAM_SUCCESS)
                printf("set_user=%s\n", pam_name(rc));
        }
        if (acct) {
            acct_rc = pam_acct_mgmt(pamh, 0);
            printf("acct_mgmt=%s\n", pam_name(acct_rc));
        }
        printf("elapsed_ms=%ld\n", now_ms() - t0);
        printf("prompts=%d\n", cd.prompts);
        if (pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS && item != NULL)
            printf("pam_user=%s\n", (const char *)item);
        rc = pam_end(pamh, auth_rc);
        printf("end=%s\n", pam_name(rc));
        fflush(stdout);
        ok = auth_rc == PAM_SUCCESS && acct_rc == PAM_SUCCESS;
    }
    return ok ? 0 : 1;
}
