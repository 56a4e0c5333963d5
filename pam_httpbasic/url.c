/* SPDX-License-Identifier: BSD-3-Clause */
/* url.c - the check of one url= value, remembered per process (see url.h). */
#include "url.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define MEMO_SLOTS 8

struct memo {
    char *url;                   /* the text checked; NULL: free slot */
    bool allow_http;
    char *normalised;
    char host[HB_HOST_LEN];
};

/*
 * Only ever tried, never waited for.  A child forked while another thread
 * held it finds it held for good and always parses: slower, never stuck.
 * It must not be reset in an atfork handler: a slot may be half replaced
 * at the fork.
 */
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t memo_hits;         /* recalls served, for the tests (hb_url_memo_hits) */
static struct memo memo[MEMO_SLOTS];
static size_t memo_next;         /* the slot replaced next when all are used */

/* Copy a remembered result for (url, allow_http); true when there was one. */
static bool recall(const char *url, bool allow_http, char **normalised, char host[HB_HOST_LEN])
{
    bool found = false;

    if (pthread_mutex_trylock(&memo_lock) != 0)
        return false;
    for (size_t i = 0; i < MEMO_SLOTS && !found; i++) {
        if (memo[i].url == NULL || memo[i].allow_http != allow_http || strcmp(memo[i].url, url) != 0)
            continue;
        *normalised = strdup(memo[i].normalised);
        found = *normalised != NULL;
        if (found) {
            memcpy(host, memo[i].host, HB_HOST_LEN);
            memo_hits++;
        }
    }
    pthread_mutex_unlock(&memo_lock);
    return found;
}

/* Remember an accepted result (best effort: out of memory or a busy table only skips it). */
static void remember(const char *url, bool allow_http, const char *normalised, const char host[HB_HOST_LEN])
{
    char *u, *n;
    struct memo *m;

    if (pthread_mutex_trylock(&memo_lock) != 0)
        return;
    u = strdup(url);
    n = strdup(normalised);
    if (u != NULL && n != NULL) {
        m = &memo[memo_next];
        memo_next = (memo_next + 1) % MEMO_SLOTS;
        free(m->url);
        free(m->normalised);
        *m = (struct memo) {.url = u, .allow_http = allow_http, .normalised = n};
        memcpy(m->host, host, HB_HOST_LEN);
        u = n = NULL;
    }
    free(u);
    free(n);
    pthread_mutex_unlock(&memo_lock);
}

/* The check itself, with libcurl's parser. */
static int parse(const char *in, bool allow_http, char **normalised, char host_out[HB_HOST_LEN],
                 char *why, size_t whylen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *password = NULL, *url = NULL;
    int rc = -1;

    if (u == NULL)
        snprintf(why, whylen, "out of memory");
    else if (curl_url_set(u, CURLUPART_URL, in, CURLU_NO_AUTHORITY) != CURLUE_OK
             || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        snprintf(why, whylen, "\"%s\" is not a valid URL; write it as https://HOST/remote.php/dav/", in);
    else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
        snprintf(why, whylen, "scheme %s is not allowed; use https://", scheme);
    else if (strcmp(scheme, "http") == 0 && !allow_http)
        snprintf(why, whylen, "http:// sends passwords in clear text; use https:// or set allow_http");
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
        snprintf(why, whylen, "\"%s\" has no host; write it as https://HOST/remote.php/dav/", in);
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK
             || curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK)
        snprintf(why, whylen, "must not contain credentials; remove the user:password@ part"
                 " (the user's own credentials are sent)");
    else if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK || strlen(url) > HB_MAX_VALUE_LEN
             || (*normalised = strdup(url)) == NULL)
        snprintf(why, whylen, "\"%s\" cannot be normalised", in);
    else {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
            snprintf(host_out, HB_HOST_LEN, "%s:%s", host, port);
        else
            snprintf(host_out, HB_HOST_LEN, "%s", host);
        rc = 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(u);
    return rc;
}

int hb_url_check(const char *url, bool allow_http, char **normalised, char host[HB_HOST_LEN],
                 char *why, size_t whylen)
{
    *normalised = NULL;
    if (recall(url, allow_http, normalised, host))
        return 0;
    if (parse(url, allow_http, normalised, host, why, whylen) != 0)
        return -1;
    remember(url, allow_http, *normalised, host);
    return 0;
}

size_t hb_url_memo_hits(void)
{
    size_t n = 0;

    if (pthread_mutex_trylock(&memo_lock) == 0) {
        n = memo_hits;
        pthread_mutex_unlock(&memo_lock);
    }
    return n;
}
