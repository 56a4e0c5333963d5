/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_config.c - libFuzzer target for the option and config file parser.
 *
 * Each input is used twice:
 *   1. split on NUL and newline into module arguments (at most MAX_ARGS,
 *      empty pieces dropped as PAM never passes them); a "config=/..."
 *      argument is pointed at this process's temp file;
 *   2. written to that temp file (created once, mode 0600, rewritten for
 *      every input) and loaded with the single argument config=FILE.
 * Both go through hb_config_load(), then hb_config_free().
 *
 * Invariants: the result is 0 or -1; on -1 the error is non-empty and
 * NUL-terminated within its buffer; on 0 every url starts with https://
 * (http:// only with allow_http), libcurl reads it as such with a host and
 * no credentials, and every field is within the documented range.  LeakSanitizer checks that hb_config_free() releases everything,
 * on success and on failure.
 */
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check.h"
#include "options.h"
#include "fuzz_common.h"

#define MAX_ARGS 64

/*
 * FUZZ_LAX_URL=1 in the environment drops the textual check that every
 * accepted url starts with "https://" (or "http://" with allow_http); the
 * check that libcurl reads it as https stays.  For exploring past a known
 * finding; off by default.
 */
static bool lax_url_text;

static char config_path[4096];
static char config_arg[4096 + 8];
static int config_fd = -1;

static void remove_config(void)
{
    if (config_path[0] != '\0')
        unlink(config_path);
}

/* Create the per-process config file once: absolute path, owned by us, mode 0600. */
static void make_config_file(void)
{
    const char *dir = getenv("TMPDIR");

    if (dir == NULL || dir[0] != '/')
        dir = "/tmp";
    snprintf(config_path, sizeof(config_path), "%s/hb_fuzz_config.XXXXXX", dir);
    config_fd = mkstemp(config_path);
    if (config_fd < 0 || fchmod(config_fd, 0600) != 0) {
        perror("fuzz_config: cannot create the temp config file");
        abort();
    }
    snprintf(config_arg, sizeof(config_arg), "config=%s", config_path);
    atexit(remove_config);
    lax_url_text = getenv("FUZZ_LAX_URL") != NULL && strcmp(getenv("FUZZ_LAX_URL"), "1") == 0;
}

static void write_config_file(const uint8_t *data, size_t size)
{
    size_t done = 0;

    if (ftruncate(config_fd, 0) != 0)
        abort();
    while (done < size) {
        ssize_t n = pwrite(config_fd, data + done, size - done, (off_t) done);

        if (n <= 0)
            abort();
        done += (size_t) n;
    }
}

static bool is_reserved_header(const char *name)
{
    static const char *const reserved[] = {
        "Authorization", "Connection", "Content-Length", "Content-Type", "Cookie",
        "Depth", "Expect", "Host", "Proxy-Authorization", "Transfer-Encoding",
        "User-Agent", "X-Requested-With",
    };

    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return true;
    return false;
}

static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char) *s;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || strchr("!#$%&'*+-.^_`|~", c) != NULL))
            return false;
    }
    return true;
}

/* A loaded string option: absent, or free of control characters and at most 4096 bytes. */
static void check_string(const char *s, bool path)
{
    if (s == NULL)
        return;
    FUZZ_CHECK(!fuzz_has_control(s));
    FUZZ_CHECK(strlen(s) <= 4096);
    if (path)
        FUZZ_CHECK(s[0] == '/');
}

static void check_statuses(const long *list, size_t count)
{
    FUZZ_CHECK(count >= 1 && count <= HB_MAX_STATUS);
    for (size_t i = 0; i < count; i++)
        FUZZ_CHECK(list[i] >= 100 && list[i] <= 599);
}

/*
 * What libcurl will make of the url: scheme https (http only with
 * allow_http), a host, no user name or password.  Always checked.
 */
static void check_url_as_curl_reads_it(const char *url, bool allow_http)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;

    FUZZ_CHECK(u != NULL);
    FUZZ_CHECK(curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK);
    FUZZ_CHECK(curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK);
    FUZZ_CHECK(strcmp(scheme, "https") == 0 || (allow_http && strcmp(scheme, "http") == 0));
    FUZZ_CHECK(curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0');
    FUZZ_CHECK(curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK);
    FUZZ_CHECK(curl_url_get(u, CURLUPART_PASSWORD, &password, 0) != CURLUE_OK);
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(u);
}

/* Everything a successful load promises. */
static void check_loaded(const struct hb_config *cfg)
{
    FUZZ_CHECK(cfg->server_count >= 1 && cfg->server_count <= HB_MAX_SERVERS);
    for (size_t i = 0; i < cfg->server_count; i++) {
        const char *url = cfg->servers[i].url;

        FUZZ_CHECK(url != NULL);
        if (!lax_url_text)
            FUZZ_CHECK(strncmp(url, "https://", 8) == 0
                       || (cfg->allow_http && strncmp(url, "http://", 7) == 0));
        check_url_as_curl_reads_it(url, cfg->allow_http);
        FUZZ_CHECK(!fuzz_has_control(url));
        FUZZ_CHECK(strpbrk(url, " \t") == NULL);
        FUZZ_CHECK(fuzz_terminated(cfg->servers[i].host, HB_HOST_LEN));
        FUZZ_CHECK(cfg->servers[i].host[0] != '\0');
    }
    for (size_t i = cfg->server_count; i < HB_MAX_SERVERS; i++)
        FUZZ_CHECK(cfg->servers[i].url == NULL);
    FUZZ_CHECK(cfg->server_retry_after >= 0 && cfg->server_retry_after <= 3600);

    FUZZ_CHECK(cfg->method != NULL);
    FUZZ_CHECK(strlen(cfg->method) >= 1 && strlen(cfg->method) <= 32);
    for (const char *c = cfg->method; *c != '\0'; c++)
        FUZZ_CHECK((*c >= 'A' && *c <= 'Z') || *c == '-' || *c == '_');

    if (cfg->forward_header != NULL) {
        FUZZ_CHECK(strlen(cfg->forward_header) <= 64);
        FUZZ_CHECK(is_token(cfg->forward_header));
        FUZZ_CHECK(!is_reserved_header(cfg->forward_header));
    }

    FUZZ_CHECK(cfg->timeout_ms >= 100 && cfg->timeout_ms <= 300000);
    FUZZ_CHECK(cfg->connect_timeout_ms >= 100 && cfg->connect_timeout_ms <= cfg->timeout_ms);
    check_statuses(cfg->ok_status, cfg->ok_status_count);
    check_statuses(cfg->deny_status, cfg->deny_status_count);
    for (size_t i = 0; i < cfg->ok_status_count; i++)
        for (size_t j = 0; j < cfg->deny_status_count; j++)
            FUZZ_CHECK(cfg->ok_status[i] != cfg->deny_status[j]);
    FUZZ_CHECK(cfg->max_password_len >= 1 && cfg->max_password_len <= 4096);

    check_string(cfg->cafile, true);
    check_string(cfg->capath, true);
    check_string(cfg->client_cert, true);
    check_string(cfg->client_key, true);
    check_string(cfg->config, true);
    check_string(cfg->pinned_pubkey, false);
    check_string(cfg->proxy, false);
    check_string(cfg->user_domain, false);
    FUZZ_CHECK((cfg->client_cert == NULL) == (cfg->client_key == NULL));
    if (cfg->proxy != NULL)
        FUZZ_CHECK(strncasecmp(cfg->proxy, "http://", 7) == 0
                   || strncasecmp(cfg->proxy, "https://", 8) == 0
                   || strncasecmp(cfg->proxy, "socks5://", 9) == 0
                   || strncasecmp(cfg->proxy, "socks5h://", 10) == 0);
    if (cfg->user_domain != NULL) {
        FUZZ_CHECK(strlen(cfg->user_domain) >= 1 && strlen(cfg->user_domain) <= 253);
        FUZZ_CHECK(strpbrk(cfg->user_domain, "@: /") == NULL);
    }

    /* The status lists decide the verdict; 429 throttles unless listed. */
    for (size_t i = 0; i < cfg->ok_status_count; i++)
        FUZZ_CHECK(hb_verdict_for_status(cfg, cfg->ok_status[i]) == HB_OK);
    for (size_t i = 0; i < cfg->deny_status_count; i++)
        FUZZ_CHECK(hb_verdict_for_status(cfg, cfg->deny_status[i]) == HB_DENIED);
    FUZZ_CHECK(hb_verdict_for_status(cfg, 0) == HB_UNAVAILABLE);
    FUZZ_CHECK(hb_verdict_for_status(cfg, -1) == HB_UNAVAILABLE);
}

static void load_and_check(int argc, const char **argv)
{
    struct hb_config cfg;
    char *err = malloc(HB_ERROR_LEN);
    int rc;

    if (err == NULL)
        abort();
    memset(err, 'X', HB_ERROR_LEN);    /* so that a missing NUL is seen */
    memset(&cfg, 0xa5, sizeof(cfg));   /* hb_config_load must not rely on a zeroed struct */
    rc = hb_config_load(&cfg, argc, argv, err, HB_ERROR_LEN);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        check_loaded(&cfg);
    } else {
        FUZZ_CHECK(fuzz_terminated(err, HB_ERROR_LEN));
        FUZZ_CHECK(err[0] != '\0');
    }
    hb_config_free(&cfg);
    free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = fuzz_strndup(data, size);
    const char *argv[MAX_ARGS];
    int argc = 0;
    char *start = copy;

    if (config_fd < 0)
        make_config_file();
    write_config_file(data, size);

    /* 1. Module arguments. */
    for (size_t i = 0; i <= size && argc < MAX_ARGS; i++) {
        if (i == size || copy[i] == '\0' || copy[i] == '\n') {
            copy[i] = '\0';
            /* PAM passes no empty arguments.  Never let the fuzzer open
             * arbitrary files: any absolute config path is ours. */
            if (start[0] != '\0')
                argv[argc++] = strncmp(start, "config=/", 8) == 0 ? config_arg : start;
            start = copy + i + 1;
        }
    }
    load_and_check(argc, argv);

    /* 2. The same bytes as a config file. */
    argv[0] = config_arg;
    load_and_check(1, argv);

    free(copy);
    return 0;
}
