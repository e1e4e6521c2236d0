/* The vDSO clocks: there is a vDSO (AT_SYSINFO_EHDR points at an ELF image),
 * clock_gettime() through libc (the vDSO) agrees with the raw
 * syscall(SYS_clock_gettime) for MONOTONIC, MONOTONIC_RAW, BOOTTIME and
 * REALTIME (a vDSO read before the syscall is not later than it, and one
 * after is not earlier, within TOLERANCE_NS), gettimeofday() and time() agree
 * with REALTIME, and CLOCK_MONOTONIC never goes backwards over millions of
 * reads from two threads, within each thread and across them. The run lasts
 * at least MIN_RUN_NS so the VMM re-anchors the time record several times. */
#define _GNU_SOURCE
#include <elf.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

enum { THREADS = 2 };
static const long long TOLERANCE_NS = 500 * 1000LL;
static const long long MIN_RUN_NS = 600 * 1000 * 1000LL;
static const long READS_PER_THREAD = 1000 * 1000;

static long long ts_ns(const struct timespec* ts) { return ts->tv_sec * 1000000000LL + ts->tv_nsec; }

static long long vdso_ns(clockid_t c) {
    struct timespec ts;
    CHECK_SYS(clock_gettime(c, &ts));
    return ts_ns(&ts);
}

static long long syscall_ns(clockid_t c) {
    struct timespec ts;
    CHECK_SYS(syscall(SYS_clock_gettime, c, &ts));
    return ts_ns(&ts);
}

/* The largest CLOCK_MONOTONIC value any thread has seen. */
static _Atomic long long shared_max;

static void* reader(void* arg) {
    long long start = vdso_ns(CLOCK_MONOTONIC), last = start, n = 0;
    while (n < READS_PER_THREAD || last - start < MIN_RUN_NS) {
        /* Anything another thread saw before our read must not be later. */
        long long seen = atomic_load(&shared_max);
        long long t = vdso_ns(CLOCK_MONOTONIC);
        CHECK(t >= last, "thread %ld: CLOCK_MONOTONIC went back %lld ns after %lld reads", (long)(intptr_t)arg,
              last - t, n);
        CHECK(t >= seen, "thread %ld: CLOCK_MONOTONIC %lld ns before another thread's earlier read", (long)(intptr_t)arg,
              seen - t);
        long long cur = seen;
        while (cur < t && !atomic_compare_exchange_weak(&shared_max, &cur, t)) {
        }
        last = t;
        ++n;
    }
    return NULL;
}

/* One sandwich vDSO / syscall / vDSO; returns the syscall's distance outside
 * [before, after] (0 when inside). */
static long long sandwich(clockid_t c) {
    long long before = vdso_ns(c);
    long long s = syscall_ns(c);
    long long after = vdso_ns(c);
    CHECK(after >= before || c == CLOCK_REALTIME, "clock %d: vDSO went back %lld ns", (int)c, before - after);
    if (s < before) return before - s;
    if (s > after) return s - after;
    return 0;
}

int main(void) {
    unsigned long ehdr = getauxval(AT_SYSINFO_EHDR);
    CHECK(ehdr != 0, "no AT_SYSINFO_EHDR in the auxv");
    CHECK(memcmp((const void*)ehdr, ELFMAG, SELFMAG) == 0, "AT_SYSINFO_EHDR %#lx is not an ELF image", ehdr);

    struct timespec res;
    CHECK_SYS(clock_getres(CLOCK_MONOTONIC, &res));
    CHECK(res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000, "CLOCK_MONOTONIC resolution %ld.%09ld",
          (long)res.tv_sec, res.tv_nsec);

    const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME, CLOCK_REALTIME};
    long long worst[4] = {0, 0, 0, 0};
    long long run_start = vdso_ns(CLOCK_MONOTONIC);
    /* Spread over the run so several re-anchorings are crossed. */
    for (int round = 0; round < 20; ++round) {
        for (int k = 0; k < 4; ++k) {
            long long d = sandwich(clocks[k]);
            if (d > worst[k]) worst[k] = d;
            CHECK(d <= TOLERANCE_NS, "clock %d: vDSO and syscall disagree by %lld ns", (int)clocks[k], d);
        }
        struct timespec pause = {0, 20 * 1000 * 1000};
        CHECK_SYS(nanosleep(&pause, NULL));
    }
    CHECK(vdso_ns(CLOCK_MONOTONIC) - run_start >= 400 * 1000 * 1000LL, "20 sleeps of 20 ms took under 400 ms");

    /* gettimeofday() and time() are REALTIME too. */
    struct timeval tv;
    long long r1 = vdso_ns(CLOCK_REALTIME);
    CHECK_SYS(gettimeofday(&tv, NULL));
    time_t t = time(NULL);
    long long r2 = vdso_ns(CLOCK_REALTIME);
    long long tv_ns = tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
    CHECK(tv_ns >= r1 - 1000 && tv_ns <= r2, "gettimeofday %lld outside [%lld, %lld]", tv_ns, r1, r2);
    CHECK(t >= r1 / 1000000000LL && t <= r2 / 1000000000LL, "time() %ld outside [%lld, %lld] s", (long)t,
          r1 / 1000000000LL, r2 / 1000000000LL);

    atomic_store(&shared_max, 0);
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; ++i) CHECK_PT(pthread_create(&th[i], NULL, reader, (void*)(intptr_t)i));
    for (int i = 0; i < THREADS; ++i) CHECK_PT(pthread_join(th[i], NULL));

    fprintf(stderr, "vdso_clock: worst vDSO/syscall gap (ns): mono %lld raw %lld boot %lld real %lld\n", worst[0],
            worst[1], worst[2], worst[3]);
    printf("vdso_clock: ok\n");
    return 0;
}
