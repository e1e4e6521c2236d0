/* CPU-time interval timers: setitimer/getitimer with ITIMER_PROF and
 * ITIMER_VIRTUAL (what gprof's profil and sampling profilers use). Each arms
 * a 5 ms periodic timer, burns CPU in user space and expects its signal
 * (SI_KERNEL) to arrive several times; getitimer reports the interval and a
 * value within it; setitimer returns the old setting; a zero value disarms;
 * a forked child starts without the parent's timers; a bad `which` is
 * EINVAL. Everything is measured in the process's CPU time, so a loaded host
 * only makes it slower, never wrong. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

static atomic_int prof_count, vtalrm_count, last_code;

static void on_signal(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    atomic_store(&last_code, si->si_code);
    atomic_fetch_add(sig == SIGPROF ? &prof_count : &vtalrm_count, 1);
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Burns `seconds` of this process's CPU time in user space, or stops once
 * `c` reaches `enough`. */
static volatile unsigned long sink;
static void burn(double seconds, atomic_int* c, int enough) {
    const double end = cpu_seconds() + seconds;
    while (cpu_seconds() < end && (c == NULL || atomic_load(c) < enough))
        for (int i = 0; i < 100000; ++i) sink += (unsigned long)i * 7u;
}

static void set(int which, long value_us, long interval_us, struct itimerval* old) {
    struct itimerval v = {{interval_us / 1000000, interval_us % 1000000}, {value_us / 1000000, value_us % 1000000}};
    CHECK_SYS(setitimer(which, &v, old));
}

static void case_timer(int which, atomic_int* count, const char* name) {
    atomic_store(count, 0);
    set(which, 5000, 5000, NULL);
    struct itimerval now;
    CHECK_SYS(getitimer(which, &now));
    CHECK(now.it_interval.tv_sec == 0 && now.it_interval.tv_usec == 5000, "%s: interval %ld.%06ld", name,
          (long)now.it_interval.tv_sec, (long)now.it_interval.tv_usec);
    /* Linux rounds a CPU-time timer's value to its tick (5 ms reads back as
     * 9 ms at HZ=250), so only a bound. */
    CHECK(now.it_value.tv_sec == 0 && now.it_value.tv_usec > 0 && now.it_value.tv_usec <= 50000,
          "%s: value %ld.%06ld", name, (long)now.it_value.tv_sec, (long)now.it_value.tv_usec);
    /* 5 expiries take 25 ms of CPU on Linux; 3 s of CPU is the limit. */
    burn(3.0, count, 5);
    CHECK(atomic_load(count) >= 5, "%s: %d signals in 3 s of CPU time", name, atomic_load(count));
    CHECK(atomic_load(&last_code) == SI_KERNEL, "%s: si_code %d", name, atomic_load(&last_code));
    /* The old setting comes back, and a zero value disarms. */
    struct itimerval old;
    set(which, 0, 0, &old);
    CHECK(old.it_interval.tv_usec == 5000, "%s: old interval %ld", name, (long)old.it_interval.tv_usec);
    CHECK_SYS(getitimer(which, &now));
    CHECK(now.it_value.tv_sec == 0 && now.it_value.tv_usec == 0, "%s: disarmed but %ld.%06ld left", name,
          (long)now.it_value.tv_sec, (long)now.it_value.tv_usec);
    const int after = atomic_load(count);
    burn(0.05, NULL, 0);
    CHECK(atomic_load(count) == after, "%s: %d signals after it was disarmed", name, atomic_load(count) - after);
}

static void case_fork(void) {
    set(ITIMER_PROF, 2000000, 2000000, NULL);
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
        struct itimerval v;
        if (getitimer(ITIMER_PROF, &v) != 0) _exit(2);
        _exit(v.it_value.tv_sec == 0 && v.it_value.tv_usec == 0 && v.it_interval.tv_usec == 0 ? 0 : 1);
    }
    int st;
    CHECK(waitpid(c, &st, 0) == c, "waitpid");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child has its parent's ITIMER_PROF (status %#x)", st);
    struct itimerval v;
    CHECK_SYS(getitimer(ITIMER_PROF, &v));
    CHECK(v.it_value.tv_sec > 0 || v.it_value.tv_usec > 0, "the parent lost its ITIMER_PROF");
    set(ITIMER_PROF, 0, 0, NULL);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(SIGPROF, &sa, NULL));
    CHECK_SYS(sigaction(SIGVTALRM, &sa, NULL));
    case_timer(ITIMER_PROF, &prof_count, "ITIMER_PROF");
    case_timer(ITIMER_VIRTUAL, &vtalrm_count, "ITIMER_VIRTUAL");
    case_fork();
    struct itimerval v;
    errno = 0;
    CHECK(setitimer((__itimer_which_t)7, NULL, &v) == -1 && errno == EINVAL, "which 7: errno %d", errno);
    CHECK(getitimer((__itimer_which_t)7, &v) == -1 && errno == EINVAL, "getitimer which 7: errno %d", errno);
    printf("cpu_itimers: ok\n");
    return 0;
}
