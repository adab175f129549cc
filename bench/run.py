#!/usr/bin/env python3
"""make bench: librealtime against a native burst server, interleaved with raw tokio-tungstenite baselines.

Starts bench's burst-server pinned to CPU 0 (taskset) and runs every client process pinned to CPU 1, in
interleaved rounds (library, raw, library in poll mode, library over HTTP long-polling, library, raw, ...),
a fresh process per round. Prints the medians (and the spread over rounds), the ratios to the baselines,
and which of the targets of issue 7 are met. Figures, not gates: the exit status is 0 whatever the timings
(1 only when a run failed to complete, e.g. lost events or a crash). First, a correctness check of the
peers: numbered bursts over WebSocket, polling and polling-then-upgrade must arrive whole and in order.

The long-polling rows (issue 9) have no targets; their ratio is to the library over WebSocket in the same
round: events/s and CPU over polling, realtime_open → on_connect over polling, and realtime_open → the
upgrade from polling to WebSocket completed.

    bench/run.py --bin build/bench --peers bench/target/release [--poll] [--rounds 5] [--quick]
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

failures = []


def pinned(cpu, argv):
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu)] + argv
    return argv


def run(argv, env=None, timeout=300):
    """Runs one client process on CPU 1; returns its JSON line (a dict) or None on failure."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        p = subprocess.run(pinned(1, argv), capture_output=True, text=True, env=full_env, timeout=timeout)
    except subprocess.TimeoutExpired:
        failures.append(f"{' '.join(argv)}: timed out after {timeout} s")
        return None
    line = (p.stdout.strip().splitlines() or [""])[-1]
    try:
        result = json.loads(line)
    except ValueError:
        result = {"error": line or "no output"}
    if p.returncode != 0 or "error" in result:
        failures.append(f"{' '.join(argv)}: exit {p.returncode}: {result.get('error')} {p.stderr.strip()[-300:]}")
        return None
    return result


class Series:
    """One figure over rounds."""

    def __init__(self):
        self.rounds = []  # one entry per round, None where the run failed

    def add(self, result, key):
        self.rounds.append(float(result[key]) if result is not None and key in result else None)

    @property
    def values(self):
        return [v for v in self.rounds if v is not None]

    def median(self):
        return statistics.median(self.values) if self.values else None

    def spread(self):
        return (min(self.values), max(self.values)) if self.values else None


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if abs(v) >= 100000:
        s = f"{v / 1e6:.2f} M"
    elif abs(v) >= 1000:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.3g}"
        if "." not in s and "e" not in s and v != int(v):
            s = f"{v:.4f}"  # 2.0004 must not read as 2 beside a "≤ 2" target
    return s + unit


def fmt_series(series, unit=""):
    m = series.median()
    if m is None:
        return "n/a"
    lo, hi = series.spread()
    if len(series.values) > 1:
        return f"{fmt(m, unit)} ({fmt(lo)}–{fmt(hi)})"
    return fmt(m, unit)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="directory of bench_client and libmalloc_count.so")
    ap.add_argument("--peers", required=True, help="directory of burst-server and raw-client")
    ap.add_argument("--poll", action="store_true", help="bench_client was built with poll mode")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="smaller runs (a smoke test of the bench itself)")
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()

    client = os.path.join(args.bin, "bench_client")
    shim = os.path.abspath(os.path.join(args.bin, "libmalloc_count.so"))
    raw = os.path.join(args.peers, "raw-client")
    server_bin = os.path.join(args.peers, "burst-server")
    q = 10 if args.quick else 1
    rounds = 2 if args.quick else args.rounds
    bursts = {64: 1_000_000 // q, 1024: 250_000 // q}
    acks, connects, connects_new = 5000 // q, 200 // q, 40 // q
    idle_big = 10_000

    # 10 k clients need 10 k descriptors in the client and in the server.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = idle_big + 2048
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < want:
        print(f"ulimit -n is {hard}: the 10 k-client figure is skipped")
        idle_big = 0

    server = subprocess.Popen(pinned(0, [server_bin]), stdout=subprocess.PIPE, text=True)
    try:
        port_line = server.stdout.readline().split()
        if len(port_line) != 2 or port_line[0] != "port":
            sys.exit(f"burst-server did not start: {port_line}")
        port = port_line[1]
        started = time.monotonic()
        print(f"burst-server on 127.0.0.1:{port} (CPU 0), clients on CPU 1; {rounds} interleaved rounds"
              + ("" if args.poll else "; poll mode: n/a (API not present)"), flush=True)
        rows = measure(args, client, shim, raw, port, rounds, bursts, acks, connects, connects_new, idle_big)
    finally:
        server.kill()
        server.wait()

    lines = table(rows, args.poll)
    print()
    print("\n".join(lines))
    print(f"\n({time.monotonic() - started:.0f} s; figures, not gates)")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")
    if failures:
        print("\nruns that did not complete:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        sys.exit(1)


def measure(args, client, shim, raw, port, rounds, bursts, acks, connects, connects_new, idle_big):
    r = {}

    def series(name):
        return r.setdefault(name, Series())

    checks = [(64, 50_000 // (10 if args.quick else 1)), (1024, 10_000 // (10 if args.quick else 1))]
    print("check: numbered bursts whole and in order over websocket, polling, polling → upgrade", flush=True)
    for transport in ("websocket", "polling", "upgrade"):
        for size, n in checks:
            run([client, "verify", port, str(n), str(size), transport])

    for size, n in bursts.items():
        print(f"receive {size} B: {rounds} rounds of {n:,} events (library threads, raw, library poll, "
              "library over polling)", flush=True)
        for _ in range(rounds):
            lib = run([client, "throughput", port, str(n), str(size), "threads"])
            series(f"rx{size}.lib").add(lib, "events_per_s")
            series(f"cpu{size}.lib").add(lib, "cpu_s_per_million")
            base = run([raw, "count", port, str(n), str(size)])
            series(f"rx{size}.raw").add(base, "events_per_s")
            series(f"cpu{size}.raw").add(base, "cpu_s_per_million")
            if args.poll:
                polled = run([client, "throughput", port, str(n), str(size), "poll"])
                series(f"rx{size}.poll").add(polled, "events_per_s")
                series(f"cpu{size}.poll").add(polled, "cpu_s_per_million")
            over_polling = run([client, "throughput", port, str(n), str(size), "threads", "polling"])
            series(f"rx{size}.polling").add(over_polling, "events_per_s")
            series(f"cpu{size}.polling").add(over_polling, "cpu_s_per_million")
        # Allocations: a separate run under the counting shim (the shim's atomic counter costs time).
        counted = run([client, "throughput", port, str(n // 2), str(size), "threads"], env={"LD_PRELOAD": shim})
        series(f"alloc{size}.lib").add(counted, "allocs_per_event")
        if args.poll:
            counted = run([client, "throughput", port, str(n // 2), str(size), "poll"], env={"LD_PRELOAD": shim})
            series(f"alloc{size}.poll").add(counted, "allocs_per_event")

    print(f"ack round trip: {rounds} rounds of {acks:,} (library, raw echo)", flush=True)
    for _ in range(rounds):
        lib = run([client, "ack", port, str(acks)])
        series("ack.lib.p50").add(lib, "p50_us")
        series("ack.lib.p99").add(lib, "p99_us")
        base = run([raw, "echo", port, str(acks)])
        series("ack.raw.p50").add(base, "p50_us")
        series("ack.raw.p99").add(base, "p99_us")

    print(f"connect: {rounds} rounds of {connects} (library open, raw), {connects_new} (library new), "
          f"{connects} (library open over polling, library open with the upgrade)", flush=True)
    for _ in range(rounds):
        lib = run([client, "connect", port, str(connects), "open"])
        series("conn.lib.p50").add(lib, "p50_us")
        series("conn.lib.p99").add(lib, "p99_us")
        base = run([raw, "connect", port, str(connects)])
        series("conn.raw.p50").add(base, "p50_us")
        series("conn.raw.p99").add(base, "p99_us")
        lib = run([client, "connect", port, str(connects_new), "new"])
        series("connnew.lib.p50").add(lib, "p50_us")
        series("connnew.lib.p99").add(lib, "p99_us")
        lib = run([client, "connect", port, str(connects), "open", "polling"])
        series("conn.polling.p50").add(lib, "p50_us")
        series("conn.polling.p99").add(lib, "p99_us")
        lib = run([client, "upgrade", port, str(connects)])
        series("upgrade.p50").add(lib, "p50_us")
        series("upgrade.p99").add(lib, "p99_us")
        series("upgrade.conn.p50").add(lib, "connect_p50_us")

    idle_rounds = 1 if args.quick else 3
    window = 3 if args.quick else 10
    print(f"idle: {idle_rounds} rounds of 1,000 clients, then {idle_big:,} ({window} s windows)", flush=True)
    for _ in range(idle_rounds):
        one = run([client, "idle", port, "1000", str(window)])
        series("idle1k.kib").add(one, "kib_per_client")
        series("idle1k.wake").add(one, "wakeups_per_client_per_min")
        series("idle1k.threads").add(one, "threads")
    if idle_big:
        big = run([client, "idle", port, str(idle_big), str(window)])
        series("idle10k.kib").add(big, "kib_per_client")
        series("idle10k.wake").add(big, "wakeups_per_client_per_min")
    return r


def ratio(a, b):
    """The median of the per-round ratios (each library run against the baseline run next to it)."""
    pairs = [x / y for x, y in zip(a.rounds, b.rounds) if x is not None and y]
    return statistics.median(pairs) if pairs else None


def verdict(value, ok):
    if value is None:
        return "n/a"
    return "met" if ok(value) else "not met"


def table(r, poll):
    empty = Series()
    g = lambda k: r.get(k, empty)  # noqa: E731
    lines = [
        "| figure | library | raw baseline | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]

    def row(name, lib, base, rat, target, ok):
        lines.append(f"| {name} | {lib} | {base} | {fmt(rat) + '×' if rat is not None else ''} | {target} | {ok} |")

    for size in (64, 1024):
        label = "64 B" if size == 64 else "1 KiB"
        rt = ratio(g(f"rx{size}.lib"), g(f"rx{size}.raw"))
        row(f"events/s into a C callback, {label}, callback threads", fmt_series(g(f"rx{size}.lib")),
            fmt_series(g(f"rx{size}.raw")), rt, "≥ 0.5× raw" if size == 64 else "",
            verdict(rt, lambda v: v >= 0.5) if size == 64 else "")
        if poll:
            rp = ratio(g(f"rx{size}.poll"), g(f"rx{size}.raw"))
            row(f"events/s into a C callback, {label}, poll mode", fmt_series(g(f"rx{size}.poll")),
                fmt_series(g(f"rx{size}.raw")), rp, "≥ 0.7× raw" if size == 64 else "",
                verdict(rp, lambda v: v >= 0.7) if size == 64 else "")
        else:
            row(f"events/s into a C callback, {label}, poll mode", "n/a (API not present)", "", None, "", "")
        cn = ratio(g(f"cpu{size}.raw"), g(f"cpu{size}.lib"))
        row(f"receive, {label}, CPU-normalised (raw CPU-s ÷ library CPU-s per event; steadier under load)", "", "",
            cn, "", "")
        for mode in ("lib", "poll") if poll else ("lib",):
            c = g(f"cpu{size}.{mode}")
            row(f"CPU-s per million events, {label}{', poll mode' if mode == 'poll' else ''}", fmt_series(c),
                fmt_series(g(f"cpu{size}.raw")), ratio(c, g(f"cpu{size}.raw")), "≤ 0.3",
                verdict(c.median(), lambda v: v <= 0.3))
        for mode in ("lib", "poll") if poll else ("lib",):
            a = g(f"alloc{size}.{mode}")
            row(f"allocations per event, {label}{', poll mode' if mode == 'poll' else ''}", fmt_series(a), "", None,
                "≤ 2 (small event)" if size == 64 else "", verdict(a.median(), lambda v: v <= 2) if size == 64 else "")

    p50, raw50 = g("ack.lib.p50"), g("ack.raw.p50")
    ra = ratio(p50, raw50)
    row("emit-with-ack round trip p50 (µs)", fmt_series(p50), fmt_series(raw50), ra, "≤ 1.1× raw echo",
        verdict(ra, lambda v: v <= 1.1))
    tail = ratio(g("ack.lib.p99"), p50)
    row("emit-with-ack round trip p99 (µs)", fmt_series(g("ack.lib.p99")), fmt_series(g("ack.raw.p99")),
        tail, "p99 ≤ 1.5× p50 (ratio: p99/p50)", verdict(tail, lambda v: v <= 1.5))
    rc = ratio(g("conn.lib.p50"), g("conn.raw.p50"))
    row("realtime_open → on_connect p50 (µs)", fmt_series(g("conn.lib.p50")), fmt_series(g("conn.raw.p50")), rc,
        "≤ 1.2× raw", verdict(rc, lambda v: v <= 1.2))
    row("realtime_open → on_connect p99 (µs)", fmt_series(g("conn.lib.p99")), fmt_series(g("conn.raw.p99")),
        ratio(g("conn.lib.p99"), g("conn.raw.p99")), "", "")
    rn = ratio(g("connnew.lib.p50"), g("conn.raw.p50"))
    row("realtime_new (listeners after it) → on_connect p50 (µs)", fmt_series(g("connnew.lib.p50")),
        fmt_series(g("conn.raw.p50")), rn, "no initial-hold penalty (≤ 1.2× raw)", verdict(rn, lambda v: v <= 1.2))
    for key, label in (("idle1k", "1,000"), ("idle10k", "10,000")):
        k = g(f"{key}.kib")
        row(f"RSS per connected idle client at {label} (KiB)", fmt_series(k), "", None, "≤ 12 KiB",
            verdict(k.median(), lambda v: v <= 12))
    for key, label in (("idle1k", "1,000"), ("idle10k", "10,000")):
        w = g(f"{key}.wake")
        row(f"idle wakeups per client per minute, {label} clients (ping every 25 s)", fmt_series(w), "", None,
            "≤ 2 per ping interval (4.8)", verdict(w.median(), lambda v: v <= 4.8))
    row("threads of the process (1,000 clients)", fmt_series(g("idle1k.threads")), "", None, "", "")

    # HTTP long-polling (issue 9): figures only; the second column is the library over WebSocket (same rounds).
    ws = lambda series: "WebSocket: " + fmt_series(series)  # noqa: E731
    for size in (64, 1024):
        label = "64 B" if size == 64 else "1 KiB"
        p, w = g(f"rx{size}.polling"), g(f"rx{size}.lib")
        row(f"events/s into a C callback, {label}, over polling (ratio: ÷ library over WebSocket)", fmt_series(p),
            ws(w), ratio(p, w), "", "")
        p, w = g(f"cpu{size}.polling"), g(f"cpu{size}.lib")
        row(f"CPU-s per million events, {label}, over polling (ratio: ÷ library over WebSocket)", fmt_series(p),
            ws(w), ratio(p, w), "", "")
    for q in ("p50", "p99"):
        p, w = g(f"conn.polling.{q}"), g(f"conn.lib.{q}")
        row(f"realtime_open → on_connect over polling {q} (µs; ratio: ÷ library over WebSocket)", fmt_series(p),
            ws(w), ratio(p, w), "", "")
    for q in ("p50", "p99"):
        row(f"realtime_open → upgraded from polling to WebSocket {q} (µs)", fmt_series(g(f"upgrade.{q}")), "", None,
            "", "")
    p, w = g("upgrade.conn.p50"), g("conn.polling.p50")
    row("realtime_open → on_connect with the upgrade on p50 (µs; ratio: ÷ polling only)", fmt_series(p),
        "polling only: " + fmt_series(w), ratio(p, w), "", "")
    return lines


if __name__ == "__main__":
    main()
