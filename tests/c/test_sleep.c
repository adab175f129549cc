/* A device sleep, simulated by stopping the whole client process (issue 11 item 6): the client runs in a
 * child process (this program re-executed with --child URL), the test SIGSTOPs it and keeps it stopped
 * until the server has given up on it ("ping timeout" on the server side: a real dead connection), then
 * SIGCONTs it. On wake-up the client must notice at once that its connection is dead and replace it:
 *  - the disconnect comes well before one more heartbeat window (pingInterval + pingTimeout) has passed;
 *  - the reason is one of socket.io-client's ("ping timeout", "transport close", "transport error");
 *  - a new connection follows (the reconnection delay here is 100 ms), and the server sees it;
 *  - a short stop (well inside the heartbeat window) drops nothing: no disconnect after waking;
 *  - with the server frozen as well (nothing at all arrives on wake-up, as when the network is gone), the
 *    heartbeat deadline that passed during the sleep fires at once: "ping timeout", then a reconnect.
 * The child reports its lifecycle as lines on a pipe ("connect <sid>", "disconnect <reason>"). */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PING_INTERVAL_MS 1000
#define PING_TIMEOUT_MS 1000

/* ---- the child: one client, its lifecycle written to stdout as lines */

static void say(const char *kind, const char *text) {
    char line[512];
    int n = snprintf(line, sizeof line, "%s %s\n", kind, text ? text : "");
    if (n > 0) {
        ssize_t ignored = write(1, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)ignored;
    }
}

static void child_connect(void *ud) {
    realtime_client *c = *(realtime_client **)ud;
    char sid[128] = "";
    (void)realtime_socket_id(c, sid, sizeof sid);
    say("connect", sid);
}

static void child_disconnect(void *ud, const char *reason) {
    (void)ud;
    say("disconnect", reason);
}

static int run_child(const char *url) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    static realtime_client *client;
    client = realtime_new(url, "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}");
    if (client == NULL) {
        say("error", realtime_last_error());
        return 1;
    }
    realtime_on_connect(client, child_connect, &client);
    realtime_on_disconnect(client, child_disconnect, NULL);
    for (;;) pause(); /* the parent kills it */
}

/* ---- the parent */

typedef struct {
    pid_t pid;
    int fd;
    char buf[4096];
    size_t len;
} child_proc;

static child_proc spawn_child(const char *url) {
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (dup2(fds[1], 1) < 0) _exit(127);
        close(fds[0]);
        char *argv[] = {"test_sleep", "--child", (char *)url, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    child_proc c = {.pid = pid, .fd = fds[0], .len = 0};
    return c;
}

/* The next line the child wrote within timeout_ms (without the newline) into out; 0 on timeout or EOF. */
static int next_line(child_proc *c, int timeout_ms, char *out, size_t out_len) {
    int64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - c->buf);
            snprintf(out, out_len, "%.*s", (int)n, c->buf);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return 1;
        }
        int64_t left = end - rt_now_ms();
        if (left <= 0 || c->len == sizeof c->buf) return 0;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r != 1) return 0;
        ssize_t got = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (got <= 0) return 0;
        c->len += (size_t)got;
    }
}

/* Waits for a line starting with `kind` ("connect", "disconnect"); copies the rest into rest. */
static int wait_kind(child_proc *c, const char *kind, int timeout_ms, char *rest, size_t rest_len) {
    int64_t end = rt_now_ms() + timeout_ms;
    char line[512];
    size_t k = strlen(kind);
    while (rt_now_ms() < end) {
        if (!next_line(c, (int)(end - rt_now_ms()), line, sizeof line)) return 0;
        if (strncmp(line, kind, k) == 0 && line[k] == ' ') {
            snprintf(rest, rest_len, "%s", line + k + 1);
            return 1;
        }
        CHECK(strncmp(line, "error", 5) != 0, "the child: %s", line);
        NOTE("  (child: %s)", line);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--child") == 0) return run_child(argv[2]);

    rt_test_begin("test_sleep", 90);
    char args[128];
    snprintf(args, sizeof args, "--ping-interval %d --ping-timeout %d", PING_INTERVAL_MS, PING_TIMEOUT_MS);
    rt_server *server = rt_server_start(args);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(server));

    child_proc child = spawn_child(url);
    char sid[128], reason[128], first_sid[128];
    CHECK(wait_kind(&child, "connect", 10000, first_sid, sizeof first_sid), "the child never connected");
    CHECK(rt_server_wait_connection(server, "/", 5000, sid, sizeof sid), "the server saw no connection");
    CHECK(strcmp(sid, first_sid) == 0, "socket ids: child %s, server %s", first_sid, sid);

    NOTE("a short stop (300 ms, inside the %d ms heartbeat window) drops nothing", PING_INTERVAL_MS + PING_TIMEOUT_MS);
    CHECK(kill(child.pid, SIGSTOP) == 0, "SIGSTOP");
    rt_sleep_ms(300); /* the fault itself: how long the device sleeps */
    CHECK(kill(child.pid, SIGCONT) == 0, "SIGCONT");
    /* two heartbeats must pass with the connection kept: the server pings every second */
    CHECK(!wait_kind(&child, "disconnect", 2 * (PING_INTERVAL_MS + PING_TIMEOUT_MS), reason, sizeof reason),
          "a 300 ms stop dropped the connection: %s", reason);
    CHECK(rt_server_queued(server, "disconnect") == 0, "the server dropped the client after a short stop");

    NOTE("a long stop: stopped until the server gives up on the client");
    CHECK(kill(child.pid, SIGSTOP) == 0, "SIGSTOP");
    int64_t stopped = rt_now_ms();
    char line[1024];
    CHECK(rt_server_wait_event(server, "disconnect", 10000, line, sizeof line), "the server never dropped the stopped client");
    char server_reason[64] = "";
    rt_json_get_string(line, "reason", server_reason, sizeof server_reason);
    NOTE("the server dropped it after %lld ms: %s", (long long)(rt_now_ms() - stopped), server_reason);
    CHECK(strcmp(server_reason, "ping timeout") == 0, "server-side reason %s", server_reason);

    int64_t woke = rt_now_ms();
    CHECK(kill(child.pid, SIGCONT) == 0, "SIGCONT");
    CHECK(wait_kind(&child, "disconnect", 5000, reason, sizeof reason), "no disconnect within 5 s of waking");
    int64_t noticed = rt_now_ms() - woke;
    NOTE("woken: disconnect \"%s\" %lld ms after SIGCONT", reason, (long long)noticed);
    CHECK(strcmp(reason, "ping timeout") == 0 || strcmp(reason, "transport close") == 0 ||
              strcmp(reason, "transport error") == 0,
          "reason %s", reason);
    CHECK(noticed < PING_INTERVAL_MS, "the dead connection was noticed %lld ms after waking, not at once",
          (long long)noticed);

    CHECK(wait_kind(&child, "connect", 5000, sid, sizeof sid), "no new connection after waking");
    int64_t replaced = rt_now_ms() - woke;
    NOTE("replaced: connected again %lld ms after SIGCONT (new sid %s)", (long long)replaced, sid);
    CHECK(strcmp(sid, first_sid) != 0, "the same socket id %s after a dead connection", sid);
    char server_sid[128];
    CHECK(rt_server_wait_connection(server, "/", 5000, server_sid, sizeof server_sid), "the server saw no new connection");
    CHECK(strcmp(server_sid, sid) == 0, "socket ids: child %s, server %s", sid, server_sid);

    NOTE("a sleep with no word from the network: the server frozen too, so no FIN is waiting on wake-up");
    rt_server_drain(server, NULL);
    rt_server_freeze(server);
    CHECK(kill(child.pid, SIGSTOP) == 0, "SIGSTOP");
    rt_sleep_ms(PING_INTERVAL_MS + PING_TIMEOUT_MS + 500); /* the fault itself: longer than the window */
    woke = rt_now_ms();
    CHECK(kill(child.pid, SIGCONT) == 0, "SIGCONT");
    CHECK(wait_kind(&child, "disconnect", 5000, reason, sizeof reason), "no disconnect within 5 s of waking");
    noticed = rt_now_ms() - woke;
    NOTE("woken: disconnect \"%s\" %lld ms after SIGCONT (only the heartbeat deadline can tell)", reason,
         (long long)noticed);
    CHECK(strcmp(reason, "ping timeout") == 0, "reason %s", reason);
    CHECK(noticed < PING_INTERVAL_MS, "the heartbeat deadline fired %lld ms after waking, not at once",
          (long long)noticed);
    rt_server_thaw(server);
    CHECK(wait_kind(&child, "connect", 10000, sid, sizeof sid), "no new connection once the server was back");
    NOTE("replaced once the server was back: %lld ms after SIGCONT", (long long)(rt_now_ms() - woke));

    kill(child.pid, SIGKILL);
    waitpid(child.pid, NULL, 0);
    close(child.fd);
    rt_server_free(server);
    rt_test_pass();
    return 0;
}
