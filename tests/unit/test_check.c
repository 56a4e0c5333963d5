/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for check.c: status mapping and request headers (no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <curl/curl.h>

#include "check.h"

static char propfind[] = "PROPFIND", get[] = "GET";
static char xff[] = "X-Forwarded-For", real_ip[] = "X-Real-IP";

static void default_config(struct hb_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->method = propfind;
    cfg->forward_header = xff;
    cfg->ok_status[0] = 207;
    cfg->ok_status_count = 1;
    cfg->deny_status[0] = 401;
    cfg->deny_status_count = 1;
}

/* Only the disabled-account body of a 503 is a denial; maintenance is not. */
static void test_says_disabled(void **state)
{
    static const char disabled[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<d:error xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\">\n"
        "  <s:exception>Sabre\\DAV\\Exception\\ServiceUnavailable</s:exception>\n"
        "  <s:message>OC\\User\\LoginException: Account disabled</s:message>\n"
        "</d:error>\n";
    static const char maintenance[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<d:error xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\">\n"
        "  <s:exception>OCA\\DAV\\Exception\\ServerMaintenanceMode</s:exception>\n"
        "  <s:message>System is in maintenance mode.</s:message>\n"
        "</d:error>\n";

    (void) state;
    assert_true(hb_says_disabled(disabled, sizeof(disabled) - 1));
    assert_false(hb_says_disabled(maintenance, sizeof(maintenance) - 1));
    assert_false(hb_says_disabled(disabled, 100));   /* cut before the message */
    assert_false(hb_says_disabled("", 0));
}

static void test_default_statuses(void **state)
{
    static const struct {
        long status;
        enum hb_verdict verdict;
    } cases[] = {
        {207, HB_OK},
        {401, HB_DENIED},
        {429, HB_THROTTLED},
        {0, HB_UNAVAILABLE},
        {200, HB_UNAVAILABLE},
        {301, HB_UNAVAILABLE},
        {302, HB_UNAVAILABLE},
        {403, HB_UNAVAILABLE},
        {404, HB_UNAVAILABLE},
        {405, HB_UNAVAILABLE},
        {500, HB_UNAVAILABLE},
        {503, HB_UNAVAILABLE},
    };
    struct hb_config cfg;

    (void) state;
    default_config(&cfg);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum hb_verdict v = hb_verdict_for_status(&cfg, cases[i].status);

        assert_int_equal(v, cases[i].verdict);
    }
}

static void test_custom_statuses(void **state)
{
    struct hb_config cfg;

    (void) state;
    default_config(&cfg);
    cfg.ok_status[0] = 200;
    cfg.ok_status[1] = 204;
    cfg.ok_status_count = 2;
    cfg.deny_status[0] = 401;
    cfg.deny_status[1] = 403;
    cfg.deny_status_count = 2;
    assert_int_equal(hb_verdict_for_status(&cfg, 200), HB_OK);
    assert_int_equal(hb_verdict_for_status(&cfg, 204), HB_OK);
    assert_int_equal(hb_verdict_for_status(&cfg, 207), HB_UNAVAILABLE);
    assert_int_equal(hb_verdict_for_status(&cfg, 403), HB_DENIED);
    assert_int_equal(hb_verdict_for_status(&cfg, 429), HB_THROTTLED);
}

static void test_verdict_names(void **state)
{
    (void) state;
    assert_string_equal(hb_verdict_name(HB_OK), "ok");
    assert_string_equal(hb_verdict_name(HB_DENIED), "denied");
    assert_string_equal(hb_verdict_name(HB_THROTTLED), "throttled");
    assert_string_equal(hb_verdict_name(HB_UNAVAILABLE), "unavailable");
}

/* Join a header list into one string, lines separated by '|'. */
static void join(const struct curl_slist *list, char *out, size_t len)
{
    out[0] = '\0';
    for (; list != NULL; list = list->next) {
        strncat(out, list->data, len - strlen(out) - 2);
        strcat(out, "|");
    }
}

static void expect_headers(const struct hb_config *cfg, const char *ip, const char *expected)
{
    char joined[512];
    struct curl_slist *list = hb_build_headers(cfg, ip);

    assert_non_null(list);
    join(list, joined, sizeof(joined));
    assert_string_equal(joined, expected);
    curl_slist_free_all(list);
}

static void test_headers(void **state)
{
    struct hb_config cfg;

    (void) state;
    default_config(&cfg);
    expect_headers(&cfg, "192.0.2.7",
                   "Depth: 0|Expect:|Content-Type: application/xml; charset=utf-8|"
                   "X-Forwarded-For: 192.0.2.7|");
    expect_headers(&cfg, "", "Depth: 0|Expect:|Content-Type: application/xml; charset=utf-8|");
    expect_headers(&cfg, NULL, "Depth: 0|Expect:|Content-Type: application/xml; charset=utf-8|");
    cfg.forward_header = real_ip;
    expect_headers(&cfg, "2001:db8::1",
                   "Depth: 0|Expect:|Content-Type: application/xml; charset=utf-8|"
                   "X-Real-IP: 2001:db8::1|");
    cfg.forward_header = NULL;
    expect_headers(&cfg, "192.0.2.7", "Depth: 0|Expect:|Content-Type: application/xml; charset=utf-8|");
    cfg.method = get;
    expect_headers(&cfg, "192.0.2.7", "Depth: 0|Expect:|");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_statuses),
        cmocka_unit_test(test_says_disabled),
        cmocka_unit_test(test_custom_statuses),
        cmocka_unit_test(test_verdict_names),
        cmocka_unit_test(test_headers),
    };

    return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
