#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# TLS: cafile, capath, system store, wrong CA, expired / self-signed /
# wrong-name certificates, insecure_skip_verify, pinned_pubkey, client
# certificates.
. "$(dirname "$0")/lib.sh"
need_module
start_webdav
PW=Alice-App-Pass-1

tls_case() { # WANT DESC service-args...
    local want=$1 desc=$2
    shift 2
    write_service tls "$@"
    log_mark
    run_driver --password "$PW" tls alice
    is "$AUTH" "$want" "$desc: $want"
}
# An UNAVAIL result must come with an error text in the log and no request
# handled by Apache (the TLS handshake failed before any HTTP).
unavail_checks() { # DESC ERE
    like "$(module_log)" "^auth unavailable: user=alice .*status=0 .*error=\".*$2" "$1: log has the TLS error"
    is "$(log_count_new)" 0 "$1: no HTTP request was handled"
}

tls_case PAM_SUCCESS "cafile=test CA" "url=$WD_URL" "cafile=$WD_CA"
tls_case PAM_SUCCESS "capath=hashed dir with the test CA" "url=$WD_URL" "capath=$WD/capath"
mkdir -p "$TEST_TMP/emptycapath"
tls_case PAM_AUTHINFO_UNAVAIL "capath=empty dir" "url=$WD_URL" "capath=$TEST_TMP/emptycapath" \
    "cafile=$WD/other-ca.pem"
tls_case PAM_AUTHINFO_UNAVAIL "system CA store (test CA unknown)" "url=$WD_URL"
unavail_checks "system CA store" "[Cc]ertificate"
tls_case PAM_AUTHINFO_UNAVAIL "cafile=unrelated CA" "url=$WD_URL" "cafile=$WD/other-ca.pem"
unavail_checks "unrelated CA" "[Cc]ertificate"
tls_case PAM_AUTHINFO_UNAVAIL "cafile=missing file" "url=$WD_URL" "cafile=$TEST_TMP/nope.pem"
tls_case PAM_SERVICE_ERR "cafile=relative path" "url=$WD_URL" "cafile=ca.pem"

tls_case PAM_AUTHINFO_UNAVAIL "expired certificate" "url=https://127.0.0.1:$WD_EXPIRED_PORT/remote.php/dav/" "cafile=$WD_CA"
unavail_checks "expired certificate" "expired"
tls_case PAM_AUTHINFO_UNAVAIL "self-signed certificate" "url=https://127.0.0.1:$WD_SELFSIGNED_PORT/remote.php/dav/" "cafile=$WD_CA"
unavail_checks "self-signed certificate" "[Ss]elf.signed"
tls_case PAM_AUTHINFO_UNAVAIL "certificate for another name" "url=https://127.0.0.1:$WD_WRONGNAME_PORT/remote.php/dav/" "cafile=$WD_CA"
unavail_checks "certificate for another name" "name"
tls_case PAM_AUTHINFO_UNAVAIL "https:// to a plain HTTP port" "url=https://127.0.0.1:$WD_HTTP_PORT/remote.php/dav/" "cafile=$WD_CA"

# insecure_skip_verify: accepted, with a warning at every login.
for port in "$WD_SELFSIGNED_PORT" "$WD_EXPIRED_PORT" "$WD_WRONGNAME_PORT"; do
    tls_case PAM_SUCCESS "insecure_skip_verify on port $port" "url=https://127.0.0.1:$port/remote.php/dav/" insecure_skip_verify
    like "$(module_log)" 'insecure_skip_verify' "insecure_skip_verify on port $port: a warning is logged"
done
is "$(module_log_prio | grep insecure_skip_verify | cut -d' ' -f1)" 4 "insecure_skip_verify warning is LOG_WARNING"
write_service tls "url=https://127.0.0.1:$WD_SELFSIGNED_PORT/remote.php/dav/" insecure_skip_verify
run_driver --password wrong tls alice
is "$AUTH" PAM_AUTH_ERR "insecure_skip_verify, wrong password: still PAM_AUTH_ERR"
tls_case PAM_AUTHINFO_UNAVAIL "insecure_skip_verify=no" "url=https://127.0.0.1:$WD_SELFSIGNED_PORT/remote.php/dav/" insecure_skip_verify=no

# pinned_pubkey
PIN=$(cat "$WD/server-pubkey.sha256")
WRONGPIN=$(cat "$WD/other-pubkey.sha256")
tls_case PAM_SUCCESS "pinned_pubkey=right sha256 pin" "url=$WD_URL" "cafile=$WD_CA" "pinned_pubkey=$PIN"
tls_case PAM_AUTHINFO_UNAVAIL "pinned_pubkey=wrong sha256 pin" "url=$WD_URL" "cafile=$WD_CA" "pinned_pubkey=$WRONGPIN"
unavail_checks "wrong pin" "[Pp]ublic key"
tls_case PAM_AUTHINFO_UNAVAIL "pinned_pubkey=a list of wrong pins" "url=$WD_URL" "cafile=$WD_CA" "pinned_pubkey=$WRONGPIN;$WRONGPIN"
tls_case PAM_SUCCESS "pinned_pubkey=a list with the right pin" "url=$WD_URL" "cafile=$WD_CA" "pinned_pubkey=$WRONGPIN;$PIN"
openssl pkey -in "$WD/server.key" -pubout -out "$TEST_TMP/server-pub.pem" 2>/dev/null
tls_case PAM_SUCCESS "pinned_pubkey=public key file" "url=$WD_URL" "cafile=$WD_CA" "pinned_pubkey=$TEST_TMP/server-pub.pem"
tls_case PAM_SUCCESS "pinned_pubkey + insecure_skip_verify, right key" \
    "url=$WD_URL" insecure_skip_verify "pinned_pubkey=$PIN"
tls_case PAM_AUTHINFO_UNAVAIL "pinned_pubkey still checked with insecure_skip_verify" \
    "url=https://127.0.0.1:$WD_SELFSIGNED_PORT/remote.php/dav/" insecure_skip_verify "pinned_pubkey=$PIN"
tls_case PAM_AUTHINFO_UNAVAIL "right pin does not excuse a wrong CA" "url=$WD_URL" "cafile=$WD/other-ca.pem" "pinned_pubkey=$PIN"

# Client certificates: the mtls port requires one signed by the test CA.
MTLS=https://127.0.0.1:$WD_MTLS_PORT/remote.php/dav/
tls_case PAM_SUCCESS "client_cert + client_key on a port requiring them" "url=$MTLS" "cafile=$WD_CA" \
    "client_cert=$WD/client.pem" "client_key=$WD/client.key"
like "$(log_new)" 'user="alice".*clientcn="pam-httpbasic-client"' "the server saw the client certificate"
write_service tls "url=$MTLS" "cafile=$WD_CA" "client_cert=$WD/client.pem" "client_key=$WD/client.key"
run_driver --password wrong tls alice
is "$AUTH" PAM_AUTH_ERR "client certificate, wrong password: PAM_AUTH_ERR"
tls_case PAM_AUTHINFO_UNAVAIL "no client certificate on a port requiring one" "url=$MTLS" "cafile=$WD_CA"
tls_case PAM_SUCCESS "client certificate sent to a port that does not ask for one" "url=$WD_URL" "cafile=$WD_CA" \
    "client_cert=$WD/client.pem" "client_key=$WD/client.key"
tls_case PAM_SERVICE_ERR "client_cert without client_key" "url=$MTLS" "cafile=$WD_CA" "client_cert=$WD/client.pem"
tls_case PAM_SERVICE_ERR "client_key without client_cert" "url=$MTLS" "cafile=$WD_CA" "client_key=$WD/client.key"
tls_case PAM_AUTHINFO_UNAVAIL "client key that does not match the certificate" "url=$MTLS" "cafile=$WD_CA" \
    "client_cert=$WD/client.pem" "client_key=$WD/server.key"
tls_case PAM_AUTHINFO_UNAVAIL "missing client certificate file" "url=$MTLS" "cafile=$WD_CA" \
    "client_cert=$TEST_TMP/nope.pem" "client_key=$WD/client.key"

# The TLS answer from a fault server is judged like any other.
start_fault reset tls
tls_case PAM_AUTHINFO_UNAVAIL "TLS connection reset mid-answer" "url=https://127.0.0.1:$FAULT_PORT/remote.php/dav/" "cafile=$WD_CA"
start_fault ok tls
tls_case PAM_SUCCESS "TLS fault server answering 207" "url=https://127.0.0.1:$FAULT_PORT/remote.php/dav/" "cafile=$WD_CA"

done_testing
