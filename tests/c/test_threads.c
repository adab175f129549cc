/* test_threads: eight threads call the API on one client at once.
 *  Each thread loops (ITERATIONS times) over a pseudo-random mix of realtime_open, realtime_close,
 *  realtime_is_connected, realtime_socket_id, realtime_on_* and realtime_off (of its own listeners),
 *  against a live server. Afterwards the client still works (close, open -> connected) and
 *  realtime_free releases it. No crash, no deadlock (watchdog), clean under ASan/valgrind. */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define THREADS 8
#define ITERATIONS 300

static realtime_client *g_client;
static rt_log *g_log;
static int64_t g_deadline;
static atomic_int g_cb_calls;
static atomic_int g_bad;

static void cb0(void *u) { (void)u; atomic_fetch_add(&g_cb_calls, 1); }
static void cb_s(void *u, const char *s) {
    (void)u;
    if (!s) atomic_fetch_add(&g_bad, 1);
    atomic_fetch_add(&g_cb_calls, 1);
}
static void cb_ss(void *u, const char *a, const char *b) {
    (void)u;
    (void)b;
    if (!a) atomic_fetch_add(&g_bad, 1);
    atomic_fetch_add(&g_cb_calls, 1);
}
static void cb_u(void *u, uint32_t n) { (void)u; (void)n; atomic_fetch_add(&g_cb_calls, 1); }

/* callbacks that call back into the API, to mix reentrancy with the thread storm */
static void cb_query(void *u) {
    (void)u;
    char buf[64];
    (void)realtime_is_connected(g_client);
    (void)realtime_socket_id(g_client, buf, sizeof buf);
    atomic_fetch_add(&g_cb_calls, 1);
}

static uint32_t xorshift(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void *worker(void *arg) {
    uint32_t seed = (uint32_t)(uintptr_t)arg * 2654435761u + 1u;
    uint64_t mine[16];
    int nmine = 0;
    /* at least ITERATIONS, and on until a connection completed during the storm (slow under valgrind) */
    for (int i = 0; i < ITERATIONS || (rt_log_count(g_log, "connect") == 0 && rt_now_ms() < g_deadline); i++) {
        char buf[64];
        uint64_t id = 0;
        switch (xorshift(&seed) % 12) {
        case 0: (void)realtime_open(g_client); break;
        case 1: (void)realtime_close(g_client); break;
        case 2: (void)realtime_is_connected(g_client); break;
        case 3: {
            size_t n = realtime_socket_id(g_client, buf, sizeof buf);
            if (n > 0 && n < sizeof buf && strlen(buf) != n) atomic_fetch_add(&g_bad, 1);
            break;
        }
        case 4: id = realtime_on_connect(g_client, (xorshift(&seed) & 1) ? cb0 : cb_query, NULL); break;
        case 5: id = realtime_on_disconnect(g_client, cb_s, NULL); break;
        case 6: id = realtime_on_error(g_client, cb_ss, NULL); break;
        case 7: id = realtime_on_reconnect_attempt(g_client, cb_u, NULL); break;
        case 8: id = realtime_on_reconnect(g_client, cb_u, NULL); break;
        case 9: id = realtime_on_reconnect_failed(g_client, cb0, NULL); break;
        case 10:
        case 11:
            if (nmine > 0) {
                int k = (int)(xorshift(&seed) % (uint32_t)nmine);
                if (realtime_off(g_client, mine[k]) != REALTIME_STATUS_OK) atomic_fetch_add(&g_bad, 1);
                mine[k] = mine[--nmine];
            } else {
                (void)realtime_socket_id(g_client, buf, 4);
            }
            break;
        }
        if (id != 0) {
            if (nmine < 16) {
                mine[nmine++] = id;
            } else if (realtime_off(g_client, id) != REALTIME_STATUS_OK) {
                atomic_fetch_add(&g_bad, 1);
            }
        }
        /* let connections progress between calls (0-2 ms), so that callbacks run during the storm */
        if (xorshift(&seed) % 4 == 0) rt_sleep_ms((int)(xorshift(&seed) % 3));
    }
    /* leave about half of the listeners registered: realtime_free must release them */
    for (int k = 0; k < nmine / 2; k++)
        if (realtime_off(g_client, mine[k]) != REALTIME_STATUS_OK) atomic_fetch_add(&g_bad, 1);
    return NULL;
}

int main(void) {
    rt_test_begin("test_threads", 120);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    g_client = realtime_new(url, "{\"reconnectionDelay\":10,\"reconnectionDelayMax\":50}");
    CHECK(g_client != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, g_client);
    g_log = log;
    g_deadline = rt_now_ms() + 20000;

    NOTE("%d threads x %d iterations of open/close/is_connected/socket_id/on_*/off", THREADS, ITERATIONS);
    int64_t t0 = rt_now_ms();
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0, "pthread_create");
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    NOTE("done in %lld ms; %d callbacks ran; connects %d, disconnects %d", (long long)(rt_now_ms() - t0),
         atomic_load(&g_cb_calls), rt_log_count(log, "connect"), rt_log_count(log, "disconnect"));
    CHECK(atomic_load(&g_bad) == 0, "%d inconsistent results (off of an own listener failed, bad socket id, NULL "
                                    "string in a callback)", atomic_load(&g_bad));
    CHECK(!rt_log_overlap(log), "two callbacks of one client ran at the same time");
    CHECK(rt_log_count(log, "connect") > 0, "no connection completed during the storm (the test is too fast)");

    NOTE("the client still works: close, open -> connected");
    CHECK(realtime_close(g_client) == REALTIME_STATUS_OK, "close");
    CHECK(realtime_open(g_client) == REALTIME_STATUS_OK, "open");
    int64_t end = rt_now_ms() + 10000;
    while (!realtime_is_connected(g_client) && rt_now_ms() < end) rt_sleep_ms(5); /* a state query */
    CHECK(realtime_is_connected(g_client), "not connected 10 s after open");
    char id[64];
    CHECK(realtime_socket_id(g_client, id, sizeof id) > 0, "no socket id");

    realtime_free(g_client);
    g_client = NULL;
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
