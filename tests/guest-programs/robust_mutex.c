/* Robust mutexes (PTHREAD_MUTEX_ROBUST) whose owner dies: the next locker
 * gets EOWNERDEAD, as Linux's exit_robust_list makes it, never a wait
 * without end. Owners that die:
 *   a thread that exits holding it (no waiter, then a blocked waiter);
 *   a process that exits holding one in MAP_SHARED memory (no waiter, then
 *   a blocked waiter in the parent);
 *   a process killed by SIGTERM holding one;
 *   a process that execs holding one.
 * Every lock waits 10 s at most (pthread_mutex_timedlock), so a lock that
 * is never released fails the test instead of hanging it. Prints
 * "robust_mutex: ok". */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

static pthread_mutex_t local_mu;
static int to_main[2];

static void init_robust(pthread_mutex_t* m, int pshared) {
    pthread_mutexattr_t a;
    CHECK_PT(pthread_mutexattr_init(&a));
    CHECK_PT(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
    if (pshared) CHECK_PT(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    CHECK_PT(pthread_mutex_init(m, &a));
    CHECK_PT(pthread_mutexattr_destroy(&a));
}

static int lock_within_10s(pthread_mutex_t* m) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    return pthread_mutex_timedlock(m, &ts);
}

/* The owner died: EOWNERDEAD, then consistent, unlock, and a plain lock. */
static void expect_owner_dead(pthread_mutex_t* m, const char* what) {
    const int rc = lock_within_10s(m);
    CHECK(rc == EOWNERDEAD, "%s: lock gave %d (%s), want EOWNERDEAD", what, rc, strerror(rc));
    CHECK_PT(pthread_mutex_consistent(m));
    CHECK_PT(pthread_mutex_unlock(m));
    CHECK_PT(lock_within_10s(m));
    CHECK_PT(pthread_mutex_unlock(m));
}

static void* hold_and_exit(void* arg) {
    const long delay_ms = (long)arg;
    CHECK_PT(pthread_mutex_lock(&local_mu));
    CHECK_SYS(write(to_main[1], "l", 1));
    if (delay_ms) usleep(delay_ms * 1000);
    return NULL; /* exits holding local_mu */
}

static void wait_byte(int fd) {
    char c;
    CHECK(read(fd, &c, 1) == 1, "read: %s", strerror(errno));
}

static void thread_owner(long delay_ms, const char* what) {
    pthread_t th;
    CHECK_PT(pthread_create(&th, NULL, hold_and_exit, (void*)delay_ms));
    wait_byte(to_main[0]);
    if (!delay_ms) CHECK_PT(pthread_join(th, NULL));
    expect_owner_dead(&local_mu, what); /* with a delay: blocks until the thread exits */
    if (delay_ms) CHECK_PT(pthread_join(th, NULL));
}

enum how { exit_now, exit_later, killed, execs };

static void process_owner(pthread_mutex_t* shared_mu, enum how how, const char* what) {
    int p2c[2];
    CHECK_SYS(pipe(p2c));
    fflush(NULL);
    const pid_t p = fork();
    CHECK_SYS(p);
    if (p == 0) {
        CHECK_PT(pthread_mutex_lock(shared_mu));
        CHECK_SYS(write(to_main[1], "l", 1));
        switch (how) {
            case exit_now: _exit(0);
            case exit_later: usleep(50 * 1000); _exit(0);
            case killed: for (;;) pause();
            case execs:
                execl("/bin/sh", "sh", "-c", "exit 0", (char*)NULL);
                _exit(127);
        }
    }
    close(p2c[0]);
    close(p2c[1]);
    wait_byte(to_main[0]);
    int st;
    if (how == killed) CHECK_SYS(kill(p, SIGTERM));
    if (how == exit_later) {
        expect_owner_dead(shared_mu, what); /* blocks until the child exits */
        CHECK(waitpid(p, &st, 0) == p, "waitpid");
        return;
    }
    CHECK(waitpid(p, &st, 0) == p, "waitpid");
    if (how == killed) CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "%s: status %#x", what, st);
    if (how == execs) CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %#x", what, st);
    expect_owner_dead(shared_mu, what);
}

int main(void) {
    CHECK_SYS(pipe(to_main));
    init_robust(&local_mu, 0);
    thread_owner(0, "a thread exited holding it");
    thread_owner(50, "a thread exited holding it, a waiter blocked");

    pthread_mutex_t* shared_mu = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared_mu != MAP_FAILED, "mmap: %s", strerror(errno));
    init_robust(shared_mu, 1);
    process_owner(shared_mu, exit_now, "a process exited holding it");
    process_owner(shared_mu, exit_later, "a process exited holding it, a waiter blocked");
    process_owner(shared_mu, killed, "a process killed by SIGTERM holding it");
    process_owner(shared_mu, execs, "a process exec'd holding it");
    gp_ok("robust_mutex");
    return 0;
}
