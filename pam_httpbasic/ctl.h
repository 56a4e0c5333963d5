/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl.h - what the subcommands of pam_httpbasic-ctl share: loading the
 * configuration exactly as the module does, and the probe subcommand.
 */
#ifndef HB_CTL_H
#define HB_CTL_H

#include <stdbool.h>

#include "options.h"

#define CTL_DEFAULT_CONFIG "/etc/security/pam_httpbasic.conf"
#define CTL_DEFAULT_ARG "config=" CTL_DEFAULT_CONFIG
#define CTL_CONFIG_ENV "PAM_HTTPBASIC_CTL_CONFIG"   /* another default file (tests) */
#define CTL_NO_CONFIG "--no-config"
#define CTL_MAX_ARGS 128         /* module arguments at most */

/* Copy up to CTL_MAX_ARGS of argv[0..count-1] into args; returns how many. */
int ctl_args(int count, char **argv, const char **args);

/*
 * Load cfg from the module arguments args[0..count-1] with hb_config_load(),
 * on top of the default config file: unless an argument is config=FILE or
 * CTL_NO_CONFIG, config=DEFAULT comes first (DEFAULT: CTL_DEFAULT_CONFIG,
 * or $PAM_HTTPBASIC_CTL_CONFIG), so the arguments add to and override what
 * the file says.  When arguments are given and DEFAULT does not exist, a
 * note says so and only the arguments are used.  CTL_NO_CONFIG among args
 * (or ctl_no_config set by a subcommand's option parser) drops the default;
 * it is not passed to the parser.  Returns 0, or -1 after printing the
 * module's own error text on stderr; cfg must be freed in both cases.
 */
int ctl_load(struct hb_config *cfg, int count, const char **args);

/* Set by a subcommand that read CTL_NO_CONFIG among its own options. */
extern bool ctl_no_config;

/* Problems found by check. */
struct ctl_counts {
    unsigned errors;
    unsigned warnings;
};

/*
 * check's preflight of a configuration the parser accepted: open every file
 * it names, open and ask the store, print the module's warnings and the
 * cache records it uses.  Problem lines go to stderr as "config
 * error|warning: WHERE: KEY: problem; what to do" (WHERE: the config file
 * line, or arg_origin for a key set by args), and are added to counts.
 */
void ctl_preflight(const struct hb_config *cfg, int count, const char **args, const char *arg_origin,
                   struct ctl_counts *counts);

/* Print "OK" or "N errors, M warnings"; the exit code: 0, 1 (errors), 2 (warnings only). */
int ctl_summary(const struct ctl_counts *counts);

/*
 * probe [--verbose] [ARG...]: check every configured server (DNS, TCP, TLS,
 * an anonymous request, Nextcloud's status.php) and print one line per
 * server and a summary.  Returns 0 ok, 1 warning, 2 critical, 3 unknown.
 */
int ctl_probe(int argc, char **argv);

/*
 * cache stats [ARG...] | cache forget USER [ARG...]: the credential cache
 * of the configured store (entries, users, ages; or drop one user's).
 * Returns 0 ok, 1 failure (no store, store error), 2 usage.
 */
int ctl_cache(int argc, char **argv);

#endif
