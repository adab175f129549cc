/* test_hostile: a hostile server corpus (tests/server/hostile.js: raw ws/http, no socket.io). Each
 * scenario is picked by the URL query (?scenario=NAME) and runs against a fresh client. For each: no
 * crash, no hang (realtime_free returns quickly), the outcome socket.io-client gives, and reconnection as
 * socket.io-client would (a second request for the scenario arrives after the first one failed):
 *  - invalid handshakes (bad JSON, no sid, not an object, a non-open first packet, a binary first frame),
 *    a negative pingInterval, HTTP 500/403 with a body, a listener that never answers the upgrade:
 *    on_error (with the status and body for HTTP refusals), then a retry;
 *  - a pingInterval of 2^64-1: connected, no overflowing deadline; 1 kHz pings: all answered, still
 *    connected; an ack for an id never used: ignored; a CONNECT reply for a namespace never asked for:
 *    ignored;
 *  - an unknown Engine.IO packet type, a frame claiming 2^40 bytes, a text frame that is not UTF-8:
 *    "transport error" (engine.io-parser gives an error packet / the WebSocket fails);
 *  - an unknown Socket.IO type, attachment counts that lie (fewer frames than said, a placeholder out
 *    of range, 11 attachments, a negative count), a binary frame with no header, invalid JSON:
 *    "parse error" (socket.io-parser throws);
 *  - a close in the middle of a frame: "transport close";
 *  - a pingInterval of 0: ping timeouts, retried within the backoff (no busy loop). */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

enum outcome { CONNECT_ERROR, STAYS_CONNECTED, DISCONNECTS, RETRIES };

struct scenario {
    const char *name;
    enum outcome outcome;
    const char *detail; /* DISCONNECTS: the reason; CONNECT_ERROR: a substring of message or data;
                           STAYS_CONNECTED: an event the server sends afterwards (or NULL) */
};

static const struct scenario SCENARIOS[] = {
    {"bad_open_json", CONNECT_ERROR, "handshake"},
    {"open_no_sid", CONNECT_ERROR, "sid"},
    {"open_not_object", CONNECT_ERROR, "handshake"},
    {"not_open_first", CONNECT_ERROR, "handshake"},
    {"binary_first", CONNECT_ERROR, "handshake"},
    {"ping_negative", CONNECT_ERROR, "pingInterval"},
    {"http500", CONNECT_ERROR, "boom"},
    {"http403", CONNECT_ERROR, "Forbidden"},
    {"silent_upgrade", CONNECT_ERROR, "timeout"},
    {"ping_huge", STAYS_CONNECTED, NULL},
    {"ping_flood", STAYS_CONNECTED, "flood_over"},
    {"ack_unknown", STAYS_CONNECTED, "after_ack"},
    {"connect_unasked", STAYS_CONNECTED, NULL},
    {"unknown_engine_type", DISCONNECTS, "transport error"},
    {"oversized_frame", DISCONNECTS, "transport error"},
    {"invalid_utf8", DISCONNECTS, "transport error"},
    {"unknown_socket_type", DISCONNECTS, "parse error"},
    {"binary_fewer_than_said", DISCONNECTS, "parse error"},
    {"binary_placeholder_out_of_range", DISCONNECTS, "parse error"},
    {"binary_too_many", DISCONNECTS, "parse error"},
    {"binary_negative_count", DISCONNECTS, "parse error"},
    {"binary_no_header", DISCONNECTS, "parse error"},
    {"bad_json_event", DISCONNECTS, "parse error"},
    {"close_mid_frame", DISCONNECTS, "transport close"},
    {"ping_zero", RETRIES, NULL},
};

#define FREE_LIMIT_MS 500
#define ATTEMPT_TIMEOUT_MS 1000

static void on_event(void *log, const char *event, const char *args_json, const realtime_buffer *buffers,
                     size_t buffer_count, uint64_t ack_id) {
    (void)buffers;
    (void)buffer_count;
    (void)ack_id;
    rt_log_add(log, "event", event, args_json, 0);
}

/* Waits for the n-th request of this scenario at the server. */
static int wait_request(rt_server *srv, const char *name, int timeout_ms) {
    return rt_server_wait_event_where(srv, "conn", "scenario", name, timeout_ms, NULL, 0);
}

static void run(rt_server *srv, const struct scenario *sc) {
    NOTE("scenario %s", sc->name);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/?scenario=%s", rt_server_port(srv), sc->name);
    char opts[256];
    snprintf(opts, sizeof opts,
             "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":300,\"randomizationFactor\":0,\"timeout\":%d}",
             ATTEMPT_TIMEOUT_MS);
    rt_log *log = rt_log_new();
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "%s: realtime_new: %s", sc->name, realtime_last_error());
    rt_log_attach(log, c);
    CHECK(realtime_on_any(c, on_event, log) != 0, "on_any: %s", realtime_last_error());
    int64_t t0 = rt_now_ms();
    CHECK(wait_request(srv, sc->name, 5000), "%s: the client never reached the server", sc->name);
    rt_record r;

    switch (sc->outcome) {
    case CONNECT_ERROR: {
        CHECK(rt_log_wait_nth(log, "error", 1, ATTEMPT_TIMEOUT_MS + 4000, &r), "%s: no on_error", sc->name);
        CHECK(strstr(r.text, sc->detail) != NULL || strstr(r.data, sc->detail) != NULL,
              "%s: on_error(\"%s\", %s) does not mention \"%s\"", sc->name, r.text, r.data, sc->detail);
        if (strcmp(sc->name, "silent_upgrade") == 0) {
            int64_t dt = r.t_ms - t0;
            CHECK(dt >= ATTEMPT_TIMEOUT_MS - 100 && dt < ATTEMPT_TIMEOUT_MS + 3000,
                  "silent_upgrade: the attempt gave up after %lld ms (timeout %d ms)", (long long)dt,
                  ATTEMPT_TIMEOUT_MS);
        }
        CHECK(rt_log_count(log, "connect") == 0, "%s: connected anyway", sc->name);
        CHECK(rt_log_wait_nth(log, "reconnect_attempt", 1, 3000, NULL), "%s: no retry", sc->name);
        break;
    }
    case STAYS_CONNECTED: {
        CHECK(rt_log_wait_nth(log, "connect", 1, 5000, NULL), "%s: never connected", sc->name);
        if (sc->detail) {
            CHECK(rt_log_wait_nth(log, "event", 1, 6000, &r), "%s: the event after the abuse never came",
                  sc->name);
            CHECK(strcmp(r.text, sc->detail) == 0, "%s: event %s, want %s", sc->name, r.text, sc->detail);
        } else {
            rt_sleep_ms(700); /* a few of the handshake's nominal ping intervals: the deadline must not fire */
        }
        CHECK(realtime_is_connected(c), "%s: not connected", sc->name);
        if (rt_log_count(log, "disconnect") || rt_log_count(log, "error")) rt_log_dump(log, sc->name);
        CHECK(rt_log_count(log, "disconnect") == 0 && rt_log_count(log, "error") == 0,
              "%s: disconnect/error logged", sc->name);
        if (strcmp(sc->name, "connect_unasked") == 0) {
            char id[64];
            realtime_socket_id(c, id, sizeof id);
            CHECK(strcmp(id, "hostileSocket1") == 0, "socket id %s (the unasked namespace's sid leaked?)", id);
        }
        if (strcmp(sc->name, "ping_flood") == 0) {
            char line[256];
            double pongs = 0, pings = 0;
            CHECK(rt_server_wait_event_where(srv, "pongs", "scenario", sc->name, 3000, line, sizeof line),
                  "no pong count");
            CHECK(rt_json_get_number(line, "count", &pongs) && rt_json_get_number(line, "pings", &pings), "%s",
                  line);
            NOTE("  %.0f pongs for %.0f pings in 2 s (1 kHz)", pongs, pings);
            /* the heartbeat's own pings arrive too: at least one pong per flood ping */
            CHECK(pings >= 500 && pongs >= pings, "%.0f pongs for %.0f pings", pongs, pings);
        }
        break;
    }
    case DISCONNECTS: {
        CHECK(rt_log_wait_nth(log, "connect", 1, 5000, NULL), "%s: never connected", sc->name);
        CHECK(rt_log_wait_nth(log, "disconnect", 1, 5000, &r), "%s: no on_disconnect", sc->name);
        CHECK(strcmp(r.text, sc->detail) == 0, "%s: disconnect reason \"%s\", want \"%s\"", sc->name, r.text,
              sc->detail);
        CHECK(rt_log_wait_nth(log, "reconnect_attempt", 1, 3000, NULL), "%s: no reconnection", sc->name);
        CHECK(rt_log_wait_nth(log, "connect", 2, 5000, NULL), "%s: did not connect again", sc->name);
        break;
    }
    case RETRIES: {
        rt_sleep_ms(1500);
        int attempts = rt_log_count(log, "reconnect_attempt");
        /* each open resets the backoff (socket.io-client's onreconnect does too) and the zero heartbeat
         * window drops it at once: one attempt per 100 ms reconnectionDelay, ~15 in 1.5 s; a busy loop
         * would make hundreds */
        CHECK(attempts >= 1 && attempts <= 20, "%s: %d attempts in 1.5 s", sc->name, attempts);
        NOTE("  %d attempts in 1.5 s (backoff kept)", attempts);
        break;
    }
    }
    if (sc->outcome != STAYS_CONNECTED)
        CHECK(wait_request(srv, sc->name, 5000), "%s: the server saw no second request", sc->name);

    int64_t t_free = rt_now_ms();
    realtime_free(c);
    int64_t dt = rt_now_ms() - t_free;
    CHECK(dt < FREE_LIMIT_MS, "%s: realtime_free took %lld ms", sc->name, (long long)dt);
    CHECK(!rt_log_overlap(log), "%s: callbacks overlapped", sc->name);
    rt_log_free(log);
    rt_server_drain(srv, NULL);
}

int main(int argc, char **argv) {
    rt_test_begin("test_hostile", 240);
    setenv("REALTIME_TEST_SERVER", "tests/server/hostile.js", 1);
    rt_server *srv = rt_server_start(NULL);
    size_t n = sizeof SCENARIOS / sizeof SCENARIOS[0];
    size_t passed = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], SCENARIOS[i].name) != 0) continue;
        run(srv, &SCENARIOS[i]);
        passed++;
    }
    NOTE("%zu of %zu scenarios passed", passed, n);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
