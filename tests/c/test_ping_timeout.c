/* test_ping_timeout: a frozen peer.
 *  - the connection stays up across several heartbeats (server pingInterval 300 ms, pingTimeout 200 ms);
 *  - the server is frozen with SIGSTOP -> on_disconnect("ping timeout") within
 *    pingInterval + pingTimeout + 700 ms of the freeze (the measured figure is printed);
 *  - the server is thawed (SIGCONT) -> the client reconnects (on_reconnect, on_connect). */
#include "harness.h"

#include <string.h>

#define PING_INTERVAL 300
#define PING_TIMEOUT 200
#define MARGIN 700

int main(void) {
    rt_test_begin("test_ping_timeout", 60);
    rt_server *srv = rt_server_start("--ping-interval 300 --ping-timeout 200");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    /* "timeout": a reconnection attempt against the frozen server (TCP accepted by the kernel, no
     * handshake) gives up after 1 s instead of 20 s */
    realtime_client *c = realtime_new(
        url, "{\"autoConnect\":false,\"reconnectionDelay\":100,\"reconnectionDelayMax\":200,\"timeout\":1000}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());
    char id[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection");
    CHECK(rt_log_wait_nth(log, "connect", 1, 5000, NULL), "no on_connect");

    NOTE("connection stays up across heartbeats for 1.5 s (5 ping intervals)");
    CHECK(!rt_log_wait_nth(log, "disconnect", 1, 1500, NULL), "disconnected while the server was alive");
    CHECK(realtime_is_connected(c), "not connected after 1.5 s");
    CHECK(rt_server_queued(srv, "disconnect") == 0, "the server dropped the client (pong missing?)");

    NOTE("freeze the server (SIGSTOP)");
    int64_t t_freeze = rt_now_ms();
    rt_server_freeze(srv);
    rt_record r;
    int got = rt_log_wait_nth(log, "disconnect", 1, 5000, &r);
    if (!got) rt_server_thaw(srv);
    CHECK(got, "no on_disconnect within 5 s of freezing the server");
    int64_t dt = r.t_ms - t_freeze;
    NOTE("on_disconnect(\"%s\") %lld ms after the freeze (limit %d ms)", r.text, (long long)dt,
         PING_INTERVAL + PING_TIMEOUT + MARGIN);
    CHECK(strcmp(r.text, "ping timeout") == 0, "disconnect reason '%s', want 'ping timeout'", r.text);
    CHECK(dt < PING_INTERVAL + PING_TIMEOUT + MARGIN, "ping timeout took %lld ms", (long long)dt);
    CHECK(!realtime_is_connected(c), "is_connected true after ping timeout");

    NOTE("the client retries while the server is frozen");
    CHECK(rt_log_wait_nth(log, "reconnect_attempt", 1, 3000, NULL), "no reconnect attempt after ping timeout");

    NOTE("thaw the server (SIGCONT) -> reconnects");
    rt_server_thaw(srv);
    CHECK(rt_log_wait_nth(log, "reconnect", 1, 10000, &r), "no on_reconnect after thawing the server");
    CHECK(rt_log_wait_nth(log, "connect", 2, 10000, NULL), "no on_connect after thawing the server");
    char id2[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, id2, sizeof id2), "server saw no new connection");
    char cid[128];
    CHECK(realtime_socket_id(c, cid, sizeof cid) > 0 && strcmp(cid, id2) == 0, "socket id '%s' != server's %s",
          cid, id2);
    NOTE("reconnected after %lld attempt(s) with socket id %s", (long long)r.n, id2);

    CHECK(!rt_log_overlap(log), "two callbacks of one client ran at the same time");
    rt_log_dump(log, "test_ping_timeout");
    realtime_free(c);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
