#!/usr/bin/env bash
# The `realtime` CLI against the bundled socket.io server (REALTIME_TEST_URL, from with-server.js):
# people's output, --json, every exit code, and one run through a pseudo-terminal as a person types it.
set -uo pipefail
CLI=${1:?usage: test_cli.sh PATH_TO_CLI}
URL=${REALTIME_TEST_URL:?run through tests/server/with-server.js}
passed=0
failed=0

check() { # name, condition (as a command), detail
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "  ok   $name"; else failed=$((failed + 1)); echo "  FAIL $name"; fi
}

run() { # captures stdout/stderr/exit code of the CLI
  out=$("$CLI" "$@" 2>/tmp/rt-cli-err.$$); code=$?; err=$(cat /tmp/rt-cli-err.$$)
}

echo "== cli"
run --help
check "--help prints the usage and exits 0" test "$code" = 0 -a -n "$(grep -c 'usage: realtime connect' <<<"$out")"

run connect "$URL"
check "connect alone: exit 0, prints the socket id" test "$code" = 0
check "connect alone: 'connected <id>' on stderr" grep -Eq '^connected [A-Za-z0-9_-]{10,}$' <<<"$err"

run connect "$URL" emit --ack echo '["hi",{"n":1}]'
check "emit --ack: exit 0" test "$code" = 0
check "emit --ack: prints the answer" test "$out" = 'ack ["hi",{"n":1}]'

run connect "$URL" --json emit --ack echo '[1,2]'
check "--json emit --ack: exit 0" test "$code" = 0
check "--json: a connected line with the id" grep -Eq '^\{"type":"connected","id":"[^"]+"\}$' <<<"$out"
check "--json: the ack as JSON" grep -qx '{"type":"ack","args":\[1,2\]}' <<<"$out"

run connect "$URL" -q emit echo '["ping"]' listen echo --count 1
check "emit then listen: exit 0" test "$code" = 0
check "listen prints 'echo [\"ping\"]'" test "$out" = 'echo ["ping"]'

run connect "$URL" --json emit echo '["a"]' emit echo '["b"]' listen --count 2
check "listen --count 2 --json: exit 0" test "$code" = 0
check "listen --json: both events, in order" test "$(grep '"type":"event"' <<<"$out" | tr -d '\n')" = \
  '{"type":"event","event":"echo","args":["a"]}{"type":"event","event":"echo","args":["b"]}'

run connect "$URL" -q listen nothing-comes --count 1 --timeout 300
check "listen with nothing coming: exit 3 (timed out)" test "$code" = 3

run connect "$URL" --auth '{"refuse":true}'
check "refused by middleware: exit 2" test "$code" = 2
check "refused: the server's message" grep -q 'not authorized' <<<"$err"

run connect "$URL" --json --auth '{"refuse":true}'
check "refused --json: the error with its data" grep -qx '{"type":"error","message":"not authorized","data":{"hint":"send token","code":42}}' <<<"$out"

run connect "http://127.0.0.1:1" --options '{"reconnection":false}' --timeout 3000
check "nothing listening: exit 2" test "$code" = 2

run connect "$URL" emit --ack test:drop '[]' --timeout 5000
check "connection dropped by the server while waiting: exit 4" test "$code" = 4

run connect "$URL" --ack-timeout 200 --timeout 5000 emit --ack nobody-answers '[]'
check "an ack that never comes: exit 5 (ack failed)" test "$code" = 5
check "ack failed: the library's reason" grep -q 'operation has timed out' <<<"$err"

run connect "$URL" bogus
check "unknown action: exit 1" test "$code" = 1 -a -n "$(grep -c "unknown action 'bogus'" <<<"$err")"
run connect "$URL" --frobnicate
check "unknown option: exit 1, named" test "$code" = 1 -a -n "$(grep -c "unknown option '--frobnicate'" <<<"$err")"
run connect "not a url"
check "bad URL: exit 1 with the library's message" test "$code" = 1 -a -n "$(grep -c 'invalid URL' <<<"$err")"
run connect "$URL" --options '{"bogusOption":1}'
check "unknown library option: exit 1, named" test "$code" = 1 -a -n "$(grep -c 'bogusOption' <<<"$err")"

# As a person would: in a pseudo-terminal (script(1) gives the CLI a tty on stdin/stdout).
pty_out=$(script -qec "$CLI connect $URL emit --ack echo '[\"from a tty\"]'" /dev/null </dev/null; echo "exit=$?")
check "through a pseudo-terminal: the answer and exit 0" \
  grep -q 'ack \["from a tty"\]' <<<"$pty_out"
check "through a pseudo-terminal: exit 0" grep -q 'exit=0' <<<"$pty_out"

rm -f /tmp/rt-cli-err.$$
echo "cli: $passed passed, $failed failed"
test "$failed" = 0
