/* Sleeping and clocks: nanosleep/clock_nanosleep/usleep sleep at least as long
 * as asked, CLOCK_MONOTONIC never goes backwards and advances, REALTIME agrees
 * with time() and gettimeofday(), and threads sleep concurrently. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

static long long now_ns(clockid_t c) {
    struct timespec ts;
    CHECK_SYS(clock_gettime(c, &ts));
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

enum { SLEEPERS = 8 };
static const long long SLEEPER_NS = 200 * 1000 * 1000LL;

static void* sleeper(void* p) {
    struct timespec ts = {0, SLEEPER_NS};
    while (nanosleep(&ts, &ts) == -1) CHECK(errno == EINTR, "nanosleep: %s", strerror(errno));
    return p;
}

int main(void) {
    /* Monotonic: non-decreasing over many reads, and strictly later after work. */
    long long prev = now_ns(CLOCK_MONOTONIC), first = prev;
    for (int i = 0; i < 2000; ++i) {
        long long t = now_ns(CLOCK_MONOTONIC);
        CHECK(t >= prev, "CLOCK_MONOTONIC went backwards by %lld ns", prev - t);
        prev = t;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    CHECK_SYS(nanosleep(&ts, NULL));
    long long after = now_ns(CLOCK_MONOTONIC);
    CHECK(after - prev >= 50 * 1000 * 1000LL, "nanosleep(50ms) took %lld ns", after - prev);
    CHECK(after > first, "CLOCK_MONOTONIC did not advance");

    long long t0 = now_ns(CLOCK_MONOTONIC);
    struct timespec rel = {0, 30 * 1000 * 1000};
    int rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL);
    CHECK(rc == 0, "clock_nanosleep relative: %s", strerror(rc));
    long long t1 = now_ns(CLOCK_MONOTONIC);
    CHECK(t1 - t0 >= 30 * 1000 * 1000LL, "clock_nanosleep(30ms) took %lld ns", t1 - t0);
    struct timespec abs_ts;
    CHECK_SYS(clock_gettime(CLOCK_MONOTONIC, &abs_ts));
    abs_ts.tv_nsec += 20 * 1000 * 1000;
    if (abs_ts.tv_nsec >= 1000000000L) { abs_ts.tv_sec++; abs_ts.tv_nsec -= 1000000000L; }
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs_ts, NULL);
    CHECK(rc == 0, "clock_nanosleep absolute: %s", strerror(rc));
    long long t2 = now_ns(CLOCK_MONOTONIC);
    CHECK(t2 >= abs_ts.tv_sec * 1000000000LL + abs_ts.tv_nsec, "TIMER_ABSTIME woke early");
    CHECK_SYS(usleep(10000));
    CHECK(now_ns(CLOCK_MONOTONIC) - t2 >= 10 * 1000 * 1000LL, "usleep(10ms) too short");

    /* Wall clock sources agree with each other (and are after 2020). */
    time_t tt = time(NULL);
    struct timeval tv;
    CHECK_SYS(gettimeofday(&tv, NULL));
    long long rt = now_ns(CLOCK_REALTIME);
    CHECK(tt > 1577836800, "time() = %lld is before 2020", (long long)tt);
    CHECK(llabs((long long)tv.tv_sec - (long long)tt) <= 2, "gettimeofday and time() differ");
    CHECK(llabs(rt / 1000000000LL - (long long)tt) <= 2, "CLOCK_REALTIME and time() differ");
    struct timespec res;
    CHECK_SYS(clock_getres(CLOCK_MONOTONIC, &res));
    CHECK(res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000, "clock_getres %ld ns", res.tv_nsec);
    CHECK(now_ns(CLOCK_PROCESS_CPUTIME_ID) > 0, "process CPU time is zero");

    /* Concurrent sleepers: total wall time is far below the serial sum. */
    long long s0 = now_ns(CLOCK_MONOTONIC);
    pthread_t t[SLEEPERS];
    for (int i = 0; i < SLEEPERS; ++i) CHECK_PT(pthread_create(&t[i], NULL, sleeper, NULL));
    for (int i = 0; i < SLEEPERS; ++i) CHECK_PT(pthread_join(t[i], NULL));
    long long took = now_ns(CLOCK_MONOTONIC) - s0;
    CHECK(took >= SLEEPER_NS, "sleepers finished after %lld ns", took);
    CHECK(took < SLEEPERS * SLEEPER_NS * 3 / 4, "sleepers did not overlap: %lld ns", took);
    gp_ok("sleep_time");
    return 0;
}
