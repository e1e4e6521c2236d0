/* fork + wait4/waitid statuses as Linux reports them: a normal exit, a
 * death by a signal sent with kill(), deaths by core-dumping signals
 * (SIGSEGV from a fault, SIGABRT from abort()), getpid/getppid agreeing with
 * fork's return, and SIGCHLD reaching the parent's handler. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

static volatile sig_atomic_t chld_seen;
static void on_chld(int sig) { (void)sig; chld_seen++; }

static int child_status(pid_t c) {
    int st = 0;
    pid_t w;
    do w = waitpid(c, &st, 0);
    while (w < 0 && errno == EINTR);
    CHECK(w == c, "waitpid returned %d, wanted %d (errno %d)", (int)w, (int)c, errno);
    return st;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    const pid_t me = getpid();

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t c = fork();
    CHECK(c >= 0, "fork: %s", strerror(errno));
    if (c == 0) {
        pid_t ids[2] = {getpid(), getppid()};
        if (write(p[1], ids, sizeof ids) != sizeof ids) _exit(99);
        _exit(7);
    }
    pid_t ids[2];
    CHECK(read(p[0], ids, sizeof ids) == sizeof ids, "read the child's ids");
    CHECK(ids[0] == c, "child getpid %d != fork's %d", (int)ids[0], (int)c);
    CHECK(ids[1] == me, "child getppid %d != parent %d", (int)ids[1], (int)me);
    int st = child_status(c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "exit status %#x", st);

    c = fork();
    if (c == 0) {
        for (;;) pause();
    }
    CHECK(kill(c, SIGTERM) == 0, "kill");
    st = child_status(c);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "SIGTERM status %#x", st);

    c = fork();
    if (c == 0) {
        volatile int* volatile bad = NULL;
        *bad = 1;
        _exit(1);
    }
    st = child_status(c);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "SIGSEGV status %#x", st);

    c = fork();
    if (c == 0) abort();
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r;
    do r = waitid(P_PID, (id_t)c, &si, WEXITED);
    while (r < 0 && errno == EINTR);
    CHECK(r == 0, "waitid: %s", strerror(errno));
    CHECK(si.si_pid == c && (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) && si.si_status == SIGABRT,
          "waitid: pid %d code %d status %d", (int)si.si_pid, si.si_code, si.si_status);

    /* Nothing left to wait for. */
    CHECK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "ECHILD expected");
    for (int i = 0; i < 100 && chld_seen < 4; ++i) usleep(10000);
    CHECK(chld_seen >= 1, "SIGCHLD handler never ran");
    printf("proc_fork_wait: ok\n");
    return 0;
}
