/* CPU-time timers: setitimer/getitimer with ITIMER_PROF and ITIMER_VIRTUAL
 * (what gprof's profil and sampling profilers use), and POSIX timers on
 * CPU-time clocks (the process's, the calling thread's, another thread's
 * from pthread_getcpuclockid, clock_getcpuclockid's), periodic and
 * TIMER_ABSTIME. Each itimer arms
 * a 5 ms periodic timer, burns CPU in user space and expects its signal
 * (SI_KERNEL) to arrive several times; getitimer reports the interval and a
 * value within it; setitimer returns the old setting; a zero value disarms;
 * a forked child starts without the parent's timers; a bad `which` is
 * EINVAL. Everything is measured in the process's CPU time, so a loaded host
 * makes it slower, not wrong, with one allowance:
 *
 * Linux checks CPU-time timers at the scheduler tick, and only for the
 * thread that is running then: beside busy threads an expiry can come
 * hundreds of ms of CPU late, and the periods it missed are merged into the
 * one signal's si_overrun. A POSIX timer's expiries are therefore counted
 * as its signals plus their overruns (timer_count). Natively, beside 8
 * CPU-bound processes on 2 CPUs, 3 of 30 runs saw only 3-4 signals in 3 s
 * of CPU, each with an overrun of 20-90. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

static atomic_int prof_count, vtalrm_count, timer_count, last_code, last_value, last_timerid, last_tid;

static void on_signal(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    atomic_store(&last_code, si->si_code);
    if (sig == SIGUSR1) {
        atomic_store(&last_value, si->si_value.sival_int);
        atomic_store(&last_timerid, si->si_timerid);
        atomic_store(&last_tid, (int)gettid());
        atomic_fetch_add(&timer_count, 1 + si->si_overrun);  /* the expiries it stands for */
        return;
    }
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

/* A POSIX timer on CPU clock `clock`, SIGUSR1 with value `value` (to
 * thread `tid` when non-zero), 5 ms periodic: 5 expiries (signals and their
 * overruns) within 3 s of the process's CPU time, SI_TIMER, and none once
 * deleted. */
static void case_posix(clockid_t clock, int tid, int value, const char* name) {
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = tid ? SIGEV_THREAD_ID : SIGEV_SIGNAL;
    se.sigev_signo = SIGUSR1;
    se.sigev_value.sival_int = value;
    se._sigev_un._tid = tid;
    timer_t t;
    CHECK_SYS(timer_create(clock, &se, &t));
    atomic_store(&timer_count, 0);
    struct itimerspec its = {{0, 5000000}, {0, 5000000}};
    CHECK_SYS(timer_settime(t, 0, &its, NULL));
    struct itimerspec cur;
    CHECK_SYS(timer_gettime(t, &cur));
    CHECK(cur.it_interval.tv_nsec == 5000000 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0,
          "%s: timer_gettime %ld.%09ld", name, (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
    burn(3.0, &timer_count, 5);
    CHECK(atomic_load(&timer_count) >= 5, "%s: %d expiries in 3 s of CPU time", name, atomic_load(&timer_count));
    CHECK(atomic_load(&last_code) == SI_TIMER && atomic_load(&last_value) == value,
          "%s: si_code %d value %d", name, atomic_load(&last_code), atomic_load(&last_value));
    if (tid) CHECK(atomic_load(&last_tid) == tid, "%s: delivered to %d, not %d", name, atomic_load(&last_tid), tid);
    CHECK_SYS(timer_delete(t));
    const int after = atomic_load(&timer_count);
    burn(0.05, NULL, 0);
    CHECK(atomic_load(&timer_count) == after, "%s: expiries after timer_delete", name);
}

static void case_abstime(void) {
    timer_t t;
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_SIGNAL;
    se.sigev_signo = SIGUSR1;
    se.sigev_value.sival_int = 3;
    CHECK_SYS(timer_create(CLOCK_PROCESS_CPUTIME_ID, &se, &t));
    struct timespec now;
    CHECK_SYS(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now));
    long ns = now.tv_nsec + 20000000;
    struct itimerspec its = {{0, 0}, {now.tv_sec + ns / 1000000000, ns % 1000000000}};
    atomic_store(&timer_count, 0);
    CHECK_SYS(timer_settime(t, TIMER_ABSTIME, &its, NULL));
    burn(3.0, &timer_count, 1);
    burn(0.05, NULL, 0);
    CHECK(atomic_load(&timer_count) == 1, "abstime: %d expiries of a one-shot", atomic_load(&timer_count));
    CHECK_SYS(timer_delete(t));
}

static atomic_int spinner_stop;
static void* spinner(void* arg) {
    (void)arg;
    while (!atomic_load(&spinner_stop)) sink += 1;
    return NULL;
}

static void case_posix_timers(void) {
    case_posix(CLOCK_PROCESS_CPUTIME_ID, 0, 11, "CLOCK_PROCESS_CPUTIME_ID");
    case_posix(CLOCK_THREAD_CPUTIME_ID, (int)gettid(), 12, "CLOCK_THREAD_CPUTIME_ID");
    clockid_t c;
    CHECK(clock_getcpuclockid(getpid(), &c) == 0, "clock_getcpuclockid");
    case_posix(c, 0, 13, "clock_getcpuclockid(getpid())");
    /* Another thread's clock: it spins, this one sleeps. */
    pthread_t th;
    CHECK(pthread_create(&th, NULL, spinner, NULL) == 0, "pthread_create");
    CHECK(pthread_getcpuclockid(th, &c) == 0, "pthread_getcpuclockid");
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_SIGNAL;
    se.sigev_signo = SIGUSR1;
    se.sigev_value.sival_int = 14;
    timer_t t;
    CHECK_SYS(timer_create(c, &se, &t));
    atomic_store(&timer_count, 0);
    struct itimerspec its = {{0, 5000000}, {0, 5000000}};
    CHECK_SYS(timer_settime(t, 0, &its, NULL));
    for (int i = 0; i < 3000 && atomic_load(&timer_count) < 3; ++i) usleep(1000);
    CHECK(atomic_load(&timer_count) >= 3, "the spinner's clock: %d expiries", atomic_load(&timer_count));
    CHECK_SYS(timer_delete(t));
    atomic_store(&spinner_stop, 1);
    CHECK(pthread_join(th, NULL) == 0, "pthread_join");
    case_abstime();
    /* A thread clock type that does not exist. */
    errno = 0;
    CHECK(timer_create((clockid_t)((~(clockid_t)gettid() << 3) | 7), NULL, &t) == -1 && errno == EINVAL,
          "a bad CPU clock: errno %d", errno);
}

int main(void) {
    gp_on_signal(SIGPROF, on_signal, 0);
    gp_on_signal(SIGVTALRM, on_signal, 0);
    gp_on_signal(SIGUSR1, on_signal, 0);
    case_timer(ITIMER_PROF, &prof_count, "ITIMER_PROF");
    case_timer(ITIMER_VIRTUAL, &vtalrm_count, "ITIMER_VIRTUAL");
    case_fork();
    case_posix_timers();
    struct itimerval v;
    errno = 0;
    CHECK(setitimer((__itimer_which_t)7, NULL, &v) == -1 && errno == EINVAL, "which 7: errno %d", errno);
    CHECK(getitimer((__itimer_which_t)7, &v) == -1 && errno == EINVAL, "getitimer which 7: errno %d", errno);
    printf("cpu_itimers: ok\n");
    return 0;
}
