# SPDX-License-Identifier: BSD-3-Clause
# tests/bench/guard.sh - section 8 of tests/bench/run (BENCH_ONLY=guard):
# what a refused attempt costs, and the store's hit cost side by side
# (issue 16).  Sourced by run after its set-up (write_service, kv, calc,
# fmt, note; Apache at $URL); reuses cache.sh's cache_service/start_redis.
#
#   8a. in-process, pam_start_confdir, GUARD_THREADS threads at once
#       (pam_bench --threads) and GUARD_PROCS processes at once: BENCH_N
#       wrong passwords from one address the guard already refuses
#       (guard_failures=1, primed with one 401), LMDB and Redis; beside
#       them the same wrong passwords with the guard off (each one a 401
#       from the server) and pam_permit at the same concurrency.
#   8b. in-process, one thread: LMDB hit and Redis hit (cache_fresh=3600)
#       and pam_permit in the same run: the hit cost of each store.
# Nothing is asserted: every number is this machine at this moment.

: "${GUARD_THREADS:=4}"
: "${GUARD_PROCS:=4}"
GUARD_RHOST=192.0.2.99

guard_services() {
    install -d -m 0700 "$T/store-guard"
    cache_service guard-lmdb "$URL" "lmdb:$T/store-guard" "guard_failures = 1" "guard_window = 3600"
    cache_service guard-off "$URL" "lmdb:$T/store-guard"
    cache_service hit-lmdb "$URL" "lmdb:$T/store-guard" "cache_fresh = 3600"
    if [ -n "$REDIS_URL" ]; then
        cache_service guard-redis "$URL" "$REDIS_URL" "store_auth_file = $REDIS_DIR/auth-default" \
            "guard_failures = 1" "guard_window = 3600"
        cache_service hit-redis "$URL" "$REDIS_URL" "store_auth_file = $REDIS_DIR/auth-default" "cache_fresh = 3600"
    fi
}

# guard_run KEY PROCS THREADS SERVICE PASSWORD: PROCS pam_bench processes at once, each
# BENCH_N/PROCS logins over THREADS threads; R[KEY.rate] = all logins / slowest wall time.
guard_run() {
    local key=$1 procs=$2 threads=$3 svc=$4 pw=$5 p wall=0 n=$((BENCH_N / $2)) before after req
    before=$(log_lines)
    for p in $(seq 1 "$procs"); do
        "$T/bin/pam_bench" -n "$n" --threads "$threads" --rhost "$GUARD_RHOST" --confdir "$T/pam.d" \
            "$svc" "$USER_NAME" "$pw" >"$T/out/guard-$key-$p" 2>&1 &
    done
    wait
    for p in $(seq 1 "$procs"); do
        wall=$(calc "max($wall, $(kv "$T/out/guard-$key-$p" wall_s))")
    done
    after=$(log_count "$before")
    req=${after% *}
    R[g.$key.rate]=$(calc "$n * $procs / $wall")
    R[g.$key.req]=$(calc "$req / ($n * $procs)")
    R[g.$key.res]=$(kv "$T/out/guard-$key-1" first_error)
    [ -n "${R[g.$key.res]}" ] || R[g.$key.res]=PAM_SUCCESS
}

guard_section() {
    local conc key label
    note "8. guard and store hit cost ($BENCH_N logins per row; $GUARD_THREADS threads, $GUARD_PROCS processes)"
    [ -n "$REDIS_URL" ] || start_redis
    guard_services
    "$T/bin/pam_bench" -n 1 --rhost "$GUARD_RHOST" --confdir "$T/pam.d" "$SVC-cache-guard-lmdb" "$USER_NAME" wrong >/dev/null 2>&1
    [ -n "$REDIS_URL" ] && "$T/bin/pam_bench" -n 1 --rhost "$GUARD_RHOST" --confdir "$T/pam.d" \
        "$SVC-cache-guard-redis" "$USER_NAME" wrong >/dev/null 2>&1
    for conc in "1 $GUARD_THREADS" "$GUARD_PROCS 1"; do
        set -- $conc
        guard_run "permit-$1x$2" "$1" "$2" "$SVC-permit" "$USER_PASS"
        guard_run "off-$1x$2" "$1" "$2" "$SVC-cache-guard-off" wrong
        guard_run "lmdb-$1x$2" "$1" "$2" "$SVC-cache-guard-lmdb" wrong
        [ -n "$REDIS_URL" ] && guard_run "redis-$1x$2" "$1" "$2" "$SVC-cache-guard-redis" wrong
    done
    "$T/bin/pam_bench" -n 1 --rhost "$RHOST" --confdir "$T/pam.d" "$SVC-cache-hit-lmdb" "$USER_NAME" "$USER_PASS" >/dev/null 2>&1
    [ -n "$REDIS_URL" ] && "$T/bin/pam_bench" -n 1 --rhost "$RHOST" --confdir "$T/pam.d" \
        "$SVC-cache-hit-redis" "$USER_NAME" "$USER_PASS" >/dev/null 2>&1
    for round in $(seq 1 "$BENCH_ROUNDS"); do
        for key in permitcd hit-lmdb hit-redis; do
            [ "$key" = hit-redis ] && [ -z "$REDIS_URL" ] && continue
            svc=$SVC-cache-$key
            [ "$key" = permitcd ] && svc=$SVC-permit
            inproc_variant "g-$key" "$round" "$T/bin/pam_bench" -n "$BENCH_N" --rhost "$RHOST" --confdir "$T/pam.d" \
                "$svc" "$USER_NAME" "$USER_PASS"
        done
    done
    stop_redis
    echo
    echo "== 8a. guard: $BENCH_N wrong passwords from one address at once (in-process, pam_start_confdir)"
    printf '%-58s %10s %10s %8s %s\n' "variant (processes x threads)" logins/s us/login req/lg result
    for conc in "1x$GUARD_THREADS" "${GUARD_PROCS}x1"; do
        for key in permit off lmdb redis; do
            [ -n "${R[g.$key-$conc.rate]:-}" ] || continue
            case $key in
                permit) label="pam_permit (PAM alone)" ;;
                off) label="guard off: each a 401 from the server" ;;
                lmdb) label="guard refuses (LMDB): no request" ;;
                redis) label="guard refuses (Redis): no request" ;;
            esac
            printf '%-58s %10s %10s %8s %s\n' "$label, $conc" "$(fmt "${R[g.$key-$conc.rate]}")" \
                "$(fmt "$(calc "1e6/${R[g.$key-$conc.rate]}")")" "$(fmt "${R[g.$key-$conc.req]}" 2)" "${R[g.$key-$conc.res]}"
        done
        [ -n "${R[g.lmdb-$conc.rate]:-}" ] && echo "guard's cost per refused attempt, $conc (refused - pam_permit, wall per login):" \
            "LMDB $(fmt "$(calc "1e6/${R[g.lmdb-$conc.rate]} - 1e6/${R[g.permit-$conc.rate]}")") us$( [ -n "${R[g.redis-$conc.rate]:-}" ] &&
            echo ", Redis $(fmt "$(calc "1e6/${R[g.redis-$conc.rate]} - 1e6/${R[g.permit-$conc.rate]}")") us")"
    done
    echo
    echo "== 8b. store hit cost, one thread, $BENCH_N logins, best of $BENCH_ROUNDS (same run)"
    printf '%-40s %10s %10s %10s\n' variant logins/s us/login "vs permit"
    for key in permitcd hit-lmdb hit-redis; do
        [ -n "${R[g-$key.rate]:-}" ] || continue
        printf '%-40s %10s %10s %9sx\n' "$key" "$(fmt "${R[g-$key.rate]}")" "$(fmt "$(calc "1e6/${R[g-$key.rate]}")")" \
            "$(fmt "$(calc "${R[g-$key.rate]}/${R[g-permitcd.rate]}")" 2)"
    done
    [ -n "${R[g-hit-redis.rate]:-}" ] && echo "hit cost over pam_permit: LMDB $(fmt "$(calc "1e6/${R[g-hit-lmdb.rate]} - 1e6/${R[g-permitcd.rate]}")") us," \
        "Redis $(fmt "$(calc "1e6/${R[g-hit-redis.rate]} - 1e6/${R[g-permitcd.rate]}")") us; Redis/LMDB hit time $(fmt "$(calc "${R[g-hit-lmdb.rate]}/${R[g-hit-redis.rate]}")" 2)x"
}
