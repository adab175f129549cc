/* realtime_reconnect_now: a network-change / foreground hint drops the connection and connects again at
 * once, skipping the backoff delay; it does nothing for a closed client. */
#include "harness.h"

#include <string.h>

int main(void) {
    rt_test_begin("test_reconnect_now", 60);
    rt_server *server = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", rt_server_port(server));

    /* A 5 s backoff with no jitter: a reconnection within it can only come from the hint. */
    rt_log *log = rt_log_new();
    realtime_client *client =
        realtime_new(url, "{\"reconnectionDelay\":5000,\"reconnectionDelayMax\":5000,\"randomizationFactor\":0}");
    CHECK(client != NULL, "realtime_new: %s", realtime_last_error());
    rt_log_attach(log, client);
    char first_id[64];
    CHECK(rt_server_wait_connection(server, "/", 5000, first_id, sizeof first_id), "first connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "on_connect");

    NOTE("realtime_reconnect_now on a connected client: transport close, then connected again at once");
    int64_t start = rt_now_ms();
    CHECK(realtime_reconnect_now(client) == REALTIME_STATUS_OK, "reconnect_now: %s", realtime_last_error());
    rt_record record;
    CHECK(rt_log_wait(log, "disconnect", 2000, &record), "on_disconnect");
    CHECK(strcmp(record.text, "transport close") == 0, "reason %s", record.text);
    CHECK(rt_log_wait(log, "connect", 2000, NULL), "connected again");
    int64_t elapsed = rt_now_ms() - start;
    NOTE("connected again after %lld ms (the backoff delay would have been 5000 ms)", (long long)elapsed);
    CHECK(elapsed < 4000, "reconnected after %lld ms: the backoff was not skipped", (long long)elapsed);
    char second_id[64];
    CHECK(rt_server_wait_connection(server, "/", 2000, second_id, sizeof second_id), "second connection");
    CHECK(strcmp(first_id, second_id) != 0, "a new socket id");
    CHECK(realtime_is_connected(client), "connected");

    NOTE("realtime_reconnect_now on a closed client does nothing");
    CHECK(realtime_close(client) == REALTIME_STATUS_OK, "close");
    CHECK(realtime_reconnect_now(client) == REALTIME_STATUS_OK, "reconnect_now after close");
    CHECK(!rt_server_wait_event(server, "connection", 1000, NULL, 0), "no connection after close");
    CHECK(!realtime_is_connected(client), "still closed");

    NOTE("NULL client is an error");
    CHECK(realtime_reconnect_now(NULL) == REALTIME_STATUS_INVALID_ARGUMENT, "NULL client");

    realtime_free(client);
    rt_log_free(log);
    rt_server_free(server);
    rt_test_pass();
    return 0;
}
