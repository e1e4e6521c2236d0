/* pthread_mutex under contention: exact counter total, and a non-atomic
 * "inside" flag that would catch two threads in the critical section. */
#include <pthread.h>

#include "gp_check.h"

enum { THREADS = 8, ITERS = 100000 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t counter;       /* guarded by lock */
static volatile int inside;    /* guarded by lock; 1 only while held */
static volatile int violation; /* set if mutual exclusion broke */

static void* body(void* p) {
    (void)p;
    for (int i = 0; i < ITERS; ++i) {
        CHECK_PT(pthread_mutex_lock(&lock));
        if (inside) violation = 1;
        inside = 1;
        uint64_t c = counter;
        counter = c + 1;
        inside = 0;
        CHECK_PT(pthread_mutex_unlock(&lock));
    }
    return NULL;
}

int main(void) {
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; ++i) CHECK_PT(pthread_create(&t[i], NULL, body, NULL));
    for (int i = 0; i < THREADS; ++i) CHECK_PT(pthread_join(t[i], NULL));
    CHECK(!violation, "two threads were inside the critical section");
    CHECK(counter == (uint64_t)THREADS * ITERS, "counter %llu, want %llu",
          (unsigned long long)counter, (unsigned long long)THREADS * ITERS);

    /* trylock on a held mutex must fail with EBUSY. */
    CHECK_PT(pthread_mutex_lock(&lock));
    CHECK(pthread_mutex_trylock(&lock) == EBUSY, "trylock on held mutex succeeded");
    CHECK_PT(pthread_mutex_unlock(&lock));
    gp_ok("mutex");
    return 0;
}
