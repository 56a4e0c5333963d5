/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_validate.c - libFuzzer target for the input validators of validate.c.
 *
 * Input layout:
 *   byte 0      flags: 1 user_lowercase, 2 user_strip_domain, 4 user_domain
 *               set, 8 log buffer + 256 bytes
 *   bytes 1-2   password limit: 1 + (big-endian value % 4096), the range of
 *               max_password_len
 *   byte 3      size of the log-escape buffer (0..255, +256 with flag 8)
 *   the rest    the value: used as user name, password, PAM_RHOST and log
 *               text (a C string: it ends at its first NUL); the bytes after
 *               that NUL up to the next one are the user_domain.  The whole
 *               rest, NULs included, also goes to hb_utf8_valid().
 *
 * Every result is compared with an oracle written here from the contracts
 * in validate.h (not from validate.c); buffers are heap-allocated at their
 * exact documented size so that AddressSanitizer sees any overflow.
 */
#include <arpa/inet.h>

#include "options.h"
#include "fuzz_common.h"
#include "validate.h"

/* Well-formed UTF-8 after the Unicode standard's table 3-7. */
static bool ref_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        unsigned char lo = 0x80, hi = 0xbf;
        size_t more;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            more = 1;
        else if (c == 0xe0)
            more = 2, lo = 0xa0;
        else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
            more = 2;
        else if (c == 0xed)
            more = 2, hi = 0x9f;
        else if (c == 0xf0)
            more = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3)
            more = 3;
        else if (c == 0xf4)
            more = 3, hi = 0x8f;
        else
            return false;
        if (len - i - 1 < more)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= more; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += more + 1;
    }
    return true;
}

/* The contract of hb_check_user(): 1..255 bytes of UTF-8 without ':' or control characters. */
static bool ref_user_ok(const char *user)
{
    size_t len = strlen(user);

    return len >= 1 && len <= HB_USER_MAX && strchr(user, ':') == NULL && !fuzz_has_control(user)
           && ref_utf8((const unsigned char *) user, len);
}

static void check_user(const char *user)
{
    enum hb_input rc = hb_check_user(user);

    FUZZ_CHECK((rc == HB_INPUT_OK) == ref_user_ok(user));
    FUZZ_CHECK(hb_input_text(rc) != NULL && hb_input_text(rc)[0] != '\0');
    if (rc == HB_INPUT_OK) {
        FUZZ_CHECK(strlen(user) <= 255);
        FUZZ_CHECK(strchr(user, ':') == NULL);
        FUZZ_CHECK(!fuzz_has_control(user));
    }
}

static void check_password(const char *password, size_t max_len)
{
    enum hb_input rc = hb_check_password(password, max_len);
    size_t len = strlen(password);

    FUZZ_CHECK((rc == HB_INPUT_OK) == (len >= 1 && len <= max_len));
    FUZZ_CHECK(rc == HB_INPUT_OK || rc == HB_PASSWORD_EMPTY || rc == HB_PASSWORD_TOO_LONG);
}

/* Parse an IP literal into 16 bytes (IPv4 as IPv4-mapped IPv6); 0 when it is none. */
static int parse_ip(const char *s, unsigned char addr[16])
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (inet_pton(AF_INET, s, addr + 12) == 1) {
        memcpy(addr, prefix, sizeof(prefix));
        return 4;
    }
    if (inet_pton(AF_INET6, s, addr) == 1)
        return memcmp(addr, prefix, sizeof(prefix)) == 0 ? 4 : 6;
    return 0;
}

static void check_rhost(const char *rhost)
{
    char *ip = malloc(HB_IP_BUF);
    size_t len = strlen(rhost);
    unsigned char in[16], out[16];
    enum hb_input rc, expected;
    int family;

    if (ip == NULL)
        abort();
    memset(ip, 'X', HB_IP_BUF);
    rc = hb_rhost_ip(rhost, ip);
    expected = len > HB_RHOST_MAX ? HB_RHOST_TOO_LONG
               : fuzz_has_control(rhost) ? HB_RHOST_CONTROL : HB_INPUT_OK;
    FUZZ_CHECK(rc == expected);
    FUZZ_CHECK(fuzz_terminated(ip, HB_IP_BUF));
    FUZZ_CHECK(!fuzz_has_control(ip));
    if (rc != HB_INPUT_OK) {
        FUZZ_CHECK(ip[0] == '\0');
    } else {
        family = parse_ip(rhost, in);
        /* An IP literal is forwarded, anything else (a host name) is not. */
        FUZZ_CHECK((ip[0] != '\0') == (family != 0));
        if (ip[0] != '\0') {
            /* The output re-parses, names the same address, an IPv4-mapped
             * address comes out as plain IPv4, and it is canonical. */
            FUZZ_CHECK(parse_ip(ip, out) == family);
            FUZZ_CHECK(memcmp(in, out, 16) == 0);
            FUZZ_CHECK((family == 4) == (inet_pton(AF_INET, ip, out) == 1));
            FUZZ_CHECK(strspn(ip, "0123456789abcdef.:") == strlen(ip));
            {
                char again[HB_IP_BUF];

                FUZZ_CHECK(hb_rhost_ip(ip, again) == HB_INPUT_OK);
                FUZZ_CHECK(strcmp(ip, again) == 0);
            }
        }
    }
    free(ip);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void check_log_escape(const char *s, size_t outlen)
{
    char *out = malloc(outlen > 0 ? outlen : 1);
    const char *text = s != NULL ? s : "-";
    size_t slen = strlen(text), olen, dlen = 0;
    unsigned char *decoded;
    bool cut;

    if (out == NULL)
        abort();
    memset(out, 'X', outlen > 0 ? outlen : 1);
    hb_log_escape(s, out, outlen);   /* outlen 0: must not write at all (checked below) */
    if (outlen == 0) {
        FUZZ_CHECK(out[0] == 'X');
        free(out);
        return;
    }
    FUZZ_CHECK(fuzz_terminated(out, outlen));
    if (outlen < 8) {
        FUZZ_CHECK(out[0] == '\0');
        free(out);
        return;
    }
    olen = strlen(out);
    for (size_t i = 0; i < olen; i++) {
        FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7f);   /* printable ASCII only */
        FUZZ_CHECK(out[i] != '"');
    }
    /* Decode \xNN escapes; the result is the input, or a prefix of it followed by "...". */
    decoded = malloc(olen + 1);
    if (decoded == NULL)
        abort();
    cut = olen >= 3 && memcmp(out + olen - 3, "...", 3) == 0;
    for (size_t i = 0; i < olen;) {
        if (out[i] == '\\') {
            FUZZ_CHECK(i + 3 < olen && out[i + 1] == 'x');
            FUZZ_CHECK(hex_value(out[i + 2]) >= 0 && hex_value(out[i + 3]) >= 0);
            decoded[dlen++] = (unsigned char) (hex_value(out[i + 2]) * 16 + hex_value(out[i + 3]));
            i += 4;
        } else {
            decoded[dlen++] = (unsigned char) out[i++];
        }
    }
    if (!(dlen == slen && memcmp(decoded, text, slen) == 0)) {
        FUZZ_CHECK(cut);
        FUZZ_CHECK(olen + 8 >= outlen);   /* cut only when the buffer is (nearly) full */
        FUZZ_CHECK(dlen - 3 < slen && memcmp(decoded, text, dlen - 3) == 0);
    }
    free(decoded);
    free(out);
}

/* What hb_map_user() must produce, after validate.h; false when it must refuse. */
static bool ref_map_user(const struct hb_config *cfg, const char *user, char *out, size_t outlen)
{
    char *at;

    if (!ref_user_ok(user))
        return false;
    snprintf(out, outlen, "%s", user);
    if (cfg->user_lowercase)
        for (char *c = out; *c != '\0'; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char) (*c - 'A' + 'a');
    at = strchr(out, '@');
    if (cfg->user_strip_domain && at != NULL) {
        *at = '\0';
        at = NULL;
    }
    if (cfg->user_domain != NULL && at == NULL) {
        size_t len = strlen(out);

        if (len + 1 + strlen(cfg->user_domain) >= outlen)
            return false;
        snprintf(out + len, outlen - len, "@%s", cfg->user_domain);
    }
    return ref_user_ok(out);
}

static void check_map_user(const struct hb_config *cfg, const char *user)
{
    char *out = malloc(HB_USER_BUF);
    char expected[HB_USER_BUF + 4096 + 2];
    bool ok = ref_map_user(cfg, user, expected, sizeof(expected));
    enum hb_input rc;

    if (out == NULL)
        abort();
    memset(out, 'X', HB_USER_BUF);
    rc = hb_map_user(cfg, user, out);
    FUZZ_CHECK((rc == HB_INPUT_OK) == ok);
    FUZZ_CHECK(hb_input_text(rc) != NULL);
    if (rc == HB_INPUT_OK) {
        FUZZ_CHECK(fuzz_terminated(out, HB_USER_BUF));
        FUZZ_CHECK(strcmp(out, expected) == 0);
        FUZZ_CHECK(hb_check_user(out) == HB_INPUT_OK);
        if (cfg->user_strip_domain && cfg->user_domain == NULL)
            FUZZ_CHECK(strchr(out, '@') == NULL);
        if (cfg->user_domain != NULL)
            FUZZ_CHECK(strchr(out, '@') != NULL);
    }
    free(out);
}

/*
 * guard_exempt lists: the checker never crashes and names a bad entry
 * within its buffer; an address of a valid list that is itself a single
 * address is found in it.
 */
static void check_address_list(const char *list)
{
    char bad[65];
    char ip[HB_IP_BUF];
    bool valid = hb_address_list_valid(list, bad, sizeof(bad));

    FUZZ_CHECK(valid || strlen(bad) < sizeof(bad));
    if (valid && hb_rhost_ip(list, ip) == HB_INPUT_OK && ip[0] != '\0' && strchr(list, ',') == NULL
        && strchr(list, '/') == NULL)
        FUZZ_CHECK(hb_address_in_list(list, ip));
    hb_address_in_list(list, "192.0.2.1");
    hb_address_in_list(list, "2001:db8::1");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    uint8_t head[4] = {0, 0, 0, 0};
    size_t hlen = size < 4 ? size : 4;
    struct hb_config cfg;
    char *value, *domain;
    size_t vlen, max_len, outlen;

    if (!once) {
        char ip[HB_IP_BUF] = "X";

        once = true;
        FUZZ_CHECK(hb_rhost_ip(NULL, ip) == HB_INPUT_OK && ip[0] == '\0');
        FUZZ_CHECK(hb_check_user(NULL) == HB_USER_EMPTY);
        FUZZ_CHECK(hb_check_password(NULL, 512) == HB_PASSWORD_EMPTY);
        check_log_escape(NULL, 16);
    }
    memcpy(head, data, hlen);
    data += hlen;
    size -= hlen;
    max_len = 1 + (((size_t) head[1] << 8 | head[2]) % 4096);
    outlen = head[3] + ((head[0] & 8) ? 256u : 0u);

    value = fuzz_strndup(data, size);
    vlen = strlen(value);
    domain = vlen < size ? value + vlen + 1 : NULL;   /* ends at the next NUL or the end */

    FUZZ_CHECK(hb_utf8_valid((const char *) data, size) == ref_utf8(data, size));
    FUZZ_CHECK(hb_utf8_valid(value, vlen) == ref_utf8((const unsigned char *) value, vlen));
    check_user(value);
    check_password(value, max_len);
    check_rhost(value);
    check_log_escape(value, outlen);

    memset(&cfg, 0, sizeof(cfg));
    cfg.user_lowercase = (head[0] & 1) != 0;
    cfg.user_strip_domain = (head[0] & 2) != 0;
    cfg.user_domain = (head[0] & 4) != 0 ? (domain != NULL ? domain : "example.org") : NULL;
    check_map_user(&cfg, value);
    check_address_list(value);

    free(value);
    return 0;
}
