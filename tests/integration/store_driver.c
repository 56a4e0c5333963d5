/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_driver - drive the store interface (store.h) of libhttpbasic from
 * a test script, one command per stdin line, one answer line per command
 * (scan: one line per key, then "end N").  The same commands run against
 * every backend, so one script can compare them.
 *
 *   store_driver OPTION...        options as for the module, e.g.
 *                                 url=https://x/ store=redis://... secret_file=...
 * Commands (KEY, VALUE, PREFIX: text; "%XX" stands for a byte):
 *   get KEY                 -> "ok VALUE ms=N" | "not_found ms=N" | "error REASON ms=N"
 *   put KEY VALUE TTL       -> "ok ms=N" | "error ..."   (update, HB_STORE_PUT)
 *   del KEY                 -> "ok ms=N" | "error ..."   (update, HB_STORE_DELETE)
 *   keep KEY                -> "ok calls=N ms=N" | ...   (update, HB_STORE_KEEP)
 *   incr KEY N TTL          -> "ok ms=N" | "error ..."   (N updates adding 1 to a decimal value)
 *   mget KEY...             -> "many R R ... ms=N" (R: VALUE | "-" not found | "!" error)
 *                              | "error REASON ms=N"   (hb_store_get_many, one call)
 *   scan PREFIX             -> "key KEY=VALUE"... then "end N ms=N" | "error ..."
 *   fork CMD...             -> the command's answer, run in a child process
 *   exec-sockets            -> "sockets N": sockets seen by a program this process execs
 *   cloexec                 -> "cloexec N/M": of the M descriptors opened since the driver
 *                              started (sockets, files), N are close-on-exec
 *   sleep MS                -> "slept"
 * Exit status 0 at end of input, 2 on usage errors.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "store.h"

#define LINE_MAX_LEN 8192

static const struct hb_config *config;

static long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Decode "%XX" escapes of s into out; the length. */
static size_t decode(const char *s, uint8_t *out, size_t outlen)
{
    size_t n = 0;

    for (; *s != '\0' && n < outlen; s++) {
        unsigned v;

        if (s[0] == '%' && sscanf(s + 1, "%2x", &v) == 1) {
            out[n++] = (uint8_t) v;
            s += 2;
        } else {
            out[n++] = (uint8_t) *s;
        }
    }
    return n;
}

/* Print bytes, escaping what is not printable ASCII (and '%', '=', ' ') as %XX. */
static void print_bytes(const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (b[i] > 0x20 && b[i] < 0x7f && b[i] != '%' && b[i] != '=')
            putchar(b[i]);
        else
            printf("%%%02X", b[i]);
}

struct put_arg {
    const uint8_t *value;
    size_t len;
    long ttl;
    enum hb_store_action action;
    int calls;
};

static enum hb_store_action fixed_update(const uint8_t *old, size_t oldlen, uint8_t *out,
                                         size_t *outlen, long *ttl, void *arg)
{
    struct put_arg *a = arg;

    (void) old;
    (void) oldlen;
    a->calls++;
    memcpy(out, a->value, a->len);
    *outlen = a->len;
    *ttl = a->ttl;
    return a->action;
}

static enum hb_store_action increment(const uint8_t *old, size_t oldlen, uint8_t *out,
                                      size_t *outlen, long *ttl, void *arg)
{
    char text[32] = "";
    long n = 0;

    if (old != NULL && oldlen < sizeof(text)) {
        memcpy(text, old, oldlen);
        n = strtol(text, NULL, 10);
    }
    *outlen = (size_t) snprintf((char *) out, 32, "%ld", n + 1);
    *ttl = *(const long *) arg;
    return HB_STORE_PUT;
}

static int print_key(const uint8_t *key, size_t keylen, const uint8_t *value, size_t valuelen, void *arg)
{
    (*(int *) arg)++;
    printf("key ");
    print_bytes(key, keylen);
    putchar('=');
    print_bytes(value, valuelen);
    putchar('\n');
    return 0;
}

#define FD_TRACKED 1024
static bool open_at_start[FD_TRACKED];   /* descriptors inherited from the caller */

/* Call fn for each descriptor of this process below FD_TRACKED (not the listing's own). */
static void each_fd(void (*fn)(int fd, void *arg), void *arg)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    while (d != NULL && (e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);

        if (e->d_name[0] != '.' && fd != dirfd(d) && fd >= 0 && fd < FD_TRACKED)
            fn(fd, arg);
    }
    if (d != NULL)
        closedir(d);
}

static void note_start_fd(int fd, void *arg)
{
    (void) arg;
    open_at_start[fd] = true;
}

/* counts[0]: descriptors opened since the start; counts[1]: those close-on-exec. */
static void count_new_fd(int fd, void *arg)
{
    int *counts = arg;

    if (open_at_start[fd])
        return;
    counts[0]++;
    if ((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0)
        counts[1]++;
}

/* mget: every key of words[1..n-1] in one hb_store_get_many; prints its answer. */
static void many_command(char *words[], int n)
{
    static uint8_t keys[HB_STORE_MANY_MAX + 1][HB_STORE_KEY_MAX * 2];
    static uint8_t values[HB_STORE_MANY_MAX + 1][HB_STORE_VALUE_MAX];
    const uint8_t *keyp[HB_STORE_MANY_MAX + 1];
    size_t keylens[HB_STORE_MANY_MAX + 1], lens[HB_STORE_MANY_MAX + 1];
    int rcs[HB_STORE_MANY_MAX + 1], rc = HB_STORE_ERROR;
    size_t count = n > 1 ? (size_t) n - 1 : 0;
    char err[HB_ERROR_LEN];
    long t0 = now_ms();
    struct hb_store *store = hb_store_acquire(config, err, sizeof(err));

    if (count > HB_STORE_MANY_MAX + 1)
        count = HB_STORE_MANY_MAX + 1;
    for (size_t i = 0; i < count; i++) {
        keylens[i] = decode(words[1 + i], keys[i], sizeof(keys[i]));
        keyp[i] = keys[i];
    }
    if (store != NULL)
        rc = hb_store_get_many(store, keyp, keylens, count, values, lens, rcs, err, sizeof(err));
    hb_store_release(store);
    if (rc != HB_STORE_OK) {
        printf("error %s ms=%ld\n", err, now_ms() - t0);
        return;
    }
    printf("many");
    for (size_t i = 0; i < count; i++) {
        putchar(' ');
        if (rcs[i] == HB_STORE_OK)
            print_bytes(values[i], lens[i]);
        else
            putchar(rcs[i] == HB_STORE_NOT_FOUND ? '-' : '!');
    }
    printf(" ms=%ld\n", now_ms() - t0);
}

/* Run one store command with the store acquired; prints its answer. */
static void store_command(char *words[], int n)
{
    char err[HB_ERROR_LEN];
    uint8_t key[HB_STORE_KEY_MAX * 2], value[HB_STORE_VALUE_MAX];
    size_t keylen = n > 1 ? decode(words[1], key, sizeof(key)) : 0, valuelen = 0;
    long t0 = now_ms();
    struct hb_store *store = hb_store_acquire(config, err, sizeof(err));
    int rc = HB_STORE_ERROR, count = 0;
    struct put_arg put = {value, 0, 0, HB_STORE_PUT, 0};

    if (store != NULL && strcmp(words[0], "get") == 0 && n == 2) {
        rc = hb_store_get(store, key, keylen, value, &valuelen, err, sizeof(err));
    } else if (store != NULL && strcmp(words[0], "put") == 0 && n == 4) {
        put.len = decode(words[2], value, sizeof(value));
        put.ttl = atol(words[3]);
        rc = hb_store_update(store, key, keylen, fixed_update, &put, err, sizeof(err));
    } else if (store != NULL && (strcmp(words[0], "del") == 0 || strcmp(words[0], "keep") == 0) && n == 2) {
        put.action = words[0][0] == 'd' ? HB_STORE_DELETE : HB_STORE_KEEP;
        rc = hb_store_update(store, key, keylen, fixed_update, &put, err, sizeof(err));
    } else if (store != NULL && strcmp(words[0], "incr") == 0 && n == 4) {
        long ttl = atol(words[3]);

        rc = HB_STORE_OK;
        for (long i = atol(words[2]); i > 0 && rc == HB_STORE_OK; i--)
            rc = hb_store_update(store, key, keylen, increment, &ttl, err, sizeof(err));
    } else if (store != NULL && strcmp(words[0], "scan") == 0 && n <= 2) {
        rc = hb_store_scan(store, key, keylen, print_key, &count, err, sizeof(err));
    } else if (store != NULL) {
        snprintf(err, sizeof(err), "usage: %s", words[0]);
    }
    hb_store_release(store);
    if (rc == HB_STORE_ERROR)
        printf("error %s", err);
    else if (rc == HB_STORE_NOT_FOUND)
        printf("not_found");
    else if (strcmp(words[0], "scan") == 0)
        printf("end %d", count);
    else if (strcmp(words[0], "keep") == 0)
        printf("ok calls=%d", put.calls);
    else
        printf("ok");
    if (rc == HB_STORE_OK && strcmp(words[0], "get") == 0) {
        putchar(' ');
        print_bytes(value, valuelen);
    }
    printf(" ms=%ld\n", now_ms() - t0);
}

static void command(char *words[], int n);

/* Run a command in a child process and wait for it. */
static void in_child(char *words[], int n)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        command(words, n);
        fflush(stdout);
        _exit(0);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    else
        printf("error fork\n");
}

/* Exec a shell that counts the sockets it inherited. */
static void exec_sockets(void)
{
    fflush(stdout);
    if (system("n=0; for f in /proc/$$/fd/*; do case $(readlink $f) in socket:*) n=$((n+1));; esac; done;"
               " echo sockets $n") != 0)
        printf("error system\n");
}

static void command(char *words[], int n)
{
    int counts[2];

    if (strcmp(words[0], "fork") == 0 && n > 1) {
        in_child(words + 1, n - 1);
    } else if (strcmp(words[0], "mget") == 0) {
        many_command(words, n);
    } else if (strcmp(words[0], "exec-sockets") == 0) {
        exec_sockets();
    } else if (strcmp(words[0], "cloexec") == 0) {
        counts[0] = counts[1] = 0;
        each_fd(count_new_fd, counts);
        printf("cloexec %d/%d\n", counts[1], counts[0]);
    } else if (strcmp(words[0], "sleep") == 0 && n == 2) {
        usleep((useconds_t) atol(words[1]) * 1000);
        printf("slept\n");
    } else {
        store_command(words, n);
    }
}

int main(int argc, char **argv)
{
    static struct hb_config cfg;
    char err[HB_ERROR_LEN], line[LINE_MAX_LEN];
    const char *args[32];
    int nargs = 0;

    for (int i = 1; i < argc && nargs < 32; i++)
        args[nargs++] = argv[i];
    if (hb_config_load(&cfg, nargs, args, err, sizeof(err)) != 0) {
        fprintf(stderr, "store_driver: %s\n", err);
        return 2;
    }
    config = &cfg;
    each_fd(note_start_fd, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *words[24], *save = NULL;
        int n = 0;

        for (char *w = strtok_r(line, " \t\n", &save); w != NULL && n < 24; w = strtok_r(NULL, " \t\n", &save))
            words[n++] = w;
        if (n > 0)
            command(words, n);
    }
    hb_config_free(&cfg);
    return 0;
}
