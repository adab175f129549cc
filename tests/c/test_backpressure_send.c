/* test_backpressure_send: a frozen server cannot make the client's send queue grow without bound.
 *  - connected to a server frozen with SIGSTOP, emits of 1 KiB are accepted until the bytes waiting for
 *    the socket reach maxQueuedBytes (default 4 MiB; beyond what the kernel's socket buffers took),
 *    then realtime_emit returns REALTIME_STATUS_WOULD_BLOCK (and keeps doing so: nothing is queued);
 *    RSS grows by less than RSS_BOUND_MB meanwhile (before this bound: 237 MiB for 200k emits);
 *  - after SIGCONT every accepted emit reaches the server exactly once and in order (the server counts
 *    "seq" events per tag: first 1, last N, N of them, none out of order), and emits succeed again;
 *  - frames never written are sent again after a reconnect: frozen again and filled up to WOULD_BLOCK,
 *    the server is killed and restarted on its port; after the reconnect the new server receives the
 *    accepted emits from some k > 1 up to the last one, each once and in order. The ones before k had
 *    been written to the dead socket (at most once, as documented); the rest were never handed to the
 *    OS and went back to the offline buffer.
 * RT_NO_SEND_BOUND=1 runs it with maxQueuedBytes 10^12 (the bound never closes): the first check fails.
 * Under AddressSanitizer (whose quarantine keeps freed memory resident) the RSS figure is printed, not
 * checked. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define RSS_BOUND_MB 32
#define MAX_EMITS 200000

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long size = 0, resident = 0;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static char filler[1001];

static realtime_status emit_seq(realtime_client *c, const char *tag, long n) {
    char args[1200];
    snprintf(args, sizeof args, "[\"%s\",%ld,\"%s\"]", tag, n, filler);
    return realtime_emit(c, "seq", args);
}

/* Emits tag 1, 2, ... until WOULD_BLOCK; returns how many were accepted. */
static long fill_until_would_block(realtime_client *c, const char *tag) {
    long n = 0;
    for (;;) {
        realtime_status st = emit_seq(c, tag, n + 1);
        if (st == REALTIME_STATUS_WOULD_BLOCK) break;
        CHECK(st == REALTIME_STATUS_OK, "emit %ld: status %d: %s", n + 1, (int)st, realtime_last_error());
        n++;
        CHECK(n < MAX_EMITS, "%d emits accepted by a frozen server's connection: no send bound", MAX_EMITS);
    }
    return n;
}

typedef struct {
    double count, first, last, disorder;
} seq_stats;

static seq_stats stats(rt_server *srv, const char *tag) {
    char out[512];
    char cmd[64];
    snprintf(cmd, sizeof cmd, "seq-stats %s", tag);
    CHECK(rt_server_command_out(srv, cmd, 5000, out, sizeof out), "seq-stats failed");
    seq_stats s = {0, -1, -1, 0};
    rt_json_get_number(out, "count", &s.count);
    rt_json_get_number(out, "first", &s.first);
    rt_json_get_number(out, "last", &s.last);
    rt_json_get_number(out, "disorder", &s.disorder);
    return s;
}

/* Waits until the server's count for tag reaches `want` (or stops growing for 3 s). */
static seq_stats wait_count(rt_server *srv, const char *tag, double want, int timeout_ms) {
    int64_t t0 = rt_now_ms(), changed = t0;
    seq_stats s = stats(srv, tag);
    double prev = s.count;
    while (s.count < want && rt_now_ms() - t0 < timeout_ms && rt_now_ms() - changed < 3000) {
        rt_sleep_ms(100);
        s = stats(srv, tag);
        if (s.count != prev) changed = rt_now_ms(), prev = s.count;
    }
    return s;
}

int main(void) {
    rt_test_begin("test_backpressure_send", 180);
    memset(filler, 'x', sizeof filler - 1);
    /* Long heartbeats: the frozen server must not be noticed by the heartbeat during the test. */
    rt_server *srv = rt_server_start("--ping-interval 30000 --ping-timeout 30000");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    int unbounded = getenv("RT_NO_SEND_BOUND") && atoi(getenv("RT_NO_SEND_BOUND")) != 0;
    realtime_client *c = realtime_new(url, unbounded ? "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200,"
                                                       "\"maxQueuedBytes\":1000000000000}"
                                                     : "{\"reconnectionDelay\":100,\"reconnectionDelayMax\":200}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    char id[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");

    NOTE("freeze the server, emit 1 KiB events until WOULD_BLOCK");
    long base_kb = rss_kb();
    rt_server_freeze(srv);
    long accepted = fill_until_would_block(c, "t1");
    /* The writer may still hand a few frames to the kernel until the socket buffers of both ends are
     * full: top up until a whole round is refused, so the bound alone decides from here on. */
    for (int round = 0; round < 100; round++) {
        rt_sleep_ms(30); /* lets the writer reach the kernel's limit; no event tells it */
        long more = 0;
        while (emit_seq(c, "t1", accepted + 1) == REALTIME_STATUS_OK) accepted++, more++;
        if (more == 0) break;
    }
    long after_kb = rss_kb();
    NOTE("%ld emits accepted (%ld KiB) before WOULD_BLOCK: \"%s\"", accepted, accepted * 1030 / 1024,
         realtime_last_error());
    CHECK(strstr(realtime_last_error(), "would block") != NULL, "message: %s", realtime_last_error());
    CHECK(accepted > 100, "only %ld emits accepted", accepted);
    int refused = 0;
    for (int i = 0; i < 2000; i++) refused += emit_seq(c, "t1", accepted + 1) == REALTIME_STATUS_WOULD_BLOCK;
    CHECK(refused == 2000, "%d of 2000 further emits refused", refused);
    long growth_mb = (after_kb - base_kb) / 1024;
    NOTE("RSS %ld KiB before, %ld KiB at WOULD_BLOCK: growth %ld MiB (bound %d MiB%s)", base_kb, after_kb, growth_mb,
         RSS_BOUND_MB, RT_UNDER_ASAN ? ", not checked under ASan" : "");
    if (!RT_UNDER_ASAN) CHECK(growth_mb < RSS_BOUND_MB, "RSS grew by %ld MiB", growth_mb);
    CHECK(realtime_is_connected(c), "disconnected while frozen");

    NOTE("thaw: every accepted emit arrives exactly once, in order");
    rt_server_thaw(srv);
    seq_stats s = wait_count(srv, "t1", (double)accepted, 30000);
    rt_sleep_ms(300);
    s = stats(srv, "t1");
    NOTE("server: count %.0f first %.0f last %.0f disorder %.0f", s.count, s.first, s.last, s.disorder);
    CHECK(s.count == accepted && s.first == 1 && s.last == accepted && s.disorder == 0,
          "server got count %.0f first %.0f last %.0f disorder %.0f for %ld accepted", s.count, s.first, s.last,
          s.disorder, accepted);
    CHECK(emit_seq(c, "t1b", 1) == REALTIME_STATUS_OK, "emit after the thaw: %s", realtime_last_error());
    CHECK(wait_count(srv, "t1b", 1, 5000).count == 1, "the emit after the thaw did not arrive");

    NOTE("freeze, fill, kill and restart the server: frames never written are sent after the reconnect");
    rt_server_freeze(srv);
    long accepted2 = fill_until_would_block(c, "t2");
    NOTE("%ld emits accepted before WOULD_BLOCK", accepted2);
    rt_server_kill(srv);
    rt_record r;
    CHECK(rt_log_wait(log, "disconnect", 10000, &r), "no on_disconnect after the kill");
    NOTE("on_disconnect(\"%s\")", r.text);
    CHECK(rt_server_restart(srv), "cannot restart the server");
    CHECK(rt_log_wait(log, "connect", 15000, NULL), "no on_connect after the restart");
    s = wait_count(srv, "t2", (double)accepted2, 30000);
    rt_sleep_ms(300);
    s = stats(srv, "t2");
    NOTE("new server: count %.0f first %.0f last %.0f disorder %.0f (emits 1..%.0f were written to the dead "
         "socket)",
         s.count, s.first, s.last, s.disorder, s.first - 1);
    CHECK(s.count > 0, "nothing was re-sent after the reconnect");
    CHECK(s.first > 1, "emit 1 was re-sent although it had been written to the socket");
    CHECK(s.last == accepted2 && s.disorder == 0 && s.count == s.last - s.first + 1,
          "re-sent: count %.0f first %.0f last %.0f disorder %.0f for %ld accepted", s.count, s.first, s.last,
          s.disorder, accepted2);

    CHECK(!rt_log_overlap(log), "two callbacks of one client ran at the same time");
    realtime_free(c);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
