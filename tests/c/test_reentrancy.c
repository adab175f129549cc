/* test_reentrancy: calling the API from inside this client's callbacks.
 *  A. realtime_is_connected / realtime_socket_id inside on_connect see the new connection, and
 *     realtime_close inside on_connect works: on_disconnect("io client disconnect") follows;
 *  B. realtime_open inside on_disconnect works: the client connects again;
 *  C. realtime_free inside on_disconnect works: no crash and no further callback;
 *  D. realtime_free inside on_connect works, likewise;
 *  E. listener registration inside on_connect and realtime_off inside on_disconnect work (the new
 *     listener runs on the next connect; the removed one no longer runs).
 *  Listeners that count callbacks are registered before the freeing one, so "after free" is clear. */
#include "harness.h"

#include <stdatomic.h>
#include <string.h>

#define OPTS "{\"autoConnect\":false,\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}"

typedef struct ctx {
    realtime_client *c;
    rt_log *log;
    atomic_int calls;       /* callbacks run (any kind) */
    atomic_int freed;       /* set when the callback freed the client */
    atomic_int after_free;  /* callbacks that ran after freed was set */
    char id_in_cb[128];
    int connected_in_cb;
    atomic_int opened;
    uint64_t extra_id;
} ctx;

static void count(ctx *x) {
    atomic_fetch_add(&x->calls, 1);
    if (atomic_load(&x->freed)) atomic_fetch_add(&x->after_free, 1);
}

/* ---- A: close inside on_connect */
static void a_on_connect(void *u) {
    ctx *x = u;
    count(x);
    x->connected_in_cb = realtime_is_connected(x->c);
    realtime_socket_id(x->c, x->id_in_cb, sizeof x->id_in_cb);
    realtime_status st = realtime_close(x->c);
    rt_log_add(x->log, "connect", x->id_in_cb, realtime_status_str(st), st == REALTIME_STATUS_OK);
}

/* ---- B: open inside on_disconnect (once) */
static void b_on_disconnect(void *u, const char *reason) {
    ctx *x = u;
    count(x);
    realtime_status st = REALTIME_STATUS_OK;
    if (atomic_fetch_add(&x->opened, 1) == 0) st = realtime_open(x->c);
    rt_log_add(x->log, "disconnect", reason, realtime_status_str(st), st == REALTIME_STATUS_OK);
}

/* ---- C: free inside on_disconnect; D: free inside on_connect */
static void c_on_disconnect(void *u, const char *reason) {
    ctx *x = u;
    count(x);
    rt_log_add(x->log, "disconnect", reason, NULL, 0);
    atomic_store(&x->freed, 1);
    realtime_free(x->c);
    rt_log_add(x->log, "freed", NULL, NULL, 0);
}
static void d_on_connect(void *u) {
    ctx *x = u;
    count(x);
    rt_log_add(x->log, "connect", NULL, NULL, 0);
    atomic_store(&x->freed, 1);
    realtime_free(x->c);
    rt_log_add(x->log, "freed", NULL, NULL, 0);
}
static void any0(void *u) { count(u); }
static void any_s(void *u, const char *s) { (void)s; count(u); }
static void any_ss(void *u, const char *a, const char *b) { (void)a; (void)b; count(u); }
static void any_u(void *u, uint32_t n) { (void)n; count(u); }

static void register_counters(ctx *x) {
    CHECK(realtime_on_connect(x->c, any0, x) > 0, "on_connect");
    CHECK(realtime_on_disconnect(x->c, any_s, x) > 0, "on_disconnect");
    CHECK(realtime_on_error(x->c, any_ss, x) > 0, "on_error");
    CHECK(realtime_on_reconnect_attempt(x->c, any_u, x) > 0, "on_reconnect_attempt");
    CHECK(realtime_on_reconnect(x->c, any_u, x) > 0, "on_reconnect");
    CHECK(realtime_on_reconnect_failed(x->c, any0, x) > 0, "on_reconnect_failed");
}

/* ---- E: register inside on_connect, off inside on_disconnect */
static void e_extra(void *u) {
    ctx *x = u;
    rt_log_add(x->log, "extra_connect", NULL, NULL, 0);
}
static void e_on_connect(void *u) {
    ctx *x = u;
    count(x);
    if (x->extra_id == 0) {
        x->extra_id = realtime_on_connect(x->c, e_extra, x);
        rt_log_add(x->log, "registered", NULL, NULL, (int64_t)x->extra_id);
    }
    rt_log_add(x->log, "connect", NULL, NULL, 0);
}
static void e_on_disconnect(void *u, const char *reason) {
    ctx *x = u;
    count(x);
    if (atomic_fetch_add(&x->opened, 1) == 1) { /* the second disconnect */
        realtime_status st = realtime_off(x->c, x->extra_id);
        rt_log_add(x->log, "off", realtime_status_str(st), NULL, st == REALTIME_STATUS_OK);
    }
    rt_log_add(x->log, "disconnect", reason, NULL, 0);
}

static realtime_client *new_client(const char *url, ctx *x) {
    memset(x, 0, sizeof *x);
    x->log = rt_log_new();
    x->c = realtime_new(url, OPTS);
    CHECK(x->c != NULL, "realtime_new: %s", realtime_last_error());
    return x->c;
}

int main(void) {
    rt_test_begin("test_reentrancy", 90);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    char id[128];
    rt_record r;
    ctx x;

    /* A */
    NOTE("A: realtime_is_connected/socket_id/close inside on_connect");
    new_client(url, &x);
    CHECK(realtime_on_connect(x.c, a_on_connect, &x) > 0, "on_connect");
    CHECK(realtime_on_disconnect(x.c, rt_cb_disconnect, x.log) > 0, "on_disconnect");
    CHECK(realtime_on_reconnect_attempt(x.c, rt_cb_reconnect_attempt, x.log) > 0, "on_reconnect_attempt");
    CHECK(realtime_open(x.c) == REALTIME_STATUS_OK, "open");
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection");
    CHECK(rt_log_wait(x.log, "connect", 5000, &r), "on_connect did not run");
    CHECK(r.n == 1, "realtime_close inside on_connect returned %s", r.data);
    CHECK(x.connected_in_cb, "realtime_is_connected false inside on_connect");
    CHECK(strcmp(x.id_in_cb, id) == 0, "socket id inside on_connect '%s' != server's %s", x.id_in_cb, id);
    CHECK(rt_log_wait(x.log, "disconnect", 3000, &r), "no on_disconnect after close inside on_connect");
    CHECK(strcmp(r.text, "io client disconnect") == 0, "reason '%s'", r.text);
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", id, 3000, NULL, 0), "server saw no disconnect");
    rt_sleep_ms(500); /* no reconnection after a close */
    CHECK(rt_log_count(x.log, "reconnect_attempt") == 0, "reconnect attempt after close in on_connect");
    CHECK(!realtime_is_connected(x.c), "still connected");
    realtime_free(x.c);
    rt_log_free(x.log);

    /* B */
    NOTE("B: realtime_open inside on_disconnect");
    new_client(url, &x);
    CHECK(realtime_on_disconnect(x.c, b_on_disconnect, &x) > 0, "on_disconnect");
    CHECK(realtime_on_connect(x.c, rt_cb_connect, x.log) > 0, "on_connect");
    rt_log_set_client(x.log, x.c);
    CHECK(realtime_open(x.c) == REALTIME_STATUS_OK, "open");
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection");
    CHECK(rt_log_wait_nth(x.log, "connect", 1, 5000, NULL), "no on_connect");
    CHECK(realtime_close(x.c) == REALTIME_STATUS_OK, "close");
    CHECK(rt_log_wait(x.log, "disconnect", 3000, &r), "no on_disconnect");
    CHECK(strcmp(r.text, "io client disconnect") == 0, "reason '%s'", r.text);
    CHECK(r.n == 1, "realtime_open inside on_disconnect returned %s", r.data);
    char id2[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, id2, sizeof id2), "no connection after open in on_disconnect");
    CHECK(rt_log_wait_nth(x.log, "connect", 2, 5000, &r), "no on_connect after open in on_disconnect");
    CHECK(strcmp(r.text, id2) == 0 && strcmp(id2, id) != 0, "ids: new %s server %s old %s", r.text, id2, id);
    realtime_free(x.c);
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", id2, 3000, NULL, 0), "server saw no disconnect");
    rt_log_free(x.log);

    /* C */
    NOTE("C: realtime_free inside on_disconnect (server-side disconnect)");
    new_client(url, &x);
    register_counters(&x);
    CHECK(realtime_on_connect(x.c, rt_cb_connect, x.log) > 0, "on_connect");
    CHECK(realtime_on_disconnect(x.c, c_on_disconnect, &x) > 0, "on_disconnect");
    CHECK(realtime_open(x.c) == REALTIME_STATUS_OK, "open");
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection");
    /* x.c may be freed from now on: do not touch it here */
    CHECK(rt_server_commandf(srv, 3000, "disconnect %s", id), "server disconnect");
    CHECK(rt_log_wait(x.log, "freed", 3000, &r), "realtime_free inside on_disconnect did not return");
    rt_sleep_ms(1000); /* asserting that nothing more happens */
    CHECK(atomic_load(&x.after_free) == 0, "%d callbacks ran after realtime_free in on_disconnect",
          atomic_load(&x.after_free));
    CHECK(rt_server_queued(srv, "connection") == 0, "the freed client connected again");
    rt_log_free(x.log);

    NOTE("C': realtime_free inside on_disconnect (client-side close from the main thread)");
    new_client(url, &x);
    register_counters(&x);
    CHECK(realtime_on_connect(x.c, rt_cb_connect, x.log) > 0, "on_connect");
    CHECK(realtime_on_disconnect(x.c, c_on_disconnect, &x) > 0, "on_disconnect");
    CHECK(realtime_open(x.c) == REALTIME_STATUS_OK, "open");
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection");
    CHECK(rt_log_wait(x.log, "connect", 5000, NULL), "no on_connect");
    CHECK(realtime_close(x.c) == REALTIME_STATUS_OK, "close"); /* the callback frees it afterwards */
    CHECK(rt_log_wait(x.log, "freed", 3000, &r), "realtime_free inside on_disconnect did not return");
    rt_sleep_ms(500);
    CHECK(atomic_load(&x.after_free) == 0, "callbacks ran after realtime_free in on_disconnect");
    rt_log_free(x.log);

    /* D */
    NOTE("D: realtime_free inside on_connect");
    new_client(url, &x);
    register_counters(&x);
    CHECK(realtime_on_connect(x.c, d_on_connect, &x) > 0, "on_connect");
    CHECK(realtime_open(x.c) == REALTIME_STATUS_OK, "open");
    CHECK(rt_log_wait(x.log, "freed", 5000, &r), "realtime_free inside on_connect did not return");
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection");
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", id, 3000, NULL, 0),
          "the server saw no disconnect after realtime_free in on_connect");
    rt_sleep_ms(500);
    CHECK(atomic_load(&x.after_free) == 0, "callbacks ran after realtime_free in on_connect");
    rt_log_free(x.log);

    /* E */
    NOTE("E: realtime_on_connect inside on_connect, realtime_off inside on_disconnect");
    new_client(url, &x);
    CHECK(realtime_on_connect(x.c, e_on_connect, &x) > 0, "on_connect");
    CHECK(realtime_on_disconnect(x.c, e_on_disconnect, &x) > 0, "on_disconnect");
    for (int round = 1; round <= 3; round++) {
        CHECK(realtime_open(x.c) == REALTIME_STATUS_OK, "open");
        CHECK(rt_log_wait_nth(x.log, "connect", round, 5000, NULL), "no on_connect #%d", round);
        CHECK(realtime_close(x.c) == REALTIME_STATUS_OK, "close");
        /* callbacks run in order: once disconnect #round is logged, every connect #round listener ran */
        CHECK(rt_log_wait_nth(x.log, "disconnect", round, 3000, NULL), "no on_disconnect #%d", round);
        if (round == 1) CHECK(rt_log_wait_nth(x.log, "registered", 1, 0, &r) && r.n > 0,
                              "realtime_on_connect inside on_connect returned 0: %s", realtime_last_error());
        if (round == 2) CHECK(rt_log_wait_nth(x.log, "off", 1, 0, &r) && r.n == 1,
                              "realtime_off inside on_disconnect failed: %s", r.text);
    }
    rt_log_dump(x.log, "E");
    /* the listener added during connect #1 may or may not run for connect #1 itself; it must run for
     * connect #2, and not for connect #3 (removed during disconnect #2) */
    {
        rt_record c2, c3, d1, d2;
        CHECK(rt_log_wait_nth(x.log, "disconnect", 1, 0, &d1) && rt_log_wait_nth(x.log, "disconnect", 2, 0, &d2),
              "disconnect records");
        CHECK(rt_log_wait_nth(x.log, "connect", 2, 0, &c2) && rt_log_wait_nth(x.log, "connect", 3, 0, &c3),
              "connect records");
        int in_round2 = 0, in_round3 = 0;
        for (size_t i = 0; rt_log_get(x.log, i, &r); i++) {
            if (strcmp(r.kind, "extra_connect") != 0) continue;
            if (r.seq > d1.seq && r.seq < d2.seq) in_round2++;
            if (r.seq > d2.seq) in_round3++;
        }
        CHECK(in_round2 == 1, "listener added inside a callback ran %d times on the next connect", in_round2);
        CHECK(in_round3 == 0, "listener removed inside a callback still ran (%d)", in_round3);
    }
    realtime_free(x.c);
    rt_log_free(x.log);

    rt_server_drain(srv, NULL);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
