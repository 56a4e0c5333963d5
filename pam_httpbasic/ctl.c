/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl.c - pam_httpbasic-ctl, the administrator's tool: check a
 * configuration, probe the servers, try one login.  It is linked with the
 * module's own library (libhttpbasic), so it parses options and decides a
 * login exactly as the module does.  It never prints a password or secret.
 *
 *   pam_httpbasic-ctl check [--syntax] [--no-config] [ARG...]
 *   pam_httpbasic-ctl check --service NAME [--service-dir DIR]
 *   pam_httpbasic-ctl probe [--verbose] [--no-config] [ARG...]
 *   pam_httpbasic-ctl login USER [--rhost IP] [--no-config] [ARG...]
 *
 * ARG are module arguments, added to the default config file (they
 * override it), as an administrator testing one option expects.
 */
#include "check.h"
#include "ctl.h"
#include "options.h"
#include "validate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define PAM_D "/etc/pam.d"
#define LINE_MAX_LEN 8192        /* bytes of one logical pam.d line */
#define PASSWORD_BUF 4098        /* the longest password allowed, + 1, + NUL */

/* Exit codes of login. */
enum { LOGIN_OK = 0, LOGIN_DENIED = 1, LOGIN_OTHER = 2 };

bool ctl_no_config;

/* The default config file: CTL_DEFAULT_CONFIG, or $PAM_HTTPBASIC_CTL_CONFIG (never under AT_SECURE). */
static const char *default_config(void)
{
    const char *env = secure_getenv(CTL_CONFIG_ENV);

    return env != NULL && env[0] == '/' ? env : CTL_DEFAULT_CONFIG;
}

int ctl_load(struct hb_config *cfg, int count, const char **args)
{
    const char *all[CTL_MAX_ARGS + 1];
    char config_arg[4200], err[HB_ERROR_LEN];
    const char *path = default_config();
    bool no_config = ctl_no_config, explicit = false;
    struct stat s;
    int n = 0;

    for (int i = 0; i < count; i++) {
        no_config = no_config || strcmp(args[i], CTL_NO_CONFIG) == 0;
        explicit = explicit || strncmp(args[i], "config=", 7) == 0;
    }
    /* The default file first, so that the arguments add to it and override it. */
    if (!no_config && !explicit) {
        if (count == 0 || lstat(path, &s) == 0) {
            snprintf(config_arg, sizeof(config_arg), "config=%s", path);
            all[n++] = config_arg;
        } else {
            fprintf(stderr, "note: %s does not exist: only the arguments are used\n", path);
        }
    }
    for (int i = 0; i < count && n < CTL_MAX_ARGS + 1; i++)
        if (strcmp(args[i], CTL_NO_CONFIG) != 0)
            all[n++] = args[i];
    if (hb_config_load(cfg, n, all, err, sizeof(err)) == 0)
        return 0;
    fflush(stdout);
    fprintf(stderr, "config error: %s\n", err);
    return -1;
}

int ctl_args(int count, char **argv, const char **args)
{
    int n = count < CTL_MAX_ARGS ? count : CTL_MAX_ARGS;

    for (int i = 0; i < n; i++)
        args[i] = argv[i];
    return n;
}

/* hb_describe_fn: one "key = value" line; unset keys as a comment. */
static void print_setting(const char *key, const char *value, void *arg)
{
    const char *indent = *(const char **) arg;

    if (value == NULL)
        printf("%s# %s (unset)\n", indent, key);
    else
        printf("%s%s = %s\n", indent, key, value);
}

/*
 * Load args (on top of the default config file), print the effective
 * settings and (unless syntax) run the preflight; then the summary line.
 * 0 OK, 1 errors, 2 warnings only.
 */
static int check_args(int count, const char **args, bool syntax)
{
    struct ctl_counts counts = {0, 0};
    struct hb_config cfg;
    const char *indent = "";

    if (ctl_load(&cfg, count, args) == 0) {
        hb_config_describe(&cfg, print_setting, &indent);
        if (!syntax)
            ctl_preflight(&cfg, count, args, "argument", &counts);
    } else {
        counts.errors++;
    }
    hb_config_free(&cfg);
    return ctl_summary(&counts);
}

/*
 * Cut the next pam.d token from *cursor into a NUL-terminated string in
 * place: words end at white space; "[...]" runs to the matching "]" ("\]"
 * inside stands for "]") and loses its brackets when strip is set, as
 * Linux-PAM does for module arguments.  NULL at the end of the line.
 */
static char *next_token(char **cursor, bool strip)
{
    char *s = *cursor + strspn(*cursor, " \t");
    char *start = s, *out = s;

    if (*s == '\0')
        return NULL;
    if (*s == '[') {
        if (strip)
            start = out = ++s;
        while (*s != '\0' && *s != ']') {
            if (s[0] == '\\' && s[1] == ']')
                s++;
            *out++ = *s++;
        }
        if (*s == ']' && !strip)
            *out++ = *s;
        s += *s == ']';
    } else {
        while (*s != '\0' && *s != ' ' && *s != '\t')
            *out++ = *s++;
    }
    if (*s != '\0')
        s++;
    *out = '\0';
    *cursor = s;
    return start;
}

/* True when a pam.d module path names this module, by bare name or by path. */
static bool is_this_module(const char *path)
{
    const char *base = strrchr(path, '/');

    base = base != NULL ? base + 1 : path;
    return strcmp(base, "pam_httpbasic.so") == 0 || strcmp(base, "pam_httpbasic") == 0;
}

/* True for a pam.d type whose module function reads the options ("auth", "-auth"). */
static bool reads_options(const char *type)
{
    return strcmp(type + (type[0] == '-'), "auth") == 0;
}

/*
 * Check one logical pam.d line (comment already removed): when it loads
 * this module, print it and its settings.  Adds to *found; returns 0 or 1.
 * The arguments are parsed as the module parses them, without a default:
 * an auth line without any is an error there too.  account, password and
 * session read no options: such a line without arguments is fine.
 */
static int check_service_line(const char *file, unsigned number, char *line, unsigned *found,
                              struct ctl_counts *counts)
{
    const char *args[CTL_MAX_ARGS];
    char *cursor = line;
    char *type = next_token(&cursor, false);
    char *control = next_token(&cursor, false);
    char *module = next_token(&cursor, false);
    char origin[4200];
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    int count = 0, rc = 0;

    if (type == NULL || control == NULL || module == NULL || type[0] == '@' || !is_this_module(module))
        return 0;
    while (count < CTL_MAX_ARGS && (args[count] = next_token(&cursor, true)) != NULL)
        count++;
    (*found)++;
    printf("%s:%u: %s %s %s\n", file, number, type, control, module);
    snprintf(origin, sizeof(origin), "%s:%u", file, number);
    if (count > 0 || reads_options(type)) {
        rc = hb_config_load(&cfg, count, args, err, sizeof(err)) == 0 ? 0 : 1;
        if (rc == 0) {
            unsigned before = counts->errors;

            hb_config_describe(&cfg, print_setting, &(const char *) {"    "});
            if (reads_options(type))    /* the other types only parse their arguments */
                ctl_preflight(&cfg, count, args, origin, counts);
            rc = counts->errors > before;
        } else {
            fflush(stdout);
            fprintf(stderr, "%s: config error: %s\n", origin, err);
            counts->errors++;
        }
        hb_config_free(&cfg);
    }
    printf("%s: %s\n", origin, rc == 0 ? "ok" : "config error");
    return rc;
}

/* Read one logical line (backslash-newline joins lines) without its comment; false at EOF. */
static bool read_logical_line(FILE *fp, char *line, size_t size, unsigned *number, unsigned *first)
{
    size_t used = 0;
    bool more = true, any = false;

    line[0] = '\0';
    while (more && fgets(line + used, (int) (size - used), fp) != NULL) {
        size_t len = strlen(line);

        any = true;
        (*number)++;
        if (used == 0)
            *first = *number;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        more = len > 0 && line[len - 1] == '\\' && len + 1 < size;
        if (more)
            line[len - 1] = ' ';    /* the backslash-newline separates words */
        used = len;
    }
    line[strcspn(line, "#")] = '\0';
    return any;
}

/* check --service: every line of DIR/NAME that loads the module; 0 or 1. */
static int check_service(const char *dir, const char *name)
{
    char path[4096], line[LINE_MAX_LEN];
    unsigned number = 0, first = 0, found = 0;
    struct ctl_counts counts = {0, 0};
    FILE *fp;

    if (strchr(name, '/') != NULL || name[0] == '.') {
        fprintf(stderr, "--service: \"%s\" is not a service name\n", name);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "re");
    if (fp == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    while (read_logical_line(fp, line, sizeof(line), &number, &first))
        check_service_line(path, first, line, &found, &counts);
    fclose(fp);
    if (found == 0) {
        fflush(stdout);
        fprintf(stderr, "%s: no line loads pam_httpbasic.so\n", path);
        counts.errors++;
    }
    return ctl_summary(&counts);
}

/* check [--syntax] [--no-config] [ARG...] | check --service NAME [--service-dir DIR] */
static int cmd_check(int argc, char **argv)
{
    const char *service = NULL, *dir = PAM_D;
    const char *args[CTL_MAX_ARGS];
    bool syntax = false;
    int i = 1;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--syntax") == 0) {
            syntax = true;
        } else if (strcmp(argv[i], CTL_NO_CONFIG) == 0) {
            ctl_no_config = true;
        } else if (i + 1 < argc && strcmp(argv[i], "--service") == 0) {
            service = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--service-dir") == 0) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "check: unknown option %s\n", argv[i]);
            return 1;
        }
    }
    if (service != NULL && i < argc) {
        fprintf(stderr, "check: give either --service NAME or module arguments, not both\n");
        return 1;
    }
    if (service != NULL)
        return check_service(dir, service);
    return check_args(ctl_args(argc - i, argv + i, args), args, syntax);
}

/* Read one line from fd into buf without echo when it is a terminal; -1 when too long. */
static int read_password(int fd, char *buf, size_t size)
{
    struct termios saved, quiet;
    bool tty = isatty(fd) && tcgetattr(fd, &saved) == 0;
    size_t len = 0;
    char c;
    int rc = 0;

    if (tty) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(fd, TCSAFLUSH, &quiet);    /* before the prompt: nothing typed after it is lost */
        fputs("Password: ", stderr);
        fflush(stderr);
    }
    while (read(fd, &c, 1) == 1 && c != '\n') {
        if (len + 1 < size)
            buf[len++] = c;
        else
            rc = -1;
    }
    buf[len] = '\0';
    c = 0;
    if (tty)
        tcsetattr(fd, TCSANOW, &saved);
    return rc;
}

/* The exit code of login for a verdict. */
static int login_code(enum hb_verdict verdict)
{
    switch (verdict) {
    case HB_OK: return LOGIN_OK;
    case HB_DENIED:
    case HB_DISABLED: return LOGIN_DENIED;
    case HB_THROTTLED:
    case HB_UNAVAILABLE: return LOGIN_OTHER;
    }
    return LOGIN_OTHER;
}

/* Print each attempt, the verdict and, on failure, what to change. */
static void print_outcome(const struct hb_config *cfg, const struct hb_outcome *out)
{
    char error[HB_ERROR_LEN];

    for (size_t i = 0; i < out->attempt_count; i++) {
        const struct hb_attempt *a = &out->attempts[i];

        hb_log_escape(a->error, error, sizeof(error));
        printf("attempt server=%s verdict=%s status=%ld ms=%ld%s%s%s\n",
               cfg->servers[a->server].host, hb_verdict_name(a->verdict), a->http_status,
               a->elapsed_ms, a->error[0] != '\0' ? " error=\"" : "",
               a->error[0] != '\0' ? error : "", a->error[0] != '\0' ? "\"" : "");
    }
    printf("verdict=%s status=%ld server=%s ms=%ld tried=%zu skipped=%zu\n",
           hb_verdict_name(out->verdict), out->attempts[out->attempt_count - 1].http_status,
           cfg->servers[out->attempts[out->attempt_count - 1].server].host, out->elapsed_ms,
           out->attempt_count, out->skipped);
    if (out->verdict != HB_OK)
        printf("hint: %s\n", hb_outcome_hint(out));
}

/* Validate the inputs as the module does, then ask the servers; a login exit code. */
static int decide_login(const struct hb_config *cfg, const char *user, const char *rhost,
                        const char *password)
{
    char http_user[HB_USER_BUF], client_ip[HB_IP_BUF], shown[128];
    struct hb_outcome out;
    enum hb_input why = hb_map_user(cfg, user, http_user);

    if (why == HB_INPUT_OK)
        why = hb_rhost_ip(rhost, client_ip);
    if (why == HB_INPUT_OK)
        why = hb_check_password(password, (size_t) cfg->max_password_len);
    if (why != HB_INPUT_OK) {
        printf("verdict=refused reason=\"%s\" (no request sent)\n", hb_input_text(why));
        return LOGIN_DENIED;
    }
    hb_log_escape(http_user, shown, sizeof(shown));
    printf("user=%s forwarded=%s\n", shown,
           client_ip[0] != '\0' && cfg->forward_header != NULL ? client_ip : "-");
    hb_check(cfg, &(const struct hb_credentials) {http_user, password, client_ip}, NULL, &out);
    print_outcome(cfg, &out);
    return login_code(out.verdict);
}

/* login USER [--rhost IP] [ARG...] */
static int cmd_login(int argc, char **argv)
{
    const char *args[CTL_MAX_ARGS];
    const char *user = NULL, *rhost = NULL;
    char password[PASSWORD_BUF];
    struct hb_config cfg;
    int count = 0, rc = LOGIN_OTHER;
    bool bad = false, loaded, got;

    for (int i = 1; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--rhost") == 0 && i + 1 < argc)
            rhost = argv[++i];
        else if (user == NULL && argv[i][0] != '-' && strchr(argv[i], '=') == NULL)
            user = argv[i];
        else if (count < CTL_MAX_ARGS && (argv[i][0] != '-' || strcmp(argv[i], CTL_NO_CONFIG) == 0))
            args[count++] = argv[i];
        else
            bad = true;    /* unknown option or too many arguments */
    }
    if (user == NULL || bad) {
        fprintf(stderr, "usage: pam_httpbasic-ctl login USER [--rhost IP] [--no-config] [ARG...]\n");
        return LOGIN_OTHER;
    }
    loaded = ctl_load(&cfg, count, args) == 0;
    got = loaded && read_password(STDIN_FILENO, password, sizeof(password)) == 0;
    if (loaded && !got)
        printf("verdict=refused reason=\"password too long\" (no request sent)\n");
    if (got)
        rc = decide_login(&cfg, user, rhost, password);
    else if (loaded)
        rc = LOGIN_DENIED;
    explicit_bzero(password, sizeof(password));
    hb_config_free(&cfg);
    return rc;
}

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);   /* argv[0] is the subcommand */
    const char *usage;
};

static const struct subcommand subcommands[] = {
    {"check", cmd_check, "check [--syntax] [--no-config] [ARG...] | check --service NAME [--service-dir DIR]"},
    {"probe", ctl_probe, "probe [--verbose] [--no-config] [ARG...]"},
    {"login", cmd_login, "login USER [--rhost IP] [--no-config] [ARG...]"},
    {"cache", ctl_cache, "cache stats [--no-config] [ARG...] | cache forget USER|--all [--no-config] [ARG...]"},
};

#define SUBCOMMAND_COUNT (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *fp)
{
    fprintf(fp, "usage:\n");
    for (size_t i = 0; i < SUBCOMMAND_COUNT; i++)
        fprintf(fp, "  pam_httpbasic-ctl %s\n", subcommands[i].usage);
    fprintf(fp, "ARG: module arguments (key=value), added to the default config file %s\n"
                "(they override what it says); --no-config: the arguments only; config=FILE: another file\n",
            default_config());
}

int main(int argc, char **argv)
{
    const struct subcommand *cmd = NULL;
    bool help = argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    int rc = help ? 0 : 2;

    for (size_t i = 0; argc > 1 && i < SUBCOMMAND_COUNT; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            cmd = &subcommands[i];
    if (cmd != NULL)
        rc = cmd->run(argc - 1, argv + 1);
    else
        usage(help ? stdout : stderr);
    return rc;
}
