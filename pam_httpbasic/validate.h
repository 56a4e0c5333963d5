/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * validate.h - pure checks on the inputs of one login, before anything
 * reaches the wire: user name, password, PAM_RHOST, the user-name mapping
 * for the HTTP request, and escaping for log lines.
 */
#ifndef HB_VALIDATE_H
#define HB_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"

#define HB_USER_MAX 255          /* bytes in a user name */
#define HB_RHOST_MAX 255         /* bytes in PAM_RHOST */
#define HB_USER_BUF (HB_USER_MAX + 1)
#define HB_IP_BUF 46             /* INET6_ADDRSTRLEN */

enum hb_input {
    HB_INPUT_OK = 0,
    HB_USER_EMPTY,
    HB_USER_TOO_LONG,
    HB_USER_COLON,
    HB_USER_CONTROL,
    HB_USER_NOT_UTF8,
    HB_PASSWORD_EMPTY,
    HB_PASSWORD_TOO_LONG,
    HB_RHOST_CONTROL,
    HB_RHOST_TOO_LONG,
};

/* True for a control character: a byte below 0x20, or DEL. */
static inline bool hb_is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* A short English reason for a refused input, for the log line. */
const char *hb_input_text(enum hb_input result);

/* True when len bytes at s are well-formed UTF-8 (no overlongs, no surrogates). */
bool hb_utf8_valid(const char *s, size_t len);

/* A user name must be 1..255 bytes of UTF-8 without ':' or control characters. */
enum hb_input hb_check_user(const char *user);

/* A password must be non-empty and at most max_len bytes. */
enum hb_input hb_check_password(const char *password, size_t max_len);

/*
 * Decide what to forward for PAM_RHOST.  NULL or "" → OK with ip = "".
 * An IPv4 or IPv6 literal → OK with its canonical form in ip (an
 * IPv4-mapped IPv6 address becomes plain IPv4).  Anything else without
 * control characters (a host name) → OK with ip = "" (not forwarded).
 * Control characters or more than 255 bytes → an error.
 */
enum hb_input hb_rhost_ip(const char *rhost, char ip[HB_IP_BUF]);

/*
 * Apply user_lowercase, user_strip_domain and user_domain (in that order)
 * to user, writing the name to send into out, then check the result with
 * hb_check_user().
 */
enum hb_input hb_map_user(const struct hb_config *cfg, const char *user, char out[HB_USER_BUF]);

/*
 * An address list (guard_exempt): comma-separated IPv4/IPv6 addresses or
 * networks ADDR/BITS, spaces around entries allowed.  False with the first
 * bad entry (cut at 64 bytes) in bad when one is neither.
 */
bool hb_address_list_valid(const char *list, char *bad, size_t badlen);

/* True when ip (canonical, as from hb_rhost_ip) is in a valid list; false for a NULL list. */
bool hb_address_in_list(const char *list, const char *ip);

/*
 * Copy s into out (size outlen) for a log line: printable ASCII is kept,
 * '"' and '\\' and every other byte become \xNN; long values are cut with
 * "...".  NULL becomes "-".
 */
void hb_log_escape(const char *s, char *out, size_t outlen);

/*
 * The same for the value of a KEY=VALUE field of a log line (user=,
 * rhost=): a space and '=' become \x20 and \x3d as well, so that a user
 * name can never add a field of its own (a fake "rhost=" that a log reader
 * such as fail2ban would take for the client's address).
 */
void hb_log_field(const char *s, char *out, size_t outlen);

#endif
