/* Producer/consumer over a bounded ring with two condition variables. The
 * consumers' combined sum and xor must equal the closed-form values. */
#include <pthread.h>
#include <time.h>

#include "gp_check.h"

enum { PRODUCERS = 4, CONSUMERS = 4, ITEMS_FULL = 50000, RING = 16 };
#define ITEMS gp_scaled(ITEMS_FULL)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
/* All guarded by lock. */
static uint64_t ring[RING];
static unsigned head, count, producers_left = PRODUCERS;

struct Result {
    uint64_t sum, xor_, n;
};

static uint64_t item(unsigned producer, unsigned i) {
    return (uint64_t)producer * ITEMS + i + 1; /* never 0 */
}

static void* producer(void* p) {
    unsigned id = (unsigned)(uintptr_t)p;
    for (unsigned i = 0; i < ITEMS; ++i) {
        CHECK_PT(pthread_mutex_lock(&lock));
        while (count == RING) CHECK_PT(pthread_cond_wait(&not_full, &lock));
        ring[(head + count) % RING] = item(id, i);
        ++count;
        CHECK_PT(pthread_cond_signal(&not_empty));
        CHECK_PT(pthread_mutex_unlock(&lock));
    }
    CHECK_PT(pthread_mutex_lock(&lock));
    if (--producers_left == 0) CHECK_PT(pthread_cond_broadcast(&not_empty));
    CHECK_PT(pthread_mutex_unlock(&lock));
    return NULL;
}

static void* consumer(void* p) {
    struct Result* r = p;
    for (;;) {
        CHECK_PT(pthread_mutex_lock(&lock));
        while (count == 0 && producers_left > 0)
            CHECK_PT(pthread_cond_wait(&not_empty, &lock));
        if (count == 0) { /* producers done and ring drained */
            CHECK_PT(pthread_mutex_unlock(&lock));
            return NULL;
        }
        uint64_t v = ring[head];
        head = (head + 1) % RING;
        --count;
        CHECK_PT(pthread_cond_signal(&not_full));
        CHECK_PT(pthread_mutex_unlock(&lock));
        r->sum += v;
        r->xor_ ^= v * 0x9E3779B97F4A7C15ULL;
        r->n++;
    }
}

int main(void) {
    uint64_t want_sum = 0, want_xor = 0;
    for (unsigned p = 0; p < PRODUCERS; ++p)
        for (unsigned i = 0; i < ITEMS; ++i) {
            want_sum += item(p, i);
            want_xor ^= item(p, i) * 0x9E3779B97F4A7C15ULL;
        }
    pthread_t pt[PRODUCERS], ct[CONSUMERS];
    struct Result res[CONSUMERS];
    memset(res, 0, sizeof res);
    for (unsigned i = 0; i < CONSUMERS; ++i) CHECK_PT(pthread_create(&ct[i], NULL, consumer, &res[i]));
    for (unsigned i = 0; i < PRODUCERS; ++i)
        CHECK_PT(pthread_create(&pt[i], NULL, producer, (void*)(uintptr_t)i));
    for (unsigned i = 0; i < PRODUCERS; ++i) CHECK_PT(pthread_join(pt[i], NULL));
    uint64_t sum = 0, x = 0, n = 0;
    for (unsigned i = 0; i < CONSUMERS; ++i) {
        CHECK_PT(pthread_join(ct[i], NULL));
        sum += res[i].sum;
        x ^= res[i].xor_;
        n += res[i].n;
    }
    CHECK(n == (uint64_t)PRODUCERS * ITEMS, "consumed %llu items", (unsigned long long)n);
    CHECK(sum == want_sum, "sum %llu want %llu", (unsigned long long)sum, (unsigned long long)want_sum);
    CHECK(x == want_xor, "xor checksum mismatch");

    /* A timed wait with nobody signalling must time out. */
    struct timespec ts;
    CHECK_SYS(clock_gettime(CLOCK_REALTIME, &ts));
    ts.tv_nsec += 20 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    CHECK_PT(pthread_mutex_lock(&lock));
    int rc = pthread_cond_timedwait(&not_empty, &lock, &ts);
    CHECK_PT(pthread_mutex_unlock(&lock));
    CHECK(rc == ETIMEDOUT, "timedwait returned %d", rc);
    gp_ok("condvar");
    return 0;
}
