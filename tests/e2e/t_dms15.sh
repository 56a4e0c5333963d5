#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_dms15.sh - t_dms.sh for docker-mailserver v15 (Debian 12, Dovecot 2.3: runs on this host)
. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
export DMS_GEN=15
exec bash "$E2E/t_dms.sh"
