/* test_lifecycle: realtime_free at every point of a client's life, create/connect/free cycles, long
 * backoff runs and misuse.
 *  - free while connecting to a blackholed address (a listener whose accept queue is full: the SYN is
 *    never answered), mid-handshake (TCP accepted, no upgrade answer), connected, mid-backoff: each
 *    returns within 100 ms and no callback runs afterwards;
 *  - free from inside every callback kind (connect, disconnect, error, reconnect_attempt, reconnect,
 *    reconnect_failed, an event, an ack): returns at once, and no callback starts afterwards;
 *  - create/connect/free cycles against the real server (10,000; fewer under a sanitizer) with flat
 *    RSS: the growth between the first and the last thousand stays under a bound, the slope is printed;
 *  - 500 consecutive failed attempts against a refused port: every delay between attempts inside
 *    socket.io-client's backoff window (no overflow to 0 after many failures, no stall);
 *  - misuse: NULL everywhere, freed and garbage handles, double free, 16 threads using one client while
 *    another thread frees and recreates it. */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define FREE_LIMIT_MS 100

/* ---------------------------------------------------------------------------------------------------
 * A probe: every callback counts itself; once `freed` is set (realtime_free returned, or was called
 * from a callback that has since returned) a callback is a violation. */
typedef struct probe {
    atomic_int calls;
    atomic_int after_free;
    atomic_bool freed;
    atomic_int inside;
    realtime_client *client;
    const char *free_in; /* the callback kind that frees the client, or NULL */
    atomic_bool freed_in_callback;
} probe;

static void enter(probe *p, const char *kind) {
    atomic_fetch_add(&p->inside, 1);
    if (atomic_load(&p->freed)) atomic_fetch_add(&p->after_free, 1);
    atomic_fetch_add(&p->calls, 1);
    if (p->free_in && strcmp(p->free_in, kind) == 0 && !atomic_exchange(&p->freed_in_callback, true)) {
        int64_t t = rt_now_ms();
        realtime_free(p->client);
        int64_t dt = rt_now_ms() - t;
        if (dt > FREE_LIMIT_MS) atomic_fetch_add(&p->after_free, 1000); /* reported as a failure below */
    }
    atomic_fetch_sub(&p->inside, 1);
}
static void cb_connect(void *u) { enter(u, "connect"); }
static void cb_disconnect(void *u, const char *r) {
    (void)r;
    enter(u, "disconnect");
}
static void cb_error(void *u, const char *m, const char *d) {
    (void)m;
    (void)d;
    enter(u, "error");
}
static void cb_attempt(void *u, uint32_t n) {
    (void)n;
    enter(u, "reconnect_attempt");
}
static void cb_reconnect(void *u, uint32_t n) {
    (void)n;
    enter(u, "reconnect");
}
static void cb_failed(void *u) { enter(u, "reconnect_failed"); }
static void cb_event(void *u, const char *e, const char *a, const realtime_buffer *b, size_t n, uint64_t id) {
    (void)e;
    (void)a;
    (void)b;
    (void)n;
    (void)id;
    enter(u, "event");
}
static void cb_ack(void *u, const char *err, const char *a, const realtime_buffer *b, size_t n) {
    (void)err;
    (void)a;
    (void)b;
    (void)n;
    enter(u, "ack");
}

static void probe_attach(probe *p, realtime_client *c) {
    p->client = c;
    CHECK(realtime_on_connect(c, cb_connect, p) && realtime_on_disconnect(c, cb_disconnect, p) &&
              realtime_on_error(c, cb_error, p) && realtime_on_reconnect_attempt(c, cb_attempt, p) &&
              realtime_on_reconnect(c, cb_reconnect, p) && realtime_on_reconnect_failed(c, cb_failed, p) &&
              realtime_on_any(c, cb_event, p),
          "registration: %s", realtime_last_error());
}

/* Frees from the test thread (no callback of this client is running on it): within FREE_LIMIT_MS, and
 * no callback afterwards (watched for 300 ms). */
static void free_outside(probe *p, const char *where) {
    int64_t t = rt_now_ms();
    realtime_free(p->client);
    int64_t dt = rt_now_ms() - t;
    atomic_store(&p->freed, true);
    CHECK(atomic_load(&p->inside) == 0, "%s: a callback is running after realtime_free returned", where);
    NOTE("  free %s: %lld ms (%d callbacks before)", where, (long long)dt, atomic_load(&p->calls));
    CHECK(dt <= FREE_LIMIT_MS, "%s: realtime_free took %lld ms", where, (long long)dt);
    rt_sleep_ms(300);
    CHECK(atomic_load(&p->after_free) == 0, "%s: %d callback(s) after realtime_free", where,
          atomic_load(&p->after_free));
}

static int wait_calls(probe *p, int n, int timeout_ms) {
    int64_t end = rt_now_ms() + timeout_ms;
    while (atomic_load(&p->calls) < n) {
        if (rt_now_ms() > end) return 0;
        rt_sleep_ms(5);
    }
    return 1;
}

static int listener_socket(int backlog, int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    CHECK(listen(fd, backlog) == 0, "listen");
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0, "getsockname");
    *port = ntohs(a.sin_port);
    return fd;
}

/* A listener that never accepts, its queue filled by our own connections: further SYNs are dropped, so
 * a connection attempt hangs (a blackholed address). Returns the listener; fillers go into fill[]. */
static int blackhole(int *port, int fill[8]) {
    int fd = listener_socket(0, port);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(*port)};
    for (int i = 0; i < 8; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        CHECK(fill[i] >= 0, "socket");
        (void)connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    rt_sleep_ms(50);
    return fd;
}

/* ---------------------------------------------------------------------------------------------------
 * Free outside callbacks */
static void free_points(const char *live_url) {
    char url[128];
    int port;
    NOTE("free while connecting to a blackholed address");
    {
        int fill[8];
        int bh = blackhole(&port, fill);
        snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
        probe p = {0};
        realtime_client *c = realtime_new(url, "{\"timeout\":20000}");
        CHECK(c != NULL, "new: %s", realtime_last_error());
        probe_attach(&p, c);
        rt_sleep_ms(300);
        CHECK(atomic_load(&p.calls) == 0, "the blackholed attempt ended by itself");
        free_outside(&p, "connecting (blackholed)");
        for (int i = 0; i < 8; i++) close(fill[i]);
        close(bh);
    }
    NOTE("free mid-handshake (TCP accepted, the upgrade never answered)");
    {
        int l = listener_socket(16, &port);
        snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
        probe p = {0};
        realtime_client *c = realtime_new(url, "{\"timeout\":20000}");
        CHECK(c != NULL, "new: %s", realtime_last_error());
        probe_attach(&p, c);
        int s = accept(l, NULL, NULL);
        CHECK(s >= 0, "accept");
        rt_sleep_ms(100);
        free_outside(&p, "mid-handshake");
        close(s);
        close(l);
    }
    NOTE("free connected");
    {
        probe p = {0};
        realtime_client *c = realtime_new(live_url, NULL);
        CHECK(c != NULL, "new: %s", realtime_last_error());
        probe_attach(&p, c);
        CHECK(wait_calls(&p, 1, 5000), "never connected");
        CHECK(realtime_is_connected(c), "not connected");
        free_outside(&p, "connected");
    }
    NOTE("free mid-backoff (a refused port, a 5 s reconnection delay)");
    {
        int l = listener_socket(1, &port);
        close(l); /* nothing listens there now: refused */
        snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
        probe p = {0};
        realtime_client *c =
            realtime_new(url, "{\"reconnectionDelay\":5000,\"reconnectionDelayMax\":5000,\"randomizationFactor\":0}");
        CHECK(c != NULL, "new: %s", realtime_last_error());
        probe_attach(&p, c);
        CHECK(wait_calls(&p, 1, 5000), "the refused attempt raised nothing");
        rt_sleep_ms(200);
        free_outside(&p, "mid-backoff");
    }
}

/* ---------------------------------------------------------------------------------------------------
 * Free inside each callback kind */
static void free_inside(rt_server *srv, const char *live_url, const char *refused_url, const char *kind) {
    probe p = {0};
    p.free_in = kind;
    const char *url = live_url;
    const char *opts = "{\"reconnectionDelay\":50,\"reconnectionDelayMax\":100}";
    if (strcmp(kind, "error") == 0 || strcmp(kind, "reconnect_attempt") == 0) url = refused_url;
    if (strcmp(kind, "reconnect_failed") == 0) {
        url = refused_url;
        opts = "{\"reconnectionDelay\":20,\"reconnectionDelayMax\":20,\"reconnectionAttempts\":1}";
    }
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "new: %s", realtime_last_error());
    probe_attach(&p, c);
    if (url == live_url) {
        char id[64];
        CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "%s: no connection", kind);
        CHECK(wait_calls(&p, 1, 5000) || atomic_load(&p.freed_in_callback), "%s: no on_connect", kind);
        if (strcmp(kind, "event") == 0) {
            CHECK(rt_server_commandf(srv, 5000, "emit %s poke [1]", id), "emit");
        } else if (strcmp(kind, "ack") == 0) {
            CHECK(realtime_emit_with_ack(c, "ack", "[1]", 5000, cb_ack, &p) == REALTIME_STATUS_OK, "emit_with_ack");
        } else if (strcmp(kind, "disconnect") == 0) {
            CHECK(rt_server_commandf(srv, 5000, "close-transport %s", id), "close-transport");
        } else if (strcmp(kind, "reconnect") == 0) {
            CHECK(rt_server_commandf(srv, 5000, "close-transport %s", id), "close-transport");
        }
    }
    int64_t end = rt_now_ms() + 8000;
    while (!atomic_load(&p.freed_in_callback) && rt_now_ms() < end) rt_sleep_ms(5);
    CHECK(atomic_load(&p.freed_in_callback), "free inside %s: that callback never ran", kind);
    while (atomic_load(&p.inside) > 0 && rt_now_ms() < end) rt_sleep_ms(1);
    atomic_store(&p.freed, true); /* the freeing callback has returned: nothing may start now */
    rt_sleep_ms(300);
    int after = atomic_load(&p.after_free);
    CHECK(after < 1000, "free inside %s: realtime_free took more than %d ms", kind, FREE_LIMIT_MS);
    CHECK(after == 0, "free inside %s: %d callback(s) afterwards", kind, after);
    rt_server_drain(srv, NULL);
}

/* ---------------------------------------------------------------------------------------------------
 * Create/connect/free cycles with flat RSS */
static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct cycler {
    const char *url;
    int cycles;
    atomic_int *done;
    int failures;
} cycler;

static void cyc_connect(void *u) { atomic_store((atomic_bool *)u, true); }

static void *cycle_thread(void *arg) {
    cycler *cy = arg;
    for (int i = 0; i < cy->cycles; i++) {
        atomic_bool connected = false;
        realtime_client *c = realtime_new(cy->url, NULL);
        /* realtime_open: the first call other than a registration ends the initial event hold */
        if (!c || !realtime_on_connect(c, cyc_connect, &connected) || realtime_open(c) != REALTIME_STATUS_OK) {
            cy->failures++;
            realtime_free(c);
            continue;
        }
        int64_t end = rt_now_ms() + 5000;
        while (!atomic_load(&connected) && rt_now_ms() < end) rt_sleep_ms(1);
        if (!atomic_load(&connected)) cy->failures++;
        realtime_free(c);
        atomic_fetch_add(cy->done, 1);
    }
    return NULL;
}

static void cycles(rt_server *srv, const char *url, int total) {
    NOTE("%d create/connect/free cycles (4 threads)", total);
    enum { THREADS = 4, SAMPLES = 64 };
    atomic_int done = 0;
    cycler cy[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        cy[i] = (cycler){.url = url, .cycles = total / THREADS, .done = &done};
        CHECK(pthread_create(&th[i], NULL, cycle_thread, &cy[i]) == 0, "pthread_create");
    }
    long rss[SAMPLES] = {0};
    int at[SAMPLES] = {0};
    int n = 0;
    int step = total / 10;
    int64_t t0 = rt_now_ms();
    for (int next = step; next <= total && n < SAMPLES;) {
        if (atomic_load(&done) >= next) {
            rt_server_drain(srv, NULL); /* the harness queues the server's lines: not the library's memory */
            at[n] = next;
            rss[n++] = rss_kb();
            next += step;
        } else {
            rt_sleep_ms(10);
        }
        if (rt_now_ms() - t0 > 300000) break;
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    int failures = 0;
    for (int i = 0; i < THREADS; i++) failures += cy[i].failures;
    int64_t dt = rt_now_ms() - t0;
    CHECK(failures == 0, "%d cycles did not connect", failures);
    CHECK(n >= 3, "too few RSS samples (%d)", n);
    /* least-squares slope over the samples after the first (warm-up: runtime threads, allocator pools) */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int m = 0;
    for (int i = 1; i < n; i++, m++) {
        sx += at[i];
        sy += (double)rss[i];
        sxx += (double)at[i] * at[i];
        sxy += (double)at[i] * (double)rss[i];
    }
    double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx) * 1000.0; /* KB per 1000 cycles */
    NOTE("  %d cycles in %lld ms; RSS %ld KB after %d, %ld KB after %d; slope %.1f KB per 1000 cycles",
         atomic_load(&done), (long long)dt, rss[0], at[0], rss[n - 1], at[n - 1], slope);
    if (!SANITIZED) {
        /* a leak of one socket's state per cycle (tens of KB) would show as hundreds of MB */
        CHECK(slope < 200.0, "RSS grows %.1f KB per 1000 cycles", slope);
        CHECK(rss[n - 1] - rss[1] < 8192, "RSS grew %ld KB from cycle %d to %d", rss[n - 1] - rss[1], at[1],
              at[n - 1]);
    }
}

/* ---------------------------------------------------------------------------------------------------
 * 500 failed attempts, every delay inside the backoff window. Timed where the attempts arrive: a
 * listener that accepts each connection and closes it at once (the attempt fails in its handshake); the
 * interval between two connections is the failure (well under a millisecond) plus the backoff delay. */
#define BACKOFF_ATTEMPTS 500
typedef struct arrivals {
    int listener;
    atomic_int n;
    int64_t t[BACKOFF_ATTEMPTS + 2];
} arrivals;

static void *accept_and_close(void *arg) {
    arrivals *a = arg;
    while (atomic_load(&a->n) < BACKOFF_ATTEMPTS + 1) {
        int s = accept(a->listener, NULL, NULL);
        if (s < 0) break;
        int n = atomic_load(&a->n);
        a->t[n] = rt_now_ms();
        close(s);
        atomic_store(&a->n, n + 1);
    }
    return NULL;
}

static void backoff_run(void) {
    const int base = 4, max = 20;
    NOTE("%d consecutive failed attempts (reconnectionDelay %d, reconnectionDelayMax %d, randomizationFactor 0.5)",
         BACKOFF_ATTEMPTS, base, max);
    arrivals *a = calloc(1, sizeof *a);
    CHECK(a != NULL, "calloc");
    int port;
    a->listener = listener_socket(64, &port);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, accept_and_close, a) == 0, "pthread_create");
    char url[64], opts[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    snprintf(opts, sizeof opts,
             /* One transport: with the default fallback an attempt is a WebSocket try plus a polling
              * try, two connections at the listener. */
             "{\"reconnectionDelay\":%d,\"reconnectionDelayMax\":%d,\"randomizationFactor\":0.5,"
             "\"transports\":[\"websocket\"]}",
             base, max);
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "new: %s", realtime_last_error());
    int64_t end = rt_now_ms() + 120000;
    while (atomic_load(&a->n) < BACKOFF_ATTEMPTS + 1 && rt_now_ms() < end) rt_sleep_ms(20);
    realtime_free(c);
    int got = atomic_load(&a->n);
    shutdown(a->listener, SHUT_RDWR); /* wakes the accept thread */
    close(a->listener);
    pthread_join(th, NULL);
    CHECK(got >= BACKOFF_ATTEMPTS + 1, "only %d connections", got);
    int below = 0, above = 0;
    int64_t shortest = 1 << 30, longest = 0;
    for (int k = 0; k < BACKOFF_ATTEMPTS; k++) {
        /* connection k+1 is reconnection attempt k+1, after backoff delay index k (socket.io-client) */
        double d = base * (k >= 30 ? 1e9 : (double)(1u << k));
        double lo = d * 0.5 < max ? d * 0.5 : max, hi = d * 1.5 < max ? d * 1.5 : max;
        int64_t dt = a->t[k + 1] - a->t[k];
        if (dt < shortest) shortest = dt;
        if (dt > longest) longest = dt;
        if (dt < lo - 1) {
            if (below++ < 5) NOTE("  connection %d -> %d after %lld ms (window %.0f..%.0f)", k, k + 1, (long long)dt, lo, hi);
        }
        if (dt > hi + 1000) above++;
    }
    NOTE("  intervals %lld..%lld ms over %d attempts; %d below the window, %d more than 1 s above it",
         (long long)shortest, (long long)longest, BACKOFF_ATTEMPTS, below, above);
    CHECK(below == 0, "%d delays shorter than the backoff window", below);
    CHECK(above == 0, "%d delays far above the backoff window (a stall)", above);
    free(a);
}

/* ---------------------------------------------------------------------------------------------------
 * Misuse */
static void noop0(void *u) { (void)u; }
static void noop_ev(void *u, const char *e, const char *a, const realtime_buffer *b, size_t n, uint64_t id) {
    (void)u;
    (void)e;
    (void)a;
    (void)b;
    (void)n;
    (void)id;
}
static void noop_ack(void *u, const char *e, const char *a, const realtime_buffer *b, size_t n) {
    (void)u;
    (void)e;
    (void)a;
    (void)b;
    (void)n;
}

/* Every entry point with this handle (bad or good); `bad`: each must fail without crashing. */
static void every_call(realtime_client *c, bool bad, const char *what) {
    char buf[64];
    realtime_buffer rb = {.data = (const uint8_t *)"x", .len = 1};
    int failures = 0;
#define EXPECT_FAIL(call) failures += bad && (call) ? 1 : 0
    EXPECT_FAIL(realtime_open(c) == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_close(c) == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_reconnect_now(c) == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_is_connected(c));
    EXPECT_FAIL(realtime_socket_id(c, buf, sizeof buf) != 0);
    EXPECT_FAIL(realtime_on_connect(c, noop0, NULL) != 0);
    EXPECT_FAIL(realtime_on(c, "x", noop_ev, NULL) != 0);
    EXPECT_FAIL(realtime_once(c, "x", noop_ev, NULL) != 0);
    EXPECT_FAIL(realtime_on_any(c, noop_ev, NULL) != 0);
    EXPECT_FAIL(realtime_off(c, 1) == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_off_any(c) == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_emit(c, "x", "[1]") == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_emit_volatile(c, "x", "[1]") == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_emit_with_ack(c, "x", "[1]", 100, noop_ack, NULL) == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_emit_binary(c, "x", "[{\"_placeholder\":true,\"num\":0}]", &rb, 1, 0, NULL, NULL) ==
                REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_ack(c, 1, "[]") == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_is_recovered(c));
    realtime_client *ns = realtime_new_namespace(c, "/admin", NULL);
    EXPECT_FAIL(ns != NULL);
    if (ns) realtime_free(ns);
    EXPECT_FAIL(realtime_join(c, "room") == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_leave(c, "room") == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_send(c, "room", "ev", "1") == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_broadcast(c, "ev", "1") == REALTIME_STATUS_OK);
    EXPECT_FAIL(realtime_update_profile(c, "{}") == REALTIME_STATUS_OK);
#undef EXPECT_FAIL
    CHECK(failures == 0, "%s: %d calls succeeded", what, failures);
}

typedef struct shared_client {
    _Atomic(realtime_client *) client;
    atomic_bool stop;
    atomic_long calls;
} shared_client;

static void *user_thread(void *arg) {
    shared_client *s = arg;
    char buf[64];
    while (!atomic_load(&s->stop)) {
        realtime_client *c = atomic_load(&s->client); /* may be freed by now: must be harmless */
        (void)realtime_emit(c, "x", "[1]");
        (void)realtime_is_connected(c);
        (void)realtime_socket_id(c, buf, sizeof buf);
        uint64_t id = realtime_on(c, "x", noop_ev, NULL);
        if (id) (void)realtime_off(c, id);
        (void)realtime_open(c);
        atomic_fetch_add(&s->calls, 1);
    }
    return NULL;
}

static void misuse(const char *live_url) {
    NOTE("misuse: NULL, freed and garbage handles, double free");
    every_call(NULL, true, "NULL client");
    realtime_client *c = realtime_new(live_url, "{\"autoConnect\":false}");
    CHECK(c != NULL, "new: %s", realtime_last_error());
    CHECK(realtime_on(c, NULL, noop_ev, NULL) == 0, "on(NULL event)");
    CHECK(realtime_on(c, "x", NULL, NULL) == 0, "on(NULL cb)");
    CHECK(realtime_emit(c, NULL, "[]") != REALTIME_STATUS_OK, "emit(NULL event)");
    CHECK(realtime_emit_with_ack(c, "x", "[]", 0, NULL, NULL) != REALTIME_STATUS_OK, "emit_with_ack(NULL cb)");
    CHECK(realtime_emit_binary(c, "x", "[]", NULL, 3, 0, NULL, NULL) != REALTIME_STATUS_OK, "emit_binary(NULL, 3)");
    CHECK(realtime_socket_id(c, NULL, 10) == 0, "socket_id(NULL buf)");
    CHECK(realtime_new_namespace(c, NULL, NULL) == NULL, "new_namespace(NULL)");
    realtime_free(c);
    every_call(c, true, "freed handle");
    realtime_free(c); /* double free: a no-op */
    realtime_free(c);
    srand(12345);
    for (int i = 0; i < 1000; i++) {
        uintptr_t v = ((uintptr_t)rand() << 33) ^ ((uintptr_t)rand() << 7) ^ (uintptr_t)rand();
        if (i % 3 == 0) v &= 0xffff; /* small values, near real handle keys */
        realtime_client *g = (realtime_client *)v;
        if (i < 50) every_call(g, true, "garbage handle");
        (void)realtime_emit(g, "x", "[1]");
        realtime_free(g);
    }

    NOTE("16 threads use one client while another frees and recreates it (3 s)");
    shared_client s = {0};
    atomic_store(&s.client, realtime_new(live_url, NULL));
    pthread_t th[16];
    for (int i = 0; i < 16; i++) CHECK(pthread_create(&th[i], NULL, user_thread, &s) == 0, "pthread_create");
    int recreated = 0;
    int64_t end = rt_now_ms() + 3000;
    while (rt_now_ms() < end) {
        rt_sleep_ms(20);
        realtime_client *fresh = realtime_new(live_url, NULL);
        CHECK(fresh != NULL, "new: %s", realtime_last_error());
        realtime_client *old = atomic_exchange(&s.client, fresh);
        realtime_free(old);
        recreated++;
    }
    atomic_store(&s.stop, true);
    for (int i = 0; i < 16; i++) pthread_join(th[i], NULL);
    realtime_free(atomic_load(&s.client));
    NOTE("  %ld rounds of calls across %d free/recreate cycles", atomic_load(&s.calls), recreated);
    CHECK(atomic_load(&s.calls) > 100, "the user threads made no progress");
}

int main(int argc, char **argv) {
    rt_test_begin("test_lifecycle", 600);
    const char *only = argc > 1 ? argv[1] : NULL;
    rt_server *srv = rt_server_start(NULL);
    char live_url[128], refused_url[128];
    snprintf(live_url, sizeof live_url, "http://127.0.0.1:%d/", rt_server_port(srv));
    int port;
    int l = listener_socket(1, &port);
    close(l);
    snprintf(refused_url, sizeof refused_url, "http://127.0.0.1:%d/", port);

    if (!only || strcmp(only, "free") == 0) {
        free_points(live_url);
        static const char *kinds[] = {"connect", "disconnect", "error", "reconnect_attempt", "reconnect",
                                      "reconnect_failed", "event", "ack"};
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
            NOTE("free inside %s", kinds[i]);
            free_inside(srv, live_url, refused_url, kinds[i]);
        }
    }
    if (!only || strcmp(only, "misuse") == 0) misuse(live_url);
    if (!only || strcmp(only, "backoff") == 0) backoff_run();
    if (!only || strcmp(only, "cycles") == 0) {
        const char *env = getenv("RT_LIFECYCLE_CYCLES");
        cycles(srv, live_url, env ? atoi(env) : SANITIZED ? 1000 : 10000);
    }
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
