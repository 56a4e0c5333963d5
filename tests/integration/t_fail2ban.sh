#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# conf/fail2ban against log lines the module really wrote: logins through
# the built module (pam_driver, real libpam) against the test WebDAV server
# - a right password, wrong passwords, the guard's refusal, a user name
# that carries a fake " rhost=" - then Debian's fail2ban-regex with
# conf/fail2ban/filter.d/pam_httpbasic.conf on those lines.  The drivers
# print each pam_syslog message; the test puts it in the envelope syslog
# gives it in /var/log/auth.log ("DATE HOST PROGRAM[PID]:
# pam_httpbasic(SERVICE:auth): MESSAGE", the prefix libpam's pam_syslog
# adds), and in the journal's short form.
. "$(dirname "$0")/lib.sh"
command -v fail2ban-regex >/dev/null || { echo "1..0 # SKIP fail2ban-regex not installed (package fail2ban)"; exit 0; }
need_module
start_webdav
# Debian's fail2ban configuration (common.conf, which the filter includes),
# with the filter and the jail of conf/fail2ban added.
F2B=$TEST_TMP/f2b-conf
cp -r /etc/fail2ban "$F2B" || bail_out "cannot copy /etc/fail2ban"
rm -f "$F2B/jail.d/"*
cp "$top_srcdir/conf/fail2ban/filter.d/pam_httpbasic.conf" "$F2B/filter.d/"
FILTER=$F2B/filter.d/pam_httpbasic.conf
PW=Alice-App-Pass-1
printf '%s\n' 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef >"$TEST_TMP/secret"
chmod 0600 "$TEST_TMP/secret"
mkdir -m 0700 "$TEST_TMP/store"
write_service f2b "url=$WD_URL" "cafile=$WD_CA" "store=lmdb:$TEST_TMP/store" "secret_file=$TEST_TMP/secret" \
    guard_failures=2 guard_window=600
LINES=$TEST_TMP/module.lines
: >"$LINES"
# login PASSWORD RHOST USER: one login; its module lines are kept.
login() {
    run_driver --password "$1" --rhost "$2" f2b "$3"
    module_log >>"$LINES"
}
login "$PW" 192.0.2.10 alice                          # auth ok
login wrong-1 198.51.100.7 alice                      # auth denied
login wrong-2 198.51.100.7 bob                        # auth denied
login wrong-3 198.51.100.7 alice                      # guard: auth refused
login wrong-4 203.0.113.5 'mallory rhost=192.0.2.99 forwarded=192.0.2.99 server=x status=401'  # a forged rhost in the name
login "$PW" 192.0.2.11 alice                          # auth ok
diag "module lines:" "$(cat "$LINES")"
is "$(grep -c '^auth ok:' "$LINES")" 2 "the module wrote two 'auth ok' lines"
is "$(grep -c '^auth denied: ' "$LINES")" 3 "the module wrote three 'auth denied' lines"
is "$(grep -c '^auth refused: .*too many failures from this address (guard: ' "$LINES")" 1 "the module wrote one guard refusal"

# The envelopes: rsyslog's /var/log/auth.log and journalctl's short output.
now=$(date '+%b %e %H:%M:%S')
sed "s/^/$now mail1 dovecot[1432]: pam_httpbasic(dovecot-nextcloud:auth): /" "$LINES" >"$TEST_TMP/auth.log"
sed "s/^/$now mail1 auth-worker[1432]: pam_httpbasic(dovecot:auth): /" "$LINES" >"$TEST_TMP/journal.log"

for log in auth.log journal.log; do
    out=$(fail2ban-regex --print-all-matched "$TEST_TMP/$log" "$FILTER" 2>&1)
    rc=$?
    is "$rc" 0 "fail2ban-regex $log: runs"
    like "$out" 'Failregex: 4 total' "fail2ban-regex $log: 4 failures (3 wrong passwords, 1 guard refusal)"
    ips=$(fail2ban-regex -o ip "$TEST_TMP/$log" "$FILTER" 2>/dev/null | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
    is "$ips" "198.51.100.7x3 203.0.113.5x1 " "fail2ban-regex $log: the addresses are the real rhost fields"
    unlike "$ips" '192\.0\.2\.99' "fail2ban-regex $log: the rhost forged in a user name is not taken"
    unlike "$ips" '192\.0\.2\.1[01]' "fail2ban-regex $log: no 'auth ok' line matches"
done
grep '^.*auth ok:' "$TEST_TMP/auth.log" >"$TEST_TMP/ok.log"
out=$(fail2ban-regex "$TEST_TMP/ok.log" "$FILTER" 2>&1)
like "$out" 'Failregex: 0 total' "fail2ban-regex: the 'auth ok' lines alone match nothing"
# The jail file is what fail2ban reads.
sed "s|^logpath .*|logpath  = $TEST_TMP/auth.log|" "$top_srcdir/conf/fail2ban/jail.d/pam_httpbasic.local" \
    >"$F2B/jail.d/pam_httpbasic.local"
out=$(fail2ban-client -c "$F2B" -d 2>&1 </dev/null)
like "$out" "'add', 'pam_httpbasic'" "fail2ban-client -d: the jail loads with the filter"
like "$out" "'maxretry', 10" "fail2ban-client -d: the jail's maxretry"

done_testing
