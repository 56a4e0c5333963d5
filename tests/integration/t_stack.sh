#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The module inside PAM stacks: use_first_pass / try_first_pass /
# use_authtok with a password stored by a module above, acct_mgmt,
# setcred/chauthtok, several logins per process (connection reuse, as in a
# Dovecot auth worker), and no connection reuse across different configs.
. "$(dirname "$0")/lib.sh"
need_module
start_webdav
PW=Alice-App-Pass-1
BASE=(url="$WD_URL" cafile="$WD_CA")
SECDIR=$(dirname "$(gcc -print-file-name=libpam.so 2>/dev/null)")/security
[ -f "$SECDIR/pam_deny.so" ] || SECDIR=/lib/x86_64-linux-gnu/security
PAM_DENY=$SECDIR/pam_deny.so
PAM_PERMIT=$SECDIR/pam_permit.so

prompts() { sed -n 's/^prompts=//p' "$OUT" | tail -n 1; }

# --- PAM_AUTHTOK set by a module above (emulated with --preset-authtok) ---
for opt in use_first_pass use_authtok try_first_pass ""; do
    name=${opt:-noopt}
    write_service_preset "pre_$name" "${BASE[@]}" $opt
    run_driver --preset-authtok "$PW" --password never-asked "pre_$name" alice
    is "$AUTH/$(prompts)" PAM_SUCCESS/0 "${opt:-no option}, stored right password: PAM_SUCCESS without prompting"
    log_mark
    run_driver --preset-authtok wrong --password "$PW" "pre_$name" alice
    is "$AUTH/$(prompts)" PAM_AUTH_ERR/0 "${opt:-no option}, stored wrong password: PAM_AUTH_ERR without prompting"
    is "$(log_count_new)" 1 "${opt:-no option}, stored wrong password: one request"
done

for opt in use_first_pass use_authtok; do
    log_mark
    run_driver --password "$PW" "pre_$opt" alice
    is "$AUTH/$(prompts)" PAM_AUTH_ERR/0 "$opt, nothing stored: PAM_AUTH_ERR without prompting"
    like "$(module_log)" '^auth refused' "$opt, nothing stored: 'auth refused'"
    is "$(log_count_new)" 0 "$opt, nothing stored: no request"
done
run_driver --password "$PW" pre_try_first_pass alice
is "$AUTH/$(prompts)" PAM_SUCCESS/1 "try_first_pass, nothing stored: prompts once, PAM_SUCCESS"
run_driver --password "$PW" pre_noopt alice
is "$AUTH/$(prompts)" PAM_SUCCESS/1 "no option, nothing stored: prompts once, PAM_SUCCESS"

# --- sufficient + pam_deny, as in a real /etc/pam.d file -------------------
write_service_raw sufficient <<EOF
auth sufficient $MODULE url=$WD_URL cafile=$WD_CA
auth required $PAM_DENY
account sufficient $MODULE url=$WD_URL cafile=$WD_CA
account required $PAM_DENY
EOF
run_driver --acct --password "$PW" sufficient alice
is "$AUTH/$ACCT" PAM_SUCCESS/PAM_SUCCESS "sufficient + pam_deny: right password: auth and account succeed"
run_driver --acct --password wrong sufficient alice
is "$AUTH" PAM_AUTH_ERR "sufficient + pam_deny: wrong password: PAM_AUTH_ERR"
run_driver --no-auth --acct sufficient alice
ok '[ "$ACCT" != PAM_SUCCESS ] && [ "$ACCT" != none ]' "sufficient + pam_deny: account without authentication: refused ($ACCT)"

# --- acct_mgmt ------------------------------------------------------------------
write_service acct "${BASE[@]}"
run_driver --acct --password "$PW" acct alice
is "$AUTH/$ACCT" PAM_SUCCESS/PAM_SUCCESS "acct_mgmt after a successful login: PAM_SUCCESS"
run_driver --acct --password wrong acct alice
is "$AUTH" PAM_AUTH_ERR "acct_mgmt after a failed login: authenticate is PAM_AUTH_ERR"
ok '[ "$ACCT" != PAM_SUCCESS ]' "acct_mgmt after a failed login: not PAM_SUCCESS ($ACCT)"
log_mark
run_driver --no-auth --acct acct alice
is "$ACCT" PAM_PERM_DENIED "acct_mgmt without authentication (only this module): PAM_PERM_DENIED"
is "$(log_count_new)" 0 "acct_mgmt never sends a request"
run_driver --acct-as bob --password "$PW" acct alice
is "$AUTH/$ACCT" PAM_SUCCESS/PAM_PERM_DENIED "acct_mgmt for another PAM_USER than the authenticated one: PAM_PERM_DENIED"
write_service acctlower "${BASE[@]}" user_lowercase
run_driver --acct --password "$PW" acctlower ALICE
is "$AUTH/$ACCT" PAM_SUCCESS/PAM_SUCCESS "acct_mgmt after a mapped user name (ALICE -> alice): PAM_SUCCESS"
write_service acct429 "url=$WD_BASE/status/429/" "cafile=$WD_CA"
run_driver --acct --password "$PW" acct429 alice
ok '[ "$ACCT" != PAM_SUCCESS ]' "acct_mgmt after a throttled login: not PAM_SUCCESS ($ACCT)"
write_service_raw acctpermit <<EOF
auth required $MODULE url=$WD_URL cafile=$WD_CA
account required $MODULE url=$WD_URL cafile=$WD_CA
account required $PAM_PERMIT
EOF
run_driver --no-auth --acct acctpermit alice
is "$ACCT" PAM_SUCCESS "acct_mgmt without authentication, pam_permit below: PAM_IGNORE lets the stack decide"

# --- setcred, chauthtok ------------------------------------------------------------
write_service_raw other_ops <<EOF
auth required $MODULE url=$WD_URL cafile=$WD_CA
account required $MODULE url=$WD_URL cafile=$WD_CA
password required $MODULE url=$WD_URL cafile=$WD_CA
EOF
run_pamtester other_ops alice "$PW" authenticate setcred
is "$RC" 0 "pamtester authenticate + setcred: success"
run_pamtester other_ops alice "$PW" chauthtok
ok '[ "$RC" != 0 ]' "pamtester chauthtok: refused (passwords are managed in Nextcloud)"
like "$(module_log)" 'password change refused' "chauthtok: logged"

# --- several logins in one process: connection reuse ---------------------------
log_mark
run_driver --repeat 10 --password "$PW" acct alice
is "$(grep -c '^authenticate=PAM_SUCCESS' "$OUT")" 10 "10 logins in one process: all PAM_SUCCESS"
new=$(log_new | grep remote.php)
is "$(printf '%s\n' "$new" | grep -c .)" 10 "10 logins in one process: 10 requests"
is "$(printf '%s\n' "$new" | grep -c ' keepalive=0 ')" 1 "10 logins in one process: one TLS connection, reused (module stays loaded)"
diag "rounds: $(sed -n 's/^elapsed_ms=//p' "$OUT" | tr '\n' ' ')ms"

log_mark
run_driver --repeat 4 --password wrong acct alice
is "$(grep -c '^authenticate=PAM_AUTH_ERR' "$OUT")" 4 "4 wrong passwords in one process: all PAM_AUTH_ERR"
run_driver --repeat 3 --password "$PW" acct mallory
is "$(grep -c '^authenticate=PAM_AUTH_ERR' "$OUT")" 3 "a reused connection does not carry alice's login to mallory"

# Same process, different configs: a connection verified with the right CA
# must not serve a check configured with another CA.
write_service_raw twocfg <<EOF
auth optional $MODULE url=$WD_URL cafile=$WD_CA
auth required $MODULE url=$WD_URL cafile=$WD/other-ca.pem
account required $MODULE url=$WD_URL cafile=$WD_CA
EOF
run_driver --password "$PW" twocfg alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "second check with the wrong CA fails although the first one verified the connection"
like "$(module_log)" 'auth ok: ' "first check (right CA) succeeded"
like "$(module_log)" 'auth unavailable: ' "second check (wrong CA) did its own TLS verification"
write_service_raw twocfg2 <<EOF
auth optional $MODULE url=$WD_URL cafile=$WD_CA
auth required $MODULE url=$WD_URL cafile=$WD_CA pinned_pubkey=$(cat "$WD/other-pubkey.sha256")
account required $MODULE url=$WD_URL cafile=$WD_CA
EOF
run_driver --password "$PW" twocfg2 alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "second check with a wrong pin fails on the same server"
write_service_raw twouser <<EOF
auth optional $MODULE url=$WD_URL cafile=$WD_CA
auth required $MODULE url=$WD_URL cafile=$WD_CA user_domain=example.org
account required $MODULE url=$WD_URL cafile=$WD_CA
EOF
log_mark
run_driver --password "$PW" twouser alice
is "$AUTH" PAM_AUTH_ERR "same connection, second check as alice@example.org: PAM_AUTH_ERR (no credential carry-over)"
is "$(log_new | grep -c 'status=401 user="alice@example.org"')" 1 "the second request carried its own credentials"

done_testing
