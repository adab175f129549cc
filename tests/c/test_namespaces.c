/* test_namespaces: several namespaces on one connection (realtime_new_namespace).
 *  - "/" and "/admin" share one WebSocket: the server sees both with the same engine connection id
 *    ("conn"), but each has its own socket id (= realtime_socket_id);
 *  - listeners, acks and lifecycle events are per namespace: an event emitted by the server to one
 *    socket reaches only that client's listener; an ack answers the namespace that asked;
 *  - opening a namespace that is open already -> NULL, REALTIME_STATUS_NAMESPACE_IN_USE's message;
 *    a connection option in the namespace's options -> NULL with a message naming the option;
 *  - realtime_close on "/admin" -> its on_disconnect("io client disconnect"), "/" stays connected on
 *    the same connection; realtime_open brings "/admin" back on the same connection;
 *  - server-side namespace disconnect of "/admin" -> "io server disconnect" there only;
 *  - an unknown namespace -> on_error("Invalid namespace") there, "/" unaffected;
 *  - transport dropped -> both reconnect on one new connection;
 *  - realtime_free("/") while "/admin" is open: the connection lives on for "/admin". */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200,\"randomizationFactor\":0}"

static void wait_conn(rt_server *srv, const char *nsp, char *id, size_t idlen, char *conn, size_t connlen) {
    char line[8192];
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", nsp, 5000, line, sizeof line), "no connection on %s", nsp);
    CHECK(rt_json_get_string(line, "id", id, idlen), "line %s", line);
    CHECK(rt_json_get_string(line, "conn", conn, connlen), "connection line without conn: %s", line);
}

int main(void) {
    rt_test_begin("test_namespaces", 90);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *lr = rt_log_new(), *la = rt_log_new();
    rt_log_attach(lr, c);
    realtime_client *a = realtime_new_namespace(c, "/admin", "{\"auth\":{\"role\":\"admin\"}}");
    CHECK(a != NULL, "realtime_new_namespace: %s", realtime_last_error());
    rt_log_attach(la, a);
    rt_ev *er = rt_ev_new(lr, "ev"), *ea = rt_ev_new(la, "ev");
    rt_ev *ackr = rt_ev_new(lr, "ack"), *acka = rt_ev_new(la, "ack");
    CHECK(realtime_on(c, "hello", rt_ev_event, er) > 0, "on");
    CHECK(realtime_on(a, "hello", rt_ev_event, ea) > 0, "on");

    char id_r[128], id_a[128], conn_r[64], conn_a[64];
    wait_conn(srv, "/", id_r, sizeof id_r, conn_r, sizeof conn_r);
    wait_conn(srv, "/admin", id_a, sizeof id_a, conn_a, sizeof conn_a);
    CHECK(rt_log_wait(lr, "connect", 5000, NULL), "'/' no on_connect");
    CHECK(rt_log_wait(la, "connect", 5000, NULL), "'/admin' no on_connect");
    NOTE("'/' socket %s conn %s; '/admin' socket %s conn %s", id_r, conn_r, id_a, conn_a);
    CHECK(strcmp(conn_r, conn_a) == 0, "the namespaces use two engine connections (%s, %s)", conn_r, conn_a);
    CHECK(strcmp(id_r, id_a) != 0, "same socket id for both namespaces");
    char buf[128];
    CHECK(realtime_socket_id(c, buf, sizeof buf) > 0 && strcmp(buf, id_r) == 0, "'/' socket id %s", buf);
    CHECK(realtime_socket_id(a, buf, sizeof buf) > 0 && strcmp(buf, id_a) == 0, "'/admin' socket id %s", buf);
    CHECK(rt_log_count(lr, "connect") == 1 && rt_log_count(la, "connect") == 1, "connect events: %d / %d",
          rt_log_count(lr, "connect"), rt_log_count(la, "connect"));

    /* ---- in use / bad options */
    NOTE("opening '/admin' (and '/') again -> NULL, NAMESPACE_IN_USE");
    const char *in_use = realtime_status_str(REALTIME_STATUS_NAMESPACE_IN_USE);
    CHECK(realtime_new_namespace(c, "/admin", NULL) == NULL, "second /admin opened");
    NOTE("  \"%s\"", realtime_last_error());
    CHECK(strstr(realtime_last_error(), in_use) || strstr(realtime_last_error(), "/admin"),
          "message '%s' says neither '%s' nor the namespace", realtime_last_error(), in_use);
    CHECK(realtime_new_namespace(a, "/admin", NULL) == NULL, "second /admin (from the /admin handle) opened");
    CHECK(realtime_new_namespace(c, "/", NULL) == NULL, "second / opened");
    NOTE("connection options in a namespace's options -> NULL with the option named");
    CHECK(realtime_new_namespace(c, "/other", "{\"reconnectionDelay\":5}") == NULL, "connection option accepted");
    NOTE("  \"%s\"", realtime_last_error());
    CHECK(strstr(realtime_last_error(), "reconnectionDelay"), "message '%s' does not name the option",
          realtime_last_error());
    CHECK(realtime_new_namespace(c, "/other", "{\"path\":\"/x\"}") == NULL, "connection option path accepted");
    CHECK(rt_server_queued(srv, "connection") == 0, "a refused namespace connected anyway");

    /* ---- separate listeners and acks */
    NOTE("server emits 'hello' to the /admin socket: only the /admin listener runs");
    CHECK(rt_server_commandf(srv, 5000, "emit %s hello [\"to-admin\"]", id_a), "emit");
    CHECK(rt_log_wait_nth(la, "ev", 1, 5000, NULL), "/admin listener got nothing");
    CHECK(rt_server_commandf(srv, 5000, "emit %s hello [\"to-root\"]", id_r), "emit");
    rt_record r;
    CHECK(rt_log_wait_nth(lr, "ev", 1, 5000, &r), "/ listener got nothing");
    CHECK(rt_jeq(r.data, "[\"to-root\"]"), "/ got %s", r.data);
    CHECK(rt_log_count(la, "ev") == 1 && rt_log_count(lr, "ev") == 1, "cross delivery: / %d, /admin %d",
          rt_log_count(lr, "ev"), rt_log_count(la, "ev"));

    NOTE("emit_with_ack on both: each ack answers its namespace");
    CHECK(realtime_emit_with_ack(a, "echo", "[\"admin\"]", 5000, rt_ev_ack, acka) == REALTIME_STATUS_OK, "emit");
    CHECK(realtime_emit_with_ack(c, "echo", "[\"root\"]", 5000, rt_ev_ack, ackr) == REALTIME_STATUS_OK, "emit");
    CHECK(rt_log_wait_nth(la, "ack", 1, 5000, &r), "no /admin ack");
    CHECK(rt_jeq(r.data, "[\"admin\"]"), "/admin ack %s", r.data);
    CHECK(rt_log_wait_nth(lr, "ack", 1, 5000, &r), "no / ack");
    CHECK(rt_jeq(r.data, "[\"root\"]"), "/ ack %s", r.data);
    char line[8192];
    CHECK(rt_server_wait_event_where(srv, "message", "nsp", "/admin", 5000, line, sizeof line), "server: no /admin msg");
    CHECK(strstr(line, id_a), "the /admin message came from another socket: %s", line);

    /* ---- close one */
    NOTE("realtime_close(/admin): /admin disconnects, / stays on the same connection");
    CHECK(realtime_close(a) == REALTIME_STATUS_OK, "close: %s", realtime_last_error());
    CHECK(rt_log_wait(la, "disconnect", 3000, &r), "/admin: no on_disconnect");
    CHECK(strcmp(r.text, "io client disconnect") == 0, "/admin reason %s", r.text);
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", id_a, 3000, line, sizeof line), "server: no disconnect");
    NOTE("server: %s", line);
    CHECK(realtime_is_connected(c), "/ not connected after closing /admin");
    rt_server_drain(srv, "message"); /* the acked echoes above (logged before they were answered) */
    CHECK(realtime_emit(c, "echo", "[\"still\"]") == REALTIME_STATUS_OK, "emit");
    CHECK(rt_server_wait_event_where(srv, "message", "name", "echo", 5000, line, sizeof line), "server: no echo");
    CHECK(strstr(line, "still") && strstr(line, id_r), "server: %s", line);
    CHECK(rt_log_count(lr, "disconnect") == 0, "/ got a disconnect");
    CHECK(rt_server_queued(srv, "disconnect") == 0, "the server saw another disconnect");

    NOTE("realtime_open(/admin): back on the same connection, new socket id");
    CHECK(realtime_open(a) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());
    char id_a2[128], conn_a2[64];
    wait_conn(srv, "/admin", id_a2, sizeof id_a2, conn_a2, sizeof conn_a2);
    CHECK(rt_log_wait(la, "connect", 5000, NULL), "/admin: no on_connect after open");
    CHECK(strcmp(conn_a2, conn_r) == 0, "/admin reopened on another connection (%s vs %s)", conn_a2, conn_r);
    CHECK(strcmp(id_a2, id_a) != 0, "same /admin socket id after close+open");
    CHECK(rt_log_count(lr, "connect") == 1, "/ reconnected");

    /* ---- server-side namespace disconnect */
    NOTE("server disconnects /admin only (disconnect-nsp) -> 'io server disconnect' there");
    CHECK(rt_server_commandf(srv, 5000, "disconnect-nsp %s", id_a2), "disconnect-nsp");
    CHECK(rt_log_wait(la, "disconnect", 3000, &r), "/admin: no on_disconnect");
    CHECK(strcmp(r.text, "io server disconnect") == 0, "/admin reason %s", r.text);
    rt_sleep_ms(300); /* proving / does not drop and /admin does not come back by itself */
    CHECK(realtime_is_connected(c) && rt_log_count(lr, "disconnect") == 0, "/ dropped");
    CHECK(!realtime_is_connected(a), "/admin connected again without realtime_open");
    CHECK(realtime_open(a) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());
    wait_conn(srv, "/admin", id_a2, sizeof id_a2, conn_a2, sizeof conn_a2);
    CHECK(rt_log_wait(la, "connect", 5000, NULL), "/admin: no on_connect after open");

    /* ---- unknown namespace */
    NOTE("unknown namespace /nope -> on_error there, / unaffected");
    realtime_client *nope = realtime_new_namespace(c, "/nope", NULL);
    CHECK(nope != NULL, "new_namespace /nope: %s", realtime_last_error());
    rt_log *ln = rt_log_new();
    rt_log_attach(ln, nope);
    CHECK(rt_log_wait(ln, "error", 5000, &r), "/nope: no on_error");
    NOTE("/nope on_error(\"%s\", %s)", r.text, r.data);
    CHECK(strcmp(r.text, "Invalid namespace") == 0, "message %s", r.text);
    CHECK(realtime_is_connected(c) && realtime_is_connected(a), "the connection dropped");
    realtime_free(nope);
    rt_log_free(ln);

    /* ---- transport drop: both come back on one connection */
    NOTE("server closes the transport: both namespaces reconnect on one new connection");
    int cr = rt_log_count(lr, "connect"), ca = rt_log_count(la, "connect");
    CHECK(rt_server_commandf(srv, 5000, "close-transport %s", id_r), "close-transport");
    CHECK(rt_log_wait(lr, "disconnect", 5000, &r) && strcmp(r.text, "transport close") == 0, "/ reason %s", r.text);
    CHECK(rt_log_wait(la, "disconnect", 5000, &r) && strcmp(r.text, "transport close") == 0, "/admin reason %s", r.text);
    char id_r3[128], id_a3[128], conn_r3[64], conn_a3[64];
    wait_conn(srv, "/", id_r3, sizeof id_r3, conn_r3, sizeof conn_r3);
    wait_conn(srv, "/admin", id_a3, sizeof id_a3, conn_a3, sizeof conn_a3);
    CHECK(rt_log_wait_nth(lr, "connect", cr + 1, 5000, NULL), "/ did not reconnect");
    CHECK(rt_log_wait_nth(la, "connect", ca + 1, 5000, NULL), "/admin did not reconnect");
    CHECK(strcmp(conn_r3, conn_a3) == 0, "after the reconnect: two connections %s %s", conn_r3, conn_a3);
    CHECK(strcmp(conn_r3, conn_r) != 0, "same engine connection id after a reconnect");

    /* ---- free "/" first */
    NOTE("realtime_free(/) while /admin is open: /admin stays connected");
    realtime_free(c);
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", id_r3, 3000, NULL, 0), "server: / not gone");
    rt_sleep_ms(300); /* proving /admin stays */
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", id_a3, 0, line, sizeof line) == 0,
          "the server saw /admin go too: %s", line);
    CHECK(realtime_is_connected(a), "/admin disconnected when / was freed");
    CHECK(realtime_emit_with_ack(a, "echo", "[\"alone\"]", 5000, rt_ev_ack, acka) == REALTIME_STATUS_OK, "emit");
    CHECK(rt_log_wait_nth(la, "ack", 2, 5000, &r) && rt_jeq(r.data, "[\"alone\"]"), "/admin ack after free(/)");

    CHECK(!rt_log_overlap(lr) && !rt_log_overlap(la), "callbacks of one client overlapped");
    realtime_free(a);
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", id_a3, 3000, NULL, 0), "server: /admin not gone");
    rt_log_dump(la, "/admin");
    rt_ev_free(er);
    rt_ev_free(ea);
    rt_ev_free(ackr);
    rt_ev_free(acka);
    rt_log_free(lr);
    rt_log_free(la);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
