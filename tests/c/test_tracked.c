/* realtime_emit_tracked (issue 12, item 5): an offline queue with a time to live and per-message status.
 *  - connected: SENT, then ACKED with the server's answer;
 *  - offline: QUEUED, then SENT and ACKED once connected;
 *  - offline past its TTL: QUEUED, then EXPIRED — and the server never gets it after the reconnect;
 *  - sent, never acknowledged: SENT, then FAILED when the TTL passes;
 *  - the server frozen (SIGSTOP) with the message sent, then killed and restarted: SENT, QUEUED, SENT,
 *    ACKED — it survives the reconnect;
 *  - realtime_close after it was sent: FAILED ("socket has been disconnected");
 *  - exactly one final status each, nothing after it; bad input calls nothing. */
#include "harness.h"

#include <pthread.h>
#include <string.h>

typedef struct {
    pthread_mutex_t lock;
    int n;
    realtime_message_status seen[16];
    char detail[256];
    int finals;
} track;

#define TRACK_INIT {PTHREAD_MUTEX_INITIALIZER, 0, {0}, "", 0}

static void on_status(void *ud, realtime_message_status status, const char *detail) {
    track *t = ud;
    pthread_mutex_lock(&t->lock);
    if (t->n < 16) t->seen[t->n++] = status;
    snprintf(t->detail, sizeof t->detail, "%s", detail);
    if (status >= REALTIME_MESSAGE_STATUS_ACKED) t->finals++;
    pthread_mutex_unlock(&t->lock);
}

/* how many statuses so far, and the first */
static int count_of(track *t, realtime_message_status *first) {
    pthread_mutex_lock(&t->lock);
    int n = t->n;
    if (first) *first = t->seen[0];
    pthread_mutex_unlock(&t->lock);
    return n;
}

static const char *name_of(realtime_message_status s) {
    static const char *names[] = {"QUEUED", "SENT", "ACKED", "EXPIRED", "FAILED"};
    return (int)s >= 0 && (int)s < 5 ? names[s] : "?";
}

/* "QUEUED SENT ACKED" */
static void seen_text(track *t, char *out, size_t len) {
    out[0] = '\0';
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n; i++) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", i ? " " : "", name_of(t->seen[i]));
    }
    pthread_mutex_unlock(&t->lock);
}

/* Waits until `t` has a final status; then checks the sequence and that nothing follows. */
static void expect(track *t, const char *sequence, int timeout_ms) {
    int64_t end = rt_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&t->lock);
        int finals = t->finals;
        pthread_mutex_unlock(&t->lock);
        if (finals > 0) break;
        char got[256];
        seen_text(t, got, sizeof got);
        CHECK(rt_now_ms() < end, "no final status: %s, want %s", got, sequence);
        rt_sleep_ms(2);
    }
    char got[256];
    seen_text(t, got, sizeof got);
    CHECK(strcmp(got, sequence) == 0, "statuses %s, want %s (detail \"%s\")", got, sequence, t->detail);
}

static void nothing_after(track *t, int ms) {
    int n = count_of(t, NULL);
    rt_sleep_ms(ms); /* a window in which no call may come: nothing to await */
    pthread_mutex_lock(&t->lock);
    CHECK(t->n == n && t->finals == 1, "%d calls after the final status, %d finals", t->n - n, t->finals);
    pthread_mutex_unlock(&t->lock);
}

int main(void) {
    rt_test_begin("test_tracked", 90);
    rt_server *server = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", rt_server_port(server));
    realtime_client *c = realtime_new(url, "{\"autoConnect\":false,\"reconnectionDelay\":100,\"reconnectionDelayMax\":100,"
                                           "\"randomizationFactor\":0}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);

    NOTE("bad input calls nothing");
    CHECK(realtime_emit_tracked(c, "ack", "[1]", 0, NULL, NULL) == REALTIME_STATUS_INVALID_ARGUMENT, "NULL cb");
    track bad = TRACK_INIT;
    CHECK(realtime_emit_tracked(c, "ack", "[1", 0, on_status, &bad) == REALTIME_STATUS_INVALID_ARGUMENT, "bad JSON");
    CHECK(realtime_emit_tracked(c, "connect", "[1]", 0, on_status, &bad) != REALTIME_STATUS_OK, "reserved name");
    CHECK(realtime_emit_tracked(NULL, "ack", "[1]", 0, on_status, &bad) != REALTIME_STATUS_OK, "NULL client");

    NOTE("offline: QUEUED, then SENT and ACKED once connected; offline past its TTL: EXPIRED, never sent");
    track offline = TRACK_INIT, expiring = TRACK_INIT;
    CHECK(realtime_emit_tracked(c, "ack", "[\"offline\"]", 0, on_status, &offline) == REALTIME_STATUS_OK, "tracked");
    CHECK(realtime_emit_tracked(c, "ack", "[\"expiring\"]", 150, on_status, &expiring) == REALTIME_STATUS_OK, "tracked");
    expect(&expiring, "QUEUED EXPIRED", 5000);
    realtime_message_status first;
    CHECK(count_of(&offline, &first) == 1 && first == REALTIME_MESSAGE_STATUS_QUEUED, "offline: not just QUEUED");
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open");
    expect(&offline, "QUEUED SENT ACKED", 5000);
    CHECK(strcmp(offline.detail, "[\"offline\"]") == 0, "ack detail %s", offline.detail);
    char line[4096];
    CHECK(rt_server_wait_event_where(server, "message", "name", "ack", 5000, line, sizeof line), "server: no ack event");
    CHECK(strstr(line, "\"offline\""), "first message on the server: %s", line);
    CHECK(!rt_server_wait_event_where(server, "message", "name", "ack", 300, line, sizeof line),
          "the expired message reached the server: %s", line);
    nothing_after(&expiring, 50);

    NOTE("connected: SENT, then ACKED with the server's answer");
    track online = TRACK_INIT;
    CHECK(realtime_emit_tracked(c, "ack", "[1,{\"a\":2}]", 5000, on_status, &online) == REALTIME_STATUS_OK, "tracked");
    expect(&online, "SENT ACKED", 5000);
    CHECK(strcmp(online.detail, "[1,{\"a\":2}]") == 0, "detail %s", online.detail);

    NOTE("sent, never acknowledged: FAILED when the TTL passes");
    track unanswered = TRACK_INIT;
    CHECK(realtime_emit_tracked(c, "nobody-answers", "[]", 200, on_status, &unanswered) == REALTIME_STATUS_OK, "tracked");
    expect(&unanswered, "SENT FAILED", 5000);
    CHECK(strstr(unanswered.detail, "time to live"), "detail %s", unanswered.detail);
    nothing_after(&unanswered, 50);

    NOTE("the server frozen with the message sent, killed, restarted: it survives the reconnect");
    rt_server_drain(server, NULL);
    rt_server_freeze(server);
    track survivor = TRACK_INIT;
    CHECK(realtime_emit_tracked(c, "ack", "[\"survivor\"]", 20000, on_status, &survivor) == REALTIME_STATUS_OK,
          "tracked");
    int64_t end = rt_now_ms() + 5000;
    while (count_of(&survivor, NULL) < 1 && rt_now_ms() < end) rt_sleep_ms(2);
    CHECK(count_of(&survivor, &first) == 1 && first == REALTIME_MESSAGE_STATUS_SENT, "not SENT to the frozen server");
    rt_server_kill(server);
    CHECK(rt_log_wait(log, "disconnect", 5000, NULL), "no disconnect");
    CHECK(rt_server_restart(server), "restart");
    expect(&survivor, "SENT QUEUED SENT ACKED", 10000);
    CHECK(strcmp(survivor.detail, "[\"survivor\"]") == 0, "detail %s", survivor.detail);

    NOTE("realtime_close after it was sent: FAILED");
    CHECK(rt_log_wait_nth(log, "connect", 2, 5000, NULL), "no reconnect");
    track closed = TRACK_INIT;
    CHECK(realtime_emit_tracked(c, "nobody-answers", "[]", 0, on_status, &closed) == REALTIME_STATUS_OK, "tracked");
    end = rt_now_ms() + 5000;
    while (count_of(&closed, NULL) < 1 && rt_now_ms() < end) rt_sleep_ms(2);
    CHECK(realtime_close(c) == REALTIME_STATUS_OK, "close");
    expect(&closed, "SENT FAILED", 5000);
    CHECK(strcmp(closed.detail, "socket has been disconnected") == 0, "detail %s", closed.detail);
    nothing_after(&closed, 50);
    CHECK(count_of(&bad, NULL) == 0, "bad input got statuses");

    realtime_free(c);
    rt_log_free(log);
    rt_server_free(server);
    rt_test_pass();
    return 0;
}
