/* test_polling: the Engine.IO HTTP long-polling transport and its upgrade to WebSocket, against the
 * real socket.io server.
 *  - a server with transports ["polling"] only: the default client (websocket first, tryAllTransports)
 *    is refused the WebSocket (HTTP 400) and falls back to polling; the server sees a polling
 *    connection and realtime_transport_name() says "polling"; it stays up across several heartbeats
 *    (pings over GET, pongs over POST); events and acks both ways, binary both ways (b+base64 on the
 *    wire), a burst of 500 server events in order (several packets per GET), 300 client emits in order
 *    (batched POSTs); server disconnect -> "io server disconnect"; a closed transport -> "transport
 *    close"/"transport error" and a reconnect over polling;
 *  - transports ["websocket"] with that server: refused, no fallback (connect_error with the status);
 *  - realtime_free over polling sends the close packet: the server's session ends with "transport close"
 *    (10 times: the close was skipped about 1 time in 3 when the engine's two channels closed together);
 *  - a server with both: transports ["polling","websocket"] opens over polling and upgrades (the server
 *    reports the upgrade; the transport name becomes "websocket"); 400 emits sent while the upgrade
 *    runs and 400 server events emitted meanwhile all arrive once, in order;
 *  - upgrade: false keeps polling. */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define FAST "\"reconnectionDelay\":100,\"reconnectionDelayMax\":200"

static realtime_client *client(const char *url, const char *opts, rt_log *log) {
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new(%s): %s", opts, realtime_last_error());
    rt_log_attach(log, c);
    return c;
}

/* The server's answer to "transport <id>". */
static void server_transport(rt_server *srv, const char *id, char *out, size_t len) {
    char line[512], cmd[256];
    snprintf(cmd, sizeof cmd, "transport %s", id);
    CHECK(rt_server_command_out(srv, cmd, 5000, line, sizeof line), "transport command");
    CHECK(rt_json_get_string(line, "transport", out, len), "no transport in %s", line);
}

/* Waits until every value 1..n of event `kind` arrived (recorded in the rt_ev log), checks the order. */
static void expect_sequence(rt_log *log, const char *kind, int n) {
    rt_record r;
    for (int i = 1; i <= n; i++) {
        CHECK(rt_log_wait_nth(log, kind, i, 10000, &r), "%s #%d of %d never arrived", kind, i, n);
        char want[32];
        snprintf(want, sizeof want, "[%d]", i);
        CHECK(rt_jeq(r.data, want), "%s #%d carries %s (out of order or duplicated)", kind, i, r.data);
    }
}

/* The server logs "message" lines for "order" emits: checks 1..n once each, in order. */
static void expect_server_sequence(rt_server *srv, int n) {
    char line[1024], args[256];
    for (int i = 1; i <= n; i++) {
        CHECK(rt_server_wait_event_where(srv, "message", "name", "order", 10000, line, sizeof line),
              "server: seq #%d of %d never arrived", i, n);
        CHECK(rt_json_get_raw(line, "args", args, sizeof args), "no args: %s", line);
        char want[32];
        snprintf(want, sizeof want, "[%d]", i);
        CHECK(rt_jeq(args, want), "server: seq #%d carries %s (out of order or duplicated)", i, args);
    }
}

static void polling_only(void) {
    NOTE("server with transports [\"polling\"]: the default client falls back to polling");
    rt_server *srv = rt_server_start("--transports polling");
    char url[128], line[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    rt_log *log = rt_log_new();
    realtime_client *c = client(url, "{" FAST "}", log);
    rt_ev *echo = rt_ev_new(log, "echo");
    rt_ev *bin = rt_ev_new(log, "bin");
    rt_ev *tick = rt_ev_new(log, "tick");
    rt_ev *acks = rt_ev_new(log, "ack");
    CHECK(realtime_on(c, "echo", rt_ev_event, echo) > 0, "on echo");
    CHECK(realtime_on(c, "bin", rt_ev_event, bin) > 0, "on bin");
    CHECK(realtime_on(c, "tick", rt_ev_event, tick) > 0, "on tick");
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 10000, line, sizeof line), "no connection");
    char id[64], transport[32];
    CHECK(rt_json_get_string(line, "id", id, sizeof id), "no id");
    CHECK(rt_json_get_string(line, "transport", transport, sizeof transport), "no transport: %s", line);
    CHECK(strcmp(transport, "polling") == 0, "server sees transport %s", transport);
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");
    CHECK(rt_log_count(log, "error") == 0, "the fallback reported an error");
    CHECK(strcmp(realtime_transport_name(c), "polling") == 0, "transport name \"%s\"", realtime_transport_name(c));

    NOTE("heartbeats over polling: still connected after 1.5 s with pingInterval 300 ms, pingTimeout 200 ms");
    rt_sleep_ms(1500); /* the duration under test, not a synchronisation */
    CHECK(realtime_is_connected(c) && rt_log_count(log, "disconnect") == 0, "dropped while idle on polling");

    NOTE("events and acks both ways");
    CHECK(realtime_emit_with_ack(c, "echo", "[\"a\",{\"n\":1.5}]", 5000, rt_ev_ack, acks) == REALTIME_STATUS_OK,
          "emit: %s", realtime_last_error());
    rt_record r;
    CHECK(rt_log_wait_nth(log, "echo", 1, 5000, &r), "no echo");
    CHECK(rt_jeq(r.data, "[\"a\",{\"n\":1.5}]"), "echo %s", r.data);
    CHECK(rt_log_wait_nth(log, "ack", 1, 5000, &r), "no ack");
    CHECK(r.text[0] == '\0' && rt_jeq(r.data, "[\"a\",{\"n\":1.5}]"), "ack %s %s", r.text, r.data);
    CHECK(rt_server_commandf(srv, 5000, "emit-ack q1 %s 3000 echo [\"question\"]", id), "emit-ack");
    CHECK(rt_log_wait_nth(log, "echo", 2, 5000, &r), "no server question");
    CHECK(r.n != 0, "the question asks no ack");
    CHECK(realtime_ack(c, (uint64_t)r.n, "[\"answer\"]") == REALTIME_STATUS_OK, "ack: %s", realtime_last_error());
    CHECK(rt_server_wait_event_where(srv, "ack_answer", "tag", "q1", 5000, line, sizeof line), "server: no answer");
    char raw[2048];
    CHECK(rt_json_get_raw(line, "args", raw, sizeof raw) && rt_jeq(raw, "[\"answer\"]"), "answer %s", line);

    NOTE("binary both ways (b+base64 in the payload), byte-exact");
    static uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    realtime_buffer b = {all, sizeof all};
    CHECK(realtime_emit_binary(c, "echo", "[\"bin\",{\"_placeholder\":true,\"num\":0}]", &b, 1, 0, NULL, NULL) ==
              REALTIME_STATUS_OK,
          "emit_binary: %s", realtime_last_error());
    CHECK(rt_log_wait_nth(log, "echo", 3, 5000, &r), "no binary echo");
    size_t len = 0;
    const uint8_t *d = rt_ev_buf(echo, 3, 0, &len);
    CHECK(rt_ev_buf_count(echo, 3) == 1 && len == 256 && memcmp(d, all, 256) == 0, "binary echo differs (%zu B)",
          len);
    CHECK(rt_server_commandf(srv, 5000, "emit-bin %s bin [{\"$bin\":\"00ff1e01\"}]", id), "emit-bin");
    CHECK(rt_log_wait_nth(log, "bin", 1, 5000, &r), "no binary event");
    d = rt_ev_buf(bin, 1, 0, &len);
    CHECK(len == 4 && memcmp(d, "\x00\xff\x1e\x01", 4) == 0, "server binary differs (%zu B)", len);

    NOTE("500 server events in order (several per GET), 300 client emits in order (batched POSTs)");
    CHECK(rt_server_commandf(srv, 5000, "burst %s tick 500", id), "burst");
    expect_sequence(log, "tick", 500);
    for (int i = 1; i <= 300; i++) {
        char args[32];
        snprintf(args, sizeof args, "[%d]", i);
        CHECK(realtime_emit(c, "order", args) == REALTIME_STATUS_OK, "emit %d: %s", i, realtime_last_error());
    }
    expect_server_sequence(srv, 300);

    NOTE("the server closes the transport: the client reconnects over polling");
    CHECK(rt_server_commandf(srv, 5000, "close-transport %s", id), "close-transport");
    CHECK(rt_log_wait(log, "disconnect", 5000, &r), "no disconnect");
    NOTE("reason \"%s\"", r.text);
    CHECK(strcmp(r.text, "transport close") == 0 || strcmp(r.text, "transport error") == 0, "reason %s", r.text);
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 10000, line, sizeof line), "no reconnection");
    CHECK(rt_json_get_string(line, "transport", transport, sizeof transport) && strcmp(transport, "polling") == 0,
          "reconnected over %s", transport);
    CHECK(rt_json_get_string(line, "id", id, sizeof id), "no id");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no second on_connect");

    NOTE("server disconnect: \"io server disconnect\", no reconnection");
    CHECK(rt_server_commandf(srv, 5000, "disconnect %s", id), "disconnect");
    CHECK(rt_log_wait(log, "disconnect", 5000, &r), "no disconnect");
    CHECK(strcmp(r.text, "io server disconnect") == 0, "reason %s", r.text);
    /* The connection closes right after the disconnect is handed to the callbacks: awaited. */
    int64_t closed_by = rt_now_ms() + 2000;
    while (strcmp(realtime_transport_name(c), "") != 0 && rt_now_ms() < closed_by) rt_sleep_ms(2);
    CHECK(strcmp(realtime_transport_name(c), "") == 0, "transport name \"%s\" after the end",
          realtime_transport_name(c));
    realtime_free(c);

    NOTE("transports [\"websocket\"] only: refused, no fallback, the HTTP status in data");
    rt_log *log2 = rt_log_new();
    realtime_client *ws = client(url, "{\"transports\":[\"websocket\"],\"reconnection\":false}", log2);
    CHECK(rt_log_wait(log2, "error", 5000, &r), "no connect_error");
    NOTE("error \"%s\" data %s", r.text, r.data);
    CHECK(strstr(r.data, "400") != NULL, "no status 400 in %s", r.data);
    CHECK(rt_log_count(log2, "connect") == 0, "connected anyway");
    realtime_free(ws);
    rt_log_free(log2);

    NOTE("realtime_free over polling ends the session with the close packet, every time");
    for (int i = 0; i < 10; i++) {
        rt_log *log3 = rt_log_new();
        rt_server_drain(srv, "engine_close");
        realtime_client *c3 = client(url, "{\"transports\":[\"polling\"]}", log3);
        char line[2048], conn[64] = "", reason[64] = "";
        CHECK(rt_server_wait_event(srv, "connection", 5000, line, sizeof line), "no connection (%d)", i);
        CHECK(rt_json_get_string(line, "conn", conn, sizeof conn), "no conn in %s", line);
        CHECK(rt_log_wait(log3, "connect", 5000, &r), "no connect (%d)", i);
        realtime_free(c3);
        CHECK(rt_server_wait_event_where(srv, "engine_close", "conn", conn, 5000, line, sizeof line),
              "the server's session %s did not end after realtime_free (%d)", conn, i);
        rt_json_get_string(line, "reason", reason, sizeof reason);
        CHECK(strcmp(reason, "transport close") == 0,
              "free #%d: the session ended with \"%s\", not \"transport close\" (no close packet)", i, reason);
        rt_server_drain(srv, "disconnect");
        rt_log_free(log3);
    }
    rt_ev_free(echo);
    rt_ev_free(bin);
    rt_ev_free(tick);
    rt_ev_free(acks);
    rt_log_free(log);
    rt_server_free(srv);
}

static void upgrade(void) {
    NOTE("server with both transports: [\"polling\",\"websocket\"] opens over polling, then upgrades");
    rt_server *srv = rt_server_start(NULL);
    char url[128], line[4096], transport[32], conn[64], id[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    rt_log *log = rt_log_new();
    realtime_client *c = client(url, "{\"transports\":[\"polling\",\"websocket\"]," FAST "}", log);
    rt_ev *tick = rt_ev_new(log, "tick");
    CHECK(realtime_on(c, "tick", rt_ev_event, tick) > 0, "on tick");
    /* Emits queued before the connection exists: they go out over polling or the WebSocket, once each. */
    for (int i = 1; i <= 400; i++) {
        char args[32];
        snprintf(args, sizeof args, "[%d]", i);
        CHECK(realtime_emit(c, "order", args) == REALTIME_STATUS_OK, "emit %d: %s", i, realtime_last_error());
    }
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 10000, line, sizeof line), "no connection");
    CHECK(rt_json_get_string(line, "transport", transport, sizeof transport), "no transport");
    CHECK(rt_json_get_string(line, "conn", conn, sizeof conn) && rt_json_get_string(line, "id", id, sizeof id), "ids");
    NOTE("connected over %s", transport);
    CHECK(strcmp(transport, "polling") == 0, "first transport %s", transport);
    /* The server emits while the upgrade may be under way. */
    CHECK(rt_server_commandf(srv, 5000, "burst %s tick 400", id), "burst");
    CHECK(rt_server_wait_event(srv, "upgrade", 10000, line, sizeof line), "the server saw no upgrade");
    char upgraded_conn[64];
    CHECK(rt_json_get_string(line, "conn", upgraded_conn, sizeof upgraded_conn) && strcmp(upgraded_conn, conn) == 0,
          "upgrade of another connection: %s", line);
    CHECK(rt_json_get_string(line, "transport", transport, sizeof transport) && strcmp(transport, "websocket") == 0,
          "upgraded to %s", transport);
    NOTE("the server saw the upgrade to websocket");
    expect_server_sequence(srv, 400);
    expect_sequence(log, "tick", 400);
    NOTE("400 emits and 400 server events across the switch: all once, in order");
    server_transport(srv, id, transport, sizeof transport);
    CHECK(strcmp(transport, "websocket") == 0, "server transport %s", transport);
    int64_t t0 = rt_now_ms();
    while (strcmp(realtime_transport_name(c), "websocket") != 0 && rt_now_ms() - t0 < 5000) rt_sleep_ms(10);
    CHECK(strcmp(realtime_transport_name(c), "websocket") == 0, "transport name \"%s\"", realtime_transport_name(c));
    CHECK(rt_log_count(log, "disconnect") == 0, "a disconnect during the upgrade");
    NOTE("an echo after the upgrade");
    rt_ev *echo = rt_ev_new(log, "echo");
    CHECK(realtime_on(c, "echo", rt_ev_event, echo) > 0, "on echo");
    CHECK(realtime_emit(c, "echo", "[\"after\"]") == REALTIME_STATUS_OK, "emit");
    rt_record r;
    CHECK(rt_log_wait_nth(log, "echo", 1, 5000, &r) && rt_jeq(r.data, "[\"after\"]"), "no echo after the upgrade");
    realtime_free(c);
    rt_ev_free(tick);
    rt_ev_free(echo);
    rt_log_free(log);

    NOTE("upgrade: false stays on polling");
    log = rt_log_new();
    c = client(url, "{\"transports\":[\"polling\",\"websocket\"],\"upgrade\":false}", log);
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 10000, line, sizeof line), "no connection");
    CHECK(rt_json_get_string(line, "id", id, sizeof id), "id");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");
    /* An upgrade takes one round trip after the handshake; give it ample time to (wrongly) happen. */
    rt_sleep_ms(1000);
    server_transport(srv, id, transport, sizeof transport);
    CHECK(strcmp(transport, "polling") == 0, "upgraded anyway: %s", transport);
    CHECK(strcmp(realtime_transport_name(c), "polling") == 0, "transport name %s", realtime_transport_name(c));
    CHECK(rt_server_queued(srv, "upgrade") == 0, "the server saw an upgrade");
    realtime_free(c);
    rt_log_free(log);
    rt_server_free(srv);
}

int main(void) {
    rt_test_begin("test_polling", 120);
    polling_only();
    upgrade();
    rt_test_pass();
    return 0;
}
