#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# t_host_safety.sh - what the module leaves in its host process (issue 8),
# checked with tests/integration/secret_scan (pam_start_confdir, no
# pam_wrapper):
#  1. memory: after pam_end, no copy of any password, "user:password" or
#     its Base64 anywhere in the process's readable memory, after one
#     login, after a second login on the kept connection, after right and
#     wrong passwords mixed, and while a PAM handle keeps the module
#     loaded; three positive controls prove the scanner finds copies
#     (skipped under ASan and valgrind: their allocators leave redzones
#     and quarantined blocks the module cannot wipe);
#  2. descriptors: a program exec'd after a login inherits exactly what it
#     inherits after a login through pam_permit.so, and every descriptor
#     the module keeps (the pooled TLS connection) is close-on-exec;
#  3. a setuid-root copy of secret_scan run by an unprivileged user: with
#     SSLKEYLOGFILE set the module refuses to work (PAM_AUTHINFO_UNAVAIL,
#     logged) and no key log file appears; the same program run by root
#     without setuid does write the file (libcurl honours SSLKEYLOGFILE
#     for the invoker's own process: pinned here); proxy variables are
#     ignored in the setuid program too.
# Creates (and removes on exit) a system user pamhbtest when missing and a
# setuid copy of secret_scan under the test's temporary directory; the
# setuid part is skipped when not root or when that directory is nosuid.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_module
SECRET_SCAN=$top_builddir/tests/integration/secret_scan
[ -x "$SECRET_SCAN" ] || bail_out "secret_scan not built: $SECRET_SCAN"
start_webdav

TEST_USER=pamhbtest
_HS_CREATED_USER=0
_HS_SUID_BIN=

# Remove what this script made outside lib.sh's care, then lib.sh's cleanup.
_hs_cleanup() {
    [ -n "$_HS_SUID_BIN" ] && rm -f "$_HS_SUID_BIN"
    [ "$_HS_CREATED_USER" = 1 ] && userdel "$TEST_USER" >/dev/null 2>&1
    _cleanup
}
trap _hs_cleanup EXIT

write_service dav "url=$WD_URL" "cafile=$WD_CA"
write_service_raw permit <<EOF
auth required pam_permit.so
account required pam_permit.so
EOF

# run_scan ARGS...: secret_scan ARGS (optionally under WRAP, an array) with
# HB output files like run_driver's; sets OUT ERR RC.
WRAP=()
run_scan() {
    _RUN_N=$((_RUN_N + 1))
    OUT=$TEST_TMP/scan-$_RUN_N.out
    ERR=$TEST_TMP/scan-$_RUN_N.err
    _LAST_CMD="secret_scan $*"
    WALL_MS=0
    timeout -k 5 "${RUN_TIMEOUT:-120}" ${WRAP[@]+"${WRAP[@]}"} "$SECRET_SCAN" "$@" >"$OUT" 2>"$ERR"
    RC=$?
    _san_check
}

# ------------------------------------------------------------ memory ---
# check_needles SCENARIO LOGINS: one test per needle of the last memory run
# (three per login, three controls).
check_needles() {
    local line name copies where n=0
    while IFS= read -r line; do
        name=${line#needle }
        name=${name% copies=*}
        copies=$(sed -n 's/.* copies=\([0-9]*\).*/\1/p' <<<"${line% at *}")
        where=$(sed -n 's/.* copies=[0-9]* at //p' <<<"$line")
        n=$((n + 1))
        case $name in
            control:*)
                ok '[ "$copies" -ge 1 ]' "memory/$1: the scanner finds its $name ($where)" ;;
            *)
                if [ "$copies" = 0 ]; then
                    pass "memory/$1: no copy of $name in memory"
                else
                    fail "memory/$1: no copy of $name in memory"
                    diag "found $copies: $where"
                fi ;;
        esac
    done < <(grep '^needle ' "$OUT")
    is "$n" $((3 * $2 + 3)) "memory/$1: the scan reported every needle"
}

# memory_scan SCENARIO LOGINS: run the scenario, check logins and needles.
memory_scan() {
    local scenario=$1 logins=$2 results mappings m
    log_mark
    run_scan memory "$scenario" "$SVC_DIR" dav "$WD/users.txt"
    is "$RC" 0 "memory/$scenario: secret_scan ran"
    results=$(sed -n 's/^login [0-9]* user=[^ ]* password=\([a-z]*\) result=\(.*\)/\1 \2/p' "$OUT")
    is "$(grep -c . <<<"$results")" "$logins" "memory/$scenario: $logins logins"
    unlike "$(grep -v -E '^(right PAM_SUCCESS|wrong PAM_AUTH_ERR)$' <<<"$results")" . \
        "memory/$scenario: right passwords accepted (PAM_SUCCESS), wrong ones refused (PAM_AUTH_ERR)"
    is "$(log_count_new)" "$logins" "memory/$scenario: every login reached the server"
    like "$(grep '^scan ' "$OUT")" 'bytes=[0-9]{6,} unreadable_writable=0 ' \
        "memory/$scenario: every writable mapping was read"
    mappings=$(grep '^mapping ' "$OUT")
    for m in 'the heap=\[heap\]' 'the stack=\[stack\]' 'anonymous mappings=\[anon\]' \
        "the module's data=/.*/pam_httpbasic\.so" "libcurl's data=/.*/libcurl[^ ]*" \
        "libssl's data=/.*/libssl[^ ]*" "libpam's data=/.*/libpam\.so[^ ]*"; do
        like "$mappings" "^mapping ${m#*=} rw" "memory/$scenario: the scan covers ${m%%=*}"
    done
    check_needles "$scenario" "$logins"
}

if [ -n "$SAN_PRELOAD" ] || ldd "$SECRET_SCAN" 2>/dev/null | grep -q libasan; then
    skip "memory scans" "built with sanitizers: ASan's shadow mappings are too large to read, and its redzones and quarantine are allocator artefacts"
elif [[ ${RUN_WRAPPER:-} == *valgrind* ]]; then
    skip "memory scans" "under valgrind: its allocator keeps freed blocks aside unwiped"
else
    memory_scan one 1
    memory_scan reuse 2
    ports=$(log_new | grep -o 'rport=[0-9]*' | cut -d= -f2 | sort -u | wc -l)
    is "$ports" 1 "memory/reuse: the second login used the first one's connection"
    memory_scan mixed 8
    memory_scan keep 8
fi

# ------------------------------------------------------- descriptors ---
# fd_set PREFIX: "fd=N kind=K" lines of the last fds run, sorted; the run's
# own output files are called OUT and ERR.
fd_set() {
    sed -n "s/^$1 \(fd=[0-9]* kind=[^ ]*\) cloexec=.*/\1/p" "$OUT" |
        sed "s|kind=$OUT\$|kind=OUT|; s|kind=$ERR\$|kind=ERR|" | sort
}

read -r -a WRAP <<<"${RUN_WRAPPER:-}"
run_scan fds "$SVC_DIR" permit alice 'Alice-App-Pass-1' "$SECRET_SCAN"
is "$RC" 0 "fds: the pam_permit run worked"
base_parent=$(fd_set parent)
base_child=$(fd_set child)
run_scan fds "$SVC_DIR" dav alice 'Alice-App-Pass-1' "$SECRET_SCAN"
is "$RC" 0 "fds: the module run worked"
like "$(cat "$OUT")" '^authenticate=PAM_SUCCESS$' "fds: the login succeeded"
is "$(fd_set child)" "$base_child" "fds: an exec'd program inherits the same descriptors as after pam_permit.so"
module_fds=$(comm -13 <(echo "$base_parent") <(fd_set parent))
like "$module_fds" 'kind=socket:inet' "fds: the module keeps its connection open after pam_end (the pool)"
held=0 open_held=0
if [ -n "$module_fds" ]; then
    held=$(grep -c . <<<"$module_fds")
    open_held=$(grep '^parent ' "$OUT" | grep -F -f <(sed 's/$/ /' <<<"$module_fds") | grep -c 'cloexec=0')
fi
is "$open_held" 0 "fds: every descriptor the module holds ($held) is close-on-exec"
WRAP=()

# ------------------------------------------------- setuid + keylog ---
# in_setuid_host ENV...: the setuid copy run as $TEST_USER with umask 000.
in_setuid_host() {
    _RUN_N=$((_RUN_N + 1))
    OUT=$TEST_TMP/suid-$_RUN_N.out
    ERR=$TEST_TMP/suid-$_RUN_N.err
    _LAST_CMD="setuid secret_scan login ($*)"
    (umask 000; env "$@" ASAN_OPTIONS=detect_leaks=0 \
        setpriv --reuid "$TEST_USER" --regid "$TEST_USER" --clear-groups \
        timeout -k 5 60 "$_HS_SUID_BIN" login "$SVC_DIR" dav alice 'Alice-App-Pass-1') >"$OUT" 2>"$ERR"
    RC=$?
}

setuid_tests() {
    local keylog=$TEST_TMP/keylog-setuid keylog_root=$TEST_TMP/keylog-root
    if ! id -u "$TEST_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$TEST_USER" ||
            { skip "setuid host" "cannot create user $TEST_USER"; return; }
        _HS_CREATED_USER=1
    fi
    mkdir -m 0755 "$TEST_TMP/suid"
    _HS_SUID_BIN=$TEST_TMP/suid/secret_scan
    cp "$SECRET_SCAN" "$_HS_SUID_BIN" && chown root:root "$_HS_SUID_BIN" && chmod 4755 "$_HS_SUID_BIN"

    in_setuid_host SSLKEYLOGFILE="$keylog"
    like "$(cat "$OUT")" '^at_secure=1 uid=[1-9][0-9]* euid=0$' "setuid: the copy runs as root for $TEST_USER, AT_SECURE set"
    like "$(cat "$OUT")" '^authenticate=PAM_AUTHINFO_UNAVAIL$' "setuid + SSLKEYLOGFILE: the login is unavailable"
    ok '[ ! -e "$keylog" ]' "setuid + SSLKEYLOGFILE: no key log file is created" ||
        diag "$(ls -l "$keylog")"
    like "$(module_log_prio)" '^3 .*SSLKEYLOGFILE.*(refus|setuid)' "setuid + SSLKEYLOGFILE: the module logs why"

    start_fault ok
    in_setuid_host https_proxy="http://127.0.0.1:$FAULT_PORT" HTTPS_PROXY="http://127.0.0.1:$FAULT_PORT" \
        ALL_PROXY="http://127.0.0.1:$FAULT_PORT" all_proxy="http://127.0.0.1:$FAULT_PORT"
    like "$(cat "$OUT")" '^at_secure=1 ' "setuid + proxy variables: AT_SECURE set"
    like "$(cat "$OUT")" '^authenticate=PAM_SUCCESS$' "setuid + proxy variables: the login goes to the server itself"
    is "$(grep -c . "$FAULT_LOG")" 0 "setuid + proxy variables: the proxy saw no request"

    # Not setuid: root's own process, so libcurl writes the key log it is told to.
    _LAST_CMD="secret_scan login (root, SSLKEYLOGFILE)"
    OUT=$TEST_TMP/root-keylog.out ERR=$TEST_TMP/root-keylog.err
    (umask 077; SSLKEYLOGFILE=$keylog_root "$SECRET_SCAN" login "$SVC_DIR" dav alice 'Alice-App-Pass-1') >"$OUT" 2>"$ERR"
    like "$(cat "$OUT")" '^at_secure=0 uid=0 euid=0$' "not setuid: AT_SECURE is not set"
    like "$(cat "$OUT")" '^authenticate=PAM_SUCCESS$' "not setuid + SSLKEYLOGFILE: the login works"
    ok '[ -s "$keylog_root" ]' "not setuid + SSLKEYLOGFILE: libcurl writes the key log (the invoker's own choice)"
}

if [ "$(id -u)" != 0 ]; then
    skip "setuid host" "not root: cannot make a setuid-root copy"
elif findmnt -n -o OPTIONS -T "$TEST_TMP" | grep -qw nosuid; then
    skip "setuid host" "$TEST_TMP is on a nosuid filesystem"
elif grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status; then
    skip "setuid host" "no_new_privs is set: exec never raises privileges here"
elif ! command -v setpriv >/dev/null; then
    skip "setuid host" "setpriv not found"
else
    setuid_tests
fi

done_testing
