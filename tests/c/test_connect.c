/* test_connect: connect, socket id, close, reopen.
 *  - with the default autoConnect the client connects at once; the socket id from realtime_socket_id
 *    equals the id the server printed; realtime_is_connected is true;
 *  - realtime_socket_id truncates to buf_len (NUL-terminated prefix) and returns the full length;
 *  - realtime_close -> on_disconnect("io client disconnect"), is_connected false, socket_id 0, and no
 *    reconnection attempt within 1.5 s; close again is OK;
 *  - realtime_open -> connects again with a NEW socket id; open again is OK (idempotent). */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}"

/* is_connected is a state query: poll it (there is no event for "state settled") */
static int wait_connected(realtime_client *c, bool want, int timeout_ms) {
    int64_t end = rt_now_ms() + timeout_ms;
    while (rt_now_ms() < end) {
        if (realtime_is_connected(c) == want) return 1;
        rt_sleep_ms(5);
    }
    return realtime_is_connected(c) == want;
}

int main(void) {
    rt_test_begin("test_connect", 60);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    /* ---- default autoConnect: connects without realtime_open */
    NOTE("realtime_new(%s) with autoConnect default connects at once", url);
    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new failed: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);

    char server_id[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, server_id, sizeof server_id), "server saw no connection");
    CHECK(wait_connected(c, true, 5000), "realtime_is_connected stays false after the server accepted");

    char id[128];
    size_t n = realtime_socket_id(c, id, sizeof id);
    NOTE("socket id: client %s, server %s", id, server_id);
    CHECK(n == strlen(server_id), "socket_id length %zu, server id length %zu", n, strlen(server_id));
    CHECK(strcmp(id, server_id) == 0, "socket id %s != server's %s", id, server_id);

    NOTE("realtime_socket_id truncates: buf_len 5 -> 4 chars + NUL, returns the full length");
    char small[5];
    memset(small, 'X', sizeof small);
    size_t n2 = realtime_socket_id(c, small, sizeof small);
    CHECK(n2 == n, "truncated call returned %zu, want %zu", n2, n);
    CHECK(small[4] == '\0', "truncated buffer not NUL-terminated");
    CHECK(strncmp(small, server_id, 4) == 0, "truncated prefix '%s' is not a prefix of %s", small, server_id);
    char one[1] = {'X'};
    size_t n3 = realtime_socket_id(c, one, 1);
    CHECK(n3 == n && one[0] == '\0', "buf_len 1: returned %zu, buf[0]=%d", n3, one[0]);
    size_t n4 = realtime_socket_id(c, NULL, 0);
    CHECK(n4 == n, "buf NULL, len 0: returned %zu, want %zu (length query)", n4, n);

    NOTE("realtime_open on an open client is OK and changes nothing");
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open on an open client: %s", realtime_last_error());
    CHECK(realtime_is_connected(c), "no longer connected after a second open");
    CHECK(rt_server_wait_event(srv, "connection", 300, NULL, 0) == 0, "second open made a second connection");

    /* ---- close */
    NOTE("realtime_close -> on_disconnect(\"io client disconnect\")");
    int attempts_before = rt_log_count(log, "reconnect_attempt");
    CHECK(realtime_close(c) == REALTIME_STATUS_OK, "close: %s", realtime_last_error());
    rt_record r;
    CHECK(rt_log_wait(log, "disconnect", 3000, &r), "no on_disconnect after close");
    CHECK(strcmp(r.text, "io client disconnect") == 0, "disconnect reason '%s'", r.text);
    CHECK(!realtime_is_connected(c), "is_connected true after close");
    char after[64] = "unchanged";
    CHECK(realtime_socket_id(c, after, sizeof after) == 0, "socket_id returns non-zero after close");
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", server_id, 3000, NULL, 0), "server saw no disconnect");
    CHECK(realtime_close(c) == REALTIME_STATUS_OK, "close on a closed client: %s", realtime_last_error());

    NOTE("no reconnection within 1.5 s after close");
    rt_sleep_ms(1500); /* asserting that something does NOT happen */
    CHECK(rt_log_count(log, "reconnect_attempt") == attempts_before, "reconnect attempt after close");
    CHECK(rt_log_count(log, "connect") <= 1, "connected again after close");
    CHECK(rt_server_queued(srv, "connection") == 0, "server saw a new connection after close");

    /* ---- reopen */
    NOTE("realtime_open after close connects again with a new socket id");
    int connects = rt_log_count(log, "connect");
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());
    char server_id2[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, server_id2, sizeof server_id2), "server saw no reconnection");
    CHECK(rt_log_wait_nth(log, "connect", connects + 1, 5000, &r), "no on_connect after reopen");
    CHECK(realtime_is_connected(c), "not connected after on_connect");
    n = realtime_socket_id(c, id, sizeof id);
    NOTE("new socket id: client %s, server %s (old %s)", id, server_id2, server_id);
    CHECK(strcmp(id, server_id2) == 0, "socket id %s != server's %s", id, server_id2);
    CHECK(strcmp(server_id2, server_id) != 0, "socket id did not change after close+open");
    CHECK(strcmp(r.text, server_id2) == 0, "socket id read inside on_connect '%s' != %s", r.text, server_id2);
    CHECK(r.n == 1, "realtime_is_connected inside on_connect was false");

    CHECK(!rt_log_overlap(log), "two callbacks of one client ran at the same time");
    realtime_free(c);
    CHECK(rt_server_wait_event_where(srv, "disconnect", "id", server_id2, 3000, NULL, 0),
          "server saw no disconnect after realtime_free");
    rt_log_dump(log, "test_connect");
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
