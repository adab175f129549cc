/* test_reconnect: the server process is killed and restarted on the same port.
 *  - on_disconnect("transport close");
 *  - reconnect attempts numbered 1, 2, 3, ... (strictly increasing by one from 1) while it is down;
 *  - after the restart: on_reconnect(n) with n = the number of attempts, then on_connect, and the server
 *    sees a new socket id, which realtime_socket_id reports;
 *  - then a second kill/restart: the attempt counter starts again from 1. */
#include "harness.h"

#include <string.h>

#define OPTS "{\"autoConnect\":false,\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}"

static void check_cycle(rt_server *srv, realtime_client *c, rt_log *log, const char *old_id, char *new_id,
                        size_t new_id_len, int round) {
    int disc0 = rt_log_count(log, "disconnect");
    int att0 = rt_log_count(log, "reconnect_attempt");
    int rec0 = rt_log_count(log, "reconnect");
    int con0 = rt_log_count(log, "connect");

    NOTE("round %d: kill the server (SIGKILL)", round);
    int64_t t_kill = rt_now_ms();
    rt_server_kill(srv);
    rt_record r;
    CHECK(rt_log_wait_nth(log, "disconnect", disc0 + 1, 3000, &r), "no on_disconnect after the server died");
    NOTE("on_disconnect(\"%s\") after %lld ms", r.text, (long long)(r.t_ms - t_kill));
    CHECK(strcmp(r.text, "transport close") == 0, "disconnect reason '%s', want 'transport close'", r.text);
    CHECK(!realtime_is_connected(c), "is_connected true while the server is down");

    NOTE("wait for reconnect attempts 1 and 2 while the server is down");
    CHECK(rt_log_wait_nth(log, "reconnect_attempt", att0 + 2, 5000, NULL), "fewer than 2 reconnect attempts in 5 s");

    NOTE("restart the server on the same port (%d)", rt_server_port(srv));
    CHECK(rt_server_restart(srv), "could not restart the server on port %d", rt_server_port(srv));
    CHECK(rt_log_wait_nth(log, "reconnect", rec0 + 1, 5000, &r), "no on_reconnect after the restart");
    rt_record rc;
    CHECK(rt_log_wait_nth(log, "connect", con0 + 1, 5000, &rc), "no on_connect after the restart");
    CHECK(rt_server_wait_connection(srv, "/", 5000, new_id, new_id_len), "server saw no connection after restart");

    /* attempts of this round: numbered 1..k, consecutive */
    int att1 = rt_log_count(log, "reconnect_attempt");
    int k = att1 - att0;
    for (int i = 1; i <= k; i++) {
        rt_record a;
        CHECK(rt_log_wait_nth(log, "reconnect_attempt", att0 + i, 0, &a), "attempt record %d missing", i);
        CHECK(a.n == i, "round %d: reconnect attempt #%d has number %lld (want %d)", round, i, (long long)a.n, i);
        CHECK(a.seq < r.seq, "reconnect attempt %d recorded after on_reconnect", i);
    }
    NOTE("%d attempts numbered 1..%d; on_reconnect(%lld)", k, k, (long long)r.n);
    CHECK(r.n == k, "on_reconnect(%lld) but %d attempts were made", (long long)r.n, k);
    CHECK(r.seq < rc.seq, "on_reconnect must come before on_connect (socket.io-client order)");

    char id[128];
    CHECK(realtime_socket_id(c, id, sizeof id) > 0, "socket_id empty after reconnect");
    NOTE("new socket id %s (old %s)", new_id, old_id);
    CHECK(strcmp(id, new_id) == 0, "socket id %s != server's %s", id, new_id);
    CHECK(strcmp(new_id, old_id) != 0, "socket id unchanged after reconnect");
    CHECK(strcmp(rc.text, new_id) == 0, "socket id inside on_connect '%s' != %s", rc.text, new_id);
}

int main(void) {
    rt_test_begin("test_reconnect", 90);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", rt_server_port(srv));

    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());

    char id0[128], id1[128], id2[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, id0, sizeof id0), "no first connection");
    CHECK(rt_log_wait_nth(log, "connect", 1, 5000, NULL), "no on_connect");
    CHECK(rt_log_count(log, "reconnect_attempt") == 0, "reconnect attempts before any failure");

    check_cycle(srv, c, log, id0, id1, sizeof id1, 1);
    check_cycle(srv, c, log, id1, id2, sizeof id2, 2);

    CHECK(!rt_log_overlap(log), "two callbacks of one client ran at the same time");
    rt_log_dump(log, "test_reconnect");
    realtime_free(c);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
