/* test_backpressure_recv: a slow consumer under a flood keeps the client's memory bounded.
 *  - the server floods 1,000,000 small events [1], [2], ... at the client as fast as it can (its own
 *    "flood" command, which leaves the backlog in the kernel's socket buffers and the client);
 *  - the event callback is slow: it sleeps 1.5 s on the first event and 250 ms every 100,000 events;
 *  - with the default receive bound (maxPendingEvents 4096) the client stops reading the socket while
 *    the callbacks are behind: RSS growth stays under RSS_BOUND_MB (measured from /proc/self/statm in
 *    the callback and on the main thread), the connection survives, and every event arrives exactly
 *    once and in order (the callback checks n == previous + 1).
 * Without the bound the same run grows by about 40 MB (measured): RT_NO_RECEIVE_BOUND=1 runs it with bounds that
 * never close (maxPendingEvents and maxPendingBytes 10^12), and then the RSS check fails.
 * RT_FLOOD_COUNT overrides the count.
 * Under AddressSanitizer (whose quarantine keeps freed memory resident) the RSS figure is printed, not
 * checked. */
#include "harness.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#define RSS_BOUND_MB 16

static atomic_long received;
static atomic_long last_n;
static atomic_long disorder;
static atomic_long peak_rss_kb;

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long size = 0, resident = 0;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void sample_rss(void) {
    long now = rss_kb();
    long peak = atomic_load(&peak_rss_kb);
    while (now > peak && !atomic_compare_exchange_weak(&peak_rss_kb, &peak, now)) {
    }
}

static void on_n(void *user_data, const char *event, const char *args_json, const realtime_buffer *buffers,
                 size_t buffer_count, uint64_t ack_id) {
    (void)user_data, (void)event, (void)buffers, (void)buffer_count, (void)ack_id;
    long n = strtol(args_json + 1, NULL, 10);
    long prev = atomic_exchange(&last_n, n);
    if (n != prev + 1) atomic_fetch_add(&disorder, 1);
    long count = atomic_fetch_add(&received, 1) + 1;
    if (count % 4096 == 0) sample_rss();
    if (count == 1) rt_sleep_ms(1500);
    else if (count % 100000 == 0) rt_sleep_ms(250);
}

int main(void) {
    rt_test_begin("test_backpressure_recv", 400);
    long count = getenv("RT_FLOOD_COUNT") ? atol(getenv("RT_FLOOD_COUNT")) : 1000000;
    int unbounded = getenv("RT_NO_RECEIVE_BOUND") && atoi(getenv("RT_NO_RECEIVE_BOUND")) != 0;
    /* Long heartbeats: the paused client does not read the server's pings (the documented slow-consumer
     * outcome would be the server's ping timeout; here the point is memory and order). */
    rt_server *srv = rt_server_start("--ping-interval 30000 --ping-timeout 30000");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    char opts[256];
    if (unbounded)
        snprintf(opts, sizeof opts,
                 "{\"reconnection\":false,\"maxPendingEvents\":1000000000000,\"maxPendingBytes\":1000000000000}");
    else
        snprintf(opts, sizeof opts, "{\"reconnection\":false}");
    NOTE("options %s, %ld events", opts, count);

    realtime_client *c = realtime_new(url, opts);
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_on(c, "n", on_n, NULL) > 0, "realtime_on: %s", realtime_last_error());
    char id[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");

    long base_kb = rss_kb();
    atomic_store(&peak_rss_kb, base_kb);
    int64_t t0 = rt_now_ms();
    CHECK(rt_server_commandf(srv, 5000, "flood %s n %ld", id, count), "flood command failed");

    while (atomic_load(&received) < count) {
        sample_rss();
        CHECK(rt_log_count(log, "disconnect") == 0, "disconnected during the flood after %ld events",
              atomic_load(&received));
        CHECK(rt_now_ms() - t0 < 360000, "only %ld of %ld events after 360 s", atomic_load(&received), count);
        rt_sleep_ms(20);
    }
    sample_rss();
    int64_t dt = rt_now_ms() - t0;
    long growth_mb = (atomic_load(&peak_rss_kb) - base_kb) / 1024;
    NOTE("%ld events in %lld ms (%.0f/s); RSS %ld KiB before, peak %ld KiB: growth %ld MiB (bound %d MiB%s)",
         count, (long long)dt, count * 1000.0 / (double)(dt > 0 ? dt : 1), base_kb, atomic_load(&peak_rss_kb),
         growth_mb, RSS_BOUND_MB, RT_UNDER_ASAN ? ", not checked under ASan" : "");
    CHECK(atomic_load(&disorder) == 0, "%ld events out of order", atomic_load(&disorder));
    CHECK(atomic_load(&received) == count && atomic_load(&last_n) == count, "received %ld, last %ld",
          atomic_load(&received), atomic_load(&last_n));
    if (!RT_UNDER_ASAN) CHECK(growth_mb < RSS_BOUND_MB, "RSS grew by %ld MiB", growth_mb);
    CHECK(realtime_is_connected(c), "not connected after the flood");

    realtime_free(c);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
