#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# t_outage.sh - who may declare a server resting (issue 15, defect 3).
# A resting server sends every login of a known user to the stale window
# for server_retry_after seconds, on every process and host sharing the
# store, revoked passwords included.  With a store (store=lmdb:...):
#  A. a remote client that Nextcloud throttles (fault server nc-throttle:
#     every request from its forwarded address waits longer than timeout)
#     makes its own logins time out; the server still answers others and
#     anonymous requests at once, so it is not rested: a following login
#     of a cached user goes to the server, and a password Nextcloud
#     revoked is refused (401), not accepted from the stale window;
#  B. a setuid-root client (a copy of pam_driver run by an unprivileged
#     user, as su or sudo would be) whose logins time out against a hung
#     server leaves no rest: root's next login still asks the server;
#  C. SIGSTOP: the unprivileged user stops their own setuid login for
#     longer than timeout while the server answers promptly, then resumes
#     it (twice, as an attacker would: one rest, one probe token): no
#     rest; the same with root's own (not setuid) login stopped by root.
#  D. a hung server is still rested (the anonymous request times out too).
# On the original code, A, B and C each leave the server resting with the
# probe token held, and the next logins are answered from the stale window.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_module
start_webdav      # for the certificate the fault server uses
SECRET=$TEST_TMP/secret
openssl rand -hex 32 >"$SECRET"
chmod 0600 "$SECRET"

TIMEOUT=1500
# service NAME URL: a service with a store of its own, retry 60 s
service() {
    mkdir -m 0700 "$TEST_TMP/store-$1"
    write_service "$1" "url=$2" "cafile=$WD_CA" "store=lmdb:$TEST_TMP/store-$1" \
        "secret_file=$SECRET" cache_stale=3600 timeout=$TIMEOUT connect_timeout=1000 \
        server_retry_after=60
}
# xff_count ADDR: requests from forwarded address ADDR so far
xff_count() { grep -c "x-forwarded-for=\"$1\"" "$FAULT_LOG"; }
anon_count() { grep 'method=GET' "$FAULT_LOG" | grep -vc 'authorization='; }
# throttle_server PORT USER:PASSWORD...: fault server nc-throttle (TLS) on
# PORT for these users, throttle cap 10 s; FAULT_PID, FAULT_LOG (one log per port)
throttle_server() {
    local port=$1 dir=$TEST_TMP/throttle-$1
    shift
    [ -n "${FAULT_PID:-}" ] && stop_fault "$FAULT_PID"
    mkdir -p "$dir"
    rm -f "$dir/port"
    printf '%s\n' "$@" >"$dir/users"
    FAULT_LOG=$dir/requests.log
    python3 "$FAULT_PY" --mode nc-throttle --port-file "$dir/port" --pid-file "$dir/pid" \
        --log "$FAULT_LOG" --lifetime 900 --port "$port" --tls "$WD/server.pem" "$WD/server.key" \
        --users "$dir/users" --throttle-cap 10 >"$dir/out" 2>&1 &
    FAULT_PID=$!
    _FAULT_PIDS+=("$FAULT_PID")
    for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
    [ -s "$dir/port" ] || bail_out "nc-throttle did not start: $(cat "$dir/out")"
    : >>"$FAULT_LOG"
}

# ------------------------------------------- A. a throttled remote client ---
PORT_A=$(closed_port)
service remote "https://127.0.0.1:$PORT_A/remote.php/dav/"
throttle_server "$PORT_A" alice:old-pass bob:bob-pass mallory:mallory-pass
run_driver --rhost 192.0.2.10 --password old-pass remote alice
is "$AUTH" PAM_SUCCESS "A. alice (from 192.0.2.10) verified with her password"
run_driver --rhost 192.0.2.11 --password bob-pass remote bob
is "$AUTH" PAM_SUCCESS "A. bob (from 192.0.2.11) verified"
run_driver --rhost 192.0.2.12 --password mallory-pass remote mallory
is "$AUTH" PAM_SUCCESS "A. the attacker's own account mallory (from 192.0.2.12) verified"
# Nextcloud revokes alice's password: a new user list (the throttle state restarts empty).
throttle_server "$PORT_A" alice:new-pass bob:bob-pass mallory:mallory-pass

# The attacker, from 192.0.2.66: two wrong passwords (401 at once, then
# after 1 s), then mallory's right password twice, answered after 2 s and
# 3 s - more than timeout: both time out.  On the original code the first
# rests the server and the second, a login with a verifier while every
# server rests, takes the probe token and times out too.
for pw in guess-1 guess-2 mallory-pass mallory-pass; do
    run_driver --rhost 192.0.2.66 --password "$pw" remote mallory
    diag "A. attacker login ($pw): $AUTH after ${WALL_MS} ms: $(module_log | grep '^auth ' | sed 's/user=.*status=/status=/')"
done
like "$(module_log)" '^auth .*status=0 ' "A. the attacker's last login timed out (status=0)"
ok '[ "$(anon_count)" -ge 1 ]' "A. the module confirmed with an anonymous request ($(anon_count) sent), which was answered"

before=$(xff_count 192.0.2.11)
run_driver --rhost 192.0.2.11 --password bob-pass remote bob
is "$AUTH" PAM_SUCCESS "A. then bob logs in"
is "$(xff_count 192.0.2.11)" "$((before + 1))" "A. ... his login went to the server (the server does not rest)"
unlike "$(module_log)" 'server=resting|cache=stale' "A. ... not answered from the stale window"
run_driver --rhost 192.0.2.10 --password old-pass remote alice
is "$AUTH" PAM_AUTH_ERR "A. alice's revoked password is refused by the server (401), not accepted as stale"
before=$(xff_count 192.0.2.11)
run_driver --rhost 192.0.2.11 --password bob-pass remote bob
is "$(xff_count 192.0.2.11)" "$((before + 1))" "A. bob again: asked the server"

# ------------------------------------------------ B./C. setuid clients ---
TEST_USER=pamhbtest
_OU_CREATED_USER=0
_ou_cleanup() {
    [ "$_OU_CREATED_USER" = 1 ] && userdel "$TEST_USER" >/dev/null 2>&1
    _cleanup
}
trap _ou_cleanup EXIT

# suid_login PASSWORD RHOST: the setuid copy of pam_driver, run by TEST_USER, in
# the background (SUID_PID); its output in SUID_OUT/SUID_ERR.
suid_login() {
    _RUN_N=$((_RUN_N + 1))
    SUID_OUT=$TEST_TMP/suid-$_RUN_N.out
    SUID_ERR=$TEST_TMP/suid-$_RUN_N.err
    env HB_CONFDIR="$SVC_DIR" ASAN_OPTIONS=detect_leaks=0 \
        setpriv --reuid "$TEST_USER" --regid "$TEST_USER" --clear-groups \
        "$SUID_DRIVER" --rhost "$2" --password "$1" "$SERVICE" alice >"$SUID_OUT" 2>"$SUID_ERR" &
    SUID_PID=$!
}
# wait_request ADDR N: until the fault server has seen N requests from ADDR (up to 10 s)
wait_request() {
    for _ in $(seq 1 200); do
        [ "$(xff_count "$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
# stop_during_request PID ADDR AS: wait for PID's request (from ADDR) at
# the server, SIGSTOP PID (sent by user AS) for 1.5 timeouts + 1.5 s, SIGCONT.
stop_during_request() {
    local pid=$1 addr=$2 as=$3 n
    n=$(($(xff_count "$addr") + 1))
    wait_request "$addr" "$n" || diag "C. the stopped login's request never reached the server"
    setpriv --reuid "$as" --regid "$as" --clear-groups kill -STOP "$pid"
    sleep "$(awk "BEGIN { print ($TIMEOUT * 1.5 + 1500) / 1000 }")"
    setpriv --reuid "$as" --regid "$as" --clear-groups kill -CONT "$pid"
    wait "$pid"
}

setuid_tests() {
    if ! id -u "$TEST_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$TEST_USER" ||
            { skip "setuid clients" "cannot create user $TEST_USER"; return; }
        _OU_CREATED_USER=1
    fi
    mkdir -m 0755 "$TEST_TMP/suid"
    SUID_DRIVER=$TEST_TMP/suid/pam_driver
    cp "$PAM_DRIVER" "$SUID_DRIVER" && chown root:root "$SUID_DRIVER" && chmod 4755 "$SUID_DRIVER"

    # B. a setuid client against a hung server
    local port before
    port=$(closed_port)
    SERVICE=suid
    service suid "https://127.0.0.1:$port/remote.php/dav/"
    FAULT_PID=
    FAULT_BIND_PORT=$port start_fault ok tls
    run_driver --password pw suid alice
    is "$AUTH" PAM_SUCCESS "B. root: alice verified"
    stop_fault "$FAULT_PID"
    FAULT_BIND_PORT=$port start_fault hang tls
    for i in 1 2; do
        suid_login pw 192.0.2.20
        wait "$SUID_PID"
        like "$(cat "$SUID_OUT")" '^authenticate=' "B. setuid client login $i (uid $TEST_USER) ran"
    done
    is "$(grep -c 'method=PROPFIND' "$FAULT_LOG")" 2 "B. both setuid logins reached the hung server"
    is "$(grep -c 'method=GET' "$FAULT_LOG")" 0 "B. ... and sent no anonymous request (a setuid client never declares an outage)"
    before=$(grep -c 'method=PROPFIND' "$FAULT_LOG")
    run_driver --password pw suid alice
    is "$(grep -c 'method=PROPFIND' "$FAULT_LOG")" "$((before + 1))" "B. root's next login still asks the server (no rest left by the setuid client)"
    unlike "$(module_log)" 'server=resting' "B. ... not 'server=resting'"
    stop_fault "$FAULT_PID"

    # C. SIGSTOP while the server answers (after 1 s: one earlier wrong password from that address)
    port=$(closed_port)
    SERVICE=stop
    service stop "https://127.0.0.1:$port/remote.php/dav/"
    FAULT_PID=
    throttle_server "$port" alice:pw bob:bob-pass
    run_driver --rhost 192.0.2.10 --password pw stop alice
    run_driver --rhost 192.0.2.11 --password bob-pass stop bob
    is "$AUTH" PAM_SUCCESS "C. root: alice and bob verified"
    run_driver --rhost 192.0.2.77 --password wrong stop alice
    is "$AUTH" PAM_AUTH_ERR "C. one wrong password from 192.0.2.77: its next requests are answered after 1 s"
    for i in 1 2; do
        suid_login pw 192.0.2.77
        stop_during_request "$SUID_PID" 192.0.2.77 "$TEST_USER"
        diag "C. stopped setuid login $i: $(sed -n 's/^authenticate=//p' "$SUID_OUT"); $(sed -n 's/.*SYSLOG([0-9]*): \(auth [^:]*\):.* status=\([0-9-]*\) ms=\([0-9]*\).*/\1 status=\2 ms=\3/p' "$SUID_ERR")"
    done
    before=$(xff_count 192.0.2.11)
    run_driver --rhost 192.0.2.11 --password bob-pass stop bob
    is "$AUTH" PAM_SUCCESS "C. then root: bob logs in"
    is "$(xff_count 192.0.2.11)" "$((before + 1))" "C. ... his login went to the server (no rest after the stopped setuid logins)"
    unlike "$(module_log)" 'server=resting|cache=stale' "C. ... not answered from the stale window"

    # root's own login, stopped by root (not setuid): no rest either
    for i in 1 2; do
        _RUN_N=$((_RUN_N + 1))
        OUT=$TEST_TMP/stop-$_RUN_N.out ERR=$TEST_TMP/stop-$_RUN_N.err
        env HB_CONFDIR="$SVC_DIR" "$PAM_DRIVER" --rhost 192.0.2.77 --password pw stop alice >"$OUT" 2>"$ERR" &
        stop_during_request $! 192.0.2.77 root
        diag "C. stopped root login $i: $(module_log | grep '^auth ' | sed 's/user=.*status=/status=/')"
    done
    before=$(xff_count 192.0.2.11)
    run_driver --rhost 192.0.2.11 --password bob-pass stop bob
    is "$(xff_count 192.0.2.11)" "$((before + 1))" "C. after two stopped root logins, bob's login still goes to the server"
    unlike "$(module_log)" 'server=resting|cache=stale' "C. ... not answered from the stale window"
}

if [ "$(id -u)" != 0 ]; then
    skip "setuid clients" "not root: cannot make a setuid-root copy"
elif findmnt -n -o OPTIONS -T "$TEST_TMP" | grep -qw nosuid; then
    skip "setuid clients" "$TEST_TMP is on a nosuid filesystem"
elif grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status; then
    skip "setuid clients" "no_new_privs is set: exec never raises privileges here"
elif ! command -v setpriv >/dev/null; then
    skip "setuid clients" "setpriv not found"
else
    setuid_tests
fi

# ------------------------------------------- D. a hung server still rests ---
port=$(closed_port)
service hung "https://127.0.0.1:$port/remote.php/dav/"
FAULT_PID=
FAULT_BIND_PORT=$port start_fault ok tls
run_driver --password pw hung alice
stop_fault "$FAULT_PID"
FAULT_BIND_PORT=$port start_fault hang tls
run_driver --password pw hung alice
is "$AUTH" PAM_SUCCESS "D. hung server: alice let in from the stale window"
FIRST_MS=$WALL_MS
is "$(grep -c 'method=GET' "$FAULT_LOG")" 1 "D. ... after one anonymous request, which got no answer either"
run_driver --password pw hung alice
run_driver --password pw hung alice
is "$(grep -c 'method=PROPFIND' "$FAULT_LOG")" 2 "D. 3 logins, 2 requests: the server rests (the second login took the probe token)"
like "$(module_log)" 'server=resting status=- ms=0 cache=stale' "D. the third login: 'server=resting ... cache=stale'"
diag "D. the first login against the hung server took $FIRST_MS ms (timeout $TIMEOUT ms + the anonymous request's connect_timeout 1000 ms)"

done_testing
