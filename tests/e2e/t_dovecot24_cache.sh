#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_dovecot24_cache.sh - the credential cache through a Nextcloud outage (t_dovecot_cache.sh) against Dovecot 2.4.1
# (Debian 13's version) with conf/dovecot-2.4, from the private prefix that
# tests/e2e/dovecot24.sh builds (or DOVECOT24_PREFIX, e.g. /usr on Debian
# 13); see exec_with_dovecot24 in lib.sh for what happens without a build.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
exec_with_dovecot24 t_dovecot_cache.sh
