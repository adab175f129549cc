#!/usr/bin/env bash
# The Android side of the Kotlin SDK, as far as a Linux machine without the NDK can prove it (issue 11 item 2):
#
#  1. the JNI bridge built by CMake (bindings/kotlin/src/main/c/CMakeLists.txt, what the Android Gradle
#     plugin's externalNativeBuild runs), for the host: its only exported symbols are Java_* and JNI_OnLoad,
#     every JNI function the Kotlin code declares is there, and the Kotlin suite's ConnectionTest passes
#     with that library loaded instead of build-jni.sh's;
#  2. an AAR in the layout Android tooling reads: AndroidManifest.xml (minSdk 21), classes.jar (the Kotlin
#     classes, without the jar's bundled host library), R.txt, jni/<abi>/librealtime_jni.so. Here the host
#     library stands in under jni/x86_64/ (it links against glibc, so no device can load it); the NDK step
#     in the README ("Mobile builds") builds the real ABIs into the same places.
#
# Usage: scripts/android-aar.sh [--no-test]     (after `make kotlin-test`, which compiled the classes)
# Output: build/android/realtime-kotlin-<version>.aar; CMake's tree in build/android/jni-cmake.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
run_test=1
[ "${1:-}" = "--no-test" ] && run_test=0

out=build/android
classes=bindings/kotlin/target/classes
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
lib_a=$root/target/release/librealtime.a
[ -f "$lib_a" ] || { echo "android-aar: $lib_a is missing (make build)" >&2; exit 1; }
[ -d "$classes/dev/realtime" ] || { echo "android-aar: no $classes (make kotlin-test first)" >&2; exit 1; }

if [ -z "${JAVA_HOME:-}" ]; then # FindJNI looks there first; derive it from javac as build-jni.sh does
  javac_path=$(command -v javac || true)
  [ -n "$javac_path" ] || { echo "android-aar: JAVA_HOME is not set and javac is not on PATH" >&2; exit 1; }
  export JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$javac_path")")")
fi

echo "== the JNI bridge through CMake"
cmake -S bindings/kotlin/src/main/c -B "$out/jni-cmake" -DCMAKE_BUILD_TYPE=Release -DREALTIME_LIB_A="$lib_a" >/dev/null
cmake --build "$out/jni-cmake" >/dev/null
so=$out/jni-cmake/librealtime_jni.so
[ -f "$so" ] || { echo "android-aar: CMake built no $so" >&2; exit 1; }

exported=$(nm -D --defined-only "$so" | awk '{print $3}' | sort)
stray=$(grep -v -e '^Java_' -e '^JNI_OnLoad$' -e '^JNI_OnUnload$' <<<"$exported" || true)
if [ -n "$stray" ]; then
  echo "android-aar: $so exports more than JNI entry points:" >&2
  echo "$stray" | head -20 >&2
  exit 1
fi
# Every `external fun` of the Kotlin code has its Java_dev_realtime_Native_* symbol.
declared=$(sed -n 's/.*external fun \([A-Za-z0-9_]*\).*/Java_dev_realtime_Native_\1/p' \
  bindings/kotlin/src/main/kotlin/dev/realtime/*.kt | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
if [ -n "$missing" ]; then
  echo "android-aar: JNI functions declared in Kotlin but missing from $so:" >&2
  echo "$missing" >&2
  exit 1
fi
echo "   $so: $(wc -l <<<"$exported") JNI symbols exported, nothing else; all $(wc -l <<<"$declared") declared ones present"

if [ "$run_test" = 1 ]; then
  echo "== ConnectionTest with the CMake-built bridge"
  log=$out/connection-test.log
  if ! node tests/server/with-server.js -- mvn -B -f bindings/kotlin/pom.xml surefire:test \
      -Dtest=ConnectionTest -Drealtime.jni.lib="$root/$so" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "android-aar: ConnectionTest failed with the CMake-built bridge (log: $log)" >&2
    exit 1
  fi
  summary=$(grep -E '^\[INFO\] Tests run: [0-9]+, Failures: 0, Errors: 0' "$log" | tail -1)
  [ -n "$summary" ] && ! grep -q 'Tests run: 0,' <<<"$summary" ||
    { echo "android-aar: no ConnectionTest ran (log: $log)" >&2; exit 1; }
  echo "   ${summary#\[INFO\] }"
fi

echo "== the AAR"
stage=$out/aar
rm -rf "$stage"
mkdir -p "$stage/jni/x86_64"
cat >"$stage/AndroidManifest.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="dev.realtime">
    <uses-sdk android:minSdkVersion="21" />
    <uses-permission android:name="android.permission.INTERNET" />
</manifest>
EOF
: >"$stage/R.txt"
(cd "$classes" && jar --create --file "$root/$stage/classes.jar" $(find . -type f ! -path './dev/realtime/native/*' | sort))
cp "$so" "$stage/jni/x86_64/librealtime_jni.so"
aar=$out/realtime-kotlin-$version.aar
rm -f "$aar"
(cd "$stage" && jar --create --no-manifest --file "$root/$aar" AndroidManifest.xml R.txt classes.jar jni)

listing=$(unzip -Z1 "$aar")
for entry in AndroidManifest.xml R.txt classes.jar jni/x86_64/librealtime_jni.so; do
  grep -qx "$entry" <<<"$listing" || { echo "android-aar: $aar has no $entry" >&2; exit 1; }
done
jar_listing=$(unzip -Z1 "$stage/classes.jar")
for entry in dev/realtime/RealtimeClient.class dev/realtime/Native.class; do
  grep -qx "$entry" <<<"$jar_listing" || { echo "android-aar: classes.jar has no $entry" >&2; exit 1; }
done
if grep -q '\.so$' <<<"$jar_listing"; then
  echo "android-aar: classes.jar carries a native library (the AAR's go under jni/<abi>/)" >&2
  exit 1
fi
echo "   $aar: $(wc -l <<<"$listing") entries, classes.jar with $(grep -c '\.class$' <<<"$jar_listing") classes"
