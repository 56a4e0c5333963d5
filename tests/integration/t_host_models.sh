#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Connection reuse across PAM transactions, and the host models it must
# survive: several threads at once, a fork after a login, a server that
# closes idle keep-alive connections.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_module
HOST_MODELS=$top_builddir/tests/integration/host_models
[ -x "$HOST_MODELS" ] || bail_out "host_models not built"
start_webdav

GOOD='Alice-App-Pass-1'
write_service dav "url=$WD_URL" "cafile=$WD_CA"

# run_models ARGS...: host_models under pam_wrapper; stdout in MODELS_OUT.
run_models() {
    MODELS_OUT=$(_confdir_env timeout -k 5 120 "$HOST_MODELS" "$@" 2>"$TEST_TMP/models.err")
}

# Distinct client ports (= TCP connections) among the new access log lines.
connections_new() { log_new | grep -o 'rport=[0-9]*' | sort -u | wc -l; }

# 1,000 logins in one process: one TLS connection.
log_mark
run_driver --repeat 1000 --password "$GOOD" dav alice
is "$AUTH" PAM_SUCCESS "1,000 logins in one process succeed"
is "$(log_count_new)" 1000 "1,000 requests reached the server"
is "$(connections_new)" 1 "1,000 consecutive logins used 1 TLS connection"

# One process per login (pamtester): a new connection each time, and correct.
log_mark
for i in 1 2 3; do run_driver --password "$GOOD" dav alice; done
is "$(connections_new)" 3 "separate processes do not share a connection"

# Fork after a login: the child must not use the parent's connection.
log_mark
run_models fork dav alice "$GOOD"
is "$MODELS_OUT" "parent1=ok child=ok parent2=ok" "fork: parent, child and parent again succeed"
ports=$(log_new | grep -o 'rport=[0-9]*' | cut -d= -f2 | tr '\n' ' ')
read -r p1 pc p2 <<<"$ports"
ok '[ -n "$p2" ] && [ "$p1" = "$p2" ]' "fork: the parent keeps its connection ($ports)"
ok '[ -n "$pc" ] && [ "$pc" != "$p1" ]' "fork: the child opened its own connection ($ports)"

# Threads: 8 threads × 100 logins at once, right and wrong passwords mixed.
log_mark
run_models threads 8 100 dav alice "$GOOD" wrong-password
is "$MODELS_OUT" "logins=800 wrong=0" "8 threads × 100 mixed logins: every result right"
is "$(log_count_new)" 800 "8 threads: 800 requests, none lost or doubled"
ERR=$TEST_TMP/models.err _LAST_CMD="host_models threads" _san_check

# A server that closes idle keep-alive connections after 100 ms: the next
# login opens a fresh connection; each login is exactly one request.
start_fault close-keepalive
write_service closer "url=http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http
run_models sequence 5 300 closer alice "$GOOD"
is "$MODELS_OUT" "logins=5 ok=5" "idle connection closed by the server: all 5 logins succeed"
is "$(grep -c 'method=PROPFIND' "$FAULT_LOG")" 5 "closed idle connection: exactly one request per login"

done_testing
