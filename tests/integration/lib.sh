# SPDX-License-Identifier: BSD-3-Clause
# tests/integration/lib.sh - helpers for the integration tests (bash).
# Sourced by every tests/integration/t_*.sh script:
#
#   . "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
#
# Environment (set by the Makefile; defaults work for an in-tree build):
#   top_srcdir, top_builddir, MODULE (absolute path of pam_httpbasic.so)
#   PWRAP_LEVEL   PAM_WRAPPER_DEBUGLEVEL for runs (default 2: every
#                 pam_syslog priority is shown; 3 would trace PAM items,
#                 passwords included, so it is never the default)
#   KEEP_TMP=1    keep the per-script temporary directory
#   RUN_WRAPPER   command words put before pam_driver, e.g.
#                 "valgrind -q --error-exitcode=99 --leak-check=full"
#   A module built with --enable-sanitizers is detected (ldd) and handled;
#   any sanitizer or valgrind report in a run adds a failing test.
#
# TAP: ok COND DESC | pass DESC | fail DESC | is GOT WANT DESC |
#      like TEXT ERE DESC | unlike TEXT ERE DESC | skip DESC REASON |
#      diag TEXT | bail_out TEXT | done_testing (prints the plan and
#      "# N passed, N failed"; always call it last).
#
# Servers: start_webdav (sets WD WD_PORT WD_PORT6 WD_HTTP_PORT WD_URL
#      WD_BASE WD_CA WD_LOG ...), start_fault MODE [tls] (sets FAULT_PORT,
#      FAULT_LOG; FAULT_BIND_PORT=N for a given port), start_redis (sets RD
#      RD_PORT RD_SOCK; stop_redis, restart_redis, redis_cli).  Everything is
#      stopped by an EXIT trap.
#
# PAM: write_service NAME ARG... (auth + account lines for $MODULE with ARGs)
#      write_service_raw NAME < lines
#      write_service_preset NAME ARG... (same, preceded by pam_wrapper's
#          pam_set_items.so, which stores $PAM_AUTHTOK - set by
#          pam_driver --preset-authtok - as a module stacked above would)
#      run_driver [pam_driver options] SERVICE USER
#      run_pamtester SERVICE USER PASSWORD [pamtester ops...]
#      Both leave OUT, ERR (files), RC, WALL_MS; run_driver also AUTH, ACCT,
#      ELAPSED_MS (from pam_driver's own lines).
#
# Access log: log_mark; log_sync; log_new (lines since the mark, sync
#      requests removed); log_count_new.
# Module log lines look like (stderr, under pam_wrapper):
#      PWRAP_DEBUG[<unknown> (1234)] - SYSLOG(6): auth ok: user=alice ...
#      PWRAP_ERROR[<unknown> (1234)] - SYSLOG(3): config error: ...
#   (no "pam_httpbasic(service:auth): " prefix: pam_wrapper replaces
#   pam_vsyslog and prints the message only.)

set -u

if [ -z "${top_srcdir:-}" ]; then
    top_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fi
: "${top_builddir:=$top_srcdir}"
: "${MODULE:=$top_builddir/.libs/pam_httpbasic.so}"
: "${PWRAP_LEVEL:=2}"
PAM_DRIVER=$top_builddir/tests/integration/pam_driver
WEBDAV_SH=$top_srcdir/tests/server/webdav.sh
FAULT_PY=$top_srcdir/tests/server/fault_server.py
REDIS_SH=$top_srcdir/tests/server/redis.sh
STORE_DRIVER=$top_builddir/tests/integration/store_driver
PWRAP_LIB=${PWRAP_LIB:-libpam_wrapper.so}
# A module built with --enable-sanitizers needs the ASan runtime loaded
# first in programs that are not built with it (pamtester, python3), and
# pam_wrapper must not use RTLD_DEEPBIND.
SAN_PRELOAD=
if [ -f "$MODULE" ] && ldd "$MODULE" 2>/dev/null | grep -q 'libasan'; then
    SAN_PRELOAD=$(ldd "$MODULE" | awk '/libasan/ { print $3; exit }')
    PWRAP_LIB="$SAN_PRELOAD $PWRAP_LIB"
    export PAM_WRAPPER_DISABLE_DEEPBIND=1
    export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
fi
PAM_SET_ITEMS=${PAM_SET_ITEMS:-$(ls /usr/lib/*/pam_wrapper/pam_set_items.so /usr/lib/pam_wrapper/pam_set_items.so 2>/dev/null | head -n 1)}
PAM_MATRIX=${PAM_MATRIX:-$(ls /usr/lib/*/pam_wrapper/pam_matrix.so /usr/lib/pam_wrapper/pam_matrix.so 2>/dev/null | head -n 1)}

# Never let a proxy from the caller's environment change what we test,
# except where a test sets one on purpose.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY
# pam_set_items.so copies these variables into PAM items: none by accident.
unset PAM_AUTHTOK PAM_OLDAUTHTOK PAM_USER PAM_RHOST PAM_RUSER PAM_TTY PAM_SERVICE

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pamhb-$(basename "$0" .sh).XXXXXX") || exit 99
chmod 0755 "$TEST_TMP"   # Apache children (nobody) must reach the server dir
SVC_DIR=$TEST_TMP/services
mkdir -p "$SVC_DIR"
: >"$SVC_DIR/other"      # silences "no default config other"
_FAULT_PIDS=()
WD=
RD=

_cleanup() {
    local pid
    for pid in "${_FAULT_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${_FAULT_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    if [ -n "$WD" ]; then
        bash "$WEBDAV_SH" stop "$WD" >/dev/null 2>&1
    fi
    if [ -n "$RD" ]; then
        bash "$REDIS_SH" stop "$RD" >/dev/null 2>&1
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "# kept $TEST_TMP" >&2
    else
        rm -rf "$TEST_TMP"
    fi
}
trap _cleanup EXIT
trap 'echo "Bail out! interrupted"; exit 130' INT TERM HUP

# ---------------------------------------------------------------- TAP ---
_T_N=0
_T_PASS=0
_T_FAIL=0

pass() { _T_N=$((_T_N + 1)); _T_PASS=$((_T_PASS + 1)); echo "ok $_T_N - $*"; }
fail() { _T_N=$((_T_N + 1)); _T_FAIL=$((_T_FAIL + 1)); echo "not ok $_T_N - $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
skip() { _T_N=$((_T_N + 1)); _T_PASS=$((_T_PASS + 1)); echo "ok $_T_N - $1 # SKIP ${2:-}"; }
bail_out() { echo "Bail out! $*"; exit 99; }

# ok COND DESC: COND is a shell command string evaluated with eval.
ok() {
    if eval "$1"; then pass "$2"; else fail "$2"; diag "condition: $1"; return 1; fi
}

is() {
    if [ "$1" = "$2" ]; then
        pass "$3"
    else
        fail "$3"; diag "got:  '$1'" "want: '$2'"; _last_run_diag; return 1
    fi
}

like() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        pass "$3"
    else
        fail "$3"; diag "no line matches /$2/ in:"; printf '%s\n' "$1" | tail -n 15 | diag_lines; return 1
    fi
}

unlike() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        fail "$3"; diag "unexpected /$2/ in:"; printf '%s\n' "$1" | grep -E -- "$2" | head -n 5 | diag_lines; return 1
    else
        pass "$3"
    fi
}

diag_lines() { sed 's/^/#   /'; }

# On a failed comparison, show what the last run printed.
_last_run_diag() {
    [ -n "${OUT:-}" ] && [ -f "$OUT" ] || return 0
    diag "last run: $_LAST_CMD (rc=$RC, ${WALL_MS} ms)"
    diag "stdout:"; tail -n 10 "$OUT" | diag_lines
    diag "stderr:"; grep -v '^$' "$ERR" | grep -v 'PWRAP_DEBUG.*\(pwrap_init\|copy_confdir\|pwrap_load_lib\)' | tail -n 10 | diag_lines
}

done_testing() {
    echo "1..$_T_N"
    echo "# $_T_PASS passed, $_T_FAIL failed"
    exit 0
}

# ------------------------------------------------------------ helpers ---
now_ms() { echo $(($(date +%s%N) / 1000000)); }

need_module() {
    [ -f "$MODULE" ] || bail_out "module not built: $MODULE"
    [ -x "$PAM_DRIVER" ] || bail_out "pam_driver not built: $PAM_DRIVER"
}

# ------------------------------------------------------------ servers ---
start_webdav() {
    WD=$TEST_TMP/server
    if ! bash "$WEBDAV_SH" start "$WD" >"$TEST_TMP/webdav-start.log" 2>&1; then
        cat "$TEST_TMP/webdav-start.log" | diag_lines
        bail_out "cannot start the WebDAV server"
    fi
    WD_PORT=$(cat "$WD/port")
    WD_PORT6=$(cat "$WD/port6")
    WD_HTTP_PORT=$(cat "$WD/http_port")
    WD_EXPIRED_PORT=$(cat "$WD/expired_port")
    WD_SELFSIGNED_PORT=$(cat "$WD/selfsigned_port")
    WD_WRONGNAME_PORT=$(cat "$WD/wrongname_port")
    WD_MTLS_PORT=$(cat "$WD/mtls_port")
    WD_BASE=https://127.0.0.1:$WD_PORT
    WD_URL=$WD_BASE/remote.php/dav/
    WD_CA=$WD/ca.pem
    WD_LOG=$WD/access.log
}

# start_redis: a redis-server with a password, ACL users and a unix socket
# (tests/server/redis.sh); sets RD (its directory), RD_PORT, RD_SOCK.
# redis_cli ARG...: redis-cli as its default user.  restart_redis after stop_redis.
start_redis() {
    command -v redis-server >/dev/null || bail_out "redis-server not installed"
    RD=$TEST_TMP/redis
    if ! bash "$REDIS_SH" start "$RD" >"$TEST_TMP/redis-start.log" 2>&1; then
        diag_lines <"$TEST_TMP/redis-start.log"
        bail_out "cannot start redis-server"
    fi
    RD_PORT=$(cat "$RD/port")
    RD_SOCK=$(cat "$RD/sock")
}
stop_redis() { bash "$REDIS_SH" stop "$RD"; }
restart_redis() { bash "$REDIS_SH" start "$RD" >>"$TEST_TMP/redis-start.log" 2>&1 || bail_out "cannot restart redis-server"; }
redis_cli() { bash "$REDIS_SH" cli "$RD" "$@"; }
# redis_each_key PATTERN COMMAND: COMMAND (GET, TTL, STRLEN...) of every key
# matching PATTERN, one answer a line; keys are binary, so Redis walks them.
redis_each_key() {
    redis_cli EVAL "local r = {} for _, k in ipairs(redis.call('KEYS', ARGV[1])) do r[#r + 1] = redis.call(ARGV[2], k) end return r" 0 "$1" "$2"
}

# start_fault MODE [tls]: a fault server; FAULT_PORT, FAULT_LOG, FAULT_PID.
# FAULT_ARGS (array): more options for it, e.g. (--account alice@example.org=alice).
FAULT_ARGS=()
# FAULT_BIND_PORT=N binds port N (e.g. the port of a server it replaces).
_FAULT_N=0
start_fault() {
    local mode=$1 dir i
    _FAULT_N=$((_FAULT_N + 1))
    dir=$TEST_TMP/fault-$_FAULT_N-$mode
    mkdir -p "$dir"
    local tls=()
    if [ "${2:-}" = tls ]; then
        [ -n "$WD" ] || bail_out "start_fault tls needs start_webdav first (for the certificate)"
        tls=(--tls "$WD/server.pem" "$WD/server.key")
    fi
    python3 "$FAULT_PY" --mode "$mode" --port-file "$dir/port" --pid-file "$dir/pid" \
        --log "$dir/requests.log" --lifetime 900 --port "${FAULT_BIND_PORT:-0}" "${tls[@]}" \
        "${FAULT_ARGS[@]}" >"$dir/out" 2>&1 &
    _FAULT_PIDS+=($!)
    FAULT_PID=$!
    for i in $(seq 1 100); do
        [ -s "$dir/port" ] && break
        sleep 0.05
    done
    [ -s "$dir/port" ] || bail_out "fault server ($mode) did not start: $(cat "$dir/out")"
    FAULT_PORT=$(cat "$dir/port")
    FAULT_LOG=$dir/requests.log
    : >>"$FAULT_LOG"
}

stop_fault() {
    kill "${1:-$FAULT_PID}" 2>/dev/null
    wait "${1:-$FAULT_PID}" 2>/dev/null
    return 0
}

# A TCP port on 127.0.0.1 where nothing listens (bound, then released).
closed_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# ---------------------------------------------------------- PAM runs ---
# write_service NAME ARG...: "auth required MODULE ARGS" + "account required MODULE".
# An ARG containing spaces is wrapped in [ ] (PAM syntax; "]" inside becomes "\]").
write_service() {
    local name=$1 a args=""
    shift
    for a in "$@"; do
        case $a in
            *[[:space:]]*) args="$args [${a//]/\\]}]" ;;
            *) args="$args $a" ;;
        esac
    done
    {
        echo "auth required $MODULE$args"
        echo "account required $MODULE$args"
    } >"$SVC_DIR/$name"
}

# write_service_preset NAME ARG...: like write_service, with pam_set_items.so
# first, so that pam_driver --preset-authtok P reaches the module as a
# PAM_AUTHTOK stored by an earlier module.
write_service_preset() {
    local name=$1
    [ -n "$PAM_SET_ITEMS" ] || bail_out "pam_set_items.so (pam_wrapper) not found"
    write_service "$@"
    { echo "auth optional $PAM_SET_ITEMS"; cat "$SVC_DIR/$name"; } >"$SVC_DIR/$name.tmp"
    mv "$SVC_DIR/$name.tmp" "$SVC_DIR/$name"
}

# write_service_raw NAME: the service file is read from stdin ("$MODULE" is
# not expanded here: expand it in the caller's here-document).
write_service_raw() {
    cat >"$SVC_DIR/$1"
}

_RUN_N=0
# pamtester reads its service files through pam_wrapper, which copies them
# into a directory of its own (one random character under /tmp by
# default: parallel runs could collide there), so every run gets a private
# PAM_WRAPPER_RUNTIME_DIR.
_pwrap_env() {
    local runtime
    runtime=$(mktemp -d "$TEST_TMP/pwrap.XXXXXX") || bail_out "mktemp failed"
    env LD_PRELOAD="$PWRAP_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$SVC_DIR" \
        PAM_WRAPPER_RUNTIME_DIR="$runtime" PAM_WRAPPER_DEBUGLEVEL="$PWRAP_LEVEL" "$@"
}

# Our own C drivers need no pam_wrapper: pam_start_confdir() reads the
# service files from $SVC_DIR, and the drivers print pam_syslog lines on
# stderr themselves (pam_driver.c).
_confdir_env() {
    env HB_CONFDIR="$SVC_DIR" "$@"
}

# run_driver [pam_driver options] SERVICE USER
# Sets OUT ERR (files), RC, WALL_MS, AUTH, ACCT, ELAPSED_MS.
run_driver() {
    _RUN_N=$((_RUN_N + 1))
    OUT=$TEST_TMP/run-$_RUN_N.out
    ERR=$TEST_TMP/run-$_RUN_N.err
    _LAST_CMD="pam_driver $*"
    local t0
    t0=$(now_ms)
    # shellcheck disable=SC2086
    _confdir_env timeout -k 5 "${RUN_TIMEOUT:-120}" ${RUN_WRAPPER:-} "$PAM_DRIVER" "$@" >"$OUT" 2>"$ERR"
    RC=$?
    WALL_MS=$(($(now_ms) - t0))
    _san_check
    AUTH=$(sed -n 's/^authenticate=//p' "$OUT" | tail -n 1)
    ACCT=$(sed -n 's/^acct_mgmt=//p' "$OUT" | tail -n 1)
    ELAPSED_MS=$(sed -n 's/^elapsed_ms=//p' "$OUT" | tail -n 1)
    : "${AUTH:=none}" "${ACCT:=none}" "${ELAPSED_MS:=-1}"
    return 0
}

# run_pamtester SERVICE USER PASSWORD [OPS...] (default ops: authenticate)
# Extra pamtester options (e.g. -I rhost=1.2.3.4) go in PAMTESTER_OPTS (array).
run_pamtester() {
    local service=$1 user=$2 password=$3 t0
    shift 3
    [ $# -gt 0 ] || set -- authenticate
    _RUN_N=$((_RUN_N + 1))
    OUT=$TEST_TMP/run-$_RUN_N.out
    ERR=$TEST_TMP/run-$_RUN_N.err
    _LAST_CMD="pamtester $service $user $*"
    t0=$(now_ms)
    printf '%s\n' "$password" | _pwrap_env timeout -k 5 "${RUN_TIMEOUT:-120}" \
        pamtester -v ${PAMTESTER_OPTS[@]+"${PAMTESTER_OPTS[@]}"} "$service" "$user" "$@" >"$OUT" 2>"$ERR"
    RC=$?
    WALL_MS=$(($(now_ms) - t0))
    _san_check
    AUTH=none ACCT=none ELAPSED_MS=-1
    return 0
}

# Any sanitizer or valgrind report in the last run is a failed test of its own.
_san_check() {
    if grep -qE '^==[0-9]+==(ERROR|WARNING): |runtime error: |^==[0-9]+== (Invalid|Conditional|Use of uninit|[0-9,]+ bytes in [0-9,]+ blocks are definitely)' "$ERR"; then
        fail "no sanitizer/valgrind report from: $_LAST_CMD"
        grep -E '==[0-9]+==|runtime error' "$ERR" | head -n 20 | diag_lines
    fi
}

# The module's own log lines of the last run (message part only).
module_log() {
    sed -n 's/^PWRAP_[A-Z]*\[[^]]*\] - SYSLOG([0-9]*): //p' "$ERR"
}
# With their syslog priority: "3 config error: ..."
module_log_prio() {
    sed -n 's/^PWRAP_[A-Z]*\[[^]]*\] - SYSLOG(\([0-9]*\)): /\1 /p' "$ERR"
}

# -------------------------------------------------------- access log ---
_LOG_MARK=0
_SYNC_N=0
log_mark() { _LOG_MARK=$(wc -l <"$WD_LOG"); }

# Make sure every request answered so far has been logged: send a request
# of our own and wait until its line appears.
log_sync() {
    local i
    _SYNC_N=$((_SYNC_N + 1))
    curl -s -o /dev/null --max-time 5 --cacert "$WD_CA" -X PROPFIND -H 'Depth: 0' \
        "$WD_BASE/open/?logsync=$$-$_SYNC_N" 2>/dev/null
    for i in $(seq 1 50); do
        grep -q "logsync=$$-$_SYNC_N\"" "$WD_LOG" && return 0
        sleep 0.05
    done
    diag "log_sync: sync request not logged"
}

# Lines added since log_mark (after a log_sync), without the sync requests.
log_new() {
    log_sync
    tail -n +"$((_LOG_MARK + 1))" "$WD_LOG" | grep -v 'logsync='
}
log_count_new() { log_new | grep -c . ; }

# Field VALUE of a log line: log_field LINE NAME (quotes removed).
log_field() {
    printf ' %s\n' "$1" | sed -n "s/.* $2=\"\\([^\"]*\\)\".*/\\1/p; t; s/.* $2=\\([^ ]*\\).*/\\1/p" | head -n 1
}
