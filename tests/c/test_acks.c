/* test_acks: acknowledgements in both directions.
 *  - C asks the server: realtime_emit_with_ack("echo", args) -> the callback gets the server's answer
 *    (the same args), error NULL, exactly once;
 *  - per-call timeout: an event the server never answers, timeout 300 ms -> "operation has timed out"
 *    after ~300 ms, once; the `ackTimeout` option is the default when timeout_ms is 0;
 *  - the server asks C (server command emit-ack): the listener gets ack_id != 0; realtime_ack from
 *    inside the callback and, for another request, later from the test thread; the server receives the
 *    exact answer; a second answer -> REALTIME_STATUS_UNKNOWN_ACK; an unknown id -> UNKNOWN_ACK; not
 *    answering is allowed (the server's own timeout fires, the connection stays up);
 *  - a pending ack fails with "socket has been disconnected" when the transport drops; an emit with ack
 *    made while offline stays buffered and gets its answer after the reconnect; an ack request of the
 *    previous connection can no longer be answered (UNKNOWN_ACK). */
#include "harness.h"
#include "peer.c"

#include <stdlib.h>
#include <string.h>

#define OPTS "{\"reconnectionDelay\":300,\"reconnectionDelayMax\":300,\"randomizationFactor\":0}"

int main(void) {
    rt_test_begin("test_acks", 90);
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));

    realtime_client *c = realtime_new(url, OPTS);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    rt_ev *answers = rt_ev_new(log, "answer");
    rt_ev *timeouts = rt_ev_new(log, "timeout");
    rt_ev *question = rt_ev_new(log, "question");
    rt_ev *later = rt_ev_new(log, "later");
    question->client = c;
    question->auto_ack = "[\"answer\",{\"x\":1,\"list\":[true,null]}]";
    CHECK(realtime_on(c, "question", rt_ev_event, question) > 0, "on question");
    CHECK(realtime_on(c, "later", rt_ev_event, later) > 0, "on later");

    char cid[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid, sizeof cid), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");

    /* ---- C asks the server */
    const char *args = "[\"a\",{\"n\":[1,2,3]},null]";
    NOTE("realtime_emit_with_ack(\"echo\", %s) -> the server's answer", args);
    CHECK(realtime_emit_with_ack(c, "echo", args, 5000, rt_ev_ack, answers) == REALTIME_STATUS_OK, "emit_with_ack: %s",
          realtime_last_error());
    rt_record r;
    CHECK(rt_log_wait_nth(log, "answer", 1, 5000, &r), "no ack answer");
    NOTE("answer: error \"%s\" args %s", r.text, r.data);
    CHECK(r.text[0] == '\0', "ack error '%s'", r.text);
    CHECK(rt_jeq(r.data, args), "ack args %s != %s", r.data, args);
    char line[8192];
    CHECK(rt_server_wait_event_where(srv, "message", "name", "echo", 5000, line, sizeof line), "server: no echo");
    CHECK(strstr(line, "\"ack\":true"), "the server saw no ack request: %s", line);
    CHECK(realtime_emit_with_ack(c, "echo", args, 0, NULL, NULL) == REALTIME_STATUS_INVALID_ARGUMENT,
          "emit_with_ack with a NULL callback must be INVALID_ARGUMENT");

    NOTE("an empty ack answer: \"ack\" handler called with no arguments -> args []");
    CHECK(realtime_emit_with_ack(c, "ack", NULL, 5000, rt_ev_ack, answers) == REALTIME_STATUS_OK, "emit_with_ack");
    CHECK(rt_log_wait_nth(log, "answer", 2, 5000, &r), "no ack answer");
    CHECK(r.text[0] == '\0' && rt_jeq(r.data, "[]"), "empty answer: error '%s' args %s", r.text, r.data);

    /* ---- per-call timeout */
    NOTE("per-call timeout 300 ms on an event the server never answers");
    int64_t t0 = rt_now_ms();
    CHECK(realtime_emit_with_ack(c, "noanswer", "[1]", 300, rt_ev_ack, timeouts) == REALTIME_STATUS_OK, "emit");
    CHECK(rt_log_wait_nth(log, "timeout", 1, 5000, &r), "no timeout");
    int64_t dt = r.t_ms - t0;
    NOTE("error \"%s\" after %lld ms", r.text, (long long)dt);
    CHECK(strcmp(r.text, "operation has timed out") == 0, "error '%s'", r.text);
    CHECK(r.data[0] == '\0', "args on a timeout: %s", r.data);
    CHECK(dt >= 250 && dt < 2000, "timed out after %lld ms, want ~300", (long long)dt);

    /* ---- ackTimeout option */
    NOTE("ackTimeout option (400 ms) is the default when timeout_ms is 0");
    realtime_client *c2 = realtime_new(url, "{\"ackTimeout\":400}");
    CHECK(c2 != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log2 = rt_log_new();
    rt_log_attach(log2, c2);
    rt_ev *t2 = rt_ev_new(log2, "timeout");
    CHECK(rt_log_wait(log2, "connect", 5000, NULL), "c2: no on_connect");
    t0 = rt_now_ms();
    CHECK(realtime_emit_with_ack(c2, "noanswer", "[2]", 0, rt_ev_ack, t2) == REALTIME_STATUS_OK, "emit");
    CHECK(rt_log_wait_nth(log2, "timeout", 1, 5000, &r), "no timeout with ackTimeout");
    dt = r.t_ms - t0;
    NOTE("error \"%s\" after %lld ms", r.text, (long long)dt);
    CHECK(strcmp(r.text, "operation has timed out") == 0, "error '%s'", r.text);
    CHECK(dt >= 350 && dt < 2500, "timed out after %lld ms, want ~400", (long long)dt);
    NOTE("a per-call timeout overrides ackTimeout: 1500 ms on an answered event -> the answer");
    CHECK(realtime_emit_with_ack(c2, "echo", "[3]", 1500, rt_ev_ack, t2) == REALTIME_STATUS_OK, "emit");
    CHECK(rt_log_wait_nth(log2, "timeout", 2, 5000, &r), "no answer");
    CHECK(r.text[0] == '\0' && rt_jeq(r.data, "[3]"), "error '%s' args %s", r.text, r.data);
    rt_sleep_ms(600); /* proving the callback does not run a second time */
    CHECK(rt_log_count(log2, "timeout") == 2, "an ack callback ran more than once");
    realtime_free(c2);
    rt_ev_free(t2);
    rt_log_free(log2);
    rt_server_drain(srv, NULL);

    /* ---- the server asks C: answered from inside the callback */
    NOTE("server emit-ack \"question\": C answers from inside the callback");
    CHECK(rt_server_commandf(srv, 5000, "emit-ack q1 %s 3000 question [\"what?\",7]", cid), "emit-ack");
    CHECK(rt_log_wait_nth(log, "question", 1, 5000, &r), "no question event");
    NOTE("question args %s ack_id %lld", r.data, (long long)r.n);
    CHECK(r.n != 0, "ack_id 0 for an event with an ack request");
    CHECK(rt_jeq(r.data, "[\"what?\",7]"), "question args %s", r.data);
    CHECK(rt_server_wait_event_where(srv, "ack_answer", "tag", "q1", 5000, line, sizeof line), "server: no answer");
    char ans[4096];
    CHECK(rt_json_get_raw(line, "args", ans, sizeof ans), "line %s", line);
    NOTE("server got %s", line);
    CHECK(strstr(line, "\"err\":null"), "server ack error: %s", line);
    CHECK(rt_jeq(ans, question->auto_ack), "server got %s, C answered %s", ans, question->auto_ack);
    CHECK(rt_log_count(log, "auto_ack_failed") == 0, "realtime_ack inside the callback failed");
    uint64_t qid = (uint64_t)r.n;
    CHECK(realtime_ack(c, qid, "[\"again\"]") == REALTIME_STATUS_UNKNOWN_ACK, "second answer not refused");
    NOTE("second answer -> UNKNOWN_ACK: \"%s\"", realtime_last_error());
    CHECK(strlen(realtime_last_error()) > 0, "no message for UNKNOWN_ACK");
    CHECK(realtime_ack(c, 999999, "[]") == REALTIME_STATUS_UNKNOWN_ACK, "unknown id not refused");

    /* ---- answered later, from the test thread */
    NOTE("server emit-ack \"later\": C answers from the test thread after the callback returned");
    CHECK(rt_server_commandf(srv, 5000, "emit-ack q2 %s 5000 later [{\"k\":\"v\"}]", cid), "emit-ack");
    CHECK(rt_log_wait_nth(log, "later", 1, 5000, &r), "no later event");
    CHECK(r.n != 0, "ack_id 0");
    uint64_t lid = (uint64_t)r.n;
    CHECK(lid != qid, "the same ack id twice (%llu)", (unsigned long long)lid);
    rt_sleep_ms(100);
    CHECK(realtime_ack(c, lid, "[{\"late\":true},42]") == REALTIME_STATUS_OK, "ack: %s", realtime_last_error());
    CHECK(rt_server_wait_event_where(srv, "ack_answer", "tag", "q2", 5000, line, sizeof line), "server: no answer");
    CHECK(rt_json_get_raw(line, "args", ans, sizeof ans) && rt_jeq(ans, "[{\"late\":true},42]"), "server got %s", line);
    CHECK(realtime_ack(c, lid, NULL) == REALTIME_STATUS_UNKNOWN_ACK, "second answer not refused");

    NOTE("no answer is allowed: the server's 300 ms timeout fires, the connection stays up");
    CHECK(rt_server_commandf(srv, 5000, "emit-ack q3 %s 300 later [3]", cid), "emit-ack");
    CHECK(rt_log_wait_nth(log, "later", 2, 5000, &r), "no later event");
    CHECK(rt_server_wait_event_where(srv, "ack_answer", "tag", "q3", 5000, line, sizeof line), "server: no timeout");
    CHECK(strstr(line, "operation has timed out"), "server: %s", line);
    CHECK(realtime_is_connected(c) && rt_log_count(log, "disconnect") == 0, "the connection dropped");
    uint64_t unanswered = (uint64_t)r.n;

    /* ---- disconnect fails pending acks */
    NOTE("pending ack (no timeout) + transport dropped -> \"socket has been disconnected\"");
    rt_ev *dropped = rt_ev_new(log, "dropped");
    rt_ev *buffered = rt_ev_new(log, "buffered");
    CHECK(realtime_emit_with_ack(c, "noanswer", "[4]", 0, rt_ev_ack, dropped) == REALTIME_STATUS_OK, "emit");
    CHECK(rt_server_wait_event_where(srv, "message", "name", "noanswer", 5000, NULL, 0), "server: no noanswer");
    CHECK(rt_server_commandf(srv, 5000, "close-transport %s", cid), "close-transport");
    CHECK(rt_log_wait(log, "disconnect", 5000, &r), "no on_disconnect");
    NOTE("on_disconnect(\"%s\")", r.text);
    CHECK(rt_log_wait_nth(log, "dropped", 1, 5000, &r), "the pending ack did not fail");
    NOTE("pending ack: error \"%s\"", r.text);
    CHECK(strcmp(r.text, "socket has been disconnected") == 0, "error '%s'", r.text);

    NOTE("emit with ack while offline: buffered, answered after the reconnect");
    realtime_status st = realtime_emit_with_ack(c, "echo", "[\"offline\"]", 0, rt_ev_ack, buffered);
    CHECK(st == REALTIME_STATUS_OK, "emit_with_ack while offline: %d %s", (int)st, realtime_last_error());
    CHECK(realtime_ack(c, unanswered, "[]") == REALTIME_STATUS_UNKNOWN_ACK,
          "an ack request of the dropped connection could still be answered");
    char cid2[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, cid2, sizeof cid2), "no reconnection");
    CHECK(rt_log_wait_nth(log, "buffered", 1, 5000, &r), "the buffered ack got no answer");
    NOTE("buffered ack: error \"%s\" args %s", r.text, r.data);
    CHECK(r.text[0] == '\0' && rt_jeq(r.data, "[\"offline\"]"), "error '%s' args %s", r.text, r.data);
    CHECK(rt_log_count(log, "dropped") == 1, "the failed ack ran again");

    CHECK(!rt_log_overlap(log), "two callbacks of one client ran at the same time");
    rt_log_dump(log, "test_acks");
    realtime_free(c);
    rt_ev_free(answers);
    rt_ev_free(timeouts);
    rt_ev_free(question);
    rt_ev_free(later);
    rt_ev_free(dropped);
    rt_ev_free(buffered);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
