#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/pkg/demo_chroot.sh - "bash tests/run demo" on a fresh Debian: a
# minimal root made by debootstrap (--variant=minbase: only the packages of
# priority required), this source tree copied into it, then the demo run
# inside it with chroot.  It shows that DEMO_PACKAGES is enough, and which
# packages the demo installed.  Not part of "tests/run all" (it needs root,
# the network and a few minutes):
#
#   bash tests/pkg/demo_chroot.sh [SUITE [DIR]]    # default: bookworm, a new dir under /var/tmp
#
# Exit status: the demo's.  KEEP_ROOT=1 keeps the root afterwards.
set -u
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SUITE=${1:-bookworm}
ROOT=${2:-$(mktemp -d /var/tmp/pamhb-demo-root.XXXXXX)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "demo_chroot.sh: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "demo_chroot.sh: install debootstrap" >&2; exit 2; }
chmod 0755 "$ROOT"    # mktemp's 0700 would keep Apache's children (nobody) out of "/"

cleanup() {
    umount "$ROOT/proc" 2>/dev/null
    umount "$ROOT/dev/pts" 2>/dev/null
    umount "$ROOT/dev" 2>/dev/null
    [ "${KEEP_ROOT:-0}" = 1 ] || rm -rf --one-file-system "$ROOT"
}
trap cleanup EXIT

echo "== debootstrap --variant=minbase $SUITE $ROOT"
debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 ||
    { tail -n 20 "$ROOT.debootstrap.log"; exit 2; }
chroot "$ROOT" dpkg-query -W -f='${Package}\n' | sort >"$ROOT.before"
echo "$(wc -l <"$ROOT.before") packages in the minimal root"

mkdir -p "$ROOT/src"
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$SRC" && tar --null -T - -cf -) | tar -C "$ROOT/src" -xf -
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

echo "== chroot: bash tests/run demo"
chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    bash -c 'cd /src && bash tests/run demo' </dev/null
rc=$?
chroot "$ROOT" dpkg-query -W -f='${Package}\n' | sort >"$ROOT.after"
echo "== the demo installed $(comm -13 "$ROOT.before" "$ROOT.after" | wc -l) packages:"
comm -13 "$ROOT.before" "$ROOT.after" | tr "\n" " " | fold -s -w 100 | sed "s/^/   /"; echo
echo "== of the whole suite's packages, none of these may be there:"
for p in dovecot-core slapd redis-server valgrind clang-14 lintian linux-perf fail2ban libcmocka-dev; do
    grep -qx "$p" "$ROOT.after" && echo "   UNEXPECTED: $p is installed"
done
echo "== demo exit status: $rc"
rm -f "$ROOT.before" "$ROOT.after" "$ROOT.debootstrap.log"
exit "$rc"
