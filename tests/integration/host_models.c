/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * host_models.c - drive the module the way different host processes do:
 * several threads at once, a fork after a login, logins spaced in time.
 *
 *   host_models threads N M SERVICE USER GOOD BAD
 *       N threads, each M logins alternating GOOD and BAD passwords, all
 *       at once; prints "wrong=K" (results that differ from the expected).
 *   host_models fork SERVICE USER GOOD
 *       login in the parent, fork, login in the child, wait for it, login
 *       in the parent again; prints "parent1=... child=... parent2=...".
 *   host_models sequence N DELAY_MS SERVICE USER GOOD
 *       N logins in one process, DELAY_MS apart; prints "ok=K".
 *   host_models burst-threads N SERVICE USER PASSWORD
 *   host_models burst-procs N SERVICE USER PASSWORD
 *       N logins with PASSWORD released at the same instant, from N threads
 *       of one process (a barrier) or from N processes (forked, waiting on
 *       a pipe that the parent then closes); RHOST $HB_RHOST (default
 *       192.0.2.10); prints the results by code and the slowest login,
 *       e.g. "logins=12 PAM_AUTH_ERR=3 PAM_MAXTRIES=9 max_ms=2010".
 *   host_models growth N SERVICE USER PASSWORD
 *       10 logins, then N more in the same process; prints the open file
 *       descriptors and VmRSS after each stage, the slowest login (ms) and
 *       the result of the last login, e.g.
 *       "fd=5/5 rss_kb=9000/9004 max_ms=210 last=PAM_AUTHINFO_UNAVAIL results=1".
 *
 * Runs under pam_wrapper like pam_driver, or, when HB_CONFDIR names a
 * directory of service files, without it through pam_start_confdir()
 * (pam_wrapper's per-process /tmp/pam.X directories collide when dozens of
 * processes start at once).  Exit 0 when it ran, 2 on usage.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

struct job {
    const char *service;
    const char *user;
    const char *good;
    const char *bad;
    int logins;
    int wrong;
    int wrong_codes[32];   /* results that were wrong, by PAM code */
};

/* Answer every prompt with the password in appdata (as Dovecot does). */
static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *appdata)
{
    struct pam_response *r = calloc((size_t) n, sizeof(*r));

    if (r == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++)
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
            r[i].resp = strdup(appdata);
    *resp = r;
    return PAM_SUCCESS;
}

/* One whole PAM transaction; returns pam_authenticate's result. */
static int login(const char *service, const char *user, const char *password)
{
    struct pam_conv conv = {conversation, (void *) (uintptr_t) password};
    const char *confdir = getenv("HB_CONFDIR");
    pam_handle_t *pamh = NULL;
    int rc = confdir != NULL ? pam_start_confdir(service, user, &conv, confdir, &pamh)
                             : pam_start(service, user, &conv, &pamh);

    if (rc == PAM_SUCCESS) {
        const char *rhost = getenv("HB_RHOST");

        pam_set_item(pamh, PAM_RHOST, rhost != NULL ? rhost : "192.0.2.10");
        rc = pam_authenticate(pamh, 0);
        pam_end(pamh, rc);
    }
    return rc;
}

static void *run_job(void *arg)
{
    struct job *job = arg;

    for (int i = 0; i < job->logins; i++) {
        int bad = i % 2;
        int rc = login(job->service, job->user, bad ? job->bad : job->good);

        if (rc != (bad ? PAM_AUTH_ERR : PAM_SUCCESS)) {
            job->wrong++;
            job->wrong_codes[rc >= 0 && rc < 32 ? rc : 31]++;
        }
    }
    return NULL;
}

static int threads(int n, int m, char **argv)
{
    pthread_t tid[64];
    struct job jobs[64];
    int wrong = 0;

    if (n < 1 || n > 64)
        return 2;
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct job) {argv[0], argv[1], argv[2], argv[3], m, 0, {0}};
        pthread_create(&tid[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        wrong += jobs[i].wrong;
    }
    printf("logins=%d wrong=%d\n", n * m, wrong);
    for (int code = 0; code < 32; code++) {
        int count = 0;

        for (int i = 0; i < n; i++)
            count += jobs[i].wrong_codes[code];
        if (count > 0)
            printf("wrong result %s: %d\n", pam_strerror(NULL, code), count);
    }
    return 0;
}

static int fork_after_login(char **argv)
{
    int first = login(argv[0], argv[1], argv[2]);
    int status = 0;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0)
        _exit(login(argv[0], argv[1], argv[2]) == PAM_SUCCESS ? 0 : 1);
    waitpid(pid, &status, 0);
    printf("parent1=%s child=%s parent2=%s\n", first == PAM_SUCCESS ? "ok" : "fail",
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "fail",
           login(argv[0], argv[1], argv[2]) == PAM_SUCCESS ? "ok" : "fail");
    return 0;
}

static int sequence(int n, int delay_ms, char **argv)
{
    struct timespec delay = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    int ok = 0;

    for (int i = 0; i < n; i++) {
        if (i > 0)
            nanosleep(&delay, NULL);
        ok += login(argv[0], argv[1], argv[2]) == PAM_SUCCESS;
    }
    printf("logins=%d ok=%d\n", n, ok);
    return 0;
}

static int open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int n = 0;

    if (dir == NULL)
        return -1;
    while (readdir(dir) != NULL)
        n++;
    closedir(dir);
    return n - 3;    /* ".", ".." and the directory itself */
}

static long rss_kb(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (fp != NULL)
        fclose(fp);
    return kb;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Run n logins; return the slowest in ms; *last gets the last result, *distinct counts changes. */
static long run_logins(int n, char **argv, int *last, int *distinct)
{
    long slowest = 0;

    for (int i = 0; i < n; i++) {
        long start = now_ms();
        int rc = login(argv[0], argv[1], argv[2]);
        long took = now_ms() - start;

        if (took > slowest)
            slowest = took;
        if (rc != *last)
            (*distinct)++;
        *last = rc;
    }
    return slowest;
}

static const char *code_name(int rc)
{
    switch (rc) {
    case PAM_SUCCESS: return "PAM_SUCCESS";
    case PAM_AUTH_ERR: return "PAM_AUTH_ERR";
    case PAM_MAXTRIES: return "PAM_MAXTRIES";
    case PAM_AUTHINFO_UNAVAIL: return "PAM_AUTHINFO_UNAVAIL";
    case PAM_USER_UNKNOWN: return "PAM_USER_UNKNOWN";
    case PAM_SERVICE_ERR: return "PAM_SERVICE_ERR";
    default: return "other";
    }
}

static int growth(int n, char **argv)
{
    int last = -1, distinct = 0;
    long slow1 = run_logins(10, argv, &last, &distinct);
    int fd1 = open_fds();
    long rss1 = rss_kb();
    long slow2 = run_logins(n, argv, &last, &distinct);

    printf("fd=%d/%d rss_kb=%ld/%ld max_ms=%ld last=%s results=%d\n", fd1, open_fds(), rss1,
           rss_kb(), slow1 > slow2 ? slow1 : slow2, code_name(last), distinct);
    return 0;
}

/* ---- bursts: N logins released at once ---- */

#define BURST_MAX 64

struct burst {
    pthread_barrier_t *barrier;
    char **argv;                 /* SERVICE USER PASSWORD */
    int rc;
    long ms;
};

static void *burst_thread(void *arg)
{
    struct burst *b = arg;
    long start;

    pthread_barrier_wait(b->barrier);
    start = now_ms();
    b->rc = login(b->argv[0], b->argv[1], b->argv[2]);
    b->ms = now_ms() - start;
    return NULL;
}

/* Print the results of n logins by code, and the slowest. */
static void print_burst(int n, const int *rcs, const long *ms)
{
    static const int codes[] = {PAM_SUCCESS, PAM_AUTH_ERR, PAM_MAXTRIES, PAM_AUTHINFO_UNAVAIL,
                                PAM_USER_UNKNOWN, PAM_SERVICE_ERR};
    long slowest = 0;
    int known = 0;

    printf("logins=%d", n);
    for (size_t c = 0; c < sizeof(codes) / sizeof(codes[0]); c++) {
        int count = 0;

        for (int i = 0; i < n; i++)
            count += rcs[i] == codes[c];
        if (count > 0)
            printf(" %s=%d", code_name(codes[c]), count);
        known += count;
    }
    for (int i = 0; i < n; i++)
        slowest = ms[i] > slowest ? ms[i] : slowest;
    if (known < n)
        printf(" other=%d", n - known);
    printf(" max_ms=%ld\n", slowest);
}

static int burst_threads(int n, char **argv)
{
    pthread_barrier_t barrier;
    pthread_t tid[BURST_MAX];
    struct burst b[BURST_MAX];
    int rcs[BURST_MAX];
    long ms[BURST_MAX];

    if (n < 1 || n > BURST_MAX)
        return 2;
    pthread_barrier_init(&barrier, NULL, (unsigned) n);
    for (int i = 0; i < n; i++) {
        b[i] = (struct burst) {&barrier, argv, -1, 0};
        pthread_create(&tid[i], NULL, burst_thread, &b[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        rcs[i] = b[i].rc;
        ms[i] = b[i].ms;
    }
    pthread_barrier_destroy(&barrier);
    print_burst(n, rcs, ms);
    return 0;
}

static int burst_procs(int n, char **argv)
{
    int go[2], results[2];
    pid_t pid[BURST_MAX];
    int rcs[BURST_MAX];
    long ms[BURST_MAX];

    if (n < 1 || n > BURST_MAX || pipe(go) != 0 || pipe(results) != 0)
        return 2;
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        pid[i] = fork();
        if (pid[i] == 0) {
            char c;
            long start, took;
            int rc, out[2];

            close(go[1]);
            while (read(go[0], &c, 1) < 0 && errno == EINTR)
                ;
            start = now_ms();
            rc = login(argv[0], argv[1], argv[2]);
            took = now_ms() - start;
            out[0] = rc;
            out[1] = (int) took;
            _exit(write(results[1], out, sizeof(out)) == sizeof(out) ? 0 : 1);
        }
    }
    close(go[0]);
    close(results[1]);
    close(go[1]);                /* every child starts now */
    for (int i = 0; i < n; i++) {
        int out[2] = {-1, 0};

        if (read(results[0], out, sizeof(out)) != sizeof(out))
            out[0] = -1;
        rcs[i] = out[0];
        ms[i] = out[1];
    }
    for (int i = 0; i < n; i++)
        waitpid(pid[i], NULL, 0);
    print_burst(n, rcs, ms);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "threads") == 0)
        return threads(atoi(argv[2]), atoi(argv[3]), argv + 4);
    if (argc == 5 && strcmp(argv[1], "fork") == 0)
        return fork_after_login(argv + 2);
    if (argc == 7 && strcmp(argv[1], "sequence") == 0)
        return sequence(atoi(argv[2]), atoi(argv[3]), argv + 4);
    if (argc == 6 && strcmp(argv[1], "burst-threads") == 0)
        return burst_threads(atoi(argv[2]), argv + 3);
    if (argc == 6 && strcmp(argv[1], "burst-procs") == 0)
        return burst_procs(atoi(argv[2]), argv + 3);
    if (argc == 6 && strcmp(argv[1], "growth") == 0)
        return growth(atoi(argv[2]), argv + 3);
    fprintf(stderr, "usage: host_models threads N M SERVICE USER GOOD BAD\n"
                    "       host_models fork SERVICE USER GOOD\n"
                    "       host_models sequence N DELAY_MS SERVICE USER GOOD\n"
                    "       host_models burst-threads N SERVICE USER PASSWORD\n"
                    "       host_models burst-procs N SERVICE USER PASSWORD\n"
                    "       host_models growth N SERVICE USER PASSWORD\n");
    return 2;
}
