#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# docker-mailserver: config/user-patches.sh, run by the container after it
# has written its own configuration and before it starts the daemons.
# Installs the pam_httpbasic files kept in config/nextcloud/ with the owner
# and modes they need (the module refuses a config file that is not owned
# by root or is writable by others, so it is copied rather than mounted).
set -eu

src=/tmp/docker-mailserver/nextcloud

install -o root -g root -m 0644 "$src/auth-ldap.conf.ext" /etc/dovecot/conf.d/auth-ldap.conf.ext
install -o root -g root -m 0644 "$src/dovecot-nextcloud" /etc/pam.d/dovecot-nextcloud
install -o root -g root -m 0600 "$src/pam_httpbasic.conf" /etc/security/pam_httpbasic.conf

# The LDAP provisioner must be the one in use: it includes auth-ldap.conf.ext.
if ! grep -q '^!include auth-ldap.conf.ext' /etc/dovecot/conf.d/10-auth.conf; then
    echo "user-patches.sh: auth-ldap.conf.ext is not included; set ACCOUNT_PROVISIONER=LDAP" >&2
    exit 1
fi
