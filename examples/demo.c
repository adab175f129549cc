/*
 * demo.c: a guided tour of librealtime's connection lifecycle, and an example of using it from C.
 *
 *   1. start the bundled socket.io server and connect (autoConnect);
 *   2. kill the server and restart it on the same port: the client reconnects by itself;
 *   3. realtime_close(): the client disconnects and stays down; realtime_open(): it connects again;
 *   4. realtime_free() and stop the server.
 *
 * Lines marked "->" are what this program does; lines marked "<-" come from the library's callbacks.
 * Callbacks run on a library thread, so the program waits for them with a mutex + condition variable,
 * and every wait has a timeout: if an expected event does not come, the demo fails with exit status 1.
 *
 * Build (from the repository root, after `cargo build --release`):
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -pthread -Iinclude -Itests/c -o build/demo \
 *      examples/demo.c tests/c/harness.c target/release/librealtime.a -lpthread -ldl -lm
 * Run from the repository root: ./build/demo   (tests/c/harness.c starts tests/server/server.js)
 */
#include "harness.h" /* first: server control for the demo (rt_server_*); it also includes realtime.h */

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
    realtime_client *client; /* for realtime_socket_id() inside on_connect */
    int connects, disconnects, errors, attempts, reconnects, failures;
    char last_reason[64];
} ev = {.mu = PTHREAD_MUTEX_INITIALIZER};

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

/* ----------------------------------------------------------------------------------------------------
 * Waiting for events */

/* Fail loudly: the harness kills the server at exit. */
static void die(const char *what) {
    printf("\nDEMO FAILED: %s\n", what);
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

int main(void) {
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ev.cv, &ca);
    pthread_condattr_destroy(&ca);

    printf("librealtime %s demo: a Socket.IO client's lifecycle, seen from C\n", realtime_version());
    printf("(\"->\" = what this program does, \"<-\" = a callback from the library)\n");

    STEP("1. Start a socket.io server and connect");
    rt_server *server = rt_server_start(NULL); /* node tests/server/server.js on a free loopback port */
    int port = rt_server_port(server);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    SAY("socket.io 4.8 server listening on 127.0.0.1:%d", port);

    /* Options are JSON, named as in socket.io-client. autoConnect defaults to true; short reconnection
     * delays keep the demo brisk (the defaults are 1000 ms and 5000 ms). */
    const char *options = "{\"reconnectionDelay\":500,\"reconnectionDelayMax\":2000}";
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

    STEP("4. Clean up");
    SAY("realtime_free(): closes the connection; no callback runs after it returns");
    realtime_free(client);
    pthread_mutex_lock(&ev.mu);
    ev.client = NULL;
    pthread_mutex_unlock(&ev.mu);
    rt_server_free(server);
    SAY("server stopped");

    printf("\nDemo finished OK: %d connects, %d disconnects, %d reconnect attempts, %d reconnect, "
           "%d connection errors.\n", ev.connects, ev.disconnects, ev.attempts, ev.reconnects, ev.errors);
    return 0;
}
