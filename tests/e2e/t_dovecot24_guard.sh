#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_dovecot24_guard.sh - the whole of t_dovecot_guard.sh (the
# brute-force guard sparing the auth workers) against Dovecot
# 2.4.1 with conf/dovecot-2.4, from the private prefix that
# tests/e2e/dovecot24.sh builds (or DOVECOT24_PREFIX).  Skipped without a
# 2.4 build, failed instead under DOVECOT24_REQUIRED=1 (as t_dovecot24.sh).

. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

prefix=$(dovecot24_prefix)
if [ -z "$prefix" ]; then
    [ "${DOVECOT24_REQUIRED:-0}" = 1 ] || skip_all "no Dovecot 2.4 build: run 'bash tests/e2e/dovecot24.sh build' first"
    fail "a Dovecot 2.4 build exists (DOVECOT24_REQUIRED=1; the build failed? see 'bash tests/e2e/dovecot24.sh build')"
    done_testing
    exit 1
fi
export DOVECOT_VERSION=2.4 DOVECOT_PREFIX="$prefix"
exec bash "$E2E/t_dovecot_guard.sh"
