/* test_channels: Agnost channels between the C client and a JS peer (socket.io-client 4.8), through
 * the test server's join/leave/update/members/message handlers (see tests/server/server.js).
 *  - realtime_update_profile / realtime_join: the server receives update {data} and join {channel}; the
 *    peer, a member of the channel, gets channel:join {channel, message:{id: C's socket id, data:
 *    profile}};
 *  - the peer leaves / updates / joins: C's realtime_on_channel_leave/update/join get channel, member id
 *    and profile;
 *  - realtime_send to a channel and realtime_broadcast reach the peer with identical JSON (channel null
 *    for a broadcast); the peer's messages reach realtime_on_message whole, with a NULL member id (channel
 *    NULL for a broadcast);
 *    without echoMessages the sender does not get its own message; with echoMessages true it does;
 *  - realtime_get_members answers [{id, data}] for both members; the peer's members request agrees;
 *  - realtime_leave: the peer gets channel:leave; channel messages no longer reach C;
 *  - a join made while offline is sent once on connect; with autoJoinChannels (default) a server restart
 *    is followed by join for every joined channel and the last profile; messages to the channel reach
 *    C again; with autoJoinChannels false nothing is re-joined;
 *  - bufferMessages false: realtime_send while offline is dropped; by default it is buffered. */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200,\"randomizationFactor\":0}"

/* next "message" line from socket `id` named `name` (lines of other sockets with that name are dropped) */
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

/* the peer's next "recv" line named `name`; its args into out */
static void peer_recv(rt_peer *p, const char *name, char *out, size_t len) {
    char line[8192];
    CHECK(rt_server_wait_event_where(p->proc, "recv", "name", name, 5000, line, sizeof line), "peer got no %s", name);
    CHECK(rt_json_get_raw(line, "args", out, len), "peer line %s", line);
}

static void check_channel_rec(rt_record *r, const char *member, const char *want_data) {
    CHECK(strcmp(r->text, member) == 0, "member id %s, want %s", r->text, member);
    CHECK(rt_jeq(r->data, want_data), "channel event %s, want %s", r->data, want_data);
}

int main(void) {
    rt_test_begin("test_channels", 120);
    rt_server *srv = rt_server_start(NULL);
    int port = rt_server_port(srv);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    char buf[8192], want[8192];

    rt_peer *peer = rt_peer_start(port, "/", NULL);
    NOTE("JS peer %s joins 'room'", peer->id);
    CHECK(rt_peer_cmd(peer, "join room"), "peer join");
    CHECK(wait_msg(srv, peer->id, "join", 5000, NULL, 0), "server: no join from the peer");
    CHECK(rt_server_wait_event_where(srv, "connection", "id", peer->id, 0, NULL, 0), "the peer's connection line");

    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    rt_ev *ej = rt_ev_new(log, "join"), *el = rt_ev_new(log, "leave"), *eu = rt_ev_new(log, "update");
    rt_ev *em = rt_ev_new(log, "chat"), *en = rt_ev_new(log, "news"), *emb = rt_ev_new(log, "members");
    CHECK(realtime_on_channel_join(c, rt_ev_channel, ej) > 0, "on_channel_join");
    CHECK(realtime_on_channel_leave(c, rt_ev_channel, el) > 0, "on_channel_leave");
    CHECK(realtime_on_channel_update(c, rt_ev_channel, eu) > 0, "on_channel_update");
    CHECK(realtime_on_message(c, "chat", rt_ev_channel, em) > 0, "on_message chat");
    CHECK(realtime_on_message(c, "news", rt_ev_channel, en) > 0, "on_message news");
    CHECK(realtime_on_message(c, NULL, rt_ev_channel, em) == 0, "on_message with a NULL name must return 0");
    char cid[512];
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, sizeof cid), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");

    /* ---- profile + join */
    NOTE("C: update_profile {name:cee}, join room -> the peer gets channel:join with C's id and profile");
    CHECK(realtime_update_profile(c, "{\"name\":\"cee\",\"tags\":[1,2]}") == REALTIME_STATUS_OK, "update_profile: %s",
          realtime_last_error());
    CHECK(wait_msg(srv, cid, "update", 5000, buf, sizeof buf), "server: no update");
    CHECK(rt_jeq(buf, "[{\"data\":{\"name\":\"cee\",\"tags\":[1,2]}}]"), "update args %s", buf);
    CHECK(realtime_join(c, "room") == REALTIME_STATUS_OK, "join: %s", realtime_last_error());
    CHECK(wait_msg(srv, cid, "join", 5000, buf, sizeof buf), "server: no join");
    CHECK(rt_jeq(buf, "[{\"channel\":\"room\"}]"), "join args %s", buf);
    peer_recv(peer, "channel:join", buf, sizeof buf);
    snprintf(want, sizeof want, "[{\"channel\":\"room\",\"message\":{\"id\":\"%s\",\"data\":{\"name\":\"cee\",\"tags\":[1,2]}}}]",
             cid);
    NOTE("peer got channel:join %s", buf);
    CHECK(rt_jeq(buf, want), "peer got %s, want %s", buf, want);

    /* ---- the peer's membership changes */
    NOTE("peer: leave, update {name:js}, join, update {name:js2} -> C's channel listeners");
    rt_record r;
    CHECK(rt_peer_cmd(peer, "leave room"), "peer leave");
    CHECK(rt_log_wait_nth(log, "leave", 1, 5000, &r), "C got no channel:leave");
    check_channel_rec(&r, peer->id, "{\"channel\":\"room\",\"data\":null}");
    CHECK(rt_peer_cmd(peer, "update {\"name\":\"js\"}"), "peer update");
    CHECK(rt_peer_cmd(peer, "join room"), "peer join");
    CHECK(rt_log_wait_nth(log, "join", 1, 5000, &r), "C got no channel:join");
    check_channel_rec(&r, peer->id, "{\"channel\":\"room\",\"data\":{\"name\":\"js\"}}");
    CHECK(rt_peer_cmd(peer, "update {\"name\":\"js2\"}"), "peer update");
    CHECK(rt_log_wait_nth(log, "update", 1, 5000, &r), "C got no channel:update");
    check_channel_rec(&r, peer->id, "{\"channel\":\"room\",\"data\":{\"name\":\"js2\"}}");
    CHECK(rt_log_count(log, "update") == 1, "the update made while the peer was outside reached C");

    /* ---- messages */
    NOTE("C send(room, chat) -> peer, identical JSON; C broadcast(news) -> peer with channel null");
    const char *msg = "{\"text\":\"h\\u00e9llo\",\"n\":[1,2.5,null],\"o\":{\"k\":true}}";
    CHECK(realtime_send(c, "room", "chat", msg) == REALTIME_STATUS_OK, "send: %s", realtime_last_error());
    peer_recv(peer, "chat", buf, sizeof buf);
    snprintf(want, sizeof want, "[{\"channel\":\"room\",\"message\":%s}]", msg);
    NOTE("peer got chat %s", buf);
    CHECK(rt_jeq(buf, want), "peer got %s, want %s", buf, want);
    CHECK(realtime_broadcast(c, "news", "[\"b\",1]") == REALTIME_STATUS_OK, "broadcast: %s", realtime_last_error());
    peer_recv(peer, "news", buf, sizeof buf);
    snprintf(want, sizeof want, "[{\"channel\":null,\"message\":[\"b\",1]}]");
    CHECK(rt_jeq(buf, want), "peer got %s, want %s", buf, want);
    CHECK(realtime_send(c, NULL, "news", "\"plain\"") == REALTIME_STATUS_OK, "send NULL channel");
    peer_recv(peer, "news", buf, sizeof buf);
    snprintf(want, sizeof want, "[{\"channel\":null,\"message\":\"plain\"}]");
    CHECK(rt_jeq(buf, want), "send(NULL channel): peer got %s, want %s", buf, want);
    CHECK(realtime_send(c, "room", "chat", "{bad") == REALTIME_STATUS_INVALID_ARGUMENT, "bad JSON message accepted");

    NOTE("peer send(room, chat) and broadcast(news) -> C's realtime_on_message");
    CHECK(rt_peer_cmd(peer, "send room chat {\"from\":\"js\",\"v\":[0.5]}"), "peer send");
    CHECK(rt_log_wait_nth(log, "chat", 1, 5000, &r), "C got no chat");
    check_channel_rec(&r, "(null)", "{\"channel\":\"room\",\"data\":{\"from\":\"js\",\"v\":[0.5]}}");
    CHECK(rt_peer_cmd(peer, "send - news {\"all\":1}"), "peer broadcast");
    CHECK(rt_log_wait_nth(log, "news", 1, 5000, &r), "C got no news");
    check_channel_rec(&r, "(null)", "{\"channel\":null,\"data\":{\"all\":1}}");
    CHECK(rt_log_count(log, "chat") == 1 && rt_log_count(log, "news") == 1,
          "C received its own messages without echoMessages (chat %d, news %d)", rt_log_count(log, "chat"),
          rt_log_count(log, "news"));

    /* ---- members */
    NOTE("realtime_get_members(room) -> both members with their profiles; the JS peer agrees");
    CHECK(realtime_get_members(c, "room", rt_ev_members, emb) == REALTIME_STATUS_OK, "get_members: %s",
          realtime_last_error());
    CHECK(realtime_get_members(c, "room", NULL, NULL) == REALTIME_STATUS_INVALID_ARGUMENT, "NULL cb accepted");
    CHECK(rt_log_wait_nth(log, "members", 1, 5000, &r), "no members answer");
    NOTE("members: %s", r.data);
    CHECK(r.text[0] == '\0', "members error %s", r.text);
    char m0[1024], m1[1024], wc[1024], wp[1024];
    snprintf(wc, sizeof wc, "{\"id\":\"%s\",\"data\":{\"name\":\"cee\",\"tags\":[1,2]}}", cid);
    snprintf(wp, sizeof wp, "{\"id\":\"%s\",\"data\":{\"name\":\"js2\"}}", peer->id);
    CHECK(rt_jarr_len(r.data) == 2, "members %s: want 2", r.data);
    CHECK(rt_jarr_item(r.data, 0, m0, sizeof m0) && rt_jarr_item(r.data, 1, m1, sizeof m1), "members %s", r.data);
    CHECK((rt_jeq(m0, wc) && rt_jeq(m1, wp)) || (rt_jeq(m0, wp) && rt_jeq(m1, wc)), "members %s, want %s and %s", r.data,
          wc, wp);
    CHECK(rt_peer_cmd(peer, "members m1 room"), "peer members");
    char line[8192];
    CHECK(rt_server_wait_event_where(peer->proc, "ack_answer", "tag", "m1", 5000, line, sizeof line), "peer: no members");
    CHECK(rt_json_get_raw(line, "args", buf, sizeof buf) && rt_jarr_item(buf, 0, want, sizeof want), "peer %s", line);
    CHECK(rt_jeq(want, r.data), "the peer sees members %s, C saw %s", want, r.data);

    /* ---- echoMessages */
    NOTE("a client with echoMessages true receives its own channel messages and broadcasts");
    realtime_client *e = realtime_new(url, "{\"echoMessages\":true}");
    CHECK(e != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *le = rt_log_new();
    rt_log_attach(le, e);
    rt_ev *ee = rt_ev_new(le, "chat");
    CHECK(realtime_on_message(e, "chat", rt_ev_channel, ee) > 0, "on_message");
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 5000, line, sizeof line), "no connection");
    char eid[128], auth[512];
    rt_json_get_string(line, "id", eid, sizeof eid);
    CHECK(rt_json_get_raw(line, "auth", auth, sizeof auth) && strstr(auth, "\"echoMessages\":true"),
          "the handshake auth does not carry echoMessages: %s", line);
    CHECK(rt_log_wait(le, "connect", 5000, NULL), "no on_connect");
    CHECK(realtime_join(e, "room") == REALTIME_STATUS_OK, "join");
    CHECK(wait_msg(srv, eid, "join", 5000, NULL, 0), "server: no join");
    CHECK(realtime_send(e, "room", "chat", "{\"self\":1}") == REALTIME_STATUS_OK, "send");
    CHECK(rt_log_wait_nth(le, "chat", 1, 5000, &r), "echoMessages client did not get its own message");
    check_channel_rec(&r, "(null)", "{\"channel\":\"room\",\"data\":{\"self\":1}}");
    CHECK(rt_log_wait_nth(log, "chat", 2, 5000, &r), "C got no chat from the echo client");
    check_channel_rec(&r, "(null)", "{\"channel\":\"room\",\"data\":{\"self\":1}}");
    realtime_free(e);
    rt_ev_free(ee);
    rt_log_free(le);

    /* ---- leave */
    NOTE("C leaves room -> the peer gets channel:leave; room messages no longer reach C");
    CHECK(realtime_leave(c, "room") == REALTIME_STATUS_OK, "leave: %s", realtime_last_error());
    peer_recv(peer, "channel:leave", buf, sizeof buf);
    snprintf(want, sizeof want, "[{\"channel\":\"room\",\"message\":{\"id\":\"%s\",\"data\":{\"name\":\"cee\",\"tags\":[1,2]}}}]",
             cid);
    CHECK(rt_jeq(buf, want), "peer got %s, want %s", buf, want);
    CHECK(rt_peer_cmd(peer, "send room chat {\"after\":\"leave\"}"), "peer send");
    CHECK(rt_peer_cmd(peer, "send - news {\"marker\":2}"), "peer broadcast");
    CHECK(rt_log_wait_nth(log, "news", 2, 5000, NULL), "C got no news marker");
    CHECK(rt_log_count(log, "chat") == 2, "C got a room message after leaving");

    /* ---- autoJoinChannels across a server restart */
    NOTE("C joins room + room2; server restart -> join for both and the last profile are sent again");
    CHECK(realtime_join(c, "room") == REALTIME_STATUS_OK, "join");
    CHECK(realtime_join(c, "room2") == REALTIME_STATUS_OK, "join");
    CHECK(wait_msg(srv, cid, "join", 5000, NULL, 0) && wait_msg(srv, cid, "join", 5000, NULL, 0), "server: joins");
    CHECK(realtime_update_profile(c, "{\"name\":\"cee2\"}") == REALTIME_STATUS_OK, "update");
    CHECK(wait_msg(srv, cid, "update", 5000, NULL, 0), "server: update");
    int con0 = rt_log_count(log, "connect");
    int joins0 = rt_log_count(log, "join"); /* the peer's and the echo client's joins so far */
    rt_server_kill(srv);
    rt_server_drain(srv, NULL);
    CHECK(rt_log_wait(log, "disconnect", 5000, NULL), "no on_disconnect");
    CHECK(rt_server_restart(srv), "restart");
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, sizeof cid), "no reconnection");
    /* the peer reconnects too; which connection comes first is not fixed: find C's id from its client */
    CHECK(rt_log_wait_nth(log, "connect", con0 + 1, 5000, &r), "C did not reconnect");
    snprintf(cid, sizeof cid, "%s", r.text);
    int got_room = 0, got_room2 = 0;
    for (int i = 0; i < 2; i++) {
        CHECK(wait_msg(srv, cid, "join", 5000, buf, sizeof buf), "server: join %d not re-sent after the restart", i + 1);
        if (rt_jeq(buf, "[{\"channel\":\"room\"}]")) got_room++;
        if (rt_jeq(buf, "[{\"channel\":\"room2\"}]")) got_room2++;
    }
    CHECK(got_room == 1 && got_room2 == 1, "re-joins: room %d, room2 %d", got_room, got_room2);
    CHECK(wait_msg(srv, cid, "update", 5000, buf, sizeof buf), "server: the profile was not re-sent");
    CHECK(rt_jeq(buf, "[{\"data\":{\"name\":\"cee2\"}}]"), "re-sent profile %s", buf);
    CHECK(wait_msg(srv, cid, "join", 500, buf, sizeof buf) == 0, "an extra join after the restart: %s", buf);
    NOTE("the peer (reconnected) joins again and sends to room: C receives it");
    CHECK(rt_server_wait_event(peer->proc, "connect", 8000, NULL, 0), "the peer did not reconnect");
    char pid[128];
    CHECK(rt_server_command_out(peer->proc, "join room", 5000, line, sizeof line), "peer join");
    CHECK(rt_json_get_string(line, "id", pid, sizeof pid), "peer id %s", line);
    CHECK(rt_log_wait_nth(log, "join", joins0 + 1, 5000, &r), "C got no channel:join after the restart");
    check_channel_rec(&r, pid, "{\"channel\":\"room\",\"data\":null}");
    CHECK(rt_peer_cmd(peer, "send room chat {\"again\":true}"), "peer send");
    CHECK(rt_log_wait_nth(log, "chat", 3, 5000, &r), "room messages do not reach C after the restart");
    check_channel_rec(&r, "(null)", "{\"channel\":\"room\",\"data\":{\"again\":true}}");

    /* ---- join while offline: sent once on connect */
    NOTE("join while not connected yet (autoConnect false): sent once on connect");
    realtime_client *o = realtime_new(url, "{\"autoConnect\":false}");
    CHECK(o != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *lo = rt_log_new();
    rt_log_attach(lo, o);
    CHECK(realtime_join(o, "pre") == REALTIME_STATUS_OK, "offline join: %s", realtime_last_error());
    CHECK(realtime_send(o, "pre", "chat", "{\"buffered\":1}") == REALTIME_STATUS_OK, "offline send: %s",
          realtime_last_error());
    CHECK(realtime_open(o) == REALTIME_STATUS_OK, "open");
    char oid[512];
    CHECK(rt_log_wait(lo, "connect", 5000, &r), "no on_connect");
    snprintf(oid, sizeof oid, "%s", r.text);
    CHECK(wait_msg(srv, oid, "join", 5000, buf, sizeof buf) && rt_jeq(buf, "[{\"channel\":\"pre\"}]"), "join pre: %s", buf);
    CHECK(wait_msg(srv, oid, "message", 5000, buf, sizeof buf), "the buffered send was lost");
    CHECK(rt_jeq(buf, "[{\"channel\":\"pre\",\"eventName\":\"chat\",\"message\":{\"buffered\":1}}]"), "send %s", buf);
    CHECK(wait_msg(srv, oid, "join", 500, NULL, 0) == 0, "join pre sent twice");
    realtime_free(o);
    rt_log_free(lo);

    /* ---- bufferMessages false */
    NOTE("bufferMessages false: send/broadcast while offline are dropped");
    realtime_client *v = realtime_new(url, "{\"autoConnect\":false,\"bufferMessages\":false}");
    CHECK(v != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *lv = rt_log_new();
    rt_log_attach(lv, v);
    CHECK(realtime_send(v, "room", "chat", "{\"dropped\":1}") == REALTIME_STATUS_OK, "send: %s", realtime_last_error());
    CHECK(realtime_broadcast(v, "news", "{\"dropped\":2}") == REALTIME_STATUS_OK, "broadcast: %s", realtime_last_error());
    CHECK(realtime_open(v) == REALTIME_STATUS_OK, "open");
    CHECK(rt_log_wait(lv, "connect", 5000, &r), "no on_connect");
    char vid[512];
    snprintf(vid, sizeof vid, "%s", r.text);
    CHECK(realtime_emit(v, "marker", NULL) == REALTIME_STATUS_OK, "marker");
    CHECK(wait_msg(srv, vid, "marker", 5000, NULL, 0), "no marker");
    CHECK(wait_msg(srv, vid, "message", 300, buf, sizeof buf) == 0, "an offline message was sent: %s", buf);
    NOTE("bufferMessages false, connected: send goes out");
    CHECK(realtime_send(v, NULL, "news", "{\"live\":1}") == REALTIME_STATUS_OK, "send");
    CHECK(wait_msg(srv, vid, "message", 5000, NULL, 0), "a live send was lost");
    realtime_free(v);
    rt_log_free(lv);

    /* ---- autoJoinChannels false */
    NOTE("autoJoinChannels false: no re-join after a reconnect");
    realtime_client *n = realtime_new(url, "{\"autoJoinChannels\":false,\"reconnectionDelay\":100}");
    CHECK(n != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *ln = rt_log_new();
    rt_log_attach(ln, n);
    CHECK(rt_log_wait(ln, "connect", 5000, &r), "no on_connect");
    char nid[512];
    snprintf(nid, sizeof nid, "%s", r.text);
    CHECK(realtime_join(n, "room3") == REALTIME_STATUS_OK, "join");
    CHECK(wait_msg(srv, nid, "join", 5000, NULL, 0), "server: no join");
    CHECK(rt_server_commandf(srv, 5000, "close-transport %s", nid), "close-transport");
    CHECK(rt_log_wait_nth(ln, "connect", 2, 5000, &r), "no reconnect");
    snprintf(nid, sizeof nid, "%s", r.text);
    CHECK(wait_msg(srv, nid, "join", 500, buf, sizeof buf) == 0, "re-joined with autoJoinChannels false: %s", buf);
    realtime_free(n);
    rt_log_free(ln);

    CHECK(!rt_log_overlap(log), "callbacks overlapped");
    rt_log_dump(log, "test_channels");
    realtime_free(c);
    rt_peer_free(peer);
    rt_ev_free(ej);
    rt_ev_free(el);
    rt_ev_free(eu);
    rt_ev_free(em);
    rt_ev_free(en);
    rt_ev_free(emb);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
