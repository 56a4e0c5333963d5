#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# "bash tests/run demo" installs only DEMO_PACKAGES, so that list must
# cover everything the demo uses: every program demo(), build() and
# autogen.sh run, every program of tests/server/webdav.sh (found by
# shell_commands.py), Apache's modules, pam_wrapper's library, the
# compiler and every library configure requires.  Each is traced to the
# Debian package that provides it on this machine (dpkg -S), which must be
# in DEMO_PACKAGES, a dependency of one (apt-cache depends --recurse), or
# Essential.  And DEMO_PACKAGES is part of the full PACKAGES list.
# (tests/pkg/demo_chroot.sh runs the demo for real in a fresh minimal root.)
. "$(dirname "$0")/lib.sh"
RUN=$top_srcdir/tests/run
command -v dpkg >/dev/null || { echo "1..0 # SKIP not a Debian system"; exit 0; }

# The two lists, as tests/run defines them (its variable assignments only).
eval "$(sed -n '/^DEMO_PACKAGES="/,/"$/p; /^PACKAGES="/,/"$/p' "$RUN")"
ok '[ -n "${DEMO_PACKAGES:-}" ]' "tests/run defines DEMO_PACKAGES"
for p in $DEMO_PACKAGES; do
    ok 'printf "%s\n" $PACKAGES | grep -qx "$p"' "DEMO_PACKAGES is part of PACKAGES: $p"
done
for p in dovecot-core dovecot-imapd slapd redis-server valgrind clang-14 lintian fail2ban libcmocka-dev; do
    ok '! printf "%s\n" $DEMO_PACKAGES | grep -qx "$p"' "the demo does not install $p"
done

# Every package the demo's packages bring along, and the Essential ones.
ALLOWED=$TEST_TMP/allowed
# shellcheck disable=SC2086
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances $DEMO_PACKAGES 2>/dev/null | sed -n 's/^\([a-z0-9][^ :<>]*\).*/\1/p; s/^ *\(Pre\)\{0,1\}Depends: \([a-z0-9][^ :<>]*\).*/\2/p' |
    sort -u >"$ALLOWED"
dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" {print $1}' >>"$ALLOWED"
printf '%s\n' $DEMO_PACKAGES >>"$ALLOWED"
ok '[ "$(wc -l <"$ALLOWED")" -gt 50 ]' "the demo's package closure was computed ($(wc -l <"$ALLOWED") packages)"

# provided PATH DESC: the package owning PATH is allowed.
provided() {
    local file=$1 desc=$2 pkg
    file=$(readlink -f "$file")
    pkg=$(dpkg -S "$file" 2>/dev/null | head -n 1 | cut -d: -f1)
    if [ -z "$pkg" ]; then
        pkg=$(dpkg -S "${file#/usr}" 2>/dev/null | head -n 1 | cut -d: -f1)   # merged /usr
    fi
    if [ -z "$pkg" ]; then
        fail "$desc: $file belongs to no package"
    elif grep -qx "$pkg" "$ALLOWED"; then
        pass "$desc: $file ($pkg)"
    else
        fail "$desc: $file comes from $pkg, which the demo does not install"
    fi
}

commands() { python3 "$top_srcdir/tests/integration/shell_commands.py" "$@"; }
# Programs as a fresh system finds them (not through a user's PATH additions).
syscmd() { PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$1"; }
for src in "$RUN demo" "$RUN build" "$top_srcdir/tests/server/webdav.sh" "$top_srcdir/autogen.sh"; do
    # shellcheck disable=SC2086
    for cmd in $(commands $src); do
        [ "$(PATH=/usr/sbin:/usr/bin:/sbin:/bin type -t "$cmd")" = file ] || continue
        provided "$(syscmd "$cmd")" "${src#"$top_srcdir"/}: $cmd"
    done
done
# What they run through variables and what the build itself runs.
for cmd in apache2 gcc make autoreconf libtoolize pkg-config timeout base64; do
    if syscmd "$cmd" >/dev/null; then
        provided "$(syscmd "$cmd")" "run indirectly: $cmd"
    else
        fail "run indirectly: $cmd is not installed here"
    fi
done
for m in mod_dav.so mod_dav_fs.so mod_ssl.so mod_auth_basic.so mod_mpm_event.so; do
    provided "/usr/lib/apache2/modules/$m" "webdav.sh loads $m"
done
provided "$(ldconfig -p | sed -n 's/.*libpam_wrapper\.so[^ ]* .*=> //p' | head -n 1)" "demo(): LD_PRELOAD=libpam_wrapper.so"
# configure's required libraries: every PKG_CHECK_MODULES without an
# else-branch (optional ones have [have_x=...]) and the PAM headers.
for mod in $(sed -n 's/^PKG_CHECK_MODULES(\[[A-Z_]*\], \[\([a-z0-9]*\)[^]]*\])$/\1/p' "$top_srcdir/configure.ac"); do
    pc=$(pkg-config --variable=pcfiledir "$mod" 2>/dev/null)/$mod.pc
    provided "$pc" "configure requires $mod"
done
provided /usr/include/security/pam_modules.h "configure requires the PAM headers"

done_testing
