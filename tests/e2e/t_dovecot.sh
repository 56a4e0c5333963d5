#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_dovecot.sh - pam_httpbasic inside a real Dovecot, end to end:
#
#   IMAP client (imaplib, curl) -> Dovecot imap-login -> auth -> auth-worker
#   -> passdb pam -> /etc/pam.d/<test service> -> pam_httpbasic.so ($MODULE)
#   -> HTTPS PROPFIND -> Apache WebDAV (tests/server/webdav.sh)
#   and userdb ldap -> a private slapd.
#
# Dovecot runs from its own config (dovecot -c) with its own base_dir and
# state_dir, on free loopback ports.  Its authentication part is the files
# users copy: conf/dovecot-$DOVECOT_VERSION/ (2.3: conf.d/auth-nextcloud.conf.ext
# and dovecot-ldap-userdb.conf.ext; 2.4: conf.d/auth-nextcloud.conf.ext),
# conf/pam.d/dovecot-nextcloud and conf/pam_httpbasic.conf, templated only
# for paths, ports, the PAM service name and the test timeouts (see
# tests/e2e/stack.sh, which this test shares with t_dovecot_cache.sh).
#
# DOVECOT_VERSION=2.3 (the default): Debian 12's Dovecot 2.3.19 from PATH.
# DOVECOT_VERSION=2.4 with DOVECOT_PREFIX: a Dovecot 2.4 built by
# tests/e2e/dovecot24.sh (see t_dovecot24.sh).  The assertions are the same
# for both; where the versions differ (log lines, settings) both answers
# are spelled out below, keyed on DOVECOT_VERSION.
#
# PAM: Dovecot's auth-worker calls the real Linux-PAM, which reads
# /etc/pam.d only, so this test writes /etc/pam.d/pamhb-e2e-<pid> and
# removes it on exit: the real Linux-PAM path, as in production (pam_wrapper
# is not used; see tests/e2e/README).  Needs root.
#
# Numbered comments refer to the points of issue 3.

. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

. "$E2E/stack.sh"

stack_prereqs
SUITE_START=$(now_ms)
stack_start
# The 300 logins below must see workers restart.
ok "[ '$MAX_REQUESTS' -ge 2 ] && [ '$MAX_REQUESTS' -le 150 ]" \
    "conf/dovecot-$DOVECOT_VERSION: the passdb sets max_requests = $MAX_REQUESTS"

# ------------------------------------------------ version and settings ---
V=$("$DOVECOT" --version 2>&1)
like "$V" "^${DOVECOT_VERSION//./\\.}\.[0-9]" "the Dovecot under test is $DOVECOT_VERSION ($DOVECOT --version: $V)"
conf_h() { "$DOVECONF" -c "$D/dovecot.conf" -h "$1" 2>&1; }
# How each version spells the passdb and the auth-worker limits.
case $DOVECOT_VERSION in
    2.3)
        # (-P: doveconf -n shows cache_key=%u as "#hidden_use-P_to_show#")
        like "$("$DOVECONF" -P -n -c "$D/dovecot.conf" 2>&1)" "^  args = max_requests=$MAX_REQUESTS cache_key=%u $PAM_SERVICE\$" \
            "2.3: doveconf -n: passdb { driver = pam  args = max_requests=$MAX_REQUESTS cache_key=%u SERVICE }"
        is "$(conf_h auth_worker_max_count)" 30 "2.3: auth_worker_max_count = 30 (the default; at most 30 auth-worker processes)" ;;
    2.4)
        # (doveconf -h shows the global defaults, not a named passdb's)
        P=$(sed -n '/^passdb pam {/,/^}/p' "$D/doveconf-n.txt")
        has "$P" "  service_name = $PAM_SERVICE" "2.4: doveconf -n: passdb pam { service_name = SERVICE }"
        has "$P" "  max_requests = $MAX_REQUESTS" "2.4: doveconf -n: passdb pam { max_requests = $MAX_REQUESTS }"
        is "$(conf_h service/auth-worker/process_limit)" 30 \
            "2.4: service auth-worker { process_limit = 30 } (the default; 2.3's auth_worker_max_count)"
        printf '%s\nauth_worker_max_count = 30\n' "$CONF_HEAD" >"$T/old-setting.conf"
        like "$("$DOVECONF" -n -c "$T/old-setting.conf" 2>&1)" "Unknown setting: auth_worker_max_count" \
            "2.4: doveconf rejects the 2.3 setting auth_worker_max_count" ;;
esac


# ------------------------------------------------------------- sanity ---
R=$("$DOVEADM" -c "$D/dovecot.conf" user alice 2>&1)
like "$R" "^home[[:space:]]+$T/home/alice\$" "doveadm user alice: home from LDAP (userdb ldap works)"
like "$R" "^uid[[:space:]]+20001\$" "doveadm user alice: uid from LDAP"

# ---------------------------------- 1. right app password: LOGIN, PLAIN ---
dlog_mark
login --user alice --password "$ALICE_PW" --mailbox e2e-login
is "$OK" True "1. imaplib LOGIN alice with her app password succeeds"
like "$RESP" '^OK .*Logged in' "1. ... the server answers OK ... Logged in"
ok "[ -d '$T/home/alice/Maildir/.e2e-login' ]" "1. ... the mailbox is created under alice's LDAP homeDirectory"
is "$(owner_of "$T/home/alice/Maildir/.e2e-login")" "20001:20001" "1. ... owned by alice's LDAP uidNumber:gidNumber"
has "$(dlog)" "imap-login: Info: $LOGGED_IN user=<alice>, method=PLAIN, rip=$SRC," "1. ... Dovecot logs the login"

login --mech plain --user bob --password "$BOB_PW" --mailbox e2e-plain
is "$OK" True "1. imaplib AUTHENTICATE PLAIN bob (password with spaces and colons) succeeds"
is "$(owner_of "$T/home/bob/Maildir/.e2e-plain")" "20002:20002" "1. ... mailbox under bob's LDAP home, owned by his LDAP uid:gid"

curl_imap alice "$ALICE_PW" --login-options 'AUTH=LOGIN'
is "$CRC" 0 "1. curl imap:// with AUTHENTICATE LOGIN as alice succeeds"
like "$COUT" 'e2e-login' "1. ... and LISTs the mailbox the imaplib session created"
like "$CERR" '^> A[0-9]+ AUTHENTICATE LOGIN' "1. ... curl used AUTHENTICATE LOGIN"
like "$CERR" '^< A[0-9]+ OK .*Logged in' "1. ... the server answered OK ... Logged in"
curl_imap bob "$BOB_PW"
is "$CRC" 0 "1. curl imap:// with AUTHENTICATE PLAIN as bob succeeds"
like "$CERR" '^> A[0-9]+ AUTHENTICATE PLAIN' "1. ... curl used AUTHENTICATE PLAIN"
like "$COUT" 'e2e-plain' "1. ... and LISTs bob's mailbox"

# ----------------------------------------------------- 2. wrong password ---
dlog_mark
login --user alice --password 'Alice-App-Pass-2'
is "$RESP" "$FAILED" "2. imaplib LOGIN with a wrong password: the client sees '$FAILED'"
login --mech plain --user bob --password 'pass word'
is "$RESP" "$FAILED" "2. imaplib AUTHENTICATE PLAIN with a wrong password: same answer"
curl_imap alice wrong-password --login-options 'AUTH=LOGIN'
is "$CRC" 67 "2. curl: login denied (exit 67)"
has "$CERR" "< A002 $FAILED" "2. ... curl saw '$FAILED'"
login --user mallory --password 'whatever'
is "$RESP" "$FAILED" "2. unknown user: the same answer"
L=$(dlog)
like "$L" "$(db_re pam alice)pam_authenticate\(\) failed: Authentication failure \(Password mismatch\?\)" \
    "2. Dovecot's log: wrong password = 'Authentication failure (Password mismatch?)'"
unlike "$L" "cannot retrieve authentication info" "2. ... not 'cannot retrieve authentication info'"

# ------------------------------------- 3. client address reaches WebDAV ---
wlog_mark
login --source 127.0.0.2 --user alice --password "$ALICE_PW"
is "$OK" True "3. login from 127.0.0.2 succeeds"
like "$(wlog)" 'method=PROPFIND .*status=207 user="alice" xff="127\.0\.0\.2"' \
    "3. the WebDAV server got X-Forwarded-For: 127.0.0.2 for alice"
wlog_mark
curl_imap bob "$BOB_PW" --interface 127.0.0.3
is "$CRC" 0 "3. curl login bound to 127.0.0.3 succeeds"
like "$(wlog)" 'method=PROPFIND .*status=207 user="bob" xff="127\.0\.0\.3"' \
    "3. the WebDAV server got X-Forwarded-For: 127.0.0.3 for bob"
if [ "$LISTEN" != 127.0.0.1 ]; then
    wlog_mark
    login --host ::1 --user alice --password "$ALICE_PW"
    is "$OK" True "3. login over IPv6 (::1) succeeds"
    like "$(wlog)" 'method=PROPFIND .*status=207 user="alice" xff="::1"' \
        "3. the WebDAV server got X-Forwarded-For: ::1"
else
    skip "3. login over IPv6 (::1)" "no IPv6 on loopback"
    skip "3. X-Forwarded-For ::1" "no IPv6 on loopback"
fi

# The administrator's checks from conf/dovecot-$DOVECOT_VERSION/README.md.
wlog_mark
R=$("$DOVEADM" -c "$D/dovecot.conf" auth test -x service=imap -x rip=127.0.0.9 alice "$ALICE_PW" 2>&1)
like "$R" "auth succeeded" "doveadm auth test -x rip=127.0.0.9 alice: auth succeeded"
like "$(wlog)" 'method=PROPFIND .*status=207 user="alice" xff="127\.0\.0\.9"' "... and the address given with -x rip is forwarded"
R=$("$DOVEADM" -c "$D/dovecot.conf" auth test alice 'Alice-App-Pass-2' 2>&1)
like "$R" "auth failed" "doveadm auth test with a wrong password: auth failed"
R=$("$DOVEADM" -c "$D/dovecot.conf" auth login alice "$ALICE_PW" 2>&1)
like "$R" "home=$T/home/alice" "doveadm auth login alice: passdb and userdb (home from LDAP)"

# ----------------------------------------- 5. throttled (429), 503 ---
dlog_mark
module_conf "$WD_BASE/status/429/"
login --user alice --password "$ALICE_PW"
is "$RESP" "$FAILED" "5. WebDAV answers 429: the client sees '$FAILED'"
like "$(dlog)" "$(db_re pam alice)pam_authenticate\(\) failed: Have exhausted maximum number of retries for service" \
    "5. ... Dovecot's log: 'Have exhausted maximum number of retries' (the module's PAM_MAXTRIES)"
dlog_mark
module_conf "$WD_BASE/status/503/"
login --user alice --password "$ALICE_PW"
is "$RESP" "$FAILED" "5. WebDAV answers 503 (maintenance): the client sees '$FAILED'"
like "$(dlog)" "$(db_re pam alice)pam_authenticate\(\) failed: Authentication service cannot retrieve authentication info" \
    "5. ... Dovecot's log: 'cannot retrieve authentication info' (PAM_AUTHINFO_UNAVAIL)"
module_conf "$WD_URL"

# ------------------------------------------------ 7. user_strip_domain ---
# alice@example.org is not a WebDAV user (see tests/server/webdav.sh), so
# only the mapped name "alice" can succeed there.
dlog_mark
login --user alice@example.org --password "$ALICE_PW"
is "$RESP" "$FAILED" "7. without user_strip_domain, alice@example.org is refused (Nextcloud knows only 'alice')"
module_conf "$WD_URL" user_strip_domain
dlog_mark
wlog_mark
login --user alice@example.org --password "$ALICE_PW" --mailbox e2e-strip
is "$OK" True "7. with user_strip_domain, LOGIN alice@example.org succeeds"
like "$(wlog)" 'method=PROPFIND .*status=207 user="alice" ' "7. ... the WebDAV request was made for 'alice'"
L=$(dlog)
has "$L" "imap-login: Info: $LOGGED_IN user=<alice@example.org>, method=PLAIN" \
    "7. ... the passdb result keeps the login name: Dovecot read PAM_USER back as 'alice@example.org'"
unlike "$L" "$(db_re pam 'alice@example\.org')username changed" "7. ... passdb pam did not change the user name"
like "$L" "$(db_re ldap 'alice@example\.org')username changed alice@example\.org -> alice" \
    "7. ... the LDAP userdb (found by mail) renames the session to its uid 'alice'"
is "$(owner_of "$T/home/alice/Maildir/.e2e-strip")" "20001:20001" "7. ... the session got alice's LDAP home and uid:gid"
like "$L" "imap\(alice\)<" "7. ... and Dovecot's imap process runs as user 'alice'"
# Nextcloud accepts the mapped name, the LDAP userdb knows no such user:
# Dovecot reports an internal error after the password check succeeded.
dlog_mark
login --user alice@evil.example --password "$ALICE_PW"
# imap-login then answers "NO [UNAVAILABLE] Internal error occurred. ..." and
# disconnects; sometimes the client only sees the connection close.
like "$RESP" '^(NO \[UNAVAILABLE\] Internal error occurred\. Refer to server log for more information\.|<connection closed by the server>)$' \
    "7. alice@evil.example with alice's app password is refused: not in the LDAP userdb"
diag "alice@evil.example: the client saw: $RESP"
like "$(dlog)" "$(no_userdb_re 'alice@evil\.example')" "7. ... Dovecot's log: 'user not found from userdb' (2.4: '... from any userdbs')"
module_conf "$WD_URL"

# ---------------------------------------------- 6. 300 logins in a row ---
printf 'alice\t%s\nbob\t%s\n' "$ALICE_PW" "$BOB_PW" >"$T/bulk-users.txt"
wlog_mark
B=$(imap bulk --port "$IMAP_PORT" --count 300 --master-pid "$(dovecot_pid)" \
        --users "$T/bulk-users.txt" --wrong-every 50)
printf '%s\n' "$B" >"$T/bulk.json"
"$PYTHON" - "$T/bulk.json" "$MAX_REQUESTS" >"$T/bulk.txt" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
maxreq = int(sys.argv[2])
per = {}
for s in r["samples"]:
    for pid, fds in s["workers"].items():
        per.setdefault(pid, []).append(fds)
long_lived = {p: v for p, v in per.items() if len(v) >= maxreq // 2}
print("correct=%d" % r["correct"])
print("ok=%d" % r["ok"])
print("refused=%d" % r["refused"])
print("seconds=%s" % r["seconds"])
print("workers=%d" % len(per))
print("long_lived=%d" % len(long_lived))
# fd growth of a long-lived worker: its count at its last sample minus its
# count at its second sample (the first login may open the connection pool).
growth = max((v[-1] - v[1] for v in long_lived.values()), default=-999)
print("fd_growth=%d" % growth)
print("fd_counts=%s" % ";".join("%s:%s..%s(max %s, %d samples)" % (p, v[1], v[-1], max(v[1:]), len(v))
                                for p, v in long_lived.items()))
print("unexpected=%s" % json.dumps(r["unexpected"][:3]))
ms = sorted(s["ms"] for s in r["samples"])
print("p50_ms=%d p99_ms=%d" % (ms[len(ms) // 2], ms[int(len(ms) * 0.99)]))
EOF
val() { sed -n "s/^$1=//p" "$T/bulk.txt"; }
is "$(val correct)" 300 "6. 300 logins in a row through one Dovecot: every answer right (every 50th has a wrong password)"
is "$(val ok)/$(val refused)" "294/6" "6. ... 294 logins OK, 6 refused"
ok "[ $(val workers) -ge $((300 / MAX_REQUESTS)) ]" \
    "6. auth-worker restarted by max_requests=$MAX_REQUESTS: $(val workers) different worker processes served them"
ok "[ $(val long_lived) -ge 2 ]" "6. ... at least 2 workers each served ~$MAX_REQUESTS logins"
ok "[ $(val fd_growth) -le 0 ]" "6. no file-descriptor growth in a long-lived worker (/proc/PID/fd: $(val fd_counts))"
for _ in $(seq 1 50); do     # the last access log lines may trail the logins
    W=$(wlog | grep -c 'method=PROPFIND')
    [ "$W" -ge 300 ] && break
    sleep 0.1
done
WNEW=$(wlog | grep 'method=PROPFIND' | grep -c ' keepalive=0 ')
ok "[ $W -eq 300 ] && [ $WNEW -le $(( $(val workers) + 3 )) ]" \
    "6. each auth-worker keeps its HTTPS connection: $WNEW new TLS connections for $W requests"
diag "300 logins: $(val seconds) s, $(val p50_ms); unexpected: $(val unexpected)"

# ---------------------------------------------------- 4. backend down ---
# a) connection refused: a port nobody listens on.
dead_port=$(free_port 127.0.0.1)
module_conf "https://127.0.0.1:$dead_port/remote.php/dav/"
dlog_mark
login --user alice --password "$ALICE_PW"
is "$RESP" "$FAILED" "4a. backend port closed: the client sees '$FAILED'"
limit=$((CONNECT_TIMEOUT_MS + FAILURE_DELAY_S * 1000 + 2000))
ok "[ '$MS' -le $limit ]" "4a. ... within connect_timeout + auth_failure_delay + 2 s slack ($MS ms <= $limit ms)"
L=$(dlog)
like "$L" "$(db_re pam alice)pam_authenticate\(\) failed: Authentication service cannot retrieve authentication info" \
    "4a. ... Dovecot's log: 'cannot retrieve authentication info' (the module's PAM_AUTHINFO_UNAVAIL)"
unlike "$L" "$(db_re pam alice)pam_authenticate.*Password mismatch\?" "4a. ... and not 'Password mismatch?'"

# b) the server accepts the connection and never answers.
start_fault hang
module_conf "https://127.0.0.1:$FAULT_PORT/remote.php/dav/"
dlog_mark
login --user bob --password "$BOB_PW"
is "$RESP" "$FAILED" "4b. backend hangs: the client sees '$FAILED'"
limit=$((TIMEOUT_MS + FAILURE_DELAY_S * 1000 + 2000))
ok "[ '$MS' -ge $((TIMEOUT_MS - 100)) ] && [ '$MS' -le $limit ]" \
    "4b. ... after the module's timeout, within timeout + auth_failure_delay + 2 s ($MS ms, timeout $TIMEOUT_MS ms)"
like "$(dlog)" "$(db_re pam bob)pam_authenticate\(\) failed: Authentication service cannot retrieve authentication info" \
    "4b. ... Dovecot's log: 'cannot retrieve authentication info'"

# c) Dovecot's auth cache: what an administrator can do about outages.
#    First with Dovecot's default auth_cache_negative_ttl (1 hour), to show
#    why the shipped recommendation sets it to 0.  A user has one app
#    password per device; /open/ answers 207 to any password (two valid app
#    passwords), /status/401/ refuses any password.
printf 'auth_cache_size = 1M\nauth_cache_ttl = 1 hours\n' >"$D/extra.conf"
ok "reload_dovecot" "4c. Dovecot reloaded with auth_cache_size = 1M (default auth_cache_negative_ttl)"
wait_port 127.0.0.1 "$IMAP_PORT" 50
module_conf "$WD_BASE/open/"
login --user bob --password phone-app-password
login --user bob --password laptop-app-password
is "$OK" True "4c. bob logs in with two app passwords (phone, laptop)"
module_conf "$WD_BASE/status/401/"
login --user bob --password wrong-by-someone-else
module_conf "$WD_BASE/open/"
wlog_mark
login --user bob --password phone-app-password
is "$RESP" "$FAILED" "4c. default negative TTL: after one failed login, bob's other valid app password is refused"
is "$(wlog | grep -c 'method=PROPFIND')" 0 "4c. ... from Dovecot's cache, without asking the server (the lock-out the shipped config avoids)"

# d) The cache settings conf/dovecot-$DOVECOT_VERSION recommends (commented out there).
grep '^#auth_cache_' "$CONF_DIR/conf.d/auth-nextcloud.conf.ext" | sed 's/^#//' >"$D/extra.conf"
grep -q '^auth_cache_negative_ttl = 0$' "$D/extra.conf" || bail_out "auth-nextcloud.conf.ext no longer recommends auth_cache_negative_ttl = 0"
ok "reload_dovecot" "4d. Dovecot reloaded with the recommended cache settings: $(tr '\n' ' ' <"$D/extra.conf")"
wait_port 127.0.0.1 "$IMAP_PORT" 50
login --user bob --password phone-app-password
login --user bob --password laptop-app-password
module_conf "$WD_BASE/status/401/"
login --user bob --password wrong-by-someone-else
is "$RESP" "$FAILED" "4d. a wrong password is refused"
module_conf "$WD_BASE/open/"
# Dovecot's cache clock counts whole seconds: with auth_cache_negative_ttl
# = 0 an entry counts as expired once it is a second old.
sleep 1.1
wlog_mark
login --user bob --password phone-app-password
is "$OK" True "4d. ... and bob's other app passwords still work (the server is asked again)"
is "$(wlog | grep -c 'method=PROPFIND')" 1 "4d. ... one request to the server"

module_conf "$WD_URL"
login --user alice --password "$ALICE_PW"
is "$OK" True "4d. alice logs in while the server is up (her login is now cached)"
stop_webdav
dlog_mark
login --user alice --password "$ALICE_PW"
is "$OK" True "4d. server stopped: alice still logs in, from Dovecot's auth cache"
like "$(dlog)" "$(db_re pam alice)cache hit" "4d. ... Dovecot's log says 'cache hit'"
dlog_mark
login --user bob --password "$BOB_PW"
is "$RESP" "$FAILED" "4d. server stopped: bob (his password is not the cached one) sees '$FAILED'"
limit=$((CONNECT_TIMEOUT_MS + FAILURE_DELAY_S * 1000 + 2000))
ok "[ '$MS' -le $limit ]" "4d. ... within connect_timeout + auth_failure_delay + 2 s ($MS ms <= $limit ms)"
like "$(dlog)" "$(db_re pam bob)pam_authenticate\(\) failed: Authentication service cannot retrieve authentication info" \
    "4d. ... Dovecot's log: 'cannot retrieve authentication info'"
login --user alice --password 'Alice-App-Pass-2'
is "$RESP" "$FAILED" "4d. server stopped: a wrong password for cached alice is still refused"
start_webdav
module_conf "$WD_URL"
login --user bob --password "$BOB_PW"
is "$OK" True "4d. server back: bob logs in at once (the outage failure was not cached)"
login --user alice --password "$ALICE_PW"
is "$OK" True "4d. server back: alice too"

# e) The cache is per user.  (Dovecot 2.4.1's own cache key for passdb pam,
#    "%u/SERVICE", holds no 2.4 variable: without the "fields" block of
#    conf/dovecot-2.4 every user shares one cache entry, and this fails.)
login --user bob --password "$BOB_PW"
is "$OK" True "4e. bob logs in (his password is the last one cached)"
login --user alice --password "$BOB_PW"
is "$RESP" "$FAILED" "4e. alice with bob's password is refused: a cache entry belongs to one user"

# f) 2.4 only: the same without the "fields" block, i.e. Dovecot's own cache
#    key for passdb pam.  Upstream 2.4.1 keys it on "%u/SERVICE", which holds
#    no variable in 2.4: every user shares one entry and alice logs in with
#    bob's password (CVE-2025-30189, fixed upstream in 2.4.2 and in Debian
#    13's package since 1:2.4.1+dfsg1-6+deb13u1).  This is what the pristine
#    2.4.1 run proves and the package run cannot: the block is needed on an
#    unpatched build; the package run proves Debian's fix (refused either
#    way).  Expected per build: a private build of 2.4.1 has the flaw.
if [ "$DOVECOT_VERSION" = 2.4 ]; then
    A=$D/conf.d/auth-nextcloud.conf.ext
    cp -p "$A" "$A.shipped"
    sed -i '/^passdb pam {/,/^}/{/^  fields {/,/^  }/d}' "$A"
    unlike "$(sed -n '/^passdb pam {/,/^}/p' "$A")" 'user = %\{user\}' "4f. passdb pam without its fields block (Dovecot's own cache key)"
    ok "reload_dovecot" "4f. Dovecot reloaded (empty auth cache)"
    wait_port 127.0.0.1 "$IMAP_PORT" 50
    login --user bob --password "$BOB_PW"
    is "$OK" True "4f. bob logs in (his password is now cached)"
    login --user alice --password "$BOB_PW"
    V_FULL=$("$DOVECOT" --version 2>&1)
    if ! dovecot_packaged && [ "${V_FULL%% *}" = 2.4.1 ]; then
        is "$OK" True "4f. unpatched 2.4.1 ($V_FULL): alice with bob's password is ACCEPTED from the cache (CVE-2025-30189; the fields block is the workaround)"
    else
        is "$RESP" "$FAILED" "4f. $(dovecot_packaged && echo "Debian's package $(dpkg-query -W -f='${Version}' dovecot-core)" || echo "$V_FULL"): alice with bob's password is refused even without the block (CVE-2025-30189 fixed)"
    fi
    # (the run ends here: no reload back to the shipped file, which would
    # race with the stop below)
    mv -f "$A.shipped" "$A"
fi

# ------------------------------------------------------------- summary ---
if [ -n "${E2E_HOLD:-}" ]; then   # debugging: keep everything up a while
    diag "holding $E2E_HOLD s: $T, imap port $IMAP_PORT, config $D/dovecot.conf"
    sleep "$E2E_HOLD"
fi
stop_dovecot
L=$(grep -E 'Fatal|Panic|segfault|killed with signal' "$D/dovecot.log")
is "$L" "" "Dovecot logged no Fatal/Panic/crash during the run"
diag "suite took $(( ($(now_ms) - SUITE_START) / 1000 )) s"
done_testing
