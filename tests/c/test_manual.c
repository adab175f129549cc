/* test_manual: autoConnect false (CometChat's manual socket management).
 *  - nothing connects (the server sees no connection, no callback runs) for 500 ms after realtime_new;
 *  - realtime_open connects; query, auth and extraHeaders reach the server;
 *  - realtime_close disconnects ("io client disconnect"); realtime_open connects again. */
#include "harness.h"

#include <string.h>

int main(void) {
    rt_test_begin("test_manual", 60);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", rt_server_port(srv));

    realtime_client *c = realtime_new(url,
                                      "{\"autoConnect\":false,\"reconnectionDelay\":100,\"reconnectionDelayMax\":200,"
                                      "\"query\":{\"appId\":\"app-1\"},\"auth\":{\"token\":\"t0k\"},"
                                      "\"extraHeaders\":{\"X-Test-Header\":\"hello\"}}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);

    NOTE("autoConnect false: no connection within 500 ms");
    rt_sleep_ms(500); /* asserting that something does NOT happen */
    CHECK(rt_server_queued(srv, "connection") == 0, "the server saw a connection before realtime_open");
    CHECK(rt_server_queued(srv, "connection_error") == 0, "the server saw a request before realtime_open");
    CHECK(rt_log_count(log, NULL) == 0, "a callback ran before realtime_open");
    CHECK(!realtime_is_connected(c), "is_connected true before realtime_open");
    char buf[64];
    CHECK(realtime_socket_id(c, buf, sizeof buf) == 0, "socket_id before realtime_open");

    NOTE("realtime_open connects");
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());
    char line[8192];
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 5000, line, sizeof line), "no connection");
    rt_record r;
    CHECK(rt_log_wait_nth(log, "connect", 1, 5000, &r), "no on_connect");
    char id[128];
    rt_json_get_string(line, "id", id, sizeof id);
    CHECK(strcmp(r.text, id) == 0, "socket id in on_connect '%s' != server's %s", r.text, id);
    CHECK(r.n == 1, "is_connected false inside on_connect");

    char query[2048], auth[1024], headers[4096], v[256];
    CHECK(rt_json_get_raw(line, "query", query, sizeof query), "no query");
    CHECK(rt_json_get_raw(line, "auth", auth, sizeof auth), "no auth");
    CHECK(rt_json_get_raw(line, "headers", headers, sizeof headers), "no headers");
    NOTE("server handshake: query %s auth %s", query, auth);
    CHECK(rt_json_get_string(query, "appId", v, sizeof v) && strcmp(v, "app-1") == 0, "query appId missing: %s", query);
    CHECK(rt_json_get_string(query, "EIO", v, sizeof v) && strcmp(v, "4") == 0, "EIO=4 missing: %s", query);
    CHECK(rt_json_get_string(auth, "token", v, sizeof v) && strcmp(v, "t0k") == 0, "auth token missing: %s", auth);
    CHECK(rt_json_get_string(headers, "x-test-header", v, sizeof v) && strcmp(v, "hello") == 0,
          "extra header missing: %s", headers);

    NOTE("realtime_close -> io client disconnect; realtime_open -> connects again");
    CHECK(realtime_close(c) == REALTIME_STATUS_OK, "close");
    CHECK(rt_log_wait_nth(log, "disconnect", 1, 3000, &r), "no on_disconnect");
    CHECK(strcmp(r.text, "io client disconnect") == 0, "reason '%s'", r.text);
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open");
    CHECK(rt_log_wait_nth(log, "connect", 2, 5000, NULL), "no second on_connect");
    CHECK(realtime_is_connected(c), "not connected after second open");

    rt_log_dump(log, "test_manual");
    realtime_free(c);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
