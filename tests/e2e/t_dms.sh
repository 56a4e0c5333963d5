#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_dms.sh - docker-mailserver (DMS) with pam_httpbasic, both
# generations, without containers:
#
#   DMS_GEN=15  DMS v15.1.0 (Debian 12, Dovecot 2.3): this host's Dovecot and
#               Postfix, conf/docker-mailserver/ (t_dms15.sh)
#   DMS_GEN=16  DMS's development head, the coming v16 (Debian 13, Dovecot
#               2.4): Debian 13's packages in tests/debian13's root,
#               conf/docker-mailserver/v16/
#
# What the image does for Dovecot, rebuilt from DMS's own sources
# (shared/docker-mailserver/*.tar.gz): Debian's /etc/dovecot and
# /etc/postfix, then the Dockerfile's COPY steps (target/dovecot/*.inc,
# *.conf into conf.d, the LDAP files, dh.pem, target/postfix/ldap-*.cf), the
# "docker" user (uid 5000); then, in a mount namespace that binds copies of
# those files onto the image's paths (tests/e2e/dms/dms_ns.sh), DMS's own
# _setup_dovecot and _setup_ldap with its helpers and the variables of
# conf/docker-mailserver/compose.yaml (ACCOUNT_PROVISIONER=LDAP, LDAP_*,
# DOVECOT_*, ENABLE_SASLAUTHD=0), then our files the way the guide says:
# dovecot.cf (DMS copies it to local.conf), user-patches.sh and nextcloud/.
# Then:
#   - doveconf of that generation parses the result; passdb pam, userdb ldap;
#   - IMAP logins through the module, the mailbox from the userdb DMS
#     generated from LDAP (PostfixBookMailAccount, tests/e2e/dms/);
#   - SMTP AUTH: Postfix (Debian's) with a submission service and DMS's SASL
#     wiring (smtpd_sasl_type = dovecot, smtpd_sasl_path =
#     /dev/shm/sasl-auth.sock, Dovecot's listener from DMS's 10-master.conf):
#     a right app password authenticates, a wrong one is refused, the client
#     address reaches the WebDAV server (X-Forwarded-For).
# Where the test differs from the image: ports, base_dir, log file, ssl = no
# and plaintext auth (a file included after DMS's dovecot.conf); Postfix is
# Debian's main.cf with DMS's SASL lines and one submission service on a
# free port (not DMS's whole main.cf/master.cf: amavis, rspamd, postscreen...);
# DMS's other start-up steps (TLS certificates, supervisord) are not run.
# Needs root, unshare, nsenter, postfix, postfix-ldap, dovecot-sieve,
# dovecot-lmtpd, dovecot-pop3d, dovecot-managesieved, slapd, apache2.

. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

: "${DMS_GEN:=15}"
case $DMS_GEN in
    15) DMS_TGZ_NAME=docker-mailserver-v15.1.0.tar.gz; WANT_DOVECOT=2.3; OURS=$top_srcdir/conf/docker-mailserver ;;
    16) DMS_TGZ_NAME=docker-mailserver-c9b015ddc.tar.gz; WANT_DOVECOT=2.4; OURS=$top_srcdir/conf/docker-mailserver/v16 ;;
    *) bail_out "DMS_GEN must be 15 or 16" ;;
esac
[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespace, Dovecot, Postfix)"
for cmd in unshare nsenter postfix postconf dovecot doveconf slapd apache2; do
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || skip_all "$cmd not installed"
done
[ -f /usr/lib/postfix/postfix-ldap.so ] || ls /usr/lib/postfix/*ldap* >/dev/null 2>&1 || skip_all "postfix-ldap not installed"
DV=$(dovecot --version 2>/dev/null)
case $DV in
    "$WANT_DOVECOT".*) ;;
    *) skip_all "DMS v$DMS_GEN runs Dovecot $WANT_DOVECOT; this system has ${DV:-none} (v16 runs in tests/debian13)" ;;
esac
DMS_TGZ=
for d in "${DMS_DIR:-}" "$top_srcdir/../shared/docker-mailserver" /work/shared/docker-mailserver; do
    [ -n "$d" ] && [ -r "$d/$DMS_TGZ_NAME" ] && { DMS_TGZ=$d/$DMS_TGZ_NAME; break; }
done
[ -n "$DMS_TGZ" ] || skip_all "no $DMS_TGZ_NAME (shared/docker-mailserver beside the clone, or DMS_DIR)"
[ -f "$MODULE" ] || bail_out "module not built: $MODULE"
SUITE_START=$(now_ms)
diag "platform: $(e2e_platform); DMS v$DMS_GEN from $(basename "$DMS_TGZ"); postfix $(postconf -h mail_version)"

make_tmp
# The accounts: mailStorageDirectory is Dovecot's "mail" userdb field in
# DMS v15 (2.3: "maildir:/var/mail/..."), "mail_path" in v16 (2.4: a path).
make_tmp_ldif() {
    case $DMS_GEN in
        15) sed 's|@MAILSTORE@|maildir:|' "$E2E/dms/users.ldif" ;;
        16) sed 's|@MAILSTORE@||' "$E2E/dms/users.ldif" ;;
    esac
}
make_tmp_ldif >"$T/dms-users.ldif"
SLAPD_SCHEMA=$E2E/dms/postfix-book.schema SLAPD_LDIF=$T/dms-users.ldif start_slapd
start_webdav
ALICE_PW='Alice-App-Pass-1'
BOB_PW='pass word:with:colons'
FAILED='NO [AUTHENTICATIONFAILED] Authentication failed.'

# ------------------------------------------------ the image's files ---
mkdir -p "$T/dms-src"
tar -xzf "$DMS_TGZ" -C "$T/dms-src" || bail_out "cannot unpack $DMS_TGZ"
TARGET=$(find "$T/dms-src" -mindepth 2 -maxdepth 2 -type d -name target | head -n 1)
[ -d "$TARGET/dovecot" ] || bail_out "no target/dovecot in $DMS_TGZ"
R=$T/dms
mkdir -p "$R/etc" "$R/config/nextcloud" "$R/mail" "$R/shm" "$T/dms-run" "$T/dms-state"
chmod 1777 "$R/shm"
cp -a /etc/dovecot "$R/etc/dovecot"
cp -a /etc/postfix "$R/etc/postfix"
cp -a /etc/pam.d "$R/etc/pam.d"
cp -a /etc/security "$R/etc/security"
cp -a /var/spool/postfix "$R/spool"
rm -f "$R/spool/pid/"*.pid
cp /etc/passwd /etc/group "$R/etc/"
# Dockerfile: useradd -u 5000 ... docker
grep -q '^docker:' "$R/etc/group" || echo 'docker:x:5000:' >>"$R/etc/group"
grep -q '^docker:' "$R/etc/passwd" || echo 'docker:x:5000:5000::/home/docker:/bin/bash' >>"$R/etc/passwd"
# Dockerfile: COPY target/dovecot/*.inc target/dovecot/*.conf /etc/dovecot/conf.d/, the LDAP
# (and OAuth2) files, target/shared/ffdhe4096.pem as /etc/dovecot/dh.pem, the Postfix LDAP maps.
cp "$TARGET"/dovecot/*.inc "$TARGET"/dovecot/*.conf "$R/etc/dovecot/conf.d/"
cp "$TARGET/dovecot/auth-ldap.conf.ext" "$TARGET/dovecot/auth-oauth2.conf.ext" "$R/etc/dovecot/conf.d/"
for f in dovecot-ldap.conf.ext dovecot-oauth2.conf.ext; do
    [ -f "$TARGET/dovecot/$f" ] && cp "$TARGET/dovecot/$f" "$R/etc/dovecot/"
done
cp "$TARGET/shared/ffdhe4096.pem" "$R/etc/dovecot/dh.pem"
cp "$TARGET"/postfix/ldap-*.cf "$R/etc/postfix/"
# DMS's 10-ssl.conf names Debian's snakeoil pair (package ssl-cert); ssl is
# off in the test, but Dovecot 2.3 reads the files when it parses them.
if [ ! -f /etc/ssl/certs/ssl-cert-snakeoil.pem ]; then
    make-ssl-cert generate-default-snakeoil >/dev/null 2>&1 ||
        skip_all "no /etc/ssl/certs/ssl-cert-snakeoil.pem (package ssl-cert; DMS's 10-ssl.conf names it)"
fi

# ------------------------------------------------ our files, as the guide says ---
cp "$OURS/dovecot.cf" "$R/config/dovecot.cf"
cp "$OURS/user-patches.sh" "$R/config/user-patches.sh"
cp "$OURS"/nextcloud/* "$R/config/nextcloud/"
cp "$top_srcdir/conf/pam.d/dovecot-nextcloud" "$R/config/nextcloud/dovecot-nextcloud"
# conf/pam_httpbasic.conf with url= set (and the test server's CA, short
# timeouts, user_strip_domain: DMS users log in with their address).
sed -e "s|^url = .*|url = $WD_URL|" -e "s|^#cafile = .*|cafile = $WD_CA|" \
    -e "s|^timeout = .*|timeout = 3000|" -e "s|^connect_timeout = .*|connect_timeout = 1000|" \
    "$top_srcdir/conf/pam_httpbasic.conf" >"$R/config/nextcloud/pam_httpbasic.conf"
echo "user_strip_domain" >>"$R/config/nextcloud/pam_httpbasic.conf"
# The module: the guide's Dockerfile installs it where libpam finds
# pam_httpbasic.so; the test points the PAM service at the built one.
sed -i "s|pam_httpbasic\.so|$MODULE|g" "$R/config/nextcloud/dovecot-nextcloud"

# The compose file's environment (conf/docker-mailserver/compose.yaml;
# v16: the 2.4 form of the filter, see conf/docker-mailserver/README.md).
DMS_ENV=(ACCOUNT_PROVISIONER=LDAP "LDAP_SERVER_HOST=$LDAP_URI" "LDAP_SEARCH_BASE=ou=people,$LDAP_BASE"
    "LDAP_BIND_DN=$LDAP_BIND_DN" "LDAP_BIND_PW=$LDAP_BIND_PW" ENABLE_SASLAUTHD=0
    DMS_VMAIL_UID=5000 DMS_VMAIL_GID=5000 ENABLE_IMAP=1 ENABLE_POP3=0 DOVECOT_MAILBOX_FORMAT=maildir DOVECOT_TLS=no LOG_LEVEL=debug
    POSTMASTER_ADDRESS=postmaster@example.org HOSTNAME=mail.example.org)
case $DMS_GEN in
    15) DMS_ENV+=("DOVECOT_USER_FILTER=(&(objectClass=PostfixBookMailAccount)(mail=%u))") ;;
    16) DMS_ENV+=("DOVECOT_USERDB_LDAP_FILTER=(&(objectClass=PostfixBookMailAccount)(mail=%{user}))") ;;
esac

# ------------------------------------------------ test overrides ---
IMAP_PORT=$(free_port 127.0.0.1)
SUBMIT_PORT=$(free_port 127.0.0.1)
case $DMS_GEN in
    15) CLEAR="disable_plaintext_auth = no" ;;
    16) CLEAR="auth_allow_cleartext = yes" ;;
esac
cat >"$T/dms-test.conf" <<EOF

# t_dms.sh (appended to a copy of DMS's dovecot.conf): what a test on a shared host changes.
base_dir = $T/dms-run
state_dir = $T/dms-state
instance_name = dms-e2e-$$
log_path = $T/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
$CLEAR
auth_failure_delay = 1 secs
auth_debug = yes
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
cat >"$T/postfix-setup.sh" <<EOF
# t_dms.sh: Debian's Postfix with DMS's SASL wiring (target/postfix/main.cf,
# master.cf "submission") on a free loopback port; no port 25.
set -e
postconf -e "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" "myhostname = mail.example.org" \\
    "mydestination =" "maillog_file_prefixes = /var, /dev/stdout, $T" "maillog_file = $T/postfix.log" \\
    "smtpd_sasl_auth_enable = no" "smtpd_sasl_path = /dev/shm/sasl-auth.sock" "smtpd_sasl_type = dovecot" \\
    "smtpd_sasl_security_options = noanonymous" "broken_sasl_auth_clients = yes" \\
    "smtpd_tls_security_level = none" "smtpd_tls_auth_only = no"
postconf -M# smtp/inet
postconf -M "127.0.0.1:$SUBMIT_PORT/inet = 127.0.0.1:$SUBMIT_PORT inet n - n - - smtpd"
postconf -P "127.0.0.1:$SUBMIT_PORT/inet/syslog_name=postfix/submission" \\
    "127.0.0.1:$SUBMIT_PORT/inet/smtpd_sasl_auth_enable=yes" \\
    "127.0.0.1:$SUBMIT_PORT/inet/smtpd_sasl_type=dovecot" \\
    "127.0.0.1:$SUBMIT_PORT/inet/smtpd_sasl_authenticated_header=yes" \\
    "127.0.0.1:$SUBMIT_PORT/inet/smtpd_client_restrictions=permit_sasl_authenticated,reject" \\
    "127.0.0.1:$SUBMIT_PORT/inet/smtpd_relay_restrictions=permit_sasl_authenticated,reject"
EOF
mkdir -p "$R/lib"
cp -a /var/lib/postfix/. "$R/lib/" 2>/dev/null
_DOVECOT_PIDFILE=$T/dms-run/master.pid
_EXTRA_PIDFILES+=("$R/spool/pid/master.pid")
_PAM_EXTRA=()

# ------------------------------------------------ start the "container" ---
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${DMS_ENV[@]}" \
    unshare -m --propagation private bash -c '
        mount --bind "$1/lib" /var/lib/postfix || exit 1
        exec bash "$2" "$1" "$3" "$4" "$5"' _ "$R" "$E2E/dms/dms_ns.sh" "$TARGET" "$T/dms-test.conf" "$T/postfix-setup.sh" \
    >"$T/dms-start.log" 2>&1
RC=$?
is "$RC" 0 "DMS v$DMS_GEN start-up (DMS's _setup_dovecot, _setup_ldap; user-patches.sh), Dovecot and Postfix start"
if [ "$RC" != 0 ]; then
    diag_file "$T/dms-start.log" 30
    diag_file "$T/dovecot.log" 10
    done_testing; exit 1
fi
wait_port 127.0.0.1 "$IMAP_PORT" 100 || bail_out "Dovecot does not listen on $IMAP_PORT: $(tail -n 5 "$T/dovecot.log")"
wait_port 127.0.0.1 "$SUBMIT_PORT" 100 || bail_out "Postfix does not listen on $SUBMIT_PORT: $(tail -n 5 "$T/postfix.log" 2>/dev/null)"
# in_ns CMD...: CMD in the namespace (and root directory) of Dovecot's master
in_ns() { nsenter -t "$(cat "$_DOVECOT_PIDFILE")" -m -r -- "$@"; }

# ------------------------------------------------ what DMS made of it ---
has "$(cat "$T/dms-start.log")" "Setting up LDAP" "DMS's _setup_ldap ran (its log: 'Setting up LDAP')"
like "$(grep -E '^!include auth-(ldap|passwdfile)' "$R/etc/dovecot/conf.d/10-auth.conf")" '^!include auth-ldap\.conf\.ext$' \
    "_setup_ldap switched 10-auth.conf from auth-passwdfile.inc to auth-ldap.conf.ext"
like "$(cat "$R/etc/dovecot/local.conf")" '^auth_verbose = yes' "dovecot.cf became /etc/dovecot/local.conf (_setup_dovecot)"
N=$(cat "$R/doveconf-n.txt")
like "$(head -n 3 "$R/doveconf-n.txt")" "^# ${WANT_DOVECOT//./\\.}\." "doveconf -n of Dovecot $WANT_DOVECOT parses the result (DMS's /etc/dovecot/dovecot.conf)"
case $DMS_GEN in
    15)
        like "$N" '^  driver = pam$' "2.3: the passdb is pam (conf/docker-mailserver/nextcloud/auth-ldap.conf.ext)"
        like "$N" '^  args = max_requests=100 cache_key=[^ ]+ dovecot-nextcloud$' "2.3: ... with the PAM service dovecot-nextcloud"
        like "$N" '^  args = /etc/dovecot/dovecot-ldap\.conf\.ext$' "2.3: the userdb is DMS's LDAP one (dovecot-ldap.conf.ext)"
        L=$(cat "$R/etc/dovecot/dovecot-ldap.conf.ext")
        has "$L" "uris = $LDAP_URI" "2.3: _setup_ldap wrote DOVECOT_URIS (from LDAP_SERVER_HOST) into dovecot-ldap.conf.ext"
        has "$L" "user_filter = (&(objectClass=PostfixBookMailAccount)(mail=%u))" "2.3: ... and DOVECOT_USER_FILTER" ;;
    16)
        like "$N" '^passdb pam \{$' "2.4: the passdb is pam (conf/docker-mailserver/v16/nextcloud/passdb-pam.conf.ext)"
        unlike "$N" '^passdb ldap' "2.4: DMS's passdb ldap is gone (user-patches.sh)"
        has "$(sed -n '/^passdb pam {/,/^}/p' <<<"$N")" "  service_name = dovecot-nextcloud" "2.4: ... with the PAM service dovecot-nextcloud"
        like "$N" '^userdb ldap \{$' "2.4: the userdb is DMS's LDAP one (auth-ldap.conf.ext)"
        has "$N" "ldap_uris = $LDAP_URI" "2.4: _setup_ldap wrote ldap_uris (from LDAP_SERVER_HOST)"
        has "$(cat "$R/etc/dovecot/conf.d/auth-ldap.conf.ext")" \
            "userdb_ldap_filter = (&(objectClass=PostfixBookMailAccount)(mail=%{user}))" \
            "2.4: ... and DOVECOT_USERDB_LDAP_FILTER into auth-ldap.conf.ext"
        has "$N" "filter = (&(objectClass=PostfixBookMailAccount)(mail=%{user}))" \
            "2.4: doveconf -n shows that filter" ;;
esac
R_USER=$(in_ns doveadm -c /etc/dovecot/dms-test.conf user alice@example.org 2>&1)
like "$R_USER" '^home[[:space:]]+/var/mail/example\.org/alice/home/?$' "doveadm user alice@example.org: home from LDAP (mailHomeDirectory)"
like "$R_USER" '^uid[[:space:]]+5000$' "doveadm user: uid 5000 (mailUidNumber; DMS's docker user)"

# ------------------------------------------------ IMAP ---
wlog_mark() { log_mark "$WD_LOG"; }
wlog() { local i; for i in $(seq 1 50); do log_new "$WD_LOG" | grep -q 'method=PROPFIND' && break; sleep 0.1; done; log_new "$WD_LOG"; }
wlog_mark
R_IMAP=$(imap login --port "$IMAP_PORT" --source 127.0.100.1 --user alice@example.org --password "$ALICE_PW" --mailbox dms-e2e)
is "$(json ok <<<"$R_IMAP")" True "IMAP LOGIN alice@example.org with her app password succeeds"
like "$(wlog)" 'method=PROPFIND .*status=207 user="alice" xff="127\.0\.100\.1"' "... checked by the WebDAV server as 'alice' (user_strip_domain), X-Forwarded-For 127.0.100.1"
ok "[ -d '$R/mail/example.org/alice/.dms-e2e' ]" "... the mailbox is under DMS's /var/mail/example.org/alice (mailStorageDirectory from LDAP)"
is "$(stat -c '%u:%g' "$R/mail/example.org/alice/.dms-e2e" 2>/dev/null)" "5000:5000" "... owned by 5000:5000 (mailUidNumber, mailGidNumber)"
R_IMAP=$(imap login --port "$IMAP_PORT" --source 127.0.100.2 --user alice@example.org --password 'Alice-App-Pass-2')
is "$(json response <<<"$R_IMAP")" "$FAILED" "IMAP: a wrong password is refused"
R_IMAP=$(imap login --port "$IMAP_PORT" --source 127.0.100.3 --mech plain --user bob@example.org --password "$BOB_PW")
is "$(json ok <<<"$R_IMAP")" True "IMAP AUTHENTICATE PLAIN bob@example.org (a password with spaces and colons) succeeds"

# ------------------------------------------------ SMTP AUTH through Postfix ---
# smtp_auth SRC MECH USER PASSWORD: "CODE TEXT" of Postfix's answer to AUTH
smtp_auth() {
    "$PYTHON" - "$SUBMIT_PORT" "$@" <<'EOF' 2>&1
import smtplib, sys
port, src, mech, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
s = smtplib.SMTP(timeout=30, source_address=(src, 0))
s.connect("127.0.0.1", port)
s.ehlo("client.example.org")
if not s.has_extn("auth"):
    print("no AUTH offered:", s.esmtp_features)
    sys.exit(0)
s.user, s.password = user, pw
try:
    code, text = s.auth(mech, s.auth_plain if mech == "PLAIN" else s.auth_login, initial_response_ok=True)
    print(code, text.decode(errors="replace"))
except smtplib.SMTPAuthenticationError as e:
    print(e.smtp_code, e.smtp_error.decode(errors="replace"))
except Exception as e:
    print("error", repr(e))
s.close()
EOF
}
wlog_mark
A=$(smtp_auth 127.0.0.2 PLAIN alice@example.org "$ALICE_PW")
like "$A" '^235 ' "SMTP AUTH PLAIN (submission, Postfix -> Dovecot's /dev/shm/sasl-auth.sock): the right app password authenticates ($A)"
like "$(wlog)" 'method=PROPFIND .*status=207 user="alice" xff="127\.0\.0\.2"' \
    "... the SMTP client's address (127.0.0.2) reached the WebDAV server as X-Forwarded-For"
A=$(smtp_auth 127.0.0.3 LOGIN bob@example.org "$BOB_PW")
like "$A" '^235 ' "SMTP AUTH LOGIN bob@example.org authenticates ($A)"
A=$(smtp_auth 127.0.0.4 PLAIN alice@example.org 'not-her-password')
like "$A" '^535 ' "SMTP AUTH with a wrong password is refused: $A"
like "$(grep 'SASL' "$T/postfix.log" | tail -n 3)" 'SASL PLAIN authentication failed: .*sasl_username=alice@example\.org' \
    "Postfix's log: SASL PLAIN authentication failed ... sasl_username=alice@example.org"
like "$(grep 'client in: AUTH' "$T/dovecot.log")" 'PLAIN.service=smtp.*rip=127\.0\.0\.2' \
    "Dovecot's auth log: Postfix asked over its SASL socket (service=smtp) with the client's address (rip=127.0.0.2)"

stop_dovecot
L=$(grep -E 'Fatal|Panic|segfault|killed with signal' "$T/dovecot.log")
is "$L" "" "Dovecot logged no Fatal/Panic/crash"
diag "suite took $(( ($(now_ms) - SUITE_START) / 1000 )) s"
done_testing
