#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The store interface (store.h) through store_driver, against a real
# redis-server (TCP with an ACL user, unix socket with the default user)
# and LMDB: the same cases for every backend, then what only Redis has
# (AUTH, SELECT, a server killed, restarted or hung).
. "$(dirname "$0")/lib.sh"
[ -x "$STORE_DRIVER" ] || bail_out "store_driver not built: $STORE_DRIVER"
start_redis

SECRET=$TEST_TMP/secret
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET")
BASE=(url=https://127.0.0.1/ "secret_file=$SECRET")
TCP_ARGS=("${BASE[@]}" "store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$RD/auth-acl")
UNIX_ARGS=("${BASE[@]}" "store=redis+unix:$RD_SOCK?db=2" "store_auth_file=$RD/auth-default")
LMDB_ARGS=("${BASE[@]}" "store=lmdb:$TEST_TMP/lmdb")
mkdir -m 700 "$TEST_TMP/lmdb"

# Every store_driver run (under $RUN_WRAPPER, e.g. valgrind, when set) adds its
# stderr to driver-all.err, checked for sanitizer and valgrind reports at the end.
# drv_start ARG...: a store_driver coprocess; q CMD...: one command, its answer in ANS.
drv_start() {
    # shellcheck disable=SC2086
    coproc DRV { exec ${RUN_WRAPPER:-} "$STORE_DRIVER" "$@" 2>"$TEST_TMP/driver.err"; }
}
drv_stop() {
    eval "exec ${DRV[1]}>&-"
    wait "$DRV_PID" 2>/dev/null
    cat "$TEST_TMP/driver.err" >>"$TEST_TMP/driver-all.err"
}
q() {
    ANS=
    echo "$*" >&"${DRV[1]}"
    read -r -t 30 ANS <&"${DRV[0]}" || ANS="no answer (driver gone?)"
}
# ms=N of the last answer.
ans_ms() { sed -n 's/.* ms=\([0-9]*\)$/\1/p' <<<"$ANS"; }
# run_once ARGS... -- CMD: a fresh driver for one command (fresh process, fresh connection).
run_once() {
    local args=()
    while [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    # shellcheck disable=SC2086
    echo "$*" | ${RUN_WRAPPER:-} "$STORE_DRIVER" "${args[@]}" 2>>"$TEST_TMP/driver-all.err"
}

# The cases every backend must pass the same way.  $1: name, rest: options.
common_cases() {
    local name=$1 i out
    shift
    drv_start "$@"
    q get missing;                 like "$ANS" '^not_found' "$name: a missing key is not_found"
    q put k1 hello 60;             like "$ANS" '^ok' "$name: put"
    q get k1;                      like "$ANS" '^ok hello ' "$name: get returns what was put"
    q put k1 again 60;             q get k1
    like "$ANS" '^ok again ' "$name: put replaces the value"
    q keep k1;                     like "$ANS" '^ok calls=1 ' "$name: keep calls the function once"
    q get k1;                      like "$ANS" '^ok again ' "$name: keep changes nothing"
    q del k1;                      like "$ANS" '^ok' "$name: delete"
    q get k1;                      like "$ANS" '^not_found' "$name: a deleted key is not_found"
    q del k1;                      like "$ANS" '^ok' "$name: deleting a missing key is fine"
    q put 'b%00%FF%0A' '%00%01%02' 60; q get 'b%00%FF%0A'
    like "$ANS" '^ok %00%01%02 ' "$name: binary key and value (NUL, 0xFF, newline) round-trip"
    q get "$(printf 'k%.0s' $(seq 65))"; like "$ANS" '^error ' "$name: a key of 65 bytes is an error"
    q put bad v 0;                 like "$ANS" '^error .*ttl' "$name: an update function giving ttl 0 is an error"
    q get 'b%00%FF%0A';            like "$ANS" '^ok %00%01%02 ' "$name: the store stays usable after a caller's error"
    # get_many: one call, each key its own answer
    q put m1 one 60; q put m3 '%00three' 60
    q mget m1 m2 m3 "$(printf 'k%.0s' $(seq 65))" 'b%00%FF%0A'
    like "$ANS" '^many one - %00three ! %00%01%02 ms=' "$name: mget: found, missing, binary, bad key (alone), binary"
    q mget $(seq -f 'm%g' 1 16); like "$ANS" '^many one - %00three( -){13} ms=' "$name: mget of 16 keys"
    q mget $(seq -f 'm%g' 1 17); like "$ANS" '^error .*at most 16' "$name: mget of 17 keys is an error"
    q get m1;                      like "$ANS" '^ok one ' "$name: the store stays usable after mget"
    # TTLs are clamped: a far-future time never makes the backend refuse a write
    q put far v 9223372036854775807; like "$ANS" '^ok' "$name: put with ttl LONG_MAX succeeds (clamped to a year)"
    q put far2 v 4000000000000;    like "$ANS" '^ok' "$name: put with ttl 4e12 s succeeds"
    q get far;                     like "$ANS" '^ok v ' "$name: and is stored"
    q put short v 1
    sleep 2.2
    q get short;                   like "$ANS" '^not_found' "$name: a value with ttl 1 s is gone after 2 s"
    # scan: the prefix's glob characters are plain bytes
    q put 'sc*' 1 60; q put 'sc*x' 2 60; q put 'scab' 3 60; q put 'sc?' 4 60; q put 'sc%5B' 5 60; q put 'sd' 6 60
    q scan 'sc*'
    out=$ANS
    while [[ $ANS == key* ]]; do read -r -t 10 ANS <&"${DRV[0]}" || break; out+=$'\n'$ANS; done
    is "$(grep -c '^key' <<<"$out")" 2 "$name: scan 'sc*' finds exactly sc* and sc*x (no glob)"
    like "$out" '^end 2' "$name: scan reports 2 keys"
    q scan 'sc'
    out=$ANS
    while [[ $ANS == key* ]]; do read -r -t 10 ANS <&"${DRV[0]}" || break; out+=$'\n'$ANS; done
    is "$(grep -c '^key' <<<"$out")" 5 "$name: scan 'sc' finds the 5 keys starting with sc"
    like "$out" 'key scab=3' "$name: scan gives key and value"
    q cloexec;                     like "$ANS" '^cloexec ([1-9][0-9]*)/\1$' "$name: every descriptor the store opened is close-on-exec ($ANS)"
    q exec-sockets;                is "$ANS" "sockets 0" "$name: a program exec'd by the host inherits no socket"
    q fork get scab;               like "$ANS" '^ok 3 ' "$name: a forked child uses the store (its own connection)"
    q get scab;                    like "$ANS" '^ok 3 ' "$name: the parent's store still works after the child exited"
    drv_stop
    # concurrency: 4 processes x 500 read-modify-write increments of one counter
    for i in 1 2 3 4; do
        echo "incr counter 500 120" | "$STORE_DRIVER" "$@" store_timeout=5000 >"$TEST_TMP/incr-$i.out" 2>>"$TEST_TMP/driver-all.err" &
    done
    wait
    is "$(cat "$TEST_TMP"/incr-*.out | grep -c '^ok')" 4 "$name: 4 processes x 500 increments all succeeded" \
        || diag_lines <<<"$(cat "$TEST_TMP"/incr-*.out)"
    like "$(run_once "$@" -- get counter)" '^ok 2000 ' "$name: the counter is 2000 (no update lost)"
    rm -f "$TEST_TMP"/incr-*.out
}

common_cases redis-tcp "${TCP_ARGS[@]}"
is "$(redis_cli TTL pam_httpbasic:k1)" -2 "redis: the deleted key is not in Redis"
common_cases redis-unix "${UNIX_ARGS[@]}"
is "$(redis_cli -n 2 GET pam_httpbasic:scab)" 3 "redis: unix socket ?db=2 wrote to database 2"
is "$(redis_cli -n 0 GET pam_httpbasic:counter)" 2000 "redis: db 0 and db 2 are distinct"
if run_once "${LMDB_ARGS[@]}" -- get x | grep -q '^error .*\(stub\|unknown store\)'; then
    skip "lmdb: same cases" "the LMDB backend is not built in"
else
    common_cases lmdb "${LMDB_ARGS[@]}"
    # The store's path: every parent trusted, no symbolic link followed.
    mkdir -m 755 "$TEST_TMP/open" "$TEST_TMP/theirs" "$TEST_TMP/real"
    chmod 777 "$TEST_TMP/open"
    mkdir -m 700 "$TEST_TMP/open/s" "$TEST_TMP/theirs/s" "$TEST_TMP/real/s"
    chown nobody "$TEST_TMP/theirs"
    out=$(run_once "${BASE[@]}" "store=lmdb:$TEST_TMP/open/s" -- get x)
    like "$out" "^error lmdb:$TEST_TMP/open/s: $TEST_TMP/open is writable by group or others \\(every parent" \
        "lmdb: a parent others can write is refused, and the error names it"
    out=$(run_once "${BASE[@]}" "store=lmdb:$TEST_TMP/theirs/s" -- get x)
    like "$out" "^error .*: $TEST_TMP/theirs is owned by another user" \
        "lmdb: a parent a local user owns (who could swap the store) is refused"
    ln -s "$TEST_TMP/real" "$TEST_TMP/swapped"
    out=$(run_once "${BASE[@]}" "store=lmdb:$TEST_TMP/swapped/s" -- get x)
    like "$out" "^error .*: $TEST_TMP/swapped is a symbolic link" "lmdb: a symbolic link on the path is never followed"
    out=$(run_once "${BASE[@]}" "store=lmdb:$TEST_TMP/real/s" -- put x 1 60)
    like "$out" '^ok' "lmdb: the same store by its real path works"
    ok '[ -s "$TEST_TMP/real/s/data.mdb" ] && [ ! -e "$TEST_TMP/swapped/s/x" ]' "lmdb: and its files are in the checked directory"
fi

# --- Redis: keys, TTLs and values as Redis sees them --------------------
drv_start "${TCP_ARGS[@]}"
q put ttl100 v 100
ttl=$(redis_cli TTL pam_httpbasic:ttl100)
ok '[ "$ttl" -ge 95 ] && [ "$ttl" -le 100 ]' "redis: the TTL is a Redis TTL (SET EX 100 -> TTL $ttl)"
q put ttlfar v 4000000000000
ttl=$(redis_cli TTL pam_httpbasic:ttlfar)
ok '[ "$ttl" -gt 31000000 ] && [ "$ttl" -le 31622400 ]' "redis: a ttl of 4e12 s is clamped to 366 days (TTL $ttl)"
is "$(redis_cli GET pam_httpbasic:ttl100)" v "redis: keys are 'pam_httpbasic:' + the caller's key"
redis_cli SET pam_httpbasic:big "$(head -c 5000 /dev/zero | tr '\0' x)" >/dev/null
q get big;                  like "$ANS" '^error .*larger' "redis: a value over HB_STORE_VALUE_MAX is an error"
q get ttl100;               like "$ANS" '^error .*larger.*next try in' "redis: the call after a failure does not reconnect within 1 s ($ANS)"
sleep 1.1
q get ttl100;               like "$ANS" '^ok v ' "redis: and reconnects after 1 s"
drv_stop

# --- Redis: authentication and database ---------------------------------
like "$(run_once "${BASE[@]}" "store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$RD/auth-default" -- get x)" '^not_found' \
    "auth: 'PASSWORD' (requirepass) works"
like "$(run_once "${BASE[@]}" "store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$RD/auth-minimal" -- put x 1 60)" '^ok' \
    "auth: an ACL user with only the documented commands can write"
like "$(run_once "${BASE[@]}" "store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$RD/auth-minimal" -- scan)" '^(key|end)' \
    "auth: and scan"
like "$(run_once "${BASE[@]}" "store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$RD/auth-minimal" -- mget x y)" '^many 1 - ' \
    "auth: and mget (hb_store_get_many)"
out=$(run_once "${BASE[@]}" "store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$RD/auth-wrong" -- get x)
like "$out" '^error .*AUTH: WRONGPASS' "auth: a wrong password is an error naming AUTH"
unlike "$out" 'not-the-password' "auth: the password is not in the reason"
like "$(run_once "${BASE[@]}" "store=redis://127.0.0.1:$RD_PORT" -- get x)" '^error .*NOAUTH' \
    "auth: no store_auth_file with a password-protected Redis is an error"
cp "$RD/auth-acl" "$TEST_TMP/auth-group"; chmod 640 "$TEST_TMP/auth-group"
out=$(run_once "${BASE[@]}" "store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$TEST_TMP/auth-group" -- get x)
like "$out" '^error .*must not be readable or writable by group or others' "auth: a group-readable auth file is refused"
unlike "$out" "$(cut -d' ' -f2 "$RD/auth-acl")" "auth: its content is not in the reason"
(umask 077; printf '\n' >"$TEST_TMP/auth-empty")
like "$(run_once "${BASE[@]}" "store=redis://127.0.0.1:$RD_PORT" "store_auth_file=$TEST_TMP/auth-empty" -- get x)" \
    '^error .*expected one line' "auth: an empty auth file is an error"
like "$(run_once "${BASE[@]}" "store=redis://127.0.0.1:$RD_PORT/99" "store_auth_file=$RD/auth-default" -- get x)" \
    '^error .*SELECT: ERR DB index is out of range' "db: a database out of range is an error"
like "$(run_once "${BASE[@]}" "store=redis+unix:$RD_SOCK?db=99" "store_auth_file=$RD/auth-default" -- get x)" \
    '^error .*SELECT' "db: ?db=99 on the unix socket is an error"
like "$(run_once "${BASE[@]}" "store=redis://localhost:$RD_PORT" "store_auth_file=$RD/auth-default" -- get x)" \
    '^error .*literal' "name: a host name is refused (no bounded lookup)"
like "$(run_once "${BASE[@]}" "store=redis://:secret@127.0.0.1:$RD_PORT" -- get x)" '^error store: expected' \
    "name: a malformed name is refused"
unlike "$(run_once "${BASE[@]}" "store=redis://:secret@127.0.0.1:$RD_PORT" -- get x)" 'secret@' \
    "name: and not echoed"
out=$(printf 'get x\nget x\nsleep 1100\nget x\n' | "$STORE_DRIVER" "${BASE[@]}" "store=redis://127.0.0.1:$(closed_port)" 2>>"$TEST_TMP/driver-all.err")
like "$(sed -n 1p <<<"$out")" '^error .*connect: Connection refused' "refused: a closed port is an error"
like "$(sed -n 2p <<<"$out")" '^error .*Connection refused \(next try in [0-9]+ ms\) ms=[0-9]+$' \
    "refused: no new connection within 1 s (the call fails at once)"
like "$(sed -n 4p <<<"$out")" '^error .*connect: Connection refused' "refused: but after 1 s"
if redis_cli -h ::1 PING >/dev/null 2>&1; then
    like "$(run_once "${BASE[@]}" "store=redis://[::1]:$RD_PORT" "store_auth_file=$RD/auth-acl" -- put v6 1 60)" '^ok' \
        "IPv6: redis://[::1]:PORT works"
else
    skip "IPv6: redis://[::1]:PORT works" "no IPv6 loopback"
fi

# --- Redis killed, restarted, hung ---------------------------------------
for kind in tcp unix; do
    if [ $kind = tcp ]; then drv_start "${TCP_ARGS[@]}" store_timeout=500; else drv_start "${UNIX_ARGS[@]}" store_timeout=500; fi
    q put alive yes 60;         like "$ANS" '^ok' "$kind: connected"
    stop_redis
    q get alive;                like "$ANS" '^error ' "$kind: Redis killed: an error ($ANS)"
    ok '[ "$(ans_ms)" -le 3000 ]' "$kind: within store_timeout ($(ans_ms) ms)"
    q get alive;                like "$ANS" '^error .*next try in' "$kind: no reconnect within 1 s"
    restart_redis
    sleep 1.1
    q get alive;                like "$ANS" '^not_found' "$kind: reconnected after the restart (the data was only cache)"
    q put alive again 60;       like "$ANS" '^ok' "$kind: and writes again"
    kill -STOP "$(cat "$RD/pid")"
    q get alive;                like "$ANS" '^error .*timed out' "$kind: Redis hung (SIGSTOP): an error ($ANS)"
    ok '[ "$(ans_ms)" -ge 400 ] && [ "$(ans_ms)" -le 3000 ]' "$kind: after about store_timeout=500 ($(ans_ms) ms)"
    sleep 1.1
    q put alive 3 60;           like "$ANS" '^error .*timed out' "$kind: still hung: the reconnect times out too"
    ok '[ "$(ans_ms)" -le 3000 ]' "$kind: within store_timeout ($(ans_ms) ms)"
    kill -CONT "$(cat "$RD/pid")"
    sleep 1.1
    q get alive;                like "$ANS" '^ok again ' "$kind: back after SIGCONT"
    drv_stop
    like "$(cat "$TEST_TMP/driver.err")" '^$' "$kind: the driver printed nothing on stderr (no SIGPIPE death)"
done

# --- a fork child opens its own connection -------------------------------
before=$(redis_cli INFO stats | sed -n 's/^total_connections_received:\([0-9]*\).*/\1/p')
drv_start "${TCP_ARGS[@]}"
q put alive again 60
q fork get alive;           like "$ANS" '^ok again ' "fork: the child reads"
q fork get alive
q get alive;                like "$ANS" '^ok again ' "fork: the parent reads on its own connection"
drv_stop
after=$(redis_cli INFO stats | sed -n 's/^total_connections_received:\([0-9]*\).*/\1/p')
# the INFO before + the parent + two children
is "$((after - before))" 4 "fork: one connection for the parent, one per child"

unlike "$(cat "$TEST_TMP/driver-all.err" 2>/dev/null)" '^==[0-9]+==(ERROR|WARNING)|runtime error|^==[0-9]+== (Invalid|Conditional|Use of uninit|[0-9,]+ bytes in [0-9,]+ blocks are definitely)' \
    "no sanitizer or valgrind report from any store_driver run"

done_testing
