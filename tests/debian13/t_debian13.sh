#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/debian13/t_debian13.sh - the package and the end-to-end suites on
# Debian 13 (trixie), from a Debian 12 host, without containers:
#
#   bash tests/debian13/t_debian13.sh [SUITE...]
#
# 1. tests/debian13/root.sh create: the cached Debian 13 root (made with
#    debootstrap once per machine and package list, ~1 min; then reused);
# 2. a copy of this source tree (what git tracks or would track) into the
#    root's /tmp;
# 3. tests/debian13/inside.sh in the root (chroot, /proc, /dev, /sys
#    mounted only meanwhile): dpkg-buildpackage + lintian + t_package.sh,
#    then the e2e suites with Debian 13's dovecot-core 2.4.1, slapd and
#    redis-server (SUITE...: tests/e2e script names; default: all of them);
# 4. the copy is removed.
# Prints TAP (every description says "[Debian 13.x]") and
# "N passed, N failed".  Needs root; skipped without it.  Run it under
# the e2e lock (its servers use the host's loopback).
set -u

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$SRC/tests/debian13
COPY=

if [ "$(id -u)" != 0 ]; then
    echo "ok 1 - Debian 13 stage # SKIP not root (debootstrap, chroot, mounts)"
    echo "1..1"; echo "1 passed, 0 failed"; exit 0
fi
cleanup() { [ -n "$COPY" ] && [ "${KEEP_TMP:-0}" != 1 ] && rm -rf "$COPY"; }
trap cleanup EXIT
trap 'echo "Bail out! interrupted"; exit 130' INT TERM HUP

t0=$(date +%s)
ROOT=$(bash "$HERE/root.sh" create) || {
    echo "not ok 1 - a Debian 13 root exists (tests/debian13/root.sh create failed)"
    echo "1..1"; echo "0 passed, 1 failed"; exit 1
}
echo "# Debian 13 root: $ROOT (ready after $(($(date +%s) - t0)) s)"

COPY=$(mktemp -d "$ROOT/tmp/pamhb-src.XXXXXX") || { echo "Bail out! mktemp in $ROOT/tmp failed"; exit 99; }
chmod 0755 "$COPY"
mkdir "$COPY/src"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$SRC" && git ls-files -z --cached --others --exclude-standard) |
        (cd "$SRC" && tar --null -T - -cf - 2>/dev/null) | tar -C "$COPY/src" -xf -
else
    tar -C "$SRC" --exclude=./_build --exclude=./.git -cf - . | tar -C "$COPY/src" -xf -
fi
INNER=/tmp/${COPY##*/}/src
# docker-mailserver's sources for t_dms16.sh, where t_dms.sh looks for
# them: shared/docker-mailserver beside the clone.
for d in "$SRC/../shared/docker-mailserver" /work/shared/docker-mailserver; do
    if [ -d "$d" ]; then
        mkdir -p "$COPY/shared/docker-mailserver"
        cp "$d"/*.tar.gz "$COPY/shared/docker-mailserver/" 2>/dev/null
        break
    fi
done

# A shared lock on the root: root.sh removes an outdated root only when
# nobody holds it.
(
    flock -s 9
    bash "$HERE/root.sh" run "$ROOT" bash "$INNER/tests/debian13/inside.sh" "$INNER" "$@"
) 9>"$ROOT.lock"
rc=$?
echo "# Debian 13 stage: $(($(date +%s) - t0)) s in all"
exit $rc
