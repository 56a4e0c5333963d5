#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Basic logins against the real Apache WebDAV server: right and wrong
# passwords (pamtester and pam_driver), awkward passwords and user names,
# PAM_RHOST forwarding, what the request looks like on the wire.
. "$(dirname "$0")/lib.sh"
need_module
start_webdav

write_service basic "url=$WD_URL" "cafile=$WD_CA"

# --- pamtester, the way an administrator would try it -------------------
log_mark
run_pamtester basic alice 'Alice-App-Pass-1' authenticate acct_mgmt
is "$RC" 0 "pamtester: alice with the right password is authenticated"
like "$(cat "$OUT" "$ERR")" 'successfully authenticated' "pamtester: says 'successfully authenticated'"
like "$(cat "$OUT" "$ERR")" 'account management done' "pamtester: acct_mgmt after a successful login passes"

run_pamtester basic alice 'wrong-password'
ok '[ "$RC" != 0 ]' "pamtester: alice with a wrong password is refused"
like "$(cat "$OUT" "$ERR")" 'Authentication failure' "pamtester: says 'Authentication failure'"
new=$(log_new)
is "$(printf '%s\n' "$new" | grep -c 'status=207')" 1 "server saw exactly one 207 (the right password)"
is "$(printf '%s\n' "$new" | grep -c 'status=401')" 1 "server saw exactly one 401 (the wrong password)"

PAMTESTER_OPTS=(-I rhost=192.0.2.10)
log_mark
run_pamtester basic alice 'Alice-App-Pass-1'
is "$RC" 0 "pamtester -I rhost=192.0.2.10: authenticated"
like "$(log_new)" 'xff="192\.0\.2\.10"' "pamtester rhost is forwarded as X-Forwarded-For"
PAMTESTER_OPTS=()

# --- pam_driver: result codes and log lines -----------------------------
log_mark
run_driver --password 'Alice-App-Pass-1' basic alice
is "$AUTH" PAM_SUCCESS "alice, right password: PAM_SUCCESS"
is "$RC" 0 "pam_driver exit status 0 on success"
like "$(module_log)" '^auth ok: user=alice rhost=- forwarded=- server=127\.0\.0\.1(:[0-9]+)? status=207 ms=[0-9]+$' \
    "log: 'auth ok: user=alice rhost=- forwarded=- server=127.0.0.1[:PORT] status=207 ms=N'"
is "$(module_log_prio | grep 'auth ok' | cut -d' ' -f1)" 6 "log: auth ok is logged at LOG_INFO"
line=$(log_new | grep 'uri="/remote.php/dav/"')
is "$(printf '%s\n' "$line" | grep -c .)" 1 "exactly one request per login"
is "$(log_field "$line" method)" PROPFIND "method is PROPFIND"
is "$(log_field "$line" status)" 207 "server answered 207"
is "$(log_field "$line" user)" alice "server authenticated user alice"
is "$(log_field "$line" depth)" 0 "Depth: 0 is sent"
like "$(log_field "$line" ua)" '^pam_httpbasic/[0-9]' "User-Agent is pam_httpbasic/VERSION"
is "$(log_field "$line" xrw)" - "no X-Requested-With header"
is "$(log_field "$line" cookie)" - "no Cookie header"
is "$(log_field "$line" expect)" - "no Expect header"
like "$(log_field "$line" ctype)" '^application/xml' "Content-Type is application/xml"
is "$(log_field "$line" xff)" - "no X-Forwarded-For without PAM_RHOST"
is "$(log_field "$line" authz)" basic "Basic credentials are sent"

log_mark
run_driver --password 'Alice-App-Pass-2' basic alice
is "$AUTH" PAM_AUTH_ERR "alice, wrong password: PAM_AUTH_ERR"
is "$RC" 1 "pam_driver exit status 1 on failure"
like "$(module_log)" '^auth denied: user=alice rhost=- forwarded=- server=127\.0\.0\.1(:[0-9]+)? status=401 ms=[0-9]+$' \
    "log: 'auth denied: ... status=401'"
is "$(module_log_prio | grep 'auth denied' | cut -d' ' -f1)" 5 "log: auth denied is logged at LOG_NOTICE"
like "$(log_new)" 'status=401 user="alice"' "server answered 401 for alice"

run_driver --password 'Alice-App-Pass-1' basic mallory
is "$AUTH" PAM_AUTH_ERR "unknown user: PAM_AUTH_ERR (server says 401)"

run_driver --password 'Alice-App-Pass-1' basic Alice
is "$AUTH" PAM_AUTH_ERR "user names are case-sensitive without user_lowercase"

# --- awkward passwords ---------------------------------------------------
run_driver --password 'pass word:with:colons' basic bob
is "$AUTH" PAM_SUCCESS "password with spaces and ':' (bob): PAM_SUCCESS"
run_driver --password 'pass word' basic bob
is "$AUTH" PAM_AUTH_ERR "bob, password cut at the first ':': PAM_AUTH_ERR"

export HB_PW='pässwörd'
run_driver --password-env HB_PW basic carol
is "$AUTH" PAM_SUCCESS "UTF-8 password (carol) via the environment: PAM_SUCCESS"
export HB_PW=$'p\xe4ssw\xf6rd'   # the same in Latin-1: a different password
run_driver --password-env HB_PW basic carol
is "$AUTH" PAM_AUTH_ERR "the Latin-1 spelling of carol's password is refused"
unset HB_PW

log_mark
run_driver --password '' basic alice
is "$AUTH" PAM_AUTH_ERR "empty password: PAM_AUTH_ERR"
like "$(module_log)" '^auth refused: user=alice rhost=-: .*password.*\(no request sent\)$' \
    "empty password: 'auth refused ... (no request sent)'"
is "$(log_count_new)" 0 "empty password: no request reaches the server"

log_mark
run_driver basic alice
ok '[ "$AUTH" != PAM_SUCCESS ] && [ "$AUTH" != none ]' "no password at all (conversation fails): refused ($AUTH)"
is "$(log_count_new)" 0 "no password at all: no request reaches the server"

# --- awkward user names: refused before anything is sent ----------------
log_mark
run_driver --password 'Alice-App-Pass-1' basic 'alice:Alice-App-Pass-1'
is "$AUTH" PAM_USER_UNKNOWN "user name with ':': PAM_USER_UNKNOWN"
like "$(module_log)" "^auth refused: user=alice:Alice-App-Pass-1 rhost=-: user name contains ':' \\(no request sent\\)$" \
    "user name with ':': 'auth refused ... user name contains ':' (no request sent)'"
run_driver --password 'Alice-App-Pass-1' basic $'alice\r\nX-Evil: 1'
is "$AUTH" PAM_USER_UNKNOWN "user name with CR/LF: PAM_USER_UNKNOWN"
unlike "$(cat "$ERR")" $'\r' "user name with CR/LF: no raw CR in the log"
run_driver --password 'Alice-App-Pass-1' basic $'al\xffice'
is "$AUTH" PAM_USER_UNKNOWN "user name that is not UTF-8: PAM_USER_UNKNOWN"
run_driver --password 'Alice-App-Pass-1' basic "$(printf 'a%.0s' $(seq 1 256))"
is "$AUTH" PAM_USER_UNKNOWN "user name of 256 bytes: PAM_USER_UNKNOWN"
is "$(log_count_new)" 0 "none of the invalid user names reached the server"

run_driver --password 'x' basic "$(printf 'a%.0s' $(seq 1 255))"
is "$AUTH" PAM_AUTH_ERR "user name of 255 bytes is sent (server says 401)"

# --- PAM_RHOST ------------------------------------------------------------
rhost_case() { # RHOST EXPECTED_XFF DESC
    log_mark
    run_driver --rhost "$1" --password 'Alice-App-Pass-1' basic alice
    is "$AUTH" PAM_SUCCESS "rhost $3: PAM_SUCCESS"
    is "$(log_field "$(log_new | grep 'remote.php')" xff)" "$2" "rhost $3: X-Forwarded-For is '$2'"
}
rhost_case 127.0.0.2 127.0.0.2 "IPv4"
like "$(module_log)" '^auth ok: user=alice rhost=127\.0\.0\.2 forwarded=127\.0\.0\.2 server=127\.0\.0\.1(:[0-9]+)? status=207' \
    "log shows rhost= and forwarded="
rhost_case '2001:DB8:0:0:0:0:0:1' '2001:db8::1' "IPv6 (sent in canonical form)"
rhost_case '::ffff:192.0.2.7' '192.0.2.7' "IPv4-mapped IPv6 (sent as IPv4)"
rhost_case 'mail.example.org' '-' "host name (not forwarded)"
like "$(module_log)" 'rhost=mail\.example\.org forwarded=-' "host name: log shows rhost and forwarded=-"
rhost_case '192.0.2.1, 10.0.0.1' '-' "list of addresses (not forwarded)"
rhost_case '' '-' "empty"

log_mark
run_driver --rhost $'192.0.2.1\r\nX-Injected: 1' --password 'Alice-App-Pass-1' basic alice
is "$AUTH" PAM_AUTH_ERR "rhost with CR/LF: PAM_AUTH_ERR"
like "$(module_log)" '^auth refused: user=alice rhost=192\.0\.2\.1\\x0d\\x0aX-Injected:\\x201: .*\(no request sent\)$' \
    "rhost with CR/LF: 'auth refused', CR/LF escaped in the log"
run_driver --rhost $'host\tname' --password 'Alice-App-Pass-1' basic alice
is "$AUTH" PAM_AUTH_ERR "rhost with a TAB: PAM_AUTH_ERR"
run_driver --rhost "$(printf 'h%.0s' $(seq 1 256))" --password 'Alice-App-Pass-1' basic alice
is "$AUTH" PAM_AUTH_ERR "rhost of 256 bytes: PAM_AUTH_ERR"
is "$(log_count_new)" 0 "bad rhost values: no request reaches the server"
unlike "$(cat "$WD_LOG")" 'X-Injected' "no injected header ever reached the server"

# --- IPv6 server ------------------------------------------------------------
if [ -n "$WD_PORT6" ]; then
    write_service basic6 "url=https://[::1]:$WD_PORT6/remote.php/dav/" "cafile=$WD_CA"
    log_mark
    run_driver --password 'Alice-App-Pass-1' basic6 alice
    is "$AUTH" PAM_SUCCESS "server on [::1]: PAM_SUCCESS"
    like "$(log_new)" 'raddr=::1 .*' "server on [::1]: request came over IPv6"
    run_driver --password 'nope' basic6 alice
    is "$AUTH" PAM_AUTH_ERR "server on [::1], wrong password: PAM_AUTH_ERR"
else
    skip "server on [::1]" "no IPv6 loopback"
    skip "server on [::1]: request came over IPv6" "no IPv6 loopback"
    skip "server on [::1], wrong password" "no IPv6 loopback"
fi

write_service basiclocal "url=https://localhost:$WD_PORT/remote.php/dav/" "cafile=$WD_CA"
run_driver --password 'Alice-App-Pass-1' basiclocal alice
is "$AUTH" PAM_SUCCESS "server named localhost: PAM_SUCCESS"

# --- timing ------------------------------------------------------------------
run_driver --password 'Alice-App-Pass-1' basic alice
ok '[ "$ELAPSED_MS" -lt 5000 ]' "a login against the local server takes < 5 s (took $ELAPSED_MS ms)"

done_testing
