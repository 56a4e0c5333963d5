#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/fuzz/run.sh - build the libFuzzer targets and run each for a bounded time.
#
# Debian 12 packages needed (as root: apt-get install -y --no-install-recommends ...):
#   clang-14 libclang-rt-14-dev libcurl4-openssl-dev libpam0g-dev pkg-config
#   (libclang-rt-14-dev holds libFuzzer and the sanitizer runtimes: clang-14
#   only recommends it; llvm-14, recommended by clang-14, gives symbolized
#   stack traces and is optional)
#
# Usage: tests/fuzz/run.sh [TARGET...]     (default: all four targets)
# Environment:
#   FUZZ_SECONDS    run time per target, default 60
#   FUZZ_BUILD_DIR  where the binaries and crash inputs go, default tests/fuzz/build
#   FUZZ_CC         compiler, default clang-14 (or clang)
#   FUZZ_LAX_URL=1  fuzz_config: skip the textual "url starts with https://" check
#
# The targets compile pam_httpbasic/{options,validate,check,answer}.c (and what they link) directly with
# -fsanitize=fuzzer,address,undefined; no configure run is needed.  Each runs
# on a copy of its seed corpus in a temp directory, so the repo is not
# modified; crash inputs are kept in FUZZ_BUILD_DIR/artifacts/TARGET/.
# Output is TAP; the exit status is non-zero when a target crashed, leaked,
# timed out or did not build.  Reproduce a crash with its input:
#   tests/fuzz/build/TARGET tests/fuzz/build/artifacts/TARGET/crash-...
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
src="$top/pam_httpbasic"
build=${FUZZ_BUILD_DIR:-$here/build}
seconds=${FUZZ_SECONDS:-60}
all_targets=(fuzz_config fuzz_validate fuzz_headers fuzz_answer)

if [[ ! $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "FUZZ_SECONDS must be a positive whole number of seconds, not '$seconds'" >&2
    exit 2
fi
if [ $# -gt 0 ]; then
    targets=("$@")
    for t in "${targets[@]}"; do
        [ -f "$here/$t.c" ] || { echo "unknown target: $t (have: ${all_targets[*]})" >&2; exit 2; }
    done
else
    targets=("${all_targets[@]}")
fi

cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
    for c in clang-14 clang; do
        if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
    done
fi
if [ -z "$cc" ]; then
    echo "1..0 # SKIP no clang; apt-get install clang-14 libclang-rt-14-dev libcurl4-openssl-dev libpam0g-dev" >&2
    echo "Bail out! clang not found"
    exit 1
fi

version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac" | head -n 1)
curl_cflags=$(pkg-config --cflags libcurl lmdb hiredis libcrypto 2>/dev/null || true)
curl_libs=$(pkg-config --libs libcurl lmdb hiredis libcrypto 2>/dev/null || echo -lcurl -llmdb -lhiredis -lcrypto)
cflags=(-g -O1 -fno-omit-frame-pointer -pthread
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -Wall -Wextra -Werror=implicit-function-declaration -D_GNU_SOURCE
        "-DPACKAGE_VERSION=\"${version:-fuzz}\"" -I "$src")

work=$(mktemp -d "${TMPDIR:-/tmp}/hb_fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$build"

# libFuzzer itself present?  (clang-14 does not pull in libclang-rt-14-dev.)
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void) d; (void) n; return 0; }\n' \
    > "$work/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$work/probe" "$work/probe.c" >"$work/probe.log" 2>&1; then
    sed 's/^/# /' "$work/probe.log"
    echo "Bail out! $cc cannot link -fsanitize=fuzzer: apt-get install libclang-rt-14-dev"
    exit 1
fi

symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
if [ -n "$symbolizer" ]; then export ASAN_SYMBOLIZER_PATH=$symbolizer; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "# compiler: $("$cc" --version | head -n 1); $seconds s per target"
echo "1..${#targets[@]}"
n=0
passed=0
failed=0
for t in "${targets[@]}"; do
    n=$((n + 1))
    log="$build/$t.log"
    # shellcheck disable=SC2086  # curl flags are word lists
    if ! "$cc" "${cflags[@]}" $curl_cflags -o "$build/$t" "$here/$t.c" \
            "$src/options.c" "$src/url.c" "$src/files.c" "$src/validate.c" "$src/check.c" "$src/answer.c" "$src/health.c" "$src/mac.c" \
            "$src/store.c" "$src/store_lmdb.c" "$src/store_lmdb_dir.c" "$src/store_redis.c" "$src/store_redis_conn.c" $curl_libs >"$build/$t.build.log" 2>&1; then
        sed 's/^/# /' "$build/$t.build.log"
        echo "not ok $n - $t: build failed"
        failed=$((failed + 1))
        continue
    fi

    corpus="$work/corpus/$t"
    artifacts="$build/artifacts/$t"
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts" "$work/tmp/$t"
    if [ -d "$here/corpus/$t" ]; then cp -R "$here/corpus/$t/." "$corpus/"; fi
    opts=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1
          -artifact_prefix="$artifacts/")
    if [ -f "$here/$t.dict" ]; then opts+=(-dict="$here/$t.dict"); fi
    if [ "$t" = fuzz_config ]; then opts+=(-max_len=8192); fi   # reach the file's line-length limit

    start=$(date +%s)
    # TMPDIR: fuzz_config's config file lives (and is removed) in the work dir.
    # The outer timeout only guards against a hang of libFuzzer itself.
    TMPDIR="$work/tmp/$t" timeout -k 10 $((seconds + 120)) \
        "$build/$t" "${opts[@]}" "$corpus" </dev/null >"$log" 2>&1
    rc=$?
    elapsed=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    runs=${runs:-0}
    echo "# $t: $runs executions in ${elapsed} s ($(( runs / (elapsed > 0 ? elapsed : 1) ))/s), corpus $(ls "$corpus" | wc -l) files"
    if [ "$rc" -eq 0 ] && [ "$runs" -gt 0 ]; then
        echo "ok $n - $t: $runs runs, no crash"
        passed=$((passed + 1))
    else
        echo "not ok $n - $t: exit $rc after $runs runs (log: $log)"
        grep -E 'invariant violated|ERROR: |SUMMARY: |^ *#[0-9]+ 0x[0-9a-f]+ in |Test unit written|^Base64:' "$log" \
            | grep -v -E 'in (fuzzer::|__sanitizer|__libc_start|_start|main |__asan|__ubsan|raise|abort|__pthread_kill)' \
            | head -n 40 | sed 's/^/# /'
        for a in "$artifacts"/*; do
            if [ -f "$a" ]; then echo "# reproduce: $build/$t $a"; fi
        done
        failed=$((failed + 1))
    fi
done
echo "# $passed passed, $failed failed"
[ "$failed" -eq 0 ]
