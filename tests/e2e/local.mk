# SPDX-License-Identifier: BSD-3-Clause
# End-to-end tests: the built module inside a real Dovecot (passdb pam,
# userdb ldap against a private slapd) against the real HTTPS WebDAV test
# server, driven by real IMAP clients (imaplib, curl): Debian's Dovecot 2.3
# (t_dovecot.sh) and a pristine Dovecot 2.4.1 built by tests/e2e/dovecot24.sh
# (t_dovecot24.sh: kept for what only an unpatched 2.4.1 shows, 4f); the
# module's credential cache through a Nextcloud outage (t_dovecot_cache.sh),
# the brute-force guard under attack (t_dovecot_guard.sh), two hosts, Redis
# over TLS (t_redis_tls.sh; on Debian 12 its config error), docker-mailserver
# v15 and v16 without containers (t_dms15.sh, t_dms16.sh: IMAP, SMTP AUTH).  Debian 13's own
# Dovecot 2.4.1 package runs these in tests/debian13 (stage debian13).
# Needs root: skipped otherwise (see tests/e2e/README).
e2e_tests = \
	tests/e2e/t_conf.sh \
	tests/e2e/t_dovecot.sh \
	tests/e2e/t_dovecot24.sh \
	tests/e2e/t_dovecot_cache.sh \
	tests/e2e/t_dovecot_guard.sh \
	tests/e2e/t_dovecot_outage.sh \
	tests/e2e/t_dovecot_twohost.sh \
	tests/e2e/t_dovecot_twohost_redis.sh \
	tests/e2e/t_redis_tls.sh \
	tests/e2e/t_dms15.sh \
	tests/e2e/t_dms16.sh
TESTS += $(e2e_tests)

EXTRA_DIST += $(e2e_tests) \
	tests/e2e/README \
	tests/e2e/lib.sh \
	tests/e2e/stack.sh \
	tests/e2e/devlog_ns.sh \
	tests/e2e/syslog_sink.py \
	tests/e2e/dovecot24.sh \
	tests/e2e/imap_client.py \
	tests/e2e/users.ldif \
	tests/e2e/t_dms.sh \
	tests/e2e/dms/dms_ns.sh \
	tests/e2e/dms/postfix-book.schema \
	tests/e2e/dms/users.ldif \
	tests/debian13/root.sh \
	tests/debian13/inside.sh \
	tests/debian13/t_debian13.sh
