#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/debian13/inside.sh - runs inside the Debian 13 root (chroot, as
# root; started by tests/debian13/t_debian13.sh with a copy of the source
# tree in SRC):
#
#   bash inside.sh SRC [SUITE...]
#
#   1. tests/pkg/t_package.sh: dpkg-buildpackage -us -uc -b from the same
#      debian/ against Debian 13's libraries, lintian, install, pamtester,
#      ctl probe, remove, purge (the .deb is kept: KEEP_TMP=1);
#   2. that .deb installed again, and the end-to-end suites run against it
#      (MODULE = the packaged module) with Debian 13's own Dovecot 2.4.1
#      (DOVECOT_VERSION=2.4 DOVECOT_PREFIX=/usr), slapd and redis-server,
#      and conf/dovecot-2.4 as shipped;
#   3. the package purged again.
# SUITE names tests/e2e scripts (default: all of E2E_SUITES below).
#
# Prints one TAP stream: every result of every script, renumbered, its
# description prefixed with "[Debian 13.x] SCRIPT:" so that a result says
# which release it ran on; then "N passed, N failed".
set -u

SRC=${1:?usage: inside.sh SRC [SUITE...]}
shift
E2E_SUITES="t_dovecot.sh t_dovecot_cache.sh t_dovecot_guard.sh t_dovecot_twohost_redis.sh t_redis_tls.sh t_dms16.sh"
[ $# -gt 0 ] && E2E_SUITES="$*"
PKG=libpam-httpbasic
REL="Debian $(cat /etc/debian_version)"
W=$(mktemp -d /tmp/pamhb-d13.XXXXXX) || { echo "Bail out! mktemp failed"; exit 99; }
chmod 0755 "$W"
N=0 PASSED=0 FAILED=0 SKIPPED=0

echo "# $REL ($(. /etc/os-release && echo "$VERSION_CODENAME")): $(uname -m), kernel $(uname -r) (the host's)"
for p in dovecot-core slapd redis-server libcurl4t64 libhiredis1.1.0 libpam0g libssl3t64 postfix; do
    echo "#   $p $(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '(not installed)')"
done

purge() { dpkg --purge "$PKG" >/dev/null 2>&1; }
cleanup() { purge; [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$W"; }
trap cleanup EXIT
trap 'echo "Bail out! interrupted"; exit 130' INT TERM HUP

# tap NAME CMD...: run CMD, renumber its TAP lines into ours
tap() {
    local name=$1 out rc line before=$FAILED
    shift
    out=$W/$name.log
    "$@" </dev/null >"$out" 2>&1
    rc=$?
    while IFS= read -r line; do
        case $line in
            "ok "*)
                N=$((N + 1)); PASSED=$((PASSED + 1))
                case $line in *"# SKIP"*) SKIPPED=$((SKIPPED + 1)) ;; esac
                echo "ok $N - [$REL] $name: $(printf '%s' "$line" | sed -E 's/^ok [0-9]+ (- )?//')" ;;
            "not ok "*)
                N=$((N + 1)); FAILED=$((FAILED + 1))
                echo "not ok $N - [$REL] $name: $(printf '%s' "$line" | sed -E 's/^not ok [0-9]+ (- )?//')" ;;
            "Bail out!"*)
                N=$((N + 1)); FAILED=$((FAILED + 1))
                echo "not ok $N - [$REL] $name: ${line#Bail out! }" ;;
            "1..0 # SKIP"*)
                N=$((N + 1)); PASSED=$((PASSED + 1)); SKIPPED=$((SKIPPED + 1))
                echo "ok $N - [$REL] $name # SKIP ${line#1..0 # SKIP }" ;;
            "#"*) echo "$line" ;;
            *) ;;
        esac
    done <"$out"
    if [ "$rc" != 0 ] && [ "$FAILED" = "$before" ]; then
        N=$((N + 1)); FAILED=$((FAILED + 1))
        echo "not ok $N - [$REL] $name: exited $rc without a failing result"
    fi
    if [ "$rc" != 0 ] || [ "$FAILED" != "$before" ]; then
        echo "# --- last lines of $name's output:"
        grep -Ev '^(ok|not ok) ' "$out" | tail -n 25 | sed 's/^/#   /'
    fi
}

# ------------------------------------------------------------ package ---
purge
t0=$(date +%s)
tap t_package.sh env TMPDIR="$W" KEEP_TMP=1 bash "$SRC/tests/pkg/t_package.sh"
echo "# t_package.sh: $(($(date +%s) - t0)) s"
DEB=$(ls "$W"/pamhb-pkg.*/${PKG}_*.deb 2>/dev/null | head -n 1)
if [ -z "$DEB" ]; then
    N=$((N + 1)); FAILED=$((FAILED + 1))
    echo "not ok $N - [$REL] a $PKG .deb was built (no end-to-end run without it)"
    echo "1..$N"; echo "$PASSED passed, $FAILED failed"; exit 1
fi

# -------------------------------------------------------- end to end ---
if dpkg -i "$DEB" >"$W/install.log" 2>&1; then
    N=$((N + 1)); PASSED=$((PASSED + 1))
    echo "ok $N - [$REL] $(basename "$DEB") installed for the end-to-end suites"
else
    N=$((N + 1)); FAILED=$((FAILED + 1))
    echo "not ok $N - [$REL] $(basename "$DEB") installed for the end-to-end suites"
    sed 's/^/#   /' "$W/install.log"
    echo "1..$N"; echo "$PASSED passed, $FAILED failed"; exit 1
fi
MODULE=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)/security/pam_httpbasic.so
export top_srcdir=$SRC top_builddir=$SRC MODULE DOVECOT_VERSION=2.4 DOVECOT_PREFIX=/usr
for s in $E2E_SUITES; do
    t0=$(date +%s)
    tap "$s" bash "$SRC/tests/e2e/$s"
    echo "# $s: $(($(date +%s) - t0)) s"
done

echo "1..$N"
[ "$SKIPPED" -gt 0 ] && echo "# $SKIPPED skipped"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
