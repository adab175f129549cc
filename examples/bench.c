/*
 * bench.c: figures for librealtime on loopback (measurements only, no pass/fail thresholds).
 *
 *   1. Memory and threads: VmRSS and Threads of this process before any client, with 1 connected client
 *      and with 1,000 connected clients (all to one server), and after freeing them.
 *   2. Connect latency: time from realtime_open() to the on_connect callback (timed inside the callback),
 *      over N sequential runs (a fresh client each run: autoConnect false, open, wait, free).
 *
 * The server is tests/server/server.js (socket.io 4.8), started here with socket.io's default heartbeat
 * (25 s / 20 s) and its output discarded, so that nothing but the library grows this process.
 *
 * Build (from the repository root, after `cargo build --release`):
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -pthread -Iinclude -o build/bench \
 *      examples/bench.c target/release/librealtime.a -lpthread -ldl -lm
 * Run from the repository root: ./build/bench [latency_runs (200)] [clients (1000)]
 */
#define BENCH_NAME "bench"
#include "bench_server.h"
#include <sys/resource.h>

#include "realtime.h"

/* ---------------------------------------------------------------------------------------------------
 * /proc/self/status */
static long status_field(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') v = atol(line + n + 1);
    fclose(f);
    return v;
}
static double rss_mib(void) { return (double)status_field("VmRSS") / 1024.0; }
static long threads(void) { return status_field("Threads"); }

/* ---------------------------------------------------------------------------------------------------
 * Callbacks: count connections / record the time of on_connect; the main thread waits on the condvar */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static int connected;          /* on_connect calls so far */
static int64_t connect_t_ns;   /* time of the last on_connect */

static void on_connect(void *user_data) {
    (void)user_data;
    int64_t t = now_ns();
    pthread_mutex_lock(&mu);
    connected++;
    connect_t_ns = t;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* wait until `connected` >= target or timeout; returns the count reached */
static int wait_connected(int target, int timeout_ms) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&mu);
    int rc = 0;
    while (connected < target && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&cv, &mu, &dl);
    int n = connected;
    pthread_mutex_unlock(&mu);
    return n;
}

static void reset_connected(void) {
    pthread_mutex_lock(&mu);
    connected = 0;
    pthread_mutex_unlock(&mu);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* one sequential connect: returns ms from realtime_open to on_connect */
static double one_connect(const char *url) {
    realtime_client *c = realtime_new(url, "{\"autoConnect\":false}");
    if (!c) die("realtime_new", realtime_last_error());
    if (!realtime_on_connect(c, on_connect, NULL)) die("realtime_on_connect", realtime_last_error());
    reset_connected();
    int64_t t1 = now_ns();
    if (realtime_open(c) != REALTIME_STATUS_OK) die("realtime_open", realtime_last_error());
    if (wait_connected(1, 10000) < 1) die("no on_connect within 10 s", NULL);
    pthread_mutex_lock(&mu);
    int64_t t2 = connect_t_ns;
    pthread_mutex_unlock(&mu);
    realtime_free(c);
    return (double)(t2 - t1) / 1e6;
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 200;
    int nclients = argc > 2 ? atoi(argv[2]) : 1000;
    if (runs < 1 || nclients < 1) die("usage: bench [latency_runs] [clients]", NULL);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &ca);
    signal(SIGPIPE, SIG_IGN);

    /* One socket per client here (and one per client in the server, which inherits this limit). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((long long)rl.rlim_cur < nclients + 64)
        fprintf(stderr, "bench: warning: open-file limit %llu may be too low for %d clients\n",
                (unsigned long long)rl.rlim_cur, nclients);

    int port = server_start();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    printf("librealtime %s bench: socket.io 4.8 server on %s, loopback, %ld CPUs\n\n", realtime_version(), url,
           sysconf(_SC_NPROCESSORS_ONLN));

    /* ---- 1. memory and threads ------------------------------------------------------------------- */
    double rss0 = rss_mib();
    long thr0 = threads();
    realtime_client **clients = calloc((size_t)nclients, sizeof *clients);
    if (!clients) die("out of memory", NULL);

    /* client 0: the first connect in the process also starts the library's runtime ("cold") */
    reset_connected();
    clients[0] = realtime_new(url, "{\"autoConnect\":false}");
    if (!clients[0] || !realtime_on_connect(clients[0], on_connect, NULL)) die("client 0", realtime_last_error());
    int64_t t_open = now_ns();
    if (realtime_open(clients[0]) != REALTIME_STATUS_OK) die("realtime_open", realtime_last_error());
    if (wait_connected(1, 10000) < 1) die("client 0 did not connect", NULL);
    pthread_mutex_lock(&mu);
    double cold_ms = (double)(connect_t_ns - t_open) / 1e6;
    pthread_mutex_unlock(&mu);
    double rss1 = rss_mib();
    long thr1 = threads();

    int64_t t_start = now_ns();
    for (int i = 1; i < nclients; i++) {
        clients[i] = realtime_new(url, NULL);
        if (!clients[i] || !realtime_on_connect(clients[i], on_connect, NULL)) die("realtime_new", realtime_last_error());
    }
    int got = wait_connected(nclients, 120000);
    double t_all_ms = (double)(now_ns() - t_start) / 1e6;
    if (got < nclients) {
        fprintf(stderr, "bench: only %d of %d clients connected within 120 s\n", got, nclients);
        return 1;
    }
    double rssN = rss_mib();
    long thrN = threads();
    for (int i = 0; i < nclients; i++) realtime_free(clients[i]);
    free(clients);
    double rss_freed = rss_mib();
    /* realtime_free() does not wait on the network: the connections close in the background. Let that
     * finish (and the server process the disconnects) before measuring again and timing connects. */
    sleep(2);
    double rss_after = rss_mib();
    long thr_after = threads();
    double per_client_kib = nclients > 1 ? (rssN - rss1) * 1024.0 / (nclients - 1) : 0;

    printf("Memory and threads (this process; the server runs in another process)\n");
    printf("  %-34s %10s %8s\n", "", "VmRSS", "threads");
    printf("  %-34s %6.1f MiB %8ld\n", "before any client", rss0, thr0);
    printf("  %-34s %6.1f MiB %8ld\n", "1 connected client", rss1, thr1);
    char label[64];
    snprintf(label, sizeof label, "%d connected clients", nclients);
    printf("  %-34s %6.1f MiB %8ld\n", label, rssN, thrN);
    printf("  %-34s %6.1f MiB\n", "right after freeing them all", rss_freed);
    printf("  %-34s %6.1f MiB %8ld\n", "2 s later", rss_after, thr_after);
    printf("  => about %.1f KiB per extra connected client; %d clients connected in %.0f ms\n", per_client_kib,
           nclients, t_all_ms);
    printf("     (the 'before' threads are main + this program's server-output drain thread)\n\n");

    /* ---- 2. connect latency ---------------------------------------------------------------------- */
    double *ms = calloc((size_t)runs, sizeof *ms);
    if (!ms) die("out of memory", NULL);
    for (int i = 0; i < 5; i++) one_connect(url); /* warm-up, not counted */
    double sum = 0;
    for (int i = 0; i < runs; i++) sum += (ms[i] = one_connect(url));
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    double median = runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
    double p90 = ms[(int)((runs - 1) * 0.9 + 0.5)];
    printf("Connect latency: realtime_open() -> on_connect, %d sequential runs (new client each run)\n", runs);
    printf("  %8s %8s %8s %8s %8s\n", "median", "p90", "min", "max", "mean");
    printf("  %5.2f ms %5.2f ms %5.2f ms %5.2f ms %5.2f ms\n", median, p90, ms[0], ms[runs - 1], sum / runs);
    printf("  (first connect in the process, which also starts the runtime: %.2f ms; 5 warm-up runs not counted)\n\n",
           cold_ms);

    server_stop();

    printf("SUMMARY: connect median %.2f ms, p90 %.2f ms (n=%d); RSS %.1f MiB base, %.1f MiB with 1 client, "
           "%.1f MiB with %d (%.1f KiB/client); threads %ld/%ld/%ld\n",
           median, p90, runs, rss0, rss1, rssN, nclients, per_client_kib, thr0, thr1, thrN);
    free(ms);
    return 0;
}
