#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The built module as a shared object: it dlopens cleanly, exports only the
# pam_sm_* entry points, stays loaded (-z nodelete), is hardened (now, relro,
# no executable stack, no rpath) and resolves all its symbols.
. "$(dirname "$0")/lib.sh"
[ -f "$MODULE" ] || bail_out "module not built: $MODULE"

exported=$(nm -D --defined-only "$MODULE" | awk 'NF == 3 { print $3 }' | sort | tr '\n' ' ')
is "$exported" "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok pam_sm_setcred " \
    "nm -D --defined-only: exactly the pam_sm_* entry points"
others=$(nm -D --defined-only "$MODULE" | awk 'NF == 3 && $3 !~ /^pam_sm_/ { print $3 }')
is "$others" "" "no other defined dynamic symbol"

dl=$(env ${SAN_PRELOAD:+LD_PRELOAD=$SAN_PRELOAD ASAN_OPTIONS=detect_leaks=0} python3 - "$MODULE" <<'EOF' 2>&1
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1], mode=os.RTLD_NOW | os.RTLD_LOCAL)
want = ["pam_sm_authenticate", "pam_sm_setcred", "pam_sm_acct_mgmt", "pam_sm_chauthtok"]
hidden = ["hb_check", "hb_config_load", "hb_check_user", "hb_map_user", "hb_log_escape",
          "hb_build_headers", "hb_verdict_for_status", "pam_sm_open_session", "pam_sm_close_session"]
print("found=" + ",".join(n for n in want if hasattr(lib, n)))
print("leaked=" + ",".join(n for n in hidden if hasattr(lib, n)))
EOF
)
like "$dl" '^found=pam_sm_authenticate,pam_sm_setcred,pam_sm_acct_mgmt,pam_sm_chauthtok$' \
    "dlopen(RTLD_NOW) works and dlsym finds the four pam_sm_* functions"
like "$dl" '^leaked=$' "dlsym finds none of the internal functions (nor session hooks)"

dyn=$(readelf -dW "$MODULE")
like "$dyn" 'FLAGS_1.*NODELETE' "linked with -z nodelete (stays loaded after pam_end)"
like "$dyn" '(BIND_NOW|FLAGS_1.*NOW)' "linked with -z now"
unlike "$dyn" '(RPATH|RUNPATH)' "no RPATH/RUNPATH"
like "$dyn" 'NEEDED.*libcurl' "needs libcurl"
like "$dyn" 'NEEDED.*libpam\.so' "needs libpam"
phdr=$(readelf -lW "$MODULE")
like "$phdr" 'GNU_RELRO' "has a RELRO segment"
like "$phdr" 'GNU_STACK +(0x[0-9a-f]+ +){5}RW ' "non-executable stack"
undef=$(LC_ALL=C ldd -r "$MODULE" 2>&1 | grep -c 'undefined symbol')
is "$undef" 0 "ldd -r: no undefined symbols"

done_testing
