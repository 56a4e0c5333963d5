#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# What a careful reviewer found in the module's host-facing behaviour
# (issue 8), each case failing on the code before the fix:
#   - use_first_pass / try_first_pass / use_authtok only in bare form
#     (libpam's pam_get_authtok treats "use_first_pass=no" as set);
#   - an inline "# comment" after a value is a config error, not part of
#     the value;
#   - a timeout below Nextcloud's throttle delay is logged as a warning;
#   - NO_PROXY in the environment never bypasses proxy=;
#   - two instances of the module in one stack keep separate account data;
#   - the mapped user name is escaped in debug lines;
#   - a connection that went silent while idle costs no timeout: libcurl
#     reuses no connection idle for more than 30 s.
. "$(dirname "$0")/lib.sh"
need_module
start_webdav
PW=Alice-App-Pass-1
BASE=(url="$WD_URL" cafile="$WD_CA")

# --- bare flags ---------------------------------------------------------
for arg in use_first_pass=no try_first_pass=yes use_authtok=1; do
    write_service "flag_${arg%%=*}" "${BASE[@]}" "$arg"
    log_mark
    run_driver --password "$PW" "flag_${arg%%=*}" alice
    is "$AUTH" PAM_SERVICE_ERR "$arg: config error (PAM_SERVICE_ERR)"
    like "$(module_log)" "^config error: argument: ${arg%%=*}: takes no value" "$arg: the log names the key and why"
    is "$(log_count_new)" 0 "$arg: no request"
done

# --- inline comments in the config file ---------------------------------
CONF=$TEST_TMP/inline.conf
printf 'url = %s\ncafile = %s   # our CA\n' "$WD_URL" "$WD_CA" >"$CONF"
chmod 0644 "$CONF"
write_service inline "config=$CONF"
run_driver --password "$PW" inline alice
is "$AUTH" PAM_SERVICE_ERR "inline '# comment' after a value: config error"
like "$(module_log)" "^config error: $CONF:2: cafile: a '#' after the value" "inline comment: file, line and key named"
printf 'url = %s\n# a comment line\ncafile = %s\n' "$WD_URL" "$WD_CA" >"$CONF"
run_driver --password "$PW" inline alice
is "$AUTH" PAM_SUCCESS "comments on their own line still work"

# --- timeout below the throttle delay ----------------------------------
write_service short "${BASE[@]}" timeout=5000
run_driver --password "$PW" short alice
is "$AUTH" PAM_SUCCESS "timeout=5000: still a legal setting"
like "$(module_log_prio)" '^4 config warning: argument: timeout: timeout=5000 ms is below 26000 ms: Nextcloud delays' \
    "timeout=5000: a warning naming the throttle"
write_service long "${BASE[@]}" timeout=26000
run_driver --password "$PW" long alice
unlike "$(module_log)" 'config warning' "timeout=26000: no warning"

# --- NO_PROXY never bypasses proxy= ------------------------------------
start_fault ok
write_service noproxy "url=http://127.0.0.1:$WD_HTTP_PORT/remote.php/dav/" allow_http \
    "proxy=http://127.0.0.1:$FAULT_PORT"
log_mark
NO_PROXY='127.0.0.1,localhost' no_proxy='*' run_driver --password wrong noproxy alice
is "$(grep -c 'method=PROPFIND' "$FAULT_LOG")" 1 "NO_PROXY/no_proxy set: the request still went to proxy="
is "$(log_count_new)" 0 "NO_PROXY/no_proxy set: nothing reached the server directly"

# --- two instances in one stack -----------------------------------------
CLOSED=$(closed_port)
write_service_raw twice <<SVC
auth     required $MODULE url=$WD_URL cafile=$WD_CA
auth     optional $MODULE url=https://127.0.0.1:$CLOSED/remote.php/dav/ connect_timeout=500 timeout=1000
account  required $MODULE url=$WD_URL cafile=$WD_CA
account  optional $MODULE url=https://127.0.0.1:$CLOSED/remote.php/dav/ connect_timeout=500 timeout=1000
SVC
run_driver --acct --password "$PW" twice alice
is "$AUTH/$ACCT" PAM_SUCCESS/PAM_SUCCESS \
    "a failing optional second instance leaves the first one's account decision alone"
like "$(module_log)" 'auth unavailable: user=alice' "the second instance did fail"

# The shipped pam.d example: arguments on the auth line, a bare account line.
write_service_raw bare_account <<SVC
auth     required $MODULE url=$WD_URL cafile=$WD_CA
account  required $MODULE
SVC
run_driver --acct --password "$PW" bare_account alice
is "$AUTH/$ACCT" PAM_SUCCESS/PAM_SUCCESS "a bare account line vouches for what the auth line authenticated"
run_driver --acct --password wrong bare_account alice
is "$AUTH" PAM_AUTH_ERR "... and a wrong password is still refused"

# --- escaping of the mapped user name in debug lines --------------------
write_service dbg "${BASE[@]}" debug
run_driver --password "$PW" dbg "$(printf 'bob\xe2\x80\xaeevil')"
ok "! grep -q $'\xe2\x80\xae' '$ERR'" "U+202E in the user name never reaches the log raw"
like "$(module_log)" 'as user bob\\xe2\\x80\\xaeevil ' "the debug line shows it escaped"

# --- a silently dead idle connection costs no timeout -------------------
start_fault mute-idle
write_service mute "url=http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http timeout=8000 \
    connect_timeout=2000
run_driver --repeat 2 --pause 31500 --password "$PW" mute alice
first=$(sed -n '/^round=1/,/^round=2/s/^authenticate=//p' "$OUT")
is "$first" PAM_SUCCESS "idle connection: the first login is answered"
is "$AUTH" PAM_SUCCESS "after 31.5 s idle: a new connection, not the muted one"
ok "[ $ELAPSED_MS -lt 8000 ]" "after 31.5 s idle: no timeout paid (${ELAPSED_MS} ms)"
is "$(grep -c 'conn=2 req=1' "$FAULT_LOG")" 1 "the second login used a second connection"

done_testing
