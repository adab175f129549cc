/* test_allocations: heap allocations per received event on the receive path (issue 7, item 2).
 *  - this program counts every allocation of the process (malloc, calloc, realloc, the aligned ones:
 *    the definitions below forward to glibc's __libc_* entry points, as bench/c/malloc_count.c does);
 *  - the server floods COUNT small events [1], [2], ... at the client; the callback only counts them and
 *    checks their order;
 *  - allocations from the flood command to the last event, divided by COUNT, must stay at or under
 *    ALLOCS_BOUND. The path costs one per event (the packet text the callback's args_json points into:
 *    bench_client throughput reports 1.00 against the native burst server); the bound leaves room for
 *    what a trickling Node peer adds on a loaded machine (a read chunk per wake-up: +0.37 idle, +0.55
 *    with builds beside it, measured at two per event; now 1.04–1.47 with a CI run beside it), and fails at
 *    the old two. It was two until the JSON validator kept its
 *    container stack inline (SmallVec), 6 before the data-path rebuild, 12 before that.
 * Under AddressSanitizer (which owns malloc) the count is not available: the test runs the flood and
 * checks order only. RT_FLOOD_COUNT overrides the count. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>


#define ALLOCS_BOUND 1.9

static _Atomic uint64_t allocations;

#if !RT_UNDER_ASAN
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static inline void counted(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }

void *malloc(size_t n) {
    counted();
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
    counted();
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
    counted();
    return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }
void *memalign(size_t align, size_t n) {
    counted();
    return __libc_memalign(align, n);
}
void *aligned_alloc(size_t align, size_t n) {
    counted();
    return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
    counted();
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
#endif

static atomic_long received;
static atomic_long last_n;
static atomic_long disorder;
static _Atomic uint64_t allocs_at_last;
static long count;

static void on_n(void *user_data, const char *event, const char *args_json, const realtime_buffer *buffers,
                 size_t buffer_count, uint64_t ack_id) {
    (void)user_data, (void)event, (void)buffers, (void)buffer_count, (void)ack_id;
    long n = strtol(args_json + 1, NULL, 10);
    long prev = atomic_exchange(&last_n, n);
    if (n != prev + 1) atomic_fetch_add(&disorder, 1);
    if (atomic_fetch_add(&received, 1) + 1 == count) atomic_store(&allocs_at_last, atomic_load(&allocations));
}

int main(void) {
    rt_test_begin("test_allocations", 120);
    count = getenv("RT_FLOOD_COUNT") ? atol(getenv("RT_FLOOD_COUNT")) : 200000;
    rt_server *srv = rt_server_start(NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rt_server_port(srv));
    realtime_client *c = realtime_new(url, "{\"reconnection\":false,\"transports\":[\"websocket\"]}");
    CHECK(c != NULL, "realtime_new: %s", realtime_last_error());
    rt_log *log = rt_log_new();
    rt_log_attach(log, c);
    CHECK(realtime_on(c, "n", on_n, NULL) > 0, "realtime_on: %s", realtime_last_error());
    char id[128];
    CHECK(rt_server_wait_connection(srv, "/", 5000, id, sizeof id), "no connection");
    CHECK(rt_log_wait(log, "connect", 5000, NULL), "no on_connect");

    uint64_t before = atomic_load(&allocations);
    int64_t t0 = rt_now_ms();
    CHECK(rt_server_commandf(srv, 5000, "flood %s n %ld", id, count), "flood command failed");
    while (atomic_load(&received) < count) {
        if (rt_log_count(log, "disconnect") != 0) rt_log_dump(log, "client");
        CHECK(rt_log_count(log, "disconnect") == 0, "disconnected after %ld events", atomic_load(&received));
        CHECK(rt_now_ms() - t0 < 100000, "only %ld of %ld events after 100 s", atomic_load(&received), count);
        rt_sleep_ms(20);
    }
    CHECK(atomic_load(&disorder) == 0, "%ld events out of order", atomic_load(&disorder));
    CHECK(atomic_load(&last_n) == count, "last event %ld, expected %ld", atomic_load(&last_n), count);
    if (RT_UNDER_ASAN) {
        NOTE("%ld events in order; allocations not counted under ASan", count);
    } else {
        double per_event = (double)(atomic_load(&allocs_at_last) - before) / (double)count;
        NOTE("%ld events: %.3f allocations per event (bound %.1f)", count, per_event, ALLOCS_BOUND);
        CHECK(per_event <= ALLOCS_BOUND, "%.3f allocations per event, bound %.1f", per_event, ALLOCS_BOUND);
    }
    realtime_free(c);
    rt_log_free(log);
    rt_server_free(srv);
    rt_test_pass();
    return 0;
}
