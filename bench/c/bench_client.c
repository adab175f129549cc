/*
 * bench_client.c: librealtime against bench/'s native burst server (bench/src/bin/burst-server.rs), for
 * `make bench` (bench/run.py runs it, interleaved with the raw tokio-tungstenite baseline). Figures only:
 * nothing here passes or fails on timing. Each mode prints one JSON line on stdout.
 *
 *   TRANSPORT (optional, default websocket): `websocket` (the library's default options), `polling`
 *   ({"transports":["polling"]}: HTTP long-polling only) or `upgrade` ({"transports":["polling",
 *   "websocket"],"upgrade":true}: polling first, then the WebSocket upgrade).
 *
 *   bench_client throughput PORT N SIZE threads|poll [websocket|polling]
 *       connect, warm up with a 10,000-event burst, then emit ["burst",N,SIZE] and count N events "e"
 *       of SIZE bytes in a realtime_on callback: events/s (emit → Nth callback), CPU-seconds per million
 *       events (getrusage, whole process), and allocations per event when run with
 *       LD_PRELOAD=libmalloc_count.so (bench/c/malloc_count.c; counted over the same window).
 *       `poll`: the client is created with realtime_new_polled and its callbacks run on this thread from
 *       realtime_poll() when the poller's fd is readable (built with -DHAVE_POLL only).
 *   bench_client ack PORT M
 *       M sequential realtime_emit_with_ack("ack", [i]) (the server answers at once): emit → ack callback
 *       p50/p99 in µs
 *   bench_client connect PORT M open|new [websocket|polling]
 *       M fresh clients: `open`: autoConnect false, listeners, then realtime_open → on_connect;
 *       `new`: realtime_new (autoConnect) with on_connect registered right after it → on_connect.
 *       p50/p99 in µs
 *   bench_client upgrade PORT M
 *       M fresh clients over TRANSPORT `upgrade`: realtime_open → the upgrade to the WebSocket completed
 *       (the library's info log record "upgraded from polling to websocket", made as the switch happens;
 *       realtime_transport_name() is then checked to say "websocket"), p50/p99 in µs; and realtime_open →
 *       on_connect of the same clients (p50)
 *   bench_client verify PORT N SIZE websocket|polling|upgrade
 *       correctness, not speed: emit ["burst",N,SIZE,true] right after realtime_open (buffered until the
 *       connect; with `upgrade` the server delays its probe answer so that the burst straddles the switch
 *       to the WebSocket: `events_before_upgrade` says where it fell) and check that
 *       events 0..N-1 arrive once each, in order, whole (no extra one within 300 ms after the last); with
 *       `upgrade` also that the upgrade completed
 *   bench_client idle PORT K WINDOW_S
 *       K connected idle clients: RSS per client ((RSS with K − RSS with 1) / (K − 1)), the process's
 *       threads, and the context switches (voluntary + involuntary) of its threads other than main over
 *       WINDOW_S seconds, as wakeups per client per minute
 *
 * The library's default runtime is used (its IO and callback threads); taskset pins the whole process.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "realtime.h"

#define WARMUP_EVENTS 10000
#define WAIT_SECONDS 180

static void die(const char *what, const char *detail) {
    fprintf(stderr, "bench_client: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    printf("{\"error\":\"%s\"}\n", what);
    fflush(stdout);
    _exit(1);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* The LD_PRELOAD shim's counter, or NULL without the shim. */
static uint64_t (*alloc_count)(void);

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double percentile(double *v, size_t n, double q) {
    size_t i = (size_t)((double)n * q);
    return v[i < n ? i : n - 1];
}

/* ---------------------------------------------------------------------------------------------------
 * Waiting: callbacks bump counters and signal the condvar only on the transitions the main thread waits
 * for, so the event callback itself takes no lock. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static _Atomic long connects;
static _Atomic long events;
static long events_goal;       /* signal when `events` reaches it (written before the burst starts) */
static int64_t last_event_ns;  /* the time of the goal-reaching event */
static _Atomic long acks;
static int64_t ack_ns;
static _Atomic long upgrades;     /* log records "upgraded from polling to websocket" */
static int64_t upgrade_ns;        /* the time of the latest one */
static long events_at_upgrade;    /* `events` at that moment */

static void signal_all(void) {
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Wait until *counter >= goal; die after WAIT_SECONDS. */
static void wait_for(_Atomic long *counter, long goal, const char *what) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += WAIT_SECONDS;
    pthread_mutex_lock(&mu);
    while (atomic_load(counter) < goal) {
        if (pthread_cond_timedwait(&cv, &mu, &dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&mu);
            char msg[128];
            snprintf(msg, sizeof msg, "%ld of %ld", atomic_load(counter), goal);
            die(what, msg);
        }
    }
    pthread_mutex_unlock(&mu);
}

static void on_connect(void *user_data) {
    (void)user_data;
    atomic_fetch_add(&connects, 1);
    signal_all();
}

static void on_error(void *user_data, const char *message, const char *data_json) {
    (void)user_data;
    fprintf(stderr, "bench_client: on_error: %s %s\n", message, data_json ? data_json : "");
}

static void on_event(void *user_data, const char *event, const char *args_json, const realtime_buffer *buffers,
                     size_t buffer_count, uint64_t ack_id) {
    (void)user_data, (void)event, (void)args_json, (void)buffers, (void)buffer_count, (void)ack_id;
    /* One callback thread per client: a plain load + store, no read-modify-write. */
    long n = atomic_load_explicit(&events, memory_order_relaxed) + 1;
    atomic_store_explicit(&events, n, memory_order_release);
    if (n == events_goal) {
        last_event_ns = now_ns();
        signal_all();
    }
}

static void on_ack(void *user_data, const char *error, const char *args_json, const realtime_buffer *buffers,
                   size_t buffer_count) {
    (void)user_data, (void)args_json, (void)buffers, (void)buffer_count;
    ack_ns = now_ns();
    if (error) die("ack failed", error);
    atomic_fetch_add(&acks, 1);
    signal_all();
}

static void on_log(void *user_data, realtime_log_level level, const char *target, const char *message) {
    (void)user_data, (void)target;
    if (strstr(message, "upgraded from polling to websocket")) {
        upgrade_ns = now_ns();
        events_at_upgrade = atomic_load(&events);
        atomic_fetch_add(&upgrades, 1);
        signal_all();
    } else if (level <= REALTIME_LOG_LEVEL_WARN) {
        fprintf(stderr, "bench_client: log: %s: %s\n", target, message);
    }
}

static char url[64];

/* The options of a client over `transport`, with autoConnect false unless `auto_connect`. */
static const char *client_options(const char *transport, int auto_connect) {
    if (strcmp(transport, "websocket") == 0) return auto_connect ? NULL : "{\"autoConnect\":false}";
    if (strcmp(transport, "polling") == 0)
        return auto_connect ? "{\"transports\":[\"polling\"]}" : "{\"autoConnect\":false,\"transports\":[\"polling\"]}";
    if (strcmp(transport, "upgrade") == 0)
        return auto_connect ? "{\"transports\":[\"polling\",\"websocket\"],\"upgrade\":true}"
                            : "{\"autoConnect\":false,\"transports\":[\"polling\",\"websocket\"],\"upgrade\":true}";
    die("unknown transport (websocket, polling or upgrade)", transport);
    return NULL;
}

/* Dies unless the client's open connection runs over `expected` (a connected client: no waiting). */
static void check_transport(const realtime_client *c, const char *expected) {
    const char *name = realtime_transport_name(c);
    if (strcmp(name, expected) != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "expected %s, the client says \"%s\"", expected, name);
        die("wrong transport", msg);
    }
}

/* ---------------------------------------------------------------------------------------------------
 * throughput */
#ifdef HAVE_POLL
static realtime_poller *poller;

/* Run callbacks on this thread until *counter >= goal. */
static void poll_until(_Atomic long *counter, long goal, const char *what) {
    struct pollfd pfd = {.fd = realtime_poller_fd(poller), .events = POLLIN};
    int64_t deadline = now_ns() + (int64_t)WAIT_SECONDS * 1000000000;
    while (atomic_load(counter) < goal) {
        if (now_ns() > deadline) die(what, "timed out (poll mode)");
        if (realtime_poll(poller, 4096) == 0) (void)poll(&pfd, 1, 100);
    }
}
#endif

static void wait_events(int polled, _Atomic long *counter, long goal, const char *what) {
#ifdef HAVE_POLL
    if (polled) {
        poll_until(counter, goal, what);
        return;
    }
#else
    (void)polled;
#endif
    wait_for(counter, goal, what);
}

static void throughput(long n, long size, int polled, const char *transport) {
    if (strcmp(transport, "upgrade") == 0) die("throughput: websocket or polling", transport);
    const char *options = client_options(transport, 0);
    realtime_client *c;
#ifdef HAVE_POLL
    if (polled) {
        poller = realtime_poller_new();
        if (!poller) die("realtime_poller_new", realtime_last_error());
        c = realtime_new_polled(poller, url, options);
    } else
#endif
        c = realtime_new(url, options);
    if (!c) die("realtime_new", realtime_last_error());
    realtime_on_connect(c, on_connect, NULL);
    realtime_on_error(c, on_error, NULL);
    realtime_on(c, "e", on_event, NULL);
    realtime_open(c);
    wait_events(polled, &connects, 1, "connect");
    check_transport(c, transport);

    char args[64];
    events_goal = WARMUP_EVENTS;
    snprintf(args, sizeof args, "[%d,%ld]", WARMUP_EVENTS, size);
    if (realtime_emit(c, "burst", args) != REALTIME_STATUS_OK) die("emit burst", realtime_last_error());
    wait_events(polled, &events, WARMUP_EVENTS, "warm-up burst");

    events_goal = WARMUP_EVENTS + n;
    snprintf(args, sizeof args, "[%ld,%ld]", n, size);
    uint64_t a0 = alloc_count ? alloc_count() : 0;
    double cpu0 = cpu_seconds();
    int64_t t0 = now_ns();
    if (realtime_emit(c, "burst", args) != REALTIME_STATUS_OK) die("emit burst", realtime_last_error());
    wait_events(polled, &events, WARMUP_EVENTS + n, "burst");
    double cpu = cpu_seconds() - cpu0;
    uint64_t a1 = alloc_count ? alloc_count() : 0;
    double seconds = (double)(last_event_ns - t0) / 1e9;
    printf("{\"events\":%ld,\"seconds\":%.6f,\"events_per_s\":%.0f,\"cpu_s_per_million\":%.4f", n, seconds,
           (double)n / seconds, cpu / (double)n * 1e6);
    if (alloc_count) printf(",\"allocs_per_event\":%.3f", (double)(a1 - a0) / (double)n);
    printf("}\n");
    fflush(stdout);
    realtime_free(c);
#ifdef HAVE_POLL
    if (polled) realtime_poller_free(poller);
#endif
}

/* ---------------------------------------------------------------------------------------------------
 * ack */
static void ack(long m) {
    realtime_client *c = realtime_new(url, "{\"autoConnect\":false}");
    if (!c) die("realtime_new", realtime_last_error());
    realtime_on_connect(c, on_connect, NULL);
    realtime_open(c);
    wait_for(&connects, 1, "connect");
    long warmup = m / 10;
    double *us = malloc(sizeof(double) * (size_t)m);
    for (long i = 0; i < warmup + m; i++) {
        char args[32];
        snprintf(args, sizeof args, "[%ld]", i);
        int64_t t0 = now_ns();
        if (realtime_emit_with_ack(c, "ack", args, 0, on_ack, NULL) != REALTIME_STATUS_OK)
            die("emit_with_ack", realtime_last_error());
        wait_for(&acks, i + 1, "ack");
        if (i >= warmup) us[i - warmup] = (double)(ack_ns - t0) / 1e3;
    }
    qsort(us, (size_t)m, sizeof *us, cmp_double);
    printf("{\"round_trips\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f}\n", m, percentile(us, (size_t)m, 0.5),
           percentile(us, (size_t)m, 0.99));
    fflush(stdout);
    free(us);
    realtime_free(c);
}

/* ---------------------------------------------------------------------------------------------------
 * connect */
static int64_t connect_ns;
static void on_connect_timed(void *user_data) {
    (void)user_data;
    connect_ns = now_ns();
    atomic_fetch_add(&connects, 1);
    signal_all();
}

static void connect_rounds(long m, int via_new, const char *transport) {
    if (strcmp(transport, "upgrade") == 0) die("connect: websocket or polling (see the upgrade mode)", transport);
    long warmup = m / 10;
    double *us = malloc(sizeof(double) * (size_t)m);
    for (long i = 0; i < warmup + m; i++) {
        realtime_client *c;
        int64_t t0;
        if (via_new) {
            t0 = now_ns();
            c = realtime_new(url, client_options(transport, 1));
            if (!c) die("realtime_new", realtime_last_error());
            realtime_on_connect(c, on_connect_timed, NULL);
        } else {
            c = realtime_new(url, client_options(transport, 0));
            if (!c) die("realtime_new", realtime_last_error());
            realtime_on_connect(c, on_connect_timed, NULL);
            t0 = now_ns();
            realtime_open(c);
        }
        wait_for(&connects, i + 1, "connect");
        if (i >= warmup) us[i - warmup] = (double)(connect_ns - t0) / 1e3;
        if (i == 0) check_transport(c, transport);
        realtime_free(c);
    }
    qsort(us, (size_t)m, sizeof *us, cmp_double);
    printf("{\"connects\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f}\n", m, percentile(us, (size_t)m, 0.5),
           percentile(us, (size_t)m, 0.99));
    fflush(stdout);
    free(us);
}

/* ---------------------------------------------------------------------------------------------------
 * upgrade */
static void upgrade_rounds(long m) {
    realtime_set_log_handler(REALTIME_LOG_LEVEL_INFO, on_log, NULL);
    long warmup = m / 10;
    double *up = malloc(sizeof(double) * (size_t)m), *conn = malloc(sizeof(double) * (size_t)m);
    for (long i = 0; i < warmup + m; i++) {
        realtime_client *c = realtime_new(url, client_options("upgrade", 0));
        if (!c) die("realtime_new", realtime_last_error());
        realtime_on_connect(c, on_connect_timed, NULL);
        realtime_on_error(c, on_error, NULL);
        int64_t t0 = now_ns();
        realtime_open(c);
        wait_for(&upgrades, i + 1, "upgrade");
        wait_for(&connects, i + 1, "connect");
        /* The record is made as the switch happens: the name follows within microseconds. */
        for (int spin = 0; strcmp(realtime_transport_name(c), "websocket") != 0; spin++) {
            if (spin == 10000) check_transport(c, "websocket");
            struct timespec pause = {0, 100000};
            nanosleep(&pause, NULL);
        }
        if (i >= warmup) {
            up[i - warmup] = (double)(upgrade_ns - t0) / 1e3;
            conn[i - warmup] = (double)(connect_ns - t0) / 1e3;
        }
        realtime_free(c);
    }
    qsort(up, (size_t)m, sizeof *up, cmp_double);
    qsort(conn, (size_t)m, sizeof *conn, cmp_double);
    printf("{\"upgrades\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"connect_p50_us\":%.1f}\n", m,
           percentile(up, (size_t)m, 0.5), percentile(up, (size_t)m, 0.99), percentile(conn, (size_t)m, 0.5));
    fflush(stdout);
    free(up);
    free(conn);
}

/* ---------------------------------------------------------------------------------------------------
 * verify */
static long verify_size;
static _Atomic long verify_errors;
static char verify_first_error[160];

/* `args_json` must be [<events so far>,"<verify_size x's>"]. */
static void on_numbered_event(void *user_data, const char *event, const char *args_json,
                              const realtime_buffer *buffers, size_t buffer_count, uint64_t ack_id) {
    (void)user_data, (void)event, (void)buffers, (void)buffer_count, (void)ack_id;
    long n = atomic_load_explicit(&events, memory_order_relaxed);
    char *end = NULL;
    long got = args_json[0] == '[' ? strtol(args_json + 1, &end, 10) : -1;
    int whole = end && end[0] == ',' && end[1] == '"' && (long)strlen(end) == verify_size + 4 &&
                strspn(end + 2, "x") == (size_t)verify_size;
    if ((got != n || !whole) && atomic_fetch_add(&verify_errors, 1) == 0)
        snprintf(verify_first_error, sizeof verify_first_error, "event %ld: expected [%ld,\"x…\"], got %.80s", n, n,
                 args_json);
    atomic_store_explicit(&events, n + 1, memory_order_release);
    if (n + 1 == events_goal) {
        last_event_ns = now_ns();
        signal_all();
    }
}

static void verify(long n, long size, const char *transport) {
    realtime_set_log_handler(REALTIME_LOG_LEVEL_INFO, on_log, NULL);
    verify_size = size;
    events_goal = n;
    /* With `upgrade`, the server answers the probe 30 ms late (burst-server's probeDelayMs), once the burst
     * runs over polling. */
    char options[160];
    snprintf(options, sizeof options, "%.*s%s", (int)strlen(client_options(transport, 0)) - 1,
             client_options(transport, 0), strcmp(transport, "upgrade") == 0 ? ",\"query\":{\"probeDelayMs\":\"30\"}}" : "}");
    realtime_client *c = realtime_new(url, options);
    if (!c) die("realtime_new", realtime_last_error());
    realtime_on_connect(c, on_connect, NULL);
    realtime_on_error(c, on_error, NULL);
    realtime_on(c, "e", on_numbered_event, NULL);
    realtime_open(c);
    char args[80];
    snprintf(args, sizeof args, "[%ld,%ld,true]", n, size);
    if (realtime_emit(c, "burst", args) != REALTIME_STATUS_OK) die("emit burst", realtime_last_error());
    wait_for(&events, n, "numbered burst");
    struct timespec settle = {0, 300000000};
    nanosleep(&settle, NULL);
    if (atomic_load(&verify_errors) > 0) die("events out of order or damaged", verify_first_error);
    if (atomic_load(&events) != n) {
        char msg[64];
        snprintf(msg, sizeof msg, "%ld events for a burst of %ld", atomic_load(&events), n);
        die("extra events", msg);
    }
    if (atomic_load(&connects) != 1) die("the client reconnected during the burst", NULL);
    int upgrade = strcmp(transport, "upgrade") == 0;
    if (upgrade) {
        wait_for(&upgrades, 1, "upgrade");
        check_transport(c, "websocket");
    } else {
        check_transport(c, transport);
    }
    printf("{\"events\":%ld,\"size\":%ld,\"in_order\":true,\"transport\":\"%s\"", n, size,
           realtime_transport_name(c));
    if (upgrade) printf(",\"events_before_upgrade\":%ld", events_at_upgrade);
    printf("}\n");
    fflush(stdout);
    realtime_free(c);
}

/* ---------------------------------------------------------------------------------------------------
 * idle */
static long status_kib(const char *path, const char *name) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') v = atol(line + n + 1);
    fclose(f);
    return v;
}

/* Context switches of every thread of this process but the main one. */
static long thread_switches(int *threads) {
    DIR *d = opendir("/proc/self/task");
    if (!d) die("opendir /proc/self/task", strerror(errno));
    long sum = 0;
    int count = 0;
    pid_t self = getpid();
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        count++;
        if (atol(e->d_name) == self) continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        long v = status_kib(path, "voluntary_ctxt_switches"), nv = status_kib(path, "nonvoluntary_ctxt_switches");
        if (v > 0) sum += v;
        if (nv > 0) sum += nv;
    }
    closedir(d);
    if (threads) *threads = count;
    return sum;
}

static void idle(long k, long window_s) {
    realtime_client **clients = calloc((size_t)k, sizeof *clients);
    const long batch = 250;
    long rss_one = 0;
    for (long i = 0; i < k;) {
        long end = i == 0 ? 1 : (i + batch < k ? i + batch : k);
        for (; i < end; i++) {
            clients[i] = realtime_new(url, NULL);
            if (!clients[i]) die("realtime_new", realtime_last_error());
            realtime_on_connect(clients[i], on_connect, NULL);
        }
        wait_for(&connects, end, "idle clients connect");
        if (end == 1) {
            sleep(1);
            rss_one = status_kib("/proc/self/status", "VmRSS");
        }
    }
    sleep(2);
    long rss_k = status_kib("/proc/self/status", "VmRSS");
    int threads = 0;
    long s0 = thread_switches(&threads);
    sleep((unsigned)window_s);
    long s1 = thread_switches(NULL);
    if (atomic_load(&connects) != k) die("a client reconnected during the window", NULL);
    printf("{\"clients\":%ld,\"rss_one_kib\":%ld,\"rss_kib\":%ld,\"kib_per_client\":%.2f,\"threads\":%d,"
           "\"window_s\":%ld,\"switches\":%ld,\"wakeups_per_client_per_min\":%.3f}\n",
           k, rss_one, rss_k, k > 1 ? (double)(rss_k - rss_one) / (double)(k - 1) : 0.0, threads, window_s,
           s1 - s0, (double)(s1 - s0) / (double)k * 60.0 / (double)window_s);
    fflush(stdout);
    /* Freeing 10 k clients is not part of the figure. */
    _exit(0);
}

int main(int argc, char **argv) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &ca);
    *(void **)&alloc_count = dlsym(RTLD_DEFAULT, "bench_alloc_count");
    if (argc < 4) {
        fprintf(stderr, "usage: bench_client throughput PORT N SIZE threads|poll [TRANSPORT] | ack PORT M | "
                        "connect PORT M open|new [TRANSPORT] | upgrade PORT M | verify PORT N SIZE TRANSPORT | "
                        "idle PORT K WINDOW_S\n");
        return 2;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", atoi(argv[2]));
    const char *mode = argv[1];
    long a = atol(argv[3]);
    if (strcmp(mode, "throughput") == 0 && argc >= 6) {
        int polled = strcmp(argv[5], "poll") == 0;
#ifndef HAVE_POLL
        if (polled) die("poll mode: n/a (API not present)", NULL);
#endif
        throughput(a, atol(argv[4]), polled, argc >= 7 ? argv[6] : "websocket");
    } else if (strcmp(mode, "ack") == 0) {
        ack(a);
    } else if (strcmp(mode, "connect") == 0 && argc >= 5) {
        connect_rounds(a, strcmp(argv[4], "new") == 0, argc >= 6 ? argv[5] : "websocket");
    } else if (strcmp(mode, "upgrade") == 0) {
        upgrade_rounds(a);
    } else if (strcmp(mode, "verify") == 0 && argc >= 6) {
        verify(a, atol(argv[4]), argv[5]);
    } else if (strcmp(mode, "idle") == 0 && argc >= 5) {
        idle(a, atol(argv[4]));
    } else {
        fprintf(stderr, "bench_client: bad arguments\n");
        return 2;
    }
    return 0;
}
