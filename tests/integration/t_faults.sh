#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Answers that are neither "right" nor "wrong": redirects, 403/404/5xx, 429,
# closed ports, hanging and misbehaving servers, oversized bodies.  Each
# must end in PAM_AUTHINFO_UNAVAIL (429: PAM_MAXTRIES) within its timeout.
. "$(dirname "$0")/lib.sh"
need_module
start_webdav
PW=Alice-App-Pass-1

fault_case() { # WANT DESC service-args...
    local want=$1 desc=$2
    shift 2
    write_service fault "$@"
    log_mark
    run_driver --password "$PW" fault alice
    is "$AUTH" "$want" "$desc: $want"
}

# --- fixed statuses from Apache ------------------------------------------
for code in 301 302 307 403 404 500 502 503; do
    fault_case PAM_AUTHINFO_UNAVAIL "status $code" "url=$WD_BASE/status/$code/" "cafile=$WD_CA"
    like "$(module_log)" "^auth unavailable: user=alice rhost=- forwarded=- server=127\\.0\\.0\\.1(:[0-9]+)? status=$code ms=[0-9]+" \
        "status $code: 'auth unavailable ... status=$code'"
done
is "$(module_log_prio | grep 'auth unavailable' | cut -d' ' -f1)" 3 "auth unavailable is LOG_ERR"
fault_case PAM_AUTHINFO_UNAVAIL "status 302 (redirect not followed)" "url=$WD_BASE/status/302/" "cafile=$WD_CA"
is "$(log_new | grep -c .)" 1 "redirect: exactly one request, the redirect was not followed"

fault_case PAM_MAXTRIES "status 429" "url=$WD_BASE/status/429/" "cafile=$WD_CA"
like "$(module_log)" '^auth throttled: user=alice rhost=- forwarded=- server=127\.0\.0\.1(:[0-9]+)? status=429 ms=[0-9]+.*trusted_proxies' \
    "status 429: 'auth throttled ... status=429' with the trusted_proxies hint"
is "$(module_log_prio | grep 'auth throttled' | cut -d' ' -f1)" 4 "auth throttled is LOG_WARNING"
write_service fault429 "url=$WD_BASE/status/429/" "cafile=$WD_CA"
run_driver --rhost 192.0.2.77 --password "$PW" fault429 alice
like "$(module_log)" 'auth throttled: user=alice rhost=192\.0\.2\.77 forwarded=192\.0\.2\.77 ' \
    "status 429: the log names the forwarded client address"

# --- no server ---------------------------------------------------------------
CLOSED=$(closed_port)
fault_case PAM_AUTHINFO_UNAVAIL "closed port" "url=https://127.0.0.1:$CLOSED/remote.php/dav/" "cafile=$WD_CA"
like "$(module_log)" "^auth unavailable: user=alice .*status=0 .*error=\".*(onnect|refused)" "closed port: log has the connect error"
ok '[ "$ELAPSED_MS" -lt 5000 ]' "closed port: fails at once ($ELAPSED_MS ms)"

# --- hanging servers -----------------------------------------------------------
start_fault hang
HANG=$FAULT_PORT
fault_case PAM_AUTHINFO_UNAVAIL "hanging server, timeout=2000" "url=http://127.0.0.1:$HANG/remote.php/dav/" allow_http timeout=2000 connect_timeout=1000
like "$(module_log)" 'status=0 .*error=".*(imed out|imeout)' "hanging server: log says timed out"
ok '[ "$ELAPSED_MS" -ge 1900 ] && [ "$ELAPSED_MS" -lt 6000 ]' "hanging server: ends after ~2 s (took $ELAPSED_MS ms)"
is "$(grep -c 'authorization="Basic <redacted>"' "$FAULT_LOG")" 1 "hanging server: the request (with Basic credentials) did arrive"

start_fault hang tls
fault_case PAM_AUTHINFO_UNAVAIL "TLS server that never answers, timeout=2000" "url=https://127.0.0.1:$FAULT_PORT/remote.php/dav/" \
    "cafile=$WD_CA" timeout=2000 connect_timeout=1000
ok '[ "$ELAPSED_MS" -ge 1900 ] && [ "$ELAPSED_MS" -lt 6000 ]' "TLS hanging server: ends after ~2 s (took $ELAPSED_MS ms)"

# A plain-TCP server that never answers the TLS ClientHello: connect_timeout.
fault_case PAM_AUTHINFO_UNAVAIL "TLS handshake never completes, connect_timeout=1000 timeout=20000" \
    "url=https://127.0.0.1:$HANG/remote.php/dav/" "cafile=$WD_CA" connect_timeout=1000 timeout=20000
ok '[ "$ELAPSED_MS" -ge 900 ] && [ "$ELAPSED_MS" -lt 5000 ]' "stalled handshake: ends after ~1 s (connect_timeout; took $ELAPSED_MS ms)"
fault_case PAM_SERVICE_ERR "connect_timeout > timeout" "url=$WD_URL" "cafile=$WD_CA" connect_timeout=5000 timeout=2000
fault_case PAM_SERVICE_ERR "timeout=99 (below 100 ms)" "url=$WD_URL" "cafile=$WD_CA" timeout=99
fault_case PAM_SERVICE_ERR "timeout=300001 (above 300 s)" "url=$WD_URL" "cafile=$WD_CA" timeout=300001
fault_case PAM_SUCCESS "timeout=300000 accepted" "url=$WD_URL" "cafile=$WD_CA" timeout=300000
# Setting only timeout (below the 5000 ms default connect_timeout) is a
# normal configuration and must not make every login a PAM_SERVICE_ERR.
fault_case PAM_SUCCESS "timeout=2000 alone (default connect_timeout)" "url=$WD_URL" "cafile=$WD_CA" timeout=2000

# The default timeout must end a hanging login well before Dovecot's 60 s.
fault_case PAM_AUTHINFO_UNAVAIL "hanging server, default timeout" "url=http://127.0.0.1:$HANG/remote.php/dav/" allow_http
ok '[ "$ELAPSED_MS" -ge 25000 ] && [ "$ELAPSED_MS" -lt 40000 ]' "hanging server, default timeout: ends after ~30 s (took $ELAPSED_MS ms)"

# --- broken answers ------------------------------------------------------------
for mode in reset garbage http09; do
    start_fault "$mode"
    fault_case PAM_AUTHINFO_UNAVAIL "fault server '$mode'" "url=http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http timeout=5000 connect_timeout=1000
    like "$(module_log)" '^auth unavailable: .*status=[0-9]+ .*error="' "fault server '$mode': logged with an error"
    ok '[ "$ELAPSED_MS" -lt 5000 ]' "fault server '$mode': fails fast ($ELAPSED_MS ms)"
done

start_fault slow-headers
fault_case PAM_AUTHINFO_UNAVAIL "headers at 1 byte/s, timeout=3000" "url=http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http timeout=3000 connect_timeout=1000
ok '[ "$ELAPSED_MS" -ge 2900 ] && [ "$ELAPSED_MS" -lt 7000 ]' "slow headers: ends after ~3 s (took $ELAPSED_MS ms)"
start_fault slow-body
fault_case PAM_AUTHINFO_UNAVAIL "207, then body at 1 byte/s, timeout=3000" "url=http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http timeout=3000 connect_timeout=1000
ok '[ "$ELAPSED_MS" -ge 2900 ] && [ "$ELAPSED_MS" -lt 7000 ]' "slow body: ends after ~3 s (took $ELAPSED_MS ms)"
start_fault huge-body
fault_case PAM_AUTHINFO_UNAVAIL "207 with an endless chunked body" "url=http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http timeout=20000
like "$(module_log)" 'error="answer larger than' "endless body: 'answer larger than ...'"
ok '[ "$ELAPSED_MS" -lt 5000 ]' "endless body: cut off at once ($ELAPSED_MS ms)"

# Big answers from Apache: a Depth-1 PROPFIND listing of several MiB (207), a 2 MiB GET (200).
fault_case PAM_AUTHINFO_UNAVAIL "207 with a body of several MiB" "url=$WD_BASE/big/many/" "cafile=$WD_CA"
like "$(module_log)" 'status=207 .*error="answer larger than 65536' "big 207: 'answer larger than 65536 bytes'"
fault_case PAM_AUTHINFO_UNAVAIL "GET 200 with a 2 MiB body" "url=$WD_BASE/big/big.bin" "cafile=$WD_CA" method=GET ok_status=200
like "$(module_log)" 'error="answer larger than' "big 200: 'answer larger than ...'"
fault_case PAM_SUCCESS "HEAD of the 2 MiB file (no body)" "url=$WD_BASE/big/big.bin" "cafile=$WD_CA" method=HEAD ok_status=200
fault_case PAM_SUCCESS "PROPFIND on a server without authentication (/open/)" "url=$WD_BASE/open/" "cafile=$WD_CA"

# --- a server that closes idle keep-alive connections after 100 ms -------------
start_fault close-keepalive
write_service closeka "url=http://127.0.0.1:$FAULT_PORT/remote.php/dav/" allow_http
run_driver --repeat 3 --pause 300 --password "$PW" closeka alice
is "$(grep -c '^authenticate=PAM_SUCCESS' "$OUT")" 3 "server closing idle connections: 3 logins in one process all succeed"
is "$(grep -c 'conn=' "$FAULT_LOG")" 3 "server closing idle connections: 3 requests"
run_driver --repeat 3 --password "$PW" closeka alice
is "$(grep -c '^authenticate=PAM_SUCCESS' "$OUT")" 3 "back-to-back logins against the same server all succeed"

done_testing
