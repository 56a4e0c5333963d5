#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_redis_tls.sh - the credential cache in Redis over TLS
# (store=rediss://ADDRESS[:PORT][/DB], store_cafile=, store_cert=/store_key=).
#
# A module built with hiredis_ssl (hiredis >= 1.0, e.g. Debian 13, run by
# tests/debian13): real redis-servers on their TLS port only (port 0), with
# certificates made here with openssl (a CA; server certificates naming
# 127.0.0.1, or a wrong address; a client certificate), a password
# (store_auth_file: AUTH goes over TLS), the real libpam (pamtester and an
# /etc/pam.d service) and the WebDAV test server:
#   a login stores its verifier in Redis over TLS (pam_httpbasic-ctl cache
#   stats reads it back; redis-cli --tls sees the key); with the WebDAV
#   server stopped the stale verifier from Redis lets the right password
#   in and not a wrong one; a plaintext redis:// client cannot talk to the
#   TLS port; a wrong CA, a certificate for another address, a server that
#   requires a client certificate (without, then with store_cert/store_key),
#   a key file others can read, and a server that never answers the
#   handshake (bounded by store_timeout) are each refused with a reason.
# A module built without it (hiredis 0.14, Debian 12): a rediss:// store is
# a config error that names the reason, and the login fails closed.
# Needs root (an /etc/pam.d file), redis-server, openssl, pamtester.

. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (/etc/pam.d)"
for cmd in pamtester openssl redis-server redis-cli; do
    command -v "$cmd" >/dev/null || skip_all "$cmd not installed"
done
[ -f "$MODULE" ] || bail_out "module not built: $MODULE"
if [ -z "${CTL:-}" ]; then
    CTL=$top_builddir/pam_httpbasic-ctl
    [ -x "$CTL" ] || CTL=$(command -v pam_httpbasic-ctl)
fi
[ -x "$CTL" ] || bail_out "no pam_httpbasic-ctl (CTL=)"
SUITE_START=$(now_ms)
diag "platform: $(. /etc/os-release && echo "$NAME $(cat /etc/debian_version) ($VERSION_CODENAME)"), module $MODULE"

make_tmp
start_webdav
(umask 077; openssl rand -hex 32 >"$T/secret")
ALICE_PW='Alice-App-Pass-1'
BASE=("url=$WD_URL" "cafile=$WD_CA" "timeout=3000" "connect_timeout=1000"
      "secret_file=$T/secret" "cache_stale=3600")

# pam_service NAME ARG...: /etc/pam.d/NAME with the module and ARGs
pam_service() {
    local name=$1
    shift
    printf 'auth    required %s %s\naccount required %s\n' "$MODULE" "$*" "$MODULE" >"/etc/pam.d/$name"
    _PAM_EXTRA+=("$name")
}
# pam_login SERVICE PASSWORD: pamtester's exit status (alice, rhost 192.0.2.7)
pam_login() {
    printf '%s\n' "$2" | timeout -k 5 60 pamtester -I rhost=192.0.2.7 "$1" alice authenticate >"$T/pamtester.log" 2>&1
}

if ! ldd "$MODULE" 2>/dev/null | grep -q 'libhiredis_ssl'; then
    # ------------------------------------- a module without hiredis_ssl ---
    STORE="store=rediss://127.0.0.1:6390"
    OUT=$("$CTL" check "${BASE[@]}" "$STORE" "store_cafile=$WD_CA" 2>&1)
    RC=$?
    diag "pam_httpbasic-ctl check ... $STORE: exit $RC: $OUT"
    ok "[ $RC != 0 ]" "no hiredis_ssl: pam_httpbasic-ctl check refuses a rediss:// store (exit $RC)"
    has "$OUT" "rediss:// (Redis over TLS) needs hiredis >= 1.0 with hiredis_ssl" \
        "... the error names the reason: hiredis >= 1.0 with hiredis_ssl is needed"
    like "$OUT" "built with hiredis [0-9][0-9.]*, which has no TLS" "... and the hiredis version the module was built with"
    pam_service "pamhb-tls-$$" "${BASE[@]}" "$STORE" "store_cafile=$WD_CA"
    pam_login "pamhb-tls-$$" "$ALICE_PW"
    RC=$?
    ok "[ $RC != 0 ] && [ $RC != 124 ]" "... and a login with the right password fails closed (pamtester exit $RC)"
    diag "suite took $(( ($(now_ms) - SUITE_START) / 1000 )) s"
    done_testing
    exit $?
fi

# ----------------------------------------------------------- certificates ---
P=$T/pki
mkdir -p "$P"
(
    cd "$P" || exit 1
    set -e
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=redis-test-ca
    openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca
    cert() { # NAME SAN [EXT]
        openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1"
        printf 'subjectAltName = %s\nextendedKeyUsage = %s\n' "$2" "${3:-serverAuth}" >"$1.ext"
        openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.ext"
    }
    cert server "IP:127.0.0.1"
    cert wrongip "IP:127.0.0.2"
    cert client "DNS:mail.example.org" clientAuth
) >"$P/openssl.log" 2>&1 || { cat "$P/openssl.log" >&2; bail_out "openssl could not make the test certificates"; }
chmod 0600 "$P/client.key"
REDIS_PW=$(openssl rand -hex 12)
(umask 077; printf '%s\n' "$REDIS_PW" >"$T/redis-auth")

# start_redis NAME CERT CLIENTS: a redis-server on a TLS port only; sets PORT_<NAME>
start_redis() {
    local d=$T/redis-$1 port i
    mkdir -p "$d"
    port=$(free_port 127.0.0.1)
    cat >"$d/redis.conf" <<EOF
bind 127.0.0.1
port 0
tls-port $port
tls-cert-file $P/$2.pem
tls-key-file $P/$2.key
tls-ca-cert-file $P/ca.pem
tls-auth-clients $3
requirepass $REDIS_PW
daemonize yes
pidfile $d/pid
dir $d
logfile $d/log
save ""
appendonly no
EOF
    redis-server "$d/redis.conf" >"$d/start.log" 2>&1 || bail_out "redis-server $1 did not start: $(cat "$d/start.log" "$d/log" 2>/dev/null)"
    _EXTRA_PIDFILES+=("$d/pid")
    wait_port 127.0.0.1 "$port" 50 || bail_out "redis-server $1 does not listen on $port: $(tail -n 5 "$d/log")"
    printf -v "PORT_$1" '%s' "$port"
}
start_redis tls server no
start_redis wrongip wrongip no
start_redis mtls server yes
rcli() { # PORT ARG...: redis-cli over TLS with the CA and the client certificate
    local port=$1
    shift
    REDISCLI_AUTH=$REDIS_PW redis-cli --no-auth-warning --tls --cacert "$P/ca.pem" --cert "$P/client.pem" \
        --key "$P/client.key" -h 127.0.0.1 -p "$port" "$@"
}
is "$(rcli "$PORT_tls" PING 2>&1)" PONG "redis-server answers on its TLS port $PORT_tls (redis-cli --tls)"

TLS=("store=rediss://127.0.0.1:$PORT_tls" "store_cafile=$P/ca.pem" "store_auth_file=$T/redis-auth")
stats() { "$CTL" cache stats "${BASE[@]}" "$@" 2>&1; }

# ------------------------------------------------------------ it works ---
OUT=$("$CTL" check "${BASE[@]}" "${TLS[@]}" 2>&1)
is "$?" 2 "pam_httpbasic-ctl check accepts store=rediss://127.0.0.1:PORT with store_cafile (exit 2: warnings only)"
like "$OUT" "store: rediss://127\.0\.0\.1:$PORT_tls.* answered" "... it opened the store over TLS (AUTH, SELECT, a round trip)"
like "$OUT" "0 errors, 1 warning" "... and its one warning is this test's short timeout (timeout=3000)"
OUT=$("$CTL" check "${BASE[@]}" "store=rediss://127.0.0.1:$PORT_tls" 2>&1)
like "$OUT" "store_cafile: required with rediss://" "... and requires store_cafile with it"
OUT=$("$CTL" check "${BASE[@]}" "store=redis://127.0.0.1:$PORT_tls" "store_cafile=$P/ca.pem" 2>&1)
like "$OUT" "store_cafile: only for a rediss:// store" "store_cafile with a plaintext redis:// store is a config error"

pam_service "pamhb-tls-$$" "${BASE[@]}" "${TLS[@]}"
pam_login "pamhb-tls-$$" "$ALICE_PW"
is "$?" 0 "pamtester: alice logs in through /etc/pam.d with store=rediss:// (WebDAV up)"
OUT=$(stats "${TLS[@]}")
like "$OUT" "^store=rediss://127\.0\.0\.1:$PORT_tls users=1 verifiers=1 " \
    "pam_httpbasic-ctl cache stats reads alice's verifier back over TLS (AUTH, SELECT, SCAN, GET)"
like "$(rcli "$PORT_tls" --scan --pattern 'pam_httpbasic:*' 2>&1)" '^pam_httpbasic:' \
    "redis-cli --tls sees a pam_httpbasic: key on the TLS server"
OUT=$(stats "store=redis://127.0.0.1:$PORT_tls" "store_auth_file=$T/redis-auth")
like "$OUT" "cache stats: redis 127\.0\.0\.1:$PORT_tls/0: " "a plaintext redis:// client gets nothing from the TLS port: $OUT"

stop_webdav
pam_login "pamhb-tls-$$" "$ALICE_PW"
is "$?" 0 "WebDAV stopped: alice still logs in, from her verifier in Redis over TLS (cache_stale)"
pam_login "pamhb-tls-$$" "not-her-password"
RC=$?
ok "[ $RC != 0 ] && [ $RC != 124 ]" "WebDAV stopped: a wrong password is refused (pamtester exit $RC)"

# --------------------------------------------------- verification fails ---
OUT=$(stats "store=rediss://127.0.0.1:$PORT_tls" "store_cafile=$P/other-ca.pem" "store_auth_file=$T/redis-auth")
like "$OUT" "rediss 127\.0\.0\.1:$PORT_tls/0: TLS: .*(certificate|verify)" \
    "store_cafile of another CA: refused, with OpenSSL's verification error ($OUT)"
OUT=$(stats "store=rediss://127.0.0.1:$PORT_wrongip" "store_cafile=$P/ca.pem" "store_auth_file=$T/redis-auth")
like "$OUT" "rediss 127\.0\.0\.1:$PORT_wrongip/0: TLS: .*(IP address mismatch|verify)" \
    "a certificate of the right CA for another address (IP:127.0.0.2): refused ($OUT)"

# ------------------------------------------------- client certificates ---
OUT=$(stats "store=rediss://127.0.0.1:$PORT_mtls" "store_cafile=$P/ca.pem" "store_auth_file=$T/redis-auth")
like "$OUT" "^cache stats: rediss 127\.0\.0\.1:$PORT_mtls/0: " "a Redis that requires a client certificate refuses us without one ($OUT)"
MTLS=("store=rediss://127.0.0.1:$PORT_mtls" "store_cafile=$P/ca.pem" "store_auth_file=$T/redis-auth"
      "store_cert=$P/client.pem" "store_key=$P/client.key")
OUT=$(stats "${MTLS[@]}")
like "$OUT" "^store=rediss://127\.0\.0\.1:$PORT_mtls users=0 " "... and lets us in with store_cert and store_key ($OUT)"
OUT=$("$CTL" check "${BASE[@]}" "${MTLS[@]::4}" 2>&1)
like "$OUT" "store_cert and store_key go together" "store_cert without store_key is a config error"
cp -p "$P/client.key" "$P/client-open.key"
chmod 0644 "$P/client-open.key"
OUT=$(stats "${MTLS[@]::4}" "store_key=$P/client-open.key")
like "$OUT" "client-open\.key" "a store_key that others can read is refused, naming the file ($OUT)"
unlike "$OUT" "^store=" "... and no store is used"

# ------------------------------------------------------------ bounded ---
# A server that accepts TCP connections (backlog) and never says a word:
# the handshake is bounded by store_timeout.
"$PYTHON" - "$T/silent.port" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(120)
EOF
_PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$T/silent.port" ] && break; sleep 0.05; done
SILENT=$(cat "$T/silent.port")
t0=$(now_ms)
OUT=$(stats "store=rediss://127.0.0.1:$SILENT" "store_cafile=$P/ca.pem" "store_timeout=300")
MS=$(( $(now_ms) - t0 ))
like "$OUT" "rediss 127\.0\.0\.1:$SILENT/0: TLS: timed out" "a server silent during the handshake: 'TLS: timed out' ($OUT)"
ok "[ $MS -lt 2000 ]" "... within store_timeout=300 ms (+ the tool's start-up): $MS ms"

diag "suite took $(( ($(now_ms) - SUITE_START) / 1000 )) s"
done_testing
