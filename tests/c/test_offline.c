/* test_offline: the offline send buffer, volatile emits, retries.
 *  - not connected yet (autoConnect false): emits are buffered up to maxBufferedEmits (5 here); one
 *    more -> REALTIME_STATUS_BUFFER_FULL with a message naming maxBufferedEmits; after realtime_open the
 *    server receives the 5, once each, in order; with the default bound 1000 emits fit and the 1001st
 *    is refused;
 *  - realtime_emit_volatile while not connected is dropped (OK status, never sent);
 *  - server killed; 20 numbered events emitted while it is down (plus volatile ones, dropped); the
 *    server restarted on the same port receives 1..20 exactly once and in order, and nothing else;
 *  - retries (ackTimeout 300 ms, retries 3): the server's "flaky" handler ignores the first 2 deliveries
 *    and answers the 3rd -> the ack callback gets that answer; ignoring 10 -> 4 deliveries (1 + 3
 *    retries), then the callback gets an error; packets with retries go one at a time, in order. */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define OPTS "{\"autoConnect\":false,\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}"

/* the next "message" line named `name` must have args [n] */
static void expect_numbered(rt_server *srv, const char *name, int n) {
    char line[8192], args[256], want[64];
    CHECK(rt_server_wait_event_where(srv, "message", "name", name, 5000, line, sizeof line),
          "server did not receive %s #%d", name, n);
    CHECK(rt_json_get_raw(line, "args", args, sizeof args), "line %s", line);
    snprintf(want, sizeof want, "[%d]", n);
    CHECK(rt_jeq(args, want), "server received %s %s, expected %s (out of order or duplicated)", name, args, want);
}

int main(void) {
    rt_test_begin("test_offline", 120);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    char line[8192], args[64];

    /* ---- bound before the first connect */
    NOTE("maxBufferedEmits 5: 5 emits buffered before the first connect, the 6th -> BUFFER_FULL");
    realtime_client *c = realtime_new(url, "{\"autoConnect\":false,\"maxBufferedEmits\":5,\"reconnectionDelay\":100,"
                                           "\"reconnectionDelayMax\":200}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    for (int i = 1; i <= 5; i++) {
        snprintf(args, sizeof args, "[%d]", i);
        CHECK(realtime_emit(c, "num", args) == REALTIME_STATUS_OK, "buffered emit %d: %s", i, realtime_last_error());
    }
    CHECK(realtime_emit_volatile(c, "vol", "[0]") == REALTIME_STATUS_OK, "volatile while offline: %s",
          realtime_last_error());
    realtime_status st = realtime_emit(c, "num", "[6]");
    NOTE("6th emit: status %d \"%s\"", (int)st, realtime_last_error());
    CHECK(st == REALTIME_STATUS_BUFFER_FULL, "6th buffered emit returned %d, want BUFFER_FULL", (int)st);
    CHECK(strstr(realtime_last_error(), "maxBufferedEmits"), "message '%s' does not name maxBufferedEmits",
          realtime_last_error());
    CHECK(rt_server_queued(srv, "connection") == 0, "connected although autoConnect is false");

    NOTE("realtime_open: the server receives 1..5 once, in order; the volatile emit was dropped");
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open");
    char cid[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, sizeof cid), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");
    for (int i = 1; i <= 5; i++) expect_numbered(srv, "num", i);
    CHECK(realtime_emit(c, "marker", NULL) == REALTIME_STATUS_OK, "marker");
    CHECK(rt_server_wait_event(srv, "message", 5000, line, sizeof line), "no marker");
    CHECK(strstr(line, "\"name\":\"marker\""), "after the buffered emits the server got %s", line);

    realtime_free(c);
    rt_log_free(log);

    /* ---- outage */
    c = realtime_new(url, "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, sizeof cid), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");
    NOTE("server killed; 20 numbered emits (and 5 volatile ones) while it is down");
    rt_server_kill(srv);
    rt_record r;
    CHECK(rt_log_wait(log, "disconnect", 5000, &r), "no on_disconnect");
    rt_server_drain(srv, NULL);
    for (int i = 1; i <= 20; i++) {
        snprintf(args, sizeof args, "[%d]", i);
        CHECK(realtime_emit(c, "down", args) == REALTIME_STATUS_OK, "emit %d while down: %s", i, realtime_last_error());
        if (i % 4 == 0)
            CHECK(realtime_emit_volatile(c, "vol", args) == REALTIME_STATUS_OK, "volatile: %s", realtime_last_error());
    }
    CHECK(rt_log_wait_nth(log, "reconnect_attempt", 1, 5000, NULL), "no reconnect attempt");
    NOTE("restart; the server receives 1..20 once, in order, before anything else");
    CHECK(rt_server_restart(srv), "restart failed");
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, sizeof cid), "no reconnection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect after restart");
    for (int i = 1; i <= 20; i++) expect_numbered(srv, "down", i);
    CHECK(realtime_emit(c, "marker", NULL) == REALTIME_STATUS_OK, "marker");
    CHECK(rt_server_wait_event(srv, "message", 5000, line, sizeof line), "no marker");
    CHECK(strstr(line, "\"name\":\"marker\""), "after the 20 the server got %s (duplicate or volatile?)", line);

    NOTE("connected: volatile emits are sent");
    CHECK(realtime_emit_volatile(c, "vol", "[99]") == REALTIME_STATUS_OK, "volatile");
    CHECK(rt_server_wait_event_where(srv, "message", "name", "vol", 5000, line, sizeof line), "volatile lost");
    CHECK(strstr(line, "[99]"), "volatile: %s", line);
    realtime_free(c);
    rt_log_free(log);

    /* ---- default bound */
    NOTE("default maxBufferedEmits: 1000 buffered, the 1001st -> BUFFER_FULL");
    realtime_client *d = realtime_new(url, OPTS);
    CHECK(d != NULL, "realtime_new: %s", realtime_last_error());
    for (int i = 1; i <= 1000; i++) {
        snprintf(args, sizeof args, "[%d]", i);
        st = realtime_emit(d, "many", args);
        CHECK(st == REALTIME_STATUS_OK, "emit %d of 1000: %d %s", i, (int)st, realtime_last_error());
    }
    st = realtime_emit(d, "many", "[1001]");
    CHECK(st == REALTIME_STATUS_BUFFER_FULL, "1001st emit returned %d", (int)st);
    realtime_free(d);
    CHECK(rt_server_queued(srv, "connection") == 0, "the unopened client connected");

    /* ---- retries */
    NOTE("retries 3 + ackTimeout 300: 'flaky' ignores 2 deliveries, answers the 3rd");
    realtime_client *e = realtime_new(url, "{\"ackTimeout\":300,\"retries\":3,\"reconnectionDelay\":100}");
    CHECK(e != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *le = rt_log_new();
    rt_log_attach(le, e);
    rt_ev *a1 = rt_ev_new(le, "a1"), *a2 = rt_ev_new(le, "a2"), *a3 = rt_ev_new(le, "a3");
    CHECK(rt_log_wait(le, "connect", 5000, NULL), "no on_connect");
    rt_server_drain(srv, "flaky");
    CHECK(realtime_emit_with_ack(e, "flaky", "[{\"key\":\"k1\",\"ignore\":2}]", 0, rt_ev_ack, a1) == REALTIME_STATUS_OK,
          "emit: %s", realtime_last_error());
    CHECK(rt_log_wait_nth(le, "a1", 1, 5000, &r), "no ack after retries");
    NOTE("ack: error \"%s\" args %s", r.text, r.data);
    CHECK(r.text[0] == '\0', "error %s", r.text);
    CHECK(rt_jeq(r.data, "[{\"key\":\"k1\",\"delivery\":3}]"), "answer %s", r.data);
    for (int i = 1; i <= 3; i++) {
        CHECK(rt_server_wait_event_where(srv, "flaky", "key", "k1", 2000, line, sizeof line), "delivery %d missing", i);
        double n = 0;
        CHECK(rt_json_get_number(line, "delivery", &n) && (int)n == i, "delivery line %s", line);
    }
    CHECK(rt_server_wait_event_where(srv, "flaky", "key", "k1", 500, NULL, 0) == 0, "a 4th delivery after the answer");

    NOTE("two packets with retries: one in flight at a time, FIFO; 'k2' is never answered (1 + 3 tries, then an error)");
    int64_t t0 = rt_now_ms();
    CHECK(realtime_emit_with_ack(e, "flaky", "[{\"key\":\"k2\",\"ignore\":10}]", 0, rt_ev_ack, a2) == REALTIME_STATUS_OK,
          "emit");
    CHECK(realtime_emit_with_ack(e, "flaky", "[{\"key\":\"k3\",\"ignore\":0}]", 0, rt_ev_ack, a3) == REALTIME_STATUS_OK,
          "emit");
    CHECK(rt_log_wait_nth(le, "a2", 1, 8000, &r), "k2: no callback after the retries");
    NOTE("k2: error \"%s\" after %lld ms", r.text, (long long)(r.t_ms - t0));
    CHECK(r.text[0] != '\0', "k2 got an answer %s", r.data);
    CHECK(r.t_ms - t0 >= 4 * 300 - 100, "k2 failed after %lld ms, 4 tries of 300 ms take ~1200",
          (long long)(r.t_ms - t0));
    CHECK(rt_log_wait_nth(le, "a3", 1, 5000, &r), "k3: no answer");
    CHECK(r.text[0] == '\0' && rt_jeq(r.data, "[{\"key\":\"k3\",\"delivery\":1}]"), "k3: %s %s", r.text, r.data);
    /* the order of deliveries: k2 x4, then k3 */
    for (int i = 1; i <= 5; i++) {
        CHECK(rt_server_wait_event(srv, "flaky", 2000, line, sizeof line), "flaky line %d missing", i);
        char key[16];
        rt_json_get_string(line, "key", key, sizeof key);
        CHECK(strcmp(key, i <= 4 ? "k2" : "k3") == 0, "delivery %d was %s (want k2 x4 then k3)", i, line);
    }
    CHECK(rt_server_wait_event(srv, "flaky", 500, line, sizeof line) == 0, "an extra delivery: %s", line);

    CHECK(!rt_log_overlap(le), "callbacks overlapped");
    realtime_free(e);
    rt_ev_free(a1);
    rt_ev_free(a2);
    rt_ev_free(a3);
    rt_log_free(le);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
