/* test_refused: middleware refusal (CONNECT_ERROR) on "/" and on "/admin".
 *  - on_error("not authorized", data_json = {"hint":"send token","code":42});
 *  - never connected, and no retry: no reconnect_attempt within 1.5 s and the server sees no second
 *    attempt (socket.io-client does not retry a CONNECT_ERROR until the application opens again);
 *  - an explicit realtime_open tries once more (the server sees a second refusal). */
#include "harness.h"

#include <string.h>

static void check_refusal(rt_server *srv, const char *path) {
    char url[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", rt_server_port(srv), path);
    NOTE("%s with auth {\"refuse\":true}", url);
    realtime_client *c = realtime_new(url,
                                      "{\"autoConnect\":false,\"auth\":{\"refuse\":true,\"user\":\"u1\"},"
                                      "\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());

    const char *nsp = path[0] && strcmp(path, "/") != 0 ? path : "/";
    char line[4096];
    CHECK(rt_server_wait_event_where(srv, "refused", "nsp", nsp, 5000, line, sizeof line), "server refused nothing");
    char auth[512];
    CHECK(rt_json_get_raw(line, "auth", auth, sizeof auth), "no auth in %s", line);
    NOTE("the server got auth %s", auth);
    CHECK(strstr(auth, "\"user\":\"u1\"") != NULL, "auth not passed to the server: %s", auth);

    rt_record r;
    CHECK(rt_log_wait_nth(log, "error", 1, 5000, &r), "no on_error after the refusal");
    NOTE("on_error(\"%s\", %s)", r.text, r.data[0] ? r.data : "NULL");
    CHECK(strcmp(r.text, "not authorized") == 0, "error message '%s', want 'not authorized'", r.text);
    char hint[64];
    double code = 0;
    CHECK(rt_json_member_count(r.data) == 2, "data_json '%s' is not an object with 2 members", r.data);
    CHECK(rt_json_get_string(r.data, "hint", hint, sizeof hint) && strcmp(hint, "send token") == 0,
          "data_json '%s': hint", r.data);
    CHECK(rt_json_get_number(r.data, "code", &code) && code == 42, "data_json '%s': code", r.data);

    NOTE("no retry within 1.5 s");
    rt_sleep_ms(1500); /* asserting that something does NOT happen */
    CHECK(rt_log_count(log, "connect") == 0, "connected although refused");
    CHECK(rt_log_count(log, "reconnect_attempt") == 0, "reconnect attempt after a refusal");
    CHECK(rt_log_count(log, "error") == 1, "%d on_error calls, want 1", rt_log_count(log, "error"));
    CHECK(rt_server_queued(srv, "refused") == 0, "the server saw a second attempt");
    CHECK(rt_server_queued(srv, "connection") == 0, "the server accepted a connection");
    CHECK(!realtime_is_connected(c), "is_connected true although refused");

    NOTE("realtime_open tries again (the server sees a second refusal)");
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());
    CHECK(rt_server_wait_event_where(srv, "refused", "nsp", nsp, 5000, NULL, 0), "no second attempt after open");
    CHECK(rt_log_wait_nth(log, "error", 2, 5000, &r), "no second on_error");
    CHECK(strcmp(r.text, "not authorized") == 0, "error message '%s'", r.text);

    rt_log_dump(log, path);
    realtime_free(c);
    rt_log_free(log);
}

int main(void) {
    rt_test_begin("test_refused", 60);
    rt_server *srv = rt_server_start(NULL);
    check_refusal(srv, "/");
    check_refusal(srv, "/admin");
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
