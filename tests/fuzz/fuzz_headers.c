/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_headers.c - libFuzzer target for the request headers of check.c.
 *
 * The input is split on NUL: field 0 is PAM_RHOST, which goes through
 * hb_rhost_ip() as in the module; field 1, when present, is the value of
 * forward_header=, field 2 the value of method=, further fields are extra
 * module arguments (config= ones are dropped: no file is read).  The
 * arguments go through hb_config_load() with a fixed https url; when both
 * are accepted, hb_build_headers() builds the header list.  hb_check() is
 * never called: nothing goes on the network.
 *
 * Invariants: no header line holds CR, LF or another control character;
 * every line is "Name: value" with a token name; never an Authorization,
 * Cookie or X-Requested-With header (nor any other name twice); exactly
 * one forwarded-address line, "HEADER: IP" whole, when a header and an IP
 * are set, else none; Depth: 0 always; the XML Content-Type only for
 * PROPFIND.
 */
#include <curl/curl.h>
#include <strings.h>

#include "check.h"
#include "options.h"
#include "fuzz_common.h"
#include "validate.h"

#define MAX_ARGS 16
#define MAX_LINES 16

static bool is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void check_headers(const struct hb_config *cfg, const char *ip)
{
    struct curl_slist *list = hb_build_headers(cfg, ip);
    const char *names[MAX_LINES];
    size_t count = 0, forwarded = 0, depth = 0, content_type = 0;
    bool want_forward = cfg->forward_header != NULL && ip != NULL && ip[0] != '\0';

    FUZZ_CHECK(list != NULL);
    for (struct curl_slist *l = list; l != NULL; l = l->next) {
        const char *line = l->data;
        const char *colon;
        size_t namelen;

        FUZZ_CHECK(line != NULL);
        FUZZ_CHECK(strchr(line, '\r') == NULL && strchr(line, '\n') == NULL);
        FUZZ_CHECK(!fuzz_has_control(line));
        colon = strchr(line, ':');
        FUZZ_CHECK(colon != NULL && colon > line);
        namelen = (size_t) (colon - line);
        for (size_t i = 0; i < namelen; i++)
            FUZZ_CHECK(is_token_char(line[i]));
        FUZZ_CHECK(!(namelen == 13 && strncasecmp(line, "Authorization", 13) == 0));
        FUZZ_CHECK(!(namelen == 6 && strncasecmp(line, "Cookie", 6) == 0));
        FUZZ_CHECK(!(namelen == 16 && strncasecmp(line, "X-Requested-With", 16) == 0));
        FUZZ_CHECK(!(namelen == 19 && strncasecmp(line, "Proxy-Authorization", 19) == 0));
        FUZZ_CHECK(count < MAX_LINES);
        for (size_t i = 0; i < count; i++)
            FUZZ_CHECK(!(strncasecmp(names[i], line, namelen) == 0 && names[i][namelen] == ':'));
        names[count++] = line;

        if (namelen == 5 && strncasecmp(line, "Depth", 5) == 0) {
            FUZZ_CHECK(strcmp(line, "Depth: 0") == 0);
            depth++;
        }
        if (namelen == 12 && strncasecmp(line, "Content-Type", 12) == 0)
            content_type++;
        if (cfg->forward_header != NULL && namelen == strlen(cfg->forward_header)
            && strncasecmp(line, cfg->forward_header, namelen) == 0) {
            FUZZ_CHECK(want_forward);
            FUZZ_CHECK(strncmp(line, cfg->forward_header, namelen) == 0);
            FUZZ_CHECK(strncmp(colon, ": ", 2) == 0 && strcmp(colon + 2, ip) == 0);
            forwarded++;
        }
    }
    FUZZ_CHECK(depth == 1);
    FUZZ_CHECK(forwarded == (want_forward ? 1u : 0u));
    FUZZ_CHECK(content_type == (strcmp(cfg->method, "PROPFIND") == 0 ? 1u : 0u));
    curl_slist_free_all(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = fuzz_strndup(data, size);
    char *fields[MAX_ARGS + 3];
    size_t nfields = 0;
    char *start = copy;
    const char *argv[MAX_ARGS + 3];
    char *owned[2] = {NULL, NULL};
    int argc = 0;
    struct hb_config cfg;
    char err[HB_ERROR_LEN];
    char ip[HB_IP_BUF];

    for (size_t i = 0; i <= size && nfields < MAX_ARGS + 3; i++) {
        if (i == size || copy[i] == '\0') {
            fields[nfields++] = start;
            start = copy + i + 1;
        }
    }
    argv[argc++] = "url=https://cloud.example.org/remote.php/dav/";
    for (size_t f = 1; f < 3 && f < nfields; f++) {
        const char *key = f == 1 ? "forward_header=" : "method=";
        size_t len = strlen(key) + strlen(fields[f]) + 1;

        owned[f - 1] = malloc(len);
        if (owned[f - 1] == NULL)
            abort();
        snprintf(owned[f - 1], len, "%s%s", key, fields[f]);
        argv[argc++] = owned[f - 1];
    }
    for (size_t f = 3; f < nfields; f++)
        if (fields[f][0] != '\0' && strncmp(fields[f], "config", 6) != 0)
            argv[argc++] = fields[f];

    if (hb_config_load(&cfg, argc, argv, err, sizeof(err)) == 0
        && hb_rhost_ip(fields[0], ip) == HB_INPUT_OK) {
        check_headers(&cfg, ip);
        check_headers(&cfg, "");
        check_headers(&cfg, NULL);
    }
    hb_config_free(&cfg);
    free(owned[0]);
    free(owned[1]);
    free(copy);
    return 0;
}
