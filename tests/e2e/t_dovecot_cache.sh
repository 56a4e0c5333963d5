#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_dovecot_cache.sh - issue 9 end to end: Dovecot keeps working
# through a Nextcloud outage with the module's host-wide credential cache
# (store=lmdb:DIR, secret_file=, cache_stale=, cache_fresh=,
# server_retry_after=), with real IMAP logins through the real stack of
# tests/e2e/stack.sh (Dovecot DOVECOT_VERSION 2.3 or 2.4, passdb pam on a
# file in /etc/pam.d, userdb ldap, the Apache WebDAV test server):
#
#   A. users who logged in before an outage (Apache stopped) keep logging
#      in during it (module log: "auth ok (stale: ...)"); a wrong password
#      and a user never seen are refused;
#   B. once the server is back, its 401 drops a revoked password's verifier:
#      the old password fails, also in the next outage;
#   C. a hung server (fault_server.py "hang" at the WebDAV URL) costs one
#      timeout per host and retry period, not one per login: logins of
#      known users spread over several auth-worker processes are answered
#      at once, and the hung server sees one probe per server_retry_after;
#   D. cache_fresh: a login within cache_fresh sends no request (and, the
#      documented price, a revoked password keeps working that long);
#   E. a disabled account on a German Nextcloud (fault_server.py
#      "nc-disabled-de" at the WebDAV URL: the 503 with
#      "OC\User\LoginException: Konto deaktiviert", byte for byte as
#      Nextcloud 29 sends it with default_language=de): the login is
#      refused, and in the following outage (maintenance 503, then the
#      server stopped) the disabled user stays refused while another user
#      is let in from the stale window.
#
# The module's log lines come from a private /dev/log (STACK_SYSLOG=1, see
# tests/e2e/devlog_ns.sh).  Needs root.  About a minute.

. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
. "$E2E/stack.sh"

stack_prereqs
command -v unshare >/dev/null || skip_all "unshare (util-linux) not installed"
SUITE_START=$(now_ms)
STACK_SYSLOG=1
stack_start

STORE=$T/store
SECRET=$T/secret
install -d -m 0700 "$STORE"
(umask 077; openssl rand -hex 32 >"$SECRET")
ok "[ \$(tr -d '\\n' <'$SECRET' | wc -c) = 64 ] && [ \"\$(stat -c %a '$SECRET')\" = 600 ]" \
    "secret_file: 64 hex characters, mode 0600"

# cache_conf RETRY [EXTRA-LINE...]: the module's config with the store,
# cache_stale = 3600 and server_retry_after = RETRY
cache_conf() {
    local retry=$1
    shift
    module_conf "$WD_URL" "store = lmdb:$STORE" "secret_file = $SECRET" "cache_stale = 3600" \
        "server_retry_after = $retry" "$@"
}
# Short retry periods, so that the test can wait one out: a period, once
# stored, is not shortened by a new configuration.
RETRY=4

# slog / slog_mark: the module's syslog lines (PRIORITY MESSAGE) since the mark
slog_mark() { log_mark "$SYSLOG_LOG"; }
slog() { log_new "$SYSLOG_LOG" | grep -F "($PAM_SERVICE:"; }
# slog_wait N: until N new decision lines ("auth ...") are there (up to 5 s)
slog_wait() {
    local i
    for i in $(seq 1 50); do
        [ "$(slog | grep -c ': auth ')" -ge "$1" ] && return 0
        sleep 0.1
    done
}

# ---------------------------------------- the shipped cache lines work ---
# conf/pam_httpbasic.conf's commented store lines, uncommented (paths of
# this test), and the ones conf/dovecot-*/conf.d/auth-nextcloud.conf.ext
# quotes are the same.
module_conf "$WD_URL"
sed -i -e "s|^#store = lmdb:.*|store = lmdb:$STORE|" -e "s|^#secret_file = .*|secret_file = $SECRET|" \
    -e 's/^#\(\(store_timeout\|cache_stale\|cache_per_user\) = \)/\1/' "$T/pam_httpbasic.conf"
like "$(grep -E '^(store|secret_file|store_timeout|cache_stale|cache_per_user) = ' "$T/pam_httpbasic.conf")" \
    '^cache_stale = [0-9]+$' "conf/pam_httpbasic.conf: the commented store lines, uncommented"
while IFS= read -r line; do
    grep -qxF "#$line" "$top_srcdir/conf/pam_httpbasic.conf" || fail "'$line' (auth-nextcloud.conf.ext) is not in conf/pam_httpbasic.conf"
done < <(sed -n 's/^#   \(store\|secret_file\|cache_stale\)\( = .*\)/\1\2/p' "$CONF_DIR/conf.d/auth-nextcloud.conf.ext")
is "$(sed -n 's/^#   \(store\|secret_file\|cache_stale\) = .*/x/p' "$CONF_DIR/conf.d/auth-nextcloud.conf.ext" | wc -l)" 3 \
    "conf/dovecot-$DOVECOT_VERSION/conf.d/auth-nextcloud.conf.ext quotes store, secret_file, cache_stale as in conf/pam_httpbasic.conf"
slog_mark
wlog_mark
login --user alice --password "$ALICE_PW"
is "$OK" True "server up: alice logs in with the shipped cache lines"
slog_wait 1
like "$(slog)" ': auth ok: user=alice .*status=207 .*cache=miss$' "... the module used the store (cache=miss, no store failure)"

# ------------------------------------------------------ server up, cold ---
cache_conf $RETRY
slog_mark
wlog_mark
login --user alice --password "$ALICE_PW"
is "$OK" True "server up: alice logs in (cache on)"
login --user bob --password "$BOB_PW"
is "$OK" True "server up: bob logs in"
is "$(wlog | grep -c 'method=PROPFIND')" 2 "server up: both logins asked the server (cache_fresh is off)"
slog_wait 2
like "$(slog)" "^6 .*\\($PAM_SERVICE:auth\\): auth ok: user=alice .*status=207 .*cache=miss\$" \
    "module log (private /dev/log): 'auth ok: user=alice ... status=207 ... cache=miss'"
ok "[ -s '$STORE/data.mdb' ]" "the auth workers wrote the store ($STORE/data.mdb)"
ok "! grep -aq -- '$ALICE_PW' '$STORE/data.mdb' && ! grep -aq alice '$STORE/data.mdb'" \
    "the store holds neither alice's password nor her name"

# ------------------------------------------------ A. outage: Apache down ---
stop_webdav
wait_port 127.0.0.1 "$WD_PORT" 1 && bail_out "the WebDAV server still answers after webdav.sh stop"
slog_mark
dlog_mark
login --user alice --password "$ALICE_PW"
is "$OK" True "A. WebDAV stopped: alice (seen before) still logs in"
login --user bob --password "$BOB_PW"
is "$OK" True "A. WebDAV stopped: bob (seen before) still logs in"
slog_wait 2
like "$(slog)" "^4 .*: auth ok \\(stale: server unavailable\\): user=alice .*cache=stale age=[0-9]+" \
    "A. module log: 'auth ok (stale: server unavailable): user=alice ... cache=stale age=N', at LOG_WARNING"
like "$(slog)" "auth ok \\(stale: server unavailable\\): user=bob " "A. ... and for bob"
has "$(dlog)" "imap-login: Info: $LOGGED_IN user=<alice>" "A. Dovecot logs alice's login"

# With the server resting in the store (its first refused connection
# made it rest), the next logins of known users are answered without even
# trying the dead server; one takes the probe token and tries it.
slog_mark
for _ in 1 2 3; do login --user alice --password "$ALICE_PW"; done
is "$OK" True "A. 3 more logins of alice during the outage succeed"
slog_wait 3
ok "[ $(slog | grep -c 'server=resting status=- ms=0 cache=stale') -ge 2 ]" \
    "A. ... at least 2 of them answered without a request (server=resting status=- ms=0 cache=stale)"

slog_mark
login --user alice --password 'Alice-App-Pass-2'
is "$RESP" "$FAILED" "A. WebDAV stopped: a wrong password for alice is refused"
login --user dave@example.org --password 'Dave-Pass-4'
is "$RESP" "$FAILED" "A. WebDAV stopped: a user never seen (dave@example.org, his right password) is refused"
slog_wait 2
unlike "$(slog)" 'auth ok' "A. ... the module accepted neither"
like "$(slog)" ': auth unavailable: user=alice ' "A. ... module log: 'auth unavailable: user=alice' for the wrong password"
like "$(dlog)" "$(db_re pam alice)pam_authenticate\\(\\) failed: Authentication service cannot retrieve authentication info" \
    "A. ... Dovecot's log: 'cannot retrieve authentication info' (not a password mismatch)"

# ---------------------------------------- B. back, then a revocation wins ---
# The server comes back at the same URL, alice's app password is revoked
# and replaced (htpasswd: the test server's users).  The store still says
# the server rests (for RETRY seconds after the last failed try): wait it out.
WEBDAV_REUSE_PORTS=1 bash "$WEBDAV_SH" start "$_WD" >"$T/webdav-restart.log" 2>&1 ||
    bail_out "the WebDAV server did not come back: $(cat "$T/webdav-restart.log")"
is "$(cat "$_WD/port")" "$WD_PORT" "B. the WebDAV server is back on the same URL"
ALICE_NEW='Alice-App-Pass-new'
htpasswd -b -m "$_WD/htpasswd" alice "$ALICE_NEW" 2>/dev/null || bail_out "htpasswd failed"
sleep $((RETRY + 2))
slog_mark
wlog_mark
login --user alice --password "$ALICE_PW"
is "$RESP" "$FAILED" "B. server back, alice's old password revoked there: refused"
like "$(wlog)" 'method=PROPFIND .*status=401 user="alice"' "B. ... the server was asked and said 401"
login --user alice --password "$ALICE_NEW"
is "$OK" True "B. alice's new password works"
slog_wait 2
like "$(slog)" ': auth denied: user=alice .*status=401 .*cache=miss' "B. module log: 'auth denied ... status=401 ... cache=miss'"

stop_webdav
slog_mark
login --user alice --password "$ALICE_PW"
is "$RESP" "$FAILED" "B. next outage: alice's revoked password stays refused (the 401 dropped its verifier)"
login --user alice --password "$ALICE_NEW"
is "$OK" True "B. next outage: her new password is accepted (stale)"
login --user bob --password "$BOB_PW"
is "$OK" True "B. next outage: bob still logs in"
slog_wait 3
unlike "$(slog | grep 'auth ok')" 'ms=[0-9]{4,}' "B. ... no accepted login waited a second or more in the module"

# ----------------------------------------------------- C. a hung server ---
# fault_server.py "hang" on the WebDAV port: connections are accepted, no
# request is ever answered.  TIMEOUT_MS per request.
sleep $((RETRY + 2))
WEBDAV_REUSE_PORTS=1 bash "$WEBDAV_SH" start "$_WD" >"$T/webdav-restart.log" 2>&1 ||
    bail_out "the WebDAV server did not come back: $(cat "$T/webdav-restart.log")"
login --user alice --password "$ALICE_NEW"
login --user bob --password "$BOB_PW"
is "$OK" True "C. server up again: alice and bob log in (the server is asked: no longer resting)"
stop_webdav
FAULT_BIND_PORT=$WD_PORT start_fault hang
is "$FAULT_PORT" "$WD_PORT" "C. a hung server now listens at the WebDAV URL"

slog_mark
login --user alice --password "$ALICE_NEW"
FIRST_MS=$MS
is "$OK" True "C. first login against the hung server: accepted (stale) after the timeout"
# The timeout, then the anonymous request that confirms the outage before
# the server rests (bounded by connect_timeout): the price of evidence.
ok "[ '$FIRST_MS' -ge $((TIMEOUT_MS + CONNECT_TIMEOUT_MS - 200)) ]" \
    "C. ... it waited for the module's timeout and the confirmation ($FIRST_MS ms, timeout $TIMEOUT_MS ms + connect_timeout $CONNECT_TIMEOUT_MS ms)"
is "$(grep -c 'method=GET' "$FAULT_LOG")" 1 "C. ... one anonymous GET confirmed that the server answers nobody"

# 10 logins of alice and bob, 4 clients at once, each from its own address.
: >"$T/many.txt"
for i in $(seq 1 10); do
    next_src
    if [ $((i % 2)) = 0 ]; then u=alice p=$ALICE_NEW; else u=bob p=$BOB_PW; fi
    printf '%s\t%s\t%s\n' "$SRC" "$u" "$p" >>"$T/many.txt"
done
dlog_mark
imap many --port "$IMAP_PORT" --threads 4 --logins "$T/many.txt" >"$T/many.json"
mval() { "$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], r))' "$T/many.json" "$1"; }
is "$(mval ok)" 10 "C. 10 more logins (4 at once) during the hang: all accepted"
FAST=$(mval "sum(1 for x in results if x['ok'] and 0 <= x['ms'] < $TIMEOUT_MS / 3)")
ok "[ $FAST -ge 9 ]" "C. ... at least 9 of 10 answered in under a third of the timeout ($FAST fast; ms: $(mval "[x['ms'] for x in results]"))"
ok "[ $(mval "int(seconds * 1000)") -lt $((3 * TIMEOUT_MS)) ]" \
    "C. ... all 10 took $(mval seconds) s, under 3 timeouts (one per login would be >= $((10 * TIMEOUT_MS / 4 / 1000)) s)"
WORKERS=$(dlog | grep -oE 'auth-worker\([0-9]+\)|auth-worker\([^)]*\)<[0-9]+>' | grep -oE '\([0-9]+\)$|<[0-9]+>$' | sort -u | wc -l)
ok "[ $WORKERS -ge 2 ]" "C. ... served by $WORKERS auth-worker processes sharing the store"
is "$(grep -c 'method=PROPFIND' "$FAULT_LOG")" 2 \
    "C. the hung server saw 2 requests for 11 logins: the first login and one probe in the period"
slog_wait 11
ok "[ $(slog | grep -c 'server=resting status=- ms=0 cache=stale') -ge 9 ]" \
    "C. module log: 9 logins 'server=resting status=- ms=0 cache=stale' (answered without a request)"

# One probe per period: 60 logins of alice and bob, 3 clients at once,
# for a few periods; the hung server sees about one request per period of
# RETRY s (the login that probes waits a timeout, the others do not), not
# one per login.
before=$(grep -c 'method=PROPFIND' "$FAULT_LOG")
: >"$T/many.txt"
for i in $(seq 1 60); do
    next_src
    if [ $((i % 2)) = 0 ]; then u=alice p=$ALICE_NEW; else u=bob p=$BOB_PW; fi
    printf '%s\t%s\t%s\n' "$SRC" "$u" "$p" >>"$T/many.txt"
done
imap many --port "$IMAP_PORT" --threads 3 --logins "$T/many.txt" >"$T/many.json"
took=$(mval "int(seconds * 1000)")
probes=$(( $(grep -c 'method=PROPFIND' "$FAULT_LOG") - before ))
is "$(mval ok)" 60 "C. 60 more logins, 3 at once, over $took ms: all accepted"
ok "[ $probes -le $(( took / (RETRY * 1000) + 2 )) ]" \
    "C. ... $probes requests reached the hung server: about one per period of $RETRY s (at most $(( took / (RETRY * 1000) + 2 ))), not one per login"
SLOW=$(mval "sum(1 for x in results if x['ms'] >= $TIMEOUT_MS / 3)")
ok "[ $SLOW -le $probes ]" "C. ... only the probing logins waited ($SLOW slow, p50/p95 $(mval "ms['p50']")/$(mval "ms['p95']") ms)"
login --user alice --password 'Alice-App-Pass-2'
is "$RESP" "$FAILED" "C. hung server: a wrong password is still refused"
# (documented: a login without a usable verifier still tries the resting
# server, so each wrong password or unknown user holds an auth worker for
# the whole timeout while the server hangs)
ok "[ '$MS' -ge $((TIMEOUT_MS - 200)) ]" \
    "C. ... after waiting the full timeout ($MS ms): logins without a verifier still try the hung server"
stop_fault

# --------------------------------------------------------- D. cache_fresh ---
WEBDAV_REUSE_PORTS=1 bash "$WEBDAV_SH" start "$_WD" >"$T/webdav-restart.log" 2>&1 ||
    bail_out "the WebDAV server did not come back: $(cat "$T/webdav-restart.log")"
cache_conf 30 "cache_fresh = 3600"
login --user alice --password "$ALICE_NEW"
wlog_mark
slog_mark
login --user alice --password "$ALICE_NEW"
is "$OK" True "D. cache_fresh = 3600: alice logs in again"
sleep 0.5
is "$(log_new "$WD_LOG" | grep -c 'method=PROPFIND')" 0 "D. ... without a request to the server"
slog_wait 1
like "$(slog)" '^6 .*: auth ok: user=alice .*status=- ms=0 cache=hit age=[0-9]+$' "D. ... module log: 'cache=hit'"
htpasswd -b -m "$_WD/htpasswd" alice "Alice-App-Pass-3" 2>/dev/null || bail_out "htpasswd failed"
login --user alice --password "$ALICE_NEW"
is "$OK" True "D. the price: a password revoked in Nextcloud keeps working within cache_fresh"
login --user alice --password 'Alice-App-Pass-wrong'
is "$RESP" "$FAILED" "D. a wrong password is never a hit"

# ------------------------------------ E. disabled, in German (issue 15) ---
cache_conf $RETRY
ALICE_PW3='Alice-App-Pass-3'
login --user alice --password "$ALICE_PW3"
is "$OK" True "E. server up: alice logs in (verified)"
login --user bob --password "$BOB_PW"
is "$OK" True "E. server up: bob logs in (verified)"
stop_webdav
FAULT_BIND_PORT=$WD_PORT start_fault nc-disabled-de
is "$FAULT_PORT" "$WD_PORT" "E. Nextcloud (German) answers at the WebDAV URL: bob's account is disabled"
slog_mark
dlog_mark
login --user bob --password "$BOB_PW"
is "$RESP" "$FAILED" "E. bob's right password of his disabled account: refused"
is "$(grep -c 'method=PROPFIND' "$FAULT_LOG")" 1 "E. ... the server was asked (its 503 says 'Konto deaktiviert')"
slog_wait 1
like "$(slog)" '^5 .*: auth denied: account disabled: user=bob .*status=503' \
    "E. module log: 'auth denied: account disabled: user=bob ... status=503' (LOG_NOTICE)"
unlike "$(slog)" 'stale' "E. ... never answered from the stale window"
stop_fault
FAULT_BIND_PORT=$WD_PORT start_fault nc-maintenance
slog_mark
login --user bob --password "$BOB_PW"
is "$RESP" "$FAILED" "E. then maintenance (an outage): bob stays refused (his verifiers were dropped)"
login --user alice --password "$ALICE_PW3"
is "$OK" True "E. ... while alice is let in from the stale window"
slog_wait 2
like "$(slog)" 'auth ok \(stale: server unavailable\): user=alice .*status=503' "E. module log: alice 'stale' on the maintenance 503"
unlike "$(slog)" 'auth ok.*user=bob' "E. module log: no 'auth ok' for bob"
stop_fault
slog_mark
login --user bob --password "$BOB_PW"
is "$RESP" "$FAILED" "E. then the server stopped: bob stays refused"
login --user alice --password "$ALICE_PW3"
is "$OK" True "E. ... alice is let in (stale)"

# ------------------------------------------------------------- summary ---
stop_dovecot
L=$(grep -E 'Fatal|Panic|segfault|killed with signal' "$D/dovecot.log")
is "$L" "" "Dovecot logged no Fatal/Panic/crash during the run"
unlike "$(cat "$SYSLOG_LOG")" 'store .*(failed|unavailable)' "the module logged no store failure"
diag "suite took $(( ($(now_ms) - SUITE_START) / 1000 )) s"
done_testing
