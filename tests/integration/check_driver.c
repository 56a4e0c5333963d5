/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_driver - one hb_check() (check.h) of libhttpbasic from a test
 * script, without PAM and without a store:
 *
 *   check_driver USER PASSWORD OPTION...   options as for the module
 *
 * Prints "verdict=V status=N account=A" (A: the account the 207 named,
 * "" for none) and "evidence=E" for each attempt; exit status 0, or 2 on
 * a configuration error.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "options.h"

int main(int argc, char **argv)
{
    static const char *const evidence[] = {"none", "up", "confirm", "down"};
    struct hb_config cfg;
    struct hb_outcome out;
    struct hb_credentials cred;
    char err[HB_ERROR_LEN];
    const char *args[64];

    if (argc < 4 || argc - 3 > 64) {
        fprintf(stderr, "usage: check_driver USER PASSWORD OPTION...\n");
        return 2;
    }
    for (int i = 3; i < argc; i++)
        args[i - 3] = argv[i];
    if (hb_config_load(&cfg, argc - 3, args, err, sizeof(err)) != 0) {
        fprintf(stderr, "config error: %s\n", err);
        hb_config_free(&cfg);
        return 2;
    }
    cred.user = argv[1];
    cred.password = argv[2];
    cred.client_ip = "";
    hb_check(&cfg, &cred, NULL, &out);
    printf("verdict=%s status=%ld account=%s\n", hb_verdict_name(out.verdict),
           out.attempts[out.attempt_count - 1].http_status, out.account);
    for (size_t i = 0; i < out.attempt_count; i++)
        printf("evidence=%s\n", evidence[out.attempts[i].evidence]);
    hb_config_free(&cfg);
    return 0;
}
