/* POSIX timers (timer_create and friends) as Linux runs them:
 *   default   a NULL sigevent: SIGALRM, si_code SI_TIMER, si_timerid and
 *             si_value the timer's id
 *   periodic  SIGEV_SIGNAL (SIGUSR1, a pointer value) every 2 ms: several
 *             expiries, then disarmed (timer_gettime reads zeros and no
 *             more signals come)
 *   thread    SIGEV_THREAD_ID: the signal reaches that thread
 *   none      SIGEV_NONE: time runs down, no signal
 *   abstime   TIMER_ABSTIME on CLOCK_MONOTONIC and CLOCK_REALTIME
 *   callback  SIGEV_THREAD (glibc's helper thread runs the function)
 *   errors    unknown id, bad sigevent, bad itimerspec: EINVAL
 *   fork      a child has none of its parent's timers
 *   overrun   expiries while the signal is pending: si_overrun and
 *             timer_getoverrun (a real-time signal too: merged, not queued)
 * Prints "posix_timers: ok". */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

static atomic_int alrm_count, usr1_count, usr2_count, callback_count;
static atomic_int last_timerid = -1, last_code, usr2_tid;
static atomic_uintptr_t last_value;

static void on_signal(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    /* The fields first, the count last: the main thread reads them once
     * it sees the count. */
    if (sig == SIGALRM) {
        atomic_store(&last_timerid, si->si_timerid);
        atomic_store(&last_code, si->si_code);
        atomic_store(&last_value, (uintptr_t)si->si_value.sival_ptr);
        atomic_fetch_add(&alrm_count, 1);
    } else if (sig == SIGUSR1) {
        atomic_store(&last_value, (uintptr_t)si->si_value.sival_ptr);
        atomic_fetch_add(&usr1_count, 1);
    } else if (sig == SIGUSR2) {
        atomic_store(&usr2_tid, (int)gettid());
        atomic_fetch_add(&usr2_count, 1);
    }
}

static void wait_for(atomic_int* c, int n, const char* what) {
    for (int i = 0; i < 2000 && atomic_load(c) < n; ++i) usleep(1000);
    CHECK(atomic_load(c) >= n, "%s: %d of %d expiries in 2 s", what, atomic_load(c), n);
}

static void arm(timer_t t, int flags, long value_ns, long interval_ns) {
    struct itimerspec its = {{interval_ns / 1000000000, interval_ns % 1000000000},
                             {value_ns / 1000000000, value_ns % 1000000000}};
    CHECK_SYS(timer_settime(t, flags, &its, NULL));
}

static void case_default(void) {
    timer_t t;
    CHECK_SYS(timer_create(CLOCK_MONOTONIC, NULL, &t));
    arm(t, 0, 3000000, 0);
    wait_for(&alrm_count, 1, "default");
    CHECK(atomic_load(&last_code) == SI_TIMER, "si_code %d", atomic_load(&last_code));
    CHECK(atomic_load(&last_timerid) == (int)(intptr_t)t, "si_timerid %d, timer %d", atomic_load(&last_timerid),
          (int)(intptr_t)t);
    CHECK(atomic_load(&last_value) == (uintptr_t)t, "si_value %#lx", (unsigned long)atomic_load(&last_value));
    CHECK_SYS(timer_delete(t));
}

static void case_periodic(void) {
    static int marker;
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_SIGNAL;
    se.sigev_signo = SIGUSR1;
    se.sigev_value.sival_ptr = &marker;
    timer_t t;
    CHECK_SYS(timer_create(CLOCK_REALTIME, &se, &t));
    arm(t, 0, 2000000, 2000000);
    wait_for(&usr1_count, 4, "periodic");
    CHECK(atomic_load(&last_value) == (uintptr_t)&marker, "periodic si_value");
    struct itimerspec cur;
    CHECK_SYS(timer_gettime(t, &cur));
    CHECK(cur.it_interval.tv_nsec == 2000000 && cur.it_interval.tv_sec == 0, "interval read back");
    arm(t, 0, 0, 0);
    CHECK_SYS(timer_gettime(t, &cur));
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "disarmed reads zero");
    usleep(5000);
    const int n = atomic_load(&usr1_count);
    usleep(20000);
    CHECK(atomic_load(&usr1_count) == n, "signals after disarm: %d -> %d", n, atomic_load(&usr1_count));
    CHECK_SYS(timer_delete(t));
}

static atomic_int target_tid;
static atomic_int target_stop;
static void* target_thread(void* arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);  /* main blocks it; this thread takes it */
    atomic_store(&target_tid, (int)gettid());
    while (!atomic_load(&target_stop)) usleep(500);
    return NULL;
}

static void case_thread(void) {
    pthread_t th;
    CHECK_PT(pthread_create(&th, NULL, target_thread, NULL));
    while (!atomic_load(&target_tid)) usleep(100);
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_THREAD_ID;
    se.sigev_signo = SIGUSR2;
    se._sigev_un._tid = atomic_load(&target_tid);
    timer_t t;
    CHECK_SYS(timer_create(CLOCK_MONOTONIC, &se, &t));
    arm(t, 0, 2000000, 0);
    wait_for(&usr2_count, 1, "thread");
    CHECK(atomic_load(&usr2_tid) == atomic_load(&target_tid), "SIGEV_THREAD_ID reached tid %d, not %d",
          atomic_load(&usr2_tid), atomic_load(&target_tid));
    CHECK_SYS(timer_delete(t));
    atomic_store(&target_stop, 1);
    CHECK_PT(pthread_join(th, NULL));
    /* A tid outside the process: EINVAL. */
    se._sigev_un._tid = 1;
    CHECK(timer_create(CLOCK_MONOTONIC, &se, &t) == -1 && errno == EINVAL, "tid 1: errno %d", errno);
}

static void case_none(void) {
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_NONE;
    timer_t t;
    CHECK_SYS(timer_create(CLOCK_MONOTONIC, &se, &t));
    arm(t, 0, 500000000, 0);
    usleep(20000);
    struct itimerspec cur;
    CHECK_SYS(timer_gettime(t, &cur));
    const long left = cur.it_value.tv_sec * 1000000000L + cur.it_value.tv_nsec;
    CHECK(left > 0 && left < 490000000, "SIGEV_NONE left %ld ns after 20 ms of 500", left);
    CHECK_SYS(timer_delete(t));
}

static void case_abstime(clockid_t clock, const char* name) {
    timer_t t;
    CHECK_SYS(timer_create(clock, NULL, &t));
    struct timespec now;
    CHECK_SYS(clock_gettime(clock, &now));
    const int before = atomic_load(&alrm_count);
    long ns = now.tv_nsec + 10000000;
    struct itimerspec its = {{0, 0}, {now.tv_sec + ns / 1000000000, ns % 1000000000}};
    CHECK_SYS(timer_settime(t, TIMER_ABSTIME, &its, NULL));
    wait_for(&alrm_count, before + 1, name);
    struct timespec after;
    CHECK_SYS(clock_gettime(clock, &after));
    const long waited = (after.tv_sec - now.tv_sec) * 1000000000L + (after.tv_nsec - now.tv_nsec);
    CHECK(waited >= 9000000, "%s: fired after %ld ns, before its 10 ms", name, waited);
    CHECK_SYS(timer_delete(t));
}

static void on_callback(union sigval v) {
    if (v.sival_int == 77) atomic_fetch_add(&callback_count, 1);
}

static void case_callback(void) {
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_THREAD;
    se.sigev_notify_function = on_callback;
    se.sigev_value.sival_int = 77;
    timer_t t;
    CHECK_SYS(timer_create(CLOCK_MONOTONIC, &se, &t));
    arm(t, 0, 2000000, 0);
    wait_for(&callback_count, 1, "callback");
    CHECK_SYS(timer_delete(t));
}

static void case_errors(void) {
    struct itimerspec its = {{0, 0}, {0, 1000}};
    CHECK(syscall(SYS_timer_settime, 12345, 0, &its, NULL) == -1 && errno == EINVAL, "unknown id: %d", errno);
    CHECK(syscall(SYS_timer_delete, 12345) == -1 && errno == EINVAL, "delete unknown id: %d", errno);
    struct { long value; int signo, notify; int pad[12]; } bad = {0, SIGUSR1, 99, {0}};
    int id;
    CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &bad, &id) == -1 && errno == EINVAL, "bad notify: %d", errno);
    bad.notify = SIGEV_SIGNAL;
    bad.signo = 0;
    CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &bad, &id) == -1 && errno == EINVAL, "signal 0: %d", errno);
    timer_t t;
    CHECK_SYS(timer_create(CLOCK_MONOTONIC, NULL, &t));
    struct itimerspec neg = {{0, 0}, {0, 1000000000}};
    CHECK(timer_settime(t, 0, &neg, NULL) == -1 && errno == EINVAL, "tv_nsec 1e9: %d", errno);
    CHECK_SYS(timer_delete(t));
}

static void case_fork(void) {
    timer_t t;
    CHECK_SYS(timer_create(CLOCK_MONOTONIC, NULL, &t));
    arm(t, 0, 500000000, 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK_SYS(pid);
    if (pid == 0) {
        struct itimerspec cur;
        _exit(timer_gettime(t, &cur) == -1 && errno == EINVAL ? 0 : 1);
    }
    int st;
    CHECK_SYS(waitpid(pid, &st, 0));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child saw its parent's timer (status %#x)", st);
    CHECK_SYS(timer_delete(t));
}

/* Expiries while the timer's signal is pending count as its overrun
 * (si_overrun, and timer_getoverrun after acceptance), on a real-time
 * signal too: a timer's signal merges, it does not queue. */
static void case_overrun(void) {
    const int sig = SIGRTMIN + 7;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    CHECK_PT(pthread_sigmask(SIG_BLOCK, &s, NULL));
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_SIGNAL;
    se.sigev_signo = sig;
    timer_t t;
    CHECK_SYS(timer_create(CLOCK_MONOTONIC, &se, &t));
    CHECK(timer_getoverrun(t) == 0, "overrun before any expiry: %d", timer_getoverrun(t));
    arm(t, 0, 1000000, 1000000);
    int overrun = 0;
    /* A loaded host may run the timer late; 20 tries of 20 ms. */
    for (int i = 0; i < 20 && overrun == 0; ++i) {
        usleep(20000);
        siginfo_t si;
        CHECK(sigwaitinfo(&s, &si) == sig, "overrun: sigwaitinfo");
        CHECK(si.si_code == SI_TIMER, "overrun: si_code %d", si.si_code);
        overrun = si.si_overrun;
        CHECK(timer_getoverrun(t) == overrun, "timer_getoverrun %d, si_overrun %d", timer_getoverrun(t), overrun);
    }
    CHECK(overrun > 0, "no overrun in 20 waits of 20 ms on a 1 ms timer");
    arm(t, 0, 0, 0);
    struct timespec zero = {0, 0};
    (void)sigtimedwait(&s, NULL, &zero);  /* one may have come before the disarm */
    CHECK_SYS(timer_delete(t));
    CHECK_PT(pthread_sigmask(SIG_UNBLOCK, &s, NULL));
}

int main(void) {
    gp_on_signal(SIGALRM, on_signal, 0);
    gp_on_signal(SIGUSR1, on_signal, 0);
    gp_on_signal(SIGUSR2, on_signal, 0);
    /* SIGUSR2 is for the target thread only: main blocks it. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    case_default();
    case_periodic();
    CHECK_PT(pthread_sigmask(SIG_BLOCK, &s, NULL));
    case_thread();
    case_none();
    case_abstime(CLOCK_MONOTONIC, "abstime monotonic");
    case_abstime(CLOCK_REALTIME, "abstime realtime");
    case_callback();
    case_errors();
    case_fork();
    case_overrun();
    printf("posix_timers: ok\n");
    return 0;
}
