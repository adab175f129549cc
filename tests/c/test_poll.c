/* test_poll: poll mode — callbacks on the application's own thread, inside realtime_poll().
 *  - realtime_poller_fd() is readable while something is due and not readable once everything was
 *    polled; realtime_poll() returns at once (0) when nothing is due;
 *  - every callback (connect, events, acks) runs on the polling thread, never on a library thread;
 *  - a 5,000-event burst arrives complete and in order, at most max_events per realtime_poll() call;
 *  - an emit-with-ack's callback runs inside realtime_poll();
 *  - realtime_poll() called from inside a callback returns 0 and does nothing;
 *  - realtime_free() inside a callback: no callback of that client runs afterwards;
 *  - realtime_free() from another thread while a callback runs waits until it returned, and no
 *    callback runs after it;
 *  - bad handles: NULL poller -> fd -1, poll 0, realtime_new_polled NULL. */
#include "harness.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}"
#define BURST 5000

static pthread_t main_thread;
static atomic_int off_thread_calls;

typedef struct {
    realtime_poller *poller;
    realtime_client *client;
    atomic_int connects;
    atomic_int events;
    atomic_int out_of_order;
    atomic_int acks;
    atomic_int after_free;
    atomic_int freed;
    atomic_int nested_poll;
    atomic_int in_slow;
    atomic_int slow_done;
    int last;
} state;

static void on_thread_check(void) {
    if (!pthread_equal(pthread_self(), main_thread)) atomic_fetch_add(&off_thread_calls, 1);
}

static void on_connect(void *u) {
    state *s = u;
    on_thread_check();
    if (atomic_load(&s->freed)) atomic_fetch_add(&s->after_free, 1);
    atomic_fetch_add(&s->connects, 1);
    /* A nested realtime_poll must refuse. */
    if (realtime_poll(s->poller, 10) != 0) atomic_fetch_add(&s->nested_poll, 1);
}

static void on_num(void *u, const char *event, const char *args, const realtime_buffer *b, size_t n, uint64_t ack) {
    state *s = u;
    (void)event, (void)b, (void)n, (void)ack;
    on_thread_check();
    if (atomic_load(&s->freed)) atomic_fetch_add(&s->after_free, 1);
    int v = atoi(args + 1);
    if (v != s->last + 1) atomic_fetch_add(&s->out_of_order, 1);
    s->last = v;
    atomic_fetch_add(&s->events, 1);
}

static void on_ack(void *u, const char *err, const char *args, const realtime_buffer *b, size_t n) {
    state *s = u;
    (void)b, (void)n;
    on_thread_check();
    if (err == NULL && args != NULL && strcmp(args, "[\"q\"]") == 0) atomic_fetch_add(&s->acks, 1);
}

/* Frees its own client from inside the callback. */
static void on_connect_free_self(void *u) {
    state *s = u;
    on_thread_check();
    if (atomic_load(&s->freed)) atomic_fetch_add(&s->after_free, 1);
    atomic_fetch_add(&s->connects, 1);
    realtime_free(s->client);
    atomic_store(&s->freed, 1);
}

static void on_any_after(void *u, const char *event, const char *args, const realtime_buffer *b, size_t n,
                         uint64_t ack) {
    state *s = u;
    (void)event, (void)args, (void)b, (void)n, (void)ack;
    if (atomic_load(&s->freed)) atomic_fetch_add(&s->after_free, 1);
}

static void on_slow(void *u, const char *event, const char *args, const realtime_buffer *b, size_t n, uint64_t ack) {
    state *s = u;
    (void)event, (void)args, (void)b, (void)n, (void)ack;
    if (atomic_load(&s->freed)) atomic_fetch_add(&s->after_free, 1);
    atomic_store(&s->in_slow, 1);
    rt_sleep_ms(300); /* long enough for the other thread's realtime_free to be waiting */
    atomic_store(&s->slow_done, 1);
}

static int fd_readable(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLIN);
}

/* Polls until cond() holds or the time is up; checks the per-call bound. */
static int poll_until(realtime_poller *p, int (*cond)(state *), state *s, int timeout_ms, size_t max) {
    int64_t end = rt_now_ms() + timeout_ms;
    int fd = realtime_poller_fd(p);
    while (!cond(s)) {
        int64_t left = end - rt_now_ms();
        if (left <= 0) return 0;
        if (fd_readable(fd, (int)(left > 100 ? 100 : left))) {
            size_t n = realtime_poll(p, max);
            CHECK(n <= max, "realtime_poll handled %zu events, more than max_events %zu", n, max);
        }
    }
    return 1;
}

static int connected(state *s) { return atomic_load(&s->connects) > 0; }
static int burst_done(state *s) { return atomic_load(&s->events) >= BURST; }
static int acked(state *s) { return atomic_load(&s->acks) > 0; }
static int slow_started(state *s) { return atomic_load(&s->in_slow); }

typedef struct {
    state *s;
    int64_t returned_at;
    int slow_done_when_returned;
} freer_arg;

static void *freer(void *u) {
    freer_arg *a = u;
    while (!atomic_load(&a->s->in_slow)) rt_sleep_ms(1);
    realtime_free(a->s->client);
    a->slow_done_when_returned = atomic_load(&a->s->slow_done);
    atomic_store(&a->s->freed, 1);
    return NULL;
}

int main(void) {
    rt_test_begin("test_poll", 120);
    main_thread = pthread_self();
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    NOTE("bad handles");
    CHECK(realtime_poller_fd(NULL) == -1, "fd of a NULL poller");
    CHECK(realtime_poll(NULL, 10) == 0, "poll of a NULL poller");
    CHECK(realtime_new_polled(NULL, url, NULL) == NULL, "realtime_new_polled(NULL) must fail");

    realtime_poller *p = realtime_poller_new();
    CHECK(p != NULL, "realtime_poller_new: %s", realtime_last_error());
    int fd = realtime_poller_fd(p);
    CHECK(fd >= 0, "realtime_poller_fd: %d", fd);
    CHECK(realtime_poll(p, 100) == 0, "nothing is due yet");

    state s = {.poller = p};
    s.client = realtime_new_polled(p, url, OPTS);
    CHECK(s.client != NULL, "realtime_new_polled: %s", realtime_last_error());
    CHECK(realtime_on_connect(s.client, on_connect, &s) > 0, "on_connect");
    CHECK(realtime_on(s.client, "num", on_num, &s) > 0, "on num");

    NOTE("connect: the fd becomes readable, on_connect runs inside realtime_poll on this thread");
    CHECK(fd_readable(fd, 5000), "the poller's fd never became readable for the connect");
    CHECK(poll_until(p, connected, &s, 5000, 16), "no on_connect through realtime_poll");
    CHECK(atomic_load(&s.nested_poll) == 0, "realtime_poll inside a callback handled events");
    CHECK(realtime_poll(p, 100) == 0, "nothing more is due");
    CHECK(!fd_readable(fd, 0), "the fd stays readable when nothing is due");

    char cid[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, sizeof cid), "no server connection");

    NOTE("a %d-event burst, polled 100 at a time", BURST);
    CHECK(rt_server_commandf(srv, 5000, "burst %s num %d", cid, BURST), "burst command");
    CHECK(poll_until(p, burst_done, &s, 30000, 100), "burst incomplete: %d of %d", atomic_load(&s.events), BURST);
    CHECK(atomic_load(&s.out_of_order) == 0, "%d events out of order", atomic_load(&s.out_of_order));
    CHECK(atomic_load(&s.events) == BURST, "%d events, want %d", atomic_load(&s.events), BURST);

    NOTE("an ack callback runs inside realtime_poll");
    CHECK(realtime_emit_with_ack(s.client, "ack", "[\"q\"]", 5000, on_ack, &s) == REALTIME_STATUS_OK, "emit: %s",
          realtime_last_error());
    CHECK(poll_until(p, acked, &s, 5000, 16), "no ack through realtime_poll");
    CHECK(atomic_load(&off_thread_calls) == 0, "%d callbacks ran off the polling thread",
          atomic_load(&off_thread_calls));

    NOTE("realtime_free from another thread while a callback runs: it waits, nothing runs after");
    CHECK(realtime_on(s.client, "slow", on_slow, &s) > 0, "on slow");
    CHECK(realtime_on_any(s.client, on_any_after, &s) > 0, "on_any");
    CHECK(rt_server_commandf(srv, 5000, "emit %s slow [1]", cid), "emit slow");
    CHECK(rt_server_commandf(srv, 5000, "burst %s num 50", cid), "burst after slow");
    freer_arg fa = {.s = &s};
    pthread_t t;
    pthread_create(&t, NULL, freer, &fa);
    CHECK(poll_until(p, slow_started, &s, 5000, 1000), "the slow callback never ran");
    pthread_join(t, NULL);
    CHECK(fa.slow_done_when_returned, "realtime_free returned while the callback was still running");
    for (int i = 0; i < 20; i++) {
        realtime_poll(p, 1000);
        rt_sleep_ms(5); /* proving that nothing runs: a quiet period, polled */
    }
    CHECK(atomic_load(&s.after_free) == 0, "%d callbacks ran after realtime_free", atomic_load(&s.after_free));

    NOTE("realtime_free inside a callback of a polled client");
    state s2 = {.poller = p};
    s2.client = realtime_new_polled(p, url, OPTS);
    CHECK(s2.client != NULL, "second polled client: %s", realtime_last_error());
    CHECK(realtime_on_connect(s2.client, on_connect_free_self, &s2) > 0, "on_connect");
    CHECK(realtime_on_any(s2.client, on_any_after, &s2) > 0, "on_any");
    CHECK(poll_until(p, connected, &s2, 5000, 16), "second client: no on_connect");
    char cid2[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid2, sizeof cid2), "no second server connection");
    rt_server_commandf(srv, 5000, "emit %s late [1]", cid2); /* may fail: the socket left already */
    for (int i = 0; i < 20; i++) {
        realtime_poll(p, 1000);
        rt_sleep_ms(5);
    }
    CHECK(atomic_load(&s2.after_free) == 0, "%d callbacks ran after realtime_free inside a callback",
          atomic_load(&s2.after_free));
    CHECK(realtime_is_connected(s2.client) == false, "the freed handle still answers");

    realtime_poller_free(p);
    CHECK(realtime_poller_fd(p) == -1, "fd of a freed poller");
    CHECK(realtime_poll(p, 1) == 0, "poll of a freed poller");
    realtime_poller_free(p); /* double free: a no-op */
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
