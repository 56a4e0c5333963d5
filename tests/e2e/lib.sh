# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/lib.sh - helpers for the end-to-end tests (bash): TAP output and
# the private servers (slapd, the WebDAV server, Dovecot) of one test run.
#
#   . "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
#
# Environment (set by the Makefile; defaults work for an in-tree build):
#   top_srcdir, top_builddir, MODULE (absolute path of pam_httpbasic.so)
#   DOVECOT_VERSION  the Dovecot under test: 2.3 (Debian's, from PATH; the
#                default) or 2.4 (DOVECOT_PREFIX: tests/e2e/dovecot24.sh)
#   KEEP_TMP=1   keep the temporary directory (it is also kept, and named,
#                when a test failed)
#
# Everything lives in one temporary directory ($T), every server listens on
# loopback only, on free high ports, and the EXIT trap stops exactly the
# processes this script started (by the pids they wrote) and removes the
# /etc/pam.d service file it wrote.

set -u

if [ -z "${top_srcdir:-}" ]; then
    top_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fi
: "${top_builddir:=$top_srcdir}"
: "${MODULE:=$top_builddir/.libs/pam_httpbasic.so}"
E2E=$top_srcdir/tests/e2e
WEBDAV_SH=$top_srcdir/tests/server/webdav.sh
FAULT_PY=$top_srcdir/tests/server/fault_server.py
# Debian's python3; a pyenv or venv interpreter earlier in PATH works too.
PYTHON=${PYTHON:-python3}

# The Dovecot binaries under test: a private prefix, or Debian's.
# DOVECOT_PREFIX=/usr selects Debian's packaged binaries explicitly (e.g.
# Debian 13's dovecot-core 2.4.1 inside tests/debian13: DOVECOT_VERSION=2.4
# DOVECOT_PREFIX=/usr); any other prefix is a private build
# (tests/e2e/dovecot24.sh).
: "${DOVECOT_VERSION:=2.3}"
if [ -n "${DOVECOT_PREFIX:-}" ]; then
    DOVECOT=$DOVECOT_PREFIX/sbin/dovecot
    DOVEADM=$DOVECOT_PREFIX/bin/doveadm
    DOVECONF=$DOVECOT_PREFIX/bin/doveconf
else
    DOVECOT=dovecot
    DOVEADM=doveadm
    DOVECONF=doveconf
fi

# dovecot_packaged: true when the Dovecot under test is Debian's package
# (its binary belongs to dovecot-core), not a private build
dovecot_packaged() {
    local bin
    bin=$(command -v "$DOVECOT" 2>/dev/null) || return 1
    dpkg -S "$(readlink -f "$bin")" 2>/dev/null | grep -q '^dovecot-core:' ||
        dpkg -S "$bin" 2>/dev/null | grep -q '^dovecot-core:'
}

# e2e_platform: one line naming the system and the Dovecot under test, e.g.
# "Debian 13.8 (trixie), Dovecot 2.4.1 (Debian package dovecot-core 1:2.4.1+dfsg1-6+deb13u7)"
e2e_platform() {
    local os dv origin
    os="$(. /etc/os-release 2>/dev/null && echo "${NAME%% *} $(cat /etc/debian_version 2>/dev/null || echo "$VERSION_ID") (${VERSION_CODENAME:-?})")"
    dv=$("$DOVECOT" --version 2>/dev/null | cut -d' ' -f1)
    if dovecot_packaged; then
        origin="Debian package dovecot-core $(dpkg-query -W -f='${Version}' dovecot-core 2>/dev/null)"
    else
        origin="build in ${DOVECOT_PREFIX:-PATH}"
    fi
    echo "$os, Dovecot ${dv:-?} ($origin)"
}

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY

# ---------------------------------------------------------------- TAP ---
_T_N=0
_T_PASS=0
_T_FAIL=0
_T_PLANNED=0

pass() { _T_N=$((_T_N + 1)); _T_PASS=$((_T_PASS + 1)); echo "ok $_T_N - $*"; }
fail() { _T_N=$((_T_N + 1)); _T_FAIL=$((_T_FAIL + 1)); echo "not ok $_T_N - $*"; }
skip() { _T_N=$((_T_N + 1)); _T_PASS=$((_T_PASS + 1)); echo "ok $_T_N - $1 # SKIP ${2:-}"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
diag_file() { # FILE [LINES]: the last lines of a file as diagnostics
    [ -f "$1" ] || return 0
    echo "# --- last lines of $1:"
    tail -n "${2:-15}" "$1" | sed 's/^/#   /'
}

# is GOT WANT DESC
is() {
    if [ "$1" = "$2" ]; then
        pass "$3"
    else
        fail "$3"; diag "got:  '$1'" "want: '$2'"; return 1
    fi
}

# has TEXT STRING DESC: TEXT contains the fixed STRING
has() {
    case $1 in
        *"$2"*) pass "$3" ;;
        *) fail "$3"; diag "'$2' not found in:"; printf '%s\n' "$1" | tail -n 12 | sed 's/^/#   /'; return 1 ;;
    esac
}

# like TEXT ERE DESC / unlike TEXT ERE DESC
like() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        pass "$3"
    else
        fail "$3"; diag "no line matches /$2/ in:"; printf '%s\n' "$1" | tail -n 12 | sed 's/^/#   /'; return 1
    fi
}
unlike() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        fail "$3"; diag "unexpected /$2/ in:"; printf '%s\n' "$1" | grep -E -- "$2" | head -n 5 | sed 's/^/#   /'; return 1
    else
        pass "$3"
    fi
}

# ok COND DESC (COND is evaluated)
ok() {
    if eval "$1"; then pass "$2"; else fail "$2"; diag "condition: $1"; return 1; fi
}

skip_all() { echo "1..0 # SKIP $*"; _T_PLANNED=1; exit 0; }
bail_out() { echo "Bail out! $*"; _T_PLANNED=1; exit 99; }

done_testing() {
    echo "1..$_T_N"
    echo "# $_T_PASS passed, $_T_FAIL failed"
    _T_PLANNED=1
    [ "$_T_FAIL" = 0 ]
}

# dovecot24_prefix: the prefix of a Dovecot 2.4 to test (DOVECOT24_PREFIX,
# or the build of tests/e2e/dovecot24.sh); empty when there is none
dovecot24_prefix() {
    if [ -n "${DOVECOT24_PREFIX:-}" ]; then
        echo "$DOVECOT24_PREFIX"
    else
        bash "$E2E/dovecot24.sh" prefix 2>/dev/null
    fi
}

# exec_with_dovecot24 SCRIPT: run tests/e2e/SCRIPT against Dovecot 2.4.1
# (DOVECOT_VERSION=2.4, the prefix from dovecot24_prefix).  Without a 2.4
# build the test is skipped and says how to build one; under "tests/run
# all" (DOVECOT24_REQUIRED=1, set after it ran the build) a missing build
# is a failure.
exec_with_dovecot24() {
    local prefix
    prefix=$(dovecot24_prefix)
    if [ -z "$prefix" ]; then
        [ "${DOVECOT24_REQUIRED:-0}" = 1 ] || skip_all "no Dovecot 2.4 build: run 'bash tests/e2e/dovecot24.sh build' first"
        fail "a Dovecot 2.4 build exists (DOVECOT24_REQUIRED=1; the build failed? see 'bash tests/e2e/dovecot24.sh build')"
        done_testing
        exit 1
    fi
    export DOVECOT_VERSION=2.4 DOVECOT_PREFIX="$prefix"
    exec bash "$E2E/$1"
}

# now_ms: wall clock in milliseconds
now_ms() { date +%s%3N; }

# ------------------------------------------------------------ temp dir ---
T=
_PIDS=()          # pids of helper processes we started directly
_PAM_SERVICE=     # /etc/pam.d file we wrote
_SLAPD_PIDFILE=
_DOVECOT_PIDFILE=
_SYSLOG_PIDFILE=
_EXTRA_PIDFILES=()   # pid files of further daemons (a second Dovecot, its syslog sink)
_PAM_EXTRA=()        # further /etc/pam.d files we wrote
_WD=

make_tmp() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/pamhb-e2e.XXXXXX") || bail_out "mktemp failed"
    # Dovecot's login and mail processes (dovenull, the LDAP uids) and
    # Apache (nobody) must be able to traverse it.
    chmod 0755 "$T"
}

_stop_pidfile() { # PIDFILE NAME: TERM the pid in PIDFILE, wait, KILL if needed
    local pf=$1 pid i
    [ -n "$pf" ] && [ -s "$pf" ] || return 0
    pid=$(tr -d ' \t\n' <"$pf" 2>/dev/null)    # (Postfix pads its pid with spaces)
    case $pid in ''|*[!0-9]*) return 0 ;; esac
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    echo "# $2 ($pid) did not stop, killing it" >&2
    kill -KILL "$pid" 2>/dev/null
}

_cleanup() {
    local rc=$? pid pf
    stop_dovecot
    for pf in "${_EXTRA_PIDFILES[@]}"; do
        _stop_pidfile "$pf" "daemon of $pf"
    done
    _stop_pidfile "$_SYSLOG_PIDFILE" syslog_sink
    _stop_pidfile "$_SLAPD_PIDFILE" slapd
    for pid in "${_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    if [ -n "$_WD" ]; then
        bash "$WEBDAV_SH" stop "$_WD" >/dev/null 2>&1
    fi
    if [ -n "$_PAM_SERVICE" ]; then
        rm -f "/etc/pam.d/$_PAM_SERVICE"
    fi
    for pf in "${_PAM_EXTRA[@]}"; do
        rm -f "/etc/pam.d/$pf"
    done
    if [ "$_T_PLANNED" = 0 ] && [ -n "$T" ]; then
        echo "Bail out! the test script stopped early (exit $rc)"
    fi
    if [ -n "$T" ]; then
        if [ "${KEEP_TMP:-0}" = 1 ] || [ "$_T_FAIL" != 0 ] || [ "$_T_PLANNED" = 0 ]; then
            echo "# kept $T" >&2
        else
            rm -rf "$T"
        fi
    fi
}
trap _cleanup EXIT
trap 'exit 130' INT TERM HUP

# free_port ADDR: a free TCP port on ADDR (empty when ADDR cannot be bound)
free_port() {
    "$PYTHON" - "$1" <<'EOF' 2>/dev/null
import socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.bind((addr, 0))
print(s.getsockname()[1])
EOF
}

# free_port_both: a port free on 127.0.0.1 and on ::1 at the same time
free_port_both() {
    "$PYTHON" - <<'EOF' 2>/dev/null
import socket
for _ in range(50):
    a = socket.socket(socket.AF_INET)
    a.bind(("127.0.0.1", 0))
    port = a.getsockname()[1]
    try:
        b = socket.socket(socket.AF_INET6)
        b.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        b.bind(("::1", port))
    except OSError:
        continue
    print(port)
    break
EOF
}

have_ipv6_loopback() {
    "$PYTHON" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null
}

# wait_port ADDR PORT [TRIES]: until a TCP connect succeeds (0.1 s steps)
wait_port() {
    local i
    for i in $(seq 1 "${3:-100}"); do
        "$PYTHON" - "$1" "$2" <<'EOF' 2>/dev/null && return 0
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
EOF
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- slapd ---
# start_slapd: a private slapd (mdb) on ldap://127.0.0.1:$LDAP_PORT with
# the accounts of tests/e2e/users.ldif (paths templated into $T), or of
# SLAPD_LDIF, with the schema files of SLAPD_SCHEMA (space-separated paths)
# included too.
# Sets LDAP_PORT, LDAP_URI, LDAP_BASE, LDAP_BIND_DN, LDAP_BIND_PW.
start_slapd() {
    local d=$T/ldap
    mkdir -p "$d/db"
    LDAP_BASE="dc=example,dc=org"
    LDAP_BIND_DN="cn=dovecot,dc=example,dc=org"
    LDAP_BIND_PW="dovecot-e2e-ldap"
    _SLAPD_PIDFILE=$d/slapd.pid
    cat >"$d/slapd.conf" <<EOF
# Generated by tests/e2e/lib.sh
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
$(for f in ${SLAPD_SCHEMA:-}; do echo "include $f"; done)
pidfile $d/slapd.pid
argsfile $d/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "$LDAP_BASE"
rootdn "cn=admin,$LDAP_BASE"
rootpw admin-e2e-unused
directory $d/db
maxsize 16777216
index objectClass,uid,mail eq
access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by dn.exact="$LDAP_BIND_DN" read
    by * none
EOF
    sed -e "s|@HOMES@|$T/home|g" -e "s|@BINDPW@|$LDAP_BIND_PW|g" "${SLAPD_LDIF:-$E2E/users.ldif}" >"$d/users.ldif"
    slapadd -q -f "$d/slapd.conf" -l "$d/users.ldif" >"$d/slapadd.log" 2>&1 ||
        { cat "$d/slapadd.log" >&2; bail_out "slapadd failed"; }
    local attempt
    for attempt in 1 2 3; do
        LDAP_PORT=$(free_port 127.0.0.1)
        LDAP_URI="ldap://127.0.0.1:$LDAP_PORT"
        # slapd detaches; it writes its pid to $d/slapd.pid.
        slapd -f "$d/slapd.conf" -h "$LDAP_URI/" >"$d/slapd.log" 2>&1
        if wait_port 127.0.0.1 "$LDAP_PORT" 50; then
            return 0
        fi
        _stop_pidfile "$_SLAPD_PIDFILE" slapd
    done
    cat "$d/slapd.log" >&2
    bail_out "slapd did not start"
}

# ----------------------------------------------------------- the WebDAV ---
# start_webdav: tests/server/webdav.sh in $T/webdav.  Sets WD_PORT, WD_URL
# (the /remote.php/dav/ URL), WD_BASE (https://127.0.0.1:PORT), WD_CA,
# WD_LOG (access log).
start_webdav() {
    _WD=$T/webdav
    bash "$WEBDAV_SH" start "$_WD" >"$T/webdav-start.log" 2>&1 ||
        { cat "$T/webdav-start.log" >&2; bail_out "the WebDAV server did not start"; }
    WD_PORT=$(cat "$_WD/port")
    WD_BASE="https://127.0.0.1:$WD_PORT"
    WD_URL="$WD_BASE/remote.php/dav/"
    WD_CA=$_WD/ca.pem
    WD_LOG=$_WD/access.log
}
stop_webdav() { bash "$WEBDAV_SH" stop "$_WD" >/dev/null 2>&1; }

# start_fault MODE: tests/server/fault_server.py over TLS with the WebDAV
# server's certificate (so the same cafile applies).  Sets FAULT_PORT,
# FAULT_PID, FAULT_LOG (one line per request).  FAULT_BIND_PORT=N binds
# port N (to stand in for the stopped WebDAV server at its URL).  Further
# arguments are passed on (e.g. --users FILE for nc-throttle).
_FAULT_N=0
start_fault() {
    local d i mode=$1
    shift
    _FAULT_N=$((_FAULT_N + 1))
    d=$T/fault-$_FAULT_N-$mode
    mkdir -p "$d"
    "$PYTHON" "$FAULT_PY" --mode "$mode" --port-file "$d/port" --pid-file "$d/pid" \
        --tls "$_WD/server.pem" "$_WD/server.key" --log "$d/requests.log" --lifetime 600 \
        --port "${FAULT_BIND_PORT:-0}" "$@" >"$d/out.log" 2>&1 &
    _PIDS+=($!)
    FAULT_PID=$!
    FAULT_LOG=$d/requests.log
    : >>"$FAULT_LOG"
    for i in $(seq 1 100); do
        [ -s "$d/port" ] && break
        sleep 0.05
    done
    FAULT_PORT=$(cat "$d/port" 2>/dev/null)
    [ -n "$FAULT_PORT" ] || bail_out "fault_server.py --mode $mode did not start: $(cat "$d/out.log")"
}
stop_fault() { kill "$FAULT_PID" 2>/dev/null; wait "$FAULT_PID" 2>/dev/null; return 0; }

# -------------------------------------------------------------- Dovecot ---
DOVECOT_LOG=
DOVECOT_CONF=

stop_dovecot() {
    _stop_pidfile "$_DOVECOT_PIDFILE" dovecot
}

# dovecot_pid: the master's pid
dovecot_pid() { cat "$_DOVECOT_PIDFILE" 2>/dev/null; }

# start_dovecot CONF LOG BASE_DIR IMAP_PORT: start "$DOVECOT -c CONF" and wait
# until imap answers on 127.0.0.1:IMAP_PORT.
start_dovecot() {
    DOVECOT_CONF=$1
    DOVECOT_LOG=$2
    _DOVECOT_PIDFILE=$3/master.pid
    "$DOVECOT" -c "$DOVECOT_CONF" >"$T/dovecot-start.log" 2>&1 ||
        { cat "$T/dovecot-start.log" >&2; diag_file "$DOVECOT_LOG"; bail_out "dovecot did not start"; }
    wait_port 127.0.0.1 "$4" 100 || { diag_file "$DOVECOT_LOG"; bail_out "dovecot does not listen on $4"; }
}

# start_dovecot_syslog CONF LOG BASE_DIR IMAP_PORT NSDIR: start_dovecot, in
# a mount namespace of its own whose /dev/log is tests/e2e/syslog_sink.py
# (tests/e2e/devlog_ns.sh): the module's pam_syslog lines are appended to
# SYSLOG_LOG (= NSDIR/syslog.log) as "PRIORITY MESSAGE".
SYSLOG_LOG=
start_dovecot_syslog() {
    command -v unshare >/dev/null || bail_out "unshare (util-linux) not found"
    SYSLOG_LOG=$5/syslog.log
    _SYSLOG_PIDFILE=$5/sink.pid
    DOVECOT_CONF=$1
    DOVECOT_LOG=$2
    _DOVECOT_PIDFILE=$3/master.pid
    unshare -m --propagation private bash "$E2E/devlog_ns.sh" "$5" -- "$DOVECOT" -c "$DOVECOT_CONF" \
        >"$T/dovecot-start.log" 2>&1 ||
        { cat "$T/dovecot-start.log" >&2; diag_file "$DOVECOT_LOG"; bail_out "dovecot (private /dev/log) did not start"; }
    : >>"$SYSLOG_LOG"
    wait_port 127.0.0.1 "$4" 100 || { diag_file "$DOVECOT_LOG"; bail_out "dovecot does not listen on $4"; }
}

# reload_dovecot: SIGHUP the master and wait until the old auth process
# has exited (the next login starts one with the new config).
reload_dovecot() {
    local before pid i gone
    before=$(auth_pids)
    kill -HUP "$(dovecot_pid)" || return 1
    for i in $(seq 1 100); do
        sleep 0.05
        gone=1
        for pid in $before; do
            [ -d "/proc/$pid" ] && gone=0
        done
        [ $gone = 1 ] && return 0
    done
    return 1
}

# children_of PID: the direct children of PID
children_of() {
    local pid=$1 p
    for p in /proc/[0-9]*; do
        [ "$(awk '{print $4}' "$p/stat" 2>/dev/null)" = "$pid" ] && echo "${p#/proc/}"
    done
}

# auth_pids / auth_worker_pids: Dovecot's auth master process(es) and its
# auth-worker processes (children of our master, by executable name).
_dovecot_children_named() {
    local pid cmd
    for pid in $(children_of "$(dovecot_pid)"); do
        cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
        case $cmd in "$1") echo "$pid" ;; esac
    done
}
# (the title is "dovecot/auth", or "dovecot-INSTANCE/auth" with instance_name)
auth_pids() { _dovecot_children_named "dovecot*/auth " | sort -n | tr '\n' ' '; }
auth_worker_pids() { _dovecot_children_named "dovecot*/auth -w " | sort -n | tr '\n' ' '; }

# log_mark FILE / log_new FILE: lines appended to FILE since the mark
declare -A _MARK
log_mark() { _MARK[$1]=$(wc -c <"$1" 2>/dev/null || echo 0); }
log_new() { tail -c "+$(( ${_MARK[$1]:-0} + 1 ))" "$1" 2>/dev/null; }

# ------------------------------------------------------------------ IMAP ---
# imap ARGS...: tests/e2e/imap_client.py; prints its one-line JSON result.
imap() { "$PYTHON" "$E2E/imap_client.py" "$@"; }

# json FIELD < JSON: one field of imap_client.py's result
json() { "$PYTHON" -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"; }
