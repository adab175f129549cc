# realtime: build and test entry points.
#
#   make / make build   cargo build --release (target/release/librealtime.{so,a}; regenerates include/realtime.h)
#   make test           header-check, cargo test, C tests, C tests under ASan/UBSan, ..., cross, size
#   make c-tests        build tests/c/test_*.c against the static library into build/c/ and run them
#   make c-tests-asan   the same with -fsanitize=address,undefined into build/c-asan/ (LeakSanitizer on)
#   make c-tests-valgrind  the plain C tests under valgrind (memcheck, leaks as errors)
#   make node-deps      npm ci in tests/server (when package-lock.json is newer than the stamp)
#   make tls-certs      test CA + server certificate into build/tls/
#   make redis-server   installs Debian's redis-server when missing (two-node Agnost tests, test_channels_agnost)
#   make c-test-NAME    build and run a single C test, e.g. make c-test-connect
#   make soak-short     20 s seeded fault soak (in make test); make soak: 1,000 faults
#   make lint           cargo fmt --check and cargo clippy -D warnings
#   make swift-test     the Swift package's XCTest suite against the test server (Swift via scripts/swift-env.sh)
#   make kotlin-test    the Kotlin/JVM library's JUnit suite (Maven, JNI bridge) against the test server
#   make demo           the lifecycle demo (examples/demo.c) against the bundled server
#   make bench          figures against a native burst server and raw baselines (bench/run.py, ~3 min)
#   make cross          the static library for Android (3 ABIs) and iOS (device, simulator) with Debian clang
#                       (scripts/cross.sh; what needs the NDK / a Mac: README "Mobile builds")
#   make size           size budget: stripped dist librealtime.so (x86_64) and an aarch64-android proxy .so
#                       must stay within budget (scripts/size.sh; README "Mobile builds")
#   make header         regenerate include/realtime.h (commit it with the change)
#   make install        header, librealtime.{a,so}, realtime.pc, the CMake package, the CLI and its man page
#                       into $(DESTDIR)$(PREFIX) (default /usr/local)
#   make cli            the `realtime` command-line client (build/realtime)
#   make cli-test       the CLI against the bundled server; make install-test: pkg-config + CMake consumers
#
# Every test server listens on a free loopback port chosen by the OS (port 0); nothing uses fixed ports.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

CARGO   ?= cargo
CC      ?= cc
NPM     ?= npm
NODE    ?= node
export NODE

BUILD      := build
LIB_A      := target/release/librealtime.a
HEADER     := include/realtime.h
SERVER_DIR := tests/server
NODE_STAMP := $(SERVER_DIR)/node_modules/.npm-ci.stamp
TLS_DIR    := $(BUILD)/tls
export REALTIME_TLS_DIR := $(CURDIR)/$(TLS_DIR)

C_TEST_SRCS := $(sort $(wildcard tests/c/test_*.c))
C_TESTS     := $(patsubst tests/c/%.c,%,$(C_TEST_SRCS))
HARNESS     := tests/c/harness.c tests/c/harness.h tests/c/peer.c tests/c/peer.h
GEN_DIR     := $(BUILD)/c-gen
STATUS_LIST := $(GEN_DIR)/rt_statuses.h

CWARN   := -std=c11 -Wall -Wextra -Wpedantic -Werror
CFLAGS_TEST := $(CWARN) -g -O1 -Iinclude -Itests/c -I$(GEN_DIR) -pthread
LDLIBS_TEST := -lpthread -ldl -lm
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all build header header-check lint test cargo-test node-deps tls-certs c-tests c-tests-asan c-tests-valgrind c-tests-valgrind-short c-tests-tsan c-tests-polling fuzz fuzz-short soak soak-short \
        c-tests-build c-tests-asan-build clean-tests redis-server swift-test kotlin-test demo bench install \
        cli cli-test install-test

all: build

# ---------------------------------------------------------------------------------------------------
# Library

# cargo decides what is stale; this target always asks it. The C test binaries depend on the library
# file by time stamp; their targets run cargo first and then a sub-make, so the order holds under -j.
build:
	$(CARGO) build --release

header-check:
	REALTIME_HEADER_CHECK=1 $(CARGO) build --release

cargo-test:
	$(CARGO) test --release

# In this order, also under make -j (each step is a sub-make; parallelism stays inside the steps).
test:
	$(MAKE) --no-print-directory header-check
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory cargo-test
	$(MAKE) --no-print-directory c-tests
	$(MAKE) --no-print-directory c-tests-polling
	$(MAKE) --no-print-directory c-tests-asan
	$(MAKE) --no-print-directory c-tests-tsan
	$(MAKE) --no-print-directory c-tests-valgrind-short
	$(MAKE) --no-print-directory fuzz-short
	$(MAKE) --no-print-directory soak-short
	$(MAKE) --no-print-directory swift-test
	$(MAKE) --no-print-directory swift-consumer-test
	$(MAKE) --no-print-directory kotlin-test
	$(MAKE) --no-print-directory android-aar
	$(MAKE) --no-print-directory cli-test
	$(MAKE) --no-print-directory install-test
	$(MAKE) --no-print-directory cross
	$(MAKE) --no-print-directory size

header: build

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings

# ---------------------------------------------------------------------------------------------------
# Wrappers: each suite runs against a test server that tests/server/with-server.js starts on a free port.

# Swift: `swift` on PATH, or a cached Debian trixie root (created on first use, about a minute).
# The package finds librealtime through pkg-config: swift-pc writes a realtime.pc for the build tree.
# Swift 6 language mode (Package.swift); -warnings-as-errors keeps the sources at zero warnings.
.PHONY: swift-pc swift-consumer-test
SWIFT_PC_DIR := $(CURDIR)/target/release/pkgconfig
SWIFT_ENV := PKG_CONFIG_PATH=$(SWIFT_PC_DIR) LD_LIBRARY_PATH=$(CURDIR)/target/release REALTIME_SWIFT_PASSENV=PKG_CONFIG_PATH
swift-pc: build
	mkdir -p $(SWIFT_PC_DIR)
	sed -e 's|^libdir=.*|libdir=$(CURDIR)/target/release|' -e 's|^includedir=.*|includedir=$(CURDIR)/include|' \
	  -e 's|@PREFIX@|$(CURDIR)|g' -e 's|@VERSION@|$(VERSION)|g' packaging/realtime.pc.in > $(SWIFT_PC_DIR)/realtime.pc

swift-test: build node-deps swift-pc proxy-deps
	$(SWIFT_ENV) node tests/server/with-server.js -- scripts/swift-env.sh run bindings/swift swift test --disable-swift-testing -Xswiftc -warnings-as-errors

# A separate package (bindings/swift/Consumer) depending on bindings/swift, which has no unsafe flags.
swift-consumer-test: build node-deps swift-pc
	! grep -n unsafeFlags bindings/swift/Package.swift bindings/swift/Consumer/Package.swift
	$(SWIFT_ENV) node tests/server/with-server.js -- scripts/swift-env.sh run bindings/swift/Consumer swift run -Xswiftc -warnings-as-errors realtime-consumer
	@# A @MainActor class's state touched from a handler must be a compile error (handlers are @Sendable).
	scripts/swift-env.sh run bindings/swift/Consumer sh -c '! swiftc -typecheck -swift-version 6 -I .build/debug/Modules \
	  -Xcc -fmodule-map-file=../Sources/CRealtime/module.modulemap -Xcc -I../../../include Diagnostics/MainActorRace.swift \
	  2>.build/main-actor-race.log && grep -q "main actor-isolated property .messages. can not be mutated from a Sendable closure" .build/main-actor-race.log'

# Kotlin/JVM: Maven builds the JNI bridge (bindings/kotlin/build-jni.sh) and runs JUnit 5.
# Dependencies come from Maven Central into ~/.m2 on the first run.
kotlin-test: build node-deps proxy-deps
	node tests/server/with-server.js -- mvn -B -f bindings/kotlin/pom.xml test

# The JNI bridge through CMake (what Android's externalNativeBuild runs), checked and run for the host, and
# the AAR layout with the host library standing in for the NDK's (scripts/android-aar.sh).
.PHONY: android-aar
android-aar: build node-deps
	@[ -d bindings/kotlin/target/test-classes/dev/realtime ] || mvn -B -q -f bindings/kotlin/pom.xml test-compile
	scripts/android-aar.sh

# ---------------------------------------------------------------------------------------------------
# Demo, benchmarks, install

EXAMPLE_CFLAGS := -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -pthread -Iinclude -Itests/c

demo: build node-deps
	@mkdir -p $(BUILD)
	$(CC) $(EXAMPLE_CFLAGS) -o $(BUILD)/demo examples/demo.c tests/c/harness.c $(LIB_A) $(LDLIBS_TEST)
	./$(BUILD)/demo

# Figures only: nothing here passes or fails on timing (bench/run.py; README "Performance").
# bench/ is a crate of its own (its own lock file and target dir): the native burst server and the raw
# tokio-tungstenite baseline. bench_client is built with poll mode (-DHAVE_POLL) when the header declares
# the whole poller API; BENCH_POLL is expanded when the recipe runs, after `build` regenerated the header.
# BENCH_ARGS: extra arguments of bench/run.py, e.g. BENCH_ARGS=--quick or BENCH_ARGS="--rounds 9".
BENCH_DIR  := $(BUILD)/bench
BENCH_ARGS ?=
BENCH_POLL_API := realtime_poller_new realtime_poller_free realtime_poller_fd realtime_poll realtime_new_polled
BENCH_POLL = $(shell for f in $(BENCH_POLL_API); do grep -qw "$$f" $(HEADER) || exit 0; done; echo 1)
bench: build
	@mkdir -p $(BENCH_DIR)
	$(CARGO) build --release --manifest-path bench/Cargo.toml
	$(CC) $(EXAMPLE_CFLAGS) $(if $(BENCH_POLL),-DHAVE_POLL) -o $(BENCH_DIR)/bench_client bench/c/bench_client.c \
	  $(LIB_A) $(LDLIBS_TEST)
	$(CC) -O2 -Wall -Wextra -Werror -shared -fPIC -o $(BENCH_DIR)/libmalloc_count.so bench/c/malloc_count.c
	python3 bench/run.py --bin $(BENCH_DIR) --peers bench/target/release --markdown $(BENCH_DIR)/results.md \
	  $(if $(BENCH_POLL),--poll) $(BENCH_ARGS)

PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
CLI     := $(BUILD)/realtime

# The command-line client (cli/realtime.c), linked statically against the library.
cli: $(CLI)
$(CLI): cli/realtime.c $(HEADER) build
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) -o $@ cli/realtime.c $(LIB_A) $(LDLIBS_TEST)

# Header, both libraries, pkg-config file, CMake package, the CLI and its man page, under
# $(DESTDIR)$(PREFIX). The .pc and CMake files name $(PREFIX) (the CMake package also works when moved).
install: build $(CLI)
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/lib/cmake/realtime $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(HEADER) $(DESTDIR)$(PREFIX)/include/realtime.h
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/librealtime.a
	install -m 755 target/release/librealtime.so $(DESTDIR)$(PREFIX)/lib/librealtime.so
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/realtime
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' packaging/realtime.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/realtime.pc
	for f in realtimeConfig realtimeConfigVersion; do \
	  sed -e 's|@VERSION@|$(VERSION)|g' packaging/$$f.cmake.in > $(DESTDIR)$(PREFIX)/lib/cmake/realtime/$$f.cmake; \
	done
	sed -e 's|@VERSION@|$(VERSION)|g' packaging/realtime.1 > $(DESTDIR)$(PREFIX)/share/man/man1/realtime.1

# The CLI against the bundled server (plain, --json, exit codes, once through a pseudo-terminal), then
# make install into a temporary prefix and a C program built against it with pkg-config and with CMake.
cli-test: $(CLI) node-deps
	node tests/server/with-server.js -- tests/cli/test_cli.sh $(CLI)
install-test: build $(CLI) node-deps
	node tests/server/with-server.js -- tests/pkg/test_install.sh

# ---------------------------------------------------------------------------------------------------
# Test peers: Node socket.io server, TLS material

$(NODE_STAMP): $(SERVER_DIR)/package.json $(SERVER_DIR)/package-lock.json
	cd $(SERVER_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

node-deps: $(NODE_STAMP)

$(TLS_DIR)/complete.stamp: tests/c/gen_certs.sh
	sh tests/c/gen_certs.sh $(TLS_DIR)

tls-certs: $(TLS_DIR)/complete.stamp

# The two-node Agnost service (tests/server/agnost.js) shares a real Redis; the tests start it themselves
# on a free loopback port (`node server.js --redis`).
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { apt-get update && apt-get install -y redis-server; }

# ---------------------------------------------------------------------------------------------------
# C tests

# The status values known to the header, as an X-macro list (test_bad_input checks each status string).
$(STATUS_LIST): $(HEADER)
	mkdir -p $(GEN_DIR)
	{ echo '/* generated from $(HEADER) by the Makefile */'; \
	  echo '#define RT_STATUSES(X) \'; \
	  grep -o 'REALTIME_STATUS_[A-Z0-9_]\+ *=' $(HEADER) | sed 's/ *=$$//' | sort -u | sed 's/.*/    X(&) \\/'; \
	  echo '    /* end */'; } > $@.tmp
	grep -q 'X(REALTIME_STATUS_OK)' $@.tmp || { echo "no REALTIME_STATUS_OK in $(HEADER)" >&2; rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

$(BUILD)/c/%: tests/c/%.c $(HARNESS) $(LIB_A) $(HEADER) $(STATUS_LIST)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_TEST) -o $@ $< tests/c/harness.c $(LIB_A) $(LDLIBS_TEST)

$(BUILD)/c-asan/%: tests/c/%.c $(HARNESS) $(LIB_A) $(HEADER) $(STATUS_LIST)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_TEST) $(ASAN_FLAGS) -o $@ $< tests/c/harness.c $(LIB_A) $(LDLIBS_TEST)

c-tests-build: build
	$(MAKE) --no-print-directory $(addprefix $(BUILD)/c/,$(C_TESTS))
c-tests-asan-build: build
	$(MAKE) --no-print-directory $(addprefix $(BUILD)/c-asan/,$(C_TESTS))

# Run each program from the repo root; stop at the first failure.
run_c_tests = $(call run_c_tests_list,$(1),$(2),$(C_TESTS),$(3))
define run_c_tests_list
	@for t in $(3); do \
	  echo "--- $(2)$$t"; \
	  if ! $(4) ./$(1)/$$t; then \
	    echo ""; echo "*** C test FAILED: $(2)$$t ($(1)/$$t, run from $(CURDIR))"; exit 1; \
	  fi; \
	done; \
	echo "all $(words $(3)) C tests passed$(if $(2), ($(2:-=)),)"
endef

c-tests: node-deps tls-certs redis-server c-tests-build
	$(call run_c_tests,$(BUILD)/c,,)

# LeakSanitizer is on; tests/c/lsan.supp lists only allocations of the library's process-lifetime runtime.
c-tests-asan: node-deps tls-certs redis-server c-tests-asan-build
	$(call run_c_tests,$(BUILD)/c-asan,asan-,env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/c/lsan.supp:print_suppressions=0)

# valgrind: slower; timing-sensitive assertions get more slack from the generous margins in the tests.
VALGRIND := env RT_SERVER_HEARTBEAT=3000:3000 valgrind -q --error-exitcode=99 --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite --trace-children=no --suppressions=$(CURDIR)/tests/c/valgrind.supp
c-tests-valgrind: node-deps tls-certs redis-server c-tests-build
	$(call run_c_tests,$(BUILD)/c,valgrind-,$(VALGRIND))

# ThreadSanitizer (scripts/tsan.sh): the threading-heavy C programs against a library built by nightly
# with -Zsanitizer=thread -Zbuild-std, linked with rustc's TSan runtime; any report fails. TSAN_TESTS=...
# picks programs (default: the script's list). Suppressions: tests/c/tsan.supp (tokio's epoll hand-off).
TSAN_TESTS ?=
c-tests-tsan: node-deps tls-certs redis-server build $(STATUS_LIST)
	scripts/tsan.sh $(TSAN_TESTS)

# The C suite a second time over HTTP long-polling (issue 9 item 6): RT_TRANSPORTS=polling makes the
# harness add "transports":["polling"] to every client's options (tests/c/harness.h); tinyproxy and danted
# then carry polling too. Not run that way: test_hostile (its hostile servers speak raw WebSocket),
# test_reconnect (asserts "transport close" for a killed server: over polling socket.io-client says
# "transport error", as this library does).
POLLING_SKIP := test_hostile test_reconnect
c-tests-polling: node-deps tls-certs redis-server c-tests-build
	$(call run_c_tests_list,$(BUILD)/c,polling-,$(filter-out $(POLLING_SKIP),$(C_TESTS)),env RT_TRANSPORTS=polling)

# valgrind memcheck on a subset in make test (c-tests-valgrind runs them all).
VALGRIND_SUBSET := test_connect test_events test_binary test_fidelity test_bad_input test_finalizers test_once_off \
                   test_reentrancy test_acks test_hostile
c-tests-valgrind-short: node-deps tls-certs redis-server c-tests-build
	$(call run_c_tests_list,$(BUILD)/c,valgrind-,$(VALGRIND_SUBSET),$(VALGRIND))

# Coverage-guided fuzzing (scripts/fuzz.sh, libFuzzer, nightly): fuzz-short runs each decoder for
# FUZZ_SHORT seconds in make test; make fuzz runs each for FUZZ_SECONDS. A crash input is kept under
# fuzz/regressions/<target>/ and replayed by cargo test from then on.
FUZZ_SHORT   ?= 15
FUZZ_SECONDS ?= 600
fuzz-short:
	scripts/fuzz.sh $(FUZZ_SHORT)
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

# make c-test-connect: build + run tests/c/test_connect.c only (also c-test-asan-connect)
# Fault soak (tests/c/soak_faults.c): seeded faults while clients emit; 0 acked messages lost.
# soak-short is part of make test (about 20 s); soak runs 1,000 faults (about 11 minutes).
SOAK_SEED ?= 20261203
soak-short: node-deps tls-certs build
	$(MAKE) --no-print-directory $(BUILD)/c/soak_faults
	./$(BUILD)/c/soak_faults --seconds 20 --seed $(SOAK_SEED)
soak: node-deps tls-certs build
	$(MAKE) --no-print-directory $(BUILD)/c/soak_faults
	./$(BUILD)/c/soak_faults --faults 1000 --seed $(SOAK_SEED)

c-test-%: node-deps tls-certs redis-server build
	$(MAKE) --no-print-directory $(BUILD)/c/test_$*
	./$(BUILD)/c/test_$*
c-test-asan-%: node-deps tls-certs redis-server build
	$(MAKE) --no-print-directory $(BUILD)/c-asan/test_$*
	env ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/c/lsan.supp ./$(BUILD)/c-asan/test_$*

clean-tests:
	rm -rf $(BUILD)/c $(BUILD)/c-asan $(GEN_DIR)

.SECONDARY:

# ---------------------------------------------------------------------------------------------------
# Proxies (issue 9 item 3): tests/c/test_proxy.c starts Debian's tinyproxy (HTTP CONNECT) and dante-server's
# danted (SOCKS5) itself, on free loopback ports; building it installs them when they are missing.
PROXY_PACKAGES := tinyproxy dante-server

.PHONY: proxy-deps
proxy-deps:
	@if [ ! -x /usr/bin/tinyproxy ] || [ ! -x /usr/sbin/danted ]; then \
	  echo "installing $(PROXY_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PROXY_PACKAGES); \
	fi

$(BUILD)/c/test_proxy $(BUILD)/c-asan/test_proxy: | proxy-deps

# ---------------------------------------------------------------------------------------------------
# Mobile (issue 11 items 1 and 4): cross static libraries and the size budget. Both install clang, lld and
# llvm when missing and `rustup target add` the targets they need.
.PHONY: cross size
cross:
	scripts/cross.sh
size:
	scripts/size.sh
