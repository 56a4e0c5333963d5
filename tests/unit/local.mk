# SPDX-License-Identifier: BSD-3-Clause
# Unit tests (cmocka): pure code from the convenience library, no network.
if HAVE_CMOCKA
unit_tests = tests/unit/test_options tests/unit/test_validate tests/unit/test_check tests/unit/test_store_lmdb tests/unit/test_cache tests/unit/test_cache_attacks tests/unit/test_store_kinds tests/unit/test_mac
check_PROGRAMS += $(unit_tests)
TESTS += $(unit_tests)
unit_cflags = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CURL_CFLAGS)
unit_ldadd = libhttpbasic.la $(CMOCKA_LIBS)
tests_unit_test_options_CFLAGS = $(unit_cflags)
tests_unit_test_options_LDADD = $(unit_ldadd)
tests_unit_test_validate_CFLAGS = $(unit_cflags)
tests_unit_test_validate_LDADD = $(unit_ldadd)
tests_unit_test_check_CFLAGS = $(unit_cflags)
tests_unit_test_check_LDADD = $(unit_ldadd)
tests_unit_test_store_lmdb_CFLAGS = $(unit_cflags) $(LMDB_CFLAGS)
tests_unit_test_store_lmdb_LDADD = $(unit_ldadd)
tests_unit_test_cache_CFLAGS = $(unit_cflags)
tests_unit_test_cache_LDADD = $(unit_ldadd)
tests_unit_test_cache_attacks_CFLAGS = $(unit_cflags)
tests_unit_test_cache_attacks_LDADD = $(unit_ldadd)
tests_unit_test_store_kinds_CFLAGS = $(unit_cflags)
tests_unit_test_store_kinds_LDADD = $(unit_ldadd)
tests_unit_test_mac_CFLAGS = $(unit_cflags)
tests_unit_test_mac_LDADD = $(unit_ldadd)
endif
