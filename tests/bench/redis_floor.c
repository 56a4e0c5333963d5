/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * redis_floor.c - section 7b of tests/bench/run: the floor of any Redis
 * cache hit.  A PAM module that does, per authentication, exactly the one
 * store round trip the module's hit makes (an MGET of three keys over a
 * connection kept for the life of the process) and nothing else: no config,
 * no password, no keyed hashes, no log line.  It accepts every login, so it
 * is built into the bench only, never installed.
 *
 *   auth    required  redis_floor.so PORT AUTH_FILE
 *   account required  redis_floor.so
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <security/pam_modules.h>

static redisContext *c;          /* kept across logins, as the module keeps its store */

static int connect_once(const char *port, const char *auth_file)
{
    char password[256] = "";
    FILE *fp = fopen(auth_file, "re");
    redisReply *r;

    if (fp != NULL) {
        if (fgets(password, sizeof(password), fp) == NULL)
            password[0] = '\0';
        fclose(fp);
    }
    password[strcspn(password, "\n")] = '\0';
    c = redisConnect("127.0.0.1", atoi(port));
    if (c == NULL || c->err != 0)
        return -1;
    r = redisCommand(c, "AUTH %s", password);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        if (r != NULL)
            freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    redisReply *r;

    (void) pamh;
    (void) flags;
    if (argc < 2)
        return PAM_SERVICE_ERR;
    if (c == NULL && connect_once(argv[0], argv[1]) != 0) {
        if (c != NULL)
            redisFree(c);
        c = NULL;
        return PAM_AUTHINFO_UNAVAIL;
    }
    r = redisCommand(c, "MGET pam_httpbasic:floor-user pam_httpbasic:floor-account pam_httpbasic:floor-guard");
    if (r == NULL) {
        redisFree(c);
        c = NULL;
        return PAM_AUTHINFO_UNAVAIL;
    }
    freeReplyObject(r);
    return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void) pamh;
    (void) flags;
    (void) argc;
    (void) argv;
    return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return pam_sm_setcred(pamh, flags, argc, argv);
}
