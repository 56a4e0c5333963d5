#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The host-wide credential cache (store=lmdb:DIR, secret_file=, cache_fresh=,
# cache_stale=) against the real test server and the fault server:
# configuration checks, fresh hits without a request and across processes,
# a store holding neither passwords nor user names, broken stores that
# change nothing, revocation on 401, Nextcloud's two 503 answers
# (maintenance = outage, disabled account = denial), the stale window while
# the server is down, resting servers shared through the store with one
# probe per retry period, and a multi-process load on one store.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_module
HOST_MODELS=$top_builddir/tests/integration/host_models
[ -x "$HOST_MODELS" ] || bail_out "host_models not built"
start_webdav
PW=Alice-App-Pass-1
PW2=Alice-App-Pass-2
BOB_PW='pass word:with:colons'
SECRET=$TEST_TMP/secret
openssl rand -hex 32 >"$SECRET"
chmod 0600 "$SECRET"
STORE=$TEST_TMP/store
mkdir -m 0700 "$STORE"
CACHE=("store=lmdb:$STORE" "secret_file=$SECRET")

count_auth() { grep -c "^authenticate=$1\$" "$OUT"; }
log_lines() { module_log | grep -c -- "$1"; }

# ------------------------------------------------ configuration checks ---
cp "$SECRET" "$TEST_TMP/secret-0644"
chmod 0644 "$TEST_TMP/secret-0644"
write_service readable "url=$WD_URL" "cafile=$WD_CA" "store=lmdb:$STORE" \
    "secret_file=$TEST_TMP/secret-0644" cache_stale=60
run_driver --password "$PW" readable alice
is "$AUTH" PAM_SERVICE_ERR "secret_file readable by others: config error"
like "$(module_log)" '^config error: .*secret_file.*must not be readable or writable by group or others' \
    "the config error names secret_file and its mode"

printf 'short-secret\n' >"$TEST_TMP/secret-short"
chmod 0600 "$TEST_TMP/secret-short"
write_service short "url=$WD_URL" "cafile=$WD_CA" "store=lmdb:$STORE" \
    "secret_file=$TEST_TMP/secret-short" cache_stale=60
run_driver --password "$PW" short alice
is "$AUTH" PAM_SERVICE_ERR "secret_file of 12 bytes: config error"
like "$(module_log)" '^config error: .*secret_file.*at least 32' "the config error says 32 bytes are needed"

write_service nosecret "url=$WD_URL" "cafile=$WD_CA" "store=lmdb:$STORE" cache_stale=60
run_driver --password "$PW" nosecret alice
is "$AUTH" PAM_SERVICE_ERR "store= without secret_file=: config error"

# ------------------------------------------------------- fresh hits ---
write_service fresh "url=$WD_URL" "cafile=$WD_CA" "${CACHE[@]}" cache_fresh=300 cache_stale=3600
log_mark
run_driver --password "$PW" fresh alice
is "$AUTH" PAM_SUCCESS "cache on, first login: PAM_SUCCESS"
like "$(module_log)" '^auth ok: user=alice .*status=207 .*cache=miss$' "first login: cache=miss, the server decided"
is "$(log_count_new)" 1 "first login: one request"

log_mark
run_driver --password "$PW" fresh alice
is "$AUTH" PAM_SUCCESS "second process, same password within cache_fresh: PAM_SUCCESS"
like "$(module_log)" '^auth ok: user=alice .*status=- ms=0 cache=hit age=[0-9]+$' "second process: the decision line says cache=hit"
is "$(module_log_prio | grep 'cache=hit' | cut -d' ' -f1)" 6 "a cache hit is logged at LOG_INFO"
is "$(log_count_new)" 0 "a cache hit sends no request (access log)"

log_mark
run_driver --password wrong-password fresh alice
is "$AUTH" PAM_AUTH_ERR "a wrong password is never a cache hit: PAM_AUTH_ERR"
is "$(log_count_new)" 1 "the wrong password went to the server"

ok '[ -s "$STORE/data.mdb" ]' "the store file exists"
ok '! grep -aq -- "$PW" "$STORE/data.mdb"' "the store file does not contain the password"
ok '! grep -aq -- "alice" "$STORE/data.mdb"' "the store file does not contain the user name"
ok '! grep -aq -- "$(head -c 16 "$SECRET")" "$STORE/data.mdb"' "the store file does not contain the secret"

# -------------------------------------------- broken stores change nothing ---
mkdir -m 0770 "$TEST_TMP/store-gw"
write_service groupw "url=$WD_URL" "cafile=$WD_CA" "store=lmdb:$TEST_TMP/store-gw" \
    "secret_file=$SECRET" cache_fresh=300 cache_stale=3600
log_mark
run_driver --repeat 2 --password "$PW" groupw alice
is "$(count_auth PAM_SUCCESS)" 2 "group-writable store dir: logins still succeed (2 of 2)"
is "$(log_count_new)" 2 "group-writable store dir: each login went to the server"
is "$(module_log_prio | grep -c '^4 store .*failed')" 1 "group-writable store dir: one warning for the process, not one per login"
run_driver --password wrong-password groupw alice
is "$AUTH" PAM_AUTH_ERR "group-writable store dir: a wrong password is still refused"

mkdir -m 0700 "$TEST_TMP/store-bad"
head -c 65536 /dev/urandom >"$TEST_TMP/store-bad/data.mdb"
chmod 0600 "$TEST_TMP/store-bad/data.mdb"
write_service corrupt "url=$WD_URL" "cafile=$WD_CA" "store=lmdb:$TEST_TMP/store-bad" \
    "secret_file=$SECRET" cache_fresh=300 cache_stale=3600
log_mark
run_driver --password "$PW" corrupt alice
is "$AUTH" PAM_SUCCESS "corrupt store: the server decides (right password accepted)"
like "$(module_log_prio)" '^4 store .*failed' "corrupt store: a warning"
run_driver --password wrong-password corrupt alice
is "$AUTH" PAM_AUTH_ERR "corrupt store: a wrong password is refused"
is "$(log_count_new)" 2 "corrupt store: both logins went to the server"

# ------------------------------------------------------------ load ---
# load_run LABEL STORE_ARGS...: LOAD_PROCS processes x LOAD_LOGINS logins
# on one store with cache_fresh on, right and wrong passwords alternating:
# no wrong result.  Run on LMDB (one host) and on Redis (several hosts).
PROCS=${LOAD_PROCS:-8}
LOGINS=${LOAD_LOGINS:-2000}
load_run() {
    local label=$1 t0 pids=() crashes=0 wrong done_count took requests pid i
    shift
    write_service "load-$label" "url=$WD_URL" "cafile=$WD_CA" "$@" "secret_file=$SECRET" \
        cache_fresh=300 cache_stale=3600
    log_mark
    t0=$(now_ms)
    for i in $(seq 1 "$PROCS"); do
        HB_CONFDIR=$SVC_DIR timeout -k 5 600 "$HOST_MODELS" threads 1 "$LOGINS" "load-$label" alice \
            "$PW" "wrong-$i" >"$TEST_TMP/load-$label-$i.out" 2>"$TEST_TMP/load-$label-$i.err" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || crashes=$((crashes + 1))
    done
    wrong=$(cat "$TEST_TMP"/load-"$label"-*.out | sed -n 's/.*wrong=\([0-9]*\)$/\1/p' | awk '{s += $1} END {print s + 0}')
    done_count=$(cat "$TEST_TMP"/load-"$label"-*.out | sed -n 's/^logins=\([0-9]*\) .*/\1/p' | awk '{s += $1} END {print s + 0}')
    took=$(($(now_ms) - t0))
    requests=$(log_count_new)
    is "$crashes" 0 "load ($label): $PROCS processes x $LOGINS logins, none crashed or hung"
    is "$done_count" "$((PROCS * LOGINS))" "load ($label): every login ran"
    is "$wrong" 0 "load ($label): no wrong result (right passwords accepted, wrong ones refused)" ||
        { grep -h '^wrong result' "$TEST_TMP"/load-"$label"-*.out | sort | uniq -c | diag_lines; }
    ok '[ "$requests" -lt $((PROCS * LOGINS)) ]' "load ($label): cache hits spared requests ($requests requests for $((PROCS * LOGINS)) logins)"
    diag "load ($label): $requests requests for $((PROCS * LOGINS)) logins in $took ms (half of them wrong passwords, which always reach the server); store warnings: $(cat "$TEST_TMP"/load-"$label"-*.err | grep -c 'store .*failed')"
    for ERR in "$TEST_TMP"/load-"$label"-*.err; do _LAST_CMD=$ERR _san_check; done
}
mkdir -m 0700 "$TEST_TMP/store-load"
load_run lmdb "store=lmdb:$TEST_TMP/store-load"
start_redis
load_run redis "store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$RD/auth-acl"
# What Redis holds after the load: keyed hashes with a TTL, nothing in clear.
keys=$(redis_cli --scan --pattern 'pam_httpbasic:*' | LC_ALL=C tr -c '[:print:]\n' '.')
like "$keys" '^pam_httpbasic:u' "redis: cache keys are pam_httpbasic:u..."
dump=$(redis_each_key 'pam_httpbasic:*' GET | LC_ALL=C tr -c '[:print:]\n' '.')
unlike "$keys$dump" "alice|$PW|wrong-|remote\.php" "redis: no user name, password or URL in the keys or values"
ttls=$(redis_each_key 'pam_httpbasic:u*' TTL)
ok '[ -n "$ttls" ] && ! printf "%s\n" "$ttls" | awk "\$1 < 1 || \$1 > 3600 { bad = 1 } END { exit !bad }"' \
    "redis: every cache key expires within cache_stale (Redis frees it itself)"
# One store round trip per hit (issue 16): the user's record, the account
# record and the guard record of the client address in one MGET, and no
# other command, whatever the guard and the cache hold; AUTH and SELECT
# once, when the process connects.
write_service redis-rt "url=$WD_URL" "cafile=$WD_CA" "store=redis://127.0.0.1:$RD_PORT" \
    "store_auth_file=$RD/auth-acl" "secret_file=$SECRET" cache_fresh=300 guard_failures=5
run_driver --password "$PW" --rhost 192.0.2.77 redis-rt alice
is "$AUTH" PAM_SUCCESS "redis round trips: the priming login is accepted (verified by the server, remembered)"
redis_cli CONFIG RESETSTAT >/dev/null
log_mark
run_driver --password "$PW" --rhost 192.0.2.77 --repeat 40 redis-rt alice
is "$AUTH" PAM_SUCCESS "redis round trips: 40 logins in one process are accepted"
is "$(log_count_new)" 0 "redis round trips: all 40 were cache hits (no request)"
stats=$(redis_cli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1=\2/p' | sort)
is "$(printf '%s\n' "$stats" | sed -n 's/^mget=//p')" 40 "redis round trips: one MGET per hit (40 for 40)"
is "$(printf '%s\n' "$stats" | grep -v '^mget=\|^auth=\|^select=\|^info=\|^config' | tr '\n' ' ')" "" \
    "redis round trips: no other command on a hit (no GET, SET, WATCH, MULTI, EXEC, EVAL)" || diag "$stats"
is "$(printf '%s\n' "$stats" | sed -n 's/^select=//p')" 1 \
    "redis round trips: the process connected once (one SELECT; AUTH is also counted for redis-cli's INFO)"
stop_redis

# ---------------------------------------------------- revocation (401) ---
# The stale service shares the fresh service's entries (same server list,
# secret and store) but always asks the server.
write_service stale "url=$WD_URL" "cafile=$WD_CA" "${CACHE[@]}" cache_stale=3600
htpasswd -b -m "$WD/htpasswd" alice "$PW2" 2>/dev/null || bail_out "htpasswd failed"
run_driver --password "$PW2" stale alice
is "$AUTH" PAM_SUCCESS "alice's new password is accepted (now two verifiers)"
run_driver --password "$PW" stale alice
is "$AUTH" PAM_AUTH_ERR "alice's old password is refused by the server (401)"
run_driver --password "$BOB_PW" stale bob
is "$AUTH" PAM_SUCCESS "bob logs in (seen before the outage)"

# ------------------------------------------- Nextcloud's two 503 answers ---
# A fault server on a fixed port stands in for Nextcloud at one URL: first
# answering 207 to everything, then maintenance, then "account disabled".
NC_PORT=$(closed_port)
NC_URL=https://127.0.0.1:$NC_PORT/remote.php/dav/
write_service nc "url=$NC_URL" "cafile=$WD_CA" "${CACHE[@]}" cache_stale=3600 timeout=1500 connect_timeout=1000
nc_mode() {
    [ -n "${FAULT_PID:-}" ] && stop_fault "$FAULT_PID"
    FAULT_BIND_PORT=$NC_PORT start_fault "$1" tls
}
nc_mode ok
run_driver --password phone-pass nc alice
is "$AUTH" PAM_SUCCESS "nc up: alice's phone password accepted"
run_driver --password laptop-pass nc alice
is "$AUTH" PAM_SUCCESS "nc up: alice's laptop password accepted"

nc_mode nc-maintenance
run_driver --password phone-pass nc alice
is "$AUTH" PAM_SUCCESS "maintenance 503: a password verified before is accepted (stale)"
like "$(module_log)" '^auth ok \(stale: server unavailable\): user=alice .*status=503 .*cache=stale age=[0-9]+$' \
    "maintenance 503: the decision line says stale"
is "$(module_log_prio | grep 'stale: server unavailable' | cut -d' ' -f1)" 4 "a stale answer is logged at LOG_WARNING"
is "$(grep -c 'method=PROPFIND' "$FAULT_LOG")" 1 "maintenance 503: the server was asked"
run_driver --password wrong-pass nc alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "maintenance 503: a wrong password is refused"
run_driver --password phone-pass nc bob
is "$AUTH" PAM_AUTHINFO_UNAVAIL "maintenance 503: a user never seen is refused"

nc_mode nc-throttled
run_driver --password phone-pass nc alice
is "$AUTH" PAM_MAXTRIES "429 with a verified password: PAM_MAXTRIES, never stale"
nc_mode forbidden
run_driver --password phone-pass nc alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "403 with a verified password: refused, never stale"
unlike "$(module_log)" 'stale' "403: no stale answer"

nc_mode nc-disabled
run_driver --password phone-pass nc alice
is "$AUTH" PAM_PERM_DENIED "disabled-account 503: PAM_PERM_DENIED, never stale"
like "$(module_log)" '^auth denied: account disabled: user=alice .*status=503' "disabled: 'auth denied: account disabled'"
unlike "$(module_log)" 'stale' "disabled: no stale answer"

nc_mode nc-maintenance
run_driver --password laptop-pass nc alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "after 'disabled', alice's other password is gone too (no stale answer)"
run_driver --password phone-pass nc alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "after 'disabled', the disabled password is gone"

# A hung server: the first login waits for the timeout and rests the server
# in the store; the next takes the probe token and waits too; later logins
# are answered from the cache at once while the token is held.  (A 207 whose
# request was sent in the same second as the disabled answer above is not
# stored: a refusal wins ties, so wait for the next second.)
sleep 1
nc_mode ok
run_driver --password phone-pass nc alice
is "$AUTH" PAM_SUCCESS "nc up again: alice verified again"
nc_mode hang
run_driver --repeat 4 --password phone-pass nc alice
is "$(count_auth PAM_SUCCESS)" 4 "hung server: 4 logins accepted from the stale window"
is "$(grep -c 'method=PROPFIND' "$FAULT_LOG")" 2 "hung server: 2 requests (the first login and one probe), not 4"
is "$(log_lines 'server=resting status=- ms=0 cache=stale')" 2 "hung server: 2 logins answered at once while another probes"
run_driver --password wrong-pass nc alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "hung server: a wrong password is still refused"
stop_fault "$FAULT_PID"

# ------------------------------------------------- the server is down ---
bash "$WEBDAV_SH" stop "$WD" >/dev/null 2>&1
run_driver --password "$PW2" stale alice
is "$AUTH" PAM_SUCCESS "server stopped: alice's current password accepted (stale)"
like "$(module_log)" '^auth ok \(stale: server unavailable\): user=alice .*status=0 .*cache=stale' "server stopped: stale decision line"
run_driver --password "$PW" stale alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "server stopped: the password revoked by a 401 is refused"
run_driver --password wrong-password stale alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "server stopped: a wrong password is refused"
run_driver --password 'pässwörd' stale carol
is "$AUTH" PAM_AUTHINFO_UNAVAIL "server stopped: a user never seen is refused"
run_driver --password "$BOB_PW" stale bob
is "$AUTH" PAM_SUCCESS "server stopped: bob (seen before) is accepted (stale)"
run_driver --repeat 3 --password "$PW2" stale alice
is "$(count_auth PAM_SUCCESS)" 3 "server resting in the store: 3 more logins accepted"
is "$(log_lines 'server=resting status=- ms=0 cache=stale')" 3 "server resting, probe token held: answered without a request"
write_service nostale "url=$WD_URL" "cafile=$WD_CA" "${CACHE[@]}" cache_fresh=1
run_driver --password "$PW2" nostale alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "server stopped, cache_stale off: refused"

done_testing
