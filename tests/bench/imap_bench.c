/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * imap_bench.c - CLIENTS concurrent IMAP clients (threads), each in a loop of
 * connect, greeting, LOGIN, LOGOUT, close; for tests/bench/run.
 *
 *   imap_bench [-c CLIENTS] [-d SECONDS] [-w WARMUP_SECONDS] [-p PORT]
 *              USER PASSWORD
 *
 * Plain IMAP on 127.0.0.1 (the bench's Dovecot allows plaintext LOGIN
 * there).  The latency of a login is from sending "LOGIN" to reading its
 * tagged answer: Dovecot's auth (passdb, userdb) and the hand-over to the
 * imap process.  Logins finished during the warm-up are not counted.
 *
 * Output, one "key=value" per line: clients, seconds, logins, failed,
 * all_logins (successful ones, warm-up and the last unfinished second
 * included: for CPU per login measured around the whole run), logins_per_s, p50_ms, p95_ms, p99_ms, max_ms, first_failure.  Exit 0 when
 * at least one login succeeded and none failed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct worker {
    pthread_t thread;
    double *lat;             /* seconds per counted login */
    size_t nlat, cap;
    long failed;
    long all;                /* successful logins, warm-up included */
    char failure[256];   /* the first failure, for the report */
};

static int port = 143;
static const char *user, *password;
static double t_start, t_count, t_stop;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Read until a line starting with tag (or "*" for the greeting) ends; 0 when it says OK. */
static int read_reply(int fd, const char *tag, char *last, size_t lastlen)
{
    char buf[4096];
    size_t len = 0, taglen = strlen(tag);

    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
        char *line, *nl;

        if (r <= 0) {
            snprintf(last, lastlen, "connection closed (%s)", r < 0 ? strerror(errno) : "eof");
            return -1;
        }
        len += (size_t) r;
        buf[len] = '\0';
        line = buf;
        while ((nl = strstr(line, "\r\n")) != NULL) {
            *nl = '\0';
            if (strncmp(line, tag, taglen) == 0 && line[taglen] == ' ') {
                snprintf(last, lastlen, "%s", line);
                return strncmp(line + taglen + 1, "OK", 2) == 0 ? 0 : -1;
            }
            line = nl + 2;
        }
        /* keep the unfinished line */
        len = strlen(line);
        memmove(buf, line, len + 1);
        if (len >= sizeof(buf) - 1)
            len = 0;
    }
}

static int write_all(int fd, const char *s)
{
    size_t n = strlen(s);

    while (n > 0) {
        ssize_t w = write(fd, s, n);

        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t) w;
    }
    return 0;
}

/* One connection: greeting, LOGIN, LOGOUT.  Returns 0 and the LOGIN latency, or -1. */
static int one_login(double *latency, char *why, size_t whylen)
{
    struct sockaddr_in sa;
    char cmd[1024], last[200];
    int fd, one = 1, rc = -1;
    double t0;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short) port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        snprintf(why, whylen, "connect: %s", strerror(errno));
        goto out;
    }
    if (read_reply(fd, "*", last, sizeof(last)) != 0) {
        snprintf(why, whylen, "greeting: %s", last);
        goto out;
    }
    snprintf(cmd, sizeof(cmd), "a LOGIN \"%s\" \"%s\"\r\n", user, password);
    t0 = now_s();
    if (write_all(fd, cmd) != 0 || read_reply(fd, "a", last, sizeof(last)) != 0) {
        snprintf(why, whylen, "login: %s", last);
        goto out;
    }
    *latency = now_s() - t0;
    if (write_all(fd, "b LOGOUT\r\n") != 0 || read_reply(fd, "b", last, sizeof(last)) != 0) {
        snprintf(why, whylen, "logout: %s", last);
        goto out;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    char why[256];

    while (now_s() < t_stop) {
        double lat = 0;
        int rc = one_login(&lat, why, sizeof(why));
        double t = now_s();

        if (rc == 0)
            w->all++;
        if (t < t_count || t > t_stop)
            continue;
        if (rc != 0) {
            if (w->failed++ == 0)
                snprintf(w->failure, sizeof(w->failure), "%s", why);
            usleep(10000);
            continue;
        }
        if (w->nlat == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 4096;
            double *p = realloc(w->lat, cap * sizeof(*p));

            if (p == NULL)
                continue;
            w->lat = p;
            w->cap = cap;
        }
        w->lat[w->nlat++] = lat;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    size_t i;

    if (n == 0)
        return 0;
    i = (size_t) (p * (double) (n - 1) + 0.5);
    return v[i] * 1000.0;
}

int main(int argc, char **argv)
{
    int clients = 8, i;
    double seconds = 5, warmup = 1;
    struct worker *w;
    double *all;
    size_t n = 0;
    long failed = 0, all_logins = 0;
    const char *first_failure = "";

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (i + 1 >= argc)
            break;
        if (strcmp(argv[i], "-c") == 0)
            clients = atoi(argv[++i]);
        else if (strcmp(argv[i], "-d") == 0)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "-w") == 0)
            warmup = atof(argv[++i]);
        else if (strcmp(argv[i], "-p") == 0)
            port = atoi(argv[++i]);
        else
            break;
    }
    if (argc - i != 2 || clients < 1 || seconds <= 0) {
        fprintf(stderr, "usage: imap_bench [-c CLIENTS] [-d SECONDS] [-w WARMUP] [-p PORT] USER PASSWORD\n");
        return 2;
    }
    user = argv[i];
    password = argv[i + 1];
    if (strpbrk(user, "\"\\\r\n") != NULL || strpbrk(password, "\"\\\r\n") != NULL) {
        fprintf(stderr, "imap_bench: user and password must not contain quotes, backslashes or CR/LF\n");
        return 2;
    }

    w = calloc((size_t) clients, sizeof(*w));
    t_start = now_s();
    t_count = t_start + warmup;
    t_stop = t_count + seconds;
    for (int c = 0; c < clients; c++)
        pthread_create(&w[c].thread, NULL, run, &w[c]);
    for (int c = 0; c < clients; c++) {
        pthread_join(w[c].thread, NULL);
        n += w[c].nlat;
        failed += w[c].failed;
        all_logins += w[c].all;
        if (w[c].failed > 0 && first_failure[0] == '\0')
            first_failure = w[c].failure;
    }
    all = malloc((n ? n : 1) * sizeof(*all));
    n = 0;
    for (int c = 0; c < clients; c++) {
        memcpy(all + n, w[c].lat, w[c].nlat * sizeof(*all));
        n += w[c].nlat;
    }
    qsort(all, n, sizeof(*all), cmp_double);
    printf("clients=%d\nseconds=%.1f\nlogins=%zu\nfailed=%ld\n", clients, seconds, n, failed);
    printf("all_logins=%ld\n", all_logins);
    printf("logins_per_s=%.1f\n", (double) n / seconds);
    printf("p50_ms=%.2f\np95_ms=%.2f\np99_ms=%.2f\nmax_ms=%.2f\n", pct(all, n, 0.50),
           pct(all, n, 0.95), pct(all, n, 0.99), n ? all[n - 1] * 1000.0 : 0.0);
    printf("first_failure=%s\n", first_failure);
    return n > 0 && failed == 0 ? 0 : 1;
}
