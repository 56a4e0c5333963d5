#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The brute-force guard (guard_failures, guard_window, guard_exempt) with
# the built module against the real WebDAV server, on a real Redis shared
# by two PAM services (two "hosts"), and on LMDB when it is built in.
. "$(dirname "$0")/lib.sh"
need_module
start_webdav
start_redis

SECRET=$TEST_TMP/secret
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET")
REDIS=("store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$RD/auth-acl" "secret_file=$SECRET")
RIGHT=Alice-App-Pass-1

# login SERVICE RHOST PASSWORD: one pam_driver run (RHOST "-": none).
login() {
    if [ "$2" = - ]; then
        run_driver --password "$3" "$1" alice
    else
        run_driver --rhost "$2" --password "$3" "$1" alice
    fi
}
# fail_n SERVICE RHOST N: N wrong passwords; how many were PAM_AUTH_ERR.
fail_n() {
    local i n=0
    for i in $(seq 1 "$3"); do
        login "$1" "$2" "wrong-$i"
        [ "$AUTH" = PAM_AUTH_ERR ] && n=$((n + 1))
    done
    echo "$n"
}
HOST_MODELS=$top_builddir/tests/integration/host_models
[ -x "$HOST_MODELS" ] || bail_out "host_models not built"
# burst RHOST MODE N SERVICE PASSWORD: N logins at once (threads or procs); BURST_OUT.
burst() {
    BURST_OUT=$(HB_RHOST=$1 _confdir_env timeout -k 5 120 "$HOST_MODELS" "$2" "$3" "$4" alice "$5" \
        2>"$TEST_TMP/burst.err")
}
# Module lines of the last run that are not debug.
guard_lines() { module_log | grep -c 'too many failures from this address'; }

# The cases any store must pass.  $1: name, rest: store options.
guard_cases() {
    local name=$1
    shift
    write_service "g-$name" "url=$WD_URL" "cafile=$WD_CA" "$@" guard_failures=3
    write_service "h-$name" "url=$WD_URL" "cafile=$WD_CA" "$@" guard_failures=3
    is "$(fail_n "g-$name" 192.0.2.10 3)" 3 "$name: 3 wrong passwords from 192.0.2.10 are refused by the server"
    log_mark
    login "g-$name" 192.0.2.10 "$RIGHT"
    is "$AUTH" PAM_MAXTRIES "$name: the 4th login from 192.0.2.10, right password, is refused: PAM_MAXTRIES"
    is "$(log_count_new)" 0 "$name: and no request reached the server"
    like "$(module_log)" "^auth refused: user=alice rhost=192\.0\.2\.10: too many failures from this address \(guard: 3 in 900 s; no request sent\)$" \
        "$name: one line says why"
    is "$(module_log | grep -c .)" 1 "$name: and it is the only line"
    login "h-$name" 192.0.2.10 "$RIGHT"
    is "$AUTH" PAM_MAXTRIES "$name: the other host (service h) refuses it too: the counter is shared"
    login "g-$name" ::ffff:192.0.2.10 "$RIGHT"
    is "$AUTH" PAM_MAXTRIES "$name: ::ffff:192.0.2.10 is the same address"
    login "g-$name" 192.0.2.11 "$RIGHT"
    is "$AUTH" PAM_SUCCESS "$name: another address is unaffected"
    login "g-$name" - "$RIGHT"
    is "$AUTH" PAM_SUCCESS "$name: a login without PAM_RHOST is not guarded"
    fail_n "g-$name" client.example 4 >/dev/null
    login "g-$name" client.example "$RIGHT"
    is "$AUTH" PAM_SUCCESS "$name: an rhost that is not an IP address is not guarded"
    # shared between hosts: 2 failures on g, 1 on h
    fail_n "g-$name" 192.0.2.20 2 >/dev/null
    fail_n "h-$name" 192.0.2.20 1 >/dev/null
    login "g-$name" 192.0.2.20 "$RIGHT"
    is "$AUTH" PAM_MAXTRIES "$name: 2 failures on one host + 1 on the other = refused"
    fail_n "g-$name" 192.0.2.21 2 >/dev/null
    login "g-$name" 192.0.2.21 "$RIGHT"
    is "$AUTH" PAM_SUCCESS "$name: 2 failures of 3: still let in"
    # IPv6: counted per /64 by default (guard_ipv6_prefix=)
    fail_n "g-$name" 2001:db8::7 3 >/dev/null
    login "h-$name" 2001:DB8:0::7 "$RIGHT"
    is "$AUTH" PAM_MAXTRIES "$name: IPv6 2001:db8::7 is refused after 3 failures (any spelling)"
    log_mark
    for i in 1 2 3 4 5 6; do login "g-$name" "2001:db8:1:2::$i" "wrong-$i"; done
    is "$(log_count_new)" 3 "$name: 2001:db8:1:2::1 .. ::6 (one /64): 3 of the 6 wrong passwords reached the server"
    login "g-$name" 2001:db8:1:2:ffff:1:2:3 "$RIGHT"
    is "$AUTH" PAM_MAXTRIES "$name: the whole /64 is refused after 3 failures from any of its addresses"
    login "g-$name" 2001:db8:1:3::1 "$RIGHT"
    is "$AUTH" PAM_SUCCESS "$name: the next /64 is unaffected"
    write_service "p-$name" "url=$WD_URL" "cafile=$WD_CA" "$@" guard_failures=3 guard_ipv6_prefix=128
    fail_n "p-$name" 2001:db8:1:4::1 3 >/dev/null
    login "p-$name" 2001:db8:1:4::2 "$RIGHT"
    is "$AUTH" PAM_SUCCESS "$name: guard_ipv6_prefix=128: each address has its own counter"
    write_service "q-$name" "url=$WD_URL" "cafile=$WD_CA" "$@" guard_failures=3 guard_ipv6_prefix=48
    fail_n "q-$name" 2001:db8:5:1::1 3 >/dev/null
    login "q-$name" 2001:db8:5:ffff::2 "$RIGHT"
    is "$AUTH" PAM_MAXTRIES "$name: guard_ipv6_prefix=48: one counter for the /48"
    # exemptions
    write_service "x-$name" "url=$WD_URL" "cafile=$WD_CA" "$@" guard_failures=2 \
        "guard_exempt=198.51.100.0/24, 2001:db8:1::/48"
    fail_n "x-$name" 198.51.100.7 4 >/dev/null
    login "x-$name" 198.51.100.7 "$RIGHT"
    is "$AUTH" PAM_SUCCESS "$name: an exempt address (198.51.100.0/24) is never refused"
    fail_n "x-$name" 2001:db8:1::9 4 >/dev/null
    login "x-$name" 2001:db8:1::9 "$RIGHT"
    is "$AUTH" PAM_SUCCESS "$name: an exempt IPv6 address is never refused"
    fail_n "x-$name" 198.51.101.7 2 >/dev/null
    login "x-$name" 198.51.101.7 "$RIGHT"
    is "$AUTH" PAM_MAXTRIES "$name: the address next to the exempt network is guarded"
    # 429 and outages do not count
    write_service "t-$name" "url=$WD_BASE/status/429/" "cafile=$WD_CA" "$@" guard_failures=2
    write_service "u-$name" "url=$WD_BASE/status/503/" "cafile=$WD_CA" "$@" guard_failures=2
    write_service "c-$name" "url=https://127.0.0.1:$(closed_port)/" "cafile=$WD_CA" "$@" guard_failures=2
    write_service "k-$name" "url=$WD_URL" "cafile=$WD_CA" "$@" guard_failures=2
    for svc in t u c; do
        login "$svc-$name" 203.0.113.30 whatever; login "$svc-$name" 203.0.113.30 whatever
        login "$svc-$name" 203.0.113.30 whatever
    done
    is "$(guard_lines)" 0 "$name: 429, 503 and no server: never refused by the guard"
    login "k-$name" 203.0.113.30 "$RIGHT"
    is "$AUTH" PAM_SUCCESS "$name: 3 x (429, 503, no server) from one address: not counted"
    # A 207 gives its reservation back: right passwords never use up the budget.
    write_service "r-$name" "url=$WD_URL" "cafile=$WD_CA" "$@" guard_failures=1
    for i in 1 2 3 4 5; do login "r-$name" 203.0.113.31 "$RIGHT"; done
    is "$AUTH" PAM_SUCCESS "$name: guard_failures=1: 5 right passwords from one address are let in"
    login "r-$name" 203.0.113.31 wrong-1
    is "$AUTH" PAM_AUTH_ERR "$name: ... then a wrong one still reaches the server (the 207s were given back)"
    login "r-$name" 203.0.113.31 "$RIGHT"
    is "$AUTH" PAM_MAXTRIES "$name: ... and that one is counted: refused now"
    # The window: 2 s, or 6 logins' time on a slow host (valgrind), counted
    # from the first failure; refused attempts do not extend it.
    # t0 <= the first counted failure <= t1: the window ends between t0+W and t1+W.
    local w=$(((WALL_MS * 6 + 999) / 1000)) t0 t1
    [ "$w" -ge 2 ] || w=2
    write_service "w-$name" "url=$WD_URL" "cafile=$WD_CA" "$@" guard_failures=2 "guard_window=$w"
    t0=$(now_ms)
    fail_n "w-$name" 203.0.113.40 1 >/dev/null
    t1=$(now_ms)
    fail_n "w-$name" 203.0.113.40 1 >/dev/null
    login "w-$name" 203.0.113.40 "$RIGHT"
    if [ $(($(now_ms) - t0)) -lt $((w * 1000 - 100)) ]; then
        is "$AUTH" PAM_MAXTRIES "$name: window $w s: refused after 2 failures"
    else
        skip "$name: window $w s: refused after 2 failures" "the host was too slow to test it"
    fi
    while [ $(($(now_ms) - t0)) -lt $((w * 500)) ]; do sleep 0.1; done
    login "w-$name" 203.0.113.40 "$RIGHT"
    if [ $(($(now_ms) - t0)) -lt $((w * 1000 - 100)) ]; then
        is "$AUTH" PAM_MAXTRIES "$name: still refused within the window"
    else
        skip "$name: still refused within the window" "the host was too slow to test it"
    fi
    while [ $(($(now_ms) - t1)) -lt $((w * 1000 + 300)) ]; do sleep 0.1; done
    login "w-$name" 203.0.113.40 "$RIGHT"
    is "$AUTH" PAM_SUCCESS "$name: let in again once the window that began with the first failure passed"
}

# Bursts: N wrong passwords from one address released at the same instant,
# from threads of one process and from separate processes.  The server is
# the fault server's scaled-down Nextcloud throttle (401s that take 1 s,
# 2 s... longer than store_timeout): an attempt is reserved before its
# request, so at most guard_failures requests reach it, all counted.
burst_cases() {
    local name=$1 mode n rhost
    shift
    start_fault nc-throttle
    write_service "b-$name" "url=http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http "$@" guard_failures=3
    n=0
    for mode in burst-threads burst-procs; do
        n=$((n + 1))
        rhost=198.18.$n.1
        : >"$FAULT_LOG"
        burst "$rhost" "$mode" 12 "b-$name" wrong-password
        diag "$name $mode: $BURST_OUT"
        is "$(grep -c 'method=PROPFIND' "$FAULT_LOG")" 3 \
            "$name: $mode: 12 wrong passwords at once from $rhost, guard_failures=3: 3 reach the server"
        like "$BURST_OUT" "^logins=12 PAM_AUTH_ERR=3 PAM_MAXTRIES=9 " "$name: $mode: 3 refused by the server, 9 by the guard"
        login "b-$name" "$rhost" "$RIGHT"
        is "$AUTH" PAM_MAXTRIES "$name: $mode: all 3 counted: the next login from $rhost is refused"
    done
    stop_fault
}

guard_cases redis "${REDIS[@]}"
burst_cases redis "${REDIS[@]}"

# --- what Redis holds ---------------------------------------------------
keys=$(redis_cli --scan --pattern 'pam_httpbasic:*' | LC_ALL=C tr -c '[:print:]\n' '.')
like "$keys" '^pam_httpbasic:g' "redis: guard keys are pam_httpbasic:g..."
unlike "$keys" '192\.0\.2|2001|203\.0' "redis: no client address in clear in the keys"
dump=$(redis_each_key 'pam_httpbasic:*' GET | LC_ALL=C tr -c '[:print:]\n' '.')
unlike "$dump" '192\.0\.2|2001|203\.0' "redis: nor in the values"
ttls=$(redis_each_key 'pam_httpbasic:g*' TTL)
ok '[ -n "$ttls" ] && ! printf "%s\n" "$ttls" | awk "\$1 < 1 || \$1 > 900 { bad = 1 } END { exit !bad }"' \
    "redis: every guard key has a TTL within the window ($(printf '%s\n' "$ttls" | sort -n | head -n 1)..$(printf '%s\n' "$ttls" | sort -n | tail -n 1) s)"
is "$(redis_each_key 'pam_httpbasic:g*' STRLEN | sort -u)" 12 "redis: every guard value is 12 bytes (start, count)"

# --- a store that fails never refuses ------------------------------------
write_service down "url=$WD_URL" "cafile=$WD_CA" "store=redis://127.0.0.1:$(closed_port)" "secret_file=$SECRET" guard_failures=1
fail_n down 192.0.2.50 2 >/dev/null
like "$(module_log)" 'store guard read failed: .*connect' "store down: the failure is logged"
login down 192.0.2.50 "$RIGHT"
is "$AUTH" PAM_SUCCESS "store down: no guard, the right password is accepted"
write_service g-redis2 "url=$WD_URL" "cafile=$WD_CA" "${REDIS[@]}" guard_failures=3 store_timeout=300
login g-redis2 192.0.2.10 "$RIGHT"
is "$AUTH" PAM_MAXTRIES "redis stopped next: 192.0.2.10 is still refused while Redis runs"
kill -STOP "$(cat "$RD/pid")"
login g-redis2 192.0.2.10 "$RIGHT"
is "$AUTH" PAM_SUCCESS "redis hung: the guard is skipped, the right password is accepted"
like "$(module_log)" 'store guard read failed: .*timed out' "redis hung: logged as a timeout"
ok '[ "$ELAPSED_MS" -lt 5000 ]' "redis hung: the login took ${ELAPSED_MS} ms (store_timeout=300)"
kill -CONT "$(cat "$RD/pid")"
stop_redis
login g-redis2 192.0.2.10 wrong
is "$AUTH" PAM_AUTH_ERR "redis stopped: a wrong password is still a plain PAM_AUTH_ERR"
unlike "$(module_log)" 'RIGHT|Alice-App-Pass|wrong' "no password in any log line"
restart_redis

# --- guard_ipv6_prefix is validated ------------------------------------------
for bad in 31 129 x 64x; do
    write_service bad-prefix "url=$WD_URL" "cafile=$WD_CA" "${REDIS[@]}" guard_failures=3 "guard_ipv6_prefix=$bad"
    login bad-prefix 2001:db8::1 "$RIGHT"
    is "$AUTH" PAM_SERVICE_ERR "guard_ipv6_prefix=$bad: a configuration error"
    like "$(module_log)" "config error: .*guard_ipv6_prefix.*\"$bad\" is not a number from 32 to 128" "guard_ipv6_prefix=$bad: the line names it"
done
write_service nostore-prefix "url=$WD_URL" "cafile=$WD_CA" guard_ipv6_prefix=64
login nostore-prefix 2001:db8::1 "$RIGHT"
like "$(module_log)" "config error: .*guard_ipv6_prefix: needs store=" "guard_ipv6_prefix without a store: a configuration error"

# --- the same on LMDB -------------------------------------------------------
mkdir -m 700 "$TEST_TMP/lmdb"
guard_cases lmdb "store=lmdb:$TEST_TMP/lmdb" "secret_file=$SECRET"
burst_cases lmdb "store=lmdb:$TEST_TMP/lmdb" "secret_file=$SECRET"

done_testing
