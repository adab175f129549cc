/* realtime_open is idempotent: calling it again while the connection is being made (or is up) must never
 * lose the connect, and realtime_open after a server-side disconnect connects again.
 * Regression: every open used to start a new "generation", so a connect published under the previous
 * one was dropped; the client stayed disconnected with no event at all. */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static atomic_int stop_hammer;

static void *hammer(void *client) {
    long calls = 0;
    while (!atomic_load(&stop_hammer)) {
        CHECK(realtime_open(client) == REALTIME_STATUS_OK, "realtime_open: %s", realtime_last_error());
        calls++;
    }
    return (void *)calls;
}

int main(void) {
    rt_test_begin("test_open_idempotent", 60);
    rt_server *server = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", rt_server_port(server));

    for (int round = 1; round <= 20; round++) {
        rt_log *log = rt_log_new();
        realtime_client *client =
            realtime_new(url, "{\"autoConnect\":false,\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}");
        CHECK(client != NULL, "realtime_new: %s", realtime_last_error());
        rt_log_attach(log, client);
        atomic_store(&stop_hammer, 0);
        pthread_t thread;
        CHECK(pthread_create(&thread, NULL, hammer, client) == 0, "pthread_create");
        CHECK(realtime_open(client) == REALTIME_STATUS_OK, "open");
        char server_id[64];
        CHECK(rt_server_wait_connection(server, "/", 5000, server_id, sizeof server_id), "round %d: no connection",
              round);
        int connected = rt_log_wait(log, "connect", 5000, NULL);
        atomic_store(&stop_hammer, 1);
        void *calls;
        pthread_join(thread, &calls);
        if (!connected) rt_log_dump(log, "lost connect");
        CHECK(connected, "round %d: the server accepted the socket but on_connect never came (%ld concurrent opens)",
              round, (long)calls);
        char id[64];
        CHECK(realtime_is_connected(client), "round %d: not connected", round);
        CHECK(realtime_socket_id(client, id, sizeof id) > 0 && strcmp(id, server_id) == 0, "round %d: id %s vs %s",
              round, id, server_id);
        if (round == 1) NOTE("%ld realtime_open calls raced the first connection; on_connect arrived", (long)calls);
        CHECK(rt_log_count(log, "connect") == 1, "round %d: %d on_connect", round, rt_log_count(log, "connect"));
        realtime_free(client);
        rt_log_free(log);
        CHECK(rt_server_wait_event_where(server, "disconnect", "id", server_id, 3000, NULL, 0), "no disconnect");
    }
    NOTE("20 rounds: every connection reported exactly once while realtime_open was hammered");

    NOTE("after a server-side disconnect, realtime_open connects again");
    rt_log *log = rt_log_new();
    realtime_client *client = realtime_new(url, "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}");
    rt_log_attach(log, client);
    char first[64], second[64];
    CHECK(rt_server_wait_connection(server, "/", 5000, first, sizeof first), "connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "on_connect");
    CHECK(rt_server_commandf(server, 5000, "disconnect %s", first), "server disconnect");
    rt_record record;
    CHECK(rt_log_wait(log, "disconnect", 5000, &record), "on_disconnect");
    CHECK(strcmp(record.text, "io server disconnect") == 0, "reason %s", record.text);
    CHECK(!realtime_is_connected(client), "still connected");
    CHECK(realtime_open(client) == REALTIME_STATUS_OK, "open");
    CHECK(rt_server_wait_connection(server, "/", 5000, second, sizeof second), "no new connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect after reopening");
    CHECK(strcmp(first, second) != 0, "same id");
    realtime_free(client);
    rt_log_free(log);

    rt_server_free(server);
    rt_test_pass();
    return 0;
}
