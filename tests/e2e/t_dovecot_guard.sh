#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_dovecot_guard.sh - issue 10 end to end: the brute-force guard
# (guard_failures=, guard_window=) spares Dovecot's auth workers.
#
# The stack of tests/e2e/stack.sh (DOVECOT_VERSION 2.3 or 2.4) with only 4
# auth-worker processes, against a throttling server that behaves like
# Nextcloud, scaled down (fault_server.py nc-throttle: every request from
# an address with N recent wrong passwords waits min(N, 4) s, right
# passwords included).  Attackers (wrong passwords from 127.0.5x.N, several
# connections each) and legitimate users (bob, each login from its own
# address) log in at the same time:
#
#   1. without the guard: measured and reported (how long bob's logins
#      take, how many fail), nothing asserted about timing;
#   2. with guard_failures=3 guard_window=60: each attacker address gets at
#      most 3 wrong passwords to the server (each attempt is reserved before
#      its request), then PAM_MAXTRIES at once without a request; bob's logins all
#      succeed; a refused attempt costs the auth worker < 5 ms (measured
#      in-process with pam_bench on the same PAM service).
#
# Skipped when the module does not know guard_failures at all; a module
# that accepts the option without guarding (branch cache before redis was
# merged into it) fails here.  Needs root.  About 1.5 minutes.

. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
. "$E2E/stack.sh"

stack_prereqs
grep -aq guard_failures "$MODULE" || skip_all "this module has no brute-force guard (guard_failures)"
command -v cc >/dev/null || skip_all "no C compiler (for tests/bench/pam_bench.c)"
SUITE_START=$(now_ms)
STACK_SYSLOG=1
TIMEOUT_MS=15000
WORKERS=4
PER_ADDR=8      # wrong passwords per attacker address
ATTACKS=$((4 * PER_ADDR))
case $DOVECOT_VERSION in
    2.3) STACK_LOCAL_CONF="auth_worker_max_count = $WORKERS" ;;
    2.4) STACK_LOCAL_CONF="service auth-worker {
  process_limit = $WORKERS
}" ;;
esac
stack_start

STORE=$T/store
SECRET=$T/secret
install -d -m 0700 "$STORE"
(umask 077; openssl rand -hex 32 >"$SECRET")
printf 'alice:%s\nbob:%s\n' "$ALICE_PW" "$BOB_PW" >"$T/nc-users"
start_fault nc-throttle --users "$T/nc-users" --throttle-cap 4 --throttle-window 60
NC_URL="https://127.0.0.1:$FAULT_PORT/remote.php/dav/"

cc -O2 -o "$T/pam_bench" "$top_srcdir/tests/bench/pam_bench.c" -lpam || bail_out "cannot build pam_bench"

# guard_conf [LINE...]: the module against the throttling server, LMDB store
guard_conf() { module_conf "$NC_URL" "store = lmdb:$STORE" "secret_file = $SECRET" "$@"; }
slog_mark() { log_mark "$SYSLOG_LOG"; }
slog() { log_new "$SYSLOG_LOG" | grep -F "($PAM_SERVICE:"; }
jv() { "$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], r))' "$1" "$2"; }
# requests the server saw from address $1 (X-Forwarded-For)
server_requests() { grep -c "x-forwarded-for=\"$1\"" "$FAULT_LOG"; }

# attack NET LEGIT-BASE: 4 attacker addresses 127.0.NET.1-4, 8 wrong
# passwords each, all 32 connections at once; from 1 s in, 24 logins of
# bob, one every 0.5 s (up to 4 at once), each from its own address
# 127.0.LEGIT-BASE.N.  Results in $T/attack-NET.json, $T/legit-NET.json.
attack() {
    local net=$1 legit=$2 i a
    : >"$T/attack-$net.txt"
    for i in $(seq 1 "$PER_ADDR"); do
        for a in 1 2 3 4; do printf '127.0.%s.%s\talice\twrong-%s\n' "$net" "$a" "$i" >>"$T/attack-$net.txt"; done
    done
    : >"$T/legit-$net.txt"
    for i in $(seq 1 24); do printf '127.0.%s.%s\tbob\t%s\n' "$legit" "$i" "$BOB_PW" >>"$T/legit-$net.txt"; done
    imap many --port "$IMAP_PORT" --threads $((4 * PER_ADDR)) --logins "$T/attack-$net.txt" >"$T/attack-$net.json" &
    local apid=$!
    sleep 1
    imap many --port "$IMAP_PORT" --threads 4 --interval 0.5 --logins "$T/legit-$net.txt" >"$T/legit-$net.json"
    wait "$apid"
}

summary() { # summary FILE: "ok/N, p50/p95/max ms of all its logins, seconds"
    jv "$1" '"%d/%d ok, latency p50 %s / p95 %s / max %s ms, %.1f s in all" % ((ok, len(results)) + tuple(sorted(x["ms"] for x in results)[min(len(results) - 1, int(q * len(results)))] for q in (0.5, 0.95, 1)) + (seconds,))'
}

# ------------------------------------------------------ 1. no guard ---
guard_conf
login --user bob --password "$BOB_PW"
is "$OK" True "the throttling server accepts bob's app password (module without guard)"
attack 50 60
is "$(jv "$T/attack-50.json" refused)" "$ATTACKS" "1. no guard: all $ATTACKS wrong passwords refused"
NOGUARD_LEGIT=$(summary "$T/legit-50.json")
NOGUARD_REQ=0
for a in 1 2 3 4; do NOGUARD_REQ=$((NOGUARD_REQ + $(server_requests "127.0.50.$a"))); done
diag "1. no guard, $WORKERS auth workers: bob's 24 logins during the attack: $NOGUARD_LEGIT" \
     "   attack: $(summary "$T/attack-50.json" | sed 's/ ok,/ accepted,/'); $NOGUARD_REQ wrong passwords reached the server"
is "$NOGUARD_REQ" "$ATTACKS" "1. ... every one of them reached the server ($ATTACKS requests)"

# ----------------------------------------------------- 2. the guard ---
guard_conf "guard_failures = 3" "guard_window = 60"
slog_mark
dlog_mark
attack 51 61
is "$(jv "$T/attack-51.json" refused)" "$ATTACKS" "2. guard: all $ATTACKS wrong passwords refused"
is "$(jv "$T/legit-51.json" ok)" 24 "2. guard: all 24 of bob's logins during the attack succeed"
GUARD_LEGIT=$(summary "$T/legit-51.json")
worst=0
for a in 1 2 3 4; do
    n=$(server_requests "127.0.51.$a")
    [ "$n" -gt "$worst" ] && worst=$n
done
# Each attempt is reserved before its request (issue 16): exactly 3 per
# address, whatever the other auth workers had in flight.
is "$worst" 3 "2. guard: at most 3 wrong passwords per attacker address reached the server (worst: $worst of $PER_ADDR)"
GUARD_REQ=0
for a in 1 2 3 4; do GUARD_REQ=$((GUARD_REQ + $(server_requests "127.0.51.$a"))); done
[ "$GUARD_REQ" = "$ATTACKS" ] &&
    diag "every wrong password reached the server: this module accepts guard_failures= but does not guard"
like "$(slog)" 'auth refused: user=alice rhost=127\.0\.51\.[1-4]: too many failures from this address \(guard: 3 in 60 s; no request sent\)' \
    "2. module log: 'auth refused: ... too many failures from this address (guard: 3 in 60 s; no request sent)'"
like "$(dlog)" "$(db_re pam alice)pam_authenticate\\(\\) failed: Have exhausted maximum number of retries" \
    "2. Dovecot's log: PAM_MAXTRIES ('Have exhausted maximum number of retries') for the refused attempts"
diag "2. guard_failures=3, $WORKERS auth workers: bob's 24 logins during the attack: $GUARD_LEGIT" \
     "   attack: $(summary "$T/attack-51.json" | sed 's/ ok,/ accepted,/'); $GUARD_REQ of $ATTACKS wrong passwords reached the server (worst address: $worst)"

# A refused attempt in the auth worker: pam_authenticate through the same
# /etc/pam.d service, in-process, from a guarded address.
before=$(server_requests 127.0.51.1)
"$T/pam_bench" -n 20 --rhost 127.0.51.1 "$PAM_SERVICE" alice wrong-again >"$T/guard-bench.out" 2>&1
AUTH_US=$(sed -n 's/^authenticate_us=//p' "$T/guard-bench.out")
is "$(sed -n 's/^ok=//p' "$T/guard-bench.out")" 0 "2. 20 more attempts from 127.0.51.1 in-process: all refused"
ok "[ -n '$AUTH_US' ] && [ \"\${AUTH_US%.*}\" -lt 5000 ]" "2. ... pam_authenticate took $AUTH_US us each on average (< 5 ms of auth-worker time)"
is "$(server_requests 127.0.51.1)" "$before" "2. ... and none of them reached the server"
login --source 127.0.51.2 --user bob --password "$BOB_PW"
is "$RESP" "$FAILED" "2. the guard refuses the address, whoever logs in from it (bob's right password from 127.0.51.2)"
login --user bob --password "$BOB_PW"
is "$OK" True "2. bob from another address logs in"

# ------------------------------------------------------------- summary ---
stop_dovecot
L=$(grep -E 'Fatal|Panic|segfault|killed with signal' "$D/dovecot.log")
is "$L" "" "Dovecot logged no Fatal/Panic/crash during the run"
diag "suite took $(( ($(now_ms) - SUITE_START) / 1000 )) s"
done_testing
