#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/debian13/root.sh - a Debian 13 (trixie) root for the tests, made
# with debootstrap and used with chroot (no container runtime needed).
#
#   bash tests/debian13/root.sh create        make the root unless it exists;
#                                             print its path on stdout
#   bash tests/debian13/root.sh path          print the path if it is built
#                                             (exit 1 otherwise); never builds
#   bash tests/debian13/root.sh run ROOT CMD...
#                                             run CMD chrooted in ROOT with
#                                             /proc, /dev and /sys mounted
#
# The root lives outside the clone, under $DEBIAN13_CACHE (/var/tmp), named
# after a key: the sha256 of the package list and of the recipe below.  So
# every clone on a machine shares one root, and a changed package list
# builds a new one (older roots of this script that no run holds are
# removed then).  It is built in a staging directory and renamed into
# place with a stamp file written last: a killed build never leaves a root
# that looks complete.  A lock makes a second caller wait for the first.
#
# Mounts: /proc, /dev and /sys (bind) exist only while a command runs in
# the root, inside a private mount namespace (unshare -m), and an EXIT
# trap unmounts them; the host's mount table never sees them.  No daemon
# starts while packages are installed (policy-rc.d says 101); the host and
# the root share the network namespace, so the tests' servers inside are
# on the host's loopback.
#
# Environment:
#   DEBIAN13_CACHE   where roots live (default /var/tmp)
#   DEBIAN13_MIRROR  the archive (default http://deb.debian.org/debian)
# Needs: root, debootstrap (tests/run installs it), unshare (util-linux).
set -u
set -o pipefail

CACHE=${DEBIAN13_CACHE:-/var/tmp}
MIRROR=${DEBIAN13_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN13_SECURITY:-http://deb.debian.org/debian-security}
SUITE=trixie

# Everything the Debian 13 stage needs, in one apt-get call: what
# dpkg-buildpackage needs for debian/control, lintian, and the test
# stack (Debian 13's own Dovecot 2.4.1, slapd, redis-server, Apache for
# the WebDAV test server, Postfix for SMTP AUTH, python3, curl, pamtester;
# gcc from build-essential builds tests/bench/pam_bench.c), and what
# docker-mailserver's image has for its Dovecot configuration to load
# (postfix-ldap, the sieve/lmtp/pop3/managesieve packages, ssl-cert).
PACKAGES="build-essential debhelper pkg-config libpam0g-dev libcurl4-openssl-dev
liblmdb-dev libhiredis-dev libssl-dev lintian
dovecot-core dovecot-imapd dovecot-ldap slapd ldap-utils redis-server redis-tools
apache2 apache2-utils openssl ca-certificates python3 curl pamtester postfix procps
postfix-ldap dovecot-sieve dovecot-lmtpd dovecot-pop3d dovecot-managesieved ssl-cert"
# The recipe: bump when the way the root is made changes.
RECIPE="debootstrap --variant=minbase $SUITE; sources $SUITE $SUITE-updates $SUITE-security;
policy-rc.d 101; apt-get install --no-install-recommends; v1"

die() { printf 'debian13/root.sh: %s\n' "$*" >&2; exit 1; }

key() {
    printf '%s\n%s\n%s\n%s\n' "$(echo $PACKAGES)" "$RECIPE" "$MIRROR" "$SECURITY" | sha256sum | cut -c1-16
}
root_of() { echo "$CACHE/pam_httpbasic-debian13-$1"; }
built() { [ -f "$1/.pamhb-built" ] && [ -x "$1/usr/sbin/dovecot" ]; }

# in_root ROOT CMD...: CMD chrooted in ROOT with /proc, /dev, /sys mounted
# in a private mount namespace; the mounts are undone on every exit.
in_root() {
    local root=$1
    shift
    [ -d "$root" ] || die "no root at $root"
    unshare -m --propagation private -- bash -c '
        r=$1; shift
        undo() {
            local m
            for m in sys dev proc; do
                mountpoint -q "$r/$m" && umount -l "$r/$m"
            done
            mountpoint -q "$r" && umount -l "$r"
        }
        trap undo EXIT
        trap "exit 130" INT TERM HUP
        # The root bound onto itself: "/" in the chroot is then a mount
        # point, which "unshare -m --propagation private" inside needs
        # (tests/e2e/devlog_ns.sh).
        mount --bind "$r" "$r" && mount -t proc proc "$r/proc" && mount --bind /dev "$r/dev" &&
            mount --bind /sys "$r/sys" ||
            { echo "debian13/root.sh: cannot mount $r, /proc, /dev, /sys in $r" >&2; exit 1; }
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive chroot "$r" "$@"
    ' in_root "$root" "$@"
}

# make_root STAGING: debootstrap + packages into STAGING
make_root() {
    local d=$1
    echo "== debootstrap --variant=minbase $SUITE $d $MIRROR"
    debootstrap --variant=minbase "$SUITE" "$d" "$MIRROR" || return 1
    cat >"$d/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main
EOF
    printf '#!/bin/sh\n# tests/debian13/root.sh: no daemon starts in this root on install\nexit 101\n' \
        >"$d/usr/sbin/policy-rc.d"
    chmod 0755 "$d/usr/sbin/policy-rc.d"
    # shellcheck disable=SC2086
    echo "== apt-get install $(echo $PACKAGES)"
    in_root "$d" sh -c 'apt-get update && apt-get install -y --no-install-recommends "$@" && apt-get clean' \
        sh $PACKAGES </dev/null || return 1
    in_root "$d" dpkg-query -W dovecot-core libcurl4t64 libhiredis1.1.0 libpam0g redis-server postfix slapd
}

cmd_path() {
    local root
    root=$(root_of "$(key)")
    built "$root" || return 1
    echo "$root"
}

cmd_create() {
    local root k
    [ "$(id -u)" = 0 ] || die "needs root"
    command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap)"
    k=$(key)
    root=$(root_of "$k")
    mkdir -p "$CACHE"
    (
        flock 9 || die "cannot lock $root.lock"
        if built "$root"; then
            echo "debian13/root.sh: reusing $root ($(cat "$root/etc/debian_version"), built $(cat "$root/.pamhb-built"))" >&2
            exit 0
        fi
        rm -rf "$root"
        tmp=$(mktemp -d "$CACHE/pam_httpbasic-debian13-build.XXXXXX") || die "mktemp failed"
        trap 'rm -rf "$tmp"' EXIT
        trap 'exit 130' INT TERM HUP
        chmod 0755 "$tmp"
        log=$root.build.log
        echo "debian13/root.sh: making a Debian 13 root in $root (log: $log)" >&2
        t0=$(date +%s)
        if ! make_root "$tmp/root" >"$log" 2>&1 || ! built_tree "$tmp/root"; then
            tail -n 25 "$log" | sed 's/^/    /' >&2
            die "making the Debian 13 root failed after $(($(date +%s) - t0)) s (see $log)"
        fi
        date -u +%FT%TZ >"$tmp/root/.pamhb-built"
        mv -T "$tmp/root" "$root" || die "cannot rename the staging root to $root"
        echo "debian13/root.sh: made in $(($(date +%s) - t0)) s: Debian $(cat "$root/etc/debian_version")" >&2
        # Roots of an older package list or recipe, unless a run holds them.
        for old in "$CACHE"/pam_httpbasic-debian13-[0-9a-f]*; do
            case $old in "$root"|*.lock|*.log) continue ;; esac
            [ -d "$old" ] || continue
            ( flock -n 8 && rm -rf "$old" "$old.build.log" ) 8>"$old.lock" && rm -f "$old.lock"
        done
    ) 9>"$root.lock" || exit 1
    echo "$root"
}
built_tree() { [ -x "$1/usr/sbin/dovecot" ] && [ -x "$1/usr/bin/dpkg-buildpackage" ]; }

case ${1:-} in
    create) cmd_create ;;
    path) cmd_path ;;
    run) shift; [ $# -ge 2 ] || die "usage: root.sh run ROOT CMD..."; in_root "$@" ;;
    *) echo "usage: bash tests/debian13/root.sh create|path|run ROOT CMD..." >&2; exit 2 ;;
esac
