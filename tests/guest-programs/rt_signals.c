/* Real-time signals as Linux queues them: each sigqueue(3) instance pending
 * on its own with its value (SI_QUEUE), delivered lowest number first and,
 * within one number, oldest first; a standard signal sent twice while
 * blocked merges. The same through sigtimedwait, a signalfd, a thread's own
 * queue (rt_tgsigqueueinfo), and across processes: a child's handler for a
 * real-time signal from kill(2) (it used to die of it), and sigwaitinfo of
 * queued values from its parent. rt_sigqueueinfo to another process with a
 * non-negative si_code is EPERM. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

#define MAX_SEEN 16
static int seen_sig[MAX_SEEN], seen_val[MAX_SEEN], seen_code[MAX_SEEN];
static atomic_int seen;

static void on_signal(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    int i = atomic_load(&seen);
    if (i < MAX_SEEN) {
        seen_sig[i] = sig;
        seen_val[i] = si->si_value.sival_int;
        seen_code[i] = si->si_code;
    }
    atomic_store(&seen, i + 1);
}

/* Everything blocked in the handler: one signal per return, so the handlers
 * run in the order they are delivered. */
static void handle(int sig) { gp_on_signal(sig, on_signal, 1); }

static void block(int sig, int how) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    CHECK_SYS(sigprocmask(how, &s, NULL));
}

static void queue(pid_t pid, int sig, int value) {
    union sigval v = {.sival_int = value};
    CHECK_SYS(sigqueue(pid, sig, v));
}

static void case_order(void) {
    const int rt = SIGRTMIN;
    handle(SIGUSR1);
    handle(rt);
    handle(rt + 1);
    sigset_t all, old;
    sigfillset(&all);
    CHECK_SYS(sigprocmask(SIG_BLOCK, &all, &old));
    queue(getpid(), rt + 1, 10);
    queue(getpid(), rt, 1);
    queue(getpid(), rt, 2);
    queue(getpid(), rt, 3);
    CHECK_SYS(kill(getpid(), SIGUSR1));
    CHECK_SYS(kill(getpid(), SIGUSR1));
    atomic_store(&seen, 0);
    CHECK_SYS(sigprocmask(SIG_SETMASK, &old, NULL));
    const int want_sig[] = {SIGUSR1, rt, rt, rt, rt + 1};
    const int want_val[] = {0, 1, 2, 3, 10};
    CHECK(atomic_load(&seen) == 5, "order: %d handlers ran, want 5 (a merged SIGUSR1 and 4 queued)", atomic_load(&seen));
    for (int i = 0; i < 5; ++i) {
        CHECK(seen_sig[i] == want_sig[i], "order: handler %d took signal %d, want %d", i, seen_sig[i], want_sig[i]);
        if (i > 0) {
            CHECK(seen_val[i] == want_val[i], "order: handler %d value %d, want %d", i, seen_val[i], want_val[i]);
            CHECK(seen_code[i] == SI_QUEUE, "order: handler %d si_code %d", i, seen_code[i]);
        }
    }
}

static void case_sigtimedwait(void) {
    const int sig = SIGRTMIN + 2;
    block(sig, SIG_BLOCK);
    queue(getpid(), sig, 5);
    queue(getpid(), sig, 6);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    struct timespec zero = {0, 0};
    for (int want = 5; want <= 6; ++want) {
        siginfo_t si;
        CHECK(sigtimedwait(&s, &si, &zero) == sig, "sigtimedwait: instance %d missing", want);
        CHECK(si.si_value.sival_int == want && si.si_code == SI_QUEUE && si.si_pid == getpid(),
              "sigtimedwait: value %d code %d pid %d", si.si_value.sival_int, si.si_code, si.si_pid);
    }
    errno = 0;
    CHECK(sigtimedwait(&s, NULL, &zero) == -1 && errno == EAGAIN, "sigtimedwait: a third instance");
    block(sig, SIG_UNBLOCK);
}

static void case_signalfd(void) {
    const int sig = SIGRTMIN + 5;
    block(sig, SIG_BLOCK);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    int fd = signalfd(-1, &s, SFD_NONBLOCK);
    CHECK_SYS(fd);
    queue(getpid(), sig, 77);
    queue(getpid(), sig, 78);
    struct signalfd_siginfo r[2];
    ssize_t n = 0;
    for (int got = 0; got < 2; got += (int)(n / (ssize_t)sizeof r[0])) {
        n = read(fd, &r[got], sizeof r - (size_t)got * sizeof r[0]);
        CHECK(n > 0, "signalfd: read %zd after %d records", n, got);
    }
    CHECK(r[0].ssi_int == 77 && r[1].ssi_int == 78 && r[0].ssi_code == SI_QUEUE,
          "signalfd: values %d %d code %d", r[0].ssi_int, r[1].ssi_int, r[0].ssi_code);
    close(fd);
    block(sig, SIG_UNBLOCK);
}

static void case_thread_queue(void) {
    /* rt_tgsigqueueinfo to the calling thread itself, with si_code 0: a
     * process may send itself any siginfo. */
    const int sig = SIGRTMIN + 4;
    handle(sig);
    atomic_store(&seen, 0);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = 0;
    si.si_pid = getpid();
    si.si_value.sival_int = 9;
    CHECK_SYS(syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig, &si));
    CHECK(atomic_load(&seen) == 1 && seen_sig[0] == sig && seen_val[0] == 9 && seen_code[0] == 0,
          "tgsigqueueinfo: seen %d sig %d value %d code %d", atomic_load(&seen), seen_sig[0], seen_val[0],
          seen_code[0]);
}

static void case_other_process(void) {
    const int q = SIGRTMIN + 1, k = SIGRTMIN + 3, h = SIGRTMIN + 6;
    int ready[2];
    CHECK_SYS(pipe(ready));
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, q);
    sigaddset(&s, k);
    CHECK_SYS(sigprocmask(SIG_BLOCK, &s, NULL));  /* the child starts with them blocked */
    handle(h);
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
        atomic_store(&seen, 0);
        if (write(ready[1], "r", 1) != 1) _exit(10);
        const int want_sig[] = {q, q, k}, want_val[] = {100, 101, 0};
        const int want_code[] = {SI_QUEUE, SI_QUEUE, SI_USER};
        for (int i = 0; i < 3; ++i) {
            siginfo_t si;
            if (sigwaitinfo(&s, &si) != want_sig[i]) _exit(20 + i);
            if (si.si_code != want_code[i] || si.si_pid != getppid()) _exit(30 + i);
            if (i < 2 && si.si_value.sival_int != want_val[i]) _exit(40 + i);
        }
        /* The handler's signal comes from kill(2) next. */
        for (int i = 0; i < 2000 && atomic_load(&seen) == 0; ++i) usleep(1000);
        _exit(atomic_load(&seen) == 1 && seen_sig[0] == h ? 0 : 50);
    }
    char b;
    CHECK(read(ready[0], &b, 1) == 1, "the child never said it was ready");
    queue(c, q, 100);
    queue(c, q, 101);
    CHECK_SYS(kill(c, k));
    /* A queued signal with kill's si_code is refused for another process. */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = q;
    si.si_code = SI_USER;
    errno = 0;
    CHECK(syscall(SYS_rt_sigqueueinfo, c, q, &si) == -1 && errno == EPERM, "rt_sigqueueinfo SI_USER: errno %d",
          errno);
    CHECK_SYS(kill(c, h));
    int st;
    CHECK(waitpid(c, &st, 0) == c, "waitpid");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child saw something else (status %#x)", st);
    CHECK_SYS(sigprocmask(SIG_UNBLOCK, &s, NULL));
    close(ready[0]);
    close(ready[1]);
}

int main(void) {
    case_order();
    case_sigtimedwait();
    case_signalfd();
    case_thread_queue();
    case_other_process();
    printf("rt_signals: ok\n");
    return 0;
}
