/* Linux's CLD_STOPPED si_status race, natively (no spanvm).
 *   gcc -O2 -pthread stop_race.c -o stop_race
 *   ./stop_race THREADS ROUNDS DELAY_NS
 * Each round forks a child (with THREADS extra threads, all in pause()),
 * SIGSTOPs it, spins DELAY_NS, then waitpid(WUNTRACED), and counts the
 * SIGCHLDs whose siginfo is not {CLD_STOPPED, SIGSTOP}. The child's last
 * thread to stop marks the group stopped and drops the siglock before it
 * reads group_exit_code for the parent's siginfo (kernel/signal.c,
 * do_signal_stop); a wait that lands in between zeroes it, so si_status
 * reads 0. On the 2-core PVM guest of 2026-12-07, with a build running on
 * both CPUs: 3-9 of 2,000 at 8-12 us, 1 of 2,000 at delay 0 (the wait
 * late by preemption); on the quiet host 0 of 12,000 at 8-12 us. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int status = -1, code;
static void on_chld(int s, siginfo_t* si, void* u) {
    (void)s, (void)u;
    code = si->si_code;
    status = si->si_status;
}
static void* sleeper(void* a) {
    (void)a;
    for (;;) pause();
    return NULL;
}
static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: stop_race THREADS ROUNDS DELAY_NS\n");
        return 2;
    }
    const int nthreads = atoi(argv[1]), rounds = atoi(argv[2]);
    const long delay_ns = atol(argv[3]);
    int bad = 0;
    struct sigaction sa = {0};
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, 0);
    for (int r = 0; r < rounds; r++) {
        const pid_t p = fork();
        if (p == 0) {
            for (int i = 0; i < nthreads; i++) {
                pthread_t t;
                pthread_create(&t, 0, sleeper, 0);
            }
            for (;;) pause();
        }
        usleep(2000);
        status = -1;
        kill(p, SIGSTOP);
        for (const long t0 = now_ns(); now_ns() - t0 < delay_ns;) {
        }
        int st;
        waitpid(p, &st, WUNTRACED);
        for (int i = 0; i < 100 && status == -1; i++) usleep(100);
        if (code != CLD_STOPPED || status != SIGSTOP) {
            bad++;
            fprintf(stderr, "si_code %d si_status %d\n", code, status);
        }
        kill(p, SIGKILL);
        waitpid(p, &st, 0);
    }
    printf("threads %d delay %ld ns: %d of %d not {CLD_STOPPED, SIGSTOP}\n", nthreads, delay_ns, bad, rounds);
    return 0;
}
