/* seccomp as Linux enforces it: strict mode, filters and their actions,
 * inheritance by threads, forked children and execve, TSYNC.
 *
 * Each case runs in a forked child (a filter cannot be taken off), which
 * reports by its exit status; the parent checks every status:
 *   checks    invalid programs (EINVAL), NULL (EFAULT), GET_ACTION_AVAIL,
 *             PR_GET_SECCOMP before and after
 *   errno     SECCOMP_RET_ERRNO on uname, on dup(77) only (an argument
 *             test), and on getppid called from a site already run many
 *             times (spanvm answers it without trapping until a filter
 *             comes); the newest filter's data wins among equal actions
 *   trap      SECCOMP_RET_TRAP on getuid: SIGSYS with si_code SYS_SECCOMP,
 *             si_syscall, si_arch, si_errno (the data), si_call_addr, RAX =
 *             the call's number; the handler's RAX becomes the result;
 *             a TRAP in a newer filter beats an older ERRNO
 *   threads   a thread made after the filter inherits it; TSYNC puts a new
 *             one on a thread made before
 *   exec      a filter survives execve: /bin/uname fails with EPERM there
 *   kill      SECCOMP_RET_KILL_PROCESS: the child dies of SIGSYS;
 *             SECCOMP_RET_KILL_THREAD of one of two threads: the other one
 *             goes on and joins it
 *   strict    SECCOMP_MODE_STRICT: write works, getpid is SIGKILL
 * Prints "seccomp_filter: ok". */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "gp_check.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS (asm-generic/siginfo.h); glibc does not name it */
#endif

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
/* if nr == NR return RET, else fall through */
#define ON_NR(NR, RET) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (NR), 0, 1), BPF_STMT(BPF_RET | BPF_K, (RET))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static long install(struct sock_filter* f, unsigned short n, unsigned flags) {
    struct sock_fprog prog = {n, f};
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}
#define INSTALL(F, FLAGS) install((F), (unsigned short)(sizeof(F) / sizeof((F)[0])), (FLAGS))

static int uname_errno(void) {
    struct utsname u;
    return uname(&u) == 0 ? 0 : errno;
}

static void case_checks(void) {
    CHECK(prctl(PR_GET_SECCOMP) == 0, "PR_GET_SECCOMP before any filter: %d", prctl(PR_GET_SECCOMP));
    struct sock_filter past_end[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0), ALLOW};
    CHECK(INSTALL(past_end, 0) == -1 && errno == EINVAL, "a jump past the end: errno %d", errno);
    struct sock_filter misaligned[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), ALLOW};
    CHECK(INSTALL(misaligned, 0) == -1 && errno == EINVAL, "a misaligned load: errno %d", errno);
    struct sock_filter no_ret[] = {LOAD_NR};
    CHECK(INSTALL(no_ret, 0) == -1 && errno == EINVAL, "no return at the end: errno %d", errno);
    struct sock_filter unset_mem[] = {BPF_STMT(BPF_LD | BPF_MEM, 3), ALLOW};
    CHECK(INSTALL(unset_mem, 0) == -1 && errno == EINVAL, "a scratch word read unset: errno %d", errno);
    CHECK(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, NULL) == -1 && errno == EFAULT, "NULL: errno %d", errno);
    CHECK(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 1u << 20, NULL) == -1 && errno == EINVAL,
          "an unknown flag: errno %d", errno);
    unsigned action = SECCOMP_RET_LOG;
    CHECK(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0, "RET_LOG available: %s", strerror(errno));
    action = 0x12340000;
    CHECK(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == -1 && errno == EOPNOTSUPP,
          "an unknown action: errno %d", errno);
    struct sock_filter allow[] = {ALLOW};
    CHECK(INSTALL(allow, 0) == 0, "allow-all: %s", strerror(errno));
    CHECK(prctl(PR_GET_SECCOMP) == 2, "PR_GET_SECCOMP under a filter: %d", prctl(PR_GET_SECCOMP));
    /* No strict mode once a filter is on. */
    CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) == -1 && errno == EINVAL, "strict after filter: %d", errno);
}

static void case_errno(void) {
    pid_t want_ppid = getppid();
    for (int i = 0; i < 50; ++i) CHECK(getppid() == want_ppid, "getppid before the filter");
    struct sock_filter f[] = {
        LOAD_NR,
        ON_NR(SYS_uname, SECCOMP_RET_ERRNO | EPERM),
        ON_NR(SYS_getppid, SECCOMP_RET_ERRNO | ENOTTY),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 77, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EXDEV),
        ALLOW,
    };
    CHECK(INSTALL(f, 0) == 0, "install: %s", strerror(errno));
    CHECK(uname_errno() == EPERM, "uname: errno %d", uname_errno());
    /* glibc's getppid cannot fail, so it returns the kernel's -ENOTTY as is. */
    for (int i = 0; i < 3; ++i) {
        const pid_t r = getppid();
        CHECK(r == -ENOTTY, "getppid under the filter: %d", (int)r);
    }
    CHECK(dup(77) == -1 && errno == EXDEV, "dup(77): errno %d", errno);
    int d = dup(0);
    CHECK(d >= 0, "dup(0): %s", strerror(errno));
    close(d);
    /* A newer filter with the same action: its data wins. */
    struct sock_filter g[] = {LOAD_NR, ON_NR(SYS_uname, SECCOMP_RET_ERRNO | EACCES), ALLOW};
    CHECK(INSTALL(g, 0) == 0, "second install: %s", strerror(errno));
    CHECK(uname_errno() == EACCES, "uname under two filters: errno %d", uname_errno());
}

static volatile sig_atomic_t trapped;
static void on_sigsys(int sig, siginfo_t* si, void* ucv) {
    ucontext_t* uc = ucv;
    if (sig != SIGSYS || si->si_code != SYS_SECCOMP || si->si_syscall != SYS_getuid ||
        si->si_arch != AUDIT_ARCH_X86_64 || si->si_errno != 42 || si->si_call_addr == NULL ||
        uc->uc_mcontext.gregs[REG_RAX] != SYS_getuid) {
        trapped = -1;
        return;
    }
    trapped = 1;
    uc->uc_mcontext.gregs[REG_RAX] = 1234;  /* what the trapped call returns */
}

static void case_trap(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    CHECK_SYS(sigaction(SIGSYS, &sa, NULL));
    struct sock_filter f[] = {LOAD_NR, ON_NR(SYS_getuid, SECCOMP_RET_TRAP | 42), ON_NR(SYS_uname, SECCOMP_RET_ERRNO | EPERM), ALLOW};
    CHECK(INSTALL(f, 0) == 0, "install: %s", strerror(errno));
    long r = syscall(SYS_getuid);
    CHECK(trapped == 1, "SIGSYS handler saw the wrong siginfo or RAX (%d)", (int)trapped);
    CHECK(r == 1234, "the trapped call returned %ld, not the handler's RAX", r);
    /* TRAP in a newer filter beats ERRNO in an older one. */
    struct sock_filter g[] = {LOAD_NR, ON_NR(SYS_uname, SECCOMP_RET_TRAP | 42), ALLOW};
    CHECK(INSTALL(g, 0) == 0, "second install: %s", strerror(errno));
    trapped = 0;
    (void)uname_errno();
    CHECK(trapped == -1, "uname under TRAP over ERRNO: no SIGSYS (%d)", (int)trapped);
}

static void* uname_thread(void* arg) {
    (void)arg;
    return (void*)(long)uname_errno();
}

static pthread_barrier_t bar;
static void* waiting_thread(void* arg) {
    (void)arg;
    pthread_barrier_wait(&bar);  /* made before the filter */
    pthread_barrier_wait(&bar);  /* the filter is on (TSYNC) */
    return (void*)(long)uname_errno();
}

static void case_threads(void) {
    pthread_t before;
    CHECK_PT(pthread_barrier_init(&bar, NULL, 2));
    CHECK_PT(pthread_create(&before, NULL, waiting_thread, NULL));
    pthread_barrier_wait(&bar);
    struct sock_filter f[] = {LOAD_NR, ON_NR(SYS_uname, SECCOMP_RET_ERRNO | EPERM), ALLOW};
    CHECK(INSTALL(f, SECCOMP_FILTER_FLAG_TSYNC) == 0, "install with TSYNC: %s", strerror(errno));
    pthread_barrier_wait(&bar);
    void* r;
    CHECK_PT(pthread_join(before, &r));
    CHECK((long)r == EPERM, "uname in a thread made before TSYNC: errno %ld", (long)r);
    pthread_t after;
    CHECK_PT(pthread_create(&after, NULL, uname_thread, NULL));
    CHECK_PT(pthread_join(after, &r));
    CHECK((long)r == EPERM, "uname in a thread made after the filter: errno %ld", (long)r);
}

static void case_exec(void) {
    struct sock_filter f[] = {LOAD_NR, ON_NR(SYS_uname, SECCOMP_RET_ERRNO | EPERM), ALLOW};
    CHECK(INSTALL(f, 0) == 0, "install: %s", strerror(errno));
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2);
    execl("/bin/uname", "uname", (char*)NULL);
    GP_FAIL("execl /bin/uname: %s", strerror(errno));
}

static void case_kill_process(void) {
    struct sock_filter f[] = {LOAD_NR, ON_NR(SYS_mknodat, SECCOMP_RET_KILL_PROCESS), ALLOW};
    CHECK(INSTALL(f, 0) == 0, "install: %s", strerror(errno));
    syscall(SYS_mknodat, AT_FDCWD, "/nonexistent/x", 0, 0);
    _exit(3);  /* not reached */
}

static void* dying_thread(void* arg) {
    (void)arg;
    syscall(SYS_mknodat, AT_FDCWD, "/nonexistent/x", 0, 0);
    return (void*)1L;  /* not reached */
}

static void case_kill_thread(void) {
    struct sock_filter f[] = {LOAD_NR, ON_NR(SYS_mknodat, SECCOMP_RET_KILL_THREAD), ALLOW};
    CHECK(INSTALL(f, 0) == 0, "install: %s", strerror(errno));
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, dying_thread, NULL));
    void* r = NULL;
    CHECK_PT(pthread_join(t, &r));  /* the kernel clears its tid word: join returns */
    CHECK(r != (void*)1L, "the killed thread returned");
}

static void case_strict(int wfd) {
    CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) == 0, "strict: %s", strerror(errno));
    static const char msg[] = "strict";
    if (write(wfd, msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1)) syscall(SYS_exit, 5);
    syscall(SYS_getpid);  /* SIGKILL */
    syscall(SYS_exit, 4);
}

/* Runs `fn` in a child; returns its wait status. */
static int in_child(void (*fn)(void)) {
    fflush(NULL);
    pid_t pid = fork();
    CHECK_SYS(pid);
    if (pid == 0) {
        CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "no_new_privs: %s", strerror(errno));
        fn();
        fflush(NULL);
        _exit(0);
    }
    int st;
    CHECK_SYS(waitpid(pid, &st, 0));
    return st;
}

static void expect_exit0(const char* name, int st) {
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "case %s: status %#x", name, st);
}

int main(void) {
    expect_exit0("checks", in_child(case_checks));
    expect_exit0("errno", in_child(case_errno));
    expect_exit0("trap", in_child(case_trap));
    expect_exit0("threads", in_child(case_threads));
    int st = in_child(case_exec);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exec: /bin/uname under the filter: status %#x (want exit 1)", st);
    st = in_child(case_kill_process);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "kill process: status %#x (want SIGSYS)", st);
    expect_exit0("kill thread", in_child(case_kill_thread));
    int p[2];
    CHECK_SYS(pipe(p));
    fflush(NULL);
    pid_t pid = fork();
    CHECK_SYS(pid);
    if (pid == 0) {
        close(p[0]);
        case_strict(p[1]);
    }
    close(p[1]);
    CHECK_SYS(waitpid(pid, &st, 0));
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "strict: status %#x (want SIGKILL)", st);
    char buf[16] = {0};
    CHECK(read(p[0], buf, sizeof buf - 1) == 6 && strcmp(buf, "strict") == 0, "strict: the write before: '%s'", buf);
    printf("seccomp_filter: ok\n");
    return 0;
}
