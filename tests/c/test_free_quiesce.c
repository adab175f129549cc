/* test_free_quiesce: no callback runs after realtime_free returns (called outside a callback).
 *  Events flow continuously (an unreachable port with tiny reconnection delays: on_error and
 *  on_reconnect_attempt over and over); every callback sleeps 2 ms and bumps a counter; the main thread
 *  frees the client while callbacks run. Then against a live server: free right after on_connect.
 *  After realtime_free returns: no callback is running and the counter never changes again.
 *  Repeated a number of times, with and without a callback in progress at the moment of the free. */
#include "harness.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct counter {
    atomic_int calls;
    atomic_int inside;
} counter;

static void slow(counter *k) {
    atomic_fetch_add(&k->inside, 1);
    rt_sleep_ms(2);
    atomic_fetch_add(&k->calls, 1);
    atomic_fetch_sub(&k->inside, 1);
}
static void f0(void *u) { slow(u); }
static void f_s(void *u, const char *s) { (void)s; slow(u); }
static void f_ss(void *u, const char *a, const char *b) { (void)a; (void)b; slow(u); }
static void f_u(void *u, uint32_t n) { (void)n; slow(u); }

static void register_all(realtime_client *c, counter *k) {
    CHECK(realtime_on_connect(c, f0, k) > 0, "on_connect");
    CHECK(realtime_on_disconnect(c, f_s, k) > 0, "on_disconnect");
    CHECK(realtime_on_error(c, f_ss, k) > 0, "on_error");
    CHECK(realtime_on_reconnect_attempt(c, f_u, k) > 0, "on_reconnect_attempt");
    CHECK(realtime_on_reconnect(c, f_u, k) > 0, "on_reconnect");
    CHECK(realtime_on_reconnect_failed(c, f0, k) > 0, "on_reconnect_failed");
}

static void run_once(const char *url, const char *opts, int min_calls, int round) {
    counter *k = calloc(1, sizeof *k);
    CHECK(k != NULL, "calloc");
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    register_all(c, k);
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open");
    int64_t end = rt_now_ms() + 10000;
    while (atomic_load(&k->calls) < min_calls && rt_now_ms() < end) rt_sleep_ms(1);
    CHECK(atomic_load(&k->calls) >= min_calls, "round %d: only %d callbacks in 10 s", round, atomic_load(&k->calls));
    /* vary the moment of the free: sometimes while a callback is running */
    if (round % 2 == 0) {
        int64_t e2 = rt_now_ms() + 2000;
        while (atomic_load(&k->inside) == 0 && rt_now_ms() < e2) {
        }
    }
    int inside_at_free = atomic_load(&k->inside);
    realtime_free(c);
    int inside_after = atomic_load(&k->inside);
    int calls_after = atomic_load(&k->calls);
    CHECK(inside_after == 0, "round %d: a callback was still running when realtime_free returned", round);
    rt_sleep_ms(150); /* asserting that nothing happens any more */
    int calls_later = atomic_load(&k->calls);
    CHECK(calls_later == calls_after, "round %d: %d callbacks ran after realtime_free returned", round,
          calls_later - calls_after);
    if (round < 2 || round % 5 == 0)
        NOTE("round %d: %d callbacks before free (one running at free: %s), none after", round, calls_after,
             inside_at_free ? "yes" : "no");
    free(k);
}

int main(void) {
    rt_test_begin("test_free_quiesce", 120);

    /* an unreachable port */
    rt_server *dead = rt_server_start(NULL);
    int dead_port = rt_server_port(dead);
    rt_server_kill(dead);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", dead_port);
    NOTE("unreachable %s, reconnectionDelay 1 ms: on_error / on_reconnect_attempt flow", url);
    for (int round = 0; round < 20; round++)
        run_once(url, "{\"autoConnect\":false,\"reconnectionDelay\":1,\"reconnectionDelayMax\":2,\"randomizationFactor\":0}",
                 10, round);

    rt_server *srv = rt_server_start(NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    NOTE("live server %s: free right after on_connect", url);
    for (int round = 0; round < 10; round++)
        run_once(url, "{\"autoConnect\":false,\"reconnectionDelay\":10,\"reconnectionDelayMax\":20}", 1, round);

    rt_server_free(srv);
    rt_server_free(dead);
    rt_test_pass();
    return 0;
}
