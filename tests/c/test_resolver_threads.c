/* test_resolver_threads: host names resolve on a small fixed pool, so the process's threads do not grow
 * with the number of clients connecting to a host name at once (issue 8 item 7: 200 clients to
 * `localhost` peaked at 95 threads on tokio's blocking pool, against 7 for `127.0.0.1`).
 *  - 200 clients to http://localhost:PORT/ created in a burst all connect;
 *  - meanwhile the process's thread count (/proc/self/status "Threads:"), sampled every millisecond, never
 *    exceeds the count before the first client plus the library's fixed threads (2 IO, 2 callback,
 *    2 resolver, at most 2 of tokio's blocking pool) plus 2 of slack. */
#include "harness.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CLIENTS 200
#define LIBRARY_THREADS 8
#define SLACK 2

static atomic_int g_connected;

static void on_connect(void *user_data) {
    (void)user_data;
    atomic_fetch_add(&g_connected, 1);
}

static int thread_count(void) {
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL, "cannot open /proc/self/status");
    char line[256];
    int threads = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Threads:", 8) == 0) threads = atoi(line + 8);
    }
    fclose(f);
    CHECK(threads > 0, "no Threads: line in /proc/self/status");
    return threads;
}

int main(void) {
    rt_test_begin("test_resolver_threads", 90);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://localhost:%d/", rt_server_port(srv));
    int before = thread_count();
    NOTE("%d threads before the first client; %d clients to %s", before, CLIENTS, url);

    static realtime_client *clients[CLIENTS];
    int peak = before;
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = realtime_new(url, "{\"autoConnect\":false,\"reconnectionDelay\":200,\"reconnectionDelayMax\":500}");
        CHECK(clients[i] != NULL, "realtime_new: %s", realtime_last_error());
        CHECK(realtime_on_connect(clients[i], on_connect, NULL) > 0, "on_connect");
    }
    for (int i = 0; i < CLIENTS; i++) CHECK(realtime_open(clients[i]) == REALTIME_STATUS_OK, "open");
    int64_t deadline = rt_now_ms() + 30000;
    while (atomic_load(&g_connected) < CLIENTS && rt_now_ms() < deadline) {
        int now = thread_count();
        if (now > peak) peak = now;
        rt_sleep_ms(1);
    }
    int connected = atomic_load(&g_connected);
    NOTE("%d/%d connected; peak %d threads (%d before)", connected, CLIENTS, peak, before);
    CHECK(connected == CLIENTS, "only %d of %d clients connected", connected, CLIENTS);
    CHECK(peak <= before + LIBRARY_THREADS + SLACK, "threads peaked at %d (%d before): they grow with clients", peak,
          before);

    for (int i = 0; i < CLIENTS; i++) realtime_free(clients[i]);
    rt_server_drain(srv, NULL);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
