/* RLIMIT_FSIZE: a write past it writes up to the limit, then fails with
 * EFBIG and sends SIGXFSZ to the writing thread (Linux's send_sig in
 * generic_write_check_limits), whose handler runs before write returns;
 * with SIGXFSZ ignored only EFBIG remains (ftruncate too). A child with the
 * default action dies of the signal (status 25, with a core where one is
 * allowed). Prints "fsize_limit: ok". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

static volatile int got, got_tid;
static void on_xfsz(int sig, siginfo_t* si, void* uc) {
    (void)si, (void)uc;
    got = sig;
    got_tid = (int)syscall(SYS_gettid);
}

static int fd;
static void* writer(void* arg) {
    (void)arg;
    char b[64] = {0};
    got = 0;
    const ssize_t n = write(fd, b, sizeof b);
    CHECK(n == -1 && errno == EFBIG, "a thread's write past the limit: %zd, %s", n, strerror(errno));
    CHECK(got == SIGXFSZ && got_tid == (int)syscall(SYS_gettid), "SIGXFSZ in the writing thread: got %d in %d",
          got, got_tid);
    return NULL;
}

int main(void) {
    char path[] = "/tmp/gp_fsize_limitXXXXXX";
    fd = mkstemp(path);
    CHECK_SYS(fd);
    unlink(path);
    const struct rlimit lim = {1000, RLIM_INFINITY};
    CHECK_SYS(setrlimit(RLIMIT_FSIZE, &lim));
    gp_on_signal(SIGXFSZ, on_xfsz, 0);
    char b[2000];
    memset(b, 'z', sizeof b);
    ssize_t n = write(fd, b, sizeof b);
    CHECK(n == 1000 && got == 0, "a write across the limit: %zd (got %d)", n, got);
    n = write(fd, b, 10);
    CHECK(n == -1 && errno == EFBIG, "a write at the limit: %zd, %s", n, strerror(errno));
    CHECK(got == SIGXFSZ, "no SIGXFSZ with EFBIG (got %d)", got);

    pthread_t th;
    CHECK_PT(pthread_create(&th, NULL, writer, NULL));
    CHECK_PT(pthread_join(th, NULL));

    signal(SIGXFSZ, SIG_IGN);
    got = 0;
    CHECK(ftruncate(fd, 5000) == -1 && errno == EFBIG, "ftruncate past the limit: %s", strerror(errno));
    CHECK(got == 0, "an ignored SIGXFSZ ran the handler");

    signal(SIGXFSZ, SIG_DFL);
    const struct rlimit nocore = {0, 0};
    CHECK_SYS(setrlimit(RLIMIT_CORE, &nocore));
    fflush(NULL);
    const pid_t pid = fork();
    CHECK_SYS(pid);
    if (pid == 0) {
        (void)write(fd, b, 10);
        _exit(0);  /* not reached: SIGXFSZ ends it */
    }
    int st;
    CHECK_SYS(waitpid(pid, &st, 0));
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ, "the child's status %#x, not SIGXFSZ", st);
    printf("fsize_limit: ok\n");
    return 0;
}
