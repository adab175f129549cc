/* test_auth_provider: realtime_set_auth_provider / realtime_auth_reply against the real server.
 *  - answered synchronously inside the callback: the server's handshake auth is the provider's fresh
 *    object on the first connection and again, new, after a reconnection (the server closes the
 *    transport); one call per CONNECT;
 *  - answered later from another thread: the CONNECT waits for the answer (the server sees that token);
 *  - never answered: on_error "did not answer within 300 ms" (authTimeout), no connection, and
 *    realtime_open asks again;
 *  - a refusal (the middleware refuses {"refuse":true}), then realtime_open with a fresh token
 *    connects: the expired-token pattern;
 *  - declining (NULL) ends with an on_error; a reply that is not an object is INVALID_ARGUMENT. */
#include "harness.h"
#include "peer.c"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FAST "\"reconnectionDelay\":100,\"reconnectionDelayMax\":200"

typedef enum { SYNC, ASYNC, NEVER, REFUSE_FIRST, DECLINE } mode_t_;

typedef struct provider {
    mode_t_ mode;
    realtime_client *client;
    atomic_int calls;
    pthread_t thread;
    int have_thread;
    uint64_t async_request;
    rt_log *log;
} provider;

static void *answer_later(void *arg) {
    provider *p = arg;
    rt_sleep_ms(300); /* the answer really comes later: the CONNECT must wait for it */
    char auth[64];
    snprintf(auth, sizeof auth, "{\"token\":\"async-%d\"}", atomic_load(&p->calls));
    rt_log_add(p->log, "replied", auth, NULL, (int64_t)p->async_request);
    CHECK(realtime_auth_reply(p->client, p->async_request, auth) == REALTIME_STATUS_OK, "reply from a thread: %s",
          realtime_last_error());
    return NULL;
}

static void on_auth(void *user_data, uint64_t request_id) {
    provider *p = user_data;
    int n = atomic_fetch_add(&p->calls, 1) + 1;
    rt_log_add(p->log, "auth_request", NULL, NULL, (int64_t)request_id);
    char auth[64];
    switch (p->mode) {
    case SYNC:
        snprintf(auth, sizeof auth, "{\"token\":\"t%d\"}", n);
        CHECK(realtime_auth_reply(p->client, request_id, "[1]") == REALTIME_STATUS_INVALID_ARGUMENT,
              "an array was accepted as auth");
        CHECK(realtime_auth_reply(p->client, request_id, auth) == REALTIME_STATUS_OK, "reply: %s",
              realtime_last_error());
        break;
    case ASYNC:
        p->async_request = request_id;
        CHECK(pthread_create(&p->thread, NULL, answer_later, p) == 0, "pthread_create");
        p->have_thread = 1;
        break;
    case NEVER:
        break;
    case REFUSE_FIRST:
        CHECK(realtime_auth_reply(p->client, request_id, n == 1 ? "{\"refuse\":true}" : "{\"token\":\"fresh\"}") ==
                  REALTIME_STATUS_OK,
              "reply: %s", realtime_last_error());
        break;
    case DECLINE:
        CHECK(realtime_auth_reply(p->client, request_id, NULL) == REALTIME_STATUS_OK, "decline: %s",
              realtime_last_error());
        break;
    }
}

static realtime_client *start(const char *url, const char *opts, provider *p, rt_log *log, mode_t_ mode) {
    memset(p, 0, sizeof *p);
    p->mode = mode;
    p->log = log;
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    p->client = c;
    rt_log_attach(log, c);
    CHECK(realtime_set_auth_provider(c, on_auth, p) == REALTIME_STATUS_OK, "set_auth_provider: %s",
          realtime_last_error());
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open");
    return c;
}

static void expect_auth(rt_server *srv, const char *want, char *id_out) {
    char line[4096], auth[512];
    CHECK(rt_server_wait_event_where(srv, "connection", "nsp", "/", 10000, line, sizeof line), "no connection");
    CHECK(rt_json_get_raw(line, "auth", auth, sizeof auth), "no auth in %s", line);
    NOTE("server handshake auth %s", auth);
    CHECK(rt_jeq(auth, want), "server saw auth %s, expected %s", auth, want);
    if (id_out) CHECK(rt_json_get_string(line, "id", id_out, 64), "no id");
}

int main(void) {
    rt_test_begin("test_auth_provider", 90);
    CHECK(realtime_set_auth_provider(NULL, on_auth, NULL) == REALTIME_STATUS_INVALID_ARGUMENT, "NULL client");
    rt_server *srv = rt_server_start(NULL);
    char url[128], id[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    provider p;
    rt_record r;

    NOTE("synchronous answers: a fresh token on every connection");
    rt_log *log = rt_log_new();
    realtime_client *c = start(url, "{\"autoConnect\":false,\"auth\":{\"token\":\"static\"}," FAST "}", &p, log, SYNC);
    expect_auth(srv, "{\"token\":\"t1\"}", id);
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");
    CHECK(rt_server_commandf(srv, 5000, "close-transport %s", id), "close-transport");
    CHECK(rt_log_wait(log, "disconnect", 5000, NULL), "no disconnect");
    expect_auth(srv, "{\"token\":\"t2\"}", id);
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no reconnect");
    CHECK(atomic_load(&p.calls) == 2, "provider called %d times for 2 connections", atomic_load(&p.calls));
    realtime_free(c);
    rt_log_free(log);

    NOTE("answered later from another thread: the CONNECT waits");
    log = rt_log_new();
    c = start(url, "{\"autoConnect\":false}", &p, log, ASYNC);
    expect_auth(srv, "{\"token\":\"async-1\"}", NULL);
    CHECK(rt_log_wait(log, "replied", 5000, &r), "the thread did not reply");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");
    pthread_join(p.thread, NULL);
    realtime_free(c);
    rt_log_free(log);

    NOTE("never answered: on_error after authTimeout, no connection; realtime_open asks again");
    log = rt_log_new();
    c = start(url, "{\"autoConnect\":false,\"authTimeout\":300}", &p, log, NEVER);
    int64_t t0 = rt_now_ms();
    CHECK(rt_log_wait(log, "error", 5000, &r), "no on_error");
    int64_t waited = rt_now_ms() - t0;
    NOTE("error \"%s\" after %lld ms", r.text, (long long)waited);
    CHECK(strstr(r.text, "did not answer within 300 ms") != NULL, "error %s", r.text);
    CHECK(waited >= 250, "timed out after %lld ms", (long long)waited);
    CHECK(!realtime_is_connected(c) && rt_server_queued(srv, "connection") == 0, "connected without auth");
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open again");
    CHECK(rt_log_wait_nth(log, "auth_request", 2, 5000, NULL), "open did not ask again");
    CHECK(rt_log_wait(log, "error", 5000, &r), "no second on_error");
    realtime_free(c);
    rt_log_free(log);

    NOTE("refused (expired token), then realtime_open with a fresh token connects");
    log = rt_log_new();
    c = start(url, "{\"autoConnect\":false}", &p, log, REFUSE_FIRST);
    CHECK(rt_log_wait(log, "error", 5000, &r), "no refusal");
    NOTE("refusal \"%s\" %s", r.text, r.data);
    CHECK(strcmp(r.text, "not authorized") == 0, "error %s", r.text);
    char line[1024];
    CHECK(rt_server_wait_event(srv, "refused", 5000, line, sizeof line), "server did not refuse");
    CHECK(realtime_open(c) == REALTIME_STATUS_OK, "open again");
    expect_auth(srv, "{\"token\":\"fresh\"}", NULL);
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect after the fresh token");
    CHECK(atomic_load(&p.calls) == 2, "provider called %d times", atomic_load(&p.calls));
    realtime_free(c);
    rt_log_free(log);

    NOTE("declined: on_error, no connection");
    log = rt_log_new();
    c = start(url, "{\"autoConnect\":false}", &p, log, DECLINE);
    CHECK(rt_log_wait(log, "error", 5000, &r), "no on_error");
    CHECK(strstr(r.text, "declined") != NULL, "error %s", r.text);
    CHECK(!realtime_is_connected(c) && rt_server_queued(srv, "connection") == 0, "connected after declining");
    realtime_free(c);
    rt_log_free(log);

    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
