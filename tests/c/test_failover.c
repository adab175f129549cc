/* failoverUrls (issue 12, item 6): several servers of one cluster, tried in turn after a failed attempt.
 * Two nodes of the Agnost service (tests/server/agnost.js) share a real redis-server through
 * @socket.io/redis-adapter; the C client starts on node A with node B as its failover URL, a JS peer
 * (socket.io-client, Agnost's shape) sits on node B in channel "room".
 *  - a bad failover URL is refused with its index; one with a path too;
 *  - on node A: stats "url" names node A; channel messages flow both ways through Redis;
 *  - node A killed: the attempt on A fails, the client moves to B (log "failing over to", stats "url"),
 *    re-joins "room" there (the peer sees the join), the message sent while offline arrives, and the
 *    peer and C exchange messages again;
 *  - node A restarted and node B killed: the client moves back to A (round robin). */
#include "harness.h"
#include "peer.c"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_ANN "{\"envId\":\"env1\",\"apiKey\":\"key1\",\"session\":\"sess-ann\"}"
#define AUTH_BOB "{\"envId\":\"env1\",\"apiKey\":\"key1\",\"session\":\"sess-bob\",\"echoMessages\":true}"

static void on_chat(void *ud, const char *channel, const char *member_id, const char *data_json) {
    (void)member_id;
    rt_log_add(ud, "chat", channel ? channel : "(null)", data_json, 0);
}

/* Log records containing "failing over to". */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int failovers;
static char last_failover[512];
static void on_log(void *ud, realtime_log_level level, const char *target, const char *message) {
    (void)ud, (void)level, (void)target;
    if (!strstr(message, "failing over to")) return;
    pthread_mutex_lock(&lock);
    failovers++;
    snprintf(last_failover, sizeof last_failover, "%s", message);
    pthread_mutex_unlock(&lock);
}

/* The scheme stats "url" shows: the transport's (make c-tests-polling runs this over polling). */
static const char *scheme(void) {
    const char *t = getenv("RT_TRANSPORTS");
    return t != NULL && strcmp(t, "polling") == 0 ? "http" : "ws";
}

static void stats_url(realtime_client *c, char *out, size_t len) {
    char stats[4096];
    CHECK(realtime_stats_json(c, stats, sizeof stats) > 0, "stats: %s", realtime_last_error());
    CHECK(rt_json_get_string(stats, "url", out, len), "no url in %s", stats);
}

/* C's chat log gets `want` (a JSON text) within 10 s */
static void wait_chat(rt_log *log, const char *want) {
    int64_t end = rt_now_ms() + 10000;
    for (;;) {
        for (int i = 1; i <= rt_log_count(log, "chat"); i++) {
            rt_record r;
            if (rt_log_wait_nth(log, "chat", i, 0, &r) && rt_jeq(r.data, want)) return;
        }
        CHECK(rt_now_ms() < end, "C never got %s", want);
        rt_sleep_ms(5);
    }
}

int main(void) {
    rt_test_begin("test_failover", 120);
    rt_server *redis = rt_server_start("--redis");
    char args[256];
    snprintf(args, sizeof args, "--agnost --redis-port %d", rt_server_port(redis));
    rt_server *na = rt_server_start(args), *nb = rt_server_start(args);
    int pa = rt_server_port(na), pb = rt_server_port(nb);
    NOTE("redis on %d, node A on %d, node B on %d", rt_server_port(redis), pa, pb);
    char url[128], opts[1024], buf[8192], want[256], got[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", pa);

    NOTE("bad failover URLs are refused with their index");
    CHECK(realtime_new(url, "{\"failoverUrls\":[\"http://127.0.0.1:1\",\"ftp://x\"]}") == NULL, "ftp accepted");
    CHECK(strstr(realtime_last_error(), "failoverUrls[1]"), "message: %s", realtime_last_error());
    CHECK(realtime_new(url, "{\"failoverUrls\":[\"http://127.0.0.1:1/admin\"]}") == NULL, "a path accepted");
    CHECK(strstr(realtime_last_error(), "has a path"), "message: %s", realtime_last_error());
    CHECK(realtime_new(url, "{\"failoverUrls\":\"http://127.0.0.1:1\"}") == NULL, "a string accepted");

    rt_peer *peer = rt_agnost_peer_start(pb, AUTH_BOB);
    CHECK(rt_peer_cmd(peer, "join room"), "peer join");
    CHECK(rt_peer_recv_about(peer, "channel:join", peer->id, 5000, NULL, 0), "peer: no own join");

    CHECK(realtime_set_log_handler(REALTIME_LOG_LEVEL_INFO, on_log, NULL) == REALTIME_STATUS_OK, "log handler");
    snprintf(opts, sizeof opts,
             "{\"path\":\"/realtime/\",\"auth\":%s,\"failoverUrls\":[\"http://127.0.0.1:%d\"],\"reconnectionDelay\":100,"
             "\"reconnectionDelayMax\":200,\"randomizationFactor\":0}",
             AUTH_ANN, pb);
    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_on_message(c, "chat", on_chat, log) > 0, "on_message");
    CHECK(realtime_join(c, "room") == REALTIME_STATUS_OK, "join");
    rt_record r;
    CHECK(rt_log_wait(log, "connect", 5000, &r), "no connect");
    char cid[512];
    snprintf(cid, sizeof cid, "%s", r.text);
    stats_url(c, got, sizeof got);
    snprintf(want, sizeof want, "%s://127.0.0.1:%d", scheme(), pa);
    CHECK(strcmp(got, want) == 0, "url %s, want %s", got, want);
    CHECK(rt_peer_recv_about(peer, "channel:join", cid, 5000, NULL, 0), "the peer did not see C join");

    NOTE("on node A: messages both ways through Redis");
    CHECK(rt_peer_cmd(peer, "send room chat {\"from\":\"peer\",\"n\":1}"), "peer send");
    wait_chat(log, "{\"from\":\"peer\",\"n\":1}");
    CHECK(realtime_send(c, "room", "chat", "{\"from\":\"c\",\"n\":1}") == REALTIME_STATUS_OK, "send");
    CHECK(rt_peer_recv_about(peer, "chat", "\"n\":1", 5000, buf, sizeof buf), "peer: no chat from C");

    NOTE("node A killed: C fails over to node B, keeps its channel and its offline message");
    rt_server_kill(na);
    CHECK(rt_log_wait(log, "disconnect", 5000, &r), "no disconnect");
    CHECK(realtime_send(c, "room", "chat", "{\"from\":\"c\",\"n\":2,\"offline\":true}") == REALTIME_STATUS_OK,
          "offline send");
    CHECK(rt_log_wait_nth(log, "connect", 2, 10000, &r), "no connect on node B");
    snprintf(cid, sizeof cid, "%s", r.text);
    stats_url(c, got, sizeof got);
    snprintf(want, sizeof want, "%s://127.0.0.1:%d", scheme(), pb);
    CHECK(strcmp(got, want) == 0, "url %s, want %s", got, want);
    pthread_mutex_lock(&lock);
    CHECK(failovers >= 1 && strstr(last_failover, want), "log: %d failovers, last \"%s\"", failovers, last_failover);
    NOTE("log: %s", last_failover);
    pthread_mutex_unlock(&lock);
    CHECK(rt_peer_recv_about(peer, "channel:join", cid, 5000, NULL, 0), "the peer did not see C re-join on node B");
    CHECK(rt_peer_recv_about(peer, "chat", "\"offline\":true", 5000, buf, sizeof buf), "the offline message was lost");
    CHECK(rt_peer_cmd(peer, "send room chat {\"from\":\"peer\",\"n\":3}"), "peer send");
    wait_chat(log, "{\"from\":\"peer\",\"n\":3}");
    CHECK(realtime_send(c, "room", "chat", "{\"from\":\"c\",\"n\":4}") == REALTIME_STATUS_OK, "send");
    CHECK(rt_peer_recv_about(peer, "chat", "\"n\":4", 5000, buf, sizeof buf), "peer: no chat from C on node B");

    NOTE("node A back, node B killed: C moves back to node A (round robin)");
    CHECK(rt_server_restart(na), "restart A");
    rt_server_kill(nb);
    CHECK(rt_log_wait_nth(log, "connect", 3, 10000, &r), "no connect back on node A");
    stats_url(c, got, sizeof got);
    snprintf(want, sizeof want, "%s://127.0.0.1:%d", scheme(), pa);
    CHECK(strcmp(got, want) == 0, "url %s, want %s", got, want);
    CHECK(realtime_is_connected(c), "not connected");

    CHECK(realtime_set_log_handler(REALTIME_LOG_LEVEL_OFF, NULL, NULL) == REALTIME_STATUS_OK, "log off");
    realtime_free(c);
    rt_log_free(log);
    rt_peer_free(peer);
    rt_server_free(nb);
    rt_server_free(na);
    rt_server_free(redis);
    rt_test_pass();
    return 0;
}
