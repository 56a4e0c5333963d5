/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_cache.c - pam_httpbasic-ctl cache stats | cache forget USER|--all: look at
 * and drop credential-cache entries in the module's own store, through
 * the module's own code (cache.c), without ever reading a secret out.
 */
#include "ctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "validate.h"

/* Exit codes of cache. */
enum { CACHE_OK = 0, CACHE_FAILED = 1, CACHE_USAGE = 2 };

/* Ages over all records, for the summary line. */
struct age_summary {
    int64_t newest;              /* youngest verification, s ago */
    int64_t oldest;              /* oldest verification, s ago */
    size_t records;
};

/* hb_cache_stats_fn: one line per user record (no name: keys are keyed hashes). */
static int print_record(const struct hb_cache_user_stats *user, void *arg)
{
    struct age_summary *ages = arg;

    if (ages->records == 0 || user->newest_age < ages->newest)
        ages->newest = user->newest_age;
    if (ages->records == 0 || user->oldest_age > ages->oldest)
        ages->oldest = user->oldest_age;
    ages->records++;
    printf("record verifiers=%zu newest_age=%" PRId64 " oldest_age=%" PRId64 "\n",
           user->verifiers, user->newest_age, user->oldest_age);
    return 0;
}

/* cache stats: entries, users and ages of this config's server list. */
static int cache_stats(const struct hb_config *cfg)
{
    struct hb_cache_totals totals = {0, 0, 0, 0};
    struct age_summary ages = {0, 0, 0};
    char err[HB_ERROR_LEN], scope[HB_ERROR_LEN];

    if (hb_cache_stats(cfg, print_record, &ages, &totals, err, sizeof(err)) != 0) {
        fprintf(stderr, "cache stats: %s\n", err);
        return CACHE_FAILED;
    }
    hb_cache_describe_scope(cfg, scope, sizeof(scope));
    printf("records of %s\n", scope);
    printf("store=%s users=%zu verifiers=%zu accounts=%zu corrupt=%zu", cfg->store, totals.users,
           totals.verifiers, totals.accounts, totals.corrupt);
    if (ages.records > 0)
        printf(" newest_age=%" PRId64 " oldest_age=%" PRId64, ages.newest, ages.oldest);
    printf(" fresh=%ld stale=%ld\n", cfg->cache_fresh, cfg->cache_stale);
    return CACHE_OK;
}

/* Say exactly what a forget found and dropped. */
static void print_forgotten(const struct hb_config *cfg, const char *shown, const struct hb_cache_forgotten *w)
{
    printf("forgot login name %s: %zu verifier%s dropped\n", shown, w->verifiers, w->verifiers == 1 ? "" : "s");
    if (w->account_linked)
        printf("forgot the Nextcloud account it logged in to: every verification of its %zu login"
               " name%s seen (uid, e-mail, other letter cases) up to now is void\n",
               w->account_names, w->account_names == 1 ? "" : "s");
    if (w->uid_account)
        printf("forgot the Nextcloud account with uid %s: every verification of its %zu login name%s"
               " seen up to now is void\n", shown, w->uid_names, w->uid_names == 1 ? "" : "s");
    if (!w->account_linked && !w->uid_account)
        printf("no account record names %s (the server did not name the account, or it was never seen)\n", shown);
    printf("every process using %s asks the server again for these\n", cfg->store);
}

/* cache forget USER: drop USER (mapped as the module maps it) and the account(s) behind it. */
static int cache_forget(const struct hb_config *cfg, const char *user)
{
    char http_user[HB_USER_BUF], shown[128], err[HB_ERROR_LEN];
    enum hb_input why = hb_map_user(cfg, user, http_user);
    struct hb_cache_forgotten what;
    int rc = CACHE_OK;

    if (why != HB_INPUT_OK) {
        fprintf(stderr, "cache forget: %s\n", hb_input_text(why));
        rc = CACHE_FAILED;
    } else if (hb_cache_forget(cfg, http_user, &what, err, sizeof(err)) != 0) {
        fprintf(stderr, "cache forget: %s\n", err);
        rc = CACHE_FAILED;
    } else {
        hb_log_escape(http_user, shown, sizeof(shown));
        print_forgotten(cfg, shown, &what);
    }
    return rc;
}

/* cache forget --all: every record of this configuration's scope. */
static int cache_forget_all(const struct hb_config *cfg)
{
    char err[HB_ERROR_LEN];
    size_t records = 0;

    if (hb_cache_forget_all(cfg, &records, err, sizeof(err)) != 0) {
        fprintf(stderr, "cache forget --all: %s (%zu records deleted before)\n", err, records);
        return CACHE_FAILED;
    }
    printf("forgot everything: %zu record%s deleted; every process using %s asks the server again\n",
           records, records == 1 ? "" : "s", cfg->store);
    return CACHE_OK;
}

int ctl_cache(int argc, char **argv)
{
    const char *args[CTL_MAX_ARGS];
    bool forget = argc > 1 && strcmp(argv[1], "forget") == 0;
    bool stats = argc > 1 && strcmp(argv[1], "stats") == 0;
    int first = forget ? 3 : 2, rc = CACHE_USAGE, count;
    struct hb_config cfg;

    if ((!forget && !stats) || (forget && argc < 3)) {
        fprintf(stderr, "usage: pam_httpbasic-ctl cache stats [ARG...] | cache forget USER|--all [ARG...]\n");
        return CACHE_USAGE;
    }
    count = ctl_args(argc - first, argv + first, args);
    rc = ctl_load(&cfg, count, args) == 0 ? CACHE_OK : CACHE_FAILED;
    if (rc == CACHE_OK && cfg.store == NULL) {
        fprintf(stderr, "cache: no store= in this configuration: there is no cache\n");
        rc = CACHE_FAILED;
    }
    if (rc == CACHE_OK)
        rc = !forget ? cache_stats(&cfg)
             : strcmp(argv[2], "--all") == 0 ? cache_forget_all(&cfg) : cache_forget(&cfg, argv[2]);
    hb_config_free(&cfg);
    return rc;
}
