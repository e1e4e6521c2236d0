/* C11 atomics on shared counters: fetch_add totals, a CAS-loop counter, a
 * CAS-maintained maximum and an atomic_flag spinlock guarding a plain int. */
#include <pthread.h>
#include <stdatomic.h>

#include "gp_check.h"

enum { THREADS = 8, ITERS = 200000, CAS_ITERS = 50000, SPIN_ITERS = 20000 };

static atomic_uint_fast64_t counter64;
static atomic_uint counter32;
static atomic_llong cas_counter;
static atomic_ullong cas_max;
static atomic_flag spin = ATOMIC_FLAG_INIT;
static uint64_t spin_guarded; /* guarded by spin */
/* Two counters in one cache line, hammered by different threads: false
 * sharing must not lose updates. */
static struct {
    _Alignas(64) atomic_uint a;
    atomic_uint b;
} line;

static void* body(void* p) {
    unsigned id = (unsigned)(uintptr_t)p;
    uint64_t rng = 0x1234567ull + id;
    for (int i = 0; i < ITERS; ++i) {
        atomic_fetch_add(&counter64, 3);
        atomic_fetch_add_explicit(&counter32, 1, memory_order_relaxed);
        if (id % 2) atomic_fetch_add(&line.a, 1);
        else atomic_fetch_add(&line.b, 1);
    }
    for (int i = 0; i < CAS_ITERS; ++i) {
        long long old = atomic_load(&cas_counter);
        while (!atomic_compare_exchange_weak(&cas_counter, &old, old + 2)) {
        }
        unsigned long long v = gp_rand(&rng) % 1000000007ull;
        unsigned long long cur = atomic_load(&cas_max);
        while (v > cur && !atomic_compare_exchange_strong(&cas_max, &cur, v)) {
        }
    }
    for (int i = 0; i < SPIN_ITERS; ++i) {
        while (atomic_flag_test_and_set_explicit(&spin, memory_order_acquire)) {
        }
        spin_guarded++;
        atomic_flag_clear_explicit(&spin, memory_order_release);
    }
    return NULL;
}

int main(void) {
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; ++i) CHECK_PT(pthread_create(&t[i], NULL, body, (void*)(uintptr_t)i));
    for (unsigned i = 0; i < THREADS; ++i) CHECK_PT(pthread_join(t[i], NULL));

    /* Recompute the maximum each thread's generator could have produced. */
    unsigned long long want_max = 0;
    for (unsigned id = 0; id < THREADS; ++id) {
        uint64_t rng = 0x1234567ull + id;
        for (int i = 0; i < CAS_ITERS; ++i) {
            unsigned long long v = gp_rand(&rng) % 1000000007ull;
            if (v > want_max) want_max = v;
        }
    }
    CHECK(atomic_load(&counter64) == 3ull * THREADS * ITERS, "counter64 %llu",
          (unsigned long long)atomic_load(&counter64));
    CHECK(atomic_load(&counter32) == (unsigned)THREADS * ITERS, "counter32 %u", atomic_load(&counter32));
    CHECK(atomic_load(&line.a) + atomic_load(&line.b) == (unsigned)THREADS * ITERS, "false-sharing counters lost updates");
    CHECK(atomic_load(&cas_counter) == 2ll * THREADS * CAS_ITERS, "cas counter %lld", atomic_load(&cas_counter));
    CHECK(atomic_load(&cas_max) == want_max, "cas max %llu want %llu", atomic_load(&cas_max), want_max);
    CHECK(spin_guarded == (uint64_t)THREADS * SPIN_ITERS, "spinlock counter %llu", (unsigned long long)spin_guarded);

    /* Single-threaded semantics of exchange / strong CAS failure. */
    atomic_int x = 5;
    CHECK(atomic_exchange(&x, 9) == 5, "exchange");
    int expected = 4;
    CHECK(!atomic_compare_exchange_strong(&x, &expected, 1) && expected == 9, "failed CAS must load current");
    gp_ok("atomics");
    return 0;
}
