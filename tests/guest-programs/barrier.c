/* pthread_barrier phases: in each phase every thread publishes a value, waits,
 * then checks every other thread's value for that phase. Exactly one thread
 * per phase gets PTHREAD_BARRIER_SERIAL_THREAD. */
#include <pthread.h>
#include <stdatomic.h>

#include "gp_check.h"

enum { THREADS = 8, PHASES = 200 };

static pthread_barrier_t barrier;
/* Double-buffered by phase parity so a fast thread writing phase p+1 never
 * overwrites a slot another thread still reads for phase p. */
static volatile uint64_t slot[2][THREADS];
static atomic_uint serial_count[PHASES];

static uint64_t value(unsigned phase, unsigned t) { return (uint64_t)phase * 1000003u + t * 31u + 1; }

static void* body(void* p) {
    unsigned id = (unsigned)(uintptr_t)p;
    for (unsigned ph = 0; ph < PHASES; ++ph) {
        slot[ph % 2][id] = value(ph, id);
        int rc = pthread_barrier_wait(&barrier);
        CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD, "barrier_wait: %d", rc);
        if (rc == PTHREAD_BARRIER_SERIAL_THREAD) atomic_fetch_add(&serial_count[ph], 1);
        for (unsigned o = 0; o < THREADS; ++o)
            CHECK(slot[ph % 2][o] == value(ph, o), "phase %u: thread %u saw slot %u = %llu", ph, id, o,
                  (unsigned long long)slot[ph % 2][o]);
        rc = pthread_barrier_wait(&barrier);
        CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD, "barrier_wait: %d", rc);
    }
    return NULL;
}

int main(void) {
    CHECK_PT(pthread_barrier_init(&barrier, NULL, THREADS));
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; ++i) CHECK_PT(pthread_create(&t[i], NULL, body, (void*)(uintptr_t)i));
    for (unsigned i = 0; i < THREADS; ++i) CHECK_PT(pthread_join(t[i], NULL));
    for (unsigned ph = 0; ph < PHASES; ++ph)
        CHECK(atomic_load(&serial_count[ph]) == 1, "phase %u had %u serial threads", ph,
              atomic_load(&serial_count[ph]));
    CHECK_PT(pthread_barrier_destroy(&barrier));
    gp_ok("barrier");
    return 0;
}
