#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# t_account.sh - the account behind a login name (issue 15): the PROPFIND
# asks for current-user-principal and hb_check() returns the uid Nextcloud
# names in its 207 (tests/integration/check_driver, no PAM, no store):
#  - the fault server's 207 as Nextcloud sends it, with login names mapped
#    to one account (alice@example.org and Alice -> alice, --account);
#  - Apache mod_dav answers the property with a 404 inside its 207: still
#    a success, with no account.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_module
CHECK_DRIVER=$top_builddir/tests/integration/check_driver
[ -x "$CHECK_DRIVER" ] || bail_out "check_driver not built"
start_webdav

# check USER PASSWORD OPTION...: sets CHECK (the driver's output)
check() {
    _LAST_CMD="check_driver $1 ..."
    CHECK=$(timeout -k 5 60 "$CHECK_DRIVER" "$@" 2>"$TEST_TMP/check.err")
}

check alice Alice-App-Pass-1 "url=$WD_URL" "cafile=$WD_CA"
like "$CHECK" '^verdict=ok status=207 account=$' "Apache (404 for the property inside its 207): ok, no account"

python3 "$FAULT_PY" --mode ok --port-file "$TEST_TMP/port" --pid-file "$TEST_TMP/pid" \
    --log "$TEST_TMP/requests.log" --lifetime 300 --tls "$WD/server.pem" "$WD/server.key" \
    --account alice@example.org=alice --account Alice=alice >"$TEST_TMP/fault.out" 2>&1 &
_FAULT_PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$TEST_TMP/port" ] && break; sleep 0.05; done
URL=https://127.0.0.1:$(cat "$TEST_TMP/port")/remote.php/dav/
for login in alice alice@example.org Alice; do
    check "$login" pw "url=$URL" "cafile=$WD_CA"
    like "$CHECK" '^verdict=ok status=207 account=alice$' "fault server 207 for login '$login': account alice"
done
check 'b o/b' pw "url=$URL" "cafile=$WD_CA"
like "$CHECK" '^verdict=ok status=207 account=$' "a uid with '/' (percent-encoded by the server): no account"
check 'bob smith' pw "url=$URL" "cafile=$WD_CA"
like "$CHECK" '^verdict=ok status=207 account=bob smith$' "a uid with a blank, percent-encoded: decoded"

done_testing
