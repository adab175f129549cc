/* test_recovery: connection state recovery (server started with --recovery).
 *
 * What the application sees (as with socket.io-client): with recovery on, every server event that asks
 * for no ack carries the server's offset as an extra LAST STRING ARGUMENT: the server's
 * socket.emit("tick", 1) arrives as args_json [1,"<offset>"]. The library also keeps that offset to
 * send on reconnect; it does not strip it from args_json.
 *
 *  - a first connection is not recovered (realtime_is_recovered false, the server says recovered:false);
 *  - the server closes the socket's transport (close-transport: socket.conn.close(), a recoverable
 *    "forced close"); while the client is away the server emits 3 events to the socket's room; the
 *    client reconnects with pid/offset: the server reports recovered:true with the SAME socket id,
 *    realtime_is_recovered is true (also inside on_connect), the 3 missed events are delivered in order
 *    and BEFORE on_connect (log order), each with its offset last;
 *  - another client's first connection is not recovered;
 *  - after a server restart (state lost) the reconnection is not recovered and gets a new socket id. */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":800,\"reconnectionDelayMax\":800,\"randomizationFactor\":0}"

static realtime_client *g_c;
static void on_connect_rec(void *log) {
    char id[128] = "";
    realtime_socket_id(g_c, id, sizeof id);
    rt_log_add(log, "connect_rec", id, NULL, realtime_is_recovered(g_c) ? 1 : 0);
}

/* args must be [<n>, "<offset>"] */
static void check_with_offset(const char *args, int n) {
    char first[64], last[256];
    CHECK(rt_jarr_len(args) == 2, "args %s: want [%d, \"<offset>\"]", args, n);
    CHECK(rt_jarr_item(args, 0, first, sizeof first) && atoi(first) == n, "args %s: first is not %d", args, n);
    CHECK(rt_jarr_item(args, 1, last, sizeof last) && last[0] == '"' && strlen(last) > 2,
          "args %s: the last argument is not the offset string", args);
}

int main(void) {
    rt_test_begin("test_recovery", 90);
    rt_server *srv = rt_server_start("--recovery");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    g_c = c;
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_on_connect(c, on_connect_rec, log) > 0, "on_connect");
    rt_ev *any = rt_ev_new(log, "event");
    CHECK(realtime_on_any(c, rt_ev_event, any) > 0, "on_any");

    char line[8192], cid[128];
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 5000, line, sizeof line), "no connection");
    CHECK(rt_json_get_string(line, "id", cid, sizeof cid), "line %s", line);
    CHECK(strstr(line, "\"recovered\":false"), "first connection recovered? %s", line);
    rt_record r;
    CHECK(rt_log_wait_nth(log, "connect_rec", 1, 5000, &r), "no on_connect");
    CHECK(r.n == 0 && !realtime_is_recovered(c), "a first connection reports recovered");
    NOTE("first connection %s: not recovered", cid);

    NOTE("live event: the server's emit(\"tick\", 1) arrives as [1, \"<offset>\"]");
    CHECK(rt_server_commandf(srv, 5000, "emit %s tick [1]", cid), "emit");
    CHECK(rt_log_wait_nth(log, "event", 1, 5000, &r), "no tick");
    NOTE("tick args %s", r.data);
    check_with_offset(r.data, 1);

    /* ---- short outage */
    NOTE("server closes the transport (recoverable), emits missed 1..3 to the socket's room meanwhile");
    int con0 = rt_log_count(log, "connect_rec");
    CHECK(rt_server_commandf(srv, 5000, "close-transport %s", cid), "close-transport");
    CHECK(rt_log_wait(log, "disconnect", 5000, &r), "no on_disconnect");
    NOTE("on_disconnect(\"%s\")", r.text);
    CHECK(strcmp(r.text, "transport close") == 0, "reason %s", r.text);
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", cid, 5000, line, sizeof line), "server: no disconnect");
    NOTE("server: %s", line);
    for (int i = 1; i <= 3; i++) CHECK(rt_server_commandf(srv, 5000, "emit-to / %s missed [%d]", cid, i), "emit-to");
    int64_t t_emitted = rt_now_ms();
    CHECK(rt_log_count(log, "reconnect") == 0, "reconnected before the missed events were emitted: timing too tight");

    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 5000, line, sizeof line), "no reconnection");
    NOTE("server: %.200s", line);
    char cid2[128];
    CHECK(rt_json_get_string(line, "id", cid2, sizeof cid2), "line %s", line);
    CHECK(strstr(line, "\"recovered\":true"), "the server did not recover the session: %s", line);
    CHECK(strcmp(cid, cid2) == 0, "socket id changed on recovery: %s -> %s", cid, cid2);
    {
        /* the CONNECT payload carried pid and the offset of the last event received (the live tick) */
        char auth[1024], offset[128] = "", tick_offset[128] = "";
        rt_record t;
        CHECK(rt_log_wait_nth(log, "event", 1, 0, &t), "tick record");
        CHECK(rt_jarr_item(t.data, 1, tick_offset, sizeof tick_offset), "tick %s", t.data);
        CHECK(rt_json_get_raw(line, "auth", auth, sizeof auth), "line %s", line);
        CHECK(rt_json_get_string(auth, "pid", NULL, 0), "no pid in the reconnect's CONNECT payload: %s", auth);
        CHECK(rt_json_get_raw(auth, "offset", offset, sizeof offset), "no offset in the CONNECT payload: %s", auth);
        CHECK(strcmp(offset, tick_offset) == 0, "CONNECT offset %s, the last event's offset was %s", offset, tick_offset);
    }
    rt_record rc;
    CHECK(rt_log_wait_nth(log, "connect_rec", con0 + 1, 5000, &rc), "no on_connect after the outage");
    NOTE("reconnected %lld ms after the missed emits; recovered inside on_connect: %lld", (long long)(rc.t_ms - t_emitted),
         (long long)rc.n);
    CHECK(rc.n == 1, "realtime_is_recovered false inside on_connect");
    CHECK(realtime_is_recovered(c), "realtime_is_recovered false after a recovered reconnect");
    CHECK(strcmp(rc.text, cid) == 0, "socket id %s after recovery, want %s", rc.text, cid);

    NOTE("the missed events came in order and BEFORE on_connect");
    CHECK(rt_log_count(log, "event") == 4, "%d events (want tick + 3 missed)", rt_log_count(log, "event"));
    for (int i = 1; i <= 3; i++) {
        CHECK(rt_log_wait_nth(log, "event", 1 + i, 0, &r), "missed %d not delivered", i);
        CHECK(strcmp(r.text, "missed") == 0, "event %s", r.text);
        check_with_offset(r.data, i);
        CHECK(r.seq < rc.seq, "missed event %d (log #%zu) delivered after on_connect (log #%zu)", i, r.seq, rc.seq);
    }

    NOTE("after the recovery, events and emits work as usual");
    CHECK(rt_server_commandf(srv, 5000, "emit %s tick [2]", cid), "emit");
    CHECK(rt_log_wait_nth(log, "event", 5, 5000, &r), "no tick after recovery");
    check_with_offset(r.data, 2);
    CHECK(realtime_emit(c, "echo", "[\"after\"]") == REALTIME_STATUS_OK, "emit");
    CHECK(rt_server_wait_event_where(srv, "message", "name", "echo", 5000, line, sizeof line), "server: no echo");
    CHECK(strstr(line, cid), "echo from another socket: %s", line);

    NOTE("another client's first connection is not recovered");
    realtime_client *d = realtime_new(url, OPTS);
    rt_log *ld = rt_log_new();
    rt_log_attach(ld, d);
    CHECK(rt_log_wait(ld, "connect", 5000, NULL), "second client: no on_connect");
    CHECK(!realtime_is_recovered(d), "a first connection reports recovered");
    realtime_free(d);
    rt_log_free(ld);

    NOTE("server restart (session state lost): reconnection not recovered, new socket id");
    con0 = rt_log_count(log, "connect_rec");
    rt_server_kill(srv);
    rt_server_drain(srv, NULL);
    CHECK(rt_log_wait(log, "disconnect", 5000, NULL), "no on_disconnect");
    CHECK(rt_server_restart(srv), "restart");
    CHECK(rt_log_wait_nth(log, "connect_rec", con0 + 1, 8000, &rc), "no reconnect after restart");
    CHECK(rc.n == 0 && !realtime_is_recovered(c), "recovered after a server restart");
    CHECK(strcmp(rc.text, cid) != 0, "same socket id after a server restart");

    CHECK(!rt_log_overlap(log), "callbacks overlapped");
    rt_log_dump(log, "test_recovery");
    realtime_free(c);
    rt_ev_free(any);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
