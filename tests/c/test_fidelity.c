/* test_fidelity: the JSON text a callback receives is the text the server sent, byte for byte, and
 * what the application emits goes out as written — also where a parse-and-reserialise would change it
 * or refuse it (issue 7, item 1).
 *  - a corpus of texts in the form JavaScript writes them (what a socket.io server sends): lone
 *    surrogate escapes ("\ud83d", a cut emoji), 10,000-deep nesting, numbers JS writes as 1e+21 or
 *    5e-324, U+2028 unescaped, control escapes, key order, duplicate-looking keys, emoji: each is
 *    emitted to the server's "echo" handler (which parses it and emits it back, and answers the ack
 *    with it): the event's args_json and the ack's args_json are byte-identical to what was sent;
 *  - an event name with escapes (sent through the server's "relay" to this socket) arrives decoded;
 *  - malformed JSON from the application is refused locally, nothing is sent;
 *  - the connection stays up throughout (no disconnect, no error). */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *event_args;
    char *event_name;
    char *ack_args;
    int events, acks;
} slot;

static slot S = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, NULL, 0, 0};

static void on_any(void *u, const char *event, const char *args, const realtime_buffer *b, size_t n, uint64_t ack) {
    (void)u, (void)b, (void)n, (void)ack;
    pthread_mutex_lock(&S.mu);
    free(S.event_args);
    free(S.event_name);
    S.event_args = strdup(args);
    S.event_name = strdup(event);
    S.events++;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
}

static void on_ack(void *u, const char *error, const char *args, const realtime_buffer *b, size_t n) {
    (void)u, (void)b, (void)n;
    pthread_mutex_lock(&S.mu);
    free(S.ack_args);
    S.ack_args = strdup(error ? error : args);
    S.acks++;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
}

/* Waits until S.events >= events and S.acks >= acks. */
static int wait_counts(int events, int acks, int timeout_ms) {
    int64_t until = rt_now_ms() + timeout_ms;
    pthread_mutex_lock(&S.mu);
    while ((S.events < events || S.acks < acks) && rt_now_ms() < until) {
        pthread_mutex_unlock(&S.mu);
        rt_sleep_ms(2); /* polling a counter the callbacks raise; the condition is what is awaited */
        pthread_mutex_lock(&S.mu);
    }
    int ok = S.events >= events && S.acks >= acks;
    pthread_mutex_unlock(&S.mu);
    return ok;
}

static void show(const char *label, const char *text) {
    size_t len = strlen(text);
    if (len <= 120) NOTE("%s %s", label, text);
    else NOTE("%s %.60s…%s (%zu bytes)", label, text, text + len - 40, len);
}

int main(void) {
    rt_test_begin("test_fidelity", 90);
    /* Node needs ~70 ms per JSON.stringify of the 10,000-deep text, and the echo makes several: a
     * heartbeat longer than the default 300/200 ms keeps the server's pings on time. */
    rt_server *srv = rt_server_start("--ping-interval 2000 --ping-timeout 2000");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    realtime_client *c = realtime_new(url, NULL);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_on_any(c, on_any, NULL) > 0, "on_any: %s", realtime_last_error());
    char sid[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, sid, sizeof sid), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");

    size_t depth = 10000;
    char *deep = malloc(2 * depth + 16);
    CHECK(deep != NULL, "malloc");
    char *p = deep;
    *p++ = '[';
    memset(p, '[', depth), p += depth;
    memset(p, ']', depth), p += depth;
    strcpy(p, ",\"after\"]");

    const char *corpus[] = {
        "[\"a\\ud83db\"]",                         /* a lone high surrogate (a cut emoji) */
        "[\"\\udc00\",{\"k\":\"x\\ud800\"}]",      /* lone low surrogate, one in a member */
        "[\"\xf0\x9f\x98\x80 \xc3\xa9 \xe4\xb8\xad\"]", /* emoji, accents, CJK: raw UTF-8 as JS writes them */
        "[1e+21,5e-324,-1.5,0.30000000000000004,12345678901234567000]", /* as JS writes numbers */
        "[\"\xe2\x80\xa8\xe2\x80\xa9\"]",          /* U+2028/U+2029 unescaped, as JS writes them */
        "[\"\\u0000\\u0007\\b\\f\\n\\r\\t\\\"\\\\\"]", /* control characters and escapes */
        "[{\"z\":1,\"a\":2,\"m\":{\"y\":[],\"b\":{}}}]", /* key order */
        "[]",
        deep,                                      /* 10,000 levels of nesting */
    };
    size_t n = sizeof corpus / sizeof corpus[0];
    for (size_t i = 0; i < n; i++) {
        show("echo + ack of", corpus[i]);
        int events = S.events, acks = S.acks;
        CHECK(realtime_emit_with_ack(c, "echo", corpus[i], 10000, on_ack, NULL) == REALTIME_STATUS_OK,
              "emit #%zu: %s", i, realtime_last_error());
        CHECK(wait_counts(events + 1, acks + 1, 10000), "no echo/ack for corpus #%zu (events %d acks %d)", i,
              S.events, S.acks);
        pthread_mutex_lock(&S.mu);
        CHECK(strcmp(S.event_name, "echo") == 0, "event name %s", S.event_name);
        CHECK(strcmp(S.event_args, corpus[i]) == 0, "event args differ for #%zu: got %.200s", i, S.event_args);
        CHECK(strcmp(S.ack_args, corpus[i]) == 0, "ack args differ for #%zu: got %.200s", i, S.ack_args);
        pthread_mutex_unlock(&S.mu);
    }

    NOTE("an event name with escapes, relayed to this socket, arrives decoded");
    char relay[256];
    snprintf(relay, sizeof relay, "[\"%s\",\"na\\\"me\\u00e9\\ud83d\",{\"x\":1}]", sid);
    int events = S.events;
    CHECK(realtime_emit(c, "relay", relay) == REALTIME_STATUS_OK, "relay: %s", realtime_last_error());
    CHECK(wait_counts(events + 1, 0, 5000), "no relayed event");
    pthread_mutex_lock(&S.mu);
    CHECK(strcmp(S.event_name, "na\"me\xc3\xa9\xef\xbf\xbd") == 0, "name %s", S.event_name);
    CHECK(strcmp(S.event_args, "[{\"x\":1}]") == 0, "args %s", S.event_args);
    pthread_mutex_unlock(&S.mu);

    NOTE("malformed JSON from the application is refused locally");
    const char *bad[] = {"[1,]", "[\"\\x\"]", "[1", "{}", "[01]", "[\"a\"] x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        realtime_status st = realtime_emit(c, "echo", bad[i]);
        CHECK(st == REALTIME_STATUS_INVALID_ARGUMENT, "emit %s: %s", bad[i], realtime_status_str(st));
        CHECK(strstr(realtime_last_error(), "args_json") != NULL, "message names args_json: %s", realtime_last_error());
    }

    CHECK(realtime_is_connected(c), "the connection must stay up");
    CHECK(rt_log_count(log, "disconnect") == 0, "a disconnect happened");
    CHECK(rt_log_count(log, "error") == 0, "an error happened");

    realtime_free(c);
    rt_log_free(log);
    free(deep);
    pthread_mutex_lock(&S.mu);
    free(S.event_args), free(S.event_name), free(S.ack_args);
    pthread_mutex_unlock(&S.mu);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
