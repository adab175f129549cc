/*
 * bench_messaging.c: messaging figures for librealtime on loopback (measurements only, no thresholds).
 *
 *   1. Receive throughput: the server bursts N small events (server command `burst <id> tick N`: a tight
 *      loop of socket.emit("tick", i)); events/s into a C realtime_on callback, measured from the first
 *      to the last callback (also checks that all N arrive, in order).
 *   2. Ack round trip: M sequential realtime_emit_with_ack("ack", [i]) to the server's "ack" handler
 *      (answers with the same args); p50 / p90 / p99 / max of emit -> ack callback.
 *
 * The server is tests/server/server.js (socket.io 4.8) with socket.io's default heartbeat; it logs one
 * JSON line per incoming event (discarded here), which is part of the measured round trip.
 *
 * Build (from the repository root, after `cargo build --release`):
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -pthread -Iinclude -o build/bench_messaging \
 *      examples/bench_messaging.c target/release/librealtime.a -lpthread -ldl -lm
 * Run from the repository root: ./build/bench_messaging [burst_events (100000)] [acks (2000)]
 */
#define BENCH_NAME "bench_messaging"
#include "bench_server.h"

#include "realtime.h"


/* ---------------------------------------------------------------------------------------------------
 * Shared state */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int connected;
static long ticks, out_of_order, expected_next = 1;
static int64_t first_tick_ns, last_tick_ns;
static int acked;

static void on_connect(void *u) {
    (void)u;
    pthread_mutex_lock(&mu);
    connected = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_tick(void *u, const char *event, const char *args_json, const realtime_buffer *b, size_t nb,
                    uint64_t ack_id) {
    (void)u, (void)event, (void)b, (void)nb, (void)ack_id;
    int64_t t = now_ns();
    long v = atol(args_json + 1); /* "[i]" */
    pthread_mutex_lock(&mu);
    if (ticks == 0) first_tick_ns = t;
    last_tick_ns = t;
    if (v != expected_next) out_of_order++;
    expected_next = v + 1;
    ticks++;
    if (ticks % 1024 == 0) pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_ack(void *u, const char *error, const char *args_json, const realtime_buffer *b, size_t nb) {
    (void)u, (void)args_json, (void)b, (void)nb;
    if (error) die("ack failed", error);
    pthread_mutex_lock(&mu);
    acked++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* wait (with a deadline) until *counter >= target (or ticks when counter is NULL) */
static int wait_for(int (*done)(long), long target, int timeout_ms) {
    int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
    pthread_mutex_lock(&mu);
    while (!done(target)) {
        int64_t left = deadline - now_ns();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t step = left < 10000000 ? left : 10000000; /* re-check every 10 ms */
        ts.tv_nsec += (long)step;
        while (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&cv, &mu, &ts);
    }
    int ok = done(target);
    pthread_mutex_unlock(&mu);
    return ok;
}
static int done_connected(long t) { (void)t; return connected; }
static int done_ticks(long t) { return ticks >= t; }
static int done_acked(long t) { return acked >= t; }

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    long burst = argc > 1 ? atol(argv[1]) : 100000;
    int acks = argc > 2 ? atoi(argv[2]) : 2000;
    if (burst <= 0 || acks <= 0) die("usage", "bench_messaging [burst_events] [acks]");
    signal(SIGPIPE, SIG_IGN);
    int port = server_start();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    realtime_client *c = realtime_new(url, NULL);
    if (!c) die("realtime_new", realtime_last_error());
    realtime_on_connect(c, on_connect, NULL);
    realtime_on(c, "tick", on_tick, NULL);
    if (!wait_for(done_connected, 1, 10000)) die("no connection", NULL);
    char id[128];
    if (realtime_socket_id(c, id, sizeof id) == 0) die("no socket id", NULL);
    printf("librealtime %s, server socket.io 4.8 on loopback\n", realtime_version());

    /* 1. burst */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "burst %s tick %ld", id, burst);
    server_command(cmd);
    if (!wait_for(done_ticks, burst, 120000)) {
        fprintf(stderr, "only %ld of %ld events arrived\n", ticks, burst);
        die("burst incomplete", NULL);
    }
    double secs = (double)(last_tick_ns - first_tick_ns) / 1e9;
    printf("receive: %ld events in %.3f s (first to last callback) = %.0f events/s; out of order: %ld\n", ticks, secs,
           secs > 0 ? (double)(ticks - 1) / secs : 0.0, out_of_order);

    /* 2. sequential acks */
    int64_t *rtt = malloc(sizeof *rtt * (size_t)acks);
    for (int i = 0; i < 100; i++) { /* warm-up */
        realtime_emit_with_ack(c, "ack", "[0]", 5000, on_ack, NULL);
        if (!wait_for(done_acked, i + 1, 5000)) die("warm-up ack lost", NULL);
    }
    pthread_mutex_lock(&mu);
    acked = 0;
    pthread_mutex_unlock(&mu);
    int64_t t_all = now_ns();
    for (int i = 0; i < acks; i++) {
        char args[32];
        snprintf(args, sizeof args, "[%d]", i);
        int64_t t0 = now_ns();
        realtime_status st = realtime_emit_with_ack(c, "ack", args, 5000, on_ack, NULL);
        if (st != REALTIME_STATUS_OK) die("emit_with_ack", realtime_last_error());
        if (!wait_for(done_acked, i + 1, 5000)) die("ack lost", NULL);
        rtt[i] = now_ns() - t0;
    }
    double total = (double)(now_ns() - t_all) / 1e9;
    qsort(rtt, (size_t)acks, sizeof *rtt, cmp_i64);
    printf("ack round trip (%d sequential): p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us (%.0f acks/s)\n", acks,
           (double)rtt[acks / 2] / 1e3, (double)rtt[(acks * 90) / 100] / 1e3, (double)rtt[(acks * 99) / 100] / 1e3,
           (double)rtt[acks - 1] / 1e3, acks / total);
    free(rtt);

    realtime_free(c);
    server_stop();
    return 0;
}
