/* test_namespace_free_race: realtime_free on a namespace client while its CONNECT is in flight.
 *
 * The server holds the CONNECT reply of "/admin" for a while (auth.delayMs, a middleware delay; it says
 * "delaying" when the CONNECT has arrived). The client on "/" stays connected throughout.
 *  A. free "/admin" while its CONNECT is held: when the server accepts it at last, the library leaves the
 *     namespace at once (the server reports the socket's disconnect, "client namespace disconnect"), so
 *     the server's socket count goes back to 1; then re-creating "/admin" connects it on the same
 *     connection (no second CONNECT for a namespace the server still has, which socket.io answers by
 *     closing the whole connection);
 *  B. free "/admin" while its CONNECT is held and re-create it at once: the new socket waits for the old
 *     reply, the old socket is left, then the new one connects; the server ends with exactly "/" and
 *     one "/admin", on the same connection;
 *  C. the same with a CONNECT the server refuses: the refusal is not the new socket's (no on_error), and
 *     the new socket connects;
 *  in all, "/" sees no disconnect and no reconnect. */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200,\"randomizationFactor\":0}"
#define DELAYED "{\"auth\":{\"delayMs\":800}}"

/* live sockets on the server, per namespace */
static int count_sockets(rt_server *srv, const char *nsp) {
    char done[8192], want[64];
    CHECK(rt_server_command_out(srv, "sockets", 5000, done, sizeof done), "sockets");
    snprintf(want, sizeof want, "\"nsp\":\"%s\"", nsp);
    int n = 0;
    for (const char *p = strstr(done, want); p; p = strstr(p + 1, want)) n++;
    return n;
}

static void wait_conn(rt_server *srv, const char *nsp, char *id, size_t idlen, char *conn, size_t connlen) {
    char line[8192];
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", nsp, 5000, line, sizeof line), "no connection on %s", nsp);
    CHECK(rt_json_get_string(line, "id", id, idlen), "line %s", line);
    CHECK(rt_json_get_string(line, "conn", conn, connlen), "line %s", line);
}

static void wait_left(rt_server *srv, const char *id) {
    char line[8192], reason[128];
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", id, 5000, line, sizeof line),
          "the server kept socket %s of the freed namespace (no DISCONNECT after its CONNECT reply)", id);
    CHECK(rt_json_get_string(line, "reason", reason, sizeof reason), "line %s", line);
    NOTE("server: %s left (%s)", id, reason);
    CHECK(strcmp(reason, "client namespace disconnect") == 0, "reason %s", reason);
}

int main(void) {
    rt_test_begin("test_namespace_free_race", 90);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *lr = rt_log_new();
    rt_log_attach(lr, c);
    char rid[128], conn[128], aid[128], aconn[128], line[8192];
    wait_conn(srv, "/", rid, sizeof rid, conn, sizeof conn);
    CHECK(rt_log_wait(lr, "connect", 5000, NULL), "no on_connect on /");
    NOTE("/ connected as %s on %s", rid, conn);

    /* ---- A */
    NOTE("A: free /admin while its CONNECT is held by the server");
    realtime_client *a = realtime_new_namespace(c, "/admin", DELAYED);
    CHECK(a != NULL, "realtime_new_namespace: %s", realtime_last_error());
    CHECK(rt_server_wait_event_where(srv, "delaying", "nsp", "/admin", 5000, line, sizeof line), "no delayed CONNECT");
    realtime_free(a);
    wait_conn(srv, "/admin", aid, sizeof aid, aconn, sizeof aconn);
    CHECK(strcmp(aconn, conn) == 0, "/admin on another connection");
    wait_left(srv, aid);
    CHECK(count_sockets(srv, "/admin") == 0, "the server still has %d /admin sockets", count_sockets(srv, "/admin"));
    CHECK(count_sockets(srv, "/") == 1, "the server has %d / sockets", count_sockets(srv, "/"));

    NOTE("A: re-create /admin: it connects on the same connection");
    a = realtime_new_namespace(c, "/admin", NULL);
    CHECK(a != NULL, "realtime_new_namespace: %s", realtime_last_error());
    rt_log *la = rt_log_new();
    rt_log_attach(la, a);
    CHECK(rt_log_wait(la, "connect", 5000, NULL), "re-created /admin: no on_connect");
    wait_conn(srv, "/admin", aid, sizeof aid, aconn, sizeof aconn);
    CHECK(strcmp(aconn, conn) == 0, "re-created /admin on another connection: %s, / is on %s", aconn, conn);
    CHECK(count_sockets(srv, "/admin") == 1, "the server has %d /admin sockets", count_sockets(srv, "/admin"));
    CHECK(count_sockets(srv, "/") == 1, "the server has %d / sockets", count_sockets(srv, "/"));
    CHECK(realtime_is_connected(c), "/ not connected");
    CHECK(rt_log_count(lr, "disconnect") == 0 && rt_log_count(lr, "reconnect") == 0,
          "/ dropped: %d disconnects, %d reconnects", rt_log_count(lr, "disconnect"), rt_log_count(lr, "reconnect"));
    realtime_free(a);
    wait_left(srv, aid);
    rt_log_free(la);

    /* ---- B */
    NOTE("B: free /admin while its CONNECT is held, and re-create it at once");
    a = realtime_new_namespace(c, "/admin", DELAYED);
    CHECK(a != NULL, "realtime_new_namespace: %s", realtime_last_error());
    CHECK(rt_server_wait_event_where(srv, "delaying", "nsp", "/admin", 5000, line, sizeof line), "no delayed CONNECT");
    realtime_free(a);
    a = realtime_new_namespace(c, "/admin", NULL);
    CHECK(a != NULL, "realtime_new_namespace right after realtime_free: %s", realtime_last_error());
    la = rt_log_new();
    rt_log_attach(la, a);
    char old_id[128], new_id[128] = "";
    wait_conn(srv, "/admin", old_id, sizeof old_id, aconn, sizeof aconn);
    NOTE("B: the held CONNECT was accepted as %s", old_id);
    wait_left(srv, old_id);
    wait_conn(srv, "/admin", aid, sizeof aid, aconn, sizeof aconn);
    CHECK(strcmp(aconn, conn) == 0, "re-created /admin on another connection");
    CHECK(rt_log_wait(la, "connect", 5000, NULL), "re-created /admin: no on_connect");
    CHECK(realtime_socket_id(a, new_id, sizeof new_id) > 0, "no socket id");
    CHECK(strcmp(new_id, aid) == 0, "the re-created client is %s, the server's new socket %s", new_id, aid);
    CHECK(count_sockets(srv, "/admin") == 1, "the server has %d /admin sockets", count_sockets(srv, "/admin"));
    CHECK(count_sockets(srv, "/") == 1, "the server has %d / sockets", count_sockets(srv, "/"));

    NOTE("B: both namespaces work: an emit on each reaches the server from the right socket");
    CHECK(realtime_emit(a, "echo", "[\"from-admin\"]") == REALTIME_STATUS_OK, "emit");
    CHECK(rt_server_wait_event_where(srv, "message", "id", aid, 5000, line, sizeof line), "no emit from /admin");
    CHECK(realtime_emit(c, "echo", "[\"from-root\"]") == REALTIME_STATUS_OK, "emit");
    CHECK(rt_server_wait_event_where(srv, "message", "id", rid, 5000, line, sizeof line), "no emit from /");
    CHECK(rt_log_count(lr, "disconnect") == 0 && rt_log_count(lr, "reconnect") == 0,
          "/ dropped: %d disconnects, %d reconnects", rt_log_count(lr, "disconnect"), rt_log_count(lr, "reconnect"));
    CHECK(rt_log_count(la, "disconnect") == 0, "re-created /admin disconnected");

    realtime_free(a);
    wait_left(srv, aid);
    rt_log_free(la);

    /* ---- C */
    NOTE("C: free /admin while a CONNECT the server will refuse is held, and re-create it at once");
    a = realtime_new_namespace(c, "/admin", "{\"auth\":{\"delayMs\":800,\"refuse\":true}}");
    CHECK(a != NULL, "realtime_new_namespace: %s", realtime_last_error());
    CHECK(rt_server_wait_event_where(srv, "delaying", "nsp", "/admin", 5000, line, sizeof line), "no delayed CONNECT");
    realtime_free(a);
    a = realtime_new_namespace(c, "/admin", NULL);
    CHECK(a != NULL, "realtime_new_namespace right after realtime_free: %s", realtime_last_error());
    la = rt_log_new();
    rt_log_attach(la, a);
    CHECK(rt_server_wait_event_where(srv, "refused", "nsp", "/admin", 5000, line, sizeof line), "no refusal");
    wait_conn(srv, "/admin", aid, sizeof aid, aconn, sizeof aconn);
    CHECK(strcmp(aconn, conn) == 0, "re-created /admin on another connection");
    CHECK(rt_log_wait(la, "connect", 5000, NULL), "re-created /admin: no on_connect");
    CHECK(rt_log_count(la, "error") == 0, "the refusal of the freed socket reached the re-created one");
    CHECK(count_sockets(srv, "/admin") == 1, "the server has %d /admin sockets", count_sockets(srv, "/admin"));
    CHECK(rt_log_count(lr, "disconnect") == 0 && rt_log_count(lr, "reconnect") == 0,
          "/ dropped: %d disconnects, %d reconnects", rt_log_count(lr, "disconnect"), rt_log_count(lr, "reconnect"));

    realtime_free(a);
    realtime_free(c);
    rt_log_free(la);
    rt_log_free(lr);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
