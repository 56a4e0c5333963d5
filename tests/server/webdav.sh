#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/server/webdav.sh - a real Apache HTTPS WebDAV server for tests, demo
# and benchmarks.  Everything (keys, config, logs, pid) lives in STATEDIR;
# /etc/apache2 is never read or touched.
#
#   webdav.sh start STATEDIR    create STATEDIR, start Apache, wait until it answers
#                               (WEBDAV_REUSE_PORTS=1: on the ports of the last start)
#   webdav.sh stop STATEDIR     stop the Apache whose pid is in STATEDIR/pid
#   webdav.sh status STATEDIR   exit 0 when that Apache is running
#
# Files written to STATEDIR (see STATEDIR/README for the full list):
#   port          HTTPS port on 127.0.0.1 (valid cert for 127.0.0.1, ::1, localhost)
#   port6         HTTPS port on [::1] (empty when IPv6 loopback is unusable)
#   http_port     plain HTTP port on 127.0.0.1 (same locations)
#   expired_port  HTTPS port whose cert (signed by ca.pem) has expired
#   selfsigned_port  HTTPS port with a self-signed cert
#   wrongname_port   HTTPS port whose cert (signed by ca.pem) names only wrong.example
#   mtls_port     HTTPS port requiring a client cert signed by ca.pem (client.pem/client.key)
#   ca.pem ca.key other-ca.pem other-ca.key server.pem server.key expired.pem
#   selfsigned.pem wrongname.pem client.pem client.key capath/ (hashed CA dir)
#   server-pubkey.sha256  "sha256//BASE64" pin of server.key
#   htpasswd users.txt access.log error.log pid httpd.conf
set -u

die() { echo "webdav.sh: $*" >&2; exit 1; }

APACHE_BIN=${APACHE_BIN:-$(command -v apache2 || echo /usr/sbin/apache2)}
APACHE_MODULES=${APACHE_MODULES:-/usr/lib/apache2/modules}

# N free TCP ports on ADDR (127.0.0.1 or ::1), one per line, all different
# (every socket stays bound until all are found), or nothing when ADDR
# cannot be bound.
free_ports() {
    python3 - "$1" "$2" <<'EOF' 2>/dev/null
import socket, sys
addr, count = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
held = []
for _ in range(count):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((addr, 0))
    held.append(s)
print("\n".join(str(s.getsockname()[1]) for s in held))
EOF
}

# Certificates and keys.  Only done once per STATEDIR.
make_pki() {
    local d=$1
    [ -s "$d/server.pem" ] && [ -s "$d/client.pem" ] && return 0
    (
        set -e
        cd "$d"
        ossl() { openssl "$@" 2>>"$d/openssl.log" >/dev/null; }
        # Test CA and an unrelated CA.
        ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 3650 \
            -subj "/CN=pam_httpbasic test CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other-ca.key -out other-ca.pem -days 3650 \
            -subj "/CN=pam_httpbasic unrelated CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

        # Leaf certs are signed with "openssl ca" so that start/end dates can be chosen.
        mkdir -p ca-db
        : >ca-db/index.txt
        cat >ca-db/ca.cnf <<EOF
[ ca ]
default_ca = testca
[ testca ]
dir = $d/ca-db
database = \$dir/index.txt
new_certs_dir = \$dir
certificate = $d/ca.pem
private_key = $d/ca.key
rand_serial = yes
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[ anything ]
commonName = supplied
[ server_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost
[ wrongname_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
[ client_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF
        leaf() { # name CN extensions [startdate enddate]
            ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "ca-db/$1.csr" -subj "/CN=$2"
            if [ $# -ge 5 ]; then
                ossl ca -batch -config ca-db/ca.cnf -extensions "$3" -in "ca-db/$1.csr" -out "$1.pem" \
                    -notext -startdate "$4" -enddate "$5"
            else
                ossl ca -batch -config ca-db/ca.cnf -extensions "$3" -in "ca-db/$1.csr" -out "$1.pem" \
                    -notext -days 3650
            fi
        }
        leaf server 127.0.0.1 server_ext
        leaf expired 127.0.0.1 server_ext 20200101000000Z 20210101000000Z
        leaf wrongname wrong.example wrongname_ext
        leaf client pam-httpbasic-client client_ext
        ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout selfsigned.key -out selfsigned.pem -days 3650 \
            -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"

        # A CA directory for capath= (OpenSSL hash links).
        mkdir -p capath
        cp ca.pem capath/ca.pem
        ossl rehash capath

        # The pin of the server key, as curl's CURLOPT_PINNEDPUBLICKEY wants it.
        printf 'sha256//%s\n' "$(openssl pkey -in server.key -pubout -outform DER 2>/dev/null |
            openssl dgst -sha256 -binary | openssl base64 -A)" >server-pubkey.sha256
        printf 'sha256//%s\n' "$(openssl pkey -in other-ca.key -pubout -outform DER 2>/dev/null |
            openssl dgst -sha256 -binary | openssl base64 -A)" >other-pubkey.sha256
        chmod 0644 ./*.pem ./*.sha256
        # Keys are read by Apache's parent (root) and by the tests; keep them private
        # to the owner except client.key, which a non-root test may need.
        chmod 0600 ./*.key
        chmod 0644 client.key
    ) || { echo "webdav.sh: certificate generation failed, see $d/openssl.log" >&2; return 1; }
}

make_content() {
    local d=$1 run_user=$2
    mkdir -p "$d/dav" "$d/open" "$d/big/many" "$d/lock" "$d/run"
    echo "hello from pam_httpbasic test server" >"$d/dav/hello.txt"
    echo "open" >"$d/open/hello.txt"
    # A static file larger than 1 MiB (GET /big/big.bin -> 200) and a
    # collection whose Depth-1 listing is larger than 1 MiB (PROPFIND /big/many/).
    if [ ! -s "$d/big/big.bin" ]; then
        head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$d/big/big.bin"
        python3 - "$d/big/many" <<'EOF'
import os, sys
d = sys.argv[1]
for i in range(2500):
    open(os.path.join(d, "file-%05d-%s.txt" % (i, "x" * 180)), "w").close()
EOF
    fi
    if [ -n "$run_user" ]; then
        chown -R "$run_user" "$d/dav" "$d/open" "$d/lock"
    fi
}

make_users() {
    local d=$1
    [ -s "$d/htpasswd" ] && return 0
    rm -f "$d/htpasswd"
    htpasswd -c -b -m "$d/htpasswd" alice 'Alice-App-Pass-1' 2>/dev/null &&
    htpasswd -b -m "$d/htpasswd" bob 'pass word:with:colons' 2>/dev/null &&
    htpasswd -b -m "$d/htpasswd" carol 'pässwörd' 2>/dev/null &&
    htpasswd -b -m "$d/htpasswd" 'dave@example.org' 'Dave-Pass-4' 2>/dev/null ||
        { echo "webdav.sh: htpasswd failed" >&2; return 1; }
    chmod 0644 "$d/htpasswd"
    cat >"$d/users.txt" <<'EOF'
# Users of the test WebDAV server (htpasswd, apr1/MD5).  One per line:
# user<TAB>password   (the password is everything after the first TAB)
alice	Alice-App-Pass-1
bob	pass word:with:colons
carol	pässwörd
dave@example.org	Dave-Pass-4
# alice@example.org does NOT exist (user_strip_domain tests rely on it).
EOF
}

write_conf() {
    local d=$1 run_user=$2 run_group=$3
    local port port6 http_port expired_port selfsigned_port wrongname_port mtls_port
    port=$(cat "$d/port"); port6=$(cat "$d/port6"); http_port=$(cat "$d/http_port")
    expired_port=$(cat "$d/expired_port"); selfsigned_port=$(cat "$d/selfsigned_port")
    wrongname_port=$(cat "$d/wrongname_port"); mtls_port=$(cat "$d/mtls_port")
    local m=$APACHE_MODULES

    # The locations every vhost serves.
    cat >"$d/locations.conf" <<EOF
# Included in every vhost.
RewriteEngine On
# Fixed answers for any method and any credentials.
RewriteRule ^/status/301/ http://127.0.0.1:1/elsewhere [R=301,L]
RewriteRule ^/status/302/ http://127.0.0.1:1/elsewhere [R=302,L]
RewriteRule ^/status/307/ http://127.0.0.1:1/elsewhere [R=307,L]
RewriteRule ^/status/401/ - [R=401,L]
RewriteRule ^/status/403/ - [F,L]
RewriteRule ^/status/404/ - [R=404,L]
RewriteRule ^/status/429/ - [R=429,L]
RewriteRule ^/status/500/ - [R=500,L]
RewriteRule ^/status/502/ - [R=502,L]
RewriteRule ^/status/503/ - [R=503,L]

# The Nextcloud-like endpoint: PROPFIND Depth 0 -> 207 with the right
# password, 401 otherwise.  GET /remote.php/dav/hello.txt -> 200.
Alias /remote.php/dav/ "$d/dav/"
<Location /remote.php/dav/>
    DAV On
    AuthType Basic
    AuthName "pam_httpbasic test"
    AuthBasicProvider file
    AuthUserFile "$d/htpasswd"
    Require valid-user
</Location>

# No authentication at all: PROPFIND -> 207 whatever the credentials.
Alias /open/ "$d/open/"
<Location /open/>
    DAV On
    Require all granted
</Location>

# Big answers: GET /big/big.bin -> 200 with 2 MiB; PROPFIND /big/many/ ->
# 207 with a listing of several MiB (Depth forced to 1); no authentication.
Alias /big/ "$d/big/"
<Location /big/>
    DAV On
    Require all granted
</Location>
<Location /big/many/>
    RequestHeader set Depth 1
</Location>
EOF

    local listen6="" vhost6=""
    if [ -n "$port6" ]; then
        listen6="Listen [::1]:$port6 https"
        vhost6="[::1]:$port6"
    fi
    local userconf=""
    if [ -n "$run_user" ]; then
        userconf="User $run_user
Group $run_group"
    fi

    cat >"$d/httpd.conf" <<EOF
# Generated by tests/server/webdav.sh - do not edit.
ServerRoot "$d"
ServerName localhost
PidFile "$d/pid"
DefaultRuntimeDir "$d/run"
Mutex file:$d/run default
ErrorLog "$d/error.log"
LogLevel warn
$userconf

LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authn_core_module $m/mod_authn_core.so
LoadModule authn_file_module $m/mod_authn_file.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule authz_user_module $m/mod_authz_user.so
LoadModule auth_basic_module $m/mod_auth_basic.so
LoadModule dav_module $m/mod_dav.so
LoadModule dav_fs_module $m/mod_dav_fs.so
LoadModule socache_shmcb_module $m/mod_socache_shmcb.so
LoadModule ssl_module $m/mod_ssl.so
LoadModule alias_module $m/mod_alias.so
LoadModule mime_module $m/mod_mime.so
LoadModule setenvif_module $m/mod_setenvif.so
LoadModule rewrite_module $m/mod_rewrite.so
LoadModule headers_module $m/mod_headers.so

# Enough workers for benchmarks; idle keep-alive connections cost no thread.
StartServers 2
ServerLimit 4
ThreadsPerChild 64
MaxRequestWorkers 256
MaxConnectionsPerChild 0
Timeout 60
KeepAlive On
KeepAliveTimeout 300
MaxKeepAliveRequests 0

TypesConfig /dev/null
DocumentRoot "$d/open"
DavLockDB "$d/lock/lockdb"

<Directory />
    Options None
    AllowOverride None
    Require all denied
</Directory>
<Directory "$d/dav">
    Require all granted
</Directory>
<Directory "$d/open">
    Require all granted
</Directory>
<Directory "$d/big">
    Require all granted
</Directory>

# One line per request.  The Authorization header is never logged: only its
# scheme (authz=basic) is.
SetEnvIf Authorization "^Basic " authz=basic
# keepalive = requests before this one on the same
# connection (0 = a new connection), rport = client port.
LogFormat "method=%m uri=\"%U%q\" status=%>s user=\"%u\" xff=\"%{X-Forwarded-For}i\" xrealip=\"%{X-Real-IP}i\" depth=\"%{Depth}i\" ua=\"%{User-Agent}i\" xrw=\"%{X-Requested-With}i\" ctype=\"%{Content-Type}i\" cookie=\"%{Cookie}i\" expect=\"%{Expect}i\" authz=%{authz}e keepalive=%k raddr=%a rport=%{remote}p lport=%{local}p tls=\"%{SSL_PROTOCOL}x\" clientcn=\"%{SSL_CLIENT_S_DN_CN}x\" bytes=%B us=%D" pamtest
CustomLog "$d/access.log" pamtest

SSLSessionCache "shmcb:$d/run/ssl_scache(512000)"
SSLRandomSeed startup builtin
SSLRandomSeed connect builtin

Listen 127.0.0.1:$port https
$listen6
Listen 127.0.0.1:$http_port http
Listen 127.0.0.1:$expired_port https
Listen 127.0.0.1:$selfsigned_port https
Listen 127.0.0.1:$wrongname_port https
Listen 127.0.0.1:$mtls_port https

<VirtualHost 127.0.0.1:$port $vhost6>
    SSLEngine on
    SSLCertificateFile "$d/server.pem"
    SSLCertificateKeyFile "$d/server.key"
    Include "$d/locations.conf"
</VirtualHost>

<VirtualHost 127.0.0.1:$http_port>
    Include "$d/locations.conf"
</VirtualHost>

<VirtualHost 127.0.0.1:$expired_port>
    SSLEngine on
    SSLCertificateFile "$d/expired.pem"
    SSLCertificateKeyFile "$d/expired.key"
    Include "$d/locations.conf"
</VirtualHost>

<VirtualHost 127.0.0.1:$selfsigned_port>
    SSLEngine on
    SSLCertificateFile "$d/selfsigned.pem"
    SSLCertificateKeyFile "$d/selfsigned.key"
    Include "$d/locations.conf"
</VirtualHost>

<VirtualHost 127.0.0.1:$wrongname_port>
    SSLEngine on
    SSLCertificateFile "$d/wrongname.pem"
    SSLCertificateKeyFile "$d/wrongname.key"
    Include "$d/locations.conf"
</VirtualHost>

<VirtualHost 127.0.0.1:$mtls_port>
    SSLEngine on
    SSLCertificateFile "$d/server.pem"
    SSLCertificateKeyFile "$d/server.key"
    SSLCACertificateFile "$d/ca.pem"
    SSLVerifyClient require
    SSLVerifyDepth 2
    Include "$d/locations.conf"
</VirtualHost>
EOF
}

is_running() {
    local d=$1 pid
    [ -s "$d/pid" ] || return 1
    pid=$(cat "$d/pid" 2>/dev/null) || return 1
    case $pid in ''|*[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null || return 1
    # Make sure the pid is really this server (pid files can go stale).
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$d/httpd.conf"
}

# Wait (up to ~10 s) until every listener answers.
wait_ready() {
    local d=$1 i p ok
    for i in $(seq 1 100); do
        ok=1
        for p in "$(cat "$d/port")" "$(cat "$d/http_port")"; do
            python3 - "$p" <<'EOF' 2>/dev/null || ok=0
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.close()
EOF
        done
        if [ $ok = 1 ] && curl -s -o /dev/null --max-time 2 --cacert "$d/ca.pem" -X PROPFIND -H 'Depth: 0' \
                "https://127.0.0.1:$(cat "$d/port")/open/"; then
            return 0
        fi
        is_running "$d" || [ $i -lt 20 ] || return 1
        sleep 0.1
    done
    return 1
}

do_start() {
    local d=$1 run_user="" run_group="" attempt pid
    mkdir -p "$d" || die "cannot create $d"
    d=$(cd "$d" && pwd -P) || die "cannot enter $1"
    if is_running "$d"; then
        echo "webdav.sh: already running in $d (pid $(cat "$d/pid"))" >&2
        return 0
    fi
    chmod 0755 "$d"
    [ -x "$APACHE_BIN" ] || die "apache2 not found (install apache2)"
    command -v htpasswd >/dev/null || die "htpasswd not found (install apache2-utils)"
    if [ "$(id -u)" = 0 ]; then
        run_user=nobody
        run_group=$(id -gn nobody 2>/dev/null || echo nogroup)
    fi
    make_pki "$d" || exit 1
    make_users "$d" || exit 1
    make_content "$d" "$run_user"
    : >>"$d/access.log"; : >>"$d/error.log"

    for attempt in 1 2 3 4 5; do
        rm -f "$d/pid"
        # WEBDAV_REUSE_PORTS=1: a restart keeps the URLs of the last start
        # (a server coming back after an outage), if those ports are free.
        if [ "$attempt" = 1 ] && [ "${WEBDAV_REUSE_PORTS:-0}" = 1 ] && [ -s "$d/ports" ]; then
            :
        else
            free_ports 127.0.0.1 6 >"$d/ports"
            free_ports ::1 1 >"$d/port6" || : >"$d/port6"
        fi
        i=0
        for name in port http_port expired_port selfsigned_port wrongname_port mtls_port; do
            i=$((i + 1))
            sed -n "${i}p" "$d/ports" >"$d/$name"
        done
        [ -s "$d/port" ] || die "cannot find a free port (is python3 installed?)"
        write_conf "$d" "$run_user" "$run_group"
        "$APACHE_BIN" -t -f "$d/httpd.conf" >"$d/configtest.log" 2>&1 ||
            { cat "$d/configtest.log" >&2; die "apache configuration test failed"; }
        if "$APACHE_BIN" -f "$d/httpd.conf" -k start >>"$d/error.log" 2>&1 && wait_ready "$d"; then
            echo "https://127.0.0.1:$(cat "$d/port")/remote.php/dav/" >"$d/url"
            write_readme "$d"
            return 0
        fi
        echo "webdav.sh: start attempt $attempt failed (port taken?), retrying" >&2
        tail -n 5 "$d/error.log" >&2
        do_stop "$d" >/dev/null 2>&1
    done
    die "apache did not start; see $d/error.log"
}

write_readme() {
    local d=$1
    cat >"$d/README" <<EOF
pam_httpbasic test WebDAV server (tests/server/webdav.sh)
  https://127.0.0.1:$(cat "$d/port")/remote.php/dav/   (cafile $d/ca.pem)
  ipv6 port: $(cat "$d/port6")   http port: $(cat "$d/http_port")
  expired cert port: $(cat "$d/expired_port")   self-signed port: $(cat "$d/selfsigned_port")
  wrong-name cert port: $(cat "$d/wrongname_port")   client-cert-required port: $(cat "$d/mtls_port")
Paths: /remote.php/dav/ (Basic auth, htpasswd users in users.txt), /open/ (no auth, 207),
  /status/{301,302,307,401,403,404,429,500,502,503}/ (fixed answers, any method),
  /big/big.bin (GET -> 200, 2 MiB), /big/many/ (PROPFIND -> 207, several MiB).
Logs: access.log (one key=value line per request), error.log.
EOF
}

do_stop() {
    local d=$1 pid i
    [ -d "$d" ] || return 0
    d=$(cd "$d" && pwd -P) || return 0
    is_running "$d" || { rm -f "$d/pid"; return 0; }
    pid=$(cat "$d/pid")
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "webdav.sh: apache $pid did not stop, killing it" >&2
        kill -KILL "$pid" 2>/dev/null
        # Its children exit when they notice the parent has gone; kill the
        # ones that still have it as parent.
        pkill -KILL -P "$pid" 2>/dev/null
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$d/pid"
    return 0
}

case ${1:-} in
    start) [ $# -eq 2 ] || die "usage: $0 start STATEDIR"; do_start "$2" ;;
    stop) [ $# -eq 2 ] || die "usage: $0 stop STATEDIR"; do_stop "$2" ;;
    status) [ $# -eq 2 ] || die "usage: $0 status STATEDIR"; is_running "$(cd "$2" 2>/dev/null && pwd -P)" ;;
    *) die "usage: $0 start|stop|status STATEDIR" ;;
esac
