#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The documentation against the code: every pam_httpbasic configuration
# snippet in README.md, docs/, man/ and conf/ (extracted by doc_snippets.py:
# ```conf and ```pam blocks, `.\" snippet: conf` in man pages, the
# conffile and each of its commented-out lines, conf/pam.d, and every pam.d
# line loading pam_httpbasic.so in any block) is parsed by the module's own
# parser (pam_httpbasic-ctl check --syntax); a failure names the document
# and the line of the snippet.  The README option table must list every key
# of the option table in options.c, and nothing else.
. "$(dirname "$0")/lib.sh"
CTL=$top_builddir/pam_httpbasic-ctl
[ -x "$CTL" ] || bail_out "pam_httpbasic-ctl not built: $CTL"
OPTIONS_C=$top_srcdir/pam_httpbasic/options.c
KEYS=$(sed -n 's/^    {"\([a-z_]*\)", OPT_.*/\1/p' "$OPTIONS_C")
[ -n "$KEYS" ] || bail_out "no option table in $OPTIONS_C"

# What a snippet cannot carry: the url when it shows only other keys, a
# store when it shows only cache or guard keys, the other half of
# client_cert/client_key, and a readable secret file (the module reads
# secret_file while parsing).  Nothing else is replaced.
printf '%s\n' 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef >"$TEST_TMP/secret"
chmod 0600 "$TEST_TMP/secret"
DEFAULT_URL=https://cloud.example.org/remote.php/dav/
# The shipped conffile, for pam.d lines that name config=/etc/security/...
cp "$top_srcdir/conf/pam_httpbasic.conf" "$TEST_TMP/pam_httpbasic.conf"
chmod 0644 "$TEST_TMP/pam_httpbasic.conf"

# parse DESC ARGS...: the module's parser only; a failure shows its error.
parse() {
    local desc=$1 out
    shift
    out=$("$CTL" check --syntax --no-config "$@" 2>&1)
    if [ $? = 0 ]; then
        pass "$desc"
    else
        fail "$desc"
        diag "$(printf '%s\n' "$out" | grep -E '^(config error|note)')"
    fi
}

# key_in FILE KEY: the snippet sets KEY (not in a comment).
key_in() { grep -Eq "^[[:space:]]*$2[[:space:]]*(=|\$)" "$1"; }

mkdir -p "$TEST_TMP/snippets"
python3 "$top_srcdir/tests/integration/doc_snippets.py" "$top_srcdir" "$TEST_TMP/snippets" "$OPTIONS_C" \
    >"$TEST_TMP/records" 2>"$TEST_TMP/extract.err" || { diag_lines <"$TEST_TMP/extract.err"; bail_out "doc_snippets.py failed"; }
ok '[ "$(grep -c "^conf" "$TEST_TMP/records")" -ge 10 ]' "at least 10 config snippets were found"
ok 'grep -q "^pam" "$TEST_TMP/records"' "pam.d lines loading the module were found"

while IFS=$'\t' read -r kind doc line a b; do
    case $kind in
    conf)
        extra=()
        key_in "$a" url || extra+=("url=$DEFAULT_URL")
        if ! key_in "$a" store; then
            if key_in "$a" store_auth_file; then
                extra+=("store=redis://127.0.0.1:6379/0")
            elif grep -Eq '^[[:space:]]*(secret_file|store_timeout|cache_[a-z_]*|guard_[a-z_]*)[[:space:]]*(=|$)' "$a"; then
                extra+=("store=lmdb:/var/cache/pam_httpbasic")
            fi
        fi
        # client_cert and client_key go together (one commented line each in the conffile).
        key_in "$a" client_cert && ! key_in "$a" client_key && extra+=("client_key=/etc/ssl/private/mail-client.key")
        key_in "$a" client_key && ! key_in "$a" client_cert && extra+=("client_cert=/etc/ssl/private/mail-client.pem")
        if key_in "$a" store || [[ " ${extra[*]} " == *" store="* ]]; then
            extra+=("secret_file=$TEST_TMP/secret")
        fi
        parse "$doc:$line: the config snippet parses" "config=$a" "${extra[@]}"
        ;;
    pam)
        IFS=$'\x1f' read -r -a args <<<"$b"
        for i in "${!args[@]}"; do
            case ${args[$i]} in config=*) args[$i]="config=$TEST_TMP/pam_httpbasic.conf" ;; esac
        done
        if [ ${#args[@]} = 0 ] && [ "${a#-}" != auth ]; then
            pass "$doc:$line: $a line without arguments (only auth reads options)"
        else
            parse "$doc:$line: the pam.d line's arguments parse" "${args[@]}"
        fi
        ;;
    untagged)
        fail "$doc:$line: a block setting '$a' is not tagged as a config snippet (\`\`\`conf, or .\\\" snippet: conf)"
        ;;
    esac
done <"$TEST_TMP/records"

# The README's inline cache snippet of issue 17 is the reason for all this:
# a '#' after a value is an error of the module's parser.
printf 'url = %s\nstore = lmdb:/var/cache/pam_httpbasic  # a comment\n' "$DEFAULT_URL" >"$TEST_TMP/inline.conf"
chmod 0644 "$TEST_TMP/inline.conf"
out=$("$CTL" check --syntax --no-config "config=$TEST_TMP/inline.conf" "secret_file=$TEST_TMP/secret" 2>&1)
like "$out" "inline\\.conf:2: store: a '#' after the value" "an inline comment is what the parser refuses (the checker would catch it)"

# The README option table: the first column of the table under
# "## Configuration", every `key` in it.
TABLE_KEYS=$(awk '/^## Configuration/ {on = 1; next} on && /^## / {on = 0} on && /^\| `/' "$top_srcdir/README.md" |
    cut -d'|' -f2 | grep -o '`[a-z_]*`' | tr -d '`' | sort -u)
ok '[ -n "$TABLE_KEYS" ]' "README.md: the option table under '## Configuration' was found"
for key in $KEYS; do
    ok 'grep -qx "$key" <<<"$TABLE_KEYS"' "README.md option table lists $key"
done
for key in $TABLE_KEYS; do
    ok 'grep -qx "$key" <<<"$KEYS"' "README.md option table: $key is a key of options.c"
done
# The man page documents every key too.
for key in $KEYS; do
    ok 'grep -q "$key" "$top_srcdir/man/pam_httpbasic.8"' "pam_httpbasic(8) names $key"
done
# Every C source and header carries its licence in an SPDX line at the top.
NO_SPDX=$(cd "$top_srcdir" && for f in pam_httpbasic/*.[ch] tests/*/*.[ch]; do
    [ -f "$f" ] && ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: BSD-3-Clause' && echo "$f"; done)
is "$NO_SPDX" "" "every .c and .h file starts with an SPDX-License-Identifier line"

done_testing
