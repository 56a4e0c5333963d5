#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Load (not timing-asserted): LOAD_PROCS processes (default 8) × LOAD_LOGINS
# logins (default 2,000) each, right and wrong passwords alternating, all at
# once against the real server: every result right, no crash.  Through the
# real libpam (pam_start_confdir with this script's service directory).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_module
HOST_MODELS=$top_builddir/tests/integration/host_models
[ -x "$HOST_MODELS" ] || bail_out "host_models not built"
PROCS=${LOAD_PROCS:-8}
LOGINS=${LOAD_LOGINS:-2000}
start_webdav
write_service load "url=$WD_URL" "cafile=$WD_CA"

log_mark
t0=$(now_ms)
pids=()
for i in $(seq 1 "$PROCS"); do
    # Real libpam through pam_start_confdir, not pam_wrapper: pam_wrapper's
    # /tmp/pam.X directories collide when many processes start at once.
    HB_CONFDIR=$SVC_DIR timeout -k 5 600 "$HOST_MODELS" threads 1 "$LOGINS" load alice \
        'Alice-App-Pass-1' "wrong-$i" >"$TEST_TMP/load-$i.out" 2>"$TEST_TMP/load-$i.err" &
    pids+=($!)
done
crashes=0
for pid in "${pids[@]}"; do
    wait "$pid" || crashes=$((crashes + 1))
done
took=$(($(now_ms) - t0))
wrong=$(cat "$TEST_TMP"/load-*.out | sed -n 's/.*wrong=\([0-9]*\)$/\1/p' | awk '{s += $1} END {print s + 0}')
done_count=$(cat "$TEST_TMP"/load-*.out | sed -n 's/^logins=\([0-9]*\) .*/\1/p' | awk '{s += $1} END {print s + 0}')
is "$crashes" 0 "$PROCS processes × $LOGINS logins: no process crashed or hung"
is "$done_count" "$((PROCS * LOGINS))" "every login ran"
is "$wrong" 0 "no wrong result (right passwords accepted, wrong ones refused)" ||
    { grep -h '^wrong result' "$TEST_TMP"/load-*.out | sort | uniq -c | diag_lines
      cat "$TEST_TMP"/load-*.err | sort | uniq -c | sort -rn | head -n 10 | diag_lines; }
is "$(log_count_new)" "$((PROCS * LOGINS))" "the server saw exactly one request per login"
diag "$((PROCS * LOGINS)) logins in $took ms ($((PROCS * LOGINS * 1000 / (took + 1))) logins/s, 2 cores, server on the same machine)"
for ERR in "$TEST_TMP"/*.err; do _LAST_CMD=$ERR _san_check; done
done_testing
