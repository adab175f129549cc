/* test_server_disconnect: the server disconnects the client.
 *  - socket.disconnect(true) on the server (whole connection) -> on_disconnect("io server disconnect"),
 *    and no reconnect attempt within 1.5 s (the server sees no new connection);
 *  - realtime_open afterwards connects again (open re-enables);
 *  - socket.disconnect(false) (namespace only) -> on_disconnect("io server disconnect"), no reconnect. */
#include "harness.h"

#include <string.h>

static void expect_server_disconnect(rt_server *srv, realtime_client *c, rt_log *log, const char *cmd,
                                     const char *id) {
    int disc0 = rt_log_count(log, "disconnect");
    int att0 = rt_log_count(log, "reconnect_attempt");
    int con0 = rt_log_count(log, "connect");
    NOTE("server command: %s %s", cmd, id);
    CHECK(rt_server_commandf(srv, 3000, "%s %s", cmd, id), "server command %s failed", cmd);
    rt_record r;
    CHECK(rt_log_wait_nth(log, "disconnect", disc0 + 1, 3000, &r), "no on_disconnect after %s", cmd);
    NOTE("on_disconnect(\"%s\")", r.text);
    CHECK(strcmp(r.text, "io server disconnect") == 0, "reason '%s', want 'io server disconnect'", r.text);
    CHECK(!realtime_is_connected(c), "is_connected true after a server disconnect");
    char buf[64];
    CHECK(realtime_socket_id(c, buf, sizeof buf) == 0, "socket_id non-zero after a server disconnect");

    NOTE("no reconnection within 1.5 s");
    rt_sleep_ms(1500); /* asserting that something does NOT happen */
    CHECK(rt_log_count(log, "reconnect_attempt") == att0, "reconnect attempt after io server disconnect");
    CHECK(rt_log_count(log, "connect") == con0, "connected again after io server disconnect");
    CHECK(rt_server_queued(srv, "connection") == 0, "the server saw a new connection");
    CHECK(rt_log_count(log, "disconnect") == disc0 + 1, "more than one on_disconnect");
}

int main(void) {
    rt_test_begin("test_server_disconnect", 60);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    realtime_client *c =
        realtime_new(url, "{\"autoConnect\":false,\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());

    char id[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection");
    CHECK(rt_log_wait_nth(log, "connect", 1, 5000, NULL), "no on_connect");
    expect_server_disconnect(srv, c, log, "disconnect", id);

    NOTE("realtime_open after io server disconnect connects again");
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection after reopen");
    CHECK(rt_log_wait_nth(log, "connect", 2, 5000, NULL), "no on_connect after reopen");
    expect_server_disconnect(srv, c, log, "disconnect-nsp", id);

    NOTE("and once more after a namespace-only disconnect");
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection after reopen");
    CHECK(rt_log_wait_nth(log, "connect", 3, 5000, NULL), "no on_connect after reopen");
    CHECK(realtime_is_connected(c), "not connected after reopen");

    CHECK(!rt_log_overlap(log), "two callbacks of one client ran at the same time");
    rt_log_dump(log, "test_server_disconnect");
    realtime_free(c);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
