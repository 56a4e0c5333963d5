/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * answer.c - what the kept prefix of an answer's body says (check.h):
 * the kind of a 503 (Nextcloud's refusal of an account, its maintenance
 * mode, anything else) and the account named by a 207's
 * current-user-principal.
 *
 * No XML library: a linear scan for start tags by local name (any
 * namespace prefix, attributes skipped), whose text runs to the next '<'.
 * The text is trimmed and the five predefined entities and numeric
 * character references of ASCII are decoded.  Every scan is bounded by
 * the prefix (at most HB_BODY_PREFIX bytes); a tag or text cut by the end
 * of the prefix is not found.  Nothing here allocates.
 */
#include "check.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define TEXT_MAX 512              /* decoded text of one element, bytes */
#define CLASS_LOGIN "OC\\User\\LoginException"
#define CLASS_DISABLED "OC\\User\\DisabledUserException"
#define CLASS_MAINTENANCE "OCA\\DAV\\Exception\\ServerMaintenanceMode"
#define PRINCIPALS "/principals/users/"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-' || c == '_' || c == '.';
}

/* An element found in the body: where its text starts, or none. */
struct element {
    size_t text;              /* offset of the text after the start tag */
    size_t text_end;          /* offset of the '<' that ends the text */
    bool empty;               /* <x/>: no text */
};

/*
 * The first start tag at or after from whose local name is local (with or
 * without a prefix): true and *el filled, or false (none, or cut off).
 */
static bool find_element(const char *body, size_t len, size_t from, const char *local,
                         struct element *el)
{
    size_t local_len = strlen(local);

    for (size_t i = from; i < len; i++) {
        size_t name = i + 1, end = name, colon = len;
        const char *close;

        if (body[i] != '<')
            continue;
        while (end < len && (is_name_char(body[end]) || body[end] == ':')) {
            if (body[end] == ':')
                colon = end;
            end++;
        }
        if (colon != len)
            name = colon + 1;
        if (end >= len || end - name != local_len || memcmp(body + name, local, local_len) != 0
            || !(is_space(body[end]) || body[end] == '>' || body[end] == '/'))
            continue;
        close = memchr(body + end, '>', len - end);
        if (close == NULL)
            return false;
        el->empty = close > body + end && close[-1] == '/';
        el->text = (size_t) (close - body) + 1;
        close = memchr(body + el->text, '<', len - el->text);
        if (close == NULL)
            return false;
        el->text_end = (size_t) (close - body);
        return true;
    }
    return false;
}

/* Decode one entity at s (after '&', n bytes available) into *out; its length, or 0. */
static size_t decode_entity(const char *s, size_t n, char *out)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    unsigned long code = 0;
    size_t i = 1, digits = 0;
    bool hex;

    for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
        size_t l = strlen(named[k].name);

        if (n >= l && memcmp(s, named[k].name, l) == 0) {
            *out = named[k].c;
            return l;
        }
    }
    if (n < 3 || s[0] != '#')
        return 0;
    hex = s[1] == 'x' || s[1] == 'X';
    for (i = hex ? 2 : 1; i < n && digits < 6 && s[i] != ';'; i++, digits++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0'
                : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

        if (v < 0)
            return 0;
        code = code * (hex ? 16 : 10) + (unsigned long) v;
    }
    if (digits == 0 || i >= n || s[i] != ';' || code == 0 || code > 0x7f)
        return 0;
    *out = (char) code;
    return i + 1;
}

/*
 * The text of el, trimmed, entities decoded, NUL-terminated in out (room
 * for TEXT_MAX bytes).  False when it does not fit or has an entity that
 * is not understood.
 */
static bool element_text(const char *body, const struct element *el, char out[TEXT_MAX])
{
    size_t a = el->text, b = el->text_end, n = 0;

    if (el->empty) {
        out[0] = '\0';
        return true;
    }
    while (a < b && is_space(body[a]))
        a++;
    while (b > a && is_space(body[b - 1]))
        b--;
    while (a < b) {
        char c = body[a];
        size_t used = 1;

        if (c == '&') {
            used = decode_entity(body + a + 1, b - a - 1, &c);
            if (used == 0)
                return false;
            used++;
        }
        if (n + 1 >= TEXT_MAX)
            return false;
        out[n++] = c;
        a += used;
    }
    out[n] = '\0';
    return true;
}

/* True when text names class: "CLASS", "\CLASS", "CLASS: message" or "CLASS (...)". */
static bool names_class(const char *text, const char *class)
{
    size_t l = strlen(class);

    if (text[0] == '\\')
        text++;
    return strncmp(text, class, l) == 0
           && (text[l] == '\0' || text[l] == ':' || is_space(text[l]));
}

enum hb_503 hb_503_kind(const char *body, size_t len)
{
    char exception[TEXT_MAX] = "", message[TEXT_MAX] = "";
    struct element el;
    bool have_exception = false, have_message = false;

    if (find_element(body, len, 0, "exception", &el))
        have_exception = element_text(body, &el, exception);
    if (find_element(body, len, 0, "message", &el))
        have_message = element_text(body, &el, message);
    if (have_exception && names_class(exception, CLASS_MAINTENANCE))
        return HB_503_MAINTENANCE;
    if ((have_exception && names_class(exception, CLASS_DISABLED))
        || (have_message && (names_class(message, CLASS_LOGIN) || names_class(message, CLASS_DISABLED))))
        return HB_503_ACCOUNT_REFUSED;
    return HB_503_OTHER;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode the n bytes at s into out (HB_USER_BUF); false on a bad or refused result. */
static bool decode_uid(const char *s, size_t n, char out[HB_USER_BUF])
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c == '%') {
            int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return false;
            c = (unsigned char) (hi * 16 + lo);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '/' || k + 1 >= HB_USER_BUF)
            return false;
        out[k++] = (char) c;
    }
    out[k] = '\0';
    return k > 0;
}

bool hb_207_account(const char *body, size_t len, char account[HB_USER_BUF])
{
    char href[TEXT_MAX];
    const char *users = NULL, *uid;
    struct element principal, link;
    size_t n;

    account[0] = '\0';
    if (!find_element(body, len, 0, "current-user-principal", &principal) || principal.empty
        || !find_element(body, len, principal.text, "href", &link) || link.empty)
        return false;
    /* The href must be inside the principal: only blanks between the two tags. */
    for (size_t i = principal.text; i < principal.text_end; i++)
        if (!is_space(body[i]))
            return false;
    if (memchr(body + principal.text_end, '>', link.text - principal.text_end) !=
        body + link.text - 1 || !element_text(body, &link, href))
        return false;
    for (const char *p = href; (p = strstr(p, PRINCIPALS)) != NULL; p++)
        users = p;
    if (users == NULL)
        return false;
    uid = users + strlen(PRINCIPALS);
    n = strlen(uid);
    if (n > 0 && uid[n - 1] == '/')
        n--;
    if (!decode_uid(uid, n, account)) {
        account[0] = '\0';
        return false;
    }
    return true;
}
