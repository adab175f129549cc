/* test_unreachable: nothing listening on the port, reconnectionAttempts 3.
 *  - on_error for the first failure and for each attempt (4 in all);
 *  - exactly 3 on_reconnect_attempt, numbered 1, 2, 3;
 *  - then exactly one on_reconnect_failed, and nothing more (1.5 s);
 *  - never connected. */
#include "harness.h"

#include <string.h>

int main(void) {
    rt_test_begin("test_unreachable", 60);

    /* a loopback port nobody listens on: start a server, note its port, kill it */
    rt_server *srv = rt_server_start(NULL);
    int port = rt_server_port(srv);
    rt_server_kill(srv);

    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    NOTE("%s (nothing listening), reconnectionAttempts 3", url);
    realtime_client *c = realtime_new(
        url, "{\"autoConnect\":false,\"reconnectionAttempts\":3,\"reconnectionDelay\":50,\"reconnectionDelayMax\":100}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    int64_t t0 = rt_now_ms();
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());

    rt_record failed;
    CHECK(rt_log_wait_nth(log, "reconnect_failed", 1, 10000, &failed), "no on_reconnect_failed within 10 s");
    NOTE("on_reconnect_failed after %lld ms", (long long)(failed.t_ms - t0));

    NOTE("nothing more for 1.5 s");
    rt_sleep_ms(1500); /* asserting that something does NOT happen */
    rt_log_dump(log, "test_unreachable");

    CHECK(rt_log_count(log, "connect") == 0, "connected to nothing");
    CHECK(rt_log_count(log, "reconnect") == 0, "on_reconnect with nothing listening");
    CHECK(rt_log_count(log, "reconnect_failed") == 1, "%d on_reconnect_failed, want 1",
          rt_log_count(log, "reconnect_failed"));
    int attempts = rt_log_count(log, "reconnect_attempt");
    CHECK(attempts == 3, "%d reconnect attempts, want 3", attempts);
    for (int i = 1; i <= 3; i++) {
        rt_record a;
        CHECK(rt_log_wait_nth(log, "reconnect_attempt", i, 0, &a), "attempt %d missing", i);
        CHECK(a.n == i, "attempt #%d numbered %lld", i, (long long)a.n);
        CHECK(a.seq < failed.seq, "attempt %d after on_reconnect_failed", i);
    }
    int errors = rt_log_count(log, "error");
    CHECK(errors == 4, "%d on_error calls, want 4 (first failure + 3 attempts)", errors);
    rt_record e1;
    CHECK(rt_log_wait_nth(log, "error", 1, 0, &e1), "first error missing");
    NOTE("first on_error(\"%s\", %s)", e1.text, e1.data[0] ? e1.data : "NULL");
    CHECK(e1.text[0] != '\0', "empty error message");
    rt_record a1;
    CHECK(rt_log_wait_nth(log, "reconnect_attempt", 1, 0, &a1) && e1.seq < a1.seq,
          "the first failure's on_error must come before attempt 1");
    int total = rt_log_count(log, NULL);
    rt_record last;
    CHECK(rt_log_get(log, (size_t)total - 1, &last), "empty log");
    CHECK(strcmp(last.kind, "reconnect_failed") == 0, "last record is %s, want reconnect_failed", last.kind);
    CHECK(rt_log_count(log, "disconnect") == 0, "on_disconnect without a connection");
    CHECK(!realtime_is_connected(c), "is_connected true");

    realtime_free(c);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
