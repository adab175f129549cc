/*
 * demo.c: a guided tour of librealtime's connection lifecycle, and an example of using it from C.
 *
 *   1. start the bundled socket.io server and connect (autoConnect);
 *   2. kill the server and restart it on the same port: the client reconnects by itself;
 *   3. realtime_close(): the client disconnects and stays down; realtime_open(): it connects again;
 *   4. a small channel chat (Agnost channels) with a JavaScript client, socket.io-client 4.8: profiles,
 *      join, member list, messages both ways, leave;
 *   5. realtime_free() and stop the server.
 *
 * Lines marked "->" are what this program does; lines marked "<-" come from the library's callbacks;
 * lines marked "JS" are printed by the JavaScript client (tests/server/peer.js, one JSON line per event).
 * Callbacks run on a library thread, so the program waits for them with a mutex + condition variable,
 * and every wait has a timeout: if an expected event does not come, the demo fails with exit status 1.
 *
 * Build (from the repository root, after `cargo build --release`):
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -pthread -Iinclude -Itests/c -o build/demo \
 *      examples/demo.c tests/c/harness.c target/release/librealtime.a -lpthread -ldl -lm
 * Run from the repository root: ./build/demo   (tests/c/harness.c starts tests/server/server.js)
 */
#include "harness.h" /* first: server control for the demo (rt_server_*); it also includes realtime.h */
#include "peer.c"    /* the JS client (rt_peer_*) and small JSON helpers (rt_jeq, rt_jarr_*): test code */

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ----------------------------------------------------------------------------------------------------
 * What the callbacks record, guarded by one mutex; the main thread waits on the condition variable. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    realtime_client *client; /* for realtime_socket_id() inside on_connect and on_members */
    int connects, disconnects, errors, attempts, reconnects, failures;
    char last_reason[64];
    int member_lists;       /* answers to realtime_get_members() */
    char members[1024];     /* the last answer (a JSON array), or "" after an error */
} ev = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* One record per kind of channel event (section 4); the listener gets it back as its user_data. */
typedef struct channel_events {
    const char *listener, *member_is, *data_is; /* for the printed line: names of the listener, of
                                                 * member_id ("member"/"sender") and of data_json */
    int count;
    char channel[64], member[64], data[256]; /* the last event's arguments */
} channel_events;
static channel_events joins = {"on_channel_join", "member", "profile", 0, "", "", ""};
static channel_events leaves = {"on_channel_leave", "member", "profile", 0, "", "", ""};
static channel_events chats = {"on_message(\"chat\")", "member", "message", 0, "", "", ""};

static struct timespec t0; /* program start, for the timestamps */

static double elapsed(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
}

/* Print one timestamped line. The caller holds ev.mu, so lines from the callbacks and from main never
 * interleave. */
static void line_locked(const char *arrow, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("[%7.3fs] %s ", elapsed(), arrow);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}
#define SAY(...) do { pthread_mutex_lock(&ev.mu); line_locked("->", __VA_ARGS__); pthread_mutex_unlock(&ev.mu); } while (0)
#define STEP(title) printf("\n== %s\n", title)

/* ----------------------------------------------------------------------------------------------------
 * The six listeners. user_data is unused here (it is passed back untouched: use it for your context). */
static void on_connect(void *user_data) {
    (void)user_data;
    pthread_mutex_lock(&ev.mu);
    char id[64] = "";
    realtime_socket_id(ev.client, id, sizeof id); /* allowed inside a callback: nothing deadlocks */
    ev.connects++;
    line_locked("<-", "connected, socket id %s", id);
    pthread_cond_broadcast(&ev.cv);
    pthread_mutex_unlock(&ev.mu);
}

static void on_disconnect(void *user_data, const char *reason) {
    (void)user_data;
    pthread_mutex_lock(&ev.mu);
    ev.disconnects++;
    snprintf(ev.last_reason, sizeof ev.last_reason, "%s", reason);
    line_locked("<-", "disconnected: %s", reason);
    pthread_cond_broadcast(&ev.cv);
    pthread_mutex_unlock(&ev.mu);
}

static void on_error(void *user_data, const char *message, const char *data_json) {
    (void)user_data;
    pthread_mutex_lock(&ev.mu);
    ev.errors++;
    if (data_json && strcmp(data_json, "null") != 0)
        line_locked("<-", "connection error: %s (data %s)", message, data_json);
    else
        line_locked("<-", "connection error: %s", message);
    pthread_cond_broadcast(&ev.cv);
    pthread_mutex_unlock(&ev.mu);
}

static void on_reconnect_attempt(void *user_data, uint32_t attempt) {
    (void)user_data;
    pthread_mutex_lock(&ev.mu);
    ev.attempts++;
    line_locked("<-", "reconnect attempt #%u", (unsigned)attempt);
    pthread_cond_broadcast(&ev.cv);
    pthread_mutex_unlock(&ev.mu);
}

static void on_reconnect(void *user_data, uint32_t attempts) {
    (void)user_data;
    pthread_mutex_lock(&ev.mu);
    ev.reconnects++;
    line_locked("<-", "reconnected after %u attempt%s", (unsigned)attempts, attempts == 1 ? "" : "s");
    pthread_cond_broadcast(&ev.cv);
    pthread_mutex_unlock(&ev.mu);
}

static void on_reconnect_failed(void *user_data) {
    (void)user_data;
    pthread_mutex_lock(&ev.mu);
    ev.failures++;
    line_locked("<-", "gave up reconnecting (reconnectionAttempts exhausted)");
    pthread_cond_broadcast(&ev.cv);
    pthread_mutex_unlock(&ev.mu);
}

/* Channel listeners (realtime_on_channel_join/leave, realtime_on_message): one function serves all
 * three; user_data says which record to update. channel is NULL for a broadcast (realtime_broadcast). */
static void on_channel_event(void *user_data, const char *channel, const char *member_id, const char *data_json) {
    channel_events *ce = user_data;
    pthread_mutex_lock(&ev.mu);
    ce->count++;
    snprintf(ce->channel, sizeof ce->channel, "%s", channel ? channel : "(broadcast)");
    snprintf(ce->member, sizeof ce->member, "%s", member_id ? member_id : "(unknown)");
    snprintf(ce->data, sizeof ce->data, "%s", data_json);
    line_locked("<-", "%s: channel \"%s\", %s %s, %s %s", ce->listener, ce->channel, ce->member_is, ce->member,
                ce->data_is, ce->data);
    pthread_cond_broadcast(&ev.cv);
    pthread_mutex_unlock(&ev.mu);
}

/* The answer to realtime_get_members(): a JSON array of {"id": socket id, "data": profile}. */
static void on_members(void *user_data, const char *error, const char *members_json) {
    (void)user_data;
    pthread_mutex_lock(&ev.mu);
    ev.member_lists++;
    snprintf(ev.members, sizeof ev.members, "%s", error ? "" : members_json);
    if (error) {
        line_locked("<-", "realtime_get_members failed: %s", error);
    } else {
        /* Print one line per member (rt_jarr_* and rt_json_get_* are the tests' tiny JSON readers). */
        int n = rt_jarr_len(members_json);
        line_locked("<-", "members: %d", n);
        char item[512], id[64], profile[256], mine[64] = "";
        realtime_socket_id(ev.client, mine, sizeof mine);
        for (int i = 0; i < n && rt_jarr_item(members_json, i, item, sizeof item); i++)
            if (rt_json_get_string(item, "id", id, sizeof id) && rt_json_get_raw(item, "data", profile, sizeof profile))
                printf("               %s  profile %s%s\n", id, profile, strcmp(id, mine) ? "" : "  (this program)");
    }
    pthread_cond_broadcast(&ev.cv);
    pthread_mutex_unlock(&ev.mu);
}

/* ----------------------------------------------------------------------------------------------------
 * Waiting for events */

/* Fail loudly: the harness kills the server at exit. Called from main without ev.mu; it keeps the lock so
 * that no callback prints after the verdict. */
static void die(const char *what) {
    pthread_mutex_lock(&ev.mu);
    printf("\nDEMO FAILED: %s\n", what);
    fflush(stdout);
    exit(1);
}

/* Wait until *counter >= target, for at most timeout_ms. Returns 1 if reached, 0 on timeout. */
static int wait_count(const int *counter, int target, int timeout_ms) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl); /* ev.cv uses CLOCK_MONOTONIC (see main) */
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
    pthread_mutex_lock(&ev.mu);
    int rc = 0;
    while (*counter < target && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&ev.cv, &ev.mu, &dl);
    int ok = *counter >= target;
    pthread_mutex_unlock(&ev.mu);
    return ok;
}

static int count(const int *counter) {
    pthread_mutex_lock(&ev.mu);
    int n = *counter;
    pthread_mutex_unlock(&ev.mu);
    return n;
}

static void expect(const int *counter, int target, int timeout_ms, const char *what) {
    if (!wait_count(counter, target, timeout_ms)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s did not happen within %d ms", what, timeout_ms);
        die(msg);
    }
}

/* Ask the server who is in `channel`, wait for the answer, and check it has `want` members including
 * `must_list` (a socket id). */
static void check_members(realtime_client *client, const char *channel, int want, const char *must_list) {
    int nth = count(&ev.member_lists) + 1;
    SAY("realtime_get_members(\"%s\")", channel);
    if (realtime_get_members(client, channel, on_members, NULL) != REALTIME_STATUS_OK) die(realtime_last_error());
    expect(&ev.member_lists, nth, 5000, "the answer to realtime_get_members");
    char msg[1200];
    pthread_mutex_lock(&ev.mu);
    int ok = rt_jarr_len(ev.members) == want && strstr(ev.members, must_list) != NULL;
    snprintf(msg, sizeof msg, "unexpected member list %s (want %d members, with %s)", ev.members, want, must_list);
    pthread_mutex_unlock(&ev.mu);
    if (!ok) die(msg);
}

/* Wait for the JS client to print a line {"event":"recv","name":<name>,...} (it received <name>) and
 * show it. The harness reads the JS client's stdout on a thread and queues its lines. */
static void expect_js_recv(rt_peer *js, const char *name) {
    char line[2048];
    if (!rt_server_wait_event_where(js->proc, "recv", "name", name, 5000, line, sizeof line)) {
        char msg[160];
        snprintf(msg, sizeof msg, "the JS client did not receive \"%s\" within 5000 ms", name);
        die(msg);
    }
    pthread_mutex_lock(&ev.mu);
    line_locked("JS", "%s", line);
    pthread_mutex_unlock(&ev.mu);
}

/* Check the last event recorded in `ce` (with ev.mu, as the callbacks write it). */
static void check_event(channel_events *ce, const char *channel, const char *member, const char *data) {
    char msg[600];
    pthread_mutex_lock(&ev.mu);
    int ok = strcmp(ce->channel, channel) == 0 && strcmp(ce->member, member) == 0 && rt_jeq(ce->data, data);
    snprintf(msg, sizeof msg, "%s got (%s, %s, %s), want (%s, %s, %s)", ce->listener, ce->channel, ce->member,
             ce->data, channel, member, data);
    pthread_mutex_unlock(&ev.mu);
    if (!ok) die(msg);
}

int main(void) {
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ev.cv, &ca);
    pthread_condattr_destroy(&ca);

    printf("librealtime %s demo: a Socket.IO client's lifecycle, seen from C\n", realtime_version());
    printf("(\"->\" = what this program does, \"<-\" = a callback from the library, "
           "\"JS\" = a line from the JavaScript client)\n");

    STEP("1. Start a socket.io server and connect");
    rt_server *server = rt_server_start(NULL); /* node tests/server/server.js on a free loopback port */
    int port = rt_server_port(server);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    SAY("socket.io 4.8 server listening on 127.0.0.1:%d", port);

    /* Options are JSON, named as in socket.io-client. autoConnect defaults to true; short reconnection
     * delays keep the demo brisk (the defaults are 1000 ms and 5000 ms); ackTimeout bounds the wait for
     * answers such as realtime_get_members' (by default there is no limit). */
    const char *options = "{\"reconnectionDelay\":500,\"reconnectionDelayMax\":2000,\"ackTimeout\":5000}";
    SAY("realtime_new(\"%s\", %s)", url, options);
    realtime_client *client = realtime_new(url, options);
    if (!client) die(realtime_last_error());
    pthread_mutex_lock(&ev.mu);
    ev.client = client;
    pthread_mutex_unlock(&ev.mu);

    /* Listeners registered right after realtime_new() miss nothing: early events are held for them. */
    if (!realtime_on_connect(client, on_connect, NULL) || !realtime_on_disconnect(client, on_disconnect, NULL) ||
        !realtime_on_error(client, on_error, NULL) ||
        !realtime_on_reconnect_attempt(client, on_reconnect_attempt, NULL) ||
        !realtime_on_reconnect(client, on_reconnect, NULL) ||
        !realtime_on_reconnect_failed(client, on_reconnect_failed, NULL))
        die(realtime_last_error());
    SAY("registered on_connect, on_disconnect, on_error, on_reconnect_attempt, on_reconnect, on_reconnect_failed");

    expect(&ev.connects, 1, 5000, "the first connection");
    char first_id[64] = "", id[64] = "";
    realtime_socket_id(client, first_id, sizeof first_id);
    bool up = realtime_is_connected(client); /* (call the library outside our own lock) */
    SAY("realtime_is_connected() = %s, realtime_socket_id() = \"%s\"", up ? "true" : "false", first_id);

    STEP("2. The server crashes and comes back: the client reconnects by itself");
    SAY("killing the server process (SIGKILL)");
    rt_server_kill(server);
    expect(&ev.disconnects, 1, 3000, "on_disconnect after the server died");
    /* Let the reader see the server is down: wait (on the condvar) for two failed reconnect attempts. */
    expect(&ev.attempts, 2, 8000, "two reconnect attempts while the server is down");
    SAY("restarting the server on the same port %d", port);
    if (!rt_server_restart(server)) die("could not restart the server on the same port");
    expect(&ev.reconnects, 1, 10000, "on_reconnect after the server came back");
    expect(&ev.connects, 2, 5000, "on_connect after the server came back");
    realtime_socket_id(client, id, sizeof id);
    SAY("back online with a new socket id: %s (was %s)", id, first_id);
    if (strcmp(id, first_id) == 0) die("the socket id did not change after the reconnection");

    STEP("3. realtime_close(): disconnect on purpose; nothing reconnects until realtime_open()");
    int attempts_before = count(&ev.attempts), connects_before = count(&ev.connects);
    SAY("realtime_close()");
    if (realtime_close(client) != REALTIME_STATUS_OK) die(realtime_last_error());
    expect(&ev.disconnects, 2, 3000, "on_disconnect after realtime_close");
    pthread_mutex_lock(&ev.mu);
    int client_reason = strcmp(ev.last_reason, "io client disconnect") == 0;
    pthread_mutex_unlock(&ev.mu);
    if (!client_reason) die("realtime_close did not give the reason \"io client disconnect\"");
    up = realtime_is_connected(client);
    SAY("realtime_is_connected() = %s; waiting 3 s: no reconnect attempt should follow", up ? "true" : "false");
    /* Deliberately wait for something that must NOT happen (an attempt), with a 3 s limit. */
    if (wait_count(&ev.attempts, attempts_before + 1, 3000) || count(&ev.connects) != connects_before)
        die("the client tried to reconnect after realtime_close");
    SAY("still down after 3 s, as it should be; realtime_open()");
    if (realtime_open(client) != REALTIME_STATUS_OK) die(realtime_last_error());
    expect(&ev.connects, 3, 5000, "on_connect after realtime_open");
    realtime_socket_id(client, id, sizeof id);
    SAY("connected again, socket id %s", id);

    STEP("4. A small channel chat between this C program and a JavaScript client");
    /* Channels (rooms) are the server's: it relays join/leave/profile changes to the other members as
     * channel:join/leave/update, and realtime_send() messages to the channel's members (see README.md,
     * "Agnost channels"). Listeners can be registered at any time. */
    if (!realtime_on_channel_join(client, on_channel_event, &joins) ||
        !realtime_on_channel_leave(client, on_channel_event, &leaves) ||
        !realtime_on_message(client, "chat", on_channel_event, &chats))
        die(realtime_last_error());
    SAY("registered on_channel_join, on_channel_leave, on_message(\"chat\")");
    realtime_socket_id(client, id, sizeof id);
    SAY("realtime_update_profile({\"name\":\"C\"}), realtime_join(\"lobby\")");
    if (realtime_update_profile(client, "{\"name\":\"C\"}") != REALTIME_STATUS_OK ||
        realtime_join(client, "lobby") != REALTIME_STATUS_OK)
        die(realtime_last_error());
    /* Joining sends no answer; asking for the members does, and the server handles one client's packets
     * in order: once the list arrives, we are in the channel and will hear about whoever joins next. */
    check_members(client, "lobby", 1, id);

    SAY("starting the JS client (node tests/server/peer.js: socket.io-client 4.8)");
    rt_peer *js = rt_peer_start(port, "/", NULL); /* returns once it is connected; exits on failure */
    SAY("JS client connected, socket id %s; it sets its profile {\"name\":\"JS\"} and joins \"lobby\"", js->id);
    if (!rt_peer_cmd(js, "update {\"name\":\"JS\"}") || !rt_peer_cmd(js, "join lobby"))
        die("the JS client did not take the command");
    expect(&joins.count, 1, 5000, "on_channel_join for the JS client");
    check_event(&joins, "lobby", js->id, "{\"name\":\"JS\"}");
    check_members(client, "lobby", 2, js->id);

    /* Messages carry any JSON value under an event name of our choosing, delivered exactly as sent (Agnost
     * adds no sender id). The sender does not get its own message (unless "echoMessages" is set in auth). */
    SAY("realtime_send(\"lobby\", \"chat\", {\"text\":\"hello from C\"})");
    if (realtime_send(client, "lobby", "chat", "{\"text\":\"hello from C\"}") != REALTIME_STATUS_OK)
        die(realtime_last_error());
    expect_js_recv(js, "chat");
    SAY("the JS client sends {\"text\":\"hi C, JS here\"} as \"chat\" to \"lobby\"");
    if (!rt_peer_cmd(js, "send lobby chat {\"text\":\"hi C, JS here\"}")) die("the JS client did not send");
    expect(&chats.count, 1, 5000, "on_message(\"chat\") for the JS client's message");
    check_event(&chats, "lobby", js->id, "{\"text\":\"hi C, JS here\"}");
    SAY("the JS client leaves \"lobby\"");
    if (!rt_peer_cmd(js, "leave lobby")) die("the JS client did not take the command");
    expect(&leaves.count, 1, 5000, "on_channel_leave for the JS client");
    check_event(&leaves, "lobby", js->id, "{\"name\":\"JS\"}");

    STEP("5. Clean up");
    rt_peer_free(js);
    SAY("JS client stopped");
    SAY("realtime_free(): closes the connection; no callback runs after it returns");
    realtime_free(client);
    pthread_mutex_lock(&ev.mu);
    ev.client = NULL;
    pthread_mutex_unlock(&ev.mu);
    rt_server_free(server);
    SAY("server stopped");

    printf("\nDemo finished OK: %d connects, %d disconnects, %d reconnect attempts, %d reconnect, "
           "%d connection errors;\nfrom the JS client: %d channel join, %d chat message, %d channel leave.\n",
           ev.connects, ev.disconnects, ev.attempts, ev.reconnects, ev.errors, joins.count, chats.count, leaves.count);
    return 0;
}
