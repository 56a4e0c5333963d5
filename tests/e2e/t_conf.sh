#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/e2e/t_conf.sh - the Dovecot configuration examples in conf/ cannot
# rot: every file Debian's Dovecot (2.3) can read must pass "doveconf -n -c",
# the installation steps of conf/dovecot-2.3/README.md must give a Debian
# configuration with exactly the intended passdb and userdb, and the 2.4
# files must pass a 2.4 doveconf (the system's when it is 2.4, else the
# build of tests/e2e/dovecot24.sh; without one that part is skipped, or
# fails when DOVECOT24_REQUIRED=1 as under "tests/run all").
# (conf/dovecot-2.3 and 2.4 are also run for real by t_dovecot.sh and
# t_dovecot24.sh.)  Needs no root.

. "${top_srcdir:-$(dirname "$0")/../..}/tests/e2e/lib.sh"

command -v doveconf >/dev/null 2>&1 || skip_all "doveconf not installed (dovecot-core)"
make_tmp
C=$top_srcdir/conf
DOVECONF_VERSION=$(doveconf -c /dev/null -n 2>/dev/null | sed -n '1s/^# \([0-9.]*\).*/\1/p')
diag "doveconf $DOVECONF_VERSION"

# doveconf_ok FILE DESC [DOVECONF]: "doveconf -n -c FILE" succeeds and prints
# nothing on stderr (no warnings about obsolete or unknown settings); its
# output is in $T/out
doveconf_ok() {
    if "${3:-doveconf}" -n -c "$1" >"$T/out" 2>"$T/err" && [ ! -s "$T/err" ]; then
        pass "$2"
    else
        fail "$2"; sed 's/^/#   /' "$T/err"
    fi
}

# -------------------------------------------- Dovecot 2.3 syntax files ---
# Dovecot config syntax: *.conf, *.conf.ext (except the LDAP key=value
# files) and docker-mailserver's *.cf under conf/dovecot-* and
# conf/docker-mailserver (conf/pam_httpbasic.conf is the module's).
n=0
while IFS= read -r f; do
    case $f in
        */dovecot-ldap*.conf.ext) continue ;;
        */dovecot-2.4/*|*/docker-mailserver/v16/*) continue ;;
    esac
    n=$((n + 1))
    doveconf_ok "$f" "doveconf -n -c ${f#"$top_srcdir"/}"
done < <(find "$C"/dovecot-* "$C/docker-mailserver" -type f \( -name '*.conf' -o -name '*.conf.ext' -o -name '*.cf' \) | sort)
ok "[ $n -ge 3 ]" "found the Dovecot 2.3 example files ($n)"

# What the passdb/userdb files say, as doveconf understands them.
doveconf -n -c "$C/dovecot-2.3/conf.d/auth-nextcloud.conf.ext" >"$T/auth.txt" 2>&1
is "$(sed -n '/^passdb {/,/^}/s/^  driver = //p' "$T/auth.txt")" pam "auth-nextcloud.conf.ext: passdb driver = pam"
like "$(cat "$T/auth.txt")" '^  args = .* dovecot-nextcloud$' "auth-nextcloud.conf.ext: PAM service dovecot-nextcloud (conf/pam.d)"
is "$(sed -n '/^userdb {/,/^}/s/^  driver = //p' "$T/auth.txt")" ldap "auth-nextcloud.conf.ext: userdb driver = ldap"
ok "[ -f '$C/pam.d/dovecot-nextcloud' ]" "conf/pam.d/dovecot-nextcloud exists (the service the passdb names)"
doveconf -n -c "$C/docker-mailserver/nextcloud/auth-ldap.conf.ext" >"$T/dms.txt" 2>&1
like "$(cat "$T/dms.txt")" '^  args = .* dovecot-nextcloud$' "docker-mailserver auth-ldap.conf.ext: passdb pam, service dovecot-nextcloud"
like "$(cat "$T/dms.txt")" '^  args = /etc/dovecot/dovecot-ldap.conf.ext$' "docker-mailserver auth-ldap.conf.ext: the image's LDAP userdb file"

# The recommended cache lines (commented out) are valid settings too.
grep '^#auth_cache_' "$C/dovecot-2.3/conf.d/auth-nextcloud.conf.ext" | sed 's/^#//' >"$T/cache.conf"
doveconf_ok "$T/cache.conf" "the commented auth cache settings of auth-nextcloud.conf.ext are valid"
grep '^#auth_cache_' "$C/docker-mailserver/dovecot.cf" | sed 's/^#//' >"$T/cache-dms.conf"
cmp -s "$T/cache.conf" "$T/cache-dms.conf"
is "$?" 0 "docker-mailserver dovecot.cf recommends the same cache settings"

# ------------------------------- README step 3 on Debian's own config ---
# Copy /etc/dovecot, apply the 10-auth.conf edits README.md describes, add
# the files, and check the resulting configuration.
if [ ! -f /etc/dovecot/conf.d/10-auth.conf ]; then
    skip "README step 3 on Debian's /etc/dovecot" "no /etc/dovecot/conf.d/10-auth.conf"
elif ! cp -a /etc/dovecot "$T/etc-dovecot" 2>"$T/cp.err"; then
    skip "README step 3 on Debian's /etc/dovecot" "cannot copy /etc/dovecot (not root?)"
else
    E=$T/etc-dovecot
    sed -i -e 's/^!include auth-system\.conf\.ext/#&/' -e 's/^!include auth-ldap\.conf\.ext/#&/' \
        -e 's/^#\?auth_mechanisms = .*/auth_mechanisms = plain login/' "$E/conf.d/10-auth.conf"
    echo '!include auth-nextcloud.conf.ext' >>"$E/conf.d/10-auth.conf"
    cp "$C/dovecot-2.3/conf.d/auth-nextcloud.conf.ext" "$E/conf.d/"
    if doveconf -n -c "$E/dovecot.conf" >"$T/debian.txt" 2>"$T/debian.err"; then
        pass "Debian's /etc/dovecot with README step 3 applied: doveconf -n accepts it"
    else
        fail "Debian's /etc/dovecot with README step 3 applied: doveconf -n accepts it"; sed 's/^/#   /' "$T/debian.err"
    fi
    is "$(grep -c '^passdb {' "$T/debian.txt")" 1 "... exactly one passdb"
    is "$(sed -n '/^passdb {/,/^}/s/^  driver = //p' "$T/debian.txt")" pam "... and it is pam"
    like "$(cat "$T/debian.txt")" '^  args = /etc/dovecot/dovecot-ldap-userdb.conf.ext$' "... userdb ldap with dovecot-ldap-userdb.conf.ext"
    like "$(cat "$T/debian.txt")" '^auth_mechanisms = plain login$' "... auth_mechanisms = plain login"
fi

# ----------------------------------------- the LDAP userdb key=value file ---
# Not dovecot.conf syntax (the auth process reads it); its keys must be
# among those Debian's commented template documents.
f=$C/dovecot-2.3/dovecot-ldap-userdb.conf.ext
if [ -r /etc/dovecot/dovecot-ldap.conf.ext ]; then
    known=$(sed -n 's/^#\{0,1\}\([a-z_]*\) *=.*/\1/p' /etc/dovecot/dovecot-ldap.conf.ext | sort -u)
    unknown=
    for key in $(sed -n 's/^\([a-z_]*\) *=.*/\1/p' "$f"); do
        printf '%s\n' "$known" | grep -qx "$key" || unknown="$unknown $key"
    done
    is "$unknown" "" "dovecot-ldap-userdb.conf.ext: every key is a Dovecot 2.3 LDAP setting"
else
    skip "dovecot-ldap-userdb.conf.ext keys" "cannot read /etc/dovecot/dovecot-ldap.conf.ext (dovecot-ldap not installed, or not root)"
fi
bad=$(grep -vE '^[[:space:]]*(#|$)|^[a-z_]+ = .+$' "$f")
is "$bad" "" "dovecot-ldap-userdb.conf.ext: only comments and 'key = value' lines"
for key in uris base user_filter user_attrs; do
    ok "grep -q '^$key = ' '$f'" "dovecot-ldap-userdb.conf.ext sets $key"
done

# ---------------------------------------------------------- Dovecot 2.4 ---
case $DOVECONF_VERSION in
    2.4*|2.5*|3.*) DOVECONF24=$(command -v doveconf) ;;
    *) p=$(dovecot24_prefix); DOVECONF24=${p:+$p/bin/doveconf} ;;
esac
if [ -n "$DOVECONF24" ]; then
    diag "2.4 files: $DOVECONF24 ($("$DOVECONF24" -c /dev/null -n 2>/dev/null | sed -n '1s/^# \([0-9.]*\).*/\1/p'))"
elif [ "${DOVECOT24_REQUIRED:-0}" = 1 ]; then
    fail "a Dovecot 2.4 doveconf exists (DOVECOT24_REQUIRED=1; did 'bash tests/e2e/dovecot24.sh build' fail?)"
fi
# v24 FILE: FILE with the two lines a 2.4 config must start with
v24() { printf 'dovecot_config_version = 2.4.1\ndovecot_storage_version = 2.4.1\n'; cat "$1"; }

while IFS= read -r f; do
    name=${f#"$top_srcdir"/}
    if [ -n "$DOVECONF24" ]; then
        v24 "$f" >"$T/v24.conf"
        doveconf_ok "$T/v24.conf" "doveconf 2.4 -n accepts $name" "$DOVECONF24"
    else
        skip "doveconf 2.4 -n -c $name" "no Dovecot 2.4: run 'bash tests/e2e/dovecot24.sh build' (Debian 12 has only 2.3)"
    fi
    # What can be checked without a 2.4 parser.
    opens=$(grep -v '^[[:space:]]*#' "$f" | tr -cd '{' | wc -c)
    closes=$(grep -v '^[[:space:]]*#' "$f" | tr -cd '}' | wc -c)
    is "$opens/$closes" "$opens/$opens" "$name: braces balance"
    is "$(grep -nE '^[[:space:]]*(driver|args)[[:space:]]*=' "$f")" "" "$name: no 2.3-style driver/args lines"
    is "$(grep -nE '^[[:space:]]*(passdb|userdb)[[:space:]]*\{' "$f")" "" "$name: passdb/userdb blocks are named (2.4 form)"
    is "$(grep -v '^[[:space:]]*#' "$f" | grep -nE '%[a-zA-Z]([^{]|$)')" "" "$name: only %{name} variables (2.4 dropped %u, %n ...)"
    bad=$(grep -vE '^[[:space:]]*(#.*)?$|^[[:space:]]*[a-z_]+[[:space:]]*=[[:space:]]*.+$|^[[:space:]]*[a-z_]+([[:space:]]+[a-z0-9_-]+)?[[:space:]]*\{$|^[[:space:]]*\}$' "$f")
    is "$bad" "" "$name: only 'key = value', 'name [filter] {' and '}' lines"
done < <(find "$C/dovecot-2.4" "$C/docker-mailserver/v16" -type f \( -name '*.conf*' -o -name '*.cf' \) | sort)

# What the 2.4 parser makes of auth-nextcloud.conf.ext (doveconf -n prints
# the canonical names: "filter", not "ldap_filter").
f=$C/dovecot-2.4/conf.d/auth-nextcloud.conf.ext
if [ -n "$DOVECONF24" ]; then
    v24 "$f" >"$T/v24.conf"
    "$DOVECONF24" -n -c "$T/v24.conf" >"$T/auth24.txt" 2>&1
    P=$(sed -n '/^passdb pam {/,/^}/p' "$T/auth24.txt")
    U=$(sed -n '/^userdb ldap {/,/^}/p' "$T/auth24.txt")
    has "$P" "  service_name = dovecot-nextcloud" "2.4 doveconf: passdb pam { service_name = dovecot-nextcloud } (conf/pam.d)"
    has "$P" "  max_requests = 100" "2.4 doveconf: passdb pam { max_requests = 100 }"
    like "$P" '^    user = %\{user\}$' "2.4 doveconf: passdb pam { fields { user = %{user} } } (keys the auth cache per user)"
    has "$U" '  filter = (&(objectClass=posixAccount)(|(uid=%{user})(mail=%{user})))' "2.4 doveconf: userdb ldap filter by uid or mail"
    for kv in 'user = %{ldap:uid}' 'home = %{ldap:homeDirectory}' 'uid = %{ldap:uidNumber}' 'gid = %{ldap:gidNumber}'; do
        like "$U" "^    ${kv//[\{\}]/\\&}\$" "2.4 doveconf: userdb ldap { fields { $kv } }"
    done
    like "$(cat "$T/auth24.txt")" '^ldap_uris = ' "2.4 doveconf: global ldap_uris"
    grep '^#auth_cache_' "$f" | sed 's/^#//' >"$T/cache24.conf"
    v24 "$T/cache24.conf" >"$T/cache24v.conf"
    doveconf_ok "$T/cache24v.conf" "2.4: the commented auth cache settings are valid" "$DOVECONF24"
else
    skip "2.4 doveconf -n of auth-nextcloud.conf.ext" "no Dovecot 2.4"
fi
cmp -s <(grep '^#auth_cache_' "$f") <(grep '^#auth_cache_' "$C/dovecot-2.3/conf.d/auth-nextcloud.conf.ext")
is "$?" 0 "2.4 recommends the same auth cache settings as 2.3 (auth_cache_negative_ttl = 0)"
like "$(cat "$f")" '^passdb pam \{' "2.4: passdb pam { ... }"
like "$(cat "$f")" '^  service_name = dovecot-nextcloud$' "2.4: service_name = dovecot-nextcloud (conf/pam.d)"
like "$(cat "$f")" '^userdb ldap \{' "2.4: userdb ldap { ... }"

# --------------------------------------------------- docker-mailserver ---
bash -n "$C/docker-mailserver/user-patches.sh"
is "$?" 0 "docker-mailserver user-patches.sh: bash syntax"
for src in $(sed -n 's|.*"\$src/\([^"]*\)".*|\1|p' "$C/docker-mailserver/user-patches.sh"); do
    case $src in
        auth-ldap.conf.ext) ok "[ -f '$C/docker-mailserver/nextcloud/$src' ]" "docker-mailserver: nextcloud/$src is shipped" ;;
        dovecot-nextcloud) ok "[ -f '$C/pam.d/$src' ]" "docker-mailserver: $src comes from conf/pam.d" ;;
        pam_httpbasic.conf) ok "[ -f '$C/$src' ]" "docker-mailserver: $src comes from conf/" ;;
        *) fail "docker-mailserver: user-patches.sh installs an unknown file $src" ;;
    esac
done
# v16 (Dovecot 2.4): the same for its user-patches.sh
bash -n "$C/docker-mailserver/v16/user-patches.sh"
is "$?" 0 "docker-mailserver v16 user-patches.sh: bash syntax"
for src in $(sed -n 's|.*"\$src/\([^"]*\)".*|\1|p' "$C/docker-mailserver/v16/user-patches.sh"); do
    case $src in
        passdb-pam.conf.ext) ok "[ -f '$C/docker-mailserver/v16/nextcloud/$src' ]" "docker-mailserver v16: nextcloud/$src is shipped" ;;
        dovecot-nextcloud) ok "[ -f '$C/pam.d/$src' ]" "docker-mailserver v16: $src comes from conf/pam.d" ;;
        pam_httpbasic.conf) ok "[ -f '$C/$src' ]" "docker-mailserver v16: $src comes from conf/" ;;
        *) fail "docker-mailserver v16: user-patches.sh installs an unknown file $src" ;;
    esac
done
cmp -s <(grep '^#auth_cache_' "$C/docker-mailserver/dovecot.cf") <(grep '^#auth_cache_' "$C/docker-mailserver/v16/dovecot.cf")
is "$?" 0 "docker-mailserver v15 and v16 dovecot.cf recommend the same cache settings"

done_testing
