#!/usr/bin/env bash
# scripts/cross.sh (make cross, issue 11 item 1): the core as a static library for the mobile targets,
# built on this Linux machine with Debian's clang instead of the Android NDK / Xcode. Fails on any error.
#
# What is proven here, per target: `cargo rustc --release --lib --crate-type staticlib --target T` completes,
# i.e. every Rust crate compiles for T and ring's C and assembly are compiled and archived by
# `clang --target=…`. The static library is then checked: it exists, its objects are of the target's
# architecture (llvm-objdump/llvm-nm) and it defines the C API (every `realtime_*` function of
# include/realtime.h).
#
# What is NOT proven here (needs the NDK or a Mac; README "Mobile builds"):
#   * Android: linking librealtime.so per ABI against the NDK's bionic libc/libdl/liblog/libunwind
#     (`cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -P 21 -o build/jniLibs build --profile dist`); ring's C is
#     compiled without libc headers (-nostdlibinc + RING_CORE_NOSTDLIBINC, the mode ring itself uses for
#     sysroot-less cross builds; on x86_64 only clang's <immintrin.h> pulls in glibc's <stdlib.h>, for
#     declarations ring does not use), so nothing from glibc ends up in the Android objects.
#   * iOS: the Apple SDK. ring's C includes <TargetConditionals.h>; here a stub of it (scripts/cross/apple,
#     the only macros ring reads) stands in, so the objects are compiled but never against the real SDK,
#     and nothing is linked. The Mac step builds both .a files with Xcode's clang and wraps them with
#     `xcodebuild -create-xcframework`.
#   * aarch64-apple-ios-sim: when `rustup target add` cannot fetch its rust-std (some mirrors lack it), the
#     nightly toolchain builds std from source (-Zbuild-std) if rust-src is installed; otherwise this fails.
#
# Environment: CROSS_TARGETS="t1 t2" to build a subset; CROSS_PROFILE (default release).
set -euo pipefail
cd "$(dirname "$0")/.."
# Cargo's output for these builds lives in a per-user cache that every checkout on this machine shares
# (a clean CI clone reuses it, cargo's fingerprints keep it right); nothing depends on it being there.
export CARGO_TARGET_DIR=${CROSS_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/realtime/target-cross}
ROOT=$PWD

TARGETS=${CROSS_TARGETS:-"aarch64-linux-android armv7-linux-androideabi x86_64-linux-android aarch64-apple-ios aarch64-apple-ios-sim"}
PROFILE=${CROSS_PROFILE:-release}
ANDROID_API=${ANDROID_API:-21}
IOS_MIN=${IOS_MIN:-13.0}
CARGO=${CARGO:-cargo}

# --- host tools -------------------------------------------------------------------------------------
need_pkgs=()
command -v clang >/dev/null 2>&1 || need_pkgs+=(clang)
command -v ld.lld >/dev/null 2>&1 || need_pkgs+=(lld)
{ command -v llvm-ar && command -v llvm-nm && command -v llvm-objdump; } >/dev/null 2>&1 || need_pkgs+=(llvm)
if ((${#need_pkgs[@]})); then
  echo "cross: installing ${need_pkgs[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

installed=$(rustup target list --installed)
declare -A TOOLCHAIN
for t in $TARGETS; do
  TOOLCHAIN[$t]=""
  grep -qx "$t" <<<"$installed" && continue
  if rustup target add "$t" >/dev/null 2>&1; then continue; fi
  # No prebuilt std for this target on the mirror: build std from source with nightly.
  if rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
    echo "cross: no prebuilt rust-std for $t here; using nightly -Zbuild-std"
    TOOLCHAIN[$t]=nightly
  else
    echo "cross: cannot install the Rust target $t (rustup target add failed, no nightly rust-src)" >&2
    exit 1
  fi
done

# --- per target ------------------------------------------------------------------------------------
NOSTD="-nostdlibinc -DRING_CORE_NOSTDLIBINC=1"
# the C API: every exported function the header declares
mapfile -t API < <(grep -o '\brealtime_[a-z0-9_]*(' include/realtime.h | tr -d '(' | sort -u)
((${#API[@]})) || { echo "cross: no realtime_* functions found in include/realtime.h" >&2; exit 1; }

declare -A RESULT
for t in $TARGETS; do
  case $t in
    aarch64-linux-android)   clang_t=aarch64-linux-android$ANDROID_API; arch_re='aarch64';         extra="" ;;
    armv7-linux-androideabi) clang_t=armv7a-linux-androideabi$ANDROID_API; arch_re='(arm|ARM)';    extra="-march=armv7-a -mthumb -mfpu=neon -mfloat-abi=softfp" ;;
    # x86_64: clang's <immintrin.h> (ring's ADX curve25519) includes <stdlib.h> for _mm_malloc, which ring
    # never calls: the host's glibc headers (libc6-dev, x86_64 LP64 like bionic) satisfy that include.
    x86_64-linux-android)    clang_t=x86_64-linux-android$ANDROID_API; arch_re='x86-64|x86_64';
                             extra="-isystem /usr/include/x86_64-linux-gnu -isystem /usr/include" ;;
    aarch64-apple-ios)       clang_t=arm64-apple-ios$IOS_MIN; arch_re='arm64|aarch64';             extra="-I$ROOT/scripts/cross/apple" ;;
    aarch64-apple-ios-sim)   clang_t=arm64-apple-ios$IOS_MIN-simulator; arch_re='arm64|aarch64';   extra="-I$ROOT/scripts/cross/apple -DREALTIME_STUB_SIMULATOR=1" ;;
    *) echo "cross: unknown target $t" >&2; exit 1 ;;
  esac
  tu=${t//-/_}
  tc=${TOOLCHAIN[$t]}
  echo "=== $t (clang --target=$clang_t${tc:+, toolchain $tc + -Zbuild-std})"
  args=(rustc --profile "$PROFILE" --lib --crate-type staticlib --target "$t" --locked)
  [[ -n $tc ]] && args=(+"$tc" "${args[@]}" -Zbuild-std=std,panic_unwind)
  sdk=()
  # cc-rs asks `xcrun` for the SDK unless SDKROOT is set: an empty directory (there is no SDK here; ring's C
  # needs only clang's own headers with -nostdlibinc and the stub above).
  [[ $t == *-apple-* ]] && { mkdir -p "$ROOT/build/cross/no-sdk"; sdk=("SDKROOT=$ROOT/build/cross/no-sdk" "IPHONEOS_DEPLOYMENT_TARGET=$IOS_MIN"); }
  env "${sdk[@]}" "CC_$tu=clang" "CFLAGS_$tu=--target=$clang_t $NOSTD $extra" "AR_$tu=llvm-ar" \
    "$CARGO" "${args[@]}"

  dir=$PROFILE; [[ $PROFILE == dev ]] && dir=debug
  lib=$CARGO_TARGET_DIR/$t/$dir/librealtime.a
  [[ -s $lib ]] || { echo "cross: $lib missing" >&2; exit 1; }
  # architecture of the archive's objects (Rust and ring's C alike)
  fmts=$( { llvm-objdump -a -f "$lib" 2>/dev/null || true; } | sed -n 's/.*file format //p' | sort -u | tr '\n' ' ')
  if ! grep -Eq "$arch_re" <<<"$fmts"; then echo "cross: $lib: unexpected object formats: $fmts" >&2; exit 1; fi
  if grep -Eqi 'x86-64' <<<"$fmts" && [[ $t != x86_64-* ]]; then echo "cross: $lib contains x86-64 objects: $fmts" >&2; exit 1; fi
  # the C API is defined, and ring's C is in (one of its symbols)
  # (LLVM 14's llvm-nm cannot read rustc's compiler_builtins members and says so; the rest is listed)
  defined=$( { llvm-nm --defined-only -j "$lib" 2>/dev/null || true; } | sed 's/^_//' | sort -u)
  missing=$(comm -23 <(printf '%s\n' "${API[@]}") <(printf '%s\n' "$defined") | tr '\n' ' ')
  [[ -z $missing ]] || { echo "cross: $lib lacks: $missing" >&2; exit 1; }
  grep -q '^ring_core_.*gcm_init\|^ring_core_.*x25519' <<<"$defined" || { echo "cross: $lib has no ring C objects" >&2; exit 1; }
  size=$(stat -c %s "$lib")
  RESULT[$t]="$lib  $(numfmt --to=iec-i --suffix=B "$size")  [${fmts% }]  ${#API[@]}/${#API[@]} realtime_* defined"
done

# --- report ----------------------------------------------------------------------------------------
[[ -n ${CROSS_QUIET:-} ]] && exit 0
echo
echo "cross: built and checked here (Rust compiled for the target, ring's C/asm compiled by clang, archived):"
for t in $TARGETS; do echo "  ok  $t: ${RESULT[$t]}"; done
cat <<'MSG'
cross: NOT proven here (see README "Mobile builds"):
  Android  linking librealtime.so per ABI against bionic (needs the NDK):
             cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -P 21 -o build/jniLibs build --profile dist
  iOS      ring's C against the real Apple SDK (here: a stub TargetConditionals.h, -nostdlibinc) and the
           XCFramework (needs a Mac with Xcode):
             cargo build --profile dist --lib --target aarch64-apple-ios
             cargo build --profile dist --lib --target aarch64-apple-ios-sim
             xcodebuild -create-xcframework \
               -library target/aarch64-apple-ios/dist/librealtime.a -headers include \
               -library target/aarch64-apple-ios-sim/dist/librealtime.a -headers include \
               -output build/Realtime.xcframework
MSG
