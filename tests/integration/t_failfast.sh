#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# An outage must not tie up the host's auth workers: while every server
# rests (store=), only the login holding the probe token waits for the
# servers; every other login the cache cannot answer (unseen user, wrong or
# unknown password) gets PAM_AUTHINFO_UNAVAIL at once, with its one line.
# Cached users keep being answered from the stale window meanwhile.
. "$(dirname "$0")/lib.sh"
need_module
start_webdav
HOST_MODELS=$top_builddir/tests/integration/host_models
[ -x "$HOST_MODELS" ] || bail_out "host_models not built"

SECRET=$TEST_TMP/secret
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET")
TIMEOUT_MS=2000

# A fault server on a fixed port stands in for Nextcloud: 207 first, then hung.
NC_PORT=$(closed_port)
NC_URL=https://127.0.0.1:$NC_PORT/remote.php/dav/
nc_mode() {
    [ -n "${FAULT_PID:-}" ] && stop_fault "$FAULT_PID"
    FAULT_BIND_PORT=$NC_PORT start_fault "$1" tls
}
requests() { grep -c 'method=PROPFIND' "$FAULT_LOG"; }

outage_cases() {
    local name=$1 svc=o-$1 out
    shift
    write_service "$svc" "url=$NC_URL" "cafile=$WD_CA" "$@" "secret_file=$SECRET" cache_stale=3600 \
        "timeout=$TIMEOUT_MS" connect_timeout=1000 server_retry_after=60
    nc_mode ok
    run_driver --password cached-pass "$svc" alice
    is "$AUTH" PAM_SUCCESS "$name: server up: alice verified (cached)"
    nc_mode hang
    run_driver --rhost 192.0.2.1 --password new-pass "$svc" bob
    is "$AUTH" PAM_AUTHINFO_UNAVAIL "$name: hung server: the first login waits for the timeout"
    ok '[ "$ELAPSED_MS" -ge $((TIMEOUT_MS - 100)) ]' "$name: ... ${ELAPSED_MS} ms (timeout=$TIMEOUT_MS): the server now rests"
    run_driver --rhost 192.0.2.2 --password new-pass "$svc" carol
    is "$AUTH" PAM_AUTHINFO_UNAVAIL "$name: the next unverifiable login takes the probe token and waits"
    ok '[ "$ELAPSED_MS" -ge $((TIMEOUT_MS - 100)) ]' "$name: ... ${ELAPSED_MS} ms"
    is "$(requests)" 2 "$name: 2 requests so far (the first login and the probe)"
    # The probe token is held: every other unverifiable login is answered at once.
    run_driver --rhost 192.0.2.3 --password wrong-pass "$svc" alice
    is "$AUTH" PAM_AUTHINFO_UNAVAIL "$name: while another login probes: a wrong password gets PAM_AUTHINFO_UNAVAIL"
    ok '[ "$ELAPSED_MS" -lt $((TIMEOUT_MS / 2)) ]' "$name: ... at once: ${ELAPSED_MS} ms < timeout $TIMEOUT_MS ms"
    like "$(module_log)" '^auth unavailable: user=alice rhost=192\.0\.2\.3 forwarded=192\.0\.2\.3 server=resting status=- ms=0 cache=miss \(every server rests; another login probes them\)$' \
        "$name: one line says why"
    is "$(module_log | grep -vc "config warning")" 1 "$name: and it is the only line (besides the timeout warning)"
    out=$(HB_RHOST=192.0.2.4 _confdir_env timeout -k 5 120 "$HOST_MODELS" burst-procs 12 "$svc" dave unseen-pass 2>/dev/null)
    diag "$name: 12 unverifiable logins at once: $out"
    like "$out" '^logins=12 PAM_AUTHINFO_UNAVAIL=12 ' "$name: 12 unverifiable logins at once: PAM_AUTHINFO_UNAVAIL"
    max=$(sed -n 's/.* max_ms=\([0-9]*\).*/\1/p' <<<"$out")
    ok '[ -n "$max" ] && [ "$max" -lt $((TIMEOUT_MS / 2)) ]' "$name: ... the slowest took ${max:-?} ms < timeout $TIMEOUT_MS ms"
    is "$(requests)" 2 "$name: ... and none reached the server"
    run_driver --password cached-pass "$svc" alice
    is "$AUTH" PAM_SUCCESS "$name: a cached user is still answered from the stale window"
    ok '[ "$ELAPSED_MS" -lt $((TIMEOUT_MS / 2)) ]' "$name: ... at once: ${ELAPSED_MS} ms"
    stop_fault "$FAULT_PID"
    FAULT_PID=
}

mkdir -m 700 "$TEST_TMP/lmdb"
outage_cases lmdb "store=lmdb:$TEST_TMP/lmdb"
start_redis
outage_cases redis "store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$RD/auth-acl"

# Without a store nothing is shared: every login tries the server (unchanged).
write_service nostore "url=$NC_URL" "cafile=$WD_CA" "timeout=$TIMEOUT_MS" connect_timeout=1000
nc_mode hang
run_driver --password x nostore alice
run_driver --password x nostore alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "no store: a hung server gives PAM_AUTHINFO_UNAVAIL"
ok '[ "$ELAPSED_MS" -ge $((TIMEOUT_MS - 100)) ]' "no store: after the timeout (${ELAPSED_MS} ms): nothing to share the rest with"

done_testing
