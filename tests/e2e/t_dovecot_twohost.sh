#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_dovecot_twohost.sh - two mail "hosts" sharing one store: a
# password verified through Dovecot A is accepted by Dovecot B during a
# Nextcloud outage, although B never saw that user.
#
# Two Dovecot instances of the stack of tests/e2e/stack.sh, each with its
# own PAM service and module config file (as two hosts have), the same
# store and secret_file:
#   TWOHOST_STORE=lmdb (default)  one LMDB directory (two hosts cannot share
#                 one; here it checks the two-instance set-up itself)
#   TWOHOST_STORE=redis  one redis-server (tests/server/redis.sh, branch
#                 redis): what two real hosts would share; skipped when the
#                 module or redis.sh lacks it.
# Sequence: alice logs in on A (server up); the WebDAV server stops; alice
# logs in on B (stale, B's module log says so); a wrong password on B is
# refused; bob (never seen anywhere) is refused on B.  Needs root.

. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
. "$E2E/stack.sh"

stack_prereqs
command -v unshare >/dev/null || skip_all "unshare (util-linux) not installed"
: "${TWOHOST_STORE:=lmdb}"
if [ "$TWOHOST_STORE" = redis ]; then
    command -v redis-server >/dev/null || skip_all "redis-server not installed"
    [ -f "$top_srcdir/tests/server/redis.sh" ] || skip_all "no tests/server/redis.sh (branch redis not merged)"
    grep -aq 'redis://' "$MODULE" || skip_all "this module has no Redis store"
fi
grep -aq cache_stale "$MODULE" || skip_all "this module has no credential cache"
STACK_SYSLOG=1
stack_start

SECRET=$T/secret
(umask 077; openssl rand -hex 32 >"$SECRET")
case $TWOHOST_STORE in
    lmdb)
        install -d -m 0700 "$T/store"
        STORE_LINES=("store = lmdb:$T/store") ;;
    redis)
        bash "$top_srcdir/tests/server/redis.sh" start "$T/redis" >"$T/redis-start.log" 2>&1 ||
            bail_out "redis did not start: $(cat "$T/redis-start.log")"
        _EXTRA_PIDFILES+=("$T/redis/pid")
        STORE_LINES=("store = redis://127.0.0.1:$(cat "$T/redis/port")" "store_auth_file = $T/redis/auth-default") ;;
    *) bail_out "TWOHOST_STORE must be lmdb or redis" ;;
esac
module_conf "$WD_URL" "${STORE_LINES[@]}" "secret_file = $SECRET" "cache_stale = 3600"

# ------------------------------------------------------------ host B ---
# Its own PAM service and config file (a copy: same server, store, secret),
# its own Dovecot (base_dir, port, log, syslog sink).
DB=$T/dovecot-b
PAM_B=$PAM_SERVICE-b
mkdir -p "$DB/run" "$DB/state" "$DB/conf.d"
cp -p "$T/pam_httpbasic.conf" "$T/pam_httpbasic-b.conf"
_PAM_EXTRA+=("$PAM_B")
sed "s|$T/pam_httpbasic.conf|$T/pam_httpbasic-b.conf|g" "/etc/pam.d/$PAM_SERVICE" >"/etc/pam.d/$PAM_B"
sed "s|$PAM_SERVICE\$|$PAM_B|" "$D/conf.d/auth-nextcloud.conf.ext" >"$DB/conf.d/auth-nextcloud.conf.ext"
chmod 0600 "$DB/conf.d/auth-nextcloud.conf.ext"
PORT_B=$(free_port 127.0.0.1)
sed -e "s|$D/|$DB/|g" -e "s|^instance_name = .*|&-b|" -e "s|^listen = .*|listen = 127.0.0.1|" \
    -e "s|^    port = $IMAP_PORT\$|    port = $PORT_B|" "$D/dovecot.conf" >"$DB/dovecot.conf"
grep -q "port = $PORT_B" "$DB/dovecot.conf" && grep -q "$PAM_B" "$DB/conf.d/auth-nextcloud.conf.ext" ||
    bail_out "host B's config was not derived from A's"
_EXTRA_PIDFILES+=("$DB/run/master.pid" "$T/syslog-b/sink.pid")
unshare -m --propagation private bash "$E2E/devlog_ns.sh" "$T/syslog-b" -- "$DOVECOT" -c "$DB/dovecot.conf" \
    >"$T/dovecot-b-start.log" 2>&1 || bail_out "Dovecot B did not start: $(cat "$T/dovecot-b-start.log")"
wait_port 127.0.0.1 "$PORT_B" 100 || bail_out "Dovecot B does not listen on $PORT_B"
diag "host A: imap $IMAP_PORT, PAM $PAM_SERVICE; host B: imap $PORT_B, PAM $PAM_B; store: ${STORE_LINES[*]}"

login_b() { local p=$IMAP_PORT; IMAP_PORT=$PORT_B; login "$@"; IMAP_PORT=$p; }
slog_b() { grep -F "($PAM_B:" "$T/syslog-b/syslog.log"; }

# ----------------------------------------------------------- the check ---
login --user alice --password "$ALICE_PW"
is "$OK" True "A: alice logs in (server up; her verifier goes to the shared store)"
stop_webdav
login_b --user alice --password "$ALICE_PW"
is "$OK" True "outage: B, which never saw alice, accepts her password (stale, from the shared store)"
sleep 0.5
like "$(slog_b)" "auth ok \\(stale: server unavailable\\): user=alice .*cache=stale" "B's module log: 'auth ok (stale: ...)' for alice"
login_b --user alice --password 'Alice-App-Pass-2'
is "$RESP" "$FAILED" "outage: B refuses a wrong password for alice"
login_b --user bob --password "$BOB_PW"
is "$RESP" "$FAILED" "outage: B refuses bob (never seen on any host)"
login --user alice --password "$ALICE_PW"
is "$OK" True "outage: A accepts alice too"
unlike "$(cat "$SYSLOG_LOG" "$T/syslog-b/syslog.log")" 'store .*(failed|unavailable)' "no store failure on either host"
done_testing
