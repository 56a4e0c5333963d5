/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * secret_scan.c - what the module leaves behind in its host process
 * (issue 8): copies of passwords in memory, descriptors a child inherits,
 * and what a setuid host does with SSLKEYLOGFILE.  A self-contained PAM
 * application: pam_start_confdir(), no pam_wrapper, linked with -lpam only
 * (never libcurl), so that it also works as a setuid copy.
 *
 *   secret_scan memory SCENARIO CONFDIR SERVICE USERS_FILE
 *       Logs in through SERVICE with the users of USERS_FILE (the test
 *       server's users.txt: "user<TAB>password" lines), then, after
 *       pam_end, reads every readable mapping of this process through
 *       /proc/self/mem and counts copies of each password, of
 *       "user:password" and of its Base64.  SCENARIO:
 *         one    one login (the first user, right password)
 *         reuse  two logins, the second on the connection the first kept
 *         mixed  per user a right and a (distinct, generated) wrong password
 *         keep   as mixed, while a PAM handle of SERVICE stays open, so
 *                that libpam keeps the module loaded during the scan
 *       Three positive controls are made by this program itself and must
 *       be found: a live malloc'd copy, a copy in a freed malloc block and
 *       one in a dead stack frame.  Prints
 *         login K user=U password=right|wrong result=PAM_...
 *         mapping LABEL PERMS bytes=B      (each mapping scanned)
 *         scan mappings=N bytes=B unreadable_writable=B unreadable_other=B
 *         needle NAME copies=K [at WHERE; WHERE ...]
 *   secret_scan fds CONFDIR SERVICE USER PASSWORD LISTER
 *       One login, pam_end, then prints this process's descriptors
 *       ("parent fd=N kind=K cloexec=0|1") and runs "LISTER listfds" in a
 *       child (fork + exec), which prints its own ("child fd=N kind=K ...").
 *   secret_scan listfds
 *       Prints this process's descriptors, prefix "child".
 *   secret_scan login CONFDIR SERVICE USER PASSWORD
 *       One login; prints "at_secure=0|1 uid=R euid=E" and
 *       "authenticate=PAM_...".  Meant to run as a setuid-root copy.
 *
 * The module's log: linked with syslog_stderr.c, whose syslog, vsyslog,
 * __syslog_chk and __vsyslog_chk (libpam's pam_syslog ends in
 * __syslog_chk) print "... SYSLOG(PRIO): MESSAGE" on stderr.  Interposition
 * from the executable works in a setuid program, where ld.so ignores
 * LD_PRELOAD.
 *
 * The scanner never holds a needle in clear except in one page of its
 * own, which it skips: each needle is kept XOR-masked with random bytes,
 * unmasked into that page for one search and wiped after it; the read
 * buffer is skipped as well.  Exit status 0 when it ran, 2 on usage or
 * setup errors.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <security/pam_appl.h>

#define MAX_SECRET 192          /* bytes of one needle, Base64 included */
#define MAX_NEEDLES 48
#define MAX_USERS 8
#define MAX_WHERE 4             /* locations printed per needle */
#define CHUNK (1024 * 1024)     /* bytes read from /proc/self/mem at once */
#define STACK_AREA 32768        /* the dead frame of the stack control */

/* ------------------------------------------------------- secrets --- */

/* A secret kept XOR-masked: masked ^ key is the clear text. */
struct secret {
    size_t len;
    unsigned char masked[MAX_SECRET];
    unsigned char key[MAX_SECRET];
};

/* Mask len bytes at clear into s; the caller wipes clear.  0 on success. */
static int secret_set(struct secret *s, const void *clear, size_t len)
{
    const unsigned char *c = clear;

    if (len == 0 || len > MAX_SECRET || getrandom(s->key, len, 0) != (ssize_t) len)
        return -1;
    for (size_t i = 0; i < len; i++)
        s->masked[i] = c[i] ^ s->key[i];
    s->len = len;
    return 0;
}

/* Write the clear text of s at out (s->len bytes, no terminator). */
static void secret_unmask(const struct secret *s, unsigned char *out)
{
    for (size_t i = 0; i < s->len; i++)
        out[i] = s->masked[i] ^ s->key[i];
}

/* What the scanner looks for, and what it found. */
struct needle {
    char name[160];
    struct secret secret;
    bool control;                   /* made by this program: must be found */
    size_t copies;
    char where[MAX_WHERE][160];
};

static struct needle needles[MAX_NEEDLES];
static size_t needle_count;

/* Add a needle for len bytes at clear (the caller wipes clear); NULL when full. */
static struct needle *needle_add(const char *name, const void *clear, size_t len, bool control)
{
    struct needle *n = needle_count < MAX_NEEDLES ? &needles[needle_count] : NULL;

    if (n == NULL || secret_set(&n->secret, clear, len) != 0)
        return NULL;
    snprintf(n->name, sizeof(n->name), "%s", name);
    n->control = control;
    needle_count++;
    return n;
}

static const char base64_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of len bytes at in into out (room for 4 * ((len + 2) / 3)); returns its length. */
static size_t base64(const unsigned char *in, size_t len, unsigned char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        unsigned long group = (unsigned long) in[i] << 16;

        if (i + 1 < len)
            group |= (unsigned long) in[i + 1] << 8;
        if (i + 2 < len)
            group |= in[i + 2];
        out[o++] = (unsigned char) base64_digits[(group >> 18) & 63];
        out[o++] = (unsigned char) base64_digits[(group >> 12) & 63];
        out[o++] = (unsigned char) (i + 1 < len ? base64_digits[(group >> 6) & 63] : '=');
        out[o++] = (unsigned char) (i + 2 < len ? base64_digits[group & 63] : '=');
    }
    return o;
}

/* ---------------------------------------------------- credentials --- */

struct cred {
    char user[64];
    struct secret password;
    bool right;                     /* the server's password for user */
};

/*
 * Read "user<TAB>password" lines of path into users (at most MAX_USERS);
 * the passwords are masked at once and the read buffer wiped.  Returns the
 * number of users, -1 on error.
 */
static int load_users(const char *path, struct cred *users)
{
    char *buf = malloc(8192);
    int fd = open(path, O_RDONLY | O_CLOEXEC), count = 0;
    ssize_t got = fd >= 0 && buf != NULL ? read(fd, buf, 8191) : -1;

    if (fd >= 0)
        close(fd);
    if (got > 0)
        buf[got] = '\0';
    for (char *line = buf, *end; got > 0 && line < buf + got && count < MAX_USERS; line = end + 1) {
        char *tab;

        end = strchr(line, '\n');
        if (end == NULL)
            end = buf + got;
        *end = '\0';
        tab = strchr(line, '\t');
        if (line[0] == '#' || tab == NULL || (size_t) (tab - line) >= sizeof(users[0].user))
            continue;
        memcpy(users[count].user, line, (size_t) (tab - line));
        users[count].user[tab - line] = '\0';
        users[count].right = true;
        if (secret_set(&users[count].password, tab + 1, strlen(tab + 1)) != 0)
            count = -1;
        if (count < 0)
            break;
        count++;
    }
    if (buf != NULL)
        explicit_bzero(buf, 8192);
    free(buf);
    return got > 0 ? count : -1;
}

/* A wrong password "Wrong-<16 random hex digits>-<k>" for user, masked in out. */
static int make_wrong(const struct cred *user, int k, struct cred *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char random[8];
    char clear[40];
    int len = 0, rc;

    if (getrandom(random, sizeof(random), 0) != (ssize_t) sizeof(random))
        return -1;
    memcpy(clear, "Wrong-", 6);
    len = 6;
    for (size_t i = 0; i < sizeof(random); i++) {
        clear[len++] = hex[random[i] >> 4];
        clear[len++] = hex[random[i] & 15];
    }
    clear[len++] = '-';
    clear[len++] = (char) ('0' + k % 10);
    *out = *user;
    out->right = false;
    rc = secret_set(&out->password, clear, (size_t) len);
    explicit_bzero(clear, sizeof(clear));
    explicit_bzero(random, sizeof(random));
    return rc;
}

/* The three needles of login k: password, "user:password", Base64 of it. */
static int add_login_needles(const struct cred *c, int k)
{
    size_t ulen = strlen(c->user), plen = c->password.len;
    unsigned char *plain = malloc(ulen + 1 + plen);
    unsigned char *b64 = malloc(4 * ((ulen + 1 + plen + 2) / 3));
    char name[160];
    int rc = -1;

    if (plain != NULL && b64 != NULL) {
        memcpy(plain, c->user, ulen);
        plain[ulen] = ':';
        secret_unmask(&c->password, plain + ulen + 1);
        snprintf(name, sizeof(name), "password #%d (%s)", k, c->user);
        rc = needle_add(name, plain + ulen + 1, plen, false) != NULL ? 0 : -1;
        snprintf(name, sizeof(name), "user:password #%d (%s)", k, c->user);
        rc |= needle_add(name, plain, ulen + 1 + plen, false) != NULL ? 0 : -1;
        snprintf(name, sizeof(name), "base64(user:password) #%d (%s)", k, c->user);
        rc |= needle_add(name, b64, base64(plain, ulen + 1 + plen, b64), false) != NULL ? 0 : -1;
        explicit_bzero(plain, ulen + 1 + plen);
        explicit_bzero(b64, 4 * ((ulen + 1 + plen + 2) / 3));
    }
    free(plain);
    free(b64);
    return rc;
}

/* ------------------------------------------------------------ PAM --- */

/* Answer every prompt with a copy of the password in appdata; libpam wipes it. */
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

static const char *code_name(int rc)
{
    switch (rc) {
    case PAM_SUCCESS: return "PAM_SUCCESS";
    case PAM_AUTH_ERR: return "PAM_AUTH_ERR";
    case PAM_PERM_DENIED: return "PAM_PERM_DENIED";
    case PAM_MAXTRIES: return "PAM_MAXTRIES";
    case PAM_AUTHINFO_UNAVAIL: return "PAM_AUTHINFO_UNAVAIL";
    case PAM_USER_UNKNOWN: return "PAM_USER_UNKNOWN";
    case PAM_SERVICE_ERR: return "PAM_SERVICE_ERR";
    case PAM_ABORT: return "PAM_ABORT";
    default: return "other";
    }
}

/*
 * One whole transaction (pam_start_confdir .. pam_end), answering prompts
 * with password; returns pam_authenticate's result.
 */
static int login(const char *confdir, const char *service, const char *user,
                 const char *password)
{
    struct pam_conv conv = {conversation, (void *) (uintptr_t) password};
    pam_handle_t *pamh = NULL;
    int rc = pam_start_confdir(service, user, &conv, confdir, &pamh);

    if (rc == PAM_SUCCESS) {
        rc = pam_authenticate(pamh, 0);
        pam_end(pamh, rc);
    }
    return rc;
}

/* login() with a masked password, unmasked into a malloc'd buffer wiped after pam_end. */
static int login_masked(const char *confdir, const char *service, const struct cred *c)
{
    char *password = calloc(1, c->password.len + 1);
    int rc = PAM_BUF_ERR;

    if (password != NULL) {
        secret_unmask(&c->password, (unsigned char *) password);
        rc = login(confdir, service, c->user, password);
        explicit_bzero(password, c->password.len);
    }
    free(password);
    return rc;
}

/* --------------------------------------------------------- scanner --- */

struct range {
    uintptr_t lo, hi;
};

static struct range skips[2];       /* the read buffer, the needle page */
static size_t skip_count;

struct scan_totals {
    int mappings;
    size_t bytes, unreadable_writable, unreadable_other;
};

/* Record up to MAX_WHERE locations of a needle found at addr in a mapping. */
static void note_copy(struct needle *n, uintptr_t addr, uintptr_t map_lo, const char *label,
                      const char *perms)
{
    if (n->copies < MAX_WHERE)
        snprintf(n->where[n->copies], sizeof(n->where[0]), "%s %s +0x%" PRIxPTR " (0x%" PRIxPTR ")",
                 label, perms, addr - map_lo, addr);
    n->copies++;
}

/*
 * Search every needle in the len bytes at buf, read from address base; a
 * match is counted only when it starts before base + limit (the overlap
 * with the next chunk is searched again there).  page holds each unmasked
 * needle for one search and is wiped after it.
 */
static void search_chunk(const unsigned char *buf, size_t len, size_t limit, uintptr_t base,
                         unsigned char *page, uintptr_t map_lo, const char *label, const char *perms)
{
    for (size_t i = 0; i < needle_count; i++) {
        struct needle *n = &needles[i];
        const unsigned char *p = buf, *end = buf + len;

        secret_unmask(&n->secret, page);
        while ((p = memmem(p, (size_t) (end - p), page, n->secret.len)) != NULL && (size_t) (p - buf) < limit) {
            note_copy(n, base + (uintptr_t) (p - buf), map_lo, label, perms);
            p++;
        }
        explicit_bzero(page, n->secret.len);
    }
}

/*
 * Read len bytes at addr through mem into buf; unreadable pages read as
 * zeros and are added to *unreadable.  Returns len.
 */
static size_t read_mem(int mem, uintptr_t addr, unsigned char *buf, size_t len, size_t *unreadable)
{
    long pagesize = sysconf(_SC_PAGESIZE);

    if (pread(mem, buf, len, (off_t) addr) == (ssize_t) len)
        return len;
    for (size_t off = 0; off < len; off += (size_t) pagesize) {
        size_t n = len - off < (size_t) pagesize ? len - off : (size_t) pagesize;

        if (pread(mem, buf + off, n, (off_t) (addr + off)) != (ssize_t) n) {
            memset(buf + off, 0, n);
            *unreadable += n;
        }
    }
    return len;
}

/* Scan [lo, hi) of one mapping, in chunks that overlap by MAX_SECRET - 1 bytes. */
static void scan_range(int mem, uintptr_t lo, uintptr_t hi, uintptr_t map_lo, const char *label,
                       const char *perms, unsigned char *buf, unsigned char *page,
                       struct scan_totals *t)
{
    size_t *unreadable = perms[1] == 'w' ? &t->unreadable_writable : &t->unreadable_other;

    for (uintptr_t at = lo; at < hi; at += CHUNK) {
        size_t limit = hi - at < CHUNK ? hi - at : CHUNK;
        size_t len = hi - at < CHUNK + MAX_SECRET - 1 ? hi - at : CHUNK + MAX_SECRET - 1;

        read_mem(mem, at, buf, len, unreadable);
        search_chunk(buf, len, limit, at, page, map_lo, label, perms);
        t->bytes += limit;
    }
}

/* Scan one mapping minus the skipped ranges (which lie inside it or not at all). */
static void scan_mapping(int mem, uintptr_t lo, uintptr_t hi, const char *label, const char *perms,
                         unsigned char *buf, unsigned char *page, struct scan_totals *t)
{
    uintptr_t at = lo;

    t->mappings++;
    printf("mapping %s %s bytes=%" PRIuPTR "\n", label, perms, hi - lo);
    for (size_t i = 0; i < skip_count; i++) {
        if (skips[i].lo >= lo && skips[i].hi <= hi && skips[i].lo >= at) {
            scan_range(mem, at, skips[i].lo, lo, label, perms, buf, page, t);
            at = skips[i].hi;
        }
    }
    scan_range(mem, at, hi, lo, label, perms, buf, page, t);
}

/* Whether a mapping is left out: unreadable, the kernel's, or our own text/rodata. */
static bool excluded(const char *perms, const char *path, const char *exe)
{
    if (perms[0] != 'r')
        return true;
    if (strcmp(path, "[vvar]") == 0 || strcmp(path, "[vsyscall]") == 0
        || strcmp(path, "[vvar_vclock]") == 0)
        return true;
    return perms[1] != 'w' && strcmp(path, exe) == 0;
}

/* Read all of /proc/self/maps into a malloc'd string; NULL on error. */
static char *read_maps(void)
{
    size_t size = 1 << 16, len = 0;
    char *text = malloc(size);
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    ssize_t got = 0;

    while (text != NULL && fd >= 0 && (got = read(fd, text + len, size - len - 1)) > 0) {
        len += (size_t) got;
        if (size - len - 1 == 0) {
            char *bigger = realloc(text, size * 2);

            if (bigger == NULL) {
                free(text);
                text = NULL;
            }
            text = bigger;
            size *= 2;
        }
    }
    if (fd >= 0)
        close(fd);
    if (text != NULL && (fd < 0 || got < 0)) {
        free(text);
        text = NULL;
    }
    if (text != NULL)
        text[len] = '\0';
    return text;
}

/*
 * Scan every readable mapping of this process for every needle; fills the
 * needles' counts and t.  0 on success, -1 when the scan could not run.
 */
static int scan_memory(struct scan_totals *t)
{
    unsigned char *buf = mmap(NULL, CHUNK + MAX_SECRET, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *page = mmap(NULL, MAX_SECRET, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    char exe[4096] = "";
    ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *maps = read_maps();

    if (buf == MAP_FAILED || page == MAP_FAILED || mem < 0 || maps == NULL || exe_len <= 0)
        return -1;
    exe[exe_len] = '\0';
    skips[0] = (struct range) {(uintptr_t) buf, (uintptr_t) buf + CHUNK + MAX_SECRET};
    skips[1] = (struct range) {(uintptr_t) page, (uintptr_t) page + MAX_SECRET};
    if (skips[1].lo < skips[0].lo) {    /* scan_mapping wants them in order */
        struct range first = skips[1];

        skips[1] = skips[0];
        skips[0] = first;
    }
    skip_count = 2;
    for (char *line = strtok(maps, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        uintptr_t lo, hi;
        char perms[8] = "", path[4096] = "";

        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %*s %*s %*s %4095[^\n]", &lo, &hi, perms, path) < 3)
            continue;
        if (!excluded(perms, path, exe))
            scan_mapping(mem, lo, hi, path[0] != '\0' ? path : "[anon]", perms, buf, page, t);
    }
    explicit_bzero(buf, CHUNK + MAX_SECRET);
    munmap(buf, CHUNK + MAX_SECRET);
    munmap(page, MAX_SECRET);
    free(maps);
    close(mem);
    return 0;
}

/* ------------------------------------------------------- controls --- */

/* Keep a live malloc'd copy of s (the heap control); never freed. */
static void *leak_on_heap(const struct secret *s)
{
    unsigned char *copy = malloc(s->len + 64);

    if (copy != NULL)
        secret_unmask(s, copy + 32);
    __asm__ __volatile__("" : : "r"(copy) : "memory");
    return copy;
}

/* Leave a copy of s in a freed, unwiped malloc block (past glibc's list pointers). */
static void leak_in_freed_block(const struct secret *s)
{
    unsigned char *block = malloc(s->len + 96);

    if (block == NULL)
        return;
    secret_unmask(s, block + 48);
    __asm__ __volatile__("" : : "r"(block) : "memory");
    free(block);
}

/* Leave a copy of s in this dead frame, well below the frames of the scan. */
__attribute__((noinline)) static void leak_on_stack(const struct secret *s)
{
    unsigned char area[STACK_AREA];

    secret_unmask(s, area);
    __asm__ __volatile__("" : : "r"(area) : "memory");
}

/* Make the three control needles and their copies. */
static int make_controls(void **keep)
{
    static const char *const names[] = {"control: live malloc copy", "control: freed malloc block",
                                        "control: dead stack frame"};
    struct needle *n[3];

    for (int i = 0; i < 3; i++) {
        unsigned char clear[24];

        memcpy(clear, "Control-", 8);
        if (getrandom(clear + 8, sizeof(clear) - 8, 0) != (ssize_t) (sizeof(clear) - 8))
            return -1;
        n[i] = needle_add(names[i], clear, sizeof(clear), true);
        explicit_bzero(clear, sizeof(clear));
        if (n[i] == NULL)
            return -1;
    }
    *keep = leak_on_heap(&n[0]->secret);
    leak_in_freed_block(&n[1]->secret);
    leak_on_stack(&n[2]->secret);
    return 0;
}

/* --------------------------------------------------------- memory --- */

/* The logins of a scenario: indexes into users, negative for that user's wrong password. */
static int plan(const char *scenario, int users, int *steps)
{
    int n = 0;

    if (strcmp(scenario, "one") == 0) {
        steps[n++] = 1;
    } else if (strcmp(scenario, "reuse") == 0 && users >= 2) {
        steps[n++] = 1;
        steps[n++] = 2;
    } else if (strcmp(scenario, "mixed") == 0 || strcmp(scenario, "keep") == 0) {
        for (int u = 1; u <= users; u++) {
            steps[n++] = u;
            steps[n++] = -u;
        }
    }
    return n;
}

/* Print the scan's totals and one line per needle. */
static void report(const struct scan_totals *t)
{
    printf("scan mappings=%d bytes=%zu unreadable_writable=%zu unreadable_other=%zu\n",
           t->mappings, t->bytes, t->unreadable_writable, t->unreadable_other);
    for (size_t i = 0; i < needle_count; i++) {
        const struct needle *n = &needles[i];

        printf("needle %s copies=%zu", n->name, n->copies);
        for (size_t w = 0; w < n->copies && w < MAX_WHERE; w++)
            printf("%s%s", w == 0 ? " at " : "; ", n->where[w]);
        printf("\n");
    }
}

/*
 * Run the logins of steps (see plan()) with their needles; prints one line
 * per login.  0 on success, -1 on a setup error.
 */
static int run_logins(const char *confdir, const char *service, const struct cred *users,
                      const int *steps, int nsteps)
{
    struct cred cred;
    int rc = 0;

    for (int k = 0; k < nsteps && rc == 0; k++) {
        int u = abs(steps[k]) - 1, result;

        if (steps[k] > 0)
            cred = users[u];
        else if (make_wrong(&users[u], k + 1, &cred) != 0)
            rc = -1;
        if (rc == 0 && add_login_needles(&cred, k + 1) != 0)
            rc = -1;
        if (rc != 0)
            break;
        result = login_masked(confdir, service, &cred);
        printf("login %d user=%s password=%s result=%s\n", k + 1, cred.user, cred.right ? "right" : "wrong", code_name(result));
    }
    explicit_bzero(&cred, sizeof(cred));
    return rc;
}

/*
 * run_logins() below STACK_PAD untouched bytes of stack: the frames of
 * libpam, the module, libcurl and OpenSSL lie deeper than anything the
 * scanner's own calls later overwrite, so the scan sees that dead stack
 * as the logins left it.
 */
#define STACK_PAD 131072
__attribute__((noinline)) static int run_logins_deep(const char *confdir, const char *service,
                                                     const struct cred *users, const int *steps, int nsteps)
{
    unsigned char pad[STACK_PAD];
    int rc;

    __asm__ __volatile__("" : : "r"(pad) : "memory");
    rc = run_logins(confdir, service, users, steps, nsteps);
    __asm__ __volatile__("" : : "r"(pad) : "memory");
    return rc;
}

static int memory(const char *scenario, const char *confdir, const char *service, const char *users_file)
{
    struct cred users[MAX_USERS];
    int count = load_users(users_file, users), steps[2 * MAX_USERS], nsteps;
    struct pam_conv keep_conv = {conversation, (void *) (uintptr_t) ""};
    pam_handle_t *kept = NULL;
    struct scan_totals totals = {0, 0, 0, 0};
    void *control = NULL;

    nsteps = count > 0 ? plan(scenario, count, steps) : 0;
    if (nsteps == 0) {
        fprintf(stderr, "secret_scan: no users in %s or unknown scenario %s\n", users_file, scenario);
        return 2;
    }
    if (strcmp(scenario, "keep") == 0 && pam_start_confdir(service, users[0].user, &keep_conv, confdir, &kept) != PAM_SUCCESS)
        return 2;
    if (run_logins_deep(confdir, service, users, steps, nsteps) != 0)
        return 2;
    fflush(stdout);
    if (make_controls(&control) != 0 || scan_memory(&totals) != 0) {
        fprintf(stderr, "secret_scan: cannot scan this process's memory\n");
        return 2;
    }
    report(&totals);
    if (kept != NULL)
        pam_end(kept, PAM_SUCCESS);
    free(control);
    return 0;
}

/* ------------------------------------------------------------ fds --- */

/* A descriptor's kind: "socket:inet", "socket:unix", "pipe", a path, ... */
static void fd_kind(int fd, const char *target, char *kind, size_t size)
{
    int domain = 0;
    socklen_t len = sizeof(domain);

    if (strncmp(target, "socket:", 7) == 0) {
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
        snprintf(kind, size, "socket:%s", domain == AF_INET ? "inet" : domain == AF_INET6 ? "inet6"
                                          : domain == AF_UNIX ? "unix" : "other");
    } else if (strncmp(target, "pipe:", 5) == 0) {
        snprintf(kind, size, "pipe");
    } else {
        snprintf(kind, size, "%s", target);
    }
}

/* Print "PREFIX fd=N kind=K cloexec=0|1" for each open descriptor but the listing's own. */
static int list_fds(const char *prefix)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;

    if (dir == NULL)
        return 2;
    while ((e = readdir(dir)) != NULL) {
        char link[64], target[512], kind[512];
        int fd = atoi(e->d_name);
        ssize_t n;

        if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(dir))
            continue;
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        fd_kind(fd, target, kind, sizeof(kind));
        printf("%s fd=%d kind=%s cloexec=%d\n", prefix, fd, kind, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    }
    closedir(dir);
    fflush(stdout);
    return 0;
}

static int fds(const char *confdir, const char *service, const char *user, const char *password,
               const char *lister)
{
    int rc = login(confdir, service, user, password), status = 0;
    pid_t pid;

    printf("authenticate=%s\n", code_name(rc));
    list_fds("parent");
    pid = fork();
    if (pid == 0) {
        execl(lister, lister, "listfds", (char *) NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "secret_scan: the child lister failed\n");
        return 2;
    }
    return 0;
}

/* ---------------------------------------------------------- login --- */

static int login_once(const char *confdir, const char *service, const char *user, const char *password)
{
    printf("at_secure=%lu uid=%d euid=%d\n", getauxval(AT_SECURE), (int) getuid(), (int) geteuid());
    printf("authenticate=%s\n", code_name(login(confdir, service, user, password)));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "memory") == 0)
        return memory(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 7 && strcmp(argv[1], "fds") == 0)
        return fds(argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (argc == 2 && strcmp(argv[1], "listfds") == 0)
        return list_fds("child");
    if (argc == 6 && strcmp(argv[1], "login") == 0)
        return login_once(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: secret_scan memory one|reuse|mixed|keep CONFDIR SERVICE USERS_FILE\n"
                    "       secret_scan fds CONFDIR SERVICE USER PASSWORD LISTER\n"
                    "       secret_scan listfds\n"
                    "       secret_scan login CONFDIR SERVICE USER PASSWORD\n");
    return 2;
}
