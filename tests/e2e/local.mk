# End-to-end tests: the built module inside a real Dovecot (passdb pam,
# userdb ldap against a private slapd) against the real HTTPS WebDAV test
# server, driven by real IMAP clients (imaplib, curl): Debian's Dovecot 2.3
# (t_dovecot.sh) and a Dovecot 2.4 built by tests/e2e/dovecot24.sh
# (t_dovecot24.sh).  Needs root: skipped otherwise (see tests/e2e/README).
e2e_tests = \
	tests/e2e/t_conf.sh \
	tests/e2e/t_dovecot.sh \
	tests/e2e/t_dovecot24.sh
TESTS += $(e2e_tests)

EXTRA_DIST += $(e2e_tests) \
	tests/e2e/README \
	tests/e2e/lib.sh \
	tests/e2e/dovecot24.sh \
	tests/e2e/imap_client.py \
	tests/e2e/users.ldif
