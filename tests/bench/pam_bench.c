/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pam_bench.c - N in-process logins through Linux-PAM, for tests/bench/run.
 *
 *   pam_bench [-n N] [--threads T] [--confdir DIR] [--acct] [--rhost IP]
 *             [--rss-at K]... SERVICE USER PASSWORD
 *
 * --threads T: the N logins are shared by T threads running at once
 * (authenticate_us etc. are then per login summed over the threads).
 *
 * Each login is what Dovecot's passdb pam does in an auth worker:
 * pam_start (or pam_start_confdir with --confdir), PAM_RHOST, PAM_RUSER and
 * PAM_TTY set, pam_authenticate, pam_acct_mgmt with --acct, pam_end.  The
 * conversation answers every ECHO_OFF prompt with PASSWORD and every
 * ECHO_ON prompt with USER.  No pam_wrapper: the real libpam reads
 * /etc/pam.d/SERVICE and /etc/pam.d/other (or DIR/SERVICE and DIR/other).
 *
 * Output, one "key=value" per line: n, ok, failed, wall_s, logins_per_s,
 * user_s, sys_s, cpu_us_per_login, start_us / authenticate_us / acct_us / end_us
 * (mean wall time of each PAM call), rss_kb_at_K for each --rss-at K (VmRSS
 * right after login K), rss_kb_end.  Exit 0 when every login succeeded.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_MARKS 16
#define MAX_THREADS 64

struct conv_data {
    const char *user;
    const char *password;
};

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp,
                        void *appdata)
{
    const struct conv_data *cd = appdata;
    struct pam_response *r = calloc((size_t) n, sizeof(*r));

    if (r == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        const char *answer = NULL;

        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
            answer = cd->password;
        else if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
            answer = cd->user;
        if (answer != NULL && (r[i].resp = strdup(answer)) == NULL) {
            for (int j = 0; j < i; j++)
                free(r[j].resp);
            free(r);
            return PAM_BUF_ERR;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
    return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: pam_bench [-n N] [--threads T] [--confdir DIR] [--acct] [--rhost IP]"
                    " [--rss-at K]... SERVICE USER PASSWORD\n");
    exit(2);
}

/* One thread's share of the logins and what it measured. */
struct worker {
    const char *service, *confdir, *rhost;
    const struct conv_data *cd;
    long n;
    int acct;
    const long *marks;           /* thread 0 only: VmRSS after these logins */
    long *mark_rss;
    int nmarks;
    long ok, failed;
    int first_rc;
    int setup_failed;
    double phase[4];             /* start, authenticate, acct, end */
};

static void *run_worker(void *arg)
{
    struct worker *w = arg;

    for (long k = 1; k <= w->n; k++) {
        struct pam_conv conv = {conversation, (void *) w->cd};
        pam_handle_t *pamh = NULL;
        double ta = now_s(), tb, tc, td;
        int rc;

        if (w->confdir != NULL)
            rc = pam_start_confdir(w->service, w->cd->user, &conv, w->confdir, &pamh);
        else
            rc = pam_start(w->service, w->cd->user, &conv, &pamh);
        if (rc != PAM_SUCCESS) {
            fprintf(stderr, "pam_bench: pam_start: %d\n", rc);
            w->setup_failed = 1;
            return NULL;
        }
        pam_set_item(pamh, PAM_RHOST, w->rhost);
        pam_set_item(pamh, PAM_RUSER, w->cd->user);
        pam_set_item(pamh, PAM_TTY, "dovecot");
        tb = now_s();
        rc = pam_authenticate(pamh, 0);
        tc = now_s();
        if (rc == PAM_SUCCESS && w->acct)
            rc = pam_acct_mgmt(pamh, 0);
        td = now_s();
        if (rc == PAM_SUCCESS) {
            w->ok++;
        } else {
            if (w->failed == 0)
                w->first_rc = rc;
            w->failed++;
        }
        pam_end(pamh, rc);
        w->phase[0] += tb - ta;
        w->phase[1] += tc - tb;
        w->phase[2] += td - tc;
        w->phase[3] += now_s() - td;
        for (int m = 0; m < w->nmarks; m++)
            if (w->marks[m] == k)
                w->mark_rss[m] = rss_kb();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *confdir = NULL, *rhost = "127.0.0.1";
    long n = 1000, marks[MAX_MARKS], mark_rss[MAX_MARKS];
    int nmarks = 0, acct = 0, threads = 1, i;
    long ok = 0, failed = 0, first_rc = PAM_SUCCESS;
    double phase[4] = {0, 0, 0, 0};   /* start, authenticate, acct, end */
    struct worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    struct rusage ru0, ru1;
    struct conv_data cd;
    double t0, t1;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--acct") == 0)
            acct = 1;
        else if (i + 1 >= argc)
            usage();
        else if (strcmp(argv[i], "-n") == 0)
            n = atol(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--confdir") == 0)
            confdir = argv[++i];
        else if (strcmp(argv[i], "--rhost") == 0)
            rhost = argv[++i];
        else if (strcmp(argv[i], "--rss-at") == 0 && nmarks < MAX_MARKS)
            marks[nmarks++] = atol(argv[++i]);
        else
            usage();
    }
    if (argc - i != 3 || n < 1 || threads < 1 || threads > MAX_THREADS)
        usage();
    cd.user = argv[i + 1];
    cd.password = argv[i + 2];

    getrusage(RUSAGE_SELF, &ru0);
    t0 = now_s();
    for (int t = 0; t < threads; t++) {
        w[t] = (struct worker) {argv[i], confdir, rhost, &cd, n / threads + (t < n % threads), acct,
                                marks, mark_rss, t == 0 ? nmarks : 0, 0, 0, PAM_SUCCESS, 0, {0, 0, 0, 0}};
        if (threads == 1)
            run_worker(&w[0]);
        else
            pthread_create(&tid[t], NULL, run_worker, &w[t]);
    }
    for (int t = 0; t < threads; t++) {
        if (threads > 1)
            pthread_join(tid[t], NULL);
        if (w[t].setup_failed)
            return 1;
        ok += w[t].ok;
        if (failed == 0 && w[t].failed > 0)
            first_rc = w[t].first_rc;
        failed += w[t].failed;
        for (int p = 0; p < 4; p++)
            phase[p] += w[t].phase[p];
    }
    t1 = now_s();
    getrusage(RUSAGE_SELF, &ru1);

    double user = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
    double sys = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
    printf("n=%ld\nthreads=%d\nok=%ld\nfailed=%ld\n", n, threads, ok, failed);
    if (failed > 0)
        printf("first_error=%s\n", pam_strerror(NULL, (int) first_rc));
    printf("wall_s=%.3f\nlogins_per_s=%.1f\n", t1 - t0, (double) n / (t1 - t0));
    printf("user_s=%.3f\nsys_s=%.3f\ncpu_us_per_login=%.1f\n", user, sys,
           (user + sys) * 1e6 / (double) n);
    printf("start_us=%.1f\nauthenticate_us=%.1f\nacct_us=%.1f\nend_us=%.1f\n",
           phase[0] * 1e6 / (double) n, phase[1] * 1e6 / (double) n,
           phase[2] * 1e6 / (double) n, phase[3] * 1e6 / (double) n);
    for (int m = 0; m < nmarks; m++)
        if (marks[m] <= n)
            printf("rss_kb_at_%ld=%ld\n", marks[m], mark_rss[m]);
    printf("rss_kb_end=%ld\n", rss_kb());
    return failed == 0 ? 0 : 1;
}
