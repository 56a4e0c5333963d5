/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * curl_bench.c - the physical limit of the in-process path: N PROPFIND
 * requests through one libcurl easy handle (one keep-alive TLS connection),
 * the request pam_httpbasic sends (same method, headers, body and
 * Basic credentials; only the User-Agent differs), with no PAM around it.
 *
 *   curl_bench [-n N] [--cafile CA] [--xff IP] URL USER PASSWORD
 *
 * Output, one "key=value" per line: n, ok, failed, wall_s, requests_per_s,
 * user_s, sys_s, cpu_us_per_request.  A request is ok when the answer is
 * 207.  Exit 0 when every request was ok.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char body[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<d:propfind xmlns:d=\"DAV:\"><d:prop><d:resourcetype/></d:prop></d:propfind>\n";

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void) data;
    (void) userdata;
    return size * nmemb;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
    return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: curl_bench [-n N] [--cafile CA] [--xff IP] URL USER PASSWORD\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *cafile = NULL, *xff = "127.0.0.1";
    char xff_header[128];
    long n = 1000, ok = 0, failed = 0, status = 0;
    struct curl_slist *headers = NULL;
    struct rusage ru0, ru1;
    double t0, t1;
    CURL *h;
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (i + 1 >= argc)
            usage();
        else if (strcmp(argv[i], "-n") == 0)
            n = atol(argv[++i]);
        else if (strcmp(argv[i], "--cafile") == 0)
            cafile = argv[++i];
        else if (strcmp(argv[i], "--xff") == 0)
            xff = argv[++i];
        else
            usage();
    }
    if (argc - i != 3 || n < 1)
        usage();

    curl_global_init(CURL_GLOBAL_DEFAULT);
    h = curl_easy_init();
    snprintf(xff_header, sizeof(xff_header), "X-Forwarded-For: %s", xff);
    headers = curl_slist_append(headers, "Depth: 0");
    headers = curl_slist_append(headers, "Expect:");
    headers = curl_slist_append(headers, "Content-Type: application/xml; charset=utf-8");
    headers = curl_slist_append(headers, xff_header);
    curl_easy_setopt(h, CURLOPT_URL, argv[i]);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PROPFIND");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long) (sizeof(body) - 1));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "curl_bench");
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, argv[i + 1]);
    curl_easy_setopt(h, CURLOPT_PASSWORD, argv[i + 2]);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    if (cafile != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, cafile);

    getrusage(RUSAGE_SELF, &ru0);
    t0 = now_s();
    for (long k = 0; k < n; k++) {
        CURLcode rc = curl_easy_perform(h);

        status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc == CURLE_OK && status == 207) {
            ok++;
        } else {
            if (failed == 0)
                fprintf(stderr, "curl_bench: %s, status %ld\n", curl_easy_strerror(rc), status);
            failed++;
        }
    }
    t1 = now_s();
    getrusage(RUSAGE_SELF, &ru1);

    double user = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
    double sys = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
    printf("n=%ld\nok=%ld\nfailed=%ld\n", n, ok, failed);
    printf("wall_s=%.3f\nrequests_per_s=%.1f\n", t1 - t0, (double) n / (t1 - t0));
    printf("user_s=%.3f\nsys_s=%.3f\ncpu_us_per_request=%.1f\n", user, sys,
           (user + sys) * 1e6 / (double) n);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return failed == 0 ? 0 : 1;
}
