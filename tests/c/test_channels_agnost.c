/* test_channels_agnost: Agnost channels against two nodes of the Agnost realtime service
 * (tests/server/agnost.js: the real service's middlewares, rooms and handlers, @socket.io/redis-adapter on
 * a real redis-server), the C client on node A and a JS peer in the shape of Agnost's client
 * (socket.io-client, autoJoinChannels, echoMessages true) on node B.
 *  - refusals: each middleware error reaches on_error with the real message and data, and is not retried;
 *  - profile before join: update_profile + join right after realtime_new -> ONE channel:join on the peer
 *    carrying the profile (no channel:update); the wire order on node A is update, then join;
 *  - messages whole: the peer's {"id":..,"data":..,"text":..} reaches realtime_on_message byte for byte
 *    with a NULL member id, channel NULL for a broadcast; the API server's send/broadcast too;
 *  - binary: buffers both ways (realtime_on_message_binary, realtime_send_binary);
 *  - echo: echoMessages unset = no echo; the per-call echo of send/broadcast/join/leave/update (_ex);
 *  - user events (user:*) reach realtime_on_user_event with session and user, and not on_message;
 *    realtime_off_any leaves that listener in place;
 *  - members over HTTP from the API server (both nodes' sockets via fetchSockets), headers checked; an
 *    HTTP error reaches the callback with its status and body; the socket variant without apiBaseUrl;
 *  - channel:leave when the peer disconnects; node A killed and restarted: C re-sends profile then joins,
 *    the peer sees C join again with its profile, messages flow both ways; node B killed and restarted:
 *    the peer re-joins and C sees it. */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define AUTH_ANN "{\"envId\":\"env1\",\"apiKey\":\"key1\",\"session\":\"sess-ann\"}"
#define AUTH_BOB "{\"envId\":\"env1\",\"apiKey\":\"key1\",\"session\":\"sess-bob\",\"echoMessages\":true}"

/* next "message" line on node `srv` from socket `id` named `name`; its args into out */
static int wait_msg(rt_server *srv, const char *id, const char *name, int timeout_ms, char *out, size_t len) {
    int64_t end = rt_now_ms() + timeout_ms;
    char line[8192], from[128];
    for (;;) {
        int left = (int)(end - rt_now_ms());
        if (!rt_server_wait_event_where(srv, "message", "name", name, left > 0 ? left : 0, line, sizeof line)) return 0;
        if (rt_json_get_string(line, "id", from, sizeof from) && strcmp(from, id) == 0) {
            if (out) rt_json_get_raw(line, "args", out, len);
            return 1;
        }
    }
}

/* the next message line from `id` on node `srv` whatever its name: its name */
static int next_msg_name(rt_server *srv, const char *id, int timeout_ms, char *name, size_t len) {
    int64_t end = rt_now_ms() + timeout_ms;
    char line[8192], from[128];
    for (;;) {
        int left = (int)(end - rt_now_ms());
        if (!rt_server_wait_event(srv, "message", left > 0 ? left : 0, line, sizeof line)) return 0;
        if (rt_json_get_string(line, "id", from, sizeof from) && strcmp(from, id) == 0) {
            return rt_json_get_string(line, "name", name, len);
        }
    }
}

static void peer_recv(rt_peer *p, const char *name, char *out, size_t len) {
    char line[8192];
    CHECK(rt_server_wait_event_where(p->proc, "recv", "name", name, 5000, line, sizeof line), "peer got no %s", name);
    CHECK(rt_json_get_raw(line, "args", out, len), "peer line %s", line);
}

/* ---- raw recorders: message callbacks keep the exact text they got */
typedef struct raw_ev {
    rt_log *log;
    const char *kind;
} raw_ev;

/* realtime_channel_fn for messages: text = channel or "(null)", data = message_json as given,
 * n = 1 when member_id was NULL */
static void raw_message(void *ud, const char *channel, const char *member_id, const char *data_json) {
    raw_ev *ev = ud;
    rt_log_add(ev->log, ev->kind, channel ? channel : "(null)", data_json, member_id == NULL);
}

/* realtime_channel_message_fn: kind: text = event "|" channel, data = message_json, n = buffer_count;
 * and a "<kind>-buf" record per buffer with text = hex */
static void raw_message_binary(void *ud, const char *event, const char *channel, const char *message_json,
                               const realtime_buffer *buffers, size_t buffer_count) {
    raw_ev *ev = ud;
    char head[512], kind[40];
    snprintf(head, sizeof head, "%s|%s", event, channel ? channel : "(null)");
    snprintf(kind, sizeof kind, "%s-buf", ev->kind);
    for (size_t i = 0; i < buffer_count; i++) {
        char hex[512];
        size_t n = buffers[i].len < 200 ? buffers[i].len : 200;
        rt_hex(buffers[i].data, n, hex);
        rt_log_add(ev->log, kind, hex, NULL, (int64_t)buffers[i].len);
    }
    rt_log_add(ev->log, ev->kind, head, message_json, (int64_t)buffer_count);
}

/* realtime_user_event_fn: text = event, data = {"session":..,"user":..} */
static void user_event(void *ud, const char *event, const char *session_json, const char *user_json) {
    raw_ev *ev = ud;
    char data[1024];
    snprintf(data, sizeof data, "{\"session\":%s,\"user\":%s}", session_json, user_json);
    rt_log_add(ev->log, ev->kind, event, data, 0);
}

static void check_refusal(const char *url, const char *auth, const char *code, const char *message) {
    char opts[1024];
    snprintf(opts, sizeof opts,
             "{\"path\":\"/realtime/\",\"auth\":%s,\"reconnectionDelay\":50,\"reconnectionDelayMax\":50}", auth);
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    rt_record r;
    CHECK(rt_log_wait(log, "error", 5000, &r), "%s: no on_error", code);
    CHECK(strcmp(r.text, message) == 0, "%s: message %s, want %s", code, r.text, message);
    char got[256];
    CHECK(rt_json_get_string(r.data, "code", got, sizeof got) && strcmp(got, code) == 0, "%s: data %s", code, r.data);
    CHECK(rt_json_get_string(r.data, "origin", got, sizeof got) && strcmp(got, "client_error") == 0, "data %s", r.data);
    CHECK(rt_json_get_string(r.data, "message", got, sizeof got) && got[0], "%s: no message in data %s", code, r.data);
    NOTE("refused %s: %s / %s", code, r.text, r.data);
    CHECK(!rt_log_wait(log, "error", 300, NULL), "%s: the refusal was retried", code);
    CHECK(rt_log_count(log, "connect") == 0, "%s: connected", code);
    realtime_free(c);
    rt_log_free(log);
}

int main(void) {
    rt_test_begin("test_channels_agnost", 150);
    rt_server *redis = rt_server_start("--redis");
    char args[256];
    snprintf(args, sizeof args, "--agnost --redis-port %d", rt_server_port(redis));
    rt_server *na = rt_server_start(args), *nb = rt_server_start(args);
    int pa = rt_server_port(na), pb = rt_server_port(nb);
    NOTE("redis on %d, node A on %d, node B on %d", rt_server_port(redis), pa, pb);
    char url[128], opts[1024], buf[8192], want[8192], line[8192];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", pa);
    rt_record r;

    /* ---- refusals */
    check_refusal(url, "{\"envId\":\"nope\"}", "no_environment_found", "Realtime Connection Error - No Environment Found");
    check_refusal(url, "{\"envId\":\"env1\"}", "missing_api_key", "Realtime Connection Error - Missing API Key");
    check_refusal(url, "{\"envId\":\"env1\",\"apiKey\":\"bad\"}", "invalid_api_key", "Realtime Connection Error - Invalid API Key");
    check_refusal(url, "{\"envId\":\"envs\",\"apiKey\":\"key2\"}", "missing_session_token",
                  "Realtime Connection Error - Missing Session Token");
    check_refusal(url, "{\"envId\":\"envs\",\"apiKey\":\"key2\",\"session\":\"sess-ann\"}", "invalid_session_token",
                  "Realtime Connection Error - Invalid Session Token");
    check_refusal(url, "{\"envId\":\"suspended\"}", "suspended_environment", "Realtime Connection Error - Suspended Environment");
    check_refusal(url, "{\"envId\":\"disabled\"}", "realtime_not_allowed", "Realtime Connection Error - Realtime Disabled");
    rt_server_drain(na, NULL);

    /* ---- the peer on node B, in room */
    rt_peer *peer = rt_agnost_peer_start(pb, AUTH_BOB);
    NOTE("JS peer %s on node B joins room", peer->id);
    CHECK(rt_peer_cmd(peer, "update {\"name\":\"bob\"}"), "peer update");
    CHECK(rt_peer_cmd(peer, "join room"), "peer join");
    CHECK(wait_msg(nb, peer->id, "join", 5000, NULL, 0), "node B: no join from the peer");
    peer_recv(peer, "channel:join", buf, sizeof buf); /* its own (echoMessages true) */

    /* ---- profile before join, right after realtime_new */
    NOTE("C on node A: realtime_new, update_profile, join at once -> one channel:join with the profile");
    snprintf(opts, sizeof opts,
             "{\"path\":\"/realtime/\",\"auth\":%s,\"apiBaseUrl\":\"http://127.0.0.1:%d/env1\",\"reconnectionDelay\":100,"
             "\"reconnectionDelayMax\":200,\"randomizationFactor\":0}",
             AUTH_ANN, pa);
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    CHECK(realtime_update_profile(c, "{\"name\":\"cee\"}") == REALTIME_STATUS_OK, "update: %s", realtime_last_error());
    CHECK(realtime_join(c, "room") == REALTIME_STATUS_OK, "join: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    raw_ev ec = {log, "chat"}, en = {log, "news"};
    raw_ev ef = {log, "file"}, eus = {log, "user"}, esw = {log, "swallowed"};
    rt_ev *vj = rt_ev_new(log, "join"), *vl = rt_ev_new(log, "leave"), *vu = rt_ev_new(log, "update");
    rt_ev *vm = rt_ev_new(log, "members");
    CHECK(realtime_on_channel_join(c, rt_ev_channel, vj) > 0, "on_channel_join");
    CHECK(realtime_on_channel_leave(c, rt_ev_channel, vl) > 0, "on_channel_leave");
    CHECK(realtime_on_channel_update(c, rt_ev_channel, vu) > 0, "on_channel_update");
    CHECK(realtime_on_message(c, "chat", raw_message, &ec) > 0, "on_message chat");
    CHECK(realtime_on_message(c, "news", raw_message, &en) > 0, "on_message news");
    CHECK(realtime_on_message_binary(c, "file", raw_message_binary, &ef) > 0, "on_message_binary");
    CHECK(realtime_on_message_binary(c, NULL, raw_message_binary, &ef) == 0, "on_message_binary(NULL name)");
    CHECK(realtime_on_user_event(c, user_event, &eus) > 0, "on_user_event");
    CHECK(realtime_on_user_event(c, NULL, &eus) == 0, "on_user_event(NULL cb)");
    CHECK(realtime_on_message(c, "user:update", raw_message, &esw) > 0, "on_message user:update");
    CHECK(rt_log_wait(log, "connect", 5000, &r), "C did not connect");
    char cid[512];
    snprintf(cid, sizeof cid, "%s", r.text);
    char name[128];
    CHECK(next_msg_name(na, cid, 5000, name, sizeof name), "node A: nothing from C");
    CHECK(strcmp(name, "update") == 0, "C's first event is %s, want update (the profile goes before the joins)", name);
    CHECK(next_msg_name(na, cid, 5000, name, sizeof name) && strcmp(name, "join") == 0, "then %s, want join", name);
    peer_recv(peer, "channel:join", buf, sizeof buf);
    snprintf(want, sizeof want, "[{\"channel\":\"room\",\"message\":{\"id\":\"%s\",\"data\":{\"name\":\"cee\"}}}]", cid);
    CHECK(rt_jeq(buf, want), "peer got channel:join %s, want %s", buf, want);

    /* ---- messages whole */
    NOTE("the peer sends {id, data, text} to room: C gets it byte for byte, no member id");
    const char *spoof = "{\"id\":\"m-17\",\"data\":{\"k\":[1,2]},\"text\":\"hi\"}";
    CHECK(rt_peer_cmd(peer, "send room chat %s", spoof), "peer send");
    CHECK(rt_log_wait_nth(log, "chat", 1, 5000, &r), "C got no chat");
    CHECK(strcmp(r.text, "room") == 0 && r.n == 1, "chat channel %s, member NULL %d", r.text, (int)r.n);
    CHECK(strcmp(r.data, spoof) == 0, "chat message %s, want exactly %s", r.data, spoof);
    CHECK(rt_server_wait_event_where(peer->proc, "recv", "name", "channel:update", 0, line, sizeof line) == 0,
          "the peer got a channel:update: %s", line);
    CHECK(rt_peer_cmd(peer, "send - news [\"b\",{\"x\":null}]"), "peer broadcast");
    CHECK(rt_log_wait_nth(log, "news", 1, 5000, &r), "C got no news");
    CHECK(strcmp(r.text, "(null)") == 0 && strcmp(r.data, "[\"b\",{\"x\":null}]") == 0, "news %s %s", r.text, r.data);
    NOTE("the API server's send_message / broadcast_message (from node B) reach C");
    CHECK(rt_server_command(nb, "send-message env1 room chat {\"from\":\"api\"}", 5000), "send-message");
    CHECK(rt_log_wait_nth(log, "chat", 2, 5000, &r), "C got no API chat");
    CHECK(strcmp(r.text, "room") == 0 && strcmp(r.data, "{\"from\":\"api\"}") == 0, "api chat %s %s", r.text, r.data);
    CHECK(rt_server_command(nb, "broadcast-message env1 news 42", 5000), "broadcast-message");
    CHECK(rt_log_wait_nth(log, "news", 2, 5000, &r), "C got no API news");
    CHECK(strcmp(r.text, "(null)") == 0 && strcmp(r.data, "42") == 0, "api news %s %s", r.text, r.data);
    NOTE("C sends to room and broadcasts: the peer gets {channel, message} with the message as given");
    /* The peer gets the API server's two messages too: awaited (its log may lag C's), then its own echoes
     * and those are dropped. */
    CHECK(rt_peer_recv_about(peer, "chat", "\"api\"", 5000, NULL, 0), "the peer got no API chat");
    CHECK(rt_peer_recv_about(peer, "news", "42", 5000, NULL, 0), "the peer got no API news");
    rt_server_drain(peer->proc, "recv");
    CHECK(realtime_send(c, "room", "chat", "{\"t\":\"h\\u00e9\",\"n\":[1,2.5]}") == REALTIME_STATUS_OK, "send");
    peer_recv(peer, "chat", buf, sizeof buf);
    CHECK(rt_jeq(buf, "[{\"channel\":\"room\",\"message\":{\"t\":\"h\\u00e9\",\"n\":[1,2.5]}}]"), "peer got %s", buf);
    CHECK(realtime_broadcast(c, "news", "[true]") == REALTIME_STATUS_OK, "broadcast");
    peer_recv(peer, "news", buf, sizeof buf);
    CHECK(rt_jeq(buf, "[{\"channel\":null,\"message\":[true]}]"), "peer got %s", buf);
    CHECK(wait_msg(na, cid, "message", 5000, buf, sizeof buf), "node A: no message");
    CHECK(rt_jeq(buf, "[{\"channel\":\"room\",\"eventName\":\"chat\",\"message\":{\"t\":\"h\\u00e9\",\"n\":[1,2.5]}}]"),
          "wire %s", buf);
    CHECK(wait_msg(na, cid, "message", 5000, buf, sizeof buf), "node A: no broadcast");
    CHECK(rt_jeq(buf, "[{\"eventName\":\"news\",\"message\":[true]}]"), "wire %s", buf);

    /* ---- echo: echoMessages unset -> the server does not echo; per call */
    NOTE("echo: C's own messages come back only with echo on");
    CHECK(rt_log_count(log, "chat") == 2 && rt_log_count(log, "news") == 2, "C got its own messages without echo");
    CHECK(realtime_send_ex(c, "room", "chat", "{\"self\":1}", REALTIME_ECHO_ON) == REALTIME_STATUS_OK, "send_ex");
    CHECK(rt_log_wait_nth(log, "chat", 3, 5000, &r), "no echo of send_ex ON");
    CHECK(strcmp(r.data, "{\"self\":1}") == 0, "echo %s", r.data);
    CHECK(wait_msg(na, cid, "message", 5000, buf, sizeof buf), "node A: no message");
    CHECK(rt_jeq(buf, "[{\"channel\":\"room\",\"eventName\":\"chat\",\"message\":{\"self\":1},\"echo\":true}]"), "wire %s", buf);
    CHECK(realtime_broadcast_ex(c, "news", "{\"self\":2}", REALTIME_ECHO_ON) == REALTIME_STATUS_OK, "broadcast_ex");
    CHECK(rt_log_wait_nth(log, "news", 3, 5000, &r) && strcmp(r.data, "{\"self\":2}") == 0, "no echo of broadcast_ex");
    CHECK(realtime_send_ex(c, "room", "chat", "{}", (realtime_echo)7) == REALTIME_STATUS_INVALID_ARGUMENT, "echo 7 accepted");
    CHECK(realtime_join_ex(c, "side", REALTIME_ECHO_ON) == REALTIME_STATUS_OK, "join_ex");
    /* The peer's own join of "room" may reach node A through Redis after C joined (a loaded machine):
     * that notification is the server's to send; the echo asked for here is the first join from C. */
    int own = 0;
    for (int nth = 1; !own && rt_log_wait_nth(log, "join", nth, 5000, &r); nth++)
        own = strcmp(r.text, cid) == 0;
    CHECK(own, "no own channel:join with echo");
    snprintf(want, sizeof want, "{\"channel\":\"side\",\"data\":{\"name\":\"cee\"}}");
    CHECK(rt_jeq(r.data, want), "own join %s %s", r.text, r.data);
    CHECK(realtime_update_profile_ex(c, "{\"name\":\"cee2\"}", REALTIME_ECHO_ON) == REALTIME_STATUS_OK, "update_ex");
    /* channel:update for room and side, both echoed */
    CHECK(rt_log_wait_nth(log, "update", 2, 5000, &r), "no own channel:update with echo");
    CHECK(strcmp(r.text, cid) == 0, "update from %s", r.text);
    peer_recv(peer, "channel:update", buf, sizeof buf);
    snprintf(want, sizeof want, "[{\"channel\":\"room\",\"message\":{\"id\":\"%s\",\"data\":{\"name\":\"cee2\"}}}]", cid);
    CHECK(rt_jeq(buf, want), "peer got %s", buf);
    CHECK(realtime_leave_ex(c, "side", REALTIME_ECHO_ON) == REALTIME_STATUS_OK, "leave_ex");
    CHECK(rt_log_wait_nth(log, "leave", 1, 5000, &r) && strstr(r.data, "side"), "no own channel:leave with echo");
    CHECK(realtime_join_ex(c, "quiet", REALTIME_ECHO_OFF) == REALTIME_STATUS_OK, "join_ex off");
    CHECK(wait_msg(na, cid, "join", 5000, buf, sizeof buf) && rt_jeq(buf, "[{\"channel\":\"side\",\"echo\":true}]"),
          "wire %s", buf);
    CHECK(wait_msg(na, cid, "join", 5000, buf, sizeof buf) && rt_jeq(buf, "[{\"channel\":\"quiet\",\"echo\":false}]"),
          "wire %s", buf);
    NOTE("a client with echoMessages true: send_ex OFF is not echoed, plain send is");
    {
        char eopts[1024];
        snprintf(eopts, sizeof eopts,
                 "{\"path\":\"/realtime/\",\"auth\":{\"envId\":\"env1\",\"apiKey\":\"key1\",\"echoMessages\":true}}");
        realtime_client *e = realtime_new(url, eopts);
        CHECK(e != NULL, "realtime_new: %s", realtime_last_error());
        rt_log *le = rt_log_new();
        rt_log_attach(le, e);
        raw_ev ee = {le, "chat"};
        CHECK(realtime_on_message(e, "chat", raw_message, &ee) > 0, "on_message");
        CHECK(rt_log_wait(le, "connect", 5000, NULL), "no connect");
        CHECK(realtime_join(e, "room") == REALTIME_STATUS_OK, "join");
        CHECK(realtime_send_ex(e, "room", "chat", "{\"off\":1}", REALTIME_ECHO_OFF) == REALTIME_STATUS_OK, "send off");
        CHECK(realtime_send(e, "room", "chat", "{\"on\":1}") == REALTIME_STATUS_OK, "send");
        CHECK(rt_log_wait_nth(le, "chat", 1, 5000, &r), "no echo with echoMessages true");
        CHECK(strcmp(r.data, "{\"on\":1}") == 0, "echoed %s (echo false was not honoured)", r.data);
        CHECK(rt_log_wait_nth(log, "chat", 5, 5000, &r) && strcmp(r.data, "{\"on\":1}") == 0, "C: %s", r.data);
        realtime_free(e);
        rt_log_free(le);
    }
    peer_recv(peer, "channel:join", buf, sizeof buf); /* the echo client's join */

    /* ---- binary */
    NOTE("binary: the peer's message with a Buffer -> realtime_on_message_binary; realtime_send_binary -> the peer");
    CHECK(rt_peer_cmd(peer, "emit message [{\"channel\":\"room\",\"eventName\":\"file\",\"message\":{\"name\":\"a.bin\","
                            "\"bytes\":{\"$bin\":\"00ff10\"}}}]"),
          "peer emit");
    CHECK(rt_log_wait_nth(log, "file", 1, 5000, &r), "C got no file");
    CHECK(strcmp(r.text, "file|room") == 0 && r.n == 1, "file %s, %d buffers", r.text, (int)r.n);
    CHECK(rt_jeq(r.data, "{\"name\":\"a.bin\",\"bytes\":{\"_placeholder\":true,\"num\":0}}"), "file %s", r.data);
    CHECK(rt_log_wait_nth(log, "file-buf", 1, 0, &r) && strcmp(r.text, "00ff10") == 0, "buffer %s", r.text);
    peer_recv(peer, "file", buf, sizeof buf); /* the peer's own (echoMessages true) */
    const uint8_t bytes[4] = {1, 2, 0, 255};
    realtime_buffer b = {bytes, sizeof bytes};
    CHECK(realtime_send_binary(c, "room", "file", "{\"bytes\":{\"_placeholder\":true,\"num\":0}}", &b, 1,
                               REALTIME_ECHO_DEFAULT) == REALTIME_STATUS_OK,
          "send_binary: %s", realtime_last_error());
    peer_recv(peer, "file", buf, sizeof buf);
    CHECK(rt_jeq(buf, "[{\"channel\":\"room\",\"message\":{\"bytes\":{\"$bin\":\"010200ff\"}}}]"), "peer got %s", buf);
    CHECK(realtime_send_binary(c, "room", "file", "{\"b\":{\"_placeholder\":true,\"num\":1}}", &b, 1, 0) ==
              REALTIME_STATUS_INVALID_ARGUMENT,
          "a placeholder without its buffer was accepted");

    /* ---- user events */
    NOTE("user events to ann's room from node B -> realtime_on_user_event; not to realtime_on_message");
    CHECK(rt_server_command(nb, "user-event env1 ann user:update {\"token\":\"t1\"} {\"_id\":\"ann\",\"name\":\"Ann\"}", 5000),
          "user-event");
    CHECK(rt_log_wait_nth(log, "user", 1, 5000, &r), "no user event");
    CHECK(strcmp(r.text, "user:update") == 0, "user event %s", r.text);
    CHECK(rt_jeq(r.data, "{\"session\":{\"token\":\"t1\"},\"user\":{\"_id\":\"ann\",\"name\":\"Ann\"}}"), "user event %s", r.data);
    CHECK(rt_server_command(na, "user-event env1 ann user:signout null {\"_id\":\"ann\"}", 5000), "user-event");
    CHECK(rt_log_wait_nth(log, "user", 2, 5000, &r) && strcmp(r.text, "user:signout") == 0, "user event %s", r.text);
    CHECK(rt_jeq(r.data, "{\"session\":null,\"user\":{\"_id\":\"ann\"}}"), "user event %s", r.data);
    CHECK(rt_server_command(na, "user-event env1 bob user:delete {} {}", 5000), "user-event bob");
    CHECK(rt_server_wait_event_where(peer->proc, "recv", "name", "user:delete", 5000, line, sizeof line), "bob got none");
    CHECK(rt_log_count(log, "user") == 2, "ann got bob's user event");
    CHECK(rt_log_count(log, "swallowed") == 0, "realtime_on_message took a user event");
    NOTE("realtime_off_any removes catch-all listeners only: the user-event listener stays");
    CHECK(realtime_off_any(c) == REALTIME_STATUS_OK, "off_any");
    CHECK(rt_server_command(na, "user-event env1 ann user:pwdchange {\"token\":\"t2\"} {\"_id\":\"ann\"}", 5000),
          "user-event");
    CHECK(rt_log_wait_nth(log, "user", 3, 5000, &r) && strcmp(r.text, "user:pwdchange") == 0,
          "after realtime_off_any the user-event listener is gone (user events: %d)", rt_log_count(log, "user"));

    /* ---- members over HTTP */
    NOTE("realtime_get_members over HTTP: C (node A) and the peer (node B) with their profiles");
    CHECK(realtime_get_members(c, "room", rt_ev_members, vm) == REALTIME_STATUS_OK, "get_members: %s", realtime_last_error());
    CHECK(rt_log_wait_nth(log, "members", 1, 5000, &r), "no members answer");
    CHECK(r.text[0] == '\0', "members error %s", r.text);
    NOTE("members %s", r.data);
    char m0[1024], m1[1024], wc[1024], wp[1024];
    snprintf(wc, sizeof wc, "{\"id\":\"%s\",\"data\":{\"name\":\"cee2\"}}", cid);
    snprintf(wp, sizeof wp, "{\"id\":\"%s\",\"data\":{\"name\":\"bob\"}}", peer->id);
    CHECK(rt_jarr_len(r.data) == 2 && rt_jarr_item(r.data, 0, m0, sizeof m0) && rt_jarr_item(r.data, 1, m1, sizeof m1),
          "members %s: want 2", r.data);
    CHECK((rt_jeq(m0, wc) && rt_jeq(m1, wp)) || (rt_jeq(m0, wp) && rt_jeq(m1, wc)), "members %s", r.data);
    CHECK(rt_server_wait_event(na, "http", 5000, line, sizeof line), "node A: no HTTP request");
    char got[256];
    CHECK(rt_json_get_string(line, "path", got, sizeof got) && strcmp(got, "/env1/agnost/realtime/get-members") == 0, "%s", line);
    CHECK(rt_json_get_string(line, "method", got, sizeof got) && strcmp(got, "POST") == 0, "%s", line);
    CHECK(rt_json_get_string(line, "authorization", got, sizeof got) && strcmp(got, "key1") == 0, "%s", line);
    CHECK(rt_json_get_string(line, "session", got, sizeof got) && strcmp(got, "sess-ann") == 0, "%s", line);
    CHECK(rt_json_get_string(line, "body", got, sizeof got) && rt_jeq(got, "{\"channel\":\"room\"}"), "%s", line);
    CHECK(realtime_get_members(c, "room", NULL, NULL) == REALTIME_STATUS_INVALID_ARGUMENT, "NULL cb accepted");
    NOTE("an HTTP error (wrong apiKey) reaches the callback with the status and the {errors} body");
    {
        char bopts[512];
        snprintf(bopts, sizeof bopts,
                 "{\"autoConnect\":false,\"path\":\"/realtime/\",\"apiBaseUrl\":\"http://127.0.0.1:%d/env1/\",\"apiKey\":\"wrong\"}",
                 pb);
        realtime_client *h = realtime_new(url, bopts);
        CHECK(h != NULL, "realtime_new: %s", realtime_last_error());
        CHECK(realtime_get_members(h, "room", rt_ev_members, vm) == REALTIME_STATUS_OK, "get_members");
        CHECK(rt_log_wait_nth(log, "members", 2, 5000, &r), "no members error");
        NOTE("error: %s", r.text);
        CHECK(strstr(r.text, "HTTP 401") && strstr(r.text, "invalid_api_key") && strstr(r.text, "errors"), "error %s", r.text);
        CHECK(r.data[0] == '\0', "members_json with an error: %s", r.data);
        realtime_free(h);
        CHECK(realtime_new(url, "{\"apiBaseUrl\":\"ftp://x\"}") == NULL, "an ftp apiBaseUrl was accepted");
    }
    NOTE("without apiBaseUrl: the members socket event");
    {
        realtime_client *s = realtime_new(url, "{\"path\":\"/realtime/\",\"auth\":{\"envId\":\"env1\",\"apiKey\":\"key1\"}}");
        CHECK(s != NULL, "realtime_new: %s", realtime_last_error());
        CHECK(realtime_get_members(s, "room", rt_ev_members, vm) == REALTIME_STATUS_OK, "get_members");
        CHECK(rt_log_wait_nth(log, "members", 3, 5000, &r), "no members answer");
        CHECK(r.text[0] == '\0' && rt_jarr_len(r.data) == 2, "socket members %s %s", r.text, r.data);
        realtime_free(s);
    }

    /* ---- channel:leave on disconnect; the peer comes back */
    NOTE("the peer closes -> C gets channel:leave; it opens again -> its client re-sends profile and join");
    int leaves0 = rt_log_count(log, "leave"), joins0 = rt_log_count(log, "join");
    CHECK(rt_peer_cmd(peer, "close"), "peer close");
    CHECK(rt_log_wait_nth(log, "leave", leaves0 + 1, 5000, &r), "no channel:leave on the peer's disconnect");
    snprintf(want, sizeof want, "{\"channel\":\"room\",\"data\":{\"name\":\"bob\"}}");
    CHECK(strcmp(r.text, peer->id) == 0 && rt_jeq(r.data, want), "leave %s %s", r.text, r.data);
    CHECK(rt_peer_cmd(peer, "open"), "peer open");
    CHECK(rt_log_wait_nth(log, "join", joins0 + 1, 5000, &r), "no channel:join after the peer's reconnect");
    CHECK(rt_jeq(r.data, want), "the peer re-joined without its profile: %s", r.data);
    char pid[512];
    snprintf(pid, sizeof pid, "%s", r.text);

    /* ---- node A killed and restarted */
    NOTE("node A killed: C reconnects to the restarted node, profile then joins; messages flow again");
    rt_server_kill(na);
    rt_server_drain(na, NULL);
    CHECK(rt_log_wait(log, "disconnect", 5000, NULL), "no on_disconnect");
    CHECK(rt_server_restart(na), "restart node A");
    int con = rt_log_count(log, "connect");
    CHECK(rt_log_wait_nth(log, "connect", con >= 2 ? con : 2, 8000, &r), "C did not reconnect");
    snprintf(cid, sizeof cid, "%s", r.text);
    CHECK(next_msg_name(na, cid, 5000, name, sizeof name) && strcmp(name, "update") == 0, "first re-sent %s", name);
    int got_room = 0, got_quiet = 0;
    for (int i = 0; i < 2; i++) {
        CHECK(wait_msg(na, cid, "join", 5000, buf, sizeof buf), "join %d not re-sent", i + 1);
        if (rt_jeq(buf, "[{\"channel\":\"room\"}]")) got_room++;
        if (rt_jeq(buf, "[{\"channel\":\"quiet\",\"echo\":false}]")) got_quiet++;
    }
    CHECK(got_room == 1 && got_quiet == 1, "re-joins room %d quiet %d (each with its echo flag)", got_room, got_quiet);
    CHECK(rt_peer_recv_about(peer, "channel:join", cid, 5000, buf, sizeof buf), "peer: no re-join of C");
    snprintf(want, sizeof want, "[{\"channel\":\"room\",\"message\":{\"id\":\"%s\",\"data\":{\"name\":\"cee2\"}}}]", cid);
    CHECK(rt_jeq(buf, want), "peer saw C re-join as %s, want %s", buf, want);
    int chats = rt_log_count(log, "chat"); /* before the send: its chat may arrive at once */
    CHECK(rt_peer_cmd(peer, "send room chat {\"after\":\"restart A\"}"), "peer send");
    CHECK(rt_log_wait_nth(log, "chat", chats + 1, 5000, &r) && strcmp(r.data, "{\"after\":\"restart A\"}") == 0,
          "C: %s", r.data);
    CHECK(realtime_send(c, "room", "chat", "{\"back\":1}") == REALTIME_STATUS_OK, "send");
    CHECK(rt_peer_recv_about(peer, "chat", "back", 5000, buf, sizeof buf), "the peer got no chat from C after the restart");
    CHECK(rt_jeq(buf, "[{\"channel\":\"room\",\"message\":{\"back\":1}}]"), "peer got %s", buf);
    CHECK(realtime_get_members(c, "room", rt_ev_members, vm) == REALTIME_STATUS_OK, "get_members");
    CHECK(rt_log_wait_nth(log, "members", 4, 5000, &r) && r.text[0] == '\0', "members after restart: %s", r.text);
    CHECK(strstr(r.data, cid) && strstr(r.data, pid) && rt_jarr_len(r.data) == 2, "members after restart %s", r.data);

    /* ---- node B killed and restarted */
    NOTE("node B killed: the peer's members go stale (no channel:leave); after the restart it re-joins");
    leaves0 = rt_log_count(log, "leave");
    joins0 = rt_log_count(log, "join");
    rt_server_drain(peer->proc, "connect");
    rt_server_drain(peer->proc, "disconnect");
    rt_server_kill(nb);
    CHECK(rt_server_wait_event(peer->proc, "disconnect", 5000, NULL, 0), "peer: no disconnect");
    CHECK(rt_server_restart(nb), "restart node B");
    CHECK(rt_server_wait_event(peer->proc, "connect", 8000, line, sizeof line), "the peer did not reconnect");
    CHECK(rt_json_get_string(line, "id", pid, sizeof pid), "%s", line);
    CHECK(rt_log_wait_nth(log, "join", joins0 + 1, 5000, &r), "C saw no re-join of the peer");
    snprintf(want, sizeof want, "{\"channel\":\"room\",\"data\":{\"name\":\"bob\"}}");
    CHECK(strcmp(r.text, pid) == 0 && rt_jeq(r.data, want), "peer re-join %s %s", r.text, r.data);
    CHECK(rt_log_count(log, "leave") == leaves0, "a killed node sent channel:leave");
    CHECK(rt_peer_cmd(peer, "send room chat {\"after\":\"restart B\"}"), "peer send");
    chats = rt_log_count(log, "chat");
    CHECK(rt_log_wait_nth(log, "chat", chats + 1, 5000, &r) && strcmp(r.data, "{\"after\":\"restart B\"}") == 0,
          "C: %s", r.data);

    CHECK(!rt_log_overlap(log), "callbacks overlapped");
    realtime_free(c);
    rt_peer_free(peer);
    rt_ev_free(vj);
    rt_ev_free(vl);
    rt_ev_free(vu);
    rt_ev_free(vm);
    rt_log_free(log);
    rt_server_free(na);
    rt_server_free(nb);
    rt_server_free(redis);
    rt_test_pass();
    return 0;
}
