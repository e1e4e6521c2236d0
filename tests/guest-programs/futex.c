/* Futex-heavy: 64 threads started and stopped through semaphores and joined,
 * a two-thread semaphore ping-pong, and raw FUTEX_WAIT/FUTEX_WAKE semantics
 * (EAGAIN on value mismatch, ETIMEDOUT on timeout, wake count). */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

enum { THREADS = 64, PINGPONG_FULL = 20000 };
#define PINGPONG ((int)gp_scaled(PINGPONG_FULL))

static sem_t start, done;
static atomic_uint ran;

static long futex(atomic_int* addr, int op, int val, const struct timespec* ts) {
    return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static void* worker(void* p) {
    while (sem_wait(&start) == -1) CHECK(errno == EINTR, "sem_wait: %s", strerror(errno));
    atomic_fetch_add(&ran, 1);
    CHECK_SYS(sem_post(&done));
    return p;
}

static sem_t ping, pong;

static void* ponger(void* p) {
    (void)p;
    for (int i = 0; i < PINGPONG; ++i) {
        CHECK_SYS(sem_wait(&ping));
        CHECK_SYS(sem_post(&pong));
    }
    return NULL;
}

static atomic_int word;
static atomic_int woken;

static void* futex_waiter(void* p) {
    (void)p;
    while (atomic_load(&word) == 0) {
        long r = futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL);
        CHECK(r == 0 || errno == EAGAIN || errno == EINTR, "FUTEX_WAIT: %s", strerror(errno));
    }
    atomic_fetch_add(&woken, 1);
    return NULL;
}

int main(void) {
    CHECK_SYS(sem_init(&start, 0, 0));
    CHECK_SYS(sem_init(&done, 0, 0));
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; ++i) CHECK_PT(pthread_create(&t[i], NULL, worker, (void*)i));
    for (int i = 0; i < THREADS; ++i) CHECK_SYS(sem_post(&start));
    for (int i = 0; i < THREADS; ++i) CHECK_SYS(sem_wait(&done));
    CHECK(atomic_load(&ran) == THREADS, "ran %u", atomic_load(&ran));
    for (uintptr_t i = 0; i < THREADS; ++i) {
        void* r;
        CHECK_PT(pthread_join(t[i], &r));
        CHECK((uintptr_t)r == i, "thread %lu returned %p", (unsigned long)i, r);
    }
    int v;
    CHECK_SYS(sem_getvalue(&done, &v));
    CHECK(v == 0, "done semaphore value %d", v);
    CHECK(sem_trywait(&done) == -1 && errno == EAGAIN, "sem_trywait on zero must be EAGAIN");

    CHECK_SYS(sem_init(&ping, 0, 0));
    CHECK_SYS(sem_init(&pong, 0, 0));
    pthread_t pp;
    CHECK_PT(pthread_create(&pp, NULL, ponger, NULL));
    for (int i = 0; i < PINGPONG; ++i) {
        CHECK_SYS(sem_post(&ping));
        CHECK_SYS(sem_wait(&pong));
    }
    CHECK_PT(pthread_join(pp, NULL));

    /* Raw futex semantics. */
    atomic_int w = 1;
    CHECK(futex(&w, FUTEX_WAIT_PRIVATE, 0, NULL) == -1 && errno == EAGAIN, "FUTEX_WAIT mismatch must be EAGAIN");
    struct timespec ts = {0, 20 * 1000 * 1000};
    struct timespec a, b;
    CHECK_SYS(clock_gettime(CLOCK_MONOTONIC, &a));
    CHECK(futex(&w, FUTEX_WAIT_PRIVATE, 1, &ts) == -1 && errno == ETIMEDOUT, "FUTEX_WAIT timeout: %s", strerror(errno));
    CHECK_SYS(clock_gettime(CLOCK_MONOTONIC, &b));
    long long waited = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    CHECK(waited >= 19 * 1000 * 1000, "FUTEX_WAIT timed out after only %lld ns", waited);
    CHECK(futex(&w, FUTEX_WAKE_PRIVATE, 1, NULL) == 0, "FUTEX_WAKE with no waiters must wake 0");

    enum { WAITERS = 4 };
    pthread_t fw[WAITERS];
    for (int i = 0; i < WAITERS; ++i) CHECK_PT(pthread_create(&fw[i], NULL, futex_waiter, NULL));
    struct timespec nap = {0, 30 * 1000 * 1000};
    nanosleep(&nap, NULL);
    CHECK(atomic_load(&woken) == 0, "waiter passed a FUTEX_WAIT on an unchanged word");
    atomic_store(&word, 1);
    long n = futex(&word, FUTEX_WAKE_PRIVATE, WAITERS, NULL);
    CHECK(n >= 0 && n <= WAITERS, "FUTEX_WAKE returned %ld", n);
    for (int i = 0; i < WAITERS; ++i) CHECK_PT(pthread_join(fw[i], NULL));
    CHECK(atomic_load(&woken) == WAITERS, "woken %d", atomic_load(&woken));
    gp_ok("futex");
    return 0;
}
