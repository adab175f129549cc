#!/usr/bin/env bash
# make install into a temporary prefix, then build tests/pkg/consumer.c against the installed copy with
# pkg-config (shared and static) and with CMake (find_package(realtime)), and run each against the
# bundled server (REALTIME_TEST_URL, from tests/server/with-server.js). Also checks the installed CLI
# and man page.
set -uo pipefail
URL=${REALTIME_TEST_URL:?run through tests/server/with-server.js}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prefix=$(mktemp -d /tmp/realtime-prefix.XXXXXX)
work=$(mktemp -d /tmp/realtime-consumer.XXXXXX)
trap 'rm -rf "$prefix" "$work"' EXIT
passed=0
failed=0
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "  ok   $name"; else failed=$((failed + 1)); echo "  FAIL $name"; fi
}

echo "== install into $prefix"
make -C "$root" --no-print-directory install PREFIX="$prefix" >"$work/install.log" 2>&1
check "make install PREFIX=… succeeds" test $? = 0 || cat "$work/install.log"
for f in include/realtime.h lib/librealtime.a lib/librealtime.so lib/pkgconfig/realtime.pc \
         lib/cmake/realtime/realtimeConfig.cmake lib/cmake/realtime/realtimeConfigVersion.cmake \
         bin/realtime share/man/man1/realtime.1; do
  check "installed $f" test -e "$prefix/$f"
done

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc_flags=$(pkg-config --cflags --libs realtime)
check "pkg-config knows realtime $(pkg-config --modversion realtime)" test -n "$cc_flags"
cc -std=c11 -Wall -Wextra -Werror -o "$work/consumer_pc" "$here/consumer.c" $cc_flags -pthread \
  -Wl,-rpath,"$prefix/lib"
check "pkg-config --cflags --libs: builds (shared)" test $? = 0
check "pkg-config build links the installed shared library" \
  grep -q "$prefix/lib/librealtime.so" <(ldd "$work/consumer_pc")
out=$("$work/consumer_pc" "$URL"); check "pkg-config build runs against the server ($out)" test $? = 0

cc -std=c11 -Wall -Wextra -Werror -o "$work/consumer_pc_static" "$here/consumer.c" \
  $(pkg-config --cflags realtime) "$prefix/lib/librealtime.a" $(pkg-config --static --libs-only-l realtime | sed 's/-lrealtime//') -pthread
check "pkg-config --static: builds" test $? = 0
out=$("$work/consumer_pc_static" "$URL"); check "static build runs against the server ($out)" test $? = 0

cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_RPATH="$prefix/lib" \
  >"$work/cmake.log" 2>&1 && cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1
check "CMake find_package(realtime 0.1): configures and builds" test $? = 0 || cat "$work/cmake.log"
out=$("$work/cmake/consumer_shared" "$URL"); check "CMake realtime::realtime runs ($out)" test $? = 0
out=$("$work/cmake/consumer_static" "$URL"); check "CMake realtime::realtime_static runs ($out)" test $? = 0

mkdir -p "$work/v9" && sed 's/find_package(realtime 0.1 /find_package(realtime 9.0 /' "$here/CMakeLists.txt" \
  >"$work/v9/CMakeLists.txt" && cp "$here/consumer.c" "$work/v9/"
! cmake -S "$work/v9" -B "$work/v9/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1
check "CMake refuses find_package(realtime 9.0) (version file)" test $? = 0
"$prefix/bin/realtime" --help | grep -q 'usage: realtime connect'
check "installed CLI runs (--help)" test $? = 0
out=$("$prefix/bin/realtime" connect "$URL" -q emit --ack echo '["cli"]')
check "installed CLI talks to the server" test "$out" = 'ack ["cli"]'
check "man page renders" bash -c "man -l '$prefix/share/man/man1/realtime.1' 2>/dev/null | grep -q 'EXIT STATUS' || grep -q 'EXIT STATUS' '$prefix/share/man/man1/realtime.1'"

echo "install: $passed passed, $failed failed"
test "$failed" = 0
