#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# docker-mailserver v16 (Debian 13, Dovecot 2.4): config/user-patches.sh,
# run by the container after it has written its own configuration and
# before it starts the daemons.
#
# In DMS v16 the image's /etc/dovecot/conf.d/auth-ldap.conf.ext holds the
# LDAP connection (ldap_uris, ldap_base, ldap_auth_dn...), the filters and
# the userdb, all filled in from the LDAP_* / DOVECOT_* variables at start;
# only its "passdb ldap { ... }" block is replaced here, by an include of
# passdb-pam.conf.ext (passdb pam -> /etc/pam.d/dovecot-nextcloud ->
# pam_httpbasic).  Installs the pam_httpbasic files kept in
# config/nextcloud/ with the owner and modes they need (the module refuses
# a config file not owned by root or writable by others, so they are
# copied rather than mounted).
set -eu

src=/tmp/docker-mailserver/nextcloud
conf=/etc/dovecot/conf.d/auth-ldap.conf.ext

install -o root -g root -m 0644 "$src/passdb-pam.conf.ext" /etc/dovecot/conf.d/passdb-pam.conf.ext
install -o root -g root -m 0644 "$src/dovecot-nextcloud" /etc/pam.d/dovecot-nextcloud
install -o root -g root -m 0600 "$src/pam_httpbasic.conf" /etc/security/pam_httpbasic.conf

# The LDAP provisioner must be the one in use: it includes auth-ldap.conf.ext.
if ! grep -q '^!include auth-ldap.conf.ext' /etc/dovecot/conf.d/10-auth.conf; then
    echo "user-patches.sh: auth-ldap.conf.ext is not included; set ACCOUNT_PROVISIONER=LDAP" >&2
    exit 1
fi
# Once per start (the container may run this again on a restart).
if grep -q '^passdb ldap {' "$conf"; then
    sed -i -e '/^passdb ldap {/,/^}/d' "$conf"
    printf '\n# user-patches.sh: passwords from Nextcloud (pam_httpbasic)\n!include passdb-pam.conf.ext\n' >>"$conf"
fi
grep -q '^!include passdb-pam.conf.ext' "$conf" || {
    echo "user-patches.sh: $conf has no 'passdb ldap' block to replace" >&2
    exit 1
}
