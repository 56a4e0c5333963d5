#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_dms16.sh - t_dms.sh for docker-mailserver v16 (Debian 13, Dovecot 2.4: runs in tests/debian13; skipped on a Dovecot 2.3 host)
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
export DMS_GEN=16
exec bash "$E2E/t_dms.sh"
