/* test_channels_recovery: membership changes made while offline reach the server when the reconnect
 * RECOVERS the session (server started with --recovery: the server keeps the socket's rooms and its
 * profile, so the library must send what changed, not rely on a full re-join).
 *
 *  - online: realtime_join("old"), realtime_join("stay"), realtime_update_profile({"v":1}); the server's
 *    rooms for the socket are {id, old, stay};
 *  - the server closes the transport (recoverable); while disconnected: realtime_leave("old"),
 *    realtime_join("new"), realtime_update_profile({"v":2}), and a join + leave of "flicker";
 *  - the reconnect is recovered (same socket id, the server says recovered:true), and after it the server
 *    has received leave {old}, update {data:{v:2}} and join {new} — and neither a join of "old"/"stay"
 *    again nor anything about "flicker"; its rooms for the socket are exactly {id, stay, new};
 *  - a change made online after the recovery is sent at once as usual. */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":1000,\"reconnectionDelayMax\":1000,\"randomizationFactor\":0}"

/* the next "message" line of socket `id` (any name): its name and args */
static int next_msg(rt_server *srv, const char *id, int timeout_ms, char *name, size_t nlen, char *args, size_t alen) {
    int64_t end = rt_now_ms() + timeout_ms;
    char line[8192], from[128];
    for (;;) {
        int left = (int)(end - rt_now_ms());
        if (!rt_server_wait_event(srv, "message", left > 0 ? left : 0, line, sizeof line)) return 0;
        if (rt_json_get_string(line, "id", from, sizeof from) && strcmp(from, id) == 0) {
            CHECK(rt_json_get_string(line, "name", name, nlen), "line %s", line);
            CHECK(rt_json_get_raw(line, "args", args, alen), "line %s", line);
            return 1;
        }
    }
}

/* the socket's rooms, as the server reports them, sorted into a comparable "a,b,c" text (ids are
 * replaced by "<id>") */
static void rooms_of(rt_server *srv, const char *id, char *out, size_t len) {
    char done[4096], rooms[2048], item[256];
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rooms %s", id);
    CHECK(rt_server_command_out(srv, cmd, 5000, done, sizeof done), "rooms %s", id);
    CHECK(rt_json_get_raw(done, "rooms", rooms, sizeof rooms), "done %s", done);
    int n = rt_jarr_len(rooms);
    char names[16][256];
    CHECK(n > 0 && n <= 16, "rooms %s", rooms);
    for (int i = 0; i < n; i++) {
        CHECK(rt_jarr_item(rooms, i, item, sizeof item), "rooms %s", rooms);
        char quoted[256];
        snprintf(quoted, sizeof quoted, "\"%s\"", id);
        snprintf(names[i], sizeof names[i], "%s", strcmp(item, quoted) == 0 ? "<id>" : item);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char t[256];
                memcpy(t, names[i], sizeof t);
                memcpy(names[i], names[j], sizeof t);
                memcpy(names[j], t, sizeof t);
            }
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i) strncat(out, ",", len - strlen(out) - 1);
        strncat(out, names[i], len - strlen(out) - 1);
    }
}

int main(void) {
    rt_test_begin("test_channels_recovery", 90);
    rt_server *srv = rt_server_start("--recovery");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);

    char line[8192], cid[128], name[128], args[4096], rooms[1024];
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 5000, line, sizeof line), "no connection");
    CHECK(rt_json_get_string(line, "id", cid, sizeof cid), "line %s", line);
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");
    /* socket.io recovers only a session that has an offset: the client must have received an event. */
    rt_ev *any = rt_ev_new(log, "event");
    CHECK(realtime_on_any(c, rt_ev_event, any) > 0, "on_any");
    CHECK(rt_server_commandf(srv, 5000, "emit %s tick [1]", cid), "emit");
    CHECK(rt_log_wait(log, "event", 5000, NULL), "no tick");

    NOTE("online: join old, join stay, profile {v:1}");
    CHECK(realtime_join(c, "old") == REALTIME_STATUS_OK, "join: %s", realtime_last_error());
    CHECK(realtime_join(c, "stay") == REALTIME_STATUS_OK, "join: %s", realtime_last_error());
    CHECK(realtime_update_profile(c, "{\"v\":1}") == REALTIME_STATUS_OK, "update: %s", realtime_last_error());
    for (int i = 0; i < 3; i++) CHECK(next_msg(srv, cid, 5000, name, sizeof name, args, sizeof args), "message %d", i);
    CHECK(strcmp(name, "update") == 0, "last online message %s %s", name, args);
    rooms_of(srv, cid, rooms, sizeof rooms);
    NOTE("rooms before the outage: %s", rooms);
    CHECK(strcmp(rooms, "\"old\",\"stay\",<id>") == 0, "rooms %s", rooms);

    NOTE("the server closes the transport (recoverable); offline: leave old, join new, profile {v:2}, "
         "join + leave flicker");
    CHECK(rt_server_commandf(srv, 5000, "close-transport %s", cid), "close-transport");
    rt_record r;
    CHECK(rt_log_wait(log, "disconnect", 5000, &r), "no on_disconnect");
    CHECK(strcmp(r.text, "transport close") == 0, "reason %s", r.text);
    CHECK(realtime_leave(c, "old") == REALTIME_STATUS_OK, "leave: %s", realtime_last_error());
    CHECK(realtime_join(c, "new") == REALTIME_STATUS_OK, "join: %s", realtime_last_error());
    CHECK(realtime_update_profile(c, "{\"v\":2}") == REALTIME_STATUS_OK, "update: %s", realtime_last_error());
    CHECK(realtime_join(c, "flicker") == REALTIME_STATUS_OK, "join: %s", realtime_last_error());
    CHECK(realtime_leave(c, "flicker") == REALTIME_STATUS_OK, "leave: %s", realtime_last_error());
    CHECK(rt_log_count(log, "connect") == 1, "reconnected before the offline changes were made: timing too tight");

    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 8000, line, sizeof line), "no reconnection");
    char cid2[128];
    CHECK(rt_json_get_string(line, "id", cid2, sizeof cid2), "line %s", line);
    CHECK(strstr(line, "\"recovered\":true"), "the server did not recover the session: %s", line);
    CHECK(strcmp(cid, cid2) == 0, "socket id changed on recovery: %s -> %s", cid, cid2);
    CHECK(rt_log_wait_nth(log, "connect", 2, 5000, NULL), "no on_connect after the outage");
    CHECK(realtime_is_recovered(c), "realtime_is_recovered false after a recovered reconnect");
    NOTE("recovered as %s", cid2);

    /* A marker emit: everything the library sent after the CONNECT comes before it. */
    CHECK(realtime_emit(c, "marker", "[]") == REALTIME_STATUS_OK, "emit");
    int saw_leave_old = 0, saw_join_new = 0, saw_update = 0;
    for (;;) {
        CHECK(next_msg(srv, cid, 5000, name, sizeof name, args, sizeof args), "no marker after the recovery");
        if (strcmp(name, "marker") == 0) break;
        NOTE("server received %s %s", name, args);
        CHECK(!strstr(args, "flicker"), "a join+leave made offline reached the server: %s %s", name, args);
        if (strcmp(name, "leave") == 0 && rt_jeq(args, "[{\"channel\":\"old\"}]")) saw_leave_old++;
        else if (strcmp(name, "join") == 0 && rt_jeq(args, "[{\"channel\":\"new\"}]")) saw_join_new++;
        else if (strcmp(name, "update") == 0 && rt_jeq(args, "[{\"data\":{\"v\":2}}]")) saw_update++;
        else FAIL("unexpected %s %s after a recovered reconnect (the server kept the rooms)", name, args);
    }
    CHECK(saw_leave_old == 1, "the offline leave of \"old\" was sent %d times", saw_leave_old);
    CHECK(saw_join_new == 1, "the offline join of \"new\" was sent %d times", saw_join_new);
    CHECK(saw_update == 1, "the offline profile update was sent %d times", saw_update);
    rooms_of(srv, cid, rooms, sizeof rooms);
    NOTE("rooms after the recovery: %s", rooms);
    CHECK(strcmp(rooms, "\"new\",\"stay\",<id>") == 0, "rooms %s, want new, stay and the socket's own", rooms);

    NOTE("online after the recovery: leave stay is sent at once");
    CHECK(realtime_leave(c, "stay") == REALTIME_STATUS_OK, "leave: %s", realtime_last_error());
    CHECK(next_msg(srv, cid, 5000, name, sizeof name, args, sizeof args), "no leave");
    CHECK(strcmp(name, "leave") == 0 && rt_jeq(args, "[{\"channel\":\"stay\"}]"), "got %s %s", name, args);
    rooms_of(srv, cid, rooms, sizeof rooms);
    CHECK(strcmp(rooms, "\"new\",<id>") == 0, "rooms %s", rooms);

    CHECK(rt_log_count(log, "disconnect") == 1, "%d disconnects", rt_log_count(log, "disconnect"));
    realtime_free(c);
    rt_ev_free(any);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
