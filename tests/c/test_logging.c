/* realtime_set_log_handler (issue 12, item 1): the library's own records, off by default, never a secret.
 *  - a bad level is refused with a message naming it;
 *  - a full session at TRACE — connect with secrets in the URL's user-info, the query, auth and headers;
 *    a namespace refused by the server; events in and out; the server restarted (transport close, a
 *    reconnect attempt with its delay); an attempt against a closed port — gives the state changes at
 *    info, the failures at warn, packets at trace; and not one record holds any of the secrets;
 *  - a minimum level filters (WARN: no info records);
 *  - a handler may call into the library and replace itself from inside (no deadlock, no recursion);
 *  - once realtime_set_log_handler returns, the previous handler is not running and never runs again. */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORDS 4096

typedef struct {
    realtime_log_level level;
    char target[64];
    char message[512];
} record;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static record records[MAX_RECORDS];
static int nrecords;
static atomic_int calls;

static void collect(void *user_data, realtime_log_level level, const char *target, const char *message) {
    (void)user_data;
    atomic_fetch_add(&calls, 1);
    pthread_mutex_lock(&lock);
    if (nrecords < MAX_RECORDS) {
        record *r = &records[nrecords++];
        r->level = level;
        snprintf(r->target, sizeof r->target, "%s", target);
        snprintf(r->message, sizeof r->message, "%s", message);
    }
    pthread_mutex_unlock(&lock);
}

/* The index of the first record at or after `from` of `level` whose message contains every one of the
 * NULL-terminated `parts`; -1 if none. */
static int find(int from, realtime_log_level level, const char *const *parts) {
    pthread_mutex_lock(&lock);
    int found = -1;
    for (int i = from; i < nrecords && found < 0; i++) {
        if (records[i].level != level) continue;
        int all = 1;
        for (const char *const *p = parts; *p && all; p++) all = strstr(records[i].message, *p) != NULL;
        if (all) found = i;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

#define FIND(level, ...) find(0, level, (const char *const[]){__VA_ARGS__, NULL})

static int wait_record(int from, realtime_log_level level, const char *const *parts, int timeout_ms) {
    int64_t end = rt_now_ms() + timeout_ms;
    int i;
    while ((i = find(from, level, parts)) < 0 && rt_now_ms() < end) rt_sleep_ms(5);
    return i;
}

#define WAIT_RECORD(level, ...) wait_record(0, level, (const char *const[]){__VA_ARGS__, NULL}, 5000)
#define WAIT_RECORD_FROM(from, level, ...) wait_record(from, level, (const char *const[]){__VA_ARGS__, NULL}, 5000)

static int records_so_far(void) {
    pthread_mutex_lock(&lock);
    int n = nrecords;
    pthread_mutex_unlock(&lock);
    return n;
}

static int count_level(realtime_log_level level, int from) {
    pthread_mutex_lock(&lock);
    int n = 0;
    for (int i = from; i < nrecords; i++) n += records[i].level == level;
    pthread_mutex_unlock(&lock);
    return n;
}

static const char *const SECRETS[] = {"SECRETUSER", "SECRETPASS", "SECRETQUERY", "SECRETAUTH", "SECRETBEARER",
                                      "SECRETCOOKIE", "SECRETREFUSED", "SECRETKEYHDR"};

/* A handler that calls into the library, then replaces itself by `collect` from inside. */
static realtime_client *reentrant_client;
static atomic_int reentrant_calls, reentrant_status = -1;
static void reentrant(void *user_data, realtime_log_level level, const char *target, const char *message) {
    (void)user_data, (void)level, (void)target, (void)message;
    if (atomic_fetch_add(&reentrant_calls, 1) == 0) {
        (void)realtime_is_connected(reentrant_client);
        (void)realtime_reconnect_now(reentrant_client); /* logs on this thread: dropped, no recursion */
        atomic_store(&reentrant_status, (int)realtime_set_log_handler(REALTIME_LOG_LEVEL_INFO, collect, NULL));
    }
}

/* A slow handler: the "running" flag shows a call under way. */
static atomic_int slow_running, slow_calls;
static void slow(void *user_data, realtime_log_level level, const char *target, const char *message) {
    (void)user_data, (void)level, (void)target, (void)message;
    atomic_store(&slow_running, 1);
    atomic_fetch_add(&slow_calls, 1);
    rt_sleep_ms(30);
    atomic_store(&slow_running, 0);
}

int main(void) {
    rt_test_begin("test_logging", 90);

    NOTE("a level outside 0..5 is refused and named");
    CHECK(realtime_set_log_handler((realtime_log_level)7, collect, NULL) == REALTIME_STATUS_INVALID_ARGUMENT, "level 7");
    CHECK(strstr(realtime_last_error(), "log level 7"), "message: %s", realtime_last_error());
    CHECK(realtime_set_log_handler(REALTIME_LOG_LEVEL_TRACE, collect, NULL) == REALTIME_STATUS_OK, "set: %s",
          realtime_last_error());

    rt_server *server = rt_server_start(NULL);
    int port = rt_server_port(server);
    char url[256], opts[1024];

    NOTE("a session with secrets in the user-info, the query, auth and headers");
    snprintf(url, sizeof url, "http://SECRETUSER:SECRETPASS@127.0.0.1:%d/?token=SECRETQUERY&room=r1", port);
    snprintf(opts, sizeof opts,
             "{\"query\":{\"apiKey\":\"SECRETQUERY\",\"lang\":\"en\"},\"auth\":{\"token\":\"SECRETAUTH\"},"
             "\"extraHeaders\":{\"Authorization\":\"Bearer SECRETBEARER\",\"Cookie\":\"sid=SECRETCOOKIE\","
             "\"X-Api-Key\":\"SECRETKEYHDR\"},\"reconnectionDelay\":100,\"reconnectionDelayMax\":100,"
             "\"randomizationFactor\":0}");
    rt_log *log = rt_log_new();
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log_attach(log, c);
    rt_record r;
    CHECK(rt_log_wait(log, "connect", 5000, &r), "no connect");
    CHECK(WAIT_RECORD(REALTIME_LOG_LEVEL_INFO, "connecting to", "[redacted]", "lang=en") >= 0, "no info 'connecting to'");
    char over[64];
    snprintf(over, sizeof over, "over %s", getenv("RT_TRANSPORTS") ? getenv("RT_TRANSPORTS") : "websocket");
    CHECK(WAIT_RECORD(REALTIME_LOG_LEVEL_INFO, "connected to", over, "pingInterval") >= 0, "no info 'connected ... %s'",
          over);
    CHECK(WAIT_RECORD(REALTIME_LOG_LEVEL_INFO, "namespace / connected") >= 0, "no info 'namespace / connected'");

    NOTE("events in and out: trace records, without the arguments");
    CHECK(realtime_emit(c, "echo", "[\"SECRETAUTH-in-args-is-app-data\"]") == REALTIME_STATUS_OK, "emit");
    CHECK(rt_server_commandf(server, 5000, "emit %s hello [1]", r.text), "server emit");
    CHECK(WAIT_RECORD(REALTIME_LOG_LEVEL_TRACE, "received Event", "namespace /") >= 0, "no trace of the event");

    NOTE("a namespace the server refuses: warn");
    char opts2[256];
    snprintf(opts2, sizeof opts2, "{\"auth\":{\"refuse\":true,\"session\":\"SECRETREFUSED\"}}");
    char url2[128];
    snprintf(url2, sizeof url2, "http://127.0.0.1:%d/", port);
    realtime_client *refused = realtime_new(url2, opts2);
    CHECK(refused != NULL, "realtime_new: %s", realtime_last_error());
    CHECK(WAIT_RECORD(REALTIME_LOG_LEVEL_WARN, "namespace / refused by the server") >= 0, "no warn for connect_error");
    realtime_free(refused);

    NOTE("the server restarted: disconnected (transport close), a reconnect attempt with its delay");
    CHECK(rt_server_restart(server), "restart");
    /* over polling a dead server is "transport error", as with socket.io-client (make c-tests-polling) */
    const char *reason = getenv("RT_TRANSPORTS") ? "transport error" : "transport close";
    CHECK(WAIT_RECORD(REALTIME_LOG_LEVEL_INFO, "disconnected from", reason) >= 0, "no info 'disconnected ... %s'", reason);
    CHECK(WAIT_RECORD(REALTIME_LOG_LEVEL_INFO, "reconnect attempt 1 in 100 ms") >= 0, "no info with the delay");
    CHECK(rt_log_wait(log, "reconnect", 10000, &r), "no reconnect");

    NOTE("an attempt against a closed port: warn with the reason");
    snprintf(url2, sizeof url2, "http://127.0.0.1:1/?key=SECRETQUERY");
    realtime_client *dead = realtime_new(url2, "{\"reconnection\":false}");
    CHECK(dead != NULL, "realtime_new: %s", realtime_last_error());
    CHECK(WAIT_RECORD(REALTIME_LOG_LEVEL_WARN, "connection attempt to", "failed") >= 0, "no warn for the failure");
    realtime_free(dead);

    NOTE("no record holds a secret (%d records)", records_so_far());
    pthread_mutex_lock(&lock);
    int infos = 0;
    for (int i = 0; i < nrecords; i++) {
        for (size_t s = 0; s < sizeof SECRETS / sizeof *SECRETS; s++)
            CHECK(!strstr(records[i].message, SECRETS[s]), "record %d holds %s: [%s] %s", i, SECRETS[s],
                  records[i].target, records[i].message);
        CHECK(strncmp(records[i].target, "realtime", 8) == 0, "target %s", records[i].target);
        CHECK(records[i].level >= REALTIME_LOG_LEVEL_ERROR && records[i].level <= REALTIME_LOG_LEVEL_TRACE, "level %d",
              (int)records[i].level);
        infos += records[i].level == REALTIME_LOG_LEVEL_INFO;
    }
    pthread_mutex_unlock(&lock);
    CHECK(infos >= 6, "only %d info records", infos);
    int shown = FIND(REALTIME_LOG_LEVEL_INFO, "connecting to", "[redacted]");
    NOTE("e.g. [%s] %s", records[shown].target, records[shown].message);

    NOTE("minimum level WARN: no info records");
    CHECK(realtime_set_log_handler(REALTIME_LOG_LEVEL_WARN, collect, NULL) == REALTIME_STATUS_OK, "set warn");
    int mark = records_so_far();
    CHECK(realtime_reconnect_now(c) == REALTIME_STATUS_OK, "reconnect_now");
    int connects = rt_log_count(log, "connect");
    CHECK(rt_log_wait_nth(log, "connect", connects + 1, 5000, &r), "no reconnect after reconnect_now");
    CHECK(count_level(REALTIME_LOG_LEVEL_INFO, mark) == 0 && count_level(REALTIME_LOG_LEVEL_TRACE, mark) == 0,
          "records below WARN arrived");

    NOTE("a handler that calls into the library and replaces itself from inside");
    reentrant_client = c;
    CHECK(realtime_set_log_handler(REALTIME_LOG_LEVEL_INFO, reentrant, NULL) == REALTIME_STATUS_OK, "set reentrant");
    mark = records_so_far();
    connects = rt_log_count(log, "connect");
    CHECK(realtime_reconnect_now(c) == REALTIME_STATUS_OK, "reconnect_now");
    CHECK(rt_log_wait_nth(log, "connect", connects + 1, 5000, &r), "no reconnect");
    int64_t end = rt_now_ms() + 5000;
    while (atomic_load(&reentrant_status) < 0 && rt_now_ms() < end) rt_sleep_ms(5);
    CHECK(atomic_load(&reentrant_status) == REALTIME_STATUS_OK, "set from inside: %d", atomic_load(&reentrant_status));
    CHECK(atomic_load(&reentrant_calls) >= 1, "reentrant handler never ran");
    int reentrant_before = atomic_load(&reentrant_calls);
    connects = rt_log_count(log, "connect");
    CHECK(realtime_reconnect_now(c) == REALTIME_STATUS_OK, "reconnect_now");
    CHECK(rt_log_wait_nth(log, "connect", connects + 1, 5000, &r), "no reconnect");
    CHECK(WAIT_RECORD_FROM(mark, REALTIME_LOG_LEVEL_INFO, "disconnected from") >= 0, "collect did not take over");
    CHECK(atomic_load(&reentrant_calls) == reentrant_before, "the replaced handler ran again");

    NOTE("after realtime_set_log_handler returns, the previous handler is not running and never runs again");
    for (int round = 0; round < 5; round++) {
        CHECK(realtime_set_log_handler(REALTIME_LOG_LEVEL_TRACE, slow, NULL) == REALTIME_STATUS_OK, "set slow");
        CHECK(realtime_reconnect_now(c) == REALTIME_STATUS_OK, "reconnect_now");
        end = rt_now_ms() + 5000;
        while (!atomic_load(&slow_running) && rt_now_ms() < end) rt_sleep_ms(1);
        CHECK(atomic_load(&slow_running), "the slow handler never ran");
        CHECK(realtime_set_log_handler(REALTIME_LOG_LEVEL_OFF, NULL, NULL) == REALTIME_STATUS_OK, "off");
        CHECK(!atomic_load(&slow_running), "a call of the old handler still runs after the set returned");
        int after = atomic_load(&slow_calls);
        connects = rt_log_count(log, "connect");
        CHECK(realtime_reconnect_now(c) == REALTIME_STATUS_OK, "reconnect_now");
        CHECK(rt_log_wait_nth(log, "connect", connects + 1, 5000, &r), "no reconnect");
        CHECK(atomic_load(&slow_calls) == after, "the old handler ran after the set returned");
    }

    realtime_free(c);
    rt_log_free(log);
    rt_server_free(server);
    rt_test_pass();
    return 0;
}
