# SPDX-License-Identifier: BSD-3-Clause
# Integration tests: the built module, loaded by a small PAM application
# (pam_driver) or pamtester under pam_wrapper, against a real Apache HTTPS
# WebDAV server (tests/server/webdav.sh) and a fault server
# (tests/server/fault_server.py).  Each script starts its own servers on
# free loopback ports, so the scripts may run in parallel (make -j).
check_PROGRAMS += tests/integration/pam_driver
tests_integration_pam_driver_SOURCES = tests/integration/pam_driver.c tests/integration/syslog_stderr.c
tests_integration_pam_driver_LDADD = -lpam
# host_models: the module driven from threads, across fork, spaced in time.
check_PROGRAMS += tests/integration/host_models
tests_integration_host_models_SOURCES = tests/integration/host_models.c tests/integration/syslog_stderr.c
tests_integration_host_models_LDADD = -lpam
# secret_scan: what the module leaves in its host (memory, descriptors,
# setuid + SSLKEYLOGFILE); -lpam only, never libcurl.
check_PROGRAMS += tests/integration/secret_scan
tests_integration_secret_scan_SOURCES = tests/integration/secret_scan.c tests/integration/syslog_stderr.c
tests_integration_secret_scan_LDADD = -lpam
# store_driver: the store interface (store.h) driven line by line.
check_PROGRAMS += tests/integration/store_driver
tests_integration_store_driver_SOURCES = tests/integration/store_driver.c
tests_integration_store_driver_LDADD = libhttpbasic.la
# check_driver: one hb_check() (check.h) without PAM, prints the account.
check_PROGRAMS += tests/integration/check_driver
tests_integration_check_driver_SOURCES = tests/integration/check_driver.c
tests_integration_check_driver_LDADD = libhttpbasic.la

integration_tests = \
	tests/integration/t_basic.sh \
	tests/integration/t_options.sh \
	tests/integration/t_tls.sh \
	tests/integration/t_faults.sh \
	tests/integration/t_stack.sh \
	tests/integration/t_servers.sh \
	tests/integration/t_symbols.sh \
	tests/integration/t_hostile.sh \
	tests/integration/t_host_models.sh \
	tests/integration/t_fault_suite.sh \
	tests/integration/t_load.sh \
	tests/integration/t_hardening.sh \
	tests/integration/t_host_safety.sh \
	tests/integration/t_store.sh \
	tests/integration/t_guard.sh \
	tests/integration/t_ctl.sh \
	tests/integration/t_cache.sh \
	tests/integration/t_cache_attacks.sh \
	tests/integration/t_docs.sh \
	tests/integration/t_fail2ban.sh \
	tests/integration/t_demo_packages.sh \
	tests/integration/t_disabled.sh \
	tests/integration/t_outage.sh \
	tests/integration/t_account.sh \
	tests/integration/t_redteam.sh \
	tests/integration/t_failfast.sh
TESTS += $(integration_tests)

EXTRA_DIST += $(integration_tests) \
	tests/integration/lib.sh \
	tests/integration/doc_snippets.py \
	tests/integration/shell_commands.py \
	tests/server/webdav.sh \
	tests/server/redis.sh \
	tests/server/fault_server.py \
	tests/server/redteam_server.py \
	tests/run
