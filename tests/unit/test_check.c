/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for check.c: status mapping and request headers (no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
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

/* Nextcloud's Sabre error body with exception class and message, as it sends it. */
#define SABRE(exception, message)                                            \
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"                           \
    "<d:error xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\">\n"        \
    "  <s:exception>" exception "</s:exception>\n"                           \
    "  <s:message>" message "</s:message>\n"                                 \
    "</d:error>\n"
#define UNAVAILABLE "Sabre\\DAV\\Exception\\ServiceUnavailable"

static enum hb_503 kind(const char *body)
{
    return hb_503_kind(body, strlen(body));
}

/* A 503 is a refusal of the account by its exception class, in any language. */
static void test_503_account_refused(void **state)
{
    static const char *const refused[] = {
        SABRE(UNAVAILABLE, "OC\\User\\LoginException: Account disabled"),
        SABRE(UNAVAILABLE, "OC\\User\\LoginException: Konto deaktiviert"),
        SABRE(UNAVAILABLE, "OC\\User\\LoginException: Compte d\xc3\xa9sactiv\xc3\xa9"),
        SABRE(UNAVAILABLE, "OC\\User\\LoginException: User disabled"),
        SABRE(UNAVAILABLE, "OC\\User\\LoginException: Login canceled by app"),
        SABRE("OC\\User\\DisabledUserException", "Account disabled"),
        SABRE(UNAVAILABLE, "OC\\User\\DisabledUserException: Account disabled"),
        SABRE(UNAVAILABLE, "OC\\User\\LoginException"),
        /* other prefixes, blanks, a leading backslash, entities */
        "<e:error xmlns:e=\"DAV:\" xmlns:sabre=\"http://sabredav.org/ns\"><sabre:exception>"
        UNAVAILABLE "</sabre:exception><sabre:message>\n\t OC\\User\\LoginException: x \n"
        "</sabre:message></e:error>",
        "<error><exception>x</exception><message>\\OC\\User\\LoginException: y</message></error>",
        "<d:error><s:exception lang=\"en\" >OC&#92;User&#x5C;DisabledUserException</s:exception></d:error>",
        "<d:error><s:message>OC&#x5c;User&#92;LoginException&#58; z</s:message></d:error>",
    };
    (void) state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (kind(refused[i]) != HB_503_ACCOUNT_REFUSED)
            fail_msg("not a refusal: %s", refused[i]);
    }
}

/* Maintenance, unknown bodies and cut or broken ones are outages. */
static void test_503_outage(void **state)
{
    static const char maintenance[] =
        SABRE("OCA\\DAV\\Exception\\ServerMaintenanceMode", "System is in maintenance mode.");
    static const char disabled[] = SABRE(UNAVAILABLE, "OC\\User\\LoginException: Account disabled");
    static const char *const outage[] = {
        "",
        "<html><head><title>503 Service Unavailable</title></head><body>"
        "<h1>Service Unavailable</h1>OC\\User\\LoginException: Account disabled</body></html>",
        SABRE(UNAVAILABLE, "Service unavailable"),
        SABRE("Sabre\\DAV\\Exception\\NotAuthenticated", "No public access to this resource."),
        SABRE(UNAVAILABLE, "OC\\User\\LoginExceptionX: no"),
        SABRE(UNAVAILABLE, "Not OC\\User\\LoginException: inside the text"),
        SABRE(UNAVAILABLE, "OC\\User\\NoUserException: x"),
        /* maintenance wins over a message naming the class */
        SABRE("OCA\\DAV\\Exception\\ServerMaintenanceMode", "OC\\User\\LoginException: x"),
        /* broken: no closing '<', unknown entity, unterminated tags */
        "<d:error><s:message>OC\\User\\LoginException: cut",
        "<d:error><s:message>OC&bogus;\\User\\LoginException: x</s:message>",
        "<d:error><s:message",
        "<s:message>&#x",
        "<s:message>&#0;OC\\User\\LoginException</s:message>",
        "<s:message>&#1234567890123;</s:message>",
        "<s:messages>OC\\User\\LoginException: x</s:messages>",
        "<:message>x</:message><message/>",
    };

    (void) state;
    assert_int_equal(kind(maintenance), HB_503_MAINTENANCE);
    assert_int_equal(hb_503_kind(disabled, sizeof(disabled) - 1), HB_503_ACCOUNT_REFUSED);
    for (size_t cut = 0; cut < sizeof(disabled) - 1; cut++)   /* cut before the message's end */
        if (cut < (size_t) (strstr(disabled, "</s:message>") - disabled))
            assert_int_equal(hb_503_kind(disabled, cut), HB_503_OTHER);
    for (size_t i = 0; i < sizeof(outage) / sizeof(outage[0]); i++) {
        if (kind(outage[i]) == HB_503_ACCOUNT_REFUSED)
            fail_msg("taken for a refusal: %s", outage[i]);
    }
}

/* A 207 naming the account: uid percent-decoded; anything odd names none. */
static void test_207_account(void **state)
{
    static const char nextcloud[] =
        "<?xml version=\"1.0\"?>\n<d:multistatus xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\""
        " xmlns:oc=\"http://owncloud.org/ns\" xmlns:nc=\"http://nextcloud.org/ns\"><d:response>"
        "<d:href>/remote.php/dav/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/>"
        "</d:resourcetype><d:current-user-principal><d:href>/remote.php/dav/principals/users/alice/"
        "</d:href></d:current-user-principal></d:prop><d:status>HTTP/1.1 200 OK</d:status>"
        "</d:propstat></d:response></d:multistatus>\n";
    static const char apache[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">\n<D:response>\n"
        "<D:href>/remote.php/dav/</D:href>\n<D:propstat>\n<D:prop>\n<D:resourcetype><D:collection/>"
        "</D:resourcetype>\n</D:prop>\n<D:status>HTTP/1.1 200 OK</D:status>\n</D:propstat>\n"
        "<D:propstat>\n<D:prop>\n<D:current-user-principal/>\n</D:prop>\n"
        "<D:status>HTTP/1.1 404 Not Found</D:status>\n</D:propstat>\n</D:response>\n</D:multistatus>\n";
    static const struct {
        const char *body;
        const char *account;     /* NULL: none */
    } cases[] = {
        {"<x:current-user-principal>\n <x:href> https://cloud.example.org/nc/remote.php/dav/"
         "principals/users/Bob%20Smith </x:href></x:current-user-principal>", "Bob Smith"},
        {"<current-user-principal><href>/remote.php/dav/principals/users/a%40b.org/</href>"
         "</current-user-principal>", "a@b.org"},
        {"<d:current-user-principal><d:href>/principals/users/caf%C3%A9/</d:href>", "caf\xc3\xa9"},
        {"<d:current-user-principal><d:href>/principals/users/a&amp;b/</d:href>", "a&b"},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users//</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users/</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users/a/b/</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users/a%2Fb/</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users/a%0Ab/</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users/a%7fb/</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users/a%00b/</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users/a%zzb/</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users/a%4/</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users/a\tb/</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/groups/admin/</d:href>", NULL},
        {"<d:current-user-principal><d:href>/remote.php/dav/principals/users/alice/", NULL},
        {"<d:current-user-principal><d:unauthenticated/></d:current-user-principal>"
         "<d:href>/remote.php/dav/principals/users/alice/</d:href>", NULL},
        {"<d:current-user-principal>x<d:href>/remote.php/dav/principals/users/alice/</d:href>", NULL},
        {"<d:current-user-principal/><d:href>/remote.php/dav/principals/users/alice/</d:href>", NULL},
        {"<d:href>/remote.php/dav/principals/users/alice/</d:href>", NULL},
        {"<d:current-user-principal><d:href/></d:current-user-principal>", NULL},
        {"", NULL},
    };
    char account[HB_USER_BUF], body[600], uid[HB_USER_BUF + 1];

    (void) state;
    assert_true(hb_207_account(nextcloud, sizeof(nextcloud) - 1, account));
    assert_string_equal(account, "alice");
    assert_false(hb_207_account(nextcloud, 200, account));   /* cut before the href */
    assert_string_equal(account, "");
    assert_false(hb_207_account(apache, sizeof(apache) - 1, account));
    assert_string_equal(account, "");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool found = hb_207_account(cases[i].body, strlen(cases[i].body), account);

        if (found != (cases[i].account != NULL)
            || strcmp(account, cases[i].account != NULL ? cases[i].account : "") != 0)
            fail_msg("case %zu: got %d '%s' for %s", i, found, account, cases[i].body);
    }
    /* HB_USER_BUF - 1 bytes fit, one more does not */
    memset(uid, 'u', sizeof(uid));
    uid[HB_USER_BUF - 1] = '\0';
    snprintf(body, sizeof(body), "<d:current-user-principal><d:href>/principals/users/%s/</d:href>", uid);
    assert_true(hb_207_account(body, strlen(body), account));
    assert_int_equal(strlen(account), HB_USER_BUF - 1);
    uid[HB_USER_BUF - 1] = 'u';
    uid[HB_USER_BUF] = '\0';
    snprintf(body, sizeof(body), "<d:current-user-principal><d:href>/principals/users/%s/</d:href>", uid);
    assert_false(hb_207_account(body, strlen(body), account));
}

/* Who may declare a server resting, and on what evidence. */
static void test_evidence(void **state)
{
    struct hb_evidence_facts base = {.timeout_ms = 5000, .connect_timeout_ms = 2000, .elapsed_ms = 5003};
    struct hb_evidence_facts f;

    (void) state;
    f = base;
    f.answered = true;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_UP);          /* any status: up */
    f.secure_host = true;
    f.elapsed_ms = 999999;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_UP);          /* even setuid, even stopped */

    f = base;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_CONFIRM);     /* a timeout: ask anonymously */
    f.secure_host = true;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_NONE);        /* setuid: never */
    f.confirmed = true;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_NONE);

    f = base;
    f.elapsed_ms = 6000;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_CONFIRM);     /* within timeout + slack */
    f.elapsed_ms = 6001;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_NONE);        /* stopped or starved */
    f = base;
    f.connect_failure = true;
    f.elapsed_ms = 3000;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_CONFIRM);
    f.elapsed_ms = 3001;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_NONE);        /* connect bound: 2000 */
    f.connect_timeout_ms = 9000;                                /* connect bound: min(9000, 5000) */
    f.elapsed_ms = 6000;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_CONFIRM);

    f = base;
    f.confirmed = true;
    f.confirm_answered = true;
    f.confirm_elapsed_ms = 1;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_UP);          /* answers others: up */
    f.confirm_answered = false;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_DOWN);        /* silent to all: rests */
    f.confirm_elapsed_ms = 3000;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_DOWN);
    f.confirm_elapsed_ms = 3001;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_NONE);        /* confirmation stopped */
    f.confirm_answered = true;
    assert_int_equal(hb_evidence(&f), HB_EVIDENCE_UP);
}

/* Only an outage of answers or confirmed silence counts as one. */
static void test_confirmed_outage(void **state)
{
    struct hb_outcome out;

    (void) state;
    memset(&out, 0, sizeof(out));
    assert_false(hb_outcome_confirmed_outage(&out));         /* no attempt */
    out.verdict = HB_UNAVAILABLE;
    out.attempt_count = 2;
    out.attempts[0].http_status = 503;
    out.attempts[0].evidence = HB_EVIDENCE_UP;
    out.attempts[1].evidence = HB_EVIDENCE_DOWN;
    assert_true(hb_outcome_confirmed_outage(&out));
    out.attempts[1].evidence = HB_EVIDENCE_NONE;              /* stopped, setuid */
    assert_false(hb_outcome_confirmed_outage(&out));
    out.attempts[1].evidence = HB_EVIDENCE_UP;                /* answered others */
    assert_false(hb_outcome_confirmed_outage(&out));
    out.attempt_count = 1;
    assert_true(hb_outcome_confirmed_outage(&out));           /* a 503 alone */
    out.verdict = HB_OK;
    assert_false(hb_outcome_confirmed_outage(&out));
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
        cmocka_unit_test(test_503_account_refused),
        cmocka_unit_test(test_503_outage),
        cmocka_unit_test(test_207_account),
        cmocka_unit_test(test_evidence),
        cmocka_unit_test(test_confirmed_outage),
        cmocka_unit_test(test_custom_statuses),
        cmocka_unit_test(test_verdict_names),
        cmocka_unit_test(test_headers),
    };

    return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
