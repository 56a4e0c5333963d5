#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# t_disabled.sh - Nextcloud's refusal of an account is recognised by its
# exception class, in every wording (issue 15, defect 1), through the
# module with a store (store=lmdb:, secret_file=, cache_stale=):
#  - for each 503 body the fault server sends byte for byte (English,
#    German, French, Nextcloud <= 24's "User disabled", "Login canceled by
#    app", OC\User\DisabledUserException): the login is refused with
#    PAM_PERM_DENIED and an "auth denied: account disabled" line, and every
#    verifier of the user is dropped: in the following outage (maintenance
#    503, then a stopped server) the user is refused while another user is
#    let in from the stale window;
#  - the maintenance 503 and an unknown 503 (an HTML page of a proxy) stay
#    outages: a known user is let in from the stale window and keeps his
#    verifiers.
# Each wording uses a store of its own, so that no resting server or
# verifier of one case changes the next.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_module
start_webdav      # for the certificate the fault server uses
SECRET=$TEST_TMP/secret
openssl rand -hex 32 >"$SECRET"
chmod 0600 "$SECRET"

NC_PORT=$(closed_port)
NC_URL=https://127.0.0.1:$NC_PORT/remote.php/dav/
nc_mode() {
    [ -n "${FAULT_PID:-}" ] && stop_fault "$FAULT_PID"
    FAULT_PID=
    [ "$1" = stopped ] && return 0
    FAULT_BIND_PORT=$NC_PORT start_fault "$1" tls
}
# nc_service NAME: a service on NC_URL with a store of its own
nc_service() {
    mkdir -m 0700 "$TEST_TMP/store-$1"
    write_service "$1" "url=$NC_URL" "cafile=$WD_CA" "store=lmdb:$TEST_TMP/store-$1" \
        "secret_file=$SECRET" cache_stale=3600 timeout=1500 connect_timeout=1000
}

# ------------------------------------------- every wording is a refusal ---
for MODE in nc-disabled nc-disabled-de nc-disabled-fr nc-disabled-old nc-login-canceled \
    nc-disabled-exception; do
    nc_service "$MODE"
    nc_mode ok
    run_driver --password phone-pass "$MODE" alice
    run_driver --password laptop-pass "$MODE" alice
    run_driver --password bob-pass "$MODE" bob
    is "$AUTH" PAM_SUCCESS "$MODE: server up, alice (two passwords) and bob verified"

    nc_mode "$MODE"
    run_driver --password phone-pass "$MODE" alice
    is "$AUTH" PAM_PERM_DENIED "$MODE: the right password of the refused account: PAM_PERM_DENIED"
    like "$(module_log)" '^auth denied: account disabled: user=alice .*status=503' \
        "$MODE: logged 'auth denied: account disabled'"
    unlike "$(module_log)" 'stale' "$MODE: never answered from the stale window"

    nc_mode nc-maintenance
    run_driver --password laptop-pass "$MODE" alice
    is "$AUTH" PAM_AUTHINFO_UNAVAIL "$MODE, then maintenance: alice's other password is gone (no stale answer)"
    run_driver --password phone-pass "$MODE" alice
    is "$AUTH" PAM_AUTHINFO_UNAVAIL "$MODE, then maintenance: the refused password is gone"
    run_driver --password bob-pass "$MODE" bob
    is "$AUTH" PAM_SUCCESS "$MODE, then maintenance: bob is let in from the stale window (the outage path works)"

    nc_mode stopped
    run_driver --password laptop-pass "$MODE" alice
    is "$AUTH" PAM_AUTHINFO_UNAVAIL "$MODE, then server stopped: alice is refused"
    run_driver --password bob-pass "$MODE" bob
    is "$AUTH" PAM_SUCCESS "$MODE, then server stopped: bob is let in (stale)"
done

# ------------------- one account under several login names (issue 15) ---
# Nextcloud names the account (current-user-principal) in its 207: alice
# logs in as "alice" and as "alice@example.org".  A refusal of the account
# under the e-mail name must stop the uid from the cache too.
FAULT_ARGS=(--account alice@example.org=alice)
nc_service alias
nc_mode ok
run_driver --password phone-pass alias alice
run_driver --password phone-pass alias alice@example.org
run_driver --password bob-pass alias bob
is "$AUTH" PAM_SUCCESS "aliases: alice (uid and e-mail) and bob verified; the 207 names the account"
nc_mode nc-disabled-de
run_driver --password phone-pass alias alice@example.org
is "$AUTH" PAM_PERM_DENIED "aliases: the account refused under the e-mail name (German 503)"
nc_mode nc-maintenance
run_driver --password phone-pass alias alice
is "$AUTH" PAM_AUTHINFO_UNAVAIL "aliases, then maintenance: the uid is refused too (its verifier counts no more)"
unlike "$(module_log)" 'stale' "aliases: the uid is not answered from the stale window"
run_driver --password bob-pass alias bob
is "$AUTH" PAM_SUCCESS "aliases, then maintenance: bob is let in from the stale window (the outage path works)"
FAULT_ARGS=()

# ------------------------------ maintenance and unknown 503s are outages ---
for MODE in nc-maintenance nc-503-html; do
    nc_service "outage-$MODE"
    nc_mode ok
    run_driver --password phone-pass "outage-$MODE" alice
    is "$AUTH" PAM_SUCCESS "$MODE: server up, alice verified"
    nc_mode "$MODE"
    run_driver --password phone-pass "outage-$MODE" alice
    is "$AUTH" PAM_SUCCESS "$MODE: an outage: alice is let in from the stale window"
    like "$(module_log)" '^auth ok \(stale: server unavailable\): user=alice .*status=503 .*cache=stale' \
        "$MODE: logged as a stale answer to a 503"
    run_driver --password wrong-pass "outage-$MODE" alice
    is "$AUTH" PAM_AUTHINFO_UNAVAIL "$MODE: a wrong password is still refused"
    nc_mode stopped
    run_driver --password phone-pass "outage-$MODE" alice
    is "$AUTH" PAM_SUCCESS "$MODE, then server stopped: alice's verifier is still there"
done
nc_mode stopped

done_testing
