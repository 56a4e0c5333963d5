# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/stack.sh - the real stack of the e2e tests, shared by
# t_dovecot.sh and t_dovecot_cache.sh (bash, sourced after lib.sh):
#
#   IMAP client -> Dovecot (DOVECOT_VERSION 2.3 or 2.4) -> passdb pam ->
#   /etc/pam.d/pamhb-e2e-PID -> pam_httpbasic.so ($MODULE) -> HTTPS WebDAV
#   (tests/server/webdav.sh); userdb ldap -> a private slapd.
#
#   stack_prereqs      skip (or bail out) unless everything needed is here
#   stack_start        slapd, WebDAV, the module's config file, the PAM
#                      service, Dovecot from the shipped conf/ files; sets
#                      T, D, IMAP_PORT, PAM_SERVICE, MAX_REQUESTS, ...
#   module_conf URL [LINE...]  rewrite the module's config file
#   login, curl_imap, dlog_mark/dlog, wlog_mark/wlog, db_re, ...  (below)
#
# Before stack_start a test may set:
#   TIMEOUT_MS, CONNECT_TIMEOUT_MS, FAILURE_DELAY_S  (defaults 3000/1000/1)
#   STACK_LOCAL_CONF   Dovecot settings added before the first start
#   STACK_SYSLOG=1     run Dovecot with a private /dev/log (see
#                      lib.sh start_dovecot_syslog): the module's
#                      pam_syslog lines land in $SYSLOG_LOG

stack_prereqs() {
    case $DOVECOT_VERSION in
        2.3|2.4) CONF_DIR=$top_srcdir/conf/dovecot-$DOVECOT_VERSION ;;
        *) bail_out "DOVECOT_VERSION must be 2.3 or 2.4, not '$DOVECOT_VERSION'" ;;
    esac
    [ "$(id -u)" = 0 ] || skip_all "needs root (Dovecot, slapd and /etc/pam.d)"
    for cmd in "$DOVECOT" "$DOVEADM" "$DOVECONF" slapd slapadd curl apache2 htpasswd; do
        command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] ||
            skip_all "$cmd not installed (dovecot-imapd, dovecot-ldap, slapd, apache2, curl)"
    done
    # Debian's packages (2.3, or 2.4 on Debian 13) need dovecot-ldap; the
    # private 2.4 build has userdb ldap built in.
    if [ "$DOVECOT_VERSION" = 2.3 ] || dovecot_packaged; then
        [ -f /usr/lib/dovecot/modules/auth/libauthdb_ldap.so ] || skip_all "dovecot-ldap not installed"
    fi
    [ -f /usr/lib/ldap/back_mdb.so ] || skip_all "slapd's back_mdb not found"
    "$PYTHON" -c 'import imaplib' 2>/dev/null || skip_all "python3 not usable"
    [ -f "$MODULE" ] || bail_out "module not built: $MODULE"
    [ -d /etc/pam.d ] && [ -w /etc/pam.d ] || skip_all "/etc/pam.d not writable"
}


# Test timeouts (the shipped defaults are 30 s / 5 s) and Dovecot's delay
# before it answers a failed login (default 2 s; whole seconds only).
: "${TIMEOUT_MS:=3000}"
: "${CONNECT_TIMEOUT_MS:=1000}"
: "${FAILURE_DELAY_S:=1}"

ALICE_PW='Alice-App-Pass-1'
BOB_PW='pass word:with:colons'
FAILED='NO [AUTHENTICATIONFAILED] Authentication failed.'

# The module config file: conf/pam_httpbasic.conf with the test server's
# URL, CA and short timeouts, plus any extra lines given.
module_conf() { # URL [EXTRA-LINE...]
    local url=$1 f=$T/pam_httpbasic.conf
    shift
    sed -e "s|^url = .*|url = $url|" \
        -e "s|^timeout = .*|timeout = $TIMEOUT_MS|" \
        -e "s|^connect_timeout = .*|connect_timeout = $CONNECT_TIMEOUT_MS|" \
        -e "s|^#cafile = .*|cafile = $WD_CA|" \
        "$top_srcdir/conf/pam_httpbasic.conf" >"$f.new"
    printf '%s\n' "$@" >>"$f.new"
    chmod 0600 "$f.new"
    mv -f "$f.new" "$f"
}

# install_conf_23 / install_conf_24: the shipped files of that version into
# $D, templated; set MAX_REQUESTS (the passdb's max_requests), CONF_HEAD
# and CONF_VERSIONED (the base settings spelled differently per version).
install_conf_23() {
    sed -e "s|args = /etc/dovecot/dovecot-ldap-userdb.conf.ext|args = $D/dovecot-ldap-userdb.conf.ext|" \
        -e "s|^\(  args = .*\) dovecot-nextcloud\$|\1 $PAM_SERVICE|" \
        "$CONF_DIR/conf.d/auth-nextcloud.conf.ext" >"$D/conf.d/auth-nextcloud.conf.ext"
    sed -e "s|^uris = .*|uris = $LDAP_URI|" -e "s|^dnpass = .*|dnpass = $LDAP_BIND_PW|" \
        "$CONF_DIR/dovecot-ldap-userdb.conf.ext" >"$D/dovecot-ldap-userdb.conf.ext"
    chmod 0600 "$D/dovecot-ldap-userdb.conf.ext"
    grep -q "args = $D/dovecot-ldap-userdb.conf.ext" "$D/conf.d/auth-nextcloud.conf.ext" &&
        grep -Eq "^  args = .*max_requests=[0-9]+ .* $PAM_SERVICE\$" "$D/conf.d/auth-nextcloud.conf.ext" &&
        grep -q "^uris = $LDAP_URI\$" "$D/dovecot-ldap-userdb.conf.ext" ||
        bail_out "conf/dovecot-2.3 files no longer have the lines this test templates"
    MAX_REQUESTS=$(sed -n 's/^  args = .*max_requests=\([0-9]*\) .*/\1/p' "$D/conf.d/auth-nextcloud.conf.ext")
    CONF_HEAD=
    CONF_VERSIONED="disable_plaintext_auth = no
mail_location = maildir:~/Maildir"
}

# 2.4 keeps the LDAP settings in the same file (so it is 0600), and a
# config must start with dovecot_config_version.
install_conf_24() {
    sed -e "s|^\(  service_name = \)dovecot-nextcloud\$|\1$PAM_SERVICE|" \
        -e "s|^ldap_uris = .*|ldap_uris = $LDAP_URI|" \
        -e "s|^ldap_auth_dn_password = .*|ldap_auth_dn_password = $LDAP_BIND_PW|" \
        "$CONF_DIR/conf.d/auth-nextcloud.conf.ext" >"$D/conf.d/auth-nextcloud.conf.ext"
    chmod 0600 "$D/conf.d/auth-nextcloud.conf.ext"
    grep -q "^  service_name = $PAM_SERVICE\$" "$D/conf.d/auth-nextcloud.conf.ext" &&
        grep -Eq '^  max_requests = [0-9]+$' "$D/conf.d/auth-nextcloud.conf.ext" &&
        grep -q "^ldap_uris = $LDAP_URI\$" "$D/conf.d/auth-nextcloud.conf.ext" &&
        grep -q "^ldap_auth_dn_password = $LDAP_BIND_PW\$" "$D/conf.d/auth-nextcloud.conf.ext" ||
        bail_out "conf/dovecot-2.4 file no longer has the lines this test templates"
    MAX_REQUESTS=$(sed -n 's/^  max_requests = //p' "$D/conf.d/auth-nextcloud.conf.ext")
    CONF_HEAD="dovecot_config_version = 2.4.1
dovecot_storage_version = 2.4.1"
    CONF_VERSIONED="auth_allow_cleartext = yes
mail_driver = maildir
mail_path = ~/Maildir"
}

# stack_start: everything up to a running Dovecot (see the top of this file).
stack_start() {
    local u
    make_tmp
    start_slapd
    start_webdav

    mkdir -p "$T/home"
    for u in alice:20001 bob:20002; do
        mkdir -p "$T/home/${u%%:*}"
        chown "${u#*:}:${u#*:}" "$T/home/${u%%:*}"
        chmod 0700 "$T/home/${u%%:*}"
    done

    module_conf "$WD_URL"
    grep -q "^url = $WD_URL\$" "$T/pam_httpbasic.conf" && grep -q "^cafile = $WD_CA\$" "$T/pam_httpbasic.conf" &&
        grep -q "^timeout = $TIMEOUT_MS\$" "$T/pam_httpbasic.conf" ||
        bail_out "conf/pam_httpbasic.conf no longer has the lines this test templates (url, timeout, #cafile)"

    # The PAM service: conf/pam.d/dovecot-nextcloud with the built module and
    # the test's config file.
    PAM_SERVICE=pamhb-e2e-$$
    _PAM_SERVICE=$PAM_SERVICE
    sed -e "s|pam_httpbasic\.so|$MODULE|g" \
        -e "s|config=/etc/security/pam_httpbasic\.conf|config=$T/pam_httpbasic.conf|g" \
        "$top_srcdir/conf/pam.d/dovecot-nextcloud" >"/etc/pam.d/$PAM_SERVICE"
    grep -q "^auth .*$MODULE config=$T/pam_httpbasic.conf" "/etc/pam.d/$PAM_SERVICE" &&
        grep -q "^account .*$MODULE" "/etc/pam.d/$PAM_SERVICE" ||
        bail_out "conf/pam.d/dovecot-nextcloud no longer has the auth/account lines this test templates"

    # Dovecot: the test's own base settings + the shipped auth files.
    D=$T/dovecot
    mkdir -p "$D/run" "$D/state" "$D/conf.d"
    "install_conf_${DOVECOT_VERSION/./}"

    IMAP_PORT=
    LISTEN=127.0.0.1
    if have_ipv6_loopback; then
        IMAP_PORT=$(free_port_both)
        [ -n "$IMAP_PORT" ] && LISTEN="127.0.0.1, ::1"
    fi
    [ -n "$IMAP_PORT" ] || IMAP_PORT=$(free_port 127.0.0.1)

    : >"$D/extra.conf"
    printf '%s\n' "${STACK_LOCAL_CONF:-}" >"$D/local.conf"
    cat >"$D/dovecot.conf" <<EOF
$CONF_HEAD
# Generated by tests/e2e/stack.sh: a private Dovecot $DOVECOT_VERSION for one test run.
base_dir = $D/run
state_dir = $D/state
instance_name = pamhb-e2e-$$
log_path = $D/dovecot.log
protocols = imap
listen = $LISTEN
ssl = no
$CONF_VERSIONED
auth_mechanisms = plain login
auth_failure_delay = $FAILURE_DELAY_S secs
# Shows "username changed" when a passdb or userdb changes the user name.
auth_debug = yes
auth_cache_size = 0
first_valid_uid = 20000
login_trusted_networks =
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  # no "doveadm who" needed; keeps the process list small
  process_min_avail = 0
}

# The shipped authentication part (conf/dovecot-$DOVECOT_VERSION/conf.d/auth-nextcloud.conf.ext,
# templated for paths, the LDAP server and the PAM service name).
!include $D/conf.d/auth-nextcloud.conf.ext

# Settings of the test script (STACK_LOCAL_CONF).
!include_try $D/local.conf

# Settings a test turns on later (auth cache), then "reload".
!include_try $D/extra.conf
EOF

    "$DOVECONF" -n -c "$D/dovecot.conf" >"$D/doveconf-n.txt" 2>&1 ||
        { cat "$D/doveconf-n.txt" >&2; bail_out "doveconf rejects the test config"; }
    if [ "${STACK_SYSLOG:-0}" = 1 ]; then
        start_dovecot_syslog "$D/dovecot.conf" "$D/dovecot.log" "$D/run" "$IMAP_PORT" "$T/syslog"
    else
        start_dovecot "$D/dovecot.conf" "$D/dovecot.log" "$D/run" "$IMAP_PORT"
    fi
    diag "slapd $LDAP_URI, WebDAV $WD_URL, Dovecot imap://$IMAP_PORT on $LISTEN, PAM service $PAM_SERVICE"
    diag "platform: $(e2e_platform)"
}

# --------------------------------------------------------------- helpers ---
# Where Dovecot's log differs between the versions (measured):
#   successful login  2.3  imap-login: Info: Login: user=<alice>, method=PLAIN, ...
#                     2.4  imap-login: Info: Logged in: user=<alice>, method=PLAIN, ...
#   a passdb/userdb   2.3  auth-worker(PID): Info: pam(alice,RIP,<SESSION>): pam_authenticate() failed: ...
#   line              2.4  auth-worker(alice,RIP)<PID><SESSION>: request [N]: Info: pam: pam_authenticate() failed: ...
#                     (likewise "auth: Debug: ldap(alice,...): " / "auth(alice,...)<SESSION>: Debug: ldap: ")
#   no userdb entry   2.3  auth: Error: ldap(USER,...): user not found from userdb
#                     2.4  auth(USER,...)<SESSION>: Error: user not found from any userdbs
# db_re DRIVER USER-ERE: the start of a DRIVER (pam, ldap) log line about USER
case $DOVECOT_VERSION in
    2.3)
        LOGGED_IN='Login:'
        db_re() { printf '%s\\(%s,[^)]*\\): ' "$1" "$2"; }
        no_userdb_re() { printf 'ldap\\(%s,[^)]*\\): user not found from userdb' "$1"; } ;;
    2.4)
        LOGGED_IN='Logged in:'
        db_re() { printf 'auth(-worker)?\\(%s,[^)]*\\)[^ ]*: (request \\[[0-9]+\\]: )?[A-Z][a-z]+: %s: ' "$2" "$1"; }
        no_userdb_re() { printf 'auth\\(%s,[^)]*\\)[^ ]*: Error: user not found from any userdbs' "$1"; } ;;
esac

# Dovecot delays logins from an address with recent failures (its "auth
# penalty", up to 15 s, kept by anvil per client IP).  So that one test's
# failures do not slow down the next, every login comes from its own
# loopback address (127.0.100.N) unless a test chooses one.
SRC_N=0
next_src() { SRC_N=$((SRC_N + 1)); SRC=127.0.100.$SRC_N; }

# login ARGS...: one imaplib login; sets R (JSON), OK, RESP (the tagged
# answer, or what the server sent instead), MS, SRC
login() {
    local src=()
    case " $* " in
        *" --source "*|*" --host "*) SRC= ;;
        *) next_src; src=(--source "$SRC") ;;
    esac
    R=$(imap login --port "$IMAP_PORT" "${src[@]}" "$@")
    OK=$(printf '%s' "$R" | json ok)
    RESP=$(printf '%s' "$R" | json response)
    MS=$(printf '%s' "$R" | json ms)
}

# curl_imap USER PASSWORD [curl options...]: LIST through curl (from its own
# address unless --interface is given); sets CRC, COUT (stdout), CERR (the
# protocol trace: "> " sent, "< " received, credentials redacted)
CURL_N=0
curl_imap() {
    local user=$1 pw=$2 src=()
    shift 2
    CURL_N=$((CURL_N + 1))
    case " $* " in
        *" --interface "*) ;;
        *) next_src; src=(--interface "$SRC") ;;
    esac
    curl -sS -v --max-time 30 -u "$user:$pw" "${src[@]}" "$@" "imap://127.0.0.1:$IMAP_PORT/" \
        >"$T/curl-$CURL_N.out" 2>"$T/curl-$CURL_N.err"
    CRC=$?
    COUT=$(cat "$T/curl-$CURL_N.out")
    CERR=$(grep -E '^[<>] ' "$T/curl-$CURL_N.err" |
        sed -E 's/^(> A[0-9]+ (LOGIN|AUTHENTICATE PLAIN)) .*/\1 <credentials>/; s/^> [A-Za-z0-9+\/=]{8,}$/> <credentials>/')
}

# dlog: Dovecot log lines since the last dlog_mark
dlog_mark() { log_mark "$D/dovecot.log"; }
dlog() { log_new "$D/dovecot.log"; }
wlog_mark() { log_mark "$WD_LOG"; }
# Apache writes its access log line after sending the answer, so a login
# can finish before its line is there: wait (up to 5 s) for a new request.
wlog() {
    local i
    for i in $(seq 1 50); do
        log_new "$WD_LOG" | grep -q 'method=PROPFIND' && break
        sleep 0.1
    done
    log_new "$WD_LOG"
}

owner_of() { stat -c '%u:%g' "$1" 2>/dev/null; }
