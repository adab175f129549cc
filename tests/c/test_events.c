/* test_events: events with JSON arguments, listeners, reserved names, oversized payloads.
 *  - realtime_emit("echo", args): the server receives exactly these args (compared as parsed JSON) and
 *    echoes them; realtime_on gets name + the same args array; realtime_on_any gets it too, BEFORE the
 *    named listener;
 *  - realtime_once runs once; realtime_off stops a listener (UNKNOWN_LISTENER for an unknown id);
 *    realtime_off_any removes the catch-all listeners;
 *  - C -> JS peer and JS peer -> C through the server's "relay" handler: identical JSON both ways;
 *  - the reserved names (connect, connect_error, disconnect, disconnecting, newListener, removeListener)
 *    are refused by every emit function with REALTIME_STATUS_RESERVED_EVENT and a message naming the
 *    event; nothing reaches the server and the connection stays up;
 *  - a server with --max-payload 1000: emitting 2000 bytes fails locally with
 *    REALTIME_STATUS_PAYLOAD_TOO_LARGE and a clear message; the connection stays up and a small emit
 *    still goes through. */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}"

static const char *PAYLOAD =
    "[\"text \\\"quoted\\\" \\u00e9\\u4e2d \\ud83d\\ude00\",{\"n\":1.5,\"neg\":-42,\"big\":12345678901,"
    "\"nested\":[1,2,{\"x\":null,\"t\":true,\"f\":false}],\"empty\":{},\"arr\":[]},0,\"\",[[[]]]]";

static void ack_noop(void *u, const char *e, const char *a, const realtime_buffer *b, size_t n) {
    (void)u, (void)e, (void)a, (void)b, (void)n;
}

int main(void) {
    rt_test_begin("test_events", 90);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    rt_ev *named = rt_ev_new(log, "echo");
    rt_ev *any = rt_ev_new(log, "any");
    rt_ev *once = rt_ev_new(log, "once");
    rt_ev *marker = rt_ev_new(log, "marker");
    rt_ev *greet = rt_ev_new(log, "greet");
    uint64_t l_named = realtime_on(c, "echo", rt_ev_event, named);
    uint64_t l_any = realtime_on_any(c, rt_ev_event, any);
    uint64_t l_once = realtime_once(c, "echo", rt_ev_event, once);
    CHECK(realtime_on(c, "marker", rt_ev_event, marker) > 0, "realtime_on marker: %s", realtime_last_error());
    CHECK(realtime_on(c, "greet", rt_ev_event, greet) > 0, "realtime_on greet: %s", realtime_last_error());
    CHECK(l_named > 0 && l_any > 0 && l_once > 0, "listener ids %llu %llu %llu", (unsigned long long)l_named,
          (unsigned long long)l_any, (unsigned long long)l_once);
    CHECK(realtime_on(c, NULL, rt_ev_event, named) == 0, "realtime_on with a NULL event must return 0");
    CHECK(realtime_on(c, "x", NULL, named) == 0, "realtime_on with a NULL callback must return 0");

    char cid[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, sizeof cid), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");

    /* ---- emit + echo */
    NOTE("realtime_emit(\"echo\", %s)", PAYLOAD);
    CHECK(realtime_emit(c, "echo", PAYLOAD) == REALTIME_STATUS_OK, "emit: %s", realtime_last_error());
    char line[8192], args[4096];
    CHECK(rt_server_wait_event_where(srv, "message", "name", "echo", 5000, line, sizeof line), "server got no echo");
    CHECK(rt_json_get_raw(line, "args", args, sizeof args), "no args in %s", line);
    NOTE("server received args %s", args);
    CHECK(rt_jeq(args, PAYLOAD), "server args %s != sent %s", args, PAYLOAD);

    rt_record rn, ra, ro;
    CHECK(rt_log_wait_nth(log, "echo", 1, 5000, &rn), "named listener got no echo");
    CHECK(rt_log_wait_nth(log, "any", 1, 5000, &ra), "catch-all listener got no echo");
    CHECK(rt_log_wait_nth(log, "once", 1, 5000, &ro), "once listener got no echo");
    NOTE("named listener: %s %s", rn.text, rn.data);
    CHECK(strcmp(rn.text, "echo") == 0 && strcmp(ra.text, "echo") == 0 && strcmp(ro.text, "echo") == 0,
          "event names %s / %s / %s", rn.text, ra.text, ro.text);
    CHECK(rt_jeq(rn.data, PAYLOAD), "named listener args %s != %s", rn.data, PAYLOAD);
    CHECK(rt_jeq(ra.data, PAYLOAD), "catch-all args %s != %s", ra.data, PAYLOAD);
    CHECK(rt_jeq(ro.data, PAYLOAD), "once args %s != %s", ro.data, PAYLOAD);
    CHECK(rn.n == 0, "ack_id %lld for an event without ack", (long long)rn.n);
    CHECK(ra.seq < rn.seq, "catch-all listener (seq %zu) must run before the named one (seq %zu)", ra.seq, rn.seq);

    NOTE("empty argument list: realtime_emit(\"echo\", NULL) -> server args [] and the listener gets []");
    CHECK(realtime_emit(c, "echo", NULL) == REALTIME_STATUS_OK, "emit NULL args: %s", realtime_last_error());
    CHECK(rt_server_wait_event_where(srv, "message", "name", "echo", 5000, line, sizeof line), "server got no echo");
    CHECK(rt_json_get_raw(line, "args", args, sizeof args) && rt_jeq(args, "[]"), "server args %s", line);
    CHECK(rt_log_wait_nth(log, "echo", 2, 5000, &rn), "second echo not received");
    CHECK(rt_jeq(rn.data, "[]"), "args of an event without arguments: %s", rn.data);

    NOTE("realtime_once ran once; marker event to bound the wait");
    CHECK(rt_server_commandf(srv, 5000, "emit %s marker [1]", cid), "emit marker");
    CHECK(rt_log_wait_nth(log, "marker", 1, 5000, NULL), "marker 1 not received");
    CHECK(rt_log_count(log, "once") == 1, "once listener ran %d times", rt_log_count(log, "once"));
    CHECK(realtime_off(c, l_once) == REALTIME_STATUS_UNKNOWN_LISTENER,
          "realtime_off of a spent once listener must be UNKNOWN_LISTENER");

    /* ---- off */
    NOTE("realtime_off(named): a later echo reaches only the catch-all listener");
    CHECK(realtime_off(c, l_named) == REALTIME_STATUS_OK, "off: %s", realtime_last_error());
    CHECK(realtime_off(c, l_named) == REALTIME_STATUS_UNKNOWN_LISTENER, "second off must be UNKNOWN_LISTENER");
    CHECK(strlen(realtime_last_error()) > 0, "no message for UNKNOWN_LISTENER");
    CHECK(realtime_off(c, 987654321) == REALTIME_STATUS_UNKNOWN_LISTENER, "off of an unknown id");
    CHECK(realtime_emit(c, "echo", "[\"after-off\"]") == REALTIME_STATUS_OK, "emit: %s", realtime_last_error());
    CHECK(rt_log_wait_nth(log, "any", 4, 5000, &ra), "catch-all missed the echo after off");
    CHECK(rt_jeq(ra.data, "[\"after-off\"]"), "catch-all got %s", ra.data);
    CHECK(rt_server_commandf(srv, 5000, "emit %s marker [2]", cid), "emit marker");
    CHECK(rt_log_wait_nth(log, "marker", 2, 5000, NULL), "marker 2 not received");
    CHECK(rt_log_count(log, "echo") == 2, "removed listener still ran (%d echo records)", rt_log_count(log, "echo"));

    /* ---- off_any */
    NOTE("realtime_off_any: catch-all listeners no longer run");
    int any_before = rt_log_count(log, "any");
    CHECK(realtime_off_any(c) == REALTIME_STATUS_OK, "off_any: %s", realtime_last_error());
    CHECK(rt_server_commandf(srv, 5000, "emit %s marker [3]", cid), "emit marker");
    CHECK(rt_log_wait_nth(log, "marker", 3, 5000, NULL), "marker 3 not received");
    CHECK(rt_log_count(log, "any") == any_before, "catch-all ran after off_any");

    /* ---- JS peer both ways */
    NOTE("JS peer (socket.io-client 4.8) <-> C client through the server's relay handler");
    rt_peer *peer = rt_peer_start(rt_server_port(srv), "/", NULL);
    char relay[8192];
    snprintf(relay, sizeof relay, "[\"%s\",\"greet\",%s]", peer->id,
             "{\"from\":\"c\",\"v\":[1,2.25,-3e-7,\"\\u00fc\",null,{\"deep\":{\"er\":[true]}}]}");
    CHECK(realtime_emit(c, "relay", relay) == REALTIME_STATUS_OK, "emit relay: %s", realtime_last_error());
    char pl[8192];
    CHECK(rt_server_wait_event_where(peer->proc, "recv", "name", "greet", 5000, pl, sizeof pl), "JS peer got no greet");
    CHECK(rt_json_get_raw(pl, "args", args, sizeof args), "peer line %s", pl);
    NOTE("C -> JS: peer received %s", args);
    CHECK(rt_jeq(args, "[{\"from\":\"c\",\"v\":[1,2.25,-3e-7,\"\\u00fc\",null,{\"deep\":{\"er\":[true]}}]}]"),
          "JS peer received %s", args);

    const char *from_js = "[{\"from\":\"js\",\"list\":[0.1,\"two\",{\"three\":3}],\"s\":\"tab\\there\"},42]";
    CHECK(rt_peer_cmd(peer, "emit relay [\"%s\",\"greet\",%s,42]", cid,
                      "{\"from\":\"js\",\"list\":[0.1,\"two\",{\"three\":3}],\"s\":\"tab\\there\"}"),
          "peer emit relay");
    rt_record rg;
    CHECK(rt_log_wait_nth(log, "greet", 1, 5000, &rg), "C client got no greet from the JS peer");
    NOTE("JS -> C: C received %s", rg.data);
    CHECK(rt_jeq(rg.data, from_js), "C received %s, JS sent %s", rg.data, from_js);

    /* ---- reserved names */
    /* The two relay lines (C's and the peer's): awaited, since the server's log may still be on its way
     * when the relayed event has already reached C (over polling, often), then nothing else is queued. */
    for (int i = 0; i < 2; i++)
        CHECK(rt_server_wait_event_where(srv, "message", "name", "relay", 5000, NULL, 0), "relay line %d", i + 1);
    rt_server_drain(srv, "message");
    static const char *reserved[] = {"connect", "connect_error", "disconnect", "disconnecting", "newListener",
                                     "removeListener"};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
        const char *n = reserved[i];
        realtime_status st = realtime_emit(c, n, "[1]");
        CHECK(st == REALTIME_STATUS_RESERVED_EVENT, "emit(%s) returned %d, want RESERVED_EVENT", n, (int)st);
        const char *err = realtime_last_error();
        NOTE("emit(\"%s\") -> RESERVED_EVENT: \"%s\"", n, err);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\"", n);
        CHECK(strstr(err, quoted) != NULL, "last_error '%s' does not name the event '%s'", err, n);
        CHECK(strstr(err, "reserved") != NULL, "last_error '%s' does not say 'reserved'", err);
        CHECK(realtime_emit_volatile(c, n, NULL) == REALTIME_STATUS_RESERVED_EVENT, "emit_volatile(%s)", n);
        CHECK(realtime_emit_with_ack(c, n, NULL, 1000, ack_noop, NULL) == REALTIME_STATUS_RESERVED_EVENT,
              "emit_with_ack(%s)", n);
        uint8_t b = 1;
        realtime_buffer buf = {&b, 1};
        CHECK(realtime_emit_binary(c, n, "[{\"_placeholder\":true,\"num\":0}]", &buf, 1, 0, NULL, NULL) ==
                  REALTIME_STATUS_RESERVED_EVENT,
              "emit_binary(%s)", n);
    }
    NOTE("nothing reached the server, the connection is still up");
    CHECK(realtime_emit(c, "echo", "[\"still-up\"]") == REALTIME_STATUS_OK, "emit after reserved: %s",
          realtime_last_error());
    CHECK(rt_server_wait_event(srv, "message", 5000, line, sizeof line), "no message");
    CHECK(strstr(line, "still-up") != NULL, "the server received something else first: %s", line);
    CHECK(rt_log_count(log, "disconnect") == 0, "disconnected");

    NOTE("bad JSON args -> INVALID_ARGUMENT");
    CHECK(realtime_emit(c, "echo", "[1,") == REALTIME_STATUS_INVALID_ARGUMENT, "bad JSON accepted");
    CHECK(realtime_emit(c, "echo", "{\"not\":\"array\"}") == REALTIME_STATUS_INVALID_ARGUMENT,
          "a non-array args_json was accepted");

    /* ---- oversized payload */
    NOTE("server with --max-payload 1000; emit 2000 bytes -> PAYLOAD_TOO_LARGE, connection stays up");
    rt_server *small = rt_server_start("--max-payload 1000");
    char url2[128];
    snprintf(url2, sizeof url2, "http://127.0.0.1:%d", rt_server_port(small));
    realtime_client *c2 = realtime_new(url2, OPTS);
    CHECK(c2 != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log2 = rt_log_new();
    rt_log_attach(log2, c2);
    char cid2[128];
    CHECK(rt_server_wait_connection(small, "/", 5000, cid2, sizeof cid2), "no connection to the small server");
    CHECK(rt_log_wait(log2, "connect", 5000, NULL), "no on_connect (small server)");
    char *big = malloc(2100);
    memcpy(big, "[\"", 2);
    memset(big + 2, 'x', 2000);
    memcpy(big + 2002, "\"]", 3);
    realtime_status st = realtime_emit(c2, "echo", big);
    NOTE("emit of 2000 bytes: status %d, \"%s\"", (int)st, realtime_last_error());
    CHECK(st == REALTIME_STATUS_PAYLOAD_TOO_LARGE, "emit of 2000 bytes returned %d, want PAYLOAD_TOO_LARGE", (int)st);
    CHECK(strlen(realtime_last_error()) > 0, "no message for PAYLOAD_TOO_LARGE");
    CHECK(strstr(realtime_last_error(), "1000") != NULL, "message '%s' does not say the limit (1000)",
          realtime_last_error());
    uint8_t *bb = calloc(1, 2000);
    realtime_buffer bigbuf = {bb, 2000};
    st = realtime_emit_binary(c2, "echo", "[{\"_placeholder\":true,\"num\":0}]", &bigbuf, 1, 0, NULL, NULL);
    CHECK(st == REALTIME_STATUS_PAYLOAD_TOO_LARGE, "binary emit of a 2000-byte buffer returned %d", (int)st);
    free(bb);
    free(big);
    CHECK(realtime_emit(c2, "echo", "[\"small\"]") == REALTIME_STATUS_OK, "small emit: %s", realtime_last_error());
    CHECK(rt_server_wait_event_where(small, "message", "name", "echo", 5000, line, sizeof line), "small emit lost");
    CHECK(strstr(line, "small") != NULL, "server got %s", line);
    rt_sleep_ms(300); /* proving that no disconnect follows */
    CHECK(rt_log_count(log2, "disconnect") == 0, "the connection dropped after the refused emit");
    CHECK(rt_server_queued(small, "disconnect") == 0, "the server saw a disconnect");
    CHECK(realtime_is_connected(c2), "not connected");

    CHECK(!rt_log_overlap(log), "two callbacks of one client ran at the same time");
    realtime_free(c2);
    realtime_free(c);
    rt_peer_free(peer);
    rt_ev_free(named);
    rt_ev_free(any);
    rt_ev_free(once);
    rt_ev_free(marker);
    rt_ev_free(greet);
    rt_log_free(log);
    rt_log_free(log2);
    rt_server_free(small);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
