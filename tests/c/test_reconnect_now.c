/* realtime_reconnect_now: a network-change / foreground hint drops the connection and connects again at
 * once, skipping the backoff delay; it does nothing for a closed client.
 *  - with "reconnection": false it connects again too (the application asked for it);
 *  - a connection attempt stuck in its handshake (a listener that completes TCP but never answers the
 *    upgrade) is replaced at once: the stuck TCP connection is closed and a new one arrives, long before
 *    the 20 s attempt timeout. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Accepts one pending connection on `listener` within `timeout_ms`; -1 when none arrives. */
static int accept_within(int listener, int timeout_ms) {
    struct pollfd p = {.fd = listener, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1) return -1;
    return accept(listener, NULL, NULL);
}

/* Whether the peer of `fd` closes it within `timeout_ms` (what it sent before is read and dropped). */
static int closed_within(int fd, int timeout_ms) {
    int64_t end = rt_now_ms() + timeout_ms;
    char buf[4096];
    while (rt_now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(end - rt_now_ms())) != 1) return 0;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return 1;
    }
    return 0;
}

static void stuck_attempt_is_replaced(void) {
    NOTE("an attempt stuck in the handshake is replaced at once");
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0, "socket");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0, "bind");
    CHECK(listen(listener, 16) == 0, "listen");
    socklen_t len = sizeof addr;
    CHECK(getsockname(listener, (struct sockaddr *)&addr, &len) == 0, "getsockname");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(addr.sin_port));

    realtime_client *client = realtime_new(url, "{\"timeout\":20000}");
    CHECK(client != NULL, "realtime_new: %s", realtime_last_error());
    int first = accept_within(listener, 5000);
    CHECK(first >= 0, "the first attempt never reached the listener");
    CHECK(!closed_within(first, 300), "the first attempt gave up by itself");
    int64_t start = rt_now_ms();
    CHECK(realtime_reconnect_now(client) == REALTIME_STATUS_OK, "reconnect_now: %s", realtime_last_error());
    int second = accept_within(listener, 3000);
    int64_t elapsed = rt_now_ms() - start;
    CHECK(second >= 0, "no new attempt within 3 s of reconnect_now (the stuck one was kept)");
    NOTE("a new attempt arrived %lld ms after reconnect_now (the attempt timeout is 20000 ms)", (long long)elapsed);
    CHECK(closed_within(first, 3000), "the stuck attempt's connection was not closed");
    CHECK(!closed_within(second, 300), "the new attempt gave up at once");
    realtime_free(client);
    CHECK(closed_within(second, 3000), "free did not close the attempt");
    close(first);
    close(second);
    close(listener);
}

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

    NOTE("with reconnection: false, realtime_reconnect_now connects again too");
    realtime_client *once = realtime_new(url, "{\"reconnection\":false}");
    CHECK(once != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *once_log = rt_log_new();
    rt_log_attach(once_log, once);
    CHECK(rt_log_wait(once_log, "connect", 5000, NULL), "on_connect");
    CHECK(rt_server_wait_connection(server, "/", 5000, first_id, sizeof first_id), "first connection");
    CHECK(realtime_reconnect_now(once) == REALTIME_STATUS_OK, "reconnect_now: %s", realtime_last_error());
    CHECK(rt_log_wait(once_log, "disconnect", 2000, &record), "on_disconnect");
    CHECK(strcmp(record.text, "transport close") == 0, "reason %s", record.text);
    CHECK(rt_log_wait_nth(once_log, "connect", 2, 3000, NULL), "not connected again: reconnection false dropped it");
    CHECK(rt_server_wait_connection(server, "/", 2000, second_id, sizeof second_id), "second connection");
    CHECK(strcmp(first_id, second_id) != 0, "a new socket id");
    CHECK(realtime_is_connected(once), "connected");
    realtime_free(once);
    rt_log_free(once_log);

    stuck_attempt_is_replaced();

    NOTE("NULL client is an error");
    CHECK(realtime_reconnect_now(NULL) == REALTIME_STATUS_INVALID_ARGUMENT, "NULL client");

    realtime_free(client);
    rt_log_free(log);
    rt_server_free(server);
    rt_test_pass();
    return 0;
}
