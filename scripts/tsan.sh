#!/usr/bin/env bash
# The C suite under ThreadSanitizer, against a TSan-built library.
#
#   scripts/tsan.sh [TEST...]       the named tests/c/test_*.c programs (default: TSAN_TESTS below)
#
# The library is built by the nightly toolchain with -Zsanitizer=thread and -Zbuild-std (the standard
# library instrumented too, so its atomics and locks are seen), into build/tsan/target. The C programs are
# compiled with -fsanitize=thread (instrumentation only) and linked against rustc's own TSan runtime
# (librustc-nightly_rt.tsan.a), not the C compiler's: one runtime in the process, the one the Rust code was
# built for. Any report fails the run (TSAN_OPTIONS halt_on_error=1, exitcode=66).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=build/tsan
# The instrumented build (std included) lives in a per-user cache every checkout on this machine shares;
# nothing depends on it being there. TSAN_TARGET_DIR overrides.
target_dir=${TSAN_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/realtime/target-tsan}
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
sysroot=$(rustc +nightly --print sysroot)
runtime="$sysroot/lib/rustlib/$host/lib/librustc-nightly_rt.tsan.a"
[ -f "$runtime" ] || { echo "tsan: no $runtime (nightly toolchain missing?)" >&2; exit 2; }
rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src' ||
    rustup component add rust-src --toolchain nightly

# Every C program but test_allocations, which defines malloc itself (TSan's interceptors own it).
TSAN_TESTS=()
for f in tests/c/test_*.c; do
    t=$(basename "$f" .c)
    [ "$t" = test_allocations ] || TSAN_TESTS+=("$t")
done
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("${TSAN_TESTS[@]}")

RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers=yes" \
    cargo +nightly build --quiet --release --lib -Zbuild-std --target "$host" --target-dir "$target_dir"
lib="$target_dir/$host/release/librealtime.a"

mkdir -p "$work/bin"
cc=${CC:-cc}
cflags=(-std=c11 -Wall -Wextra -g -O1 -fno-omit-frame-pointer -Iinclude -Itests/c -Ibuild/c-gen -pthread)
"$cc" "${cflags[@]}" -fsanitize=thread -c -o "$work/bin/harness.o" tests/c/harness.c
status=0
for t in "${tests[@]}"; do
    "$cc" "${cflags[@]}" -fsanitize=thread -c -o "$work/bin/$t.o" "tests/c/$t.c"
    "$cc" -pthread -o "$work/bin/$t" "$work/bin/$t.o" "$work/bin/harness.o" "$lib" \
        -Wl,--whole-archive "$runtime" -Wl,--no-whole-archive -lpthread -ldl -lm -lrt
    echo "--- tsan-$t"
    start=$(date +%s)
    if ! TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$root/tests/c/tsan.supp" \
        "./$work/bin/$t"; then
        echo "*** TSan test FAILED: $t ($work/bin/$t)"
        status=1
        break
    fi
    echo "    ($(( $(date +%s) - start )) s under TSan)"
done
[ $status -ne 0 ] || echo "all ${#tests[@]} C tests passed (tsan, 0 reports)"
exit $status
