#!/usr/bin/env bash
# Builds the JNI bridge bindings/kotlin/src/main/c/realtime_jni.c into one self-contained shared library
# (librealtime.a linked in statically, its symbols hidden): bindings/kotlin/target/native/librealtime_jni.so.
#
# Usage: bindings/kotlin/build-jni.sh [OUTPUT_DIR]      (run by Maven in generate-resources; also by hand)
# Needs target/release/librealtime.a (`cargo build --release` / `make build` first; this script does not
# run cargo). Rebuilds only when the C source, the header or the static library is newer than the output.
# Environment: CC (default gcc), JAVA_HOME (default: derived from javac on PATH), REALTIME_LIB_A.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out_dir="${1:-$here/target/native}"
out="$out_dir/librealtime_jni.so"
src="$here/src/main/c/realtime_jni.c"
header="$root/include/realtime.h"
lib_a="${REALTIME_LIB_A:-$root/target/release/librealtime.a}"
cc="${CC:-gcc}"

if [ -z "${JAVA_HOME:-}" ]; then
  javac_path="$(command -v javac || true)"
  if [ -z "$javac_path" ]; then
    echo "build-jni.sh: JAVA_HOME is not set and javac is not on PATH" >&2
    exit 1
  fi
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$javac_path")")")"
fi
if [ ! -f "$JAVA_HOME/include/jni.h" ]; then
  echo "build-jni.sh: no jni.h under $JAVA_HOME/include (set JAVA_HOME to a JDK)" >&2
  exit 1
fi
if [ ! -f "$lib_a" ]; then
  echo "build-jni.sh: $lib_a is missing: run 'cargo build --release' (or 'make build') in $root first" >&2
  exit 1
fi

if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$header" ] && [ "$out" -nt "$lib_a" ] \
   && [ "$out" -nt "$0" ]; then
  echo "build-jni.sh: $out is up to date"
  exit 0
fi

mkdir -p "$out_dir"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# --exclude-libs,ALL: the Rust library's symbols stay internal to this .so (only Java_* and JNI_OnLoad
# are exported), so it cannot clash with another copy of librealtime loaded in the same process.
"$cc" -std=c11 -D_GNU_SOURCE -O2 -shared -fPIC -Wall -Wextra -Werror \
  -I"$JAVA_HOME/include" -I"$JAVA_HOME/include/linux" -I"$root/include" \
  -o "$tmp" "$src" "$lib_a" \
  -Wl,--exclude-libs,ALL -Wl,--gc-sections -Wl,--strip-debug -Wl,-z,defs -Wl,-z,noexecstack \
  -lpthread -ldl -lm
mv "$tmp" "$out"
trap - EXIT
echo "build-jni.sh: built $out"
