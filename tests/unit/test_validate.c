/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for validate.c: user, password, rhost, mapping, log escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "validate.h"

static void test_user_names(void **state)
{
    static const struct {
        const char *user;
        enum hb_input expected;
    } cases[] = {
        {"alice", HB_INPUT_OK},
        {"alice@example.org", HB_INPUT_OK},
        {"j\xc3\xbcrgen", HB_INPUT_OK},               /* ü */
        {"\xe2\x82\xac" "uro", HB_INPUT_OK},          /* € */
        {"\xf0\x9f\x93\xa7", HB_INPUT_OK},            /* U+1F4E7 */
        {"with space", HB_INPUT_OK},
        {"100%25", HB_INPUT_OK},
        {"", HB_USER_EMPTY},
        {NULL, HB_USER_EMPTY},
        {"a:b", HB_USER_COLON},
        {":", HB_USER_COLON},
        {"a\nb", HB_USER_CONTROL},
        {"a\rb", HB_USER_CONTROL},
        {"a\tb", HB_USER_CONTROL},
        {"a\x7f", HB_USER_CONTROL},
        {"\x1b[31m", HB_USER_CONTROL},
        {"\xff", HB_USER_NOT_UTF8},
        {"a\xc3", HB_USER_NOT_UTF8},                  /* truncated */
        {"\xc0\xaf", HB_USER_NOT_UTF8},               /* overlong '/' */
        {"\xe0\x80\xaf", HB_USER_NOT_UTF8},           /* overlong */
        {"\xed\xa0\x80", HB_USER_NOT_UTF8},           /* surrogate */
        {"\xf4\x90\x80\x80", HB_USER_NOT_UTF8},       /* > U+10FFFF */
        {"\xe2\x82", HB_USER_NOT_UTF8},
        {"\x80", HB_USER_NOT_UTF8},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (hb_check_user(cases[i].user) != cases[i].expected)
            fail_msg("case %zu: got %d, expected %d", i, hb_check_user(cases[i].user), cases[i].expected);
}

static void test_user_length(void **state)
{
    char name[300];

    (void) state;
    memset(name, 'a', sizeof(name));
    name[255] = '\0';
    assert_int_equal(hb_check_user(name), HB_INPUT_OK);
    name[255] = 'a';
    name[256] = '\0';
    assert_int_equal(hb_check_user(name), HB_USER_TOO_LONG);
}

static void test_passwords(void **state)
{
    char pw[600];

    (void) state;
    assert_int_equal(hb_check_password("", 512), HB_PASSWORD_EMPTY);
    assert_int_equal(hb_check_password(NULL, 512), HB_PASSWORD_EMPTY);
    assert_int_equal(hb_check_password("x", 512), HB_INPUT_OK);
    assert_int_equal(hb_check_password("pass word:with:colons", 512), HB_INPUT_OK);
    assert_int_equal(hb_check_password("\x01\xff\x7f", 512), HB_INPUT_OK);
    memset(pw, 'p', sizeof(pw));
    pw[512] = '\0';
    assert_int_equal(hb_check_password(pw, 512), HB_INPUT_OK);
    pw[512] = 'p';
    pw[513] = '\0';
    assert_int_equal(hb_check_password(pw, 512), HB_PASSWORD_TOO_LONG);
    assert_int_equal(hb_check_password("abcd", 3), HB_PASSWORD_TOO_LONG);
}

static void test_rhost(void **state)
{
    static const struct {
        const char *rhost;
        enum hb_input expected;
        const char *ip;
    } cases[] = {
        {NULL, HB_INPUT_OK, ""},
        {"", HB_INPUT_OK, ""},
        {"192.0.2.1", HB_INPUT_OK, "192.0.2.1"},
        {"::1", HB_INPUT_OK, "::1"},
        {"2001:DB8:0:0::1", HB_INPUT_OK, "2001:db8::1"},
        {"::ffff:1.2.3.4", HB_INPUT_OK, "1.2.3.4"},
        {"::FFFF:10.0.0.1", HB_INPUT_OK, "10.0.0.1"},
        {"[::1]", HB_INPUT_OK, ""},
        {"mail.example.org", HB_INPUT_OK, ""},
        {"1.2.3.4, 5.6.7.8", HB_INPUT_OK, ""},
        {"1.2.3.4 ", HB_INPUT_OK, ""},
        {"fe80::1%eth0", HB_INPUT_OK, ""},
        {"1.2.3", HB_INPUT_OK, ""},
        {"1.2.3.4\r\nX-Evil: 1", HB_RHOST_CONTROL, ""},
        {"1.2.3.4\n", HB_RHOST_CONTROL, ""},
        {"\t1.2.3.4", HB_RHOST_CONTROL, ""},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char ip[HB_IP_BUF] = "garbage";

        assert_int_equal(hb_rhost_ip(cases[i].rhost, ip), cases[i].expected);
        assert_string_equal(ip, cases[i].ip);
    }
}

static void test_rhost_length(void **state)
{
    char rhost[1001];
    char ip[HB_IP_BUF];

    (void) state;
    memset(rhost, 'h', 1000);
    rhost[1000] = '\0';
    assert_int_equal(hb_rhost_ip(rhost, ip), HB_RHOST_TOO_LONG);
    rhost[255] = '\0';
    assert_int_equal(hb_rhost_ip(rhost, ip), HB_INPUT_OK);
    assert_string_equal(ip, "");
}

/* Map user under the given options and compare result and name. */
static void expect_map(bool lower, bool strip, const char *domain, const char *user,
                       enum hb_input expected, const char *mapped)
{
    struct hb_config cfg;
    char out[HB_USER_BUF];
    char domain_copy[64] = "";

    memset(&cfg, 0, sizeof(cfg));
    cfg.user_lowercase = lower;
    cfg.user_strip_domain = strip;
    if (domain != NULL) {
        strcpy(domain_copy, domain);
        cfg.user_domain = domain_copy;
    }
    assert_int_equal(hb_map_user(&cfg, user, out), expected);
    if (expected == HB_INPUT_OK)
        assert_string_equal(out, mapped);
}

static void test_map_user(void **state)
{
    char long_name[300];

    (void) state;
    expect_map(false, false, NULL, "Alice@Example.org", HB_INPUT_OK, "Alice@Example.org");
    expect_map(true, false, NULL, "Alice@Example.ORG", HB_INPUT_OK, "alice@example.org");
    expect_map(true, false, NULL, "J\xc3\x9cRGEN", HB_INPUT_OK, "j\xc3\x9crgen");  /* ASCII only */
    expect_map(false, true, NULL, "alice@example.org", HB_INPUT_OK, "alice");
    expect_map(false, true, NULL, "alice", HB_INPUT_OK, "alice");
    expect_map(false, false, "example.org", "alice", HB_INPUT_OK, "alice@example.org");
    expect_map(false, false, "example.org", "alice@other.org", HB_INPUT_OK, "alice@other.org");
    expect_map(false, true, "example.org", "alice@other.org", HB_INPUT_OK, "alice@example.org");
    expect_map(true, true, NULL, "ALICE@X", HB_INPUT_OK, "alice");
    expect_map(false, true, NULL, "@example.org", HB_USER_EMPTY, NULL);
    expect_map(false, false, NULL, "a:b", HB_USER_COLON, NULL);
    expect_map(true, true, "example.org", "a\nb", HB_USER_CONTROL, NULL);
    memset(long_name, 'a', 250);
    long_name[250] = '\0';
    expect_map(false, false, "example.org", long_name, HB_USER_TOO_LONG, NULL);
}

static void test_log_escape(void **state)
{
    char out[32];
    char small[8];

    (void) state;
    hb_log_escape("alice", out, sizeof(out));
    assert_string_equal(out, "alice");
    hb_log_escape(NULL, out, sizeof(out));
    assert_string_equal(out, "-");
    hb_log_escape("a\r\nb\"c\\", out, sizeof(out));
    assert_string_equal(out, "a\\x0d\\x0ab\\x22c\\x5c");
    hb_log_escape("\xc3\xbc", out, sizeof(out));
    assert_string_equal(out, "\\xc3\\xbc");
    hb_log_escape("0123456789012345678901234567890123456789", out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    assert_string_equal(out + sizeof(out) - 4, "...");
    assert_memory_equal(out, "0123456789", 10);
    hb_log_escape("abcdefgh", small, sizeof(small));
    assert_true(strlen(small) < sizeof(small));
}

static void test_input_texts(void **state)
{
    (void) state;
    for (int i = HB_USER_EMPTY; i <= HB_RHOST_TOO_LONG; i++)
        assert_string_not_equal(hb_input_text((enum hb_input) i), "invalid input");
    assert_string_equal(hb_input_text(HB_USER_COLON), "user name contains ':'");
}

static void test_address_lists(void **state)
{
    static const char *const valid[] = {
        "192.0.2.1", "192.0.2.0/24", " 10.0.0.0/8 , 2001:db8::/32,::1", "0.0.0.0/0", "::/0",
        "::ffff:198.51.100.0/120", "2001:db8::1/128", "10.1.2.3/32",
    };
    static const char *const invalid[][2] = {
        {"", ""}, {"192.0.2.1,", ""}, {"192.0.2.1,,10.0.0.1", ""}, {"192.0.2.0/33", "192.0.2.0/33"},
        {"10.0.0.1, host.example", "host.example"}, {"2001:db8::/129", "2001:db8::/129"},
        {"10.0.0.0/", "10.0.0.0/"}, {"10.0.0.0/-1", "10.0.0.0/-1"}, {"10.0.0.0/8x", "10.0.0.0/8x"},
        {"10.0.0.0/ 8", "10.0.0.0/ 8"}, {"1.2.3", "1.2.3"}, {"10.0.0.1/+8", "10.0.0.1/+8"},
    };
    char bad[80];

    (void) state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        assert_true(hb_address_list_valid(valid[i], bad, sizeof(bad)));
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        assert_false(hb_address_list_valid(invalid[i][0], bad, sizeof(bad)));
        assert_string_equal(bad, invalid[i][1]);
    }
    assert_true(hb_address_in_list("192.0.2.0/24", "192.0.2.255"));
    assert_false(hb_address_in_list("192.0.2.0/24", "192.0.3.0"));
    assert_true(hb_address_in_list("10.0.0.1, 192.0.2.128/25", "192.0.2.200"));
    assert_false(hb_address_in_list("10.0.0.1, 192.0.2.128/25", "192.0.2.127"));
    assert_true(hb_address_in_list("10.0.0.0/9", "10.127.255.255"));
    assert_false(hb_address_in_list("10.0.0.0/9", "10.128.0.0"));
    assert_true(hb_address_in_list("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(hb_address_in_list("2001:db8::/32", "2001:db9::1"));
    assert_true(hb_address_in_list("::ffff:198.51.100.0/120", "198.51.100.7"));
    assert_false(hb_address_in_list("0.0.0.0/0", "::1"));
    assert_true(hb_address_in_list("::/0", "::1"));
    assert_true(hb_address_in_list("0.0.0.0/0", "203.0.113.9"));
    assert_false(hb_address_in_list(NULL, "203.0.113.9"));
    assert_false(hb_address_in_list("203.0.113.9", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_names),
        cmocka_unit_test(test_user_length),
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_rhost),
        cmocka_unit_test(test_rhost_length),
        cmocka_unit_test(test_map_user),
        cmocka_unit_test(test_log_escape),
        cmocka_unit_test(test_input_texts),
        cmocka_unit_test(test_address_lists),
    };

    return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
