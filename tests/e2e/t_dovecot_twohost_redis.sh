#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_dovecot_twohost_redis.sh - t_dovecot_twohost.sh with the two
# Dovecot "hosts" sharing one redis-server (tests/server/redis.sh), as two
# real mail hosts would: verified on A, outage, B accepts.

. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"
export TWOHOST_STORE=redis
exec bash "$E2E/t_dovecot_twohost.sh"
