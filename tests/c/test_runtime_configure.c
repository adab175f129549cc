/* test_runtime_configure: realtime_runtime_configure() and callback-thread affinity (issue 7, item 3).
 *  - Before the first client: realtime_runtime_configure(3, 3) is OK; the process then runs exactly
 *    3 "realtime-io" and 3 "realtime-cb-*" threads once clients exist.
 *  - Afterwards: another count fails with REALTIME_STATUS_ALREADY_STARTED and a message; the running
 *    counts (or 0) are OK.
 *  - Affinity: all callbacks of one client run on one thread (2,000 events), and 6 clients use all 3
 *    callback threads. */
#include "harness.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CLIENTS 6
#define EVENTS 2000

static int count_threads(const char *prefix) {
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL, "cannot open /proc/self/task");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[320], name[64] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(name, sizeof name, f) && strncmp(name, prefix, strlen(prefix)) == 0) n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

typedef struct {
    pthread_t first;
    atomic_int events;
    atomic_int other_thread;
    atomic_int connected;
} client_state;

static void on_connect(void *u) {
    client_state *s = u;
    atomic_store(&s->connected, 1);
}

static void on_num(void *u, const char *e, const char *a, const realtime_buffer *b, size_t n, uint64_t ack) {
    client_state *s = u;
    (void)e, (void)a, (void)b, (void)n, (void)ack;
    if (atomic_fetch_add(&s->events, 1) == 0) {
        s->first = pthread_self();
    } else if (!pthread_equal(s->first, pthread_self())) {
        atomic_fetch_add(&s->other_thread, 1);
    }
}

int main(void) {
    rt_test_begin("test_runtime_configure", 90);
    CHECK(realtime_runtime_configure(3, 3) == REALTIME_STATUS_OK, "configure before start: %s", realtime_last_error());
    CHECK(realtime_runtime_configure(3, 3) == REALTIME_STATUS_OK, "configure twice before start");

    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    static client_state st[CLIENTS];
    realtime_client *c[CLIENTS];
    char ids[CLIENTS][64];
    for (int i = 0; i < CLIENTS; i++) {
        c[i] = realtime_new(url, NULL);
        CHECK(c[i] != NULL, "realtime_new: %s", realtime_last_error());
        CHECK(realtime_on_connect(c[i], on_connect, &st[i]) > 0, "on_connect");
        CHECK(realtime_on(c[i], "num", on_num, &st[i]) > 0, "on num");
    }
    for (int i = 0; i < CLIENTS; i++) {
        int64_t end = rt_now_ms() + 5000;
        while (!atomic_load(&st[i].connected)) {
            CHECK(rt_now_ms() < end, "client %d never connected", i);
            rt_sleep_ms(2);
        }
        CHECK(realtime_socket_id(c[i], ids[i], sizeof ids[i]) > 0, "socket id");
    }
    int io = count_threads("realtime-io"), cb = count_threads("realtime-cb-");
    NOTE("threads: %d realtime-io, %d realtime-cb-*", io, cb);
    CHECK(io == 3, "%d IO threads, configured 3", io);
    CHECK(cb == 3, "%d callback threads, configured 3", cb);

    realtime_status s = realtime_runtime_configure(2, 0);
    CHECK(s == REALTIME_STATUS_ALREADY_STARTED, "configure after start: %s", realtime_status_str(s));
    NOTE("after start: %s", realtime_last_error());
    CHECK(strstr(realtime_last_error(), "IO threads") != NULL, "message: %s", realtime_last_error());
    CHECK(realtime_runtime_configure(0, 5) == REALTIME_STATUS_ALREADY_STARTED, "callback threads after start");
    CHECK(realtime_runtime_configure(3, 3) == REALTIME_STATUS_OK, "the running counts are OK");
    CHECK(realtime_runtime_configure(0, 0) == REALTIME_STATUS_OK, "0 (defaults) is OK");

    for (int i = 0; i < CLIENTS; i++) CHECK(rt_server_commandf(srv, 5000, "burst %s num %d", ids[i], EVENTS), "burst");
    pthread_t seen[CLIENTS];
    int distinct = 0;
    for (int i = 0; i < CLIENTS; i++) {
        int64_t end = rt_now_ms() + 20000;
        while (atomic_load(&st[i].events) < EVENTS) {
            CHECK(rt_now_ms() < end, "client %d: %d of %d events", i, atomic_load(&st[i].events), EVENTS);
            rt_sleep_ms(5);
        }
        CHECK(atomic_load(&st[i].other_thread) == 0, "client %d: %d callbacks on another thread", i,
              atomic_load(&st[i].other_thread));
        int known = 0;
        for (int j = 0; j < distinct; j++) known |= pthread_equal(seen[j], st[i].first);
        if (!known) seen[distinct++] = st[i].first;
    }
    NOTE("%d clients' callbacks ran on %d distinct threads, each client on one", CLIENTS, distinct);
    CHECK(distinct == 3, "clients spread over %d callback threads, want 3", distinct);
    for (int i = 0; i < CLIENTS; i++) realtime_free(c[i]);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
