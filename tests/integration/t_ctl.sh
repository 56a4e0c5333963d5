#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# pam_httpbasic-ctl: check (settings, errors, pam.d services), probe (every
# exit code: good server, closed port, hung server, bad and expiring
# certificates, Nextcloud status.php and maintenance) and login (verdicts,
# hints, no echo on a terminal, never a password in the output).
. "$(dirname "$0")/lib.sh"
CTL=$top_builddir/pam_httpbasic-ctl
[ -x "$CTL" ] || bail_out "pam_httpbasic-ctl not built: $CTL"
start_webdav
PW=Alice-App-Pass-1
# The tool's default config file (/etc/security/pam_httpbasic.conf) is
# pointed at a file that does not exist, so that a machine with the package
# installed runs these tests the same; the default-file tests set it.
export PAM_HTTPBASIC_CTL_CONFIG=$TEST_TMP/absent.conf
GOOD=("url=$WD_URL" "cafile=$WD_CA")

# ctl [--stdin TEXT] ARGS...: run the tool; OUT, ERR (files), RC, TEXT (stdout+stderr).
ctl() {
    local input=""
    if [ "$1" = --stdin ]; then input=$2; shift 2; fi
    _RUN_N=$((_RUN_N + 1))
    OUT=$TEST_TMP/ctl-$_RUN_N.out
    ERR=$TEST_TMP/ctl-$_RUN_N.err
    _LAST_CMD="pam_httpbasic-ctl $*"
    local t0
    t0=$(now_ms)
    # shellcheck disable=SC2086
    printf '%s' "$input" | timeout -k 5 "${RUN_TIMEOUT:-120}" ${RUN_WRAPPER:-} "$CTL" "$@" >"$OUT" 2>"$ERR"
    RC=$?
    WALL_MS=$(($(now_ms) - t0))
    _san_check
    TEXT=$(cat "$OUT" "$ERR")
}
server_line() { grep '^server=' "$OUT" | sed -n "${1:-1}p"; }

# ------------------------------------------------------------------ check ---
ctl check "${GOOD[@]}" "proxy=http://proxyuser:Proxy-Secret-9@127.0.0.1:3128"
is "$RC" 0 "check: valid arguments exit 0"
like "$TEXT" "^url = $WD_URL\$" "check: prints the url"
like "$TEXT" "^cafile = $WD_CA\$" "check: prints cafile"
like "$TEXT" '^timeout = 30000$' "check: prints defaults (timeout)"
like "$TEXT" '^# user_domain \(unset\)$' "check: unset keys are shown as comments"
like "$TEXT" '^proxy = http://\*\*\*@127\.0\.0\.1:3128$' "check: proxy credentials are masked"
unlike "$TEXT" 'Proxy-Secret-9|proxyuser' "check: no proxy credential is printed"
# Every key of the option table, each exactly once (the table is the single source).
KEYS=$(sed -n 's/^    {"\([a-z_]*\)", OPT_.*/\1/p' "$top_srcdir/pam_httpbasic/options.c")
SHOWN=$(sed -n 's/^\(# \)\{0,1\}\([a-z_]*\)\( = \| (unset)\).*/\2/p' "$OUT")
ok '[ -n "$KEYS" ]' "check: the option table was found in options.c"
is "$SHOWN" "$KEYS" "check: every key of the option table, in table order"

# A config file with a store and secrets: only paths are printed.
echo 'TOPSECRET-KEY-MATERIAL-0123456789abcdef0123456789' >"$TEST_TMP/secret"
chmod 0600 "$TEST_TMP/secret"
echo 'Redis-Pass-77' >"$TEST_TMP/redis-auth"
chmod 0600 "$TEST_TMP/redis-auth"
cat >"$TEST_TMP/good.conf" <<EOF
url = $WD_URL
cafile = $WD_CA
timeout = 4000
store = redis://:Url-Pass-55@127.0.0.1:6379/0
secret_file = $TEST_TMP/secret
store_auth_file = $TEST_TMP/redis-auth
user_strip_domain
EOF
chmod 0644 "$TEST_TMP/good.conf"
ctl check "config=$TEST_TMP/good.conf" timeout=30000
is "$RC" 1 "check config=FILE: exit 1 (no Redis at 127.0.0.1:6379 with that password)"
like "$TEXT" '^timeout = 30000$' "check config=FILE: arguments override the file"
like "$TEXT" "config error: $TEST_TMP/good.conf:4: store: " "check config=FILE: the store error names file, line and key"
like "$TEXT" '^user_strip_domain = yes$' "check config=FILE: a bare key sets a flag"
like "$TEXT" "^secret_file = $TEST_TMP/secret\$" "check config=FILE: secret_file is named"
like "$TEXT" '^store = redis://\*\*\*@127\.0\.0\.1:6379/0$' "check config=FILE: store credentials are masked"
unlike "$TEXT" 'TOPSECRET|Redis-Pass-77|Url-Pass-55' "check config=FILE: no secret is printed"

printf 'url = %s\ntimeout = fast\n' "$WD_URL" >"$TEST_TMP/bad.conf"
ctl check "config=$TEST_TMP/bad.conf"
is "$RC" 1 "check: a bad value exits 1"
like "$TEXT" "$TEST_TMP/bad.conf:2: timeout: \"fast\" is not a number" "check: the module's error names file, line and key"
ctl check "url=$WD_URL" bogus_key=1
is "$RC" 1 "check: an unknown key exits 1"
like "$TEXT" 'argument: bogus_key: unknown key' "check: the error names the unknown key"
like "$(tail -n 1 "$OUT")" '^1 error, 0 warnings$' "check: a config error ends with the count line"
chmod 0666 "$TEST_TMP/bad.conf"
ctl check "config=$TEST_TMP/bad.conf"
is "$RC" 1 "check: a world-writable config file exits 1"
PAM_HTTPBASIC_CTL_CONFIG='' ctl check
like "$TEXT" '/etc/security/pam_httpbasic\.conf' "check without arguments reads /etc/security/pam_httpbasic.conf"

# --service: every line that loads the module, by bare name or path.
mkdir -p "$TEST_TMP/pam.d"
cat >"$TEST_TMP/pam.d/mail" <<EOF
# a comment naming pam_httpbasic.so url=broken
auth    [success=1 default=ignore] pam_unix.so nullok
auth    required pam_httpbasic.so url=$WD_URL cafile=$WD_CA [forward_header=X-Real-IP]
account required /usr/lib/x86_64-linux-gnu/security/pam_httpbasic.so url=$WD_URL\\
timeout=2000
-session optional pam_httpbasic.so config=$TEST_TMP/good.conf
account required pam_httpbasic.so
EOF
ctl check --service mail --service-dir "$TEST_TMP/pam.d"
is "$RC" 0 "check --service: four valid lines exit 0"
is "$(grep -c '^/.*/pam.d/mail:[0-9]*: ok$' "$OUT")" 4 "check --service: four lines reported ok"
is "$(tail -n 1 "$OUT")" OK "check --service: ends with OK"
like "$TEXT" 'pam\.d/mail:3: auth required pam_httpbasic\.so' "check --service: line 3 (bare name) with its number"
like "$TEXT" 'pam\.d/mail:4: account required /usr/lib/.*/pam_httpbasic\.so' "check --service: line 4 (path, continued) with its number"
like "$TEXT" 'pam\.d/mail:6: -session' "check --service: line 6 (-session)"
like "$TEXT" '^    forward_header = X-Real-IP$' "check --service: a [bracketed] argument is unwrapped"
like "$TEXT" '^    timeout = 2000$' "check --service: the continued line's arguments are read"
echo "auth required pam_httpbasic.so url=$WD_URL timeout=soon" >>"$TEST_TMP/pam.d/mail"
ctl check --service mail --service-dir "$TEST_TMP/pam.d"
is "$RC" 1 "check --service: one bad line exits 1"
like "$TEXT" 'pam\.d/mail:7: account required pam_httpbasic\.so' "check --service: an account line needs no arguments"
like "$TEXT" 'pam\.d/mail:8: config error' "check --service: the bad line is named by its number"
like "$(tail -n 1 "$OUT")" '^1 error, 0 warnings$' "check --service: the count line"
like "$TEXT" 'timeout: "soon" is not a number' "check --service: with the module's error text"
echo "auth required pam_httpbasic.so" >"$TEST_TMP/pam.d/no-args"
ctl check --service no-args --service-dir "$TEST_TMP/pam.d"
is "$RC" 1 "check --service: an auth line without arguments is an error, as in the module"
like "$TEXT" 'no-args:1: config error: .*url: missing' "check --service: no default config for a pam.d line"
echo "auth required pam_unix.so" >"$TEST_TMP/pam.d/other-svc"
ctl check --service other-svc --service-dir "$TEST_TMP/pam.d"
is "$RC" 1 "check --service: a service without the module exits 1"
ctl check --service ../etc/passwd --service-dir "$TEST_TMP/pam.d"
is "$RC" 1 "check --service: a path as service name is refused"

# ------------------------------------------- arguments add to the default ---
# Arguments add to (override) the default config file instead of replacing it.
printf 'url = %s\ncafile = %s\n' "$WD_URL" "$WD_CA" >"$TEST_TMP/default.conf"
chmod 0644 "$TEST_TMP/default.conf"
PAM_HTTPBASIC_CTL_CONFIG=$TEST_TMP/default.conf ctl check debug
is "$RC" 0 "default file + argument: check debug exits 0"
like "$TEXT" "^url = $WD_URL\$" "default file + argument: the file's url is kept"
like "$TEXT" '^debug = yes$' "default file + argument: the argument is added"
unlike "$TEXT" 'url: missing' "default file + argument: no 'url: missing'"
PAM_HTTPBASIC_CTL_CONFIG=$TEST_TMP/default.conf ctl check "url=https://127.0.0.1:1/remote.php/dav/"
like "$TEXT" '^url = https://127\.0\.0\.1:1/remote\.php/dav/$' "default file + url=: the argument overrides the file's url"
like "$TEXT" "^cafile = $WD_CA\$" "default file + url=: the file's other keys stay"
PAM_HTTPBASIC_CTL_CONFIG=$TEST_TMP/default.conf ctl check --no-config debug
is "$RC" 1 "--no-config: the default file is not read"
like "$TEXT" 'url: missing' "--no-config: only the arguments (url missing)"
PAM_HTTPBASIC_CTL_CONFIG=$TEST_TMP/default.conf ctl --stdin "$PW"$'\n' login alice@example.org user_strip_domain
is "$RC" 0 "default file + argument: login alice@example.org user_strip_domain logs in"
PAM_HTTPBASIC_CTL_CONFIG=$TEST_TMP/default.conf ctl probe --verbose debug
is "$RC" 0 "default file + argument: probe --verbose debug exits 0"
ctl check debug
like "$TEXT" 'absent\.conf does not exist: only the arguments are used' "no default file: a note says only the arguments are used"

# ---------------------------------------------------------- check preflight ---
# check opens every file the configuration names and the store, prints the
# module's warnings, and ends with OK or "N errors, M warnings".
ctl check "${GOOD[@]}"
is "$(tail -n 1 "$OUT")" OK "preflight: a good configuration ends with OK"
like "$TEXT" '^cache: none \(no store=\)$' "preflight: says when there is no cache"
printf 'url = %s\ncafile = %s\n' "$WD_URL" "$TEST_TMP/no-such-ca.pem" >"$TEST_TMP/pre.conf"
chmod 0644 "$TEST_TMP/pre.conf"
ctl check "config=$TEST_TMP/pre.conf"
is "$RC" 1 "preflight: a cafile that does not exist exits 1"
like "$TEXT" "config error: $TEST_TMP/pre\\.conf:2: cafile: cannot open .*no-such-ca\\.pem.*; " \
    "preflight: missing cafile: FILE:LINE: KEY: problem; what to do"
is "$(tail -n 1 "$OUT")" "1 error, 0 warnings" "preflight: missing cafile: the count line"
echo 'not a certificate' >"$TEST_TMP/junk.pem"
ctl check "url=$WD_URL" "cafile=$TEST_TMP/junk.pem"
like "$TEXT" 'config error: argument: cafile: .*holds no PEM certificate' "preflight: a cafile without a certificate"
ctl check "url=$WD_URL" "capath=$TEST_TMP"
like "$TEXT" 'config error: argument: capath: .*no hashed certificate names.*openssl rehash' "preflight: a capath without hashed names"
ctl check "url=$WD_URL" "capath=$WD/capath"
is "$RC" 0 "preflight: the test CA's hashed capath is fine"
ctl check "${GOOD[@]}" timeout=20000
is "$RC" 2 "preflight: the module's timeout warning alone exits 2"
like "$TEXT" 'config warning: argument: timeout: timeout=20000 ms is below 26000 ms.*; raise timeout' \
    "preflight: the module's config warning, in the error format"
is "$(tail -n 1 "$OUT")" "0 errors, 1 warning" "preflight: the count line counts the warning"
ctl check "${GOOD[@]}" insecure_skip_verify
like "$TEXT" 'config warning: argument: insecure_skip_verify: ' "preflight: insecure_skip_verify is a warning"
cp "$WD/client.key" "$TEST_TMP/client-open.key"
chmod 0644 "$TEST_TMP/client-open.key"
ctl check "${GOOD[@]}" "client_cert=$WD/client.pem" "client_key=$TEST_TMP/client-open.key"
like "$TEXT" 'config warning: argument: client_key: .*readable or writable by group or others; chmod 600' \
    "preflight: a client key readable by others warns"
ctl check "${GOOD[@]}" "client_cert=$WD/client.pem" "client_key=$TEST_TMP/no-such.key"
like "$TEXT" 'config error: argument: client_key: cannot open .*no-such\.key' "preflight: an unreadable client key is an error"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$TEST_TMP/other.key" 2>/dev/null
chmod 0600 "$TEST_TMP/other.key"
ctl check "${GOOD[@]}" "client_cert=$WD/client.pem" "client_key=$TEST_TMP/other.key"
like "$TEXT" 'config error: argument: client_key: .*does not belong to the certificate' "preflight: a key that does not match the certificate"
cp "$WD/client.key" "$TEST_TMP/client.key"
chmod 0600 "$TEST_TMP/client.key"
ctl check "${GOOD[@]}" "client_cert=$WD/client.pem" "client_key=$TEST_TMP/client.key"
is "$(tail -n 1 "$OUT")" OK "preflight: the test client certificate and key are fine"
# The store, through the module's own code.
printf '%s\n' 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef >"$TEST_TMP/pre.secret"
chmod 0600 "$TEST_TMP/pre.secret"
mkdir "$TEST_TMP/open-store"
chmod 0770 "$TEST_TMP/open-store"
printf 'url = %s\ncafile = %s\nsecret_file = %s\nstore = lmdb:%s\n' "$WD_URL" "$WD_CA" "$TEST_TMP/pre.secret" \
    "$TEST_TMP/open-store" >"$TEST_TMP/store.conf"
chmod 0644 "$TEST_TMP/store.conf"
ctl check "config=$TEST_TMP/store.conf"
is "$RC" 1 "preflight: a group-writable LMDB directory exits 1"
like "$TEXT" "config error: $TEST_TMP/store\\.conf:4: store: .*writable by group or others; " \
    "preflight: the LMDB error names the file and line of store="
mkdir -m 0700 "$TEST_TMP/good-store"
ctl check "config=$TEST_TMP/store.conf" "store=lmdb:$TEST_TMP/good-store" cache_fresh=600 \
    "url=$WD_URL https://127.0.0.1:1/remote.php/dav/"
is "$RC" 0 "preflight: a good LMDB store exits 0"
like "$TEXT" "store: lmdb:.*good-store answered" "preflight: the LMDB store was opened"
like "$TEXT" "cache: records in store=lmdb:$TEST_TMP/good-store of the server list \\(2 urls; set cache_realm" \
    "preflight: names the store and the server list that key the cache records"
ctl check "config=$TEST_TMP/store.conf" "store=lmdb:$TEST_TMP/good-store" cache_fresh=600 cache_realm=nc-prod \
    "url=$WD_URL https://127.0.0.1:1/remote.php/dav/"
like "$TEXT" 'cache: records in store=lmdb:.* of realm "nc-prod" with method=PROPFIND .*TLS verified' \
    "preflight: with cache_realm, names the realm and the verdict settings"
ctl check "config=$TEST_TMP/pre.conf" "secret_file=$TEST_TMP/no-such.secret" "store=lmdb:$TEST_TMP/good-store" "cafile=$WD_CA"
like "$TEXT" 'config error: argument: secret_file: cannot open .*; it must be' "preflight: secret_file errors in the one format"
printf 'url = ftp://cloud.example/\n' >"$TEST_TMP/ftp.conf"
chmod 0644 "$TEST_TMP/ftp.conf"
ctl check "config=$TEST_TMP/ftp.conf"
like "$TEXT" "config error: $TEST_TMP/ftp\\.conf:1: url: scheme ftp is not allowed; use https://" "preflight: url errors name file and line"
printf 'timeout = 30000\n' >"$TEST_TMP/nourl.conf"
chmod 0644 "$TEST_TMP/nourl.conf"
ctl check "config=$TEST_TMP/nourl.conf"
like "$TEXT" "config error: $TEST_TMP/nourl\\.conf: url: missing; add url=" "preflight: a missing url names the file"
ctl check "url=$WD_URL" timout=30000
like "$TEXT" 'argument: timout: unknown key; did you mean timeout\?' "preflight: did you mean, for a misspelt key"
printf 'url = %s\nuser_strip_domian\n' "$WD_URL" >"$TEST_TMP/typo.conf"
chmod 0644 "$TEST_TMP/typo.conf"
ctl check "config=$TEST_TMP/typo.conf"
like "$TEXT" "$TEST_TMP/typo\\.conf:2: user_strip_domian: unknown key; did you mean user_strip_domain\\?" "preflight: did you mean, in a file"
if command -v redis-server >/dev/null; then
    start_redis
    R=("${GOOD[@]}" "secret_file=$TEST_TMP/pre.secret" "store=redis://127.0.0.1:$RD_PORT")
    ctl check "${R[@]}" "store_auth_file=$RD/auth-acl"
    is "$RC" 0 "preflight: Redis with the right password exits 0"
    like "$TEXT" 'store: redis://.* answered \(connect, AUTH, SELECT and a GET\)' "preflight: Redis round trip"
    ctl check "${R[@]}" "store_auth_file=$RD/auth-wrong"
    is "$RC" 1 "preflight: Redis refusing the password exits 1"
    like "$TEXT" 'config error: argument: store: .*AUTH.*; check that Redis runs' "preflight: the refused AUTH is named"
    unlike "$TEXT" "$(cut -d' ' -f2 "$RD/auth-wrong")" "preflight: the Redis password is never printed"
    ctl check "${R[@]}" "store_auth_file=$TEST_TMP/no-such.auth"
    like "$TEXT" 'config error: argument: store_auth_file: cannot open' "preflight: a missing store_auth_file"
    stop_redis
else
    skip "preflight: Redis" "redis-server not installed"
fi

# ------------------------------------------------------------------ probe ---
LINE_RE='^server=127\.0\.0\.1:[0-9]+ status=(OK|WARNING|CRITICAL) dns_ms=([0-9]+|-) connect_ms=([0-9]+|-) tls_ms=([0-9]+|-) tls=[^ ]+ cert_days=(-?[0-9]+|-) verify=[a-z-]+ http=[0-9]+ auth=[a-z-]+ http_ms=([0-9]+|-) nextcloud=[^ ]+ maintenance=(true|false|-)( error=".*")?$'
log_mark
ctl probe "${GOOD[@]}"
is "$RC" 0 "probe: the test server is OK (exit 0)"
like "$(server_line)" "$LINE_RE" "probe: the server line has the documented format"
like "$(server_line)" ' status=OK .* tls=TLSv1\.[23] cert_days=3[0-9]{3} verify=ok http=401 auth=basic .*nextcloud=no ' \
    "probe: TLS version, certificate days, 401 with a Basic challenge, status.php 404 = not Nextcloud"
like "$TEXT" '^HTTPBASIC OK - ' "probe: Nagios-style summary line"
NEW=$(log_new)
like "$NEW" 'method=PROPFIND uri="/remote.php/dav/" status=401' "probe: the anonymous PROPFIND reached the server"
unlike "$NEW" 'authz=basic' "probe: no credentials were sent"
ctl probe --verbose "${GOOD[@]}"
like "$TEXT" '^# 127\.0\.0\.1:[0-9]+: certificate subject=".*CN = 127\.0\.0\.1" issuer=".*pam_httpbasic test CA"' \
    "probe --verbose: subject and issuer"

CLOSED=$(closed_port)
ctl probe "url=https://127.0.0.1:$CLOSED/remote.php/dav/" "cafile=$WD_CA"
is "$RC" 2 "probe: a closed port is critical (exit 2)"
like "$(server_line)" 'status=CRITICAL .*error=".*onnect' "probe: closed port: the connect error"
like "$TEXT" '^HTTPBASIC CRITICAL - .*connect failed' "probe: closed port: summary names the step"
ctl probe "url=https://127.0.0.1:$CLOSED/remote.php/dav/" "url=$WD_URL" "cafile=$WD_CA"
is "$RC" 1 "probe: one of two servers down is a warning (exit 1)"
is "$(grep -c '^server=' "$OUT")" 2 "probe: one line per server"

start_fault hang
ctl probe "url=http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http timeout=2000 connect_timeout=1000
is "$RC" 2 "probe: a hung server is critical (exit 2)"
like "$(server_line)" 'http=0 .*error=".*(imed out|imeout)' "probe: hung server: timed out"
ok '[ "$WALL_MS" -lt 60000 ]' "probe: hung server: bounded by timeout ($WALL_MS ms)"
ctl probe "url=https://127.0.0.1:$FAULT_PORT/remote.php/dav/" "cafile=$WD_CA" connect_timeout=1000 timeout=2000
is "$RC" 2 "probe: a TLS handshake that never completes is critical (exit 2)"

probe_tls() { # WANT_RC DESC ERE args...
    local want=$1 desc=$2 ere=$3
    shift 3
    ctl probe "$@"
    is "$RC" "$want" "probe: $desc (exit $want)"
    like "$(server_line)" "$ere" "probe: $desc: server line"
}
probe_tls 2 "expired certificate" 'status=CRITICAL .*cert_days=-[0-9]+ verify=failed .*expired' \
    "url=https://127.0.0.1:$WD_EXPIRED_PORT/remote.php/dav/" "cafile=$WD_CA"
like "$TEXT" 'HTTPBASIC CRITICAL - .*certificate expired' "probe: expired certificate: summary says so"
probe_tls 2 "self-signed certificate" 'status=CRITICAL .*verify=failed .*[Ss]elf.signed' \
    "url=https://127.0.0.1:$WD_SELFSIGNED_PORT/remote.php/dav/" "cafile=$WD_CA"
probe_tls 2 "certificate for another name" 'status=CRITICAL .*verify=failed .*name' \
    "url=https://127.0.0.1:$WD_WRONGNAME_PORT/remote.php/dav/" "cafile=$WD_CA"
probe_tls 2 "unrelated CA" 'status=CRITICAL .*verify=failed' "url=$WD_URL" "cafile=$WD/other-ca.pem"
probe_tls 2 "wrong pinned key" 'status=CRITICAL .*verify=failed .*[Pp]ublic key' "${GOOD[@]}" \
    "pinned_pubkey=$(cat "$WD/other-pubkey.sha256")"
probe_tls 0 "right pinned key" 'status=OK .*verify=ok' "${GOOD[@]}" "pinned_pubkey=$(cat "$WD/server-pubkey.sha256")"
probe_tls 1 "insecure_skip_verify" 'status=WARNING .*verify=skipped' \
    "url=https://127.0.0.1:$WD_SELFSIGNED_PORT/remote.php/dav/" insecure_skip_verify
probe_tls 1 "a URL that is not a DAV endpoint" 'status=WARNING .*http=404 auth=none' \
    "url=$WD_BASE/status/404/" "cafile=$WD_CA"

# A small Nextcloud look-alike: PROPFIND -> 401 Basic, status.php -> JSON,
# over TLS with a certificate (signed by the test CA) that expires in 5 days.
(
    cd "$WD" || exit 1
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TEST_TMP/soon.key" \
        -out "$TEST_TMP/soon.csr" -subj "/CN=127.0.0.1" &&
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$TEST_TMP/soon.ext" &&
    openssl x509 -req -in "$TEST_TMP/soon.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -CAserial "$TEST_TMP/soon.srl" -days 5 -extfile "$TEST_TMP/soon.ext" -out "$TEST_TMP/soon.pem"
) >"$TEST_TMP/soon-openssl.log" 2>&1 || { diag_lines <"$TEST_TMP/soon-openssl.log"; bail_out "cannot make the expiring certificate"; }
cat >"$TEST_TMP/nc.py" <<'EOF'
import http.server, os, ssl, sys, threading
cert, key, port_file, state = sys.argv[1:5]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, body, extra=()):
        self.send_response(code)
        for k, v in extra: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_PROPFIND(self):
        self.reply(401, b"", [("WWW-Authenticate", 'Basic realm="Nextcloud", charset="UTF-8"')])
    def do_GET(self):
        if self.path != "/status.php":
            return self.reply(404, b"")
        m = open(state).read().strip()
        if m == "plain":
            return self.reply(401, b"", [("WWW-Authenticate", 'Basic realm="WebDAV"')])
        if m == "html":
            return self.reply(200, b"<html><body>It works</body></html>", [("Content-Type", "text/html")])
        self.reply(200, ('{"installed":true,"maintenance":%s,"needsDbUpgrade":false,"version":"29.0.6.1",'
                         '"versionstring":"29.0.6","edition":"","productname":"Nextcloud","extendedSupport":false}' % m).encode(),
                   [("Content-Type", "application/json")])
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
threading.Timer(600, lambda: os._exit(0)).start()
open(port_file + ".tmp", "w").write(str(s.server_address[1])); os.rename(port_file + ".tmp", port_file)
s.serve_forever()
EOF
echo false >"$TEST_TMP/nc.state"
python3 "$TEST_TMP/nc.py" "$TEST_TMP/soon.pem" "$TEST_TMP/soon.key" "$TEST_TMP/nc.port" "$TEST_TMP/nc.state" \
    >"$TEST_TMP/nc.out" 2>&1 &
_FAULT_PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$TEST_TMP/nc.port" ] && break; sleep 0.05; done
[ -s "$TEST_TMP/nc.port" ] || bail_out "the Nextcloud look-alike did not start: $(cat "$TEST_TMP/nc.out")"
NC_URL=https://127.0.0.1:$(cat "$TEST_TMP/nc.port")/remote.php/dav/files/alice/
probe_tls 1 "certificate expiring in 5 days" 'status=WARNING .*cert_days=[45] verify=ok http=401 auth=basic .*nextcloud=29\.0\.6 maintenance=false' \
    "url=$NC_URL" "cafile=$WD_CA"
like "$TEXT" 'HTTPBASIC WARNING - .*certificate expires in [45] days' "probe: expiring certificate: summary says so"
# A WebDAV server without Nextcloud's status.php (Apache mod_dav with auth on
# the whole tree answers 401 there, another product an HTML page):
# information, not a warning.  The same look-alike, with the test server's
# long-lived certificate.
echo plain >"$TEST_TMP/plain.state"
python3 "$TEST_TMP/nc.py" "$WD/server.pem" "$WD/server.key" "$TEST_TMP/plain.port" "$TEST_TMP/plain.state" \
    >"$TEST_TMP/plain.out" 2>&1 &
_FAULT_PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$TEST_TMP/plain.port" ] && break; sleep 0.05; done
PLAIN_URL=https://127.0.0.1:$(cat "$TEST_TMP/plain.port")/remote.php/dav/
probe_tls 0 "status.php answered 401 (not Nextcloud)" 'status=OK .*http=401 auth=basic .*nextcloud=no ' \
    "url=$PLAIN_URL" "cafile=$WD_CA"
like "$TEXT" '^HTTPBASIC OK - ' "probe: not Nextcloud: the summary is OK"
echo html >"$TEST_TMP/plain.state"
probe_tls 0 "status.php answered an HTML page (not Nextcloud)" 'status=OK .*nextcloud=no ' "url=$PLAIN_URL" "cafile=$WD_CA"
echo true >"$TEST_TMP/nc.state"
probe_tls 2 "Nextcloud in maintenance mode" 'status=CRITICAL .*nextcloud=29\.0\.6 maintenance=true' \
    "url=$NC_URL" "cafile=$WD_CA"
like "$TEXT" 'HTTPBASIC CRITICAL - .*maintenance' "probe: maintenance: summary says so"

ctl probe "url=$WD_URL" timeout=nope
is "$RC" 3 "probe: a bad configuration is unknown (exit 3)"
like "$TEXT" '^HTTPBASIC UNKNOWN - ' "probe: bad configuration: UNKNOWN summary"
like "$TEXT" 'timeout: "nope"' "probe: bad configuration: the module's error text"
ctl probe --bogus "${GOOD[@]}"
is "$RC" 3 "probe: an unknown option is unknown (exit 3)"

# ------------------------------------------------------------------ login ---
log_mark
ctl --stdin "$PW"$'\n' login alice --rhost 203.0.113.9 "${GOOD[@]}"
is "$RC" 0 "login: right password exits 0"
like "$TEXT" '^verdict=ok status=207 server=127\.0\.0\.1:[0-9]+ ms=[0-9]+' "login: verdict, status, server, time"
like "$(log_new)" 'status=207 user="alice" xff="203\.0\.113\.9"' "login: --rhost is forwarded as the module does"
unlike "$TEXT" "$PW" "login: the password is never printed"
ctl --stdin "$PW" login alice "${GOOD[@]}"
is "$RC" 0 "login: a password without a final newline"
ctl --stdin "wrong-password"$'\n' login alice "${GOOD[@]}"
is "$RC" 1 "login: wrong password exits 1"
like "$TEXT" '^verdict=denied status=401' "login: wrong password: denied, 401"
like "$TEXT" '^hint: .*login name \(uid\).*user_strip_domain' "login: 401 hint: app tokens bind to the uid"
unlike "$TEXT" 'wrong-password' "login: the wrong password is never printed"
ctl --stdin "$PW"$'\n' login alice@example.org user_strip_domain "${GOOD[@]}"
is "$RC" 0 "login: user_strip_domain maps the user as the module does"
like "$TEXT" '^user=alice ' "login: the mapped user name is shown"
ctl --stdin "$PW"$'\n' login 'al:ice' "${GOOD[@]}"
is "$RC" 1 "login: an invalid user name is refused (exit 1)"
like "$TEXT" 'verdict=refused .*no request sent' "login: invalid user name: nothing sent"
ctl --stdin $'\n' login alice "${GOOD[@]}"
is "$RC" 1 "login: an empty password is refused (exit 1)"
ctl --stdin "$PW"$'\n' login alice "url=$WD_BASE/status/429/" "cafile=$WD_CA"
is "$RC" 2 "login: 429 exits 2"
like "$TEXT" '^hint: .*trusted_proxies.*forwarded_for_headers' "login: 429 hint: trusted_proxies"
ctl --stdin "$PW"$'\n' login alice "url=https://127.0.0.1:$CLOSED/remote.php/dav/" "cafile=$WD_CA"
is "$RC" 2 "login: closed port exits 2"
like "$TEXT" '^hint: no connection' "login: closed port hint: reachability"
ctl --stdin "$PW"$'\n' login alice "url=$WD_URL" "cafile=$WD/other-ca.pem"
is "$RC" 2 "login: unrelated CA exits 2"
like "$TEXT" '^hint: TLS failed: check that cafile' "login: TLS hint names cafile"
ctl --stdin "$PW"$'\n' login alice "url=http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http timeout=2000 connect_timeout=1000
is "$RC" 2 "login: hung server exits 2"
like "$TEXT" '^hint: timed out' "login: hung server hint: timeout"
ctl --stdin "$PW"$'\n' login alice "url=$WD_URL" timeout=x
is "$RC" 2 "login: configuration error exits 2"
ctl login
is "$RC" 2 "login: no user is a usage error (exit 2)"

# On a terminal: a prompt, no echo of the password.
cat >"$TEST_TMP/pty_login.py" <<'EOF'
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
deadline = time.time() + 60
while b"Password: " not in out and time.time() < deadline:
    out += os.read(fd, 1024)
os.write(fd, os.environ["TTY_PW"].encode() + b"\n")
while True:
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
EOF
TTY_OUT=$(TTY_PW=$PW timeout -k 5 120 python3 "$TEST_TMP/pty_login.py" "$CTL" login alice "${GOOD[@]}" 2>&1)
TTY_RC=$?
is "$TTY_RC" 0 "login on a terminal: exit 0"
like "$TTY_OUT" 'Password: ' "login on a terminal: prompts"
like "$TTY_OUT" 'verdict=ok' "login on a terminal: ok"
unlike "$TTY_OUT" "$PW" "login on a terminal: the password is not echoed"

# ------------------------------------------------------------------ usage ---
# ------------------------------------------------------------------ cache ---
# The module fills the store; the tool reads and drops entries in it, and a
# forgotten user is asked about again by every process.
mkdir -m 700 "$TEST_TMP/store"
printf '%s\n' 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef >"$TEST_TMP/cache.secret"
chmod 0600 "$TEST_TMP/cache.secret"
CACHE=("${GOOD[@]}" "store=lmdb:$TEST_TMP/store" "secret_file=$TEST_TMP/cache.secret" cache_fresh=3600)
write_service cached "${CACHE[@]}"
run_driver --password "$PW" cached alice
run_driver --password 'pass word:with:colons' cached bob
ctl cache stats "${CACHE[@]}"
is "$RC" 0 "cache stats: exit 0"
like "$TEXT" 'store=lmdb:.* users=2 verifiers=2 accounts=0 corrupt=0 newest_age=[0-9]+ oldest_age=[0-9]+ fresh=3600 stale=0$' \
    "cache stats: 2 users, 2 verifiers, their ages"
is "$(grep -c '^record verifiers=1 ' "$OUT")" 2 "cache stats: one line per user record"
unlike "$TEXT" 'alice|bob|Alice-App|pass word|0123456789abcdef' "cache stats: no user name, password or secret"
log_mark
run_driver --password "$PW" cached alice
is "$(log_count_new)" 0 "before forget: alice is a fresh cache hit (no request)"
ctl cache forget alice "${CACHE[@]}"
is "$RC" 0 "cache forget alice: exit 0"
like "$TEXT" '^forgot login name alice: 1 verifier dropped' "cache forget: says what it did"
ctl cache stats "${CACHE[@]}"
like "$TEXT" ' users=1 verifiers=1 ' "cache stats after forget: bob's record only"
log_mark
run_driver --password "$PW" cached alice
is "$AUTH/$(log_count_new)" PAM_SUCCESS/1 "after forget: the next login of alice asks the server again"
ctl cache stats "${GOOD[@]}"
is "$RC" 1 "cache stats without store=: exit 1"
like "$TEXT" 'no store=' "cache stats without store=: says why"
ctl cache forget
is "$RC" 2 "cache forget without a user: usage, exit 2"
ctl cache stats "store=lmdb:$TEST_TMP/store" "${GOOD[@]}"
is "$RC" 1 "cache stats with store= but no secret_file: the module's config error, exit 1"

ctl nonsense
is "$RC" 2 "an unknown subcommand exits 2"
like "$TEXT" 'pam_httpbasic-ctl probe' "an unknown subcommand prints the usage"
ctl --help
is "$RC" 0 "--help exits 0"

done_testing
