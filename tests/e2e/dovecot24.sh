#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/dovecot24.sh - a private Dovecot 2.4.1 for the end-to-end tests
# (Debian 12 packages only 2.3; Debian 13 ships 2.4).
#
#   bash tests/e2e/dovecot24.sh build    build it unless already built;
#                                        print the prefix on stdout
#   bash tests/e2e/dovecot24.sh prefix   print the prefix if it is built
#                                        (exit 1 otherwise); never builds
#
# The prefix lives outside the clone, under $DOVECOT24_CACHE (/var/tmp), and
# is named after a key: the sha256 of the source tarball and of the build
# recipe below (configure flags, trimmed directories).  So every clone on a
# machine shares one build, and a changed tarball or recipe builds anew.
# The build runs in a temporary directory and is installed with DESTDIR
# into a staging tree that is renamed into place: a killed build never
# leaves a half prefix.  A lock makes a second caller wait for the first.
#
# Environment:
#   DOVECOT24_TGZ    the source (default: shared/dovecot/dovecot-2.4.1-src.tgz
#                    beside the clone, as CI lays it out, else
#                    /work/shared/...: git archive of tag 2.4.1 of dovecot/core)
#   DOVECOT24_CACHE  where prefixes live (default /var/tmp)
#   JOBS             parallel make jobs (default 2)
# Needs: bison flex libssl-dev zlib1g-dev libldap2-dev libpam0g-dev gettext
# pkg-config autoconf automake libtool unicode-data (see tests/run).
set -u
set -o pipefail

beside_clone=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared/dovecot/dovecot-2.4.1-src.tgz
[ -r "$beside_clone" ] || beside_clone=/work/shared/dovecot/dovecot-2.4.1-src.tgz
TGZ=${DOVECOT24_TGZ:-$beside_clone}
CACHE=${DOVECOT24_CACHE:-/var/tmp}
JOBS=${JOBS:-2}

# Only what the e2e tests use: imap, passdb pam and userdb ldap built in
# (no plugins to load), doveadm, doveconf.  Everything optional is off so
# that a fresh machine builds in minutes: no static libraries (libtool
# would compile every file twice), -O1 without debug info.
CONFIGURE_FLAGS="--with-pam --with-ldap=yes --without-lua --disable-static
--without-sql --without-sqlite --without-mysql --without-pgsql --without-cassandra
--without-solr --without-flatcurve --without-stemmer --without-textcat --without-icu
--without-sodium --without-bzlib --without-lz4 --without-zstd --without-libcap
--without-libunwind --without-gssapi --without-cdb --without-apparmor --without-systemd"
CONFIGURE_ENV="CFLAGS=-O1 -g0"
# Source directories never entered: protocols the tests do not enable
# (Dovecot's master only requires the binaries of enabled protocols), the
# plugins, and doc (its makefile downloads man pages).  The test programs
# are skipped too (noinst_PROGRAMS holds only tests in Dovecot 2.4).
SKIP_DIRS="pop3-login pop3 submission-login submission lmtp lda plugins doc"

die() { printf 'dovecot24.sh: %s\n' "$*" >&2; exit 1; }

# key: what the build depends on, as 16 hex digits
key() {
    local src
    src=$(sha256sum <"$TGZ" | cut -d' ' -f1) || return 1
    printf '%s\n%s\n%s\n%s\n' "$src" "$CONFIGURE_FLAGS" "$CONFIGURE_ENV" "$SKIP_DIRS" |
        sha256sum | cut -c1-16
}

prefix_of() { echo "$CACHE/pam_httpbasic-dovecot-2.4.1-$1"; }

# built PREFIX: a complete install (the rename puts the stamp there last
# thing, so its presence means the whole tree is there)
built() { [ -f "$1/.pamhb-built" ] && [ -x "$1/sbin/dovecot" ] && [ -x "$1/bin/doveconf" ]; }

# trim_subdirs DIR: drop SKIP_DIRS from the generated SUBDIRS lists of the
# top-level and src/ makefiles (the configured copy only)
trim_subdirs() {
    local d mk
    for mk in "$1/Makefile" "$1/src/Makefile"; do
        for d in $SKIP_DIRS; do
            sed -i -e "/^SUBDIRS = /,/[^\\\\]\$/s/\\([[:space:]]\\)$d\\([[:space:]]\\|\$\\)/\\1\\2/" "$mk"
        done
    done
}

# compile PREFIX TMP: configure, make and install into TMP/dest
compile() {
    local prefix=$1 tmp=$2 src
    tar -xzf "$TGZ" -C "$tmp" || return 1
    src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'dovecot*' | head -n 1)
    [ -n "$src" ] || return 1
    # Its makefiles would download these three tables; Debian has them.
    cp /usr/share/unicode/UnicodeData.txt "$src/src/lib/" &&
        cp /usr/share/unicode/PropList.txt /usr/share/unicode/auxiliary/WordBreakProperty.txt \
            "$src/src/lib-language/" || return 1
    (
        cd "$src" || exit 1
        echo "== autogen.sh"; ./autogen.sh || exit 1
        echo "== configure --prefix=$prefix $CONFIGURE_ENV ${CONFIGURE_FLAGS//$'\n'/ }"
        # shellcheck disable=SC2086  # word splitting of the flag list is wanted
        ./configure --prefix="$prefix" "$CONFIGURE_ENV" $CONFIGURE_FLAGS || exit 1
        trim_subdirs "$src"
        echo "== make -j$JOBS"; make -j"$JOBS" noinst_PROGRAMS= || exit 1
        echo "== make install DESTDIR=$tmp/dest"
        make install DESTDIR="$tmp/dest" noinst_PROGRAMS= || exit 1
    ) </dev/null
}

# build_locked PREFIX: build into PREFIX (the caller holds the lock)
build_locked() {
    local prefix=$1 tmp log t0 rc
    log=$prefix.build.log
    tmp=$(mktemp -d "$CACHE/pam_httpbasic-dovecot-build.XXXXXX") || die "mktemp failed"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    trap 'exit 130' INT TERM HUP    # so that the EXIT trap runs
    echo "dovecot24.sh: building Dovecot 2.4.1 into $prefix (log: $log)" >&2
    t0=$(date +%s)
    compile "$prefix" "$tmp" >"$log" 2>&1
    rc=$?
    if [ "$rc" != 0 ] || [ ! -x "$tmp/dest$prefix/sbin/dovecot" ] || [ ! -x "$tmp/dest$prefix/bin/doveconf" ]; then
        tail -n 25 "$log" | sed 's/^/    /' >&2
        die "the Dovecot 2.4.1 build failed after $(($(date +%s) - t0)) s (see $log)"
    fi
    date -u +%FT%TZ >"$tmp/dest$prefix/.pamhb-built"
    chmod 0755 "$tmp/dest$prefix"
    mv -T "$tmp/dest$prefix" "$prefix" || die "cannot rename the staging tree to $prefix"
    echo "dovecot24.sh: built in $(($(date +%s) - t0)) s: $("$prefix/sbin/dovecot" --version)" >&2
}

cmd_prefix() {
    local prefix
    [ -r "$TGZ" ] || return 1
    prefix=$(prefix_of "$(key)") || return 1
    built "$prefix" || return 1
    echo "$prefix"
}

cmd_build() {
    local prefix
    [ -r "$TGZ" ] || die "no Dovecot 2.4.1 source at $TGZ (set DOVECOT24_TGZ)"
    for f in /usr/share/unicode/UnicodeData.txt /usr/share/unicode/auxiliary/WordBreakProperty.txt; do
        [ -r "$f" ] || die "$f missing (Debian package unicode-data)"
    done
    prefix=$(prefix_of "$(key)") || die "cannot read $TGZ"
    mkdir -p "$CACHE"
    (
        flock 9 || die "cannot lock $prefix.lock"
        if built "$prefix"; then
            echo "dovecot24.sh: reusing $prefix ($("$prefix/sbin/dovecot" --version))" >&2
        else
            rm -rf "$prefix"      # a tree without the stamp is not ours to trust
            build_locked "$prefix"
        fi
    ) 9>"$prefix.lock" || exit 1
    echo "$prefix"
}

case ${1:-} in
    build) cmd_build ;;
    prefix) cmd_prefix ;;
    *) echo "usage: bash tests/e2e/dovecot24.sh build|prefix" >&2; exit 2 ;;
esac
