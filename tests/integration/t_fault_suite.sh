#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Fault suite: every way a server can fail, each repeated in one process.
# Each case must end in its documented PAM code, every attempt within
# timeout + 50% + 500 ms, with no file-descriptor growth and under 1 MiB of RSS
# growth between login 10 and the last one.  Fast faults run 1,000 times;
# faults that only end by the timeout run FAULT_SLOW_REPS times (default 20)
# with timeout=500 ms, to keep the suite short.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_module
HOST_MODELS=$top_builddir/tests/integration/host_models
[ -x "$HOST_MODELS" ] || bail_out "host_models not built"
FAST_REPS=${FAULT_FAST_REPS:-1000}
SLOW_REPS=${FAULT_SLOW_REPS:-20}
start_webdav

# fault_case DESC EXPECTED REPS TIMEOUT_MS URL [module args...]
fault_case() {
    local desc=$1 expected=$2 reps=$3 timeout=$4 url=$5 out
    shift 5
    write_service fault "url=$url" "cafile=$WD_CA" "timeout=$timeout" "connect_timeout=$timeout" "$@"
    out=$(_confdir_env timeout -k 5 600 "$HOST_MODELS" growth "$reps" fault alice 'Alice-App-Pass-1' \
        2>"$TEST_TMP/fault.err")
    local fd rss max last results
    read -r fd rss max last results <<<"$(printf '%s' "$out" |
        sed -n 's/^fd=\([^ ]*\) rss_kb=\([^ ]*\) max_ms=\([^ ]*\) last=\([^ ]*\) results=\([^ ]*\)$/\1 \2 \3 \4 \5/p')"
    is "${last:-none}" "$expected" "$desc: $expected ($((reps + 10)) logins)"
    is "${results:-0}" 1 "$desc: the same result every time"
    # Bounded, with slack for a loaded 2-core machine: never a benchmark.
    ok "[ ${max:-999999} -le $((timeout * 3 / 2 + 500)) ]" "$desc: slowest login ${max:-?} ms <= timeout $timeout ms + 50% + 500 ms"
    ok "[ '${fd%/*}' = '${fd#*/}' ]" "$desc: no fd growth (${fd:-?})"
    if [ -n "$SAN_PRELOAD" ]; then
        skip "$desc: RSS growth" "ASan's quarantine holds freed memory"
    else
        ok "[ $(( ${rss#*/} - ${rss%/*} )) -lt 1024 ]" "$desc: RSS growth < 1 MiB (${rss:-?} kB)"
    fi
    ERR=$TEST_TMP/fault.err _LAST_CMD="host_models growth ($desc)" _san_check
}

plain_fault() {   # plain_fault MODE: start it, print its http URL
    start_fault "$1"
    echo "http://127.0.0.1:$FAULT_PORT/remote.php/dav/"
}

fault_case "connection refused" PAM_AUTHINFO_UNAVAIL "$FAST_REPS" 30000 \
    "https://127.0.0.1:$(closed_port)/remote.php/dav/"
start_fault reset
fault_case "reset mid-headers" PAM_AUTHINFO_UNAVAIL "$FAST_REPS" 30000 \
    "http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http
start_fault garbage
fault_case "garbage status line" PAM_AUTHINFO_UNAVAIL "$FAST_REPS" 30000 \
    "http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http
start_fault http09
fault_case "HTTP/0.9 junk" PAM_AUTHINFO_UNAVAIL "$FAST_REPS" 30000 \
    "http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http
start_fault huge-body
fault_case "endless body" PAM_AUTHINFO_UNAVAIL "$FAST_REPS" 30000 \
    "http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http
like "$(grep -m1 'auth unavailable' "$TEST_TMP/fault.err")" 'answer larger than 65536 bytes' \
    "endless body: logged as too large"
fault_case "3xx to another host" PAM_AUTHINFO_UNAVAIL "$FAST_REPS" 30000 "$WD_BASE/status/301/"
fault_case "expired certificate" PAM_AUTHINFO_UNAVAIL "$FAST_REPS" 30000 \
    "https://127.0.0.1:$WD_EXPIRED_PORT/remote.php/dav/"
fault_case "wrong host name" PAM_AUTHINFO_UNAVAIL "$FAST_REPS" 30000 \
    "https://127.0.0.1:$WD_WRONGNAME_PORT/remote.php/dav/"
fault_case "self-signed certificate" PAM_AUTHINFO_UNAVAIL "$FAST_REPS" 30000 \
    "https://127.0.0.1:$WD_SELFSIGNED_PORT/remote.php/dav/"
start_fault close-keepalive
fault_case "server closes keep-alive early" PAM_SUCCESS 200 30000 \
    "http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http
fault_case "real server, right password" PAM_SUCCESS "$FAST_REPS" 30000 "$WD_URL"

start_fault hang
fault_case "accept and hang" PAM_AUTHINFO_UNAVAIL "$SLOW_REPS" 500 \
    "http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http
start_fault slow-headers
fault_case "slow headers (1 byte/s)" PAM_AUTHINFO_UNAVAIL "$SLOW_REPS" 500 \
    "http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http
start_fault slow-body
fault_case "slow body (1 byte/s)" PAM_AUTHINFO_UNAVAIL "$SLOW_REPS" 500 \
    "http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http
start_fault hang tls
fault_case "TLS server that hangs" PAM_AUTHINFO_UNAVAIL "$SLOW_REPS" 500 \
    "https://127.0.0.1:$FAULT_PORT/remote.php/dav/"

done_testing
