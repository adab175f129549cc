/*
 * peer.h: helpers for the messaging tests (test_events, test_acks, test_binary, test_namespaces,
 * test_offline, test_recovery, test_channels).
 *
 *  - A JS peer: tests/server/peer.js, a socket.io-client 4.8 client of the test server, started through
 *    the harness's process machinery (`node server.js --peer --url ...`): its JSON lines are read with
 *    rt_server_wait_event*() on rt_peer.proc, commands are sent with rt_peer_cmd().
 *  - JSON: rt_jcanon() (canonical text: keys sorted, numbers normalised, no whitespace) to compare
 *    parsed JSON; rt_jarr_item() (raw text of an array element); hex helpers for binary checks.
 *  - rt_ev: a ready-made realtime_event_fn / realtime_ack_fn that records into an rt_log: kind is the
 *    tag given at registration, text the event name (or ack error), data the args JSON (or "") and
 *    n the ack id (events) or the number of buffers; the buffers are kept in an rt_bufstore.
 *
 * The Makefile builds each test_*.c with harness.c only, so a test uses these with
 *     #include "harness.h"
 *     #include "peer.c"
 */
#ifndef RT_PEER_H
#define RT_PEER_H

#include "harness.h"

#include <pthread.h>

typedef struct rt_peer {
    rt_server *proc; /* the node process; its lines: ready/connect/disconnect/recv/ack_answer/done */
    char id[64];     /* socket id after the first connect */
} rt_peer;

/* Start a JS peer connected to http://127.0.0.1:<port><nsp> with handshake auth `auth_json` (NULL: none;
 * must contain no whitespace). Waits for its first connect (fails the test otherwise). */
rt_peer *rt_peer_start(int port, const char *nsp, const char *auth_json);
/* printf-style command to the peer; waits for its "done" line. 1 ok / 0 failed. */
int rt_peer_cmd(rt_peer *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void rt_peer_free(rt_peer *p);
/* A peer in the shape of Agnost's client (--agnost: path /realtime/, autoJoinChannels, its auth JSON) on
 * the node at `port`, connected. */
rt_peer *rt_agnost_peer_start(int port, const char *auth_json);
/* The peer's next "recv" line named `name` whose text contains `needle` (others of that name are dropped);
 * its args into `out` when non-NULL. 1 when found within timeout_ms. */
int rt_peer_recv_about(rt_peer *p, const char *name, const char *needle, int timeout_ms, char *out, size_t len);

/* Canonical JSON text of `json` (malloc'd; NULL when it does not parse). */
char *rt_jcanon(const char *json);
/* 1 when both texts parse and are equal as JSON values. */
int rt_jeq(const char *a, const char *b);
/* Raw text of element i of the JSON array `arr` into out. 1 found / 0. */
int rt_jarr_item(const char *arr, int i, char *out, size_t len);
/* Number of elements of the JSON array `arr`, -1 if not an array. */
int rt_jarr_len(const char *arr);
/* Lower-case hex of len bytes into out (needs 2*len+1). */
void rt_hex(const uint8_t *data, size_t len, char *out);

/* ---- event / ack recording
 * One rt_ev per listener, each with its own record kind: the k-th record of that kind is the k-th call,
 * and its buffers are rt_ev_buf(ev, k, i). Callbacks of one client never overlap; the mutex protects the
 * store against the test thread reading it. */
#define RT_EV_MAX 8192
typedef struct rt_ev_bufs {
    size_t count;
    uint8_t *data[10];
    size_t len[10];
} rt_ev_bufs;

typedef struct rt_ev {
    rt_log *log;
    char kind[32];             /* record kind */
    realtime_client *client;   /* for auto_ack */
    const char *auto_ack;      /* non-NULL: answer every ack request at once with this JSON array text */
    pthread_mutex_t mu;
    int calls;
    rt_ev_bufs *bufs[RT_EV_MAX]; /* by call number (1-based), allocated lazily */
} rt_ev;

rt_ev *rt_ev_new(rt_log *log, const char *kind);
void rt_ev_free(rt_ev *ev);
/* realtime_event_fn: records kind, text=event, data=args_json, n=ack_id. */
void rt_ev_event(void *ev, const char *event, const char *args_json, const realtime_buffer *buffers,
                 size_t buffer_count, uint64_t ack_id);
/* realtime_ack_fn: records kind, text=error or "", data=args_json or "", n=buffer_count. */
void rt_ev_ack(void *ev, const char *error, const char *args_json, const realtime_buffer *buffers,
               size_t buffer_count);
/* realtime_channel_fn: records kind, text=member_id or "(null)", data={"channel":..,"data":..} canonical. */
void rt_ev_channel(void *ev, const char *channel, const char *member_id, const char *data_json);
/* realtime_members_fn: records kind, text=error or "", data=members_json or "". */
void rt_ev_members(void *ev, const char *error, const char *members_json);
/* Buffers of call nth (1-based): count, and buffer i's bytes (copy into *len). */
size_t rt_ev_buf_count(rt_ev *ev, int nth);
const uint8_t *rt_ev_buf(rt_ev *ev, int nth, size_t i, size_t *len);

#endif
