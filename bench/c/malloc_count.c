/*
 * malloc_count.c: an LD_PRELOAD shim that counts heap allocations (malloc, calloc, realloc, memalign,
 * posix_memalign, aligned_alloc, valloc) of the whole process, for the allocations-per-event figure of
 * `make bench`. It forwards to glibc's __libc_* entry points. The program reads the count with
 * dlsym(RTLD_DEFAULT, "bench_alloc_count") and takes the difference over its measured window.
 *
 *   cc -O2 -shared -fPIC -o build/bench/libmalloc_count.so bench/c/malloc_count.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static _Atomic uint64_t allocations;

uint64_t bench_alloc_count(void) { return atomic_load_explicit(&allocations, memory_order_relaxed); }

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
void *valloc(size_t n) {
    counted();
    return __libc_memalign(4096, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
    counted();
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
