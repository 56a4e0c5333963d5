#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Hostile input through real PAM (pam_wrapper) against the real WebDAV
# server, table-driven.  Each case states the PAM result, a line the module
# must log, and whether a request may reach the server (counted in Apache's
# access log).  Three assertions per case.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_module
start_webdav

GOOD='Alice-App-Pass-1'
write_service plain "url=$WD_URL" "cafile=$WD_CA"
write_service lower "url=$WD_URL" "cafile=$WD_CA" user_lowercase

# hostile DESC CODE SENT LOG_ERE SERVICE USER [pam_driver options...]
#   SENT: yes (exactly one request reached the server) or no (none did).
hostile() {
    local desc=$1 code=$2 sent=$3 logre=$4 svc=$5 user=$6 count
    shift 6
    log_mark
    run_driver "$@" "$svc" "$user"
    count=$(log_count_new)
    is "$AUTH" "$code" "$desc: $code"
    like "$(module_log)" "$logre" "$desc: log /$logre/"
    if [ "$sent" = yes ]; then
        is "$count" 1 "$desc: the request reached the server"
    else
        is "$count" 0 "$desc: no request sent"
    fi
}

long() { head -c "$1" /dev/zero | tr '\0' "$2"; }

# ---- user names -------------------------------------------------------
hostile "user with ':'" PAM_USER_UNKNOWN no "auth refused: user=a:b rhost=-: user name contains ':'" \
    plain 'a:b' --password "$GOOD"
hostile "user 'alice:'" PAM_USER_UNKNOWN no "contains ':'" plain 'alice:' --password "$GOOD"
hostile "user with CR" PAM_USER_UNKNOWN no "user=alice\\\\x0d .*control character" \
    plain $'alice\r' --password "$GOOD"
hostile "user with LF + header" PAM_USER_UNKNOWN no "user=alice\\\\x0aX-Evil.*control character" \
    plain $'alice\nX-Evil: 1' --password "$GOOD"
hostile "user with ESC" PAM_USER_UNKNOWN no "control character" plain $'\e[31malice' --password "$GOOD"
hostile "user with DEL" PAM_USER_UNKNOWN no "control character" plain $'alice\x7f' --password "$GOOD"
hostile "user of 300 bytes" PAM_USER_UNKNOWN no "longer than 255 bytes" \
    plain "$(long 300 a)" --password "$GOOD"
hostile "user of 255 bytes" PAM_AUTH_ERR yes "auth denied: .*status=401" \
    plain "$(long 255 a)" --password "$GOOD"
hostile "user invalid UTF-8" PAM_USER_UNKNOWN no "not valid UTF-8" plain $'\xff\xfe' --password "$GOOD"
hostile "user overlong UTF-8 '/'" PAM_USER_UNKNOWN no "not valid UTF-8" \
    plain $'\xc0\xafetc' --password "$GOOD"
hostile "user UTF-16 surrogate" PAM_USER_UNKNOWN no "not valid UTF-8" \
    plain $'\xed\xa0\x80' --password "$GOOD"
hostile "user with leading space" PAM_AUTH_ERR yes "auth denied: user=\\\\x20alice " \
    plain ' alice' --password "$GOOD"
hostile "user with trailing space" PAM_AUTH_ERR yes "auth denied: user=alice\\\\x20 rhost" \
    plain 'alice ' --password "$GOOD"
hostile "user with %00" PAM_AUTH_ERR yes "auth denied: user=alice%00 " plain 'alice%00' --password "$GOOD"
hostile "user with %2e%2e%2f" PAM_AUTH_ERR yes "auth denied: user=%2e%2e%2f " \
    plain '%2e%2e%2f' --password "$GOOD"
hostile "user with %n%s (format string)" PAM_AUTH_ERR yes "auth denied: user=%n%s%x " \
    plain '%n%s%x' --password "$GOOD"
hostile "user valid UTF-8" PAM_AUTH_ERR yes "auth denied: user=\\\\xc3\\\\xa5lice " \
    plain $'\xc3\xa5lice' --password "$GOOD"
hostile "user ALICE lower-cased" PAM_SUCCESS yes "auth ok: user=ALICE " lower 'ALICE' --password "$GOOD"

# ---- passwords --------------------------------------------------------
hostile "empty password" PAM_AUTH_ERR no "password is empty" plain alice --password ''
hostile "password of 511 bytes" PAM_AUTH_ERR yes "auth denied: .*status=401" \
    plain alice --password "$(long 511 p)"
hostile "password of 512 bytes" PAM_AUTH_ERR yes "auth denied: .*status=401" \
    plain alice --password "$(long 512 p)"
hostile "password of 513 bytes" PAM_AUTH_ERR no "longer than max_password_len" \
    plain alice --password "$(long 513 p)"
HB_HUGE=$(long 10000 p) && export HB_HUGE
hostile "password of 10,000 bytes" PAM_AUTH_ERR no "longer than max_password_len" \
    plain alice --password-env HB_HUGE
HB_HIGH=$'\xff\xfe\x80\xc3' && export HB_HIGH
hostile "password with high bytes" PAM_AUTH_ERR yes "auth denied" plain alice --password-env HB_HIGH
hostile "password with NUL-like text" PAM_AUTH_ERR yes "auth denied" plain alice --password '\0%00\x00'
HB_CRLF=$'pw\r\nX-Evil: 1' && export HB_CRLF
hostile "password with CR LF header" PAM_AUTH_ERR yes "auth denied" plain alice --password-env HB_CRLF
hostile "right password with a ':' user-side check" PAM_SUCCESS yes "auth ok: user=bob " \
    plain bob --password 'pass word:with:colons'

# ---- PAM_RHOST --------------------------------------------------------
hostile "rhost host name" PAM_SUCCESS yes "auth ok: .*rhost=mail.example.org forwarded=- " \
    plain alice --password "$GOOD" --rhost mail.example.org
hostile "rhost CR LF injection" PAM_AUTH_ERR no "rhost=1.2.3.4\\\\x0d\\\\x0aX-Evil:\\\\x201: rhost contains a control" \
    plain alice --password "$GOOD" --rhost $'1.2.3.4\r\nX-Evil: 1'
hostile "rhost IPv4-mapped IPv6" PAM_SUCCESS yes "rhost=::ffff:1.2.3.4 forwarded=1.2.3.4 " \
    plain alice --password "$GOOD" --rhost '::ffff:1.2.3.4'
hostile "rhost [::1]" PAM_SUCCESS yes "rhost=\\[::1\\] forwarded=- " \
    plain alice --password "$GOOD" --rhost '[::1]'
hostile "rhost list" PAM_SUCCESS yes "rhost=1.2.3.4,\\\\x205.6.7.8 forwarded=- " \
    plain alice --password "$GOOD" --rhost '1.2.3.4, 5.6.7.8'
hostile "rhost of 1,000 bytes" PAM_AUTH_ERR no "rhost is longer than 255 bytes" \
    plain alice --password "$GOOD" --rhost "$(long 1000 h)"
hostile "rhost IPv6 upper case" PAM_SUCCESS yes "forwarded=2001:db8::1 " \
    plain alice --password "$GOOD" --rhost '2001:DB8:0::1'

# What reached the server for the forwarded cases: only canonical addresses.
log_mark
run_driver --password "$GOOD" --rhost '::ffff:10.9.8.7' plain alice
is "$(log_field "$(log_new | tail -n 1)" xff)" "10.9.8.7" "IPv4-mapped rhost is forwarded as plain IPv4"

# ---- configuration ----------------------------------------------------
config_case() {   # config_case DESC LOG_ERE ARG...
    local desc=$1 logre=$2
    shift 2
    write_service cfgcase "$@"
    hostile "config: $desc" PAM_SERVICE_ERR no "config error: .*$logre" cfgcase alice --password "$GOOD"
}
config_case "trailing garbage" 'timeout: "5000x" is not a number' "url=$WD_URL" timeout=5000x
config_case "negative number" 'timeout: "-1" is not a number' "url=$WD_URL" timeout=-1
config_case "huge number" 'timeout: "99999999999999999999"' "url=$WD_URL" timeout=99999999999999999999
config_case "duplicate key" 'debug: duplicate key' "url=$WD_URL" debug debug
config_case "unknown key" 'argument: bogus: unknown key' "url=$WD_URL" bogus=1
config_case "URL with credentials" 'url: must not contain credentials' \
    "url=https://alice:secret@127.0.0.1:$WD_PORT/remote.php/dav/"
config_case "http URL" 'url: http:// sends passwords in clear text' "url=http://127.0.0.1:$WD_HTTP_PORT/remote.php/dav/"
config_case "reserved forward_header" 'forward_header: "Authorization" is a header the module must control' \
    "url=$WD_URL" forward_header=Authorization
config_case "no url" 'url: missing' "cafile=$WD_CA"

good_conf=$TEST_TMP/good.conf
printf 'url = %s\ncafile = %s\n' "$WD_URL" "$WD_CA" >"$good_conf"
chmod 0600 "$good_conf"
ln -s "$good_conf" "$TEST_TMP/link.conf"
cp "$good_conf" "$TEST_TMP/open.conf" && chmod 0666 "$TEST_TMP/open.conf"
mkdir "$TEST_TMP/dir.conf"
config_case "config file is a symlink" 'it is a symbolic link' "config=$TEST_TMP/link.conf"
config_case "config file world-writable" 'must be writable only by its owner' \
    "config=$TEST_TMP/open.conf"
config_case "config file is a directory" 'is not a regular file' "config=$TEST_TMP/dir.conf"
config_case "config file missing" 'cannot open' "config=$TEST_TMP/missing.conf"
printf 'url = %s\nbogus = 1\n' "$WD_URL" >"$TEST_TMP/bad.conf" && chmod 0600 "$TEST_TMP/bad.conf"
config_case "unknown key in file" "bad.conf:2: bogus: unknown key" "config=$TEST_TMP/bad.conf"

write_service filecfg "config=$good_conf"
hostile "config file read" PAM_SUCCESS yes "auth ok: user=alice " filecfg alice --password "$GOOD"

# A user name cannot add a field to the log line (a fake rhost= a log reader would believe).
run_driver --password wrong --rhost 203.0.113.9 plain 'x rhost=10.9.9.9'
like "$(module_log)" '^auth (denied|refused): user=x\\x20rhost\\x3d10\.9\.9\.9 rhost=203\.0\.113\.9' \
    "a user name with ' rhost=' is escaped in the log line (\\x20, \\x3d)"
is "$(module_log | grep -o ' rhost=' | wc -l)" 1 "the log line has exactly one rhost= field"

# No secret in any log: every password used above.
all_logs=$(cat "$TEST_TMP"/run-*.err "$WD_LOG" "$WD"/error.log 2>/dev/null)
unlike "$all_logs" "$GOOD|pass word:with|$(long 40 p)" "no password appears in module or server logs"

done_testing
