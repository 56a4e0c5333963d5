/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl.h - what the subcommands of pam_httpbasic-ctl share: loading the
 * configuration exactly as the module does, and the probe subcommand.
 */
#ifndef HB_CTL_H
#define HB_CTL_H

#include <stdbool.h>

#include "options.h"

#define CTL_DEFAULT_ARG "config=/etc/security/pam_httpbasic.conf"
#define CTL_MAX_ARGS 128         /* module arguments at most */

/* Copy up to CTL_MAX_ARGS of argv[0..count-1] into args; returns how many. */
int ctl_args(int count, char **argv, const char **args);

/*
 * Load cfg from the module arguments args[0..count-1] (CTL_DEFAULT_ARG when
 * count is 0) with hb_config_load().  Returns 0, or -1 after printing the
 * module's own error text on stderr; cfg must be freed in both cases.
 */
int ctl_load(struct hb_config *cfg, int count, const char **args);

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
