/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * validate.c - pure input checks; no PAM, no network, no allocation.
 */
#include "validate.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *hb_input_text(enum hb_input result)
{
    switch (result) {
    case HB_INPUT_OK: return "ok";
    case HB_USER_EMPTY: return "user name is empty";
    case HB_USER_TOO_LONG: return "user name is longer than 255 bytes";
    case HB_USER_COLON: return "user name contains ':'";
    case HB_USER_CONTROL: return "user name contains a control character";
    case HB_USER_NOT_UTF8: return "user name is not valid UTF-8";
    case HB_PASSWORD_EMPTY: return "password is empty";
    case HB_PASSWORD_TOO_LONG: return "password is longer than max_password_len";
    case HB_RHOST_CONTROL: return "rhost contains a control character";
    case HB_RHOST_TOO_LONG: return "rhost is longer than 255 bytes";
    }
    return "invalid input";
}

/* Length of the UTF-8 sequence starting at s (at most len bytes), 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
    uint32_t cp;
    size_t need;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

bool hb_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s;

    while (len > 0) {
        size_t n = utf8_sequence(p, len);

        if (n == 0)
            return false;
        p += n;
        len -= n;
    }
    return true;
}

enum hb_input hb_check_user(const char *user)
{
    size_t len;

    if (user == NULL || user[0] == '\0')
        return HB_USER_EMPTY;
    len = strnlen(user, HB_USER_MAX + 1);
    if (len > HB_USER_MAX)
        return HB_USER_TOO_LONG;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) user[i];

        if (hb_is_control(c))
            return HB_USER_CONTROL;
        if (c == ':')
            return HB_USER_COLON;
    }
    return hb_utf8_valid(user, len) ? HB_INPUT_OK : HB_USER_NOT_UTF8;
}

enum hb_input hb_check_password(const char *password, size_t max_len)
{
    if (password == NULL || password[0] == '\0')
        return HB_PASSWORD_EMPTY;
    if (strnlen(password, max_len + 1) > max_len)
        return HB_PASSWORD_TOO_LONG;
    return HB_INPUT_OK;
}

enum hb_input hb_rhost_ip(const char *rhost, char ip[HB_IP_BUF])
{
    unsigned char addr[16];
    size_t len;

    ip[0] = '\0';
    if (rhost == NULL)
        return HB_INPUT_OK;
    len = strnlen(rhost, HB_RHOST_MAX + 1);
    if (len > HB_RHOST_MAX)
        return HB_RHOST_TOO_LONG;
    for (size_t i = 0; i < len; i++)
        if (hb_is_control((unsigned char) rhost[i]))
            return HB_RHOST_CONTROL;
    if (inet_pton(AF_INET, rhost, addr) == 1) {
        inet_ntop(AF_INET, addr, ip, HB_IP_BUF);
    } else if (inet_pton(AF_INET6, rhost, addr) == 1) {
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

        if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0)
            inet_ntop(AF_INET, addr + 12, ip, HB_IP_BUF);
        else
            inet_ntop(AF_INET6, addr, ip, HB_IP_BUF);
    }
    return HB_INPUT_OK;
}

enum hb_input hb_map_user(const struct hb_config *cfg, const char *user, char out[HB_USER_BUF])
{
    enum hb_input rc = hb_check_user(user);
    char *at;
    size_t len;

    out[0] = '\0';
    if (rc != HB_INPUT_OK)
        return rc;
    len = strlen(user);
    memcpy(out, user, len + 1);
    if (cfg->user_lowercase)
        for (char *c = out; *c != '\0'; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char) (*c - 'A' + 'a');   /* ASCII only, whatever the locale */
    at = strchr(out, '@');
    if (cfg->user_strip_domain && at != NULL) {
        *at = '\0';
        at = NULL;
    }
    if (cfg->user_domain != NULL && at == NULL) {
        len = strlen(out);
        if (len + 1 + strlen(cfg->user_domain) > HB_USER_MAX)
            return HB_USER_TOO_LONG;
        out[len] = '@';
        strcpy(out + len + 1, cfg->user_domain);
    }
    return hb_check_user(out);
}

static void escape(const char *s, char *out, size_t outlen, bool field)
{
    size_t o = 0;

    if (outlen < 8) {
        if (outlen > 0)
            out[0] = '\0';
        return;
    }
    if (s == NULL)
        s = "-";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char) *s;
        int plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && !(field && (c == ' ' || c == '='));
        size_t need = plain ? 1 : 4;

        if (o + need + 4 > outlen) {
            memcpy(out + o, "...", 4);
            return;
        }
        if (plain)
            out[o++] = (char) c;
        else
            o += (size_t) snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

void hb_log_escape(const char *s, char *out, size_t outlen)
{
    escape(s, out, outlen, false);
}

void hb_log_field(const char *s, char *out, size_t outlen)
{
    escape(s, out, outlen, true);
}

/* One address or network of an address list: family, bytes, prefix bits. */
struct network {
    int family;
    unsigned char addr[16];
    unsigned bits;
};

/*
 * Parse len bytes at s ("ADDR" or "ADDR/BITS", IPv4 or IPv6) into net; an
 * IPv4-mapped IPv6 network of at least 96 bits becomes the IPv4 one, as
 * hb_rhost_ip() does for addresses.  False when it is neither.
 */
static bool parse_network(const char *s, size_t len, struct network *net)
{
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char text[HB_IP_BUF + 4];
    char *slash, *end;
    unsigned long bits;

    if (len == 0 || len >= sizeof(text))
        return false;
    memcpy(text, s, len);
    text[len] = '\0';
    slash = strchr(text, '/');
    if (slash != NULL)
        *slash = '\0';
    net->family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
    if (inet_pton(net->family, text, net->addr) != 1)
        return false;
    bits = net->family == AF_INET ? 32 : 128;
    if (slash != NULL) {
        if (slash[1] < '0' || slash[1] > '9' || (bits = strtoul(slash + 1, &end, 10), *end != '\0')
            || bits > (net->family == AF_INET ? 32u : 128u))
            return false;
    }
    net->bits = (unsigned) bits;
    if (net->family == AF_INET6 && net->bits >= 96 && memcmp(net->addr, v4mapped, 12) == 0) {
        memmove(net->addr, net->addr + 12, 4);
        net->family = AF_INET;
        net->bits -= 96;
    }
    return true;
}

/* True when addr (of net's family) lies in net. */
static bool in_network(const struct network *net, const unsigned char *addr)
{
    unsigned full = net->bits / 8, rest = net->bits % 8;
    unsigned char mask = (unsigned char) (0xff << (8 - rest));

    return memcmp(net->addr, addr, full) == 0
           && (rest == 0 || ((net->addr[full] ^ addr[full]) & mask) == 0);
}

/*
 * Walk a comma-separated list (spaces around entries ignored), calling
 * visit for each parsed entry; stops at the first entry that does not
 * parse (its text and length in *bad, *badlen) or for which visit says
 * true.  Returns -1 for a bad entry, 1 when visit said true, else 0.
 */
static int walk_networks(const char *list, bool (*visit)(const struct network *, const void *),
                         const void *arg, const char **bad, size_t *badlen)
{
    const char *s = list;
    int rc = 0;

    while (rc == 0) {
        size_t len;
        struct network net;

        s += strspn(s, " ");
        len = strcspn(s, ",");
        *bad = s;
        *badlen = len;
        while (len > 0 && s[len - 1] == ' ')
            len--;
        if (!parse_network(s, len, &net))
            rc = -1;
        else if (visit != NULL && visit(&net, arg))
            rc = 1;
        else if (s[*badlen] == '\0')
            break;
        s += *badlen + 1;
    }
    return rc;
}

bool hb_address_list_valid(const char *list, char *bad, size_t badlen)
{
    const char *entry = NULL;
    size_t len = 0;
    int rc = walk_networks(list, NULL, NULL, &entry, &len);

    if (rc < 0)
        snprintf(bad, badlen, "%.*s", (int) (len > 64 ? 64 : len), entry);
    return rc == 0;
}

/* The address an in_list search looks for. */
struct wanted {
    int family;
    unsigned char addr[16];
};

static bool matches(const struct network *net, const void *arg)
{
    const struct wanted *w = arg;

    return net->family == w->family && in_network(net, w->addr);
}

bool hb_address_in_list(const char *list, const char *ip)
{
    struct wanted w;
    const char *entry;
    size_t len;

    w.family = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
    if (list == NULL || inet_pton(w.family, ip, w.addr) != 1)
        return false;
    return walk_networks(list, matches, &w, &entry, &len) == 1;
}
