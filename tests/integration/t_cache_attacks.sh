#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The credential cache tried as attackers would (issue 15), through the
# built module and the real test server:
#  - attacker 2 writes the store without the secret: copies the record of
#    an account they own over alice's key (LMDB and Redis), forges "the
#    server rests" and the probe token in the old unkeyed layout;
#  - the revocation race: a 207 whose request was sent before a 401 for
#    the same password arrives after it and must not be stored;
#  - settings that change the verdict separate the records, cache_realm
#    keeps them across a URL change.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_module
[ -x "$STORE_DRIVER" ] || bail_out "store_driver not built: $STORE_DRIVER"
start_webdav
PW=Alice-App-Pass-1
BOB_PW='pass word:with:colons'
SECRET=$TEST_TMP/secret
openssl rand -hex 32 >"$SECRET"
chmod 0600 "$SECRET"

# store_cmd STORE CMD...: one store_driver command against STORE; prints its answer lines.
store_cmd() {
    local store=$1 extra=()
    shift
    case $store in redis*) extra=("store_auth_file=$RD/auth-acl") ;; esac
    # shellcheck disable=SC2086
    printf '%s\n' "$*" | "$STORE_DRIVER" "url=$WD_URL" "store=$store" "secret_file=$SECRET" "${extra[@]}" \
        2>>"$TEST_TMP/store_driver.err"
}
# user_keys STORE: the escaped keys of the login-name records ('u'), one per line.
user_keys() { store_cmd "$1" scan u | sed -n 's/^key \([^=]*\)=.*/\1/p' | sort; }
# value_of STORE KEY: the escaped value of KEY.
value_of() { store_cmd "$1" scan u | K="key $2" awk 'index($0, ENVIRON["K"] "=") == 1 { print substr($0, length(ENVIRON["K"]) + 2) }'; }

# ------------------------------------- attacker 2: a record copied over another ---
copy_attack() {
    local label=$1 store=$2 before alice_key bob_key bob_value
    write_service "copy-$label" "url=$WD_URL" "cafile=$WD_CA" "store=$store" "secret_file=$SECRET" \
        "${@:3}" cache_fresh=300 cache_stale=3600
    before=$(user_keys "$store")
    run_driver --password "$PW" "copy-$label" alice
    is "$AUTH" PAM_SUCCESS "$label: alice logs in (her verifier is stored)"
    alice_key=$(comm -13 <(echo "$before") <(user_keys "$store") | head -n 1)
    log_mark
    run_driver --password "$PW" "copy-$label" alice
    is "$(log_count_new)" 0 "$label: the store works: alice's second login is a cache hit"
    before=$(user_keys "$store")
    run_driver --password "$BOB_PW" "copy-$label" bob
    is "$AUTH" PAM_SUCCESS "$label: bob (the attacker's own account) logs in"
    bob_key=$(comm -13 <(echo "$before") <(user_keys "$store") | head -n 1)
    ok '[ -n "$alice_key" ] && [ -n "$bob_key" ] && [ "$alice_key" != "$bob_key" ]' \
        "$label: the two records are found in the store"
    bob_value=$(value_of "$store" "$bob_key")
    like "$(store_cmd "$store" "put $alice_key $bob_value 600")" '^ok' \
        "$label: the attacker writes bob's record over alice's key"
    log_mark
    run_driver --password "$BOB_PW" "copy-$label" alice
    is "$AUTH" PAM_AUTH_ERR "$label: bob's password for alice is refused (the copied record does not count)"
    is "$(log_count_new)" 1 "$label: it went to the server (no cache hit)"
    unlike "$(module_log)" 'cache=hit' "$label: no cache=hit line"
    run_driver --password "$PW" "copy-$label" alice
    is "$AUTH" PAM_SUCCESS "$label: alice's own password still works (the server decides)"
}
STORE=$TEST_TMP/store
mkdir -m 0700 "$STORE"
copy_attack lmdb "lmdb:$STORE"
start_redis
copy_attack redis "redis://127.0.0.1:$RD_PORT" "store_auth_file=$RD/auth-acl"

# ------------------------------ attacker 2: an outage declared in the store ---
# The old layout: 'h' + SHA-256(url "\0") and 'p' + SHA-256("p\0" url "\0"),
# version 1, "until" ten years ahead - what an attacker who knows the URL
# can compute without the secret.
esc_hex() { sed 's/../%&/g'; }
forge_outage() {
    local store=$1 until_hex h p
    until_hex=$(python3 -c 'import struct,time; print(struct.pack("<q", int(time.time()) + 315360000).hex())')
    h=$(printf '%s\0' "$WD_URL" | openssl dgst -sha256 -binary | od -An -tx1 | tr -d ' \n' | esc_hex)
    p=$(printf 'p\0%s\0' "$WD_URL" | openssl dgst -sha256 -binary | od -An -tx1 | tr -d ' \n' | esc_hex)
    store_cmd "$store" "put h$h %01$(esc_hex <<<"$until_hex") 600"
    store_cmd "$store" "put p$p %01$(esc_hex <<<"$until_hex") 600"
    # Every key already there that could be a health record: the same value.
    store_cmd "$store" scan h | sed -n 's/^key \([^=]*\)=.*/\1/p' | while read -r k; do
        store_cmd "$store" "put $k %01$(esc_hex <<<"$until_hex") 600"
    done
}
write_service outage "url=$WD_URL" "cafile=$WD_CA" "store=lmdb:$STORE" "secret_file=$SECRET" \
    cache_fresh=0 cache_stale=3600
run_driver --password "$PW" outage alice
is "$AUTH" PAM_SUCCESS "forged outage: alice logs in, her verifier is stored"
forge_outage "lmdb:$STORE" >/dev/null
log_mark
run_driver --password "$PW" outage alice
is "$AUTH" PAM_SUCCESS "forged outage: alice logs in"
is "$(log_count_new)" 1 "forged outage: the login still went to the server (the forged rest is ignored)"
unlike "$(module_log)" 'stale' "forged outage: no stale answer while the server answers"
# And a password the server no longer takes is refused (the stale window stays shut).
log_mark
run_driver --password wrong-password outage alice
is "$AUTH" PAM_AUTH_ERR "forged outage: a wrong password is refused by the server"

# --------------------------------------------- the revocation race (late 207) ---
# A sends the old password; the server takes 2 s to say 207.  Meanwhile the
# password is revoked and B's 401 arrives.  A's 207 must not store it.
start_fault late-ok tls
write_service late "url=https://127.0.0.1:$FAULT_PORT/remote.php/dav/" "cafile=$WD_CA" \
    "store=lmdb:$STORE" "secret_file=$SECRET" cache_fresh=300 cache_stale=3600
HB_CONFDIR=$SVC_DIR timeout -k 5 60 "$PAM_DRIVER" --password "$PW" late carol \
    >"$TEST_TMP/late-a.out" 2>"$TEST_TMP/late-a.err" &
LATE_A=$!
sleep 0.7
run_driver --password "$PW" late carol
is "$AUTH" PAM_AUTH_ERR "race: B (sent after A) gets the 401 of the revoked password"
wait "$LATE_A"
is "$(sed -n 's/^authenticate=//p' "$TEST_TMP/late-a.out")" PAM_SUCCESS \
    "race: A gets the 207 the server gave before the revocation"
log_mark
run_driver --password "$PW" late carol
is "$AUTH" PAM_AUTH_ERR "race: after A's late 207 the revoked password is refused"
like "$(module_log)" 'status=401' "race: that login went to the server (A's late 207 was not stored)"
is "$(grep -ci 'authorization=' "$FAULT_LOG")" 3 "race: the server saw three requests"

# ------------------------------------------------------------ scope ---
STORE2=$TEST_TMP/store2
mkdir -m 0700 "$STORE2"
write_service weak "url=$WD_URL" insecure_skip_verify "store=lmdb:$STORE2" "secret_file=$SECRET" \
    cache_fresh=300 cache_stale=3600
write_service strict "url=$WD_URL" "cafile=$WD_CA" "store=lmdb:$STORE2" "secret_file=$SECRET" \
    cache_fresh=300 cache_stale=3600
run_driver --password "$BOB_PW" weak bob
is "$AUTH" PAM_SUCCESS "scope: bob logs in through the service that skips TLS verification"
log_mark
run_driver --password "$BOB_PW" strict bob
is "$AUTH" PAM_SUCCESS "scope: bob logs in through the strict service"
is "$(log_count_new)" 1 "scope: the weak service's verifier did not answer for the strict one (a request was sent)"

write_service realm1 "url=$WD_URL" "cafile=$WD_CA" "store=lmdb:$STORE2" "secret_file=$SECRET" \
    cache_realm=nextcloud-prod cache_fresh=300 cache_stale=3600
write_service realm2 "url=$WD_URL https://127.0.0.1:$(closed_port)/remote.php/dav/" "cafile=$WD_CA" \
    "store=lmdb:$STORE2" "secret_file=$SECRET" cache_realm=nextcloud-prod cache_fresh=300 cache_stale=3600
run_driver --password "$PW" realm1 alice
is "$AUTH" PAM_SUCCESS "cache_realm: alice logs in"
log_mark
run_driver --password "$PW" realm2 alice
is "$AUTH" PAM_SUCCESS "cache_realm: with a failover URL added, alice still logs in"
like "$(module_log)" 'cache=hit' "cache_realm: from the same records (cache=hit): adding a URL kept the cache"
is "$(log_count_new)" 0 "cache_realm: no request"

done_testing
