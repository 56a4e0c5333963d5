#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/dms/dms_ns.sh - docker-mailserver's start-up for Dovecot, and
# Dovecot and Postfix, in a mount namespace that stands in for the
# container (run by t_dms.sh with "unshare -m --propagation private"):
#
#   dms_ns.sh R DMS_TARGET OVERRIDES_CONF POSTFIX_SETUP
#
# R holds the container's files: R/etc/dovecot, R/etc/postfix, R/etc/pam.d,
# R/etc/security, R/etc/passwd, R/etc/group (with DMS's "docker" user),
# R/config (= /tmp/docker-mailserver), R/mail (= /var/mail), R/shm
# (= /dev/shm), R/spool (= /var/spool/postfix).  They are bound onto those
# paths here, so DMS's scripts, Dovecot and Postfix use the paths of the
# image unchanged, and the host's own files are never touched (the
# namespace ends with its last process).  Then, as the image does:
#   1. _setup_dovecot, _chown_var_mail_if_necessary and _setup_ldap of DMS
#      (target/scripts/startup/setup.d, helpers/utils.sh; with its helpers
#      log.sh and utils.sh and its sedfile in /usr/local/bin), from
#      the DMS_* / LDAP_* / DOVECOT_* / ENABLE_* variables;
#   2. /tmp/docker-mailserver/user-patches.sh;
#   3. doveconf -n of the result (R/doveconf-n.txt);
#   4. Dovecot with /etc/dovecot/dovecot.conf plus OVERRIDES_CONF appended (ports,
#      base_dir, log file: what a test on a shared host must change);
#   5. Postfix: bash POSTFIX_SETUP (postconf lines), then "postfix start".
# Exit 0 when both daemons run; they keep the namespace.
set -u
R=$1 TARGET=$2 OVERRIDES=$3 POSTFIX_SETUP=$4
log() { printf 'dms_ns.sh: %s\n' "$*"; }

bind() { mount --bind "$1" "$2" || { log "cannot bind $1 on $2"; exit 1; }; }
bind "$R/etc/dovecot" /etc/dovecot
bind "$R/etc/postfix" /etc/postfix
bind "$R/etc/pam.d" /etc/pam.d
bind "$R/etc/security" /etc/security
bind "$R/etc/passwd" /etc/passwd
bind "$R/etc/group" /etc/group
bind "$R/mail" /var/mail
bind "$R/shm" /dev/shm
bind "$R/spool" /var/spool/postfix
mkdir -p /tmp/docker-mailserver 2>/dev/null
bind "$R/config" /tmp/docker-mailserver

# The image's /usr/local/bin: DMS's target/bin (sedfile, ...) and its
# helpers (sedfile sources /usr/local/bin/helpers/log.sh).
mount -t tmpfs -o mode=0755 tmpfs /usr/local/bin || { log "cannot mount /usr/local/bin"; exit 1; }
cp -a "$TARGET"/bin/. /usr/local/bin/ && cp -a "$TARGET/scripts/helpers" /usr/local/bin/helpers ||
    { log "cannot copy DMS's bin and helpers"; exit 1; }

# 1. DMS's own set-up functions with their helpers (DMS's scripts do not
# run with nounset).
set +u
# shellcheck source=/dev/null
. /usr/local/bin/helpers/log.sh
# shellcheck source=/dev/null
. /usr/local/bin/helpers/utils.sh
# shellcheck source=/dev/null
. "$TARGET/scripts/startup/setup.d/dovecot.sh"
# shellcheck source=/dev/null
. "$TARGET/scripts/startup/setup.d/ldap.sh"
log "_setup_dovecot"
_setup_dovecot || { log "_setup_dovecot failed"; exit 1; }
log "_chown_var_mail_if_necessary"
_chown_var_mail_if_necessary || { log "_chown_var_mail_if_necessary failed"; exit 1; }
log "_setup_ldap"
_setup_ldap || { log "_setup_ldap failed"; exit 1; }

# 2. The user's patches, as DMS runs them last.
log "user-patches.sh"
bash /tmp/docker-mailserver/user-patches.sh || { log "user-patches.sh failed"; exit 1; }

# 3. What doveconf makes of the result (the image's own dovecot.conf).
doveconf -n >"$R/doveconf-n.txt" 2>&1 || { log "doveconf -n failed"; cat "$R/doveconf-n.txt"; exit 1; }

# 4. Dovecot: the image's config plus the test's overrides.
# (a copy of dovecot.conf with the overrides appended: Dovecot 2.4 wants
# dovecot_config_version as the first setting of the file it is given)
cat /etc/dovecot/dovecot.conf "$OVERRIDES" >/etc/dovecot/dms-test.conf
dovecot -c /etc/dovecot/dms-test.conf || { log "dovecot did not start"; exit 1; }

# 5. Postfix.
bash "$POSTFIX_SETUP" || { log "the Postfix set-up failed"; exit 1; }
postfix check >"$R/postfix-check.log" 2>&1 || log "postfix check: $(cat "$R/postfix-check.log")"
postfix start >"$R/postfix-start.log" 2>&1 || { log "postfix did not start"; cat "$R/postfix-start.log"; exit 1; }
exit 0
