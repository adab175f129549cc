/* test_finalizers: a listener's or an ack's user_data finalizer runs exactly once, after the last
 * possible callback, in every path:
 *  - realtime_off() of an idle listener (before realtime_off returns);
 *  - realtime_free() (every listener, lifecycle listeners given one with realtime_set_finalizer());
 *  - a once-listener after its only call returned (and not again on later events);
 *  - a once-listener that removes itself with realtime_off() while it runs: after the call returned;
 *  - realtime_free() inside a callback: all finalizers, the running listener's after its call;
 *  - realtime_emit_with_ack_free(): after the ack callback; for an ack never answered because the
 *    client was freed; and at once (before returning) when the emit fails;
 *  - realtime_set_finalizer() on an unknown listener: REALTIME_STATUS_UNKNOWN_LISTENER. */
#include "harness.h"

#include <stdatomic.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}"

typedef struct {
    const char *name;
    atomic_int finalized;
    atomic_int calls;
    atomic_int running;        /* a callback of this listener is running */
    atomic_int finalized_while_running;
    atomic_int called_after_final;
    realtime_client *client;
    _Atomic uint64_t id; /* set after registering, read by the callback: ordered through the server, which
                          * ThreadSanitizer cannot see, hence atomic */
} box;

static void finalize(void *u) {
    box *b = u;
    if (atomic_load(&b->running)) atomic_fetch_add(&b->finalized_while_running, 1);
    atomic_fetch_add(&b->finalized, 1);
}

static void on_event(void *u, const char *e, const char *a, const realtime_buffer *bf, size_t n, uint64_t ack) {
    box *b = u;
    (void)e, (void)a, (void)bf, (void)n, (void)ack;
    if (atomic_load(&b->finalized)) atomic_fetch_add(&b->called_after_final, 1);
    atomic_store(&b->running, 1);
    atomic_fetch_add(&b->calls, 1);
    rt_sleep_ms(20); /* a finalizer racing the call would show up here */
    atomic_store(&b->running, 0);
}

/* Removes itself while running, then keeps running for a while. */
static void on_event_off_self(void *u, const char *e, const char *a, const realtime_buffer *bf, size_t n,
                              uint64_t ack) {
    box *b = u;
    (void)e, (void)a, (void)bf, (void)n, (void)ack;
    atomic_store(&b->running, 1);
    atomic_fetch_add(&b->calls, 1);
    realtime_status st = realtime_off(b->client, atomic_load(&b->id));
    if (st != REALTIME_STATUS_OK) atomic_fetch_add(&b->called_after_final, 100);
    rt_sleep_ms(50);
    atomic_store(&b->running, 0);
}

static box *freeing_box;
static box *free_boxes[3];

/* Frees the client from inside the callback, then keeps running. */
static void on_event_free_client(void *u, const char *e, const char *a, const realtime_buffer *bf, size_t n,
                                 uint64_t ack) {
    box *b = u;
    (void)e, (void)a, (void)bf, (void)n, (void)ack;
    atomic_store(&b->running, 1);
    atomic_fetch_add(&b->calls, 1);
    realtime_free(b->client);
    rt_sleep_ms(50);
    atomic_store(&b->running, 0);
}

static void on_connect_cb(void *u) {
    box *b = u;
    atomic_fetch_add(&b->calls, 1);
}

static void on_ack(void *u, const char *err, const char *args, const realtime_buffer *bf, size_t n) {
    box *b = u;
    (void)err, (void)args, (void)bf, (void)n;
    atomic_store(&b->running, 1);
    atomic_fetch_add(&b->calls, 1);
    rt_sleep_ms(20);
    atomic_store(&b->running, 0);
}

static int wait_int(atomic_int *v, int want, int timeout_ms) {
    int64_t end = rt_now_ms() + timeout_ms;
    while (atomic_load(v) < want) {
        if (rt_now_ms() > end) return 0;
        rt_sleep_ms(2);
    }
    return 1;
}

static void check_once(box *b) {
    CHECK(atomic_load(&b->finalized) == 1, "%s: finalized %d times", b->name, atomic_load(&b->finalized));
    CHECK(atomic_load(&b->finalized_while_running) == 0, "%s: finalized while its callback ran", b->name);
    CHECK(atomic_load(&b->called_after_final) == 0, "%s: called after its finalizer (%d)", b->name,
          atomic_load(&b->called_after_final));
}

/* The logs of the clients connect_client made, freed at the end (after their clients). */
static rt_log *client_logs[2];
static int client_log_count;

static realtime_client *connect_client(rt_server *srv, const char *url, char *cid, size_t len) {
    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    CHECK(client_log_count < 2, "too many clients");
    client_logs[client_log_count++] = log;
    rt_log_attach(log, c);
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, len), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");
    return c;
}

int main(void) {
    rt_test_begin("test_finalizers", 120);
    rt_server *srv = rt_server_start(NULL);
    char url[128], cid[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    realtime_client *c = connect_client(srv, url, cid, sizeof cid);

    NOTE("realtime_off of an idle listener: finalized before realtime_off returns");
    box off_box = {.name = "off"};
    uint64_t id = realtime_on_with_free(c, "x", on_event, &off_box, finalize);
    CHECK(id > 0, "realtime_on_with_free: %s", realtime_last_error());
    CHECK(realtime_off(c, id) == REALTIME_STATUS_OK, "off: %s", realtime_last_error());
    check_once(&off_box);

    NOTE("a once-listener: finalized after its only call, never again");
    box once_box = {.name = "once"};
    CHECK(realtime_once_with_free(c, "once", on_event, &once_box, finalize) > 0, "once: %s", realtime_last_error());
    CHECK(rt_server_commandf(srv, 5000, "emit %s once [1]", cid), "emit once");
    CHECK(wait_int(&once_box.finalized, 1, 5000), "once-listener never finalized");
    CHECK(rt_server_commandf(srv, 5000, "emit %s once [2]", cid), "emit once again");
    box marker = {.name = "marker"};
    CHECK(realtime_on_with_free(c, "marker", on_event, &marker, finalize) > 0, "marker");
    CHECK(rt_server_commandf(srv, 5000, "emit %s marker [1]", cid), "emit marker");
    CHECK(wait_int(&marker.calls, 1, 5000), "marker not received");
    CHECK(atomic_load(&once_box.calls) == 1, "once-listener called %d times", atomic_load(&once_box.calls));
    check_once(&once_box);

    NOTE("a once-listener that calls realtime_off on itself while running: finalized after the call");
    box self_box = {.name = "once-off-self", .client = c};
    atomic_store(&self_box.id, realtime_once_with_free(c, "self", on_event_off_self, &self_box, finalize));
    CHECK(atomic_load(&self_box.id) > 0, "once self");
    CHECK(rt_server_commandf(srv, 5000, "emit %s self [1]", cid), "emit self");
    CHECK(wait_int(&self_box.finalized, 1, 5000), "self-removing once-listener never finalized");
    check_once(&self_box);

    NOTE("an ack: finalized after its callback ran");
    box ack_box = {.name = "ack"};
    CHECK(realtime_emit_with_ack_free(c, "ack", "[1]", 5000, on_ack, &ack_box, finalize) == REALTIME_STATUS_OK,
          "emit_with_ack_free: %s", realtime_last_error());
    CHECK(wait_int(&ack_box.finalized, 1, 5000), "ack never finalized");
    CHECK(atomic_load(&ack_box.calls) == 1, "ack callback ran %d times", atomic_load(&ack_box.calls));
    check_once(&ack_box);

    NOTE("a failed emit: finalized before realtime_emit_with_ack_free returns");
    box failed_box = {.name = "failed emit"};
    CHECK(realtime_emit_with_ack_free(c, "connect", "[1]", 5000, on_ack, &failed_box, finalize) ==
              REALTIME_STATUS_RESERVED_EVENT,
          "a reserved name must fail");
    check_once(&failed_box);
    CHECK(atomic_load(&failed_box.calls) == 0, "the failed emit's callback ran");

    NOTE("realtime_set_finalizer on a lifecycle listener, an unknown id; then realtime_free finalizes all");
    box life_box = {.name = "on_connect"};
    uint64_t life = realtime_on_connect(c, on_connect_cb, &life_box);
    CHECK(realtime_set_finalizer(c, life, finalize) == REALTIME_STATUS_OK, "set_finalizer: %s", realtime_last_error());
    CHECK(realtime_set_finalizer(c, 999999999, finalize) == REALTIME_STATUS_UNKNOWN_LISTENER, "unknown listener");
    box plain_box = {.name = "on at free"};
    CHECK(realtime_on_with_free(c, "y", on_event, &plain_box, finalize) > 0, "on y");
    box pending_ack = {.name = "unanswered ack"};
    /* "never": the server handler that never answers (an unknown event: no handler at all). */
    CHECK(realtime_emit_with_ack_free(c, "no-such-handler", "[1]", 0, on_ack, &pending_ack, finalize) ==
              REALTIME_STATUS_OK,
          "emit pending ack");
    realtime_free(c);
    check_once(&life_box);
    check_once(&plain_box);
    /* An ack still pending in the connection is finalized when the connection lets it go, shortly
     * after realtime_free (on an IO thread). */
    CHECK(wait_int(&pending_ack.finalized, 1, 5000), "the unanswered ack was never finalized");
    check_once(&pending_ack);
    CHECK(atomic_load(&pending_ack.calls) == 0, "the unanswered ack's callback ran");

    NOTE("realtime_free inside a callback: every finalizer once, the running listener's after its call");
    c = connect_client(srv, url, cid, sizeof cid);
    box killer = {.name = "freeing listener", .client = c};
    box other = {.name = "other listener"};
    box other_once = {.name = "other once"};
    freeing_box = &killer;
    free_boxes[0] = &killer, free_boxes[1] = &other, free_boxes[2] = &other_once;
    CHECK(realtime_on_with_free(c, "kill", on_event_free_client, &killer, finalize) > 0, "on kill");
    CHECK(realtime_on_with_free(c, "z", on_event, &other, finalize) > 0, "on z");
    CHECK(realtime_once_with_free(c, "z", on_event, &other_once, finalize) > 0, "once z");
    CHECK(rt_server_commandf(srv, 5000, "emit %s kill [1]", cid), "emit kill");
    CHECK(wait_int(&killer.finalized, 1, 5000), "the freeing listener was never finalized");
    CHECK(wait_int(&other.finalized, 1, 5000), "the other listener was never finalized");
    CHECK(wait_int(&other_once.finalized, 1, 5000), "the other once-listener was never finalized");
    rt_sleep_ms(100); /* proving that nothing is finalized twice */
    for (int i = 0; i < 3; i++) check_once(free_boxes[i]);

    for (int i = 0; i < client_log_count; i++) rt_log_free(client_logs[i]);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
