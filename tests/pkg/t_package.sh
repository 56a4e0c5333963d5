#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/pkg/t_package.sh - the Debian package, end to end, on this machine:
#   1. copy the source tree (files git tracks or would track; no build
#      output) to a temporary directory and run dpkg-buildpackage -us -uc -b
#      there, so every artifact (../*.deb) stays inside that directory;
#   2. lintian: no error (warnings are printed; see debian/README.source);
#   3. install it, check where the files went and the conffile;
#   4. a pam.d service naming the module by its bare name, driven by
#      pamtester (the real libpam, no pam_wrapper) against the test WebDAV
#      server; pam_httpbasic-ctl check --service and probe against it;
#   5. a login with store = lmdb:/var/cache/pam_httpbasic, so the module
#      creates its cache directory there;
#   6. dpkg --remove keeps the conffile; dpkg --purge leaves no file behind,
#      removes the cache directory the module created, and warns of nothing.
# It installs into the real system, so it needs root, refuses to touch an
# already installed libpam-httpbasic, and purges the package, removes its
# pam.d service and stops its server on every exit (trap).
# Prints TAP and a final "N passed, N failed" line; exit 0 unless a test failed.
set -u

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PKG=libpam-httpbasic
SERVICE=pamhb-pkgtest-$$
PW=Alice-App-Pass-1
N=0 PASSED=0 FAILED=0
TMP= WD= INSTALLED=0 CACHE_TEST=0

pass() { N=$((N + 1)); PASSED=$((PASSED + 1)); echo "ok $N - $*"; }
fail() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
# check DESC COMMAND...: pass when COMMAND succeeds.
check() { local desc=$1; shift; if "$@"; then pass "$desc"; else fail "$desc"; fi; }
is() { if [ "$1" = "$2" ]; then pass "$3"; else fail "$3"; diag "got:  '$1'" "want: '$2'"; fi; }
finish() { echo "1..$N"; echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; exit $?; }

cleanup() {
    rm -f "/etc/pam.d/$SERVICE"
    [ "$CACHE_TEST" = 1 ] && rm -rf /var/cache/pam_httpbasic
    [ -n "$WD" ] && bash "$SRC/tests/server/webdav.sh" stop "$WD" >/dev/null 2>&1
    if [ "$INSTALLED" = 1 ]; then
        dpkg --purge "$PKG" >/dev/null 2>&1 || echo "# cleanup: dpkg --purge $PKG failed" >&2
    fi
    [ -n "$TMP" ] && [ "${KEEP_TMP:-0}" != 1 ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "Bail out! interrupted"; exit 130' INT TERM HUP

if [ "$(id -u)" != 0 ]; then
    echo "ok 1 - package test # SKIP not root: it installs $PKG into the system and purges it again"
    N=1 PASSED=1
    finish
fi
if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
    echo "ok 1 - package test # SKIP $PKG is already installed here; not touching it"
    N=1 PASSED=1
    finish
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pamhb-pkg.XXXXXX") || { echo "Bail out! mktemp failed"; exit 99; }
chmod 0755 "$TMP"

# ---------------------------------------------------------------- build ---
mkdir "$TMP/src"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$SRC" && git ls-files -z --cached --others --exclude-standard) |
        (cd "$SRC" && tar --null -T - -cf -) | tar -C "$TMP/src" -xf -
else
    tar -C "$SRC" --exclude=./_build --exclude=./.git -cf - . | tar -C "$TMP/src" -xf -
fi
t0=$(date +%s)
(cd "$TMP/src" && dpkg-buildpackage -us -uc -b) </dev/null >"$TMP/build.log" 2>&1
rc=$?
diag "dpkg-buildpackage -us -uc -b: exit $rc in $(($(date +%s) - t0)) s"
DEB=$(ls "$TMP"/${PKG}_*.deb 2>/dev/null | head -n 1)
if [ "$rc" != 0 ] || [ -z "$DEB" ]; then
    fail "dpkg-buildpackage -us -uc -b builds $PKG"
    tail -n 30 "$TMP/build.log" | sed 's/^/#   /'
    finish
fi
pass "dpkg-buildpackage -us -uc -b builds $(basename "$DEB")"
check "the upstream test suite did not run during the build" \
    bash -c "! grep -qE '^(PASS|FAIL): |make.* check' '$TMP/build.log'"
is "$(find "$SRC/.." -maxdepth 1 -newer "$TMP/build.log" -name "*httpbasic*.deb" | wc -l)" 0 \
    "no .deb was written next to the source tree"

# --------------------------------------------------------------- lintian ---
lintian --pedantic "$TMP"/*.changes >"$TMP/lintian.log" 2>&1
grep -E '^[EWIP]: ' "$TMP/lintian.log" | sed 's/^/# lintian: /'
is "$(grep -c '^E: ' "$TMP/lintian.log")" 0 "lintian: no error"

# --------------------------------------------------------------- install ---
INSTALLED=1
if dpkg -i "$DEB" </dev/null >"$TMP/install.log" 2>&1; then
    pass "dpkg -i installs the package"
else
    fail "dpkg -i installs the package"
    sed 's/^/#   /' "$TMP/install.log"
    finish
fi
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
FILES=$(dpkg -L "$PKG")
# libpam-modules' directory: next to libpam.so.0 (/lib/MA up to Debian 12, /usr/lib/MA from 13).
PAMDIR=$(dirname "$(dpkg -L "libpam0g:$(dpkg-architecture -qDEB_HOST_ARCH)" | grep -m1 '/libpam\.so\.0$')")/security
for f in "$PAMDIR/pam_httpbasic.so" /usr/sbin/pam_httpbasic-ctl \
    /usr/share/man/man8/pam_httpbasic.8.gz /usr/share/man/man8/pam_httpbasic-ctl.8.gz \
    /etc/security/pam_httpbasic.conf /usr/share/doc/$PKG/examples/pam_httpbasic.conf \
    /usr/share/doc/$PKG/examples/pam.d/dovecot-nextcloud /usr/share/doc/$PKG/copyright; do
    check "installed: $f" bash -c "[ -f '$f' ] && printf '%s\n' \"\$1\" | grep -qxF '$f'" _ "$FILES"
done
check "/etc/security/pam_httpbasic.conf is a conffile" \
    bash -c "dpkg-query -W -f='\${Conffiles}' $PKG | grep -q '/etc/security/pam_httpbasic.conf '"
is "$(stat -c '%U %a' /etc/security/pam_httpbasic.conf)" "root 644" "the conffile is root's and not writable by others"
check "no libtool archive is installed" bash -c "! printf '%s\n' \"\$1\" | grep -q '\.la\$'" _ "$FILES"
check "man --warnings: pam_httpbasic-ctl(8) is clean" \
    bash -c '[ -z "$(man --warnings -l /usr/share/man/man8/pam_httpbasic-ctl.8.gz 2>&1 >/dev/null)" ]'

# ------------------------------------------------- login through the package ---
WD=$TMP/server
if bash "$SRC/tests/server/webdav.sh" start "$WD" >"$TMP/webdav.log" 2>&1; then
    URL=https://127.0.0.1:$(cat "$WD/port")/remote.php/dav/
    printf 'auth    required pam_httpbasic.so url=%s cafile=%s\naccount required pam_httpbasic.so\n' \
        "$URL" "$WD/ca.pem" >"/etc/pam.d/$SERVICE"
    printf '%s\n' "$PW" | timeout -k 5 120 pamtester "$SERVICE" alice authenticate acct_mgmt >"$TMP/pt1.log" 2>&1
    is "$?" 0 "pamtester: the right password is accepted through /etc/pam.d/$SERVICE (bare module name)"
    printf 'wrong\n' | timeout -k 5 120 pamtester "$SERVICE" alice authenticate >"$TMP/pt2.log" 2>&1
    rc=$?
    check "pamtester: a wrong password is refused (exit $rc)" [ "$rc" != 0 ] && [ "$rc" != 124 ]
    grep -q 'Authentication failure' "$TMP/pt2.log" && pass "pamtester: 'Authentication failure'" ||
        { fail "pamtester: 'Authentication failure'"; sed 's/^/#   /' "$TMP/pt2.log"; }
    pam_httpbasic-ctl check --service "$SERVICE" >"$TMP/check.log" 2>&1
    is "$?" 0 "pam_httpbasic-ctl check --service $SERVICE"
    timeout -k 5 120 pam_httpbasic-ctl probe "url=$URL" "cafile=$WD/ca.pem" >"$TMP/probe.log" 2>&1
    rc=$?
    sed 's/^/# /' "$TMP/probe.log"
    is "$rc" 0 "pam_httpbasic-ctl probe against the test server exits 0"
    # The credential cache at its documented place: the module creates the
    # directory at the first login; purge must remove it.
    if [ -e /var/cache/pam_httpbasic ]; then
        pass "the module creates /var/cache/pam_httpbasic # SKIP it exists already; not touching it"
        CACHE_TEST=0
    else
        CACHE_TEST=1
        (umask 077; openssl rand -hex 32 >"$TMP/secret")
        printf 'auth    required pam_httpbasic.so url=%s cafile=%s store=lmdb:/var/cache/pam_httpbasic secret_file=%s cache_fresh=60\naccount required pam_httpbasic.so\n' \
            "$URL" "$WD/ca.pem" "$TMP/secret" >"/etc/pam.d/$SERVICE"
        printf '%s\n' "$PW" | timeout -k 5 120 pamtester "$SERVICE" alice authenticate acct_mgmt >"$TMP/pt3.log" 2>&1
        is "$?" 0 "pamtester with store = lmdb:/var/cache/pam_httpbasic"
        check "the module created /var/cache/pam_httpbasic" [ -f /var/cache/pam_httpbasic/data.mdb ]
    fi
    rm -f "/etc/pam.d/$SERVICE"
else
    fail "the test WebDAV server starts"
    sed 's/^/#   /' "$TMP/webdav.log"
fi

# ----------------------------------------------------------- remove, purge ---
LEFT=$(printf '%s\n' "$FILES" | while IFS= read -r f; do [ -d "$f" ] || echo "$f"; done)
echo "# not modified: the example conffile" >>/etc/security/pam_httpbasic.conf
dpkg --remove "$PKG" >"$TMP/remove.log" 2>&1
is "$?" 0 "dpkg --remove"
check "after remove: the modified conffile is kept" [ -f /etc/security/pam_httpbasic.conf ]
check "after remove: the module is gone" [ ! -e "$PAMDIR/pam_httpbasic.so" ]
dpkg --purge "$PKG" >"$TMP/purge.log" 2>&1
is "$?" 0 "dpkg --purge"
INSTALLED=0
is "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null || echo not-installed)" "not-installed" \
    "after purge: dpkg knows nothing of $PKG"
REMAIN=$(printf '%s\n' "$LEFT" | while IFS= read -r f; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done)
is "$REMAIN" "" "after purge: none of the $(printf '%s\n' "$LEFT" | grep -c .) files of dpkg -L remains"
check "after purge: /etc/security/pam_httpbasic.conf is gone" [ ! -e /etc/security/pam_httpbasic.conf ]
check "after purge: no .dpkg-* leftovers in /etc/security" \
    bash -c '! ls /etc/security/pam_httpbasic.conf.* >/dev/null 2>&1'
check "after purge: /usr/share/doc/$PKG is gone" [ ! -e "/usr/share/doc/$PKG" ]
if [ "$CACHE_TEST" = 1 ]; then
    check "after purge: /var/cache/pam_httpbasic (made by the module) is gone" [ ! -e /var/cache/pam_httpbasic ]
fi
if grep -qi 'warning' "$TMP/remove.log" "$TMP/purge.log"; then
    fail "remove and purge print no warning"
    grep -hi 'warning' "$TMP/remove.log" "$TMP/purge.log" | sed 's/^/#   /'
else
    pass "remove and purge print no warning"
fi

finish
