/* test_once_off: realtime_off() on a once-listener while it runs (issue 8, defect 2).
 * The once-listener blocks for 300 ms; another thread calls realtime_off(id) meanwhile. realtime_off
 * must find the listener (REALTIME_STATUS_OK, not UNKNOWN_LISTENER) and return only after the call
 * returned, so the common "cancel, then free(ctx)" pattern is safe; the listener never runs again.
 * The same for a plain listener, for comparison. */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define OPTS "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}"

typedef struct {
    atomic_int started;
    atomic_int finished;
    atomic_int calls;
} ctx;

static void slow(void *u, const char *e, const char *a, const realtime_buffer *b, size_t n, uint64_t ack) {
    ctx *c = u;
    (void)e, (void)a, (void)b, (void)n, (void)ack;
    atomic_fetch_add(&c->calls, 1);
    atomic_store(&c->started, 1);
    rt_sleep_ms(300); /* the window in which realtime_off is called */
    atomic_store(&c->finished, 1);
}

static void check_off_waits(rt_server *srv, realtime_client *c, const char *cid, int once) {
    ctx *x = calloc(1, sizeof *x);
    uint64_t id = once ? realtime_once(c, "slow", slow, x) : realtime_on(c, "slow", slow, x);
    CHECK(id > 0, "register: %s", realtime_last_error());
    CHECK(rt_server_commandf(srv, 5000, "emit %s slow [1]", cid), "emit slow");
    int64_t end = rt_now_ms() + 5000;
    while (!atomic_load(&x->started)) {
        CHECK(rt_now_ms() < end, "the listener never ran");
        rt_sleep_ms(1);
    }
    realtime_status st = realtime_off(c, id);
    int finished = atomic_load(&x->finished);
    NOTE("%s listener: realtime_off while running -> %s, callback finished when it returned: %s",
         once ? "once" : "plain", realtime_status_str(st), finished ? "yes" : "no");
    CHECK(st == REALTIME_STATUS_OK, "realtime_off of a running %s listener: %s (%s)", once ? "once" : "plain",
          realtime_status_str(st), realtime_last_error());
    CHECK(finished, "realtime_off returned while the %s listener was still running", once ? "once" : "plain");
    CHECK(realtime_off(c, id) == REALTIME_STATUS_UNKNOWN_LISTENER, "a second off must say unknown listener");
    CHECK(rt_server_commandf(srv, 5000, "emit %s slow [2]", cid), "emit slow again");
    rt_sleep_ms(200); /* proving that the removed listener does not run */
    CHECK(atomic_load(&x->calls) == 1, "removed listener ran %d times", atomic_load(&x->calls));
    free(x); /* the "cancel, then free(ctx)" pattern: safe now */
}

int main(void) {
    rt_test_begin("test_once_off", 60);
    rt_server *srv = rt_server_start(NULL);
    char url[128], cid[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, sizeof cid), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");
    check_off_waits(srv, c, cid, 1);
    check_off_waits(srv, c, cid, 0);
    realtime_free(c);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
