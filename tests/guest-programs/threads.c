/* pthread create/join: many threads in several rounds, each computes a value
 * from its argument and returns it through pthread_exit or return. Each also
 * reports gettid() and sched_yield() (node-local calls across hosts): tids
 * are distinct, non-zero and not the process id. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gp_check.h"

enum { ROUNDS = 4, PER_ROUND = 16 };

struct Arg {
    unsigned index;
    uint64_t sum; /* written by the thread, read after join */
    long tid;
    int yield_rc;
};

static uint64_t work(unsigned index) {
    uint64_t s = 0;
    for (unsigned i = 0; i <= index * 1000; ++i) s += i ^ index;
    return s;
}

static void* body(void* p) {
    struct Arg* a = p;
    a->sum = work(a->index);
    a->tid = syscall(SYS_gettid);
    a->yield_rc = sched_yield();
    /* Alternate between the two ways a thread can hand back a value. */
    if (a->index % 2) pthread_exit((void*)(uintptr_t)(a->index * 7 + 1));
    return (void*)(uintptr_t)(a->index * 7 + 1);
}

int main(void) {
    for (unsigned r = 0; r < ROUNDS; ++r) {
        pthread_t t[PER_ROUND];
        struct Arg args[PER_ROUND];
        for (unsigned i = 0; i < PER_ROUND; ++i) {
            args[i].index = r * PER_ROUND + i;
            args[i].sum = 0;
            CHECK_PT(pthread_create(&t[i], NULL, body, &args[i]));
        }
        /* Join in reverse order so some joins find finished threads and
         * some have to wait. */
        for (int i = PER_ROUND - 1; i >= 0; --i) {
            void* ret = NULL;
            CHECK_PT(pthread_join(t[i], &ret));
            unsigned idx = args[i].index;
            CHECK((uintptr_t)ret == idx * 7 + 1, "thread %u returned %lu", idx,
                  (unsigned long)(uintptr_t)ret);
            CHECK(args[i].sum == work(idx), "thread %u sum %llu", idx,
                  (unsigned long long)args[i].sum);
            CHECK(args[i].tid > 0 && args[i].tid != getpid(), "thread %u gettid %ld", idx, args[i].tid);
            CHECK(args[i].yield_rc == 0, "thread %u sched_yield returned %d", idx, args[i].yield_rc);
            for (int j = PER_ROUND - 1; j > i; --j)
                CHECK(args[j].tid != args[i].tid, "threads %u and %u share tid %ld", idx, args[j].index, args[i].tid);
        }
    }
    /* A detached thread must also run; it signals through a joinable one. */
    pthread_attr_t attr;
    CHECK_PT(pthread_attr_init(&attr));
    CHECK_PT(pthread_attr_setstacksize(&attr, 1 << 20));
    pthread_t big;
    struct Arg a = {.index = 99, .sum = 0};
    CHECK_PT(pthread_create(&big, &attr, body, &a));
    void* ret = NULL;
    CHECK_PT(pthread_join(big, &ret));
    CHECK((uintptr_t)ret == 99 * 7 + 1, "custom-stack thread returned %lu",
          (unsigned long)(uintptr_t)ret);
    CHECK_PT(pthread_attr_destroy(&attr));
    gp_ok("threads");
    return 0;
}
