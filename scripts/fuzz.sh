#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder (fuzz/fuzz_targets/*.rs, libFuzzer through libfuzzer-sys),
# without cargo-fuzz: the nightly toolchain with the flags cargo-fuzz passes (SanitizerCoverage with
# inline 8-bit counters, comparison tracing, AddressSanitizer, --cfg fuzzing).
#
#   scripts/fuzz.sh SECONDS [TARGET...]     each target for SECONDS seconds (default: every target)
#
# The working corpus and the build live in $FUZZ_WORK (default ~/.cache/realtime/fuzz: shared by every
# checkout on this machine, kept between runs, never required); corpus/<target>, seeded from fuzz/regressions/<target>. A crash or a timeout fails the run;
# its input is copied to fuzz/regressions/<target>/ so that `cargo test` (src/fuzzing.rs) replays it from
# then on: commit it with the fix. Prints per target: runs, execs/s, coverage (cov = edges, ft = features),
# corpus size.
set -euo pipefail

seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
work=${FUZZ_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/realtime/fuzz}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$root"/fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

host=$(rustc +nightly -vV | sed -n 's/^host: //p')
if [ -z "$host" ]; then
    echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 2
fi

export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address -Cdebug-assertions \
-Coverflow-checks"
export CARGO_TARGET_DIR="$work/target"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo +nightly build --quiet --release --manifest-path "$root/fuzz/Cargo.toml" --target "$host" "${bins[@]}"

status=0
printf '%-11s %10s %9s %7s %7s %7s\n' target runs exec/s cov ft corpus
for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    artifacts="$work/artifacts/$t"
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    seeds="$root/fuzz/regressions/$t"
    [ -d "$seeds" ] || mkdir -p "$seeds"
    log="$work/$t.log"
    set +e
    ASAN_OPTIONS=detect_leaks=1 "$CARGO_TARGET_DIR/$host/release/$t" "$corpus" "$seeds" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    printf '%-11s %10s %9s %7s %7s %7s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
        "$(find "$corpus" -type f | wc -l)"
    if [ $rc -ne 0 ]; then
        status=1
        echo "fuzz: $t failed (exit $rc); the last lines of $log:" >&2
        tail -n 40 "$log" >&2
        for a in "$artifacts"/*; do
            [ -f "$a" ] || continue
            cp "$a" "$seeds/"
            echo "fuzz: kept $(basename "$a") as fuzz/regressions/$t/$(basename "$a") (replayed by cargo test)" >&2
        done
    fi
done
exit $status
