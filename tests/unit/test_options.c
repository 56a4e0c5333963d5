/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for options.c: every key, every error, the config file rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "options.h"
#include "url.h"

#define URL "url=https://cloud.example.org/remote.php/dav/"

static char tmpdir[] = "/tmp/hb-unit-XXXXXX";

/* Load argv (NULL-terminated) into cfg; return hb_config_load's result. */
static int load(struct hb_config *cfg, char *err, const char **argv)
{
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    err[0] = '\0';
    return hb_config_load(cfg, argc, argv, err, HB_ERROR_LEN);
}

/* Write text to tmpdir/name with mode; return the path (static buffer). */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
    static char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    unlink(path);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void test_defaults(void **state)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    const char *argv[] = {URL, NULL};

    (void) state;
    assert_int_equal(load(&cfg, err, argv), 0);
    assert_int_equal(cfg.server_count, 1);
    assert_string_equal(cfg.servers[0].url, "https://cloud.example.org/remote.php/dav/");
    assert_string_equal(cfg.servers[0].host, "cloud.example.org");
    assert_int_equal(cfg.server_retry_after, 30);
    assert_string_equal(cfg.method, "PROPFIND");
    assert_int_equal(cfg.timeout_ms, 30000);
    assert_int_equal(cfg.connect_timeout_ms, 5000);
    assert_int_equal(cfg.ok_status_count, 1);
    assert_int_equal(cfg.ok_status[0], 207);
    assert_int_equal(cfg.deny_status_count, 1);
    assert_int_equal(cfg.deny_status[0], 401);
    assert_string_equal(cfg.forward_header, "X-Forwarded-For");
    assert_int_equal(cfg.max_password_len, 512);
    assert_null(cfg.cafile);
    assert_null(cfg.proxy);
    assert_false(cfg.insecure_skip_verify || cfg.allow_http || cfg.debug || cfg.user_lowercase
                 || cfg.user_strip_domain || cfg.use_first_pass || cfg.try_first_pass
                 || cfg.use_authtok);
    hb_config_free(&cfg);
}

static void test_every_key(void **state)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    const char *argv[] = {
        "url=http://[::1]:8080/dav/", "allow_http", "method=GET", "timeout=2500",
        "connect_timeout=1500", "ok_status=200,207", "deny_status=401,403",
        "forward_header=X-Real-IP", "cafile=/etc/ssl/ca.pem", "capath=/etc/ssl/certs",
        "pinned_pubkey=sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=",
        "client_cert=/etc/c.pem", "client_key=/etc/c.key", "insecure_skip_verify=yes",
        "proxy=http://proxy.example:3128", "max_password_len=64", "user_lowercase=true",
        "user_strip_domain=on", "user_domain=example.org", "debug=1", "use_first_pass",
        "try_first_pass", "use_authtok", NULL,
    };

    (void) state;
    assert_int_equal(load(&cfg, err, argv), 0);
    assert_string_equal(cfg.servers[0].host, "[::1]:8080");
    assert_true(cfg.allow_http);
    assert_string_equal(cfg.method, "GET");
    assert_int_equal(cfg.timeout_ms, 2500);
    assert_int_equal(cfg.connect_timeout_ms, 1500);
    assert_int_equal(cfg.ok_status_count, 2);
    assert_int_equal(cfg.ok_status[1], 207);
    assert_int_equal(cfg.deny_status_count, 2);
    assert_int_equal(cfg.deny_status[1], 403);
    assert_string_equal(cfg.forward_header, "X-Real-IP");
    assert_string_equal(cfg.cafile, "/etc/ssl/ca.pem");
    assert_string_equal(cfg.capath, "/etc/ssl/certs");
    assert_string_equal(cfg.pinned_pubkey, "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=");
    assert_string_equal(cfg.client_cert, "/etc/c.pem");
    assert_string_equal(cfg.client_key, "/etc/c.key");
    assert_true(cfg.insecure_skip_verify);
    assert_string_equal(cfg.proxy, "http://proxy.example:3128");
    assert_int_equal(cfg.max_password_len, 64);
    assert_true(cfg.user_lowercase);
    assert_true(cfg.user_strip_domain);
    assert_string_equal(cfg.user_domain, "example.org");
    assert_true(cfg.debug);
    assert_true(cfg.use_first_pass);
    assert_true(cfg.try_first_pass);
    assert_true(cfg.use_authtok);
    hb_config_free(&cfg);
}

/* What is checked is what is used: libcurl's normalised URL. */
static void test_url_normalised(void **state)
{
    static const char *const cases[][2] = {
        {"url=HTTPS://CLOUD.EXAMPLE.ORG/dav/", "https://CLOUD.EXAMPLE.ORG/dav/"},
        {"url=https:/cloud.example.org/dav/", "https://cloud.example.org/dav/"},
        {"url=https://cloud.example.org", "https://cloud.example.org/"},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hb_config cfg;
        char err[HB_ERROR_LEN];
        const char *argv[] = {cases[i][0], NULL};

        if (load(&cfg, err, argv) == 0)
            assert_string_equal(cfg.servers[0].url, cases[i][1]);
        else
            assert_non_null(strstr(err, "url:"));
        hb_config_free(&cfg);
    }
}

/*
 * url.c remembers accepted checks per process: a remembered check gives the
 * same result as the first, allow_http is part of what is remembered (an
 * http:// URL accepted with it is still refused without it), refusals are
 * not remembered, and more URLs than the table holds still check right.
 */
static void test_url_checks_remembered(void **state)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN], arg[64];
    const char *http_ok[] = {"url=http://memo.example.org:8080/dav", "allow_http", NULL};
    const char *http_no[] = {"url=http://memo.example.org:8080/dav", NULL};
    const char *creds[] = {"url=https://u:p@memo.example.org/dav/", NULL};
    (void) state;

    size_t hits = hb_url_memo_hits();

    for (int round = 0; round < 3; round++) {
        assert_int_equal(load(&cfg, err, http_ok), 0);
        assert_string_equal(cfg.servers[0].url, "http://memo.example.org:8080/dav");
        assert_string_equal(cfg.servers[0].host, "memo.example.org:8080");
        hb_config_free(&cfg);
        assert_int_equal(load(&cfg, err, http_no), -1);
        assert_non_null(strstr(err, "http:// sends passwords in clear text"));
        hb_config_free(&cfg);
        assert_int_equal(load(&cfg, err, creds), -1);
        assert_non_null(strstr(err, "must not contain credentials"));
        hb_config_free(&cfg);
    }
    /* Rounds 2 and 3 of the accepted URL came from the table; no refusal did. */
    assert_int_equal(hb_url_memo_hits() - hits, 2);
    for (int i = 0; i < 40; i++) {
        const char *argv[] = {arg, NULL};

        snprintf(arg, sizeof(arg), "url=HTTPS://H%d.EXAMPLE.ORG", i % 20);
        assert_int_equal(load(&cfg, err, argv), 0);
        snprintf(arg, sizeof(arg), "https://H%d.EXAMPLE.ORG/", i % 20);
        assert_string_equal(cfg.servers[0].url, arg);
        hb_config_free(&cfg);
    }
}

static void test_error_has_no_control_characters(void **state)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    const char *argv[] = {URL, "\x1b[2Jfake=1", NULL};

    (void) state;
    assert_int_equal(load(&cfg, err, argv), -1);
    assert_string_equal(err, "argument: ?[2Jfake: unknown key; pam_httpbasic(8) lists the keys");
    hb_config_free(&cfg);
}

static void test_flag_values(void **state)
{
    static const char *const values[][2] = {
        {"debug", "1"}, {"debug=yes", "1"}, {"debug=TRUE", "1"}, {"debug=on", "1"},
        {"debug=1", "1"}, {"debug=no", "0"}, {"debug=false", "0"}, {"debug=Off", "0"},
        {"debug=0", "0"},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct hb_config cfg;
        char err[HB_ERROR_LEN];
        const char *argv[] = {URL, values[i][0], NULL};

        assert_int_equal(load(&cfg, err, argv), 0);
        assert_int_equal(cfg.debug, values[i][1][0] == '1');
        hb_config_free(&cfg);
    }
}

/* A timeout below Nextcloud's throttle delay is legal but warned about. */
static void test_timeout_warning(void **state)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    const char *short_argv[] = {URL, "timeout=25000", NULL};
    const char *long_argv[] = {URL, "timeout=26000", NULL};

    (void) state;
    assert_int_equal(load(&cfg, err, short_argv), 0);
    assert_non_null(strstr(cfg.warning, "timeout=25000 ms is below 26000 ms"));
    hb_config_free(&cfg);
    assert_int_equal(load(&cfg, err, long_argv), 0);
    assert_string_equal(cfg.warning, "");
    hb_config_free(&cfg);
}

static void test_short_timeout(void **state)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    const char *argv[] = {URL, "timeout=2000", NULL};

    (void) state;
    assert_int_equal(load(&cfg, err, argv), 0);
    assert_int_equal(cfg.timeout_ms, 2000);
    assert_int_equal(cfg.connect_timeout_ms, 2000);   /* default 5000 follows */
    hb_config_free(&cfg);
}

static void test_forward_header_none(void **state)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    const char *argv[] = {URL, "forward_header=none", NULL};

    (void) state;
    assert_int_equal(load(&cfg, err, argv), 0);
    assert_null(cfg.forward_header);
    hb_config_free(&cfg);
}

/* Each argument list must fail with a message containing the expected text. */
static void test_argument_errors(void **state)
{
    struct {
        const char *args[4];
        const char *message;
    } cases[] = {
        {{NULL}, "url: missing"},
        {{URL, "bogus=1"}, "argument: bogus: unknown key"},
        {{URL, "Debug"}, "Debug: unknown key"},
        {{URL, "=x"}, "malformed argument"},
        {{"url"}, "url: needs a value"},
        {{"url="}, "url: needs a value"},
        {{URL, "debug", "debug=no"}, "debug: duplicate key"},
        {{URL, "url=https://b/ https://c/ https://d/ https://e/"}, "url: more than 4 servers"},
        {{URL, "url=https://b/ http://c/"}, "url: http:// sends passwords in clear text"},
        {{URL, "server_retry_after=-1"}, "server_retry_after: \"-1\" is not a number from 0 to 3600"},
        {{URL, "server_retry_after=3601"}, "server_retry_after: \"3601\""},
        {{URL, "debug=maybe"}, "debug: \"maybe\" is not yes or no"},
        {{URL, "use_first_pass=no"}, "use_first_pass: takes no value"},
        {{URL, "try_first_pass=yes"}, "try_first_pass: takes no value"},
        {{URL, "use_authtok=1"}, "use_authtok: takes no value"},
        {{URL, "cache_fresh=60"}, "cache_fresh: needs store="},
        {{URL, "store=sqlite:/x"}, "store: must be lmdb:/DIR"},
        {{URL, "store=lmdb:/var/cache/x"}, "secret_file: required with store="},
        /* Redis over TLS: only with hiredis_ssl (hiredis >= 1.0); Debian 12's 0.14 has none */
#ifdef HAVE_HIREDIS_SSL
        {{URL, "store=rediss://127.0.0.1", "secret_file=/s"}, "store_cafile: required with rediss://"},
#else
        {{URL, "store=rediss://127.0.0.1", "secret_file=/s"},
         "store: rediss:// (Redis over TLS) needs hiredis >= 1.0 with hiredis_ssl; this module was built with hiredis "},
#endif
        {{URL, "store=redis://127.0.0.1", "secret_file=/s", "store_cafile=/ca.pem"},
         "store_cafile: only for a rediss:// store"},
        {{URL, "store=lmdb:/tmp", "secret_file=/s", "store_key=/k"}, "store_key: only for a rediss:// store"},
        {{URL, "store_cert=/c"}, "store_cert: needs store="},
        {{URL, "store=lmdb:/tmp", "secret_file=/s", "guard_exempt=10.0.0.1, 10.0.0.0/40"},
         "guard_exempt: '10.0.0.0/40' is not an address or network"},
        {{URL, "store=lmdb:/tmp", "secret_file=/s", "guard_exempt=webmail.example"},
         "guard_exempt: 'webmail.example' is not an address"},
        {{URL, "timeout=abc"}, "timeout: \"abc\" is not a number from 100 to 300000"},
        {{URL, "timeout=-5"}, "timeout: \"-5\" is not a number"},
        {{URL, "timeout=+5000"}, "timeout: \"+5000\" is not a number"},
        {{URL, "timeout=5000ms"}, "timeout: \"5000ms\" is not a number"},
        {{URL, "timeout=99999999999999999999999"}, "timeout: \"99999999999999999999999\""},
        {{URL, "timeout=99"}, "timeout: \"99\" is not a number"},
        {{URL, "timeout=300001"}, "timeout: \"300001\""},
        {{URL, "connect_timeout=50"}, "connect_timeout: \"50\" is not a number"},
        {{URL, "timeout=1000", "connect_timeout=2000"}, "connect_timeout: must not exceed timeout"},
        {{URL, "max_password_len=0"}, "max_password_len: \"0\" is not a number from 1 to 4096"},
        {{URL, "max_password_len=4097"}, "max_password_len: \"4097\""},
        {{URL, "max_password_len"}, "max_password_len: needs a value"},
        {{URL, "ok_status=207,abc"}, "ok_status: \"abc\" is not an HTTP status"},
        {{URL, "ok_status=99"}, "ok_status: \"99\" is not an HTTP status"},
        {{URL, "ok_status=600"}, "ok_status: \"600\""},
        {{URL, "ok_status=,"}, "ok_status: needs at least one status"},
        {{URL, "ok_status=200,201,202,203,204,205,206,207,208"}, "ok_status: more than 8"},
        {{URL, "deny_status=207"}, "deny_status: 207 is also in ok_status"},
        {{URL, "method=get"}, "method: \"get\" is not an upper-case HTTP method"},
        {{URL, "method="}, "method: must be 1 to 32 letters"},
        {{URL, "method=GET\r"}, "method: contains a control character"},
        {{URL, "forward_header=X:Y"}, "forward_header: \"X:Y\" is not a valid header name"},
        {{URL, "forward_header="}, "forward_header: must be a header name"},
        {{URL, "forward_header=Authorization"}, "is a header the module must control"},
        {{URL, "forward_header=x-requested-with"}, "is a header the module must control"},
        {{URL, "forward_header=X-Forwarded-For\r\nX-Evil"}, "forward_header: contains a control"},
        {{URL, "cafile=ca.pem"}, "cafile: must be an absolute path"},
        {{URL, "capath=certs"}, "capath: must be an absolute path"},
        {{URL, "client_cert=/c.pem"}, "client_key: client_cert and client_key go together"},
        {{URL, "client_key=/c.key"}, "client_cert: client_cert and client_key go together"},
        {{URL, "config=relative.conf"}, "config: must be an absolute path"},
        {{URL, "user_domain=a@b"}, "user_domain: must not contain"},
        {{URL, "user_domain="}, "user_domain: must be a domain"},
        {{URL, "proxy=proxy.example:3128"}, "proxy: must start with"},
        {{URL, "proxy="}, "proxy: needs a value"},
        {{"url=http://cloud.example.org/dav/"}, "url: http:// sends passwords in clear text"},
        {{"url=ftp://cloud.example.org/dav/"}, "url: scheme ftp is not allowed"},
        {{"url=file:///etc/passwd"}, "url: scheme file is not allowed"},
        {{"url=https://alice:secret@cloud.example.org/"}, "url: must not contain credentials"},
        {{"url=https://alice@cloud.example.org/"}, "url: must not contain credentials"},
        {{"url=https://"}, "url: \"https://\" "},
        {{"url=https://cloud example/"}, "is not a valid URL"},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hb_config cfg;
        char err[HB_ERROR_LEN];

        assert_int_equal(load(&cfg, err, cases[i].args), -1);
        if (strstr(err, cases[i].message) == NULL)
            fail_msg("case %zu: \"%s\" does not contain \"%s\"", i, err, cases[i].message);
        hb_config_free(&cfg);
    }
}

static void test_several_urls(void **state)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    char config_arg[300];
    const char *path = write_file("urls.conf",
                                  "url = https://a.example/dav/ https://b.example/dav/\n"
                                  "url = https://c.example/dav/\n"
                                  "server_retry_after = 0\n", 0600);
    const char *from_args[] = {"url=https://a.example/", "url=https://b.example/", NULL};
    const char *from_file[] = {config_arg, NULL};
    const char *overridden[] = {config_arg, "url=https://d.example/", NULL};

    (void) state;
    snprintf(config_arg, sizeof(config_arg), "config=%s", path);
    assert_int_equal(load(&cfg, err, from_args), 0);
    assert_int_equal(cfg.server_count, 2);
    assert_string_equal(cfg.servers[1].host, "b.example");
    hb_config_free(&cfg);
    assert_int_equal(load(&cfg, err, from_file), 0);
    assert_int_equal(cfg.server_count, 3);
    assert_string_equal(cfg.servers[0].host, "a.example");
    assert_string_equal(cfg.servers[2].host, "c.example");
    assert_int_equal(cfg.server_retry_after, 0);
    hb_config_free(&cfg);
    assert_int_equal(load(&cfg, err, overridden), 0);    /* arguments replace the list */
    assert_int_equal(cfg.server_count, 1);
    assert_string_equal(cfg.servers[0].host, "d.example");
    hb_config_free(&cfg);
}

static void test_file_and_override(void **state)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    char config_arg[300];
    const char *path = write_file("good.conf",
                                  "# pam_httpbasic test\n"
                                  "\n"
                                  "  url = https://files.example.org/remote.php/dav/  \n"
                                  "timeout=4000\n"
                                  "\tdebug\n"
                                  "user_domain = example.org\r\n"
                                  "forward_header = X-Client-IP\n"
                                  "insecure_skip_verify = no",
                                  0600);
    const char *argv[] = {"timeout=9000", config_arg, "forward_header=none", NULL};

    (void) state;
    snprintf(config_arg, sizeof(config_arg), "config=%s", path);
    assert_int_equal(load(&cfg, err, argv), 0);
    assert_string_equal(cfg.servers[0].host, "files.example.org");
    assert_int_equal(cfg.timeout_ms, 9000);         /* argument wins */
    assert_true(cfg.debug);
    assert_string_equal(cfg.user_domain, "example.org");
    assert_null(cfg.forward_header);                /* argument wins */
    assert_false(cfg.insecure_skip_verify);
    assert_string_equal(cfg.config, path);
    hb_config_free(&cfg);
}

/* A config file with text must fail with message (file:line included). */
static void expect_file_error(const char *text, mode_t mode, const char *message)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    char config_arg[300];
    const char *path = write_file("bad.conf", text, mode);
    const char *argv[] = {config_arg, NULL};

    snprintf(config_arg, sizeof(config_arg), "config=%s", path);
    assert_int_equal(load(&cfg, err, argv), -1);
    if (strstr(err, message) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", err, message);
    hb_config_free(&cfg);
}

static void test_file_errors(void **state)
{
    char big[70000];

    (void) state;
    expect_file_error("url = https://a.example/\nbogus = 1\n", 0600, "bad.conf:2: bogus: unknown key");
    expect_file_error("url = https://a.example/\ntimeout = 10 s\n", 0600,
                      "bad.conf:2: timeout: \"10 s\" is not a number");
    expect_file_error("url = https://a.example/\ntimeout = 1000\ntimeout = 2000\n", 0600,
                      "bad.conf:3: timeout: duplicate key");
    expect_file_error("config = /etc/other.conf\n", 0600, "bad.conf:1: config: not allowed inside");
    expect_file_error("= value\n", 0600, "bad.conf:1: =: line has no key");
    expect_file_error("url\n", 0600, "bad.conf:1: url: needs a value");
    expect_file_error("url = https://a.example/ # ours\n", 0600,
                      "bad.conf:1: url: a '#' after the value: comments must stand on their own line");
    expect_file_error("url = https://a.example/\ntimeout = 30000\t# 30 s\n", 0600, "bad.conf:2: timeout: a '#'");
    expect_file_error("timeout = 1000\n", 0600, "url: missing");
    expect_file_error("url = https://a.example/\n", 0666, "must be writable only by its owner");
    expect_file_error("url = https://a.example/\n", 0620, "must be writable only by its owner");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_file_error(big, 0600, "is larger than 65536 bytes");
    memset(big, 'x', 5000);
    big[5000] = '\0';
    expect_file_error(big, 0600, "bad.conf:1: line: longer than");
}

static void expect_path_error(const char *path, const char *message)
{
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    char config_arg[300];
    const char *argv[] = {config_arg, NULL};

    snprintf(config_arg, sizeof(config_arg), "config=%s", path);
    assert_int_equal(load(&cfg, err, argv), -1);
    if (strstr(err, message) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", err, message);
    hb_config_free(&cfg);
}

static void test_unsafe_files(void **state)
{
    char link_path[300], dir_path[300], missing[300];
    const char *target = write_file("target.conf", "url = https://a.example/\n", 0600);

    (void) state;
    snprintf(link_path, sizeof(link_path), "%s/link.conf", tmpdir);
    snprintf(dir_path, sizeof(dir_path), "%s/dir.conf", tmpdir);
    snprintf(missing, sizeof(missing), "%s/missing.conf", tmpdir);
    unlink(link_path);
    assert_int_equal(symlink(target, link_path), 0);
    mkdir(dir_path, 0700);
    expect_path_error(link_path, "it is a symbolic link");
    expect_path_error(dir_path, "is not a regular file");
    expect_path_error(missing, "cannot open");
    if (geteuid() == 0) {
        const char *other = write_file("other.conf", "url = https://a.example/\n", 0600);

        assert_int_equal(chown(other, 65534, 65534), 0);
        expect_path_error(other, "must be owned by root");
    }
}

static int setup(void **state)
{
    (void) state;
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_url_normalised),
        cmocka_unit_test(test_url_checks_remembered),
        cmocka_unit_test(test_error_has_no_control_characters),
        cmocka_unit_test(test_flag_values),
        cmocka_unit_test(test_short_timeout),
        cmocka_unit_test(test_timeout_warning),
        cmocka_unit_test(test_forward_header_none),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_several_urls),
        cmocka_unit_test(test_file_and_override),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_unsafe_files),
    };

    return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
