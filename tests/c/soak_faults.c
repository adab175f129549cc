/* soak_faults: a seeded fault soak against the real server (not a test_* program: `make soak-short`
 * runs it for ~30 s, `make soak` until 1,000 faults).
 *
 * Four clients, each on "/" and on "/admin" (realtime_new_namespace: 8 sockets on 4 connections), emit
 * numbered messages: with acks and `retries` (at-least-once), with acks and no retries, and plain
 * emits. Meanwhile, every 150-600 ms, a random fault (seeded; RT_SOAK_SEED or --seed): the server
 * killed and restarted on the same port, the server frozen (SIGSTOP) beyond the heartbeat then thawed,
 * a server-side transport drop (close-transport), realtime_reconnect_now, a client close then open.
 *
 * Asserted: no acked message is missing from what the server received (0 lost), every socket connected
 * at the end, every ack callback settled, no crash. Counted and printed: faults by kind, sent, acked,
 * ack errors, received, duplicates (retries are at-least-once), plain emits received.
 *
 * Usage: soak_faults [--seconds S] [--faults N] [--seed X]   (stops at whichever comes first;
 * default --seconds 30) */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CLIENTS 4
#define SOCKETS (CLIENTS * 2)
#define MAX_MESSAGES 400000
#define MAX_OUTSTANDING 16

enum kind { WITH_RETRIES, WITH_ACK, PLAIN, KINDS };
static const char *KIND_NAMES[KINDS] = {"ack+retries", "ack", "plain"};

typedef struct stream stream;
typedef struct msg_ctx {
    stream *s;
    int n;
} msg_ctx;

struct stream {
    int index;
    enum kind kind;
    realtime_client *client;
    pthread_t thread;
    atomic_int sent;    /* emits accepted (status OK) */
    atomic_int refused; /* emits refused (buffer full, ...) */
    atomic_int acked;
    atomic_int ack_errors;
    int attempted;
    msg_ctx *ctx;                 /* [MAX_MESSAGES] */
    _Atomic unsigned char *state; /* [MAX_MESSAGES]: 1 sent, 2 acked, 3 ack error */
    unsigned short *received;     /* [MAX_MESSAGES]: times the server logged it */
};

static stream streams[SOCKETS];
static atomic_bool stop_emitting;
static uint64_t rng_state;

static uint64_t next_random(void) { /* xorshift64*: seeded, reproducible fault sequence */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static int random_below(int n) { return (int)(next_random() % (uint64_t)n); }

static void on_ack(void *user_data, const char *error, const char *args_json, const realtime_buffer *buffers,
                   size_t buffer_count) {
    (void)args_json;
    (void)buffers;
    (void)buffer_count;
    msg_ctx *m = user_data;
    if (error == NULL) {
        atomic_store(&m->s->state[m->n], 2);
        atomic_fetch_add(&m->s->acked, 1);
    } else {
        atomic_store(&m->s->state[m->n], 3);
        atomic_fetch_add(&m->s->ack_errors, 1);
    }
}

static int outstanding(stream *s) {
    return atomic_load(&s->sent) - atomic_load(&s->acked) - atomic_load(&s->ack_errors);
}

static void *emitter(void *arg) {
    stream *s = arg;
    while (!atomic_load(&stop_emitting) && s->attempted < MAX_MESSAGES) {
        if (s->kind != PLAIN && outstanding(s) >= MAX_OUTSTANDING) {
            rt_sleep_ms(5);
            continue;
        }
        int n = s->attempted++;
        char args[64];
        snprintf(args, sizeof args, "[\"S%d-%d\"]", s->index, n);
        s->ctx[n] = (msg_ctx){.s = s, .n = n};
        realtime_status st;
        atomic_store(&s->state[n], 1);
        if (s->kind == PLAIN) {
            st = realtime_emit(s->client, "soak", args);
        } else {
            /* "ack": the server answers with the arguments */
            st = realtime_emit_with_ack(s->client, "ack", args, s->kind == WITH_ACK ? 3000 : 0, on_ack, &s->ctx[n]);
        }
        if (st == REALTIME_STATUS_OK) {
            atomic_fetch_add(&s->sent, 1);
        } else {
            atomic_store(&s->state[n], 0);
            atomic_fetch_add(&s->refused, 1);
        }
        rt_sleep_ms(10);
    }
    return NULL;
}

/* Takes every queued "message" line and counts what the server received. */
static int consume_server_lines(rt_server *srv) {
    char line[4096];
    int taken = 0;
    while (rt_server_wait_event(srv, "message", 0, line, sizeof line)) {
        taken++;
        const char *p = strstr(line, "\"args\":[\"S");
        int si, n;
        if (!p || sscanf(p + 10, "%d-%d", &si, &n) != 2 || si < 0 || si >= SOCKETS || n < 0 || n >= MAX_MESSAGES)
            continue;
        if (streams[si].received[n] < 65535) streams[si].received[n]++;
    }
    rt_server_drain(srv, "connection");
    rt_server_drain(srv, "disconnect");
    rt_server_drain(srv, "connection_error");
    return taken;
}

enum fault { KILL_RESTART, FREEZE, TRANSPORT_DROP, RECONNECT_NOW, CLOSE_OPEN, FAULTS };
static const char *FAULT_NAMES[FAULTS] = {"kill+restart", "SIGSTOP beyond heartbeat", "server transport drop",
                                          "reconnect_now", "client close/open"};

static int inject(rt_server *srv, enum fault f) {
    stream *s = &streams[random_below(SOCKETS)];
    switch (f) {
    case KILL_RESTART:
        rt_server_kill(srv);
        rt_sleep_ms(random_below(300));
        CHECK(rt_server_restart(srv), "the server did not restart on its port");
        return 1;
    case FREEZE:
        rt_server_freeze(srv);
        rt_sleep_ms(700 + random_below(400)); /* heartbeat window: 300 + 200 ms */
        rt_server_thaw(srv);
        return 1;
    case TRANSPORT_DROP: {
        char id[64];
        if (realtime_socket_id(s->client, id, sizeof id) == 0) return 0;
        return rt_server_commandf(srv, 3000, "close-transport %s", id);
    }
    case RECONNECT_NOW:
        CHECK(realtime_reconnect_now(s->client) == REALTIME_STATUS_OK, "reconnect_now: %s", realtime_last_error());
        return 1;
    case CLOSE_OPEN:
        CHECK(realtime_close(s->client) == REALTIME_STATUS_OK, "close: %s", realtime_last_error());
        rt_sleep_ms(50 + random_below(250));
        CHECK(realtime_open(s->client) == REALTIME_STATUS_OK, "open: %s", realtime_last_error());
        return 1;
    default:
        return 0;
    }
}

static int all_connected(void) {
    for (int i = 0; i < SOCKETS; i++)
        if (!realtime_is_connected(streams[i].client)) return 0;
    return 1;
}

int main(int argc, char **argv) {
    int seconds = 30, max_faults = 0;
    uint64_t seed = 20261203;
    const char *env_seed = getenv("RT_SOAK_SEED");
    if (env_seed) seed = strtoull(env_seed, NULL, 0);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0) seconds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--faults") == 0) max_faults = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0) seed = strtoull(argv[i + 1], NULL, 0);
    }
    if (max_faults > 0 && seconds == 30) seconds = 3600;
    rng_state = seed ? seed : 1;
    rt_test_begin("soak_faults", seconds + 180);
    NOTE("seed %llu, up to %d s%s", (unsigned long long)seed, seconds, max_faults ? "" : " (no fault limit)");
    if (max_faults) NOTE("stops after %d faults", max_faults);

    rt_server *srv = rt_server_start(NULL); /* pingInterval 300, pingTimeout 200 */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", rt_server_port(srv));
    for (int c = 0; c < CLIENTS; c++) {
        for (int ns = 0; ns < 2; ns++) {
            stream *s = &streams[c * 2 + ns];
            s->index = c * 2 + ns;
            s->kind = (enum kind)(s->index % KINDS);
            s->ctx = calloc(MAX_MESSAGES, sizeof *s->ctx);
            s->state = calloc(MAX_MESSAGES, sizeof *s->state);
            s->received = calloc(MAX_MESSAGES, sizeof *s->received);
            CHECK(s->ctx && s->state && s->received, "calloc");
            const char *socket_opts = s->kind == WITH_RETRIES ? "\"retries\":3,\"ackTimeout\":1500" : "";
            char opts[256];
            if (ns == 0) {
                snprintf(opts, sizeof opts,
                         "{\"reconnectionDelay\":50,\"reconnectionDelayMax\":300,\"timeout\":1000%s%s}",
                         socket_opts[0] ? "," : "", socket_opts);
                s->client = realtime_new(url, opts);
            } else {
                snprintf(opts, sizeof opts, "{%s}", socket_opts);
                s->client = realtime_new_namespace(streams[c * 2].client, "/admin", opts);
            }
            CHECK(s->client != NULL, "client %d: %s", s->index, realtime_last_error());
        }
    }
    int64_t start = rt_now_ms();
    while (!all_connected()) {
        CHECK(rt_now_ms() - start < 10000, "the sockets did not all connect");
        rt_sleep_ms(20);
    }
    for (int i = 0; i < SOCKETS; i++)
        CHECK(pthread_create(&streams[i].thread, NULL, emitter, &streams[i]) == 0, "pthread_create");

    int faults[FAULTS] = {0}, total_faults = 0;
    int64_t end = rt_now_ms() + (int64_t)seconds * 1000;
    int64_t next_report = rt_now_ms() + 10000;
    while (rt_now_ms() < end && (!max_faults || total_faults < max_faults)) {
        rt_sleep_ms(150 + random_below(450));
        enum fault f = (enum fault)random_below(FAULTS);
        if (inject(srv, f)) {
            faults[f]++;
            total_faults++;
        }
        consume_server_lines(srv);
        if (rt_now_ms() >= next_report) {
            int sent = 0;
            for (int i = 0; i < SOCKETS; i++) sent += atomic_load(&streams[i].sent);
            NOTE("  %lld s: %d faults, %d messages sent", (long long)(rt_now_ms() - start) / 1000, total_faults, sent);
            next_report += 10000;
        }
    }
    atomic_store(&stop_emitting, true);
    for (int i = 0; i < SOCKETS; i++) pthread_join(streams[i].thread, NULL);

    NOTE("faults stopped; waiting for every socket to connect and every ack to settle");
    int64_t settle_start = rt_now_ms();
    int settled = 0;
    while (rt_now_ms() - settle_start < 30000) {
        consume_server_lines(srv);
        int pending = 0;
        for (int i = 0; i < SOCKETS; i++)
            if (streams[i].kind != PLAIN) pending += outstanding(&streams[i]);
        if (all_connected() && pending == 0) {
            settled = 1;
            break;
        }
        rt_sleep_ms(50);
    }
    int connected = 0;
    for (int i = 0; i < SOCKETS; i++) connected += realtime_is_connected(streams[i].client) ? 1 : 0;
    rt_sleep_ms(300); /* the last plain emits */
    CHECK(rt_server_command(srv, "ping", 5000), "server ping"); /* its earlier lines are all read now */
    consume_server_lines(srv);

    long sent[KINDS] = {0}, acked[KINDS] = {0}, errors[KINDS] = {0}, refused[KINDS] = {0}, received[KINDS] = {0},
         dups[KINDS] = {0}, lost[KINDS] = {0}, unsettled[KINDS] = {0};
    for (int i = 0; i < SOCKETS; i++) {
        stream *s = &streams[i];
        sent[s->kind] += atomic_load(&s->sent);
        acked[s->kind] += atomic_load(&s->acked);
        errors[s->kind] += atomic_load(&s->ack_errors);
        refused[s->kind] += atomic_load(&s->refused);
        for (int n = 0; n < s->attempted; n++) {
            unsigned char st = atomic_load(&s->state[n]);
            if (s->received[n] > 0) received[s->kind]++;
            if (s->received[n] > 1) dups[s->kind] += s->received[n] - 1;
            if (st == 2 && s->received[n] == 0) {
                if (lost[s->kind]++ < 5) NOTE("  LOST: S%d-%d was acked but the server never logged it", i, n);
            }
            if (st == 1 && s->kind != PLAIN) unsettled[s->kind]++;
        }
    }
    NOTE("faults: %d in %lld s", total_faults, (long long)(rt_now_ms() - start) / 1000);
    for (int f = 0; f < FAULTS; f++) NOTE("  %-26s %d", FAULT_NAMES[f], faults[f]);
    long total_lost = 0;
    for (int k = 0; k < KINDS; k++) {
        NOTE("%-12s sent %ld, refused %ld, acked %ld, ack errors %ld, received %ld, duplicates %ld, acked+lost %ld",
             KIND_NAMES[k], sent[k], refused[k], acked[k], errors[k], received[k], dups[k], lost[k]);
        total_lost += lost[k];
    }
    NOTE("connected at the end: %d of %d sockets", connected, SOCKETS);
    CHECK(total_lost == 0, "%ld acked messages never reached the server", total_lost);
    CHECK(connected == SOCKETS, "only %d of %d sockets connected at the end", connected, SOCKETS);
    CHECK(settled && unsettled[WITH_RETRIES] + unsettled[WITH_ACK] == 0, "%ld ack callbacks never ran",
          unsettled[WITH_RETRIES] + unsettled[WITH_ACK]);
    CHECK(total_faults > 0 && acked[WITH_RETRIES] > 0 && acked[WITH_ACK] > 0, "nothing happened");
    if (max_faults) CHECK(total_faults >= max_faults, "only %d faults", total_faults);

    for (int i = SOCKETS - 1; i >= 0; i--) realtime_free(streams[i].client);
    rt_server_free(srv);
    for (int i = 0; i < SOCKETS; i++) {
        free(streams[i].ctx);
        free((void *)streams[i].state);
        free(streams[i].received);
    }
    rt_test_pass();
    return 0;
}
