/* The calls whose guest memory a placed image's node captures
 * (vmm/cluster/arg_rules.hpp) give what Linux gives, and write only what
 * Linux writes: each output buffer starts as a canary, and the bytes Linux
 * leaves alone (past a readlink's result, a failed call's struct, a wait4
 * that reaped nothing) must still hold it. Inputs and outputs at one
 * address (rt_sigaction(sig, &sa, &sa) and the like) read the input.
 * Works in a scratch folder placed_calls.d of the current directory.
 * Prints what it saw (the same on every run) and "placed_calls: ok".
 * With an argument N, first makes N fstat calls (the integration test
 * counts the pages its node fetched meanwhile: without the capture, one or
 * more per call). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

#define CANARY 0xa5

static int all_canary(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; ++i)
        if (b[i] != CANARY) return 0;
    return 1;
}

/* struct sigaction as the kernel reads it (x86-64). */
struct ksigaction {
    uint64_t handler, flags, restorer, mask;
};

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void stats(void) {
    int fd = open("placed_calls.d/file", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK_SYS(fd);
    CHECK(write(fd, "hello, node\n", 12) == 12, "write");
    struct stat a, b, c;
    memset(&a, CANARY, sizeof a);
    memset(&b, CANARY, sizeof b);
    memset(&c, CANARY, sizeof c);
    CHECK_SYS(fstat(fd, &a));
    CHECK_SYS(syscall(SYS_newfstatat, AT_FDCWD, "placed_calls.d/file", &b, 0));
    CHECK_SYS(syscall(SYS_newfstatat, fd, "", &c, AT_EMPTY_PATH));
    CHECK(memcmp(&a, &b, sizeof a) == 0 && memcmp(&a, &c, sizeof a) == 0, "fstat and newfstatat differ");
    struct stat bad;
    memset(&bad, CANARY, sizeof bad);
    CHECK(syscall(SYS_fstat, 999, &bad) == -1 && errno == EBADF, "fstat(999)");
    CHECK(all_canary(&bad, sizeof bad), "a failed fstat wrote its struct");
    struct statx sx;
    memset(&sx, CANARY, sizeof sx);
    CHECK_SYS(syscall(SYS_statx, AT_FDCWD, "placed_calls.d/file", 0, STATX_BASIC_STATS, &sx));
    CHECK(sx.stx_size == 12 && sx.stx_ino == a.st_ino && sx.stx_mode == a.st_mode, "statx differs from fstat");
    printf("stat: size %ld nlink %ld regular %d\n", (long)a.st_size, (long)a.st_nlink, S_ISREG(a.st_mode));
    struct statfs_like {
        unsigned char b[120];
    } fs;
    memset(&fs, CANARY, sizeof fs);
    CHECK_SYS(syscall(SYS_fstatfs, fd, &fs));
    CHECK(!all_canary(&fs, 8), "fstatfs wrote nothing");
    close(fd);
}

static void links_and_dirs(void) {
    CHECK_SYS(symlink("a/target/of/twenty-six", "placed_calls.d/link"));
    char buf[64];
    memset(buf, CANARY, sizeof buf);
    long n = syscall(SYS_readlink, "placed_calls.d/link", buf, sizeof buf);
    CHECK(n == 22 && memcmp(buf, "a/target/of/twenty-six", 22) == 0, "readlink gave %ld", n);
    CHECK(all_canary(buf + n, sizeof buf - (size_t)n), "readlink wrote past its result");
    memset(buf, CANARY, sizeof buf);
    n = syscall(SYS_readlinkat, AT_FDCWD, "placed_calls.d/link", buf, 5);
    CHECK(n == 5 && memcmp(buf, "a/tar", 5) == 0 && all_canary(buf + 5, sizeof buf - 5), "short readlinkat");
    printf("readlink: %.22s\n", "a/target/of/twenty-six");

    static const char *names[] = {"one", "two", "three", "four"};
    CHECK_SYS(mkdir("placed_calls.d/dir", 0755));
    for (int i = 0; i < 4; ++i) {
        char p[64];
        snprintf(p, sizeof p, "placed_calls.d/dir/%s", names[i]);
        int f = open(p, O_WRONLY | O_CREAT, 0644);
        CHECK_SYS(f);
        close(f);
    }
    int d = open("placed_calls.d/dir", O_RDONLY | O_DIRECTORY);
    CHECK_SYS(d);
    static char dents[4096];
    memset(dents, CANARY, sizeof dents);
    n = syscall(SYS_getdents64, d, dents, sizeof dents);
    CHECK(n > 0 && all_canary(dents + n, sizeof dents - (size_t)n), "getdents64 gave %ld", n);
    char *seen[8];
    int k = 0;
    for (long off = 0; off < n;) {
        struct dirent64 *e = (struct dirent64 *)(dents + off);
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            CHECK(k < 8, "too many entries");
            seen[k++] = strdup(e->d_name);
        }
        off += e->d_reclen;
    }
    CHECK(k == 4, "getdents64 listed %d files", k);
    qsort(seen, (size_t)k, sizeof seen[0], cmp_names);
    printf("getdents64:");
    for (int i = 0; i < k; ++i) printf(" %s", seen[i]);
    printf("\n");
    CHECK(syscall(SYS_getdents64, d, dents, sizeof dents) == 0, "getdents64 at the end");
    close(d);

    char cwd[512], raw[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    memset(raw, CANARY, sizeof raw);
    n = syscall(SYS_getcwd, raw, sizeof raw);
    CHECK(n == (long)strlen(cwd) + 1 && strcmp(raw, cwd) == 0, "getcwd returned %ld", n);
    CHECK(all_canary(raw + n, sizeof raw - (size_t)n), "getcwd wrote past its result");
    memset(raw, CANARY, sizeof raw);
    CHECK(syscall(SYS_getcwd, raw, 1) == -1 && errno == ERANGE && all_canary(raw, sizeof raw), "getcwd(1)");
}

static void fds(void) {
    int p[2] = {-1, -1};
    CHECK_SYS(pipe2(p, O_CLOEXEC));
    CHECK((fcntl(p[0], F_GETFD) & FD_CLOEXEC) && (fcntl(p[1], F_GETFD) & FD_CLOEXEC), "pipe2 lost O_CLOEXEC");
    CHECK(write(p[1], "abc", 3) == 3, "pipe write");
    int queued = -1;
    CHECK_SYS(ioctl(p[0], FIONREAD, &queued));
    CHECK(queued == 3, "FIONREAD says %d", queued);
    char r[4] = {0};
    CHECK(read(p[0], r, 3) == 3 && memcmp(r, "abc", 3) == 0, "pipe read");
    int one = 1;
    CHECK_SYS(ioctl(p[0], FIONBIO, &one));
    CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK, "FIONBIO did not set O_NONBLOCK");
    CHECK(read(p[0], r, 1) == -1 && errno == EAGAIN, "non-blocking read");
    unsigned char tio[64];
    memset(tio, CANARY, sizeof tio);
    CHECK(ioctl(p[0], TCGETS, tio) == -1 && errno == ENOTTY && all_canary(tio, sizeof tio), "TCGETS on a pipe");
    close(p[0]);
    close(p[1]);
    int q[2];
    memset(q, CANARY, sizeof q);
    CHECK_SYS(syscall(SYS_pipe, q));
    CHECK(q[0] >= 0 && q[1] >= 0 && q[0] != q[1], "pipe gave %d %d", q[0], q[1]);
    close(q[0]);
    close(q[1]);
    int sv[2];
    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK(send(sv[0], "ping", 4, 0) == 4, "send");
    CHECK(recv(sv[1], r, 4, 0) == 4 && memcmp(r, "ping", 4) == 0, "recv");
    close(sv[0]);
    close(sv[1]);

    int f = open("placed_calls.d/vec", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK_SYS(f);
    char h[] = "gathered ", e[] = "", w[] = "write\n";
    struct iovec iov[3] = {{h, 9}, {e, 0}, {w, 6}};
    CHECK(writev(f, iov, 3) == 15, "writev");
    CHECK(pwritev(f, iov, 1, 15) == 9, "pwritev");
    char back[32] = {0};
    CHECK(pread(f, back, sizeof back, 0) == 24 && memcmp(back, "gathered write\ngathered ", 24) == 0, "writev data");
    close(f);
    printf("fds: pipe2 FIONREAD 3, writev 15\n");
}

static void signals(void) {
    struct ksigaction k, old;
    memset(&old, CANARY, sizeof old);
    k = (struct ksigaction){(uint64_t)SIG_IGN, 0, 0, 0};
    CHECK_SYS(syscall(SYS_rt_sigaction, SIGUSR2, &k, &old, 8));
    CHECK(old.handler == (uint64_t)SIG_DFL, "SIGUSR2's old handler %lx", (unsigned long)old.handler);
    k = (struct ksigaction){(uint64_t)SIG_DFL, 0, 0, 1};
    CHECK_SYS(syscall(SYS_rt_sigaction, SIGUSR2, &k, &k, 8));  /* act and oldact at one address */
    CHECK(k.handler == (uint64_t)SIG_IGN, "rt_sigaction(&k, &k) gave handler %lx", (unsigned long)k.handler);
    memset(&old, CANARY, sizeof old);
    CHECK_SYS(syscall(SYS_rt_sigaction, SIGUSR2, NULL, &old, 8));
    CHECK(old.handler == (uint64_t)SIG_DFL && old.mask == 1, "rt_sigaction read back %lx", (unsigned long)old.handler);
    memset(&old, CANARY, sizeof old);
    CHECK(syscall(SYS_rt_sigaction, SIGUSR2, NULL, &old, 7) == -1 && errno == EINVAL && all_canary(&old, sizeof old),
          "rt_sigaction with a bad sigsetsize");

    uint64_t set = 1ull << (SIGUSR1 - 1), prev;
    memset(&prev, CANARY, sizeof prev);
    CHECK_SYS(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &prev, 8));
    CHECK(!(prev & set), "SIGUSR1 was blocked already");
    uint64_t m = set;
    CHECK_SYS(syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &m, &m, 8));
    CHECK(m & set, "rt_sigprocmask(&m, &m) did not return the old mask");
    memset(&prev, CANARY, sizeof prev);
    CHECK(syscall(SYS_rt_sigprocmask, 99, &set, &prev, 8) == -1 && errno == EINVAL && all_canary(&prev, sizeof prev),
          "rt_sigprocmask with a bad how");

    static char altstack[65536];
    stack_t ss = {.ss_sp = altstack, .ss_flags = 0, .ss_size = sizeof altstack}, os;
    memset(&os, CANARY, sizeof os);
    CHECK_SYS(sigaltstack(&ss, &os));
    CHECK(os.ss_flags == SS_DISABLE, "no alternate stack before: flags %d", os.ss_flags);
    stack_t both = {.ss_sp = NULL, .ss_flags = SS_DISABLE, .ss_size = 0};
    CHECK_SYS(syscall(SYS_sigaltstack, &both, &both));
    CHECK(both.ss_sp == altstack && both.ss_size == sizeof altstack, "sigaltstack(&s, &s) did not return the old one");
    stack_t tiny = {.ss_sp = altstack, .ss_flags = 0, .ss_size = 16};
    memset(&os, CANARY, sizeof os);
    CHECK(sigaltstack(&tiny, &os) == -1 && errno == ENOMEM && all_canary(&os, sizeof os), "a too small sigaltstack");
    printf("signals: rt_sigaction, rt_sigprocmask, sigaltstack\n");
}

static void limits_and_info(void) {
    struct rlimit cur, r;
    memset(&cur, CANARY, sizeof cur);
    CHECK_SYS(prlimit(0, RLIMIT_NOFILE, NULL, &cur));
    CHECK(cur.rlim_cur <= cur.rlim_max && cur.rlim_cur >= 64, "RLIMIT_NOFILE %lu", (unsigned long)cur.rlim_cur);
    r = (struct rlimit){64, cur.rlim_max};
    CHECK_SYS(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &r, &r));  /* new and old at one address */
    CHECK(r.rlim_cur == cur.rlim_cur && r.rlim_max == cur.rlim_max, "prlimit64(&r, &r) did not return the old limit");
    CHECK_SYS(getrlimit(RLIMIT_NOFILE, &r));
    CHECK(r.rlim_cur == 64, "the new soft limit is %lu", (unsigned long)r.rlim_cur);
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &cur));
    struct rlimit bad = {10, 5}, o;
    memset(&o, CANARY, sizeof o);
    CHECK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &bad, &o) == -1 && errno == EINVAL && all_canary(&o, sizeof o),
          "prlimit64 with cur > max");

    struct utsname u1, u2;
    memset(&u1, CANARY, sizeof u1);
    CHECK_SYS(uname(&u1));
    CHECK_SYS(uname(&u2));
    CHECK(memcmp(&u1, &u2, sizeof u1) == 0 && strcmp(u1.sysname, "Linux") == 0, "uname");
    struct sysinfo si;
    memset(&si, CANARY, sizeof si);
    CHECK_SYS(sysinfo(&si));
    CHECK(si.totalram > 0 && si.mem_unit > 0 && si.mem_unit < 65536, "sysinfo");
    struct rusage ru;
    memset(&ru, CANARY, sizeof ru);
    CHECK_SYS(getrusage(RUSAGE_SELF, &ru));
    CHECK(ru.ru_maxrss > 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000, "getrusage");
    struct tms t;
    memset(&t, 0xff, sizeof t);
    CHECK(times(&t) != (clock_t)-1 && t.tms_utime >= 0 && t.tms_stime >= 0, "times");
    struct timespec res;
    memset(&res, 0xff, sizeof res);
    CHECK_SYS(syscall(SYS_clock_getres, CLOCK_MONOTONIC, &res));
    CHECK(res.tv_sec == 0 && res.tv_nsec > 0, "clock_getres");
    unsigned char rnd[32];
    memset(rnd, CANARY, sizeof rnd);
    CHECK(getrandom(rnd, 16, 0) == 16 && all_canary(rnd + 16, 16), "getrandom");
    unsigned char mask[128];
    memset(mask, CANARY, sizeof mask);
    long n = syscall(SYS_sched_getaffinity, 0, sizeof mask, mask);
    CHECK(n > 0 && n <= (long)sizeof mask && !all_canary(mask, (size_t)n) && all_canary(mask + n, sizeof mask - (size_t)n),
          "sched_getaffinity gave %ld", n);
    uid_t ru_, eu, su;
    CHECK_SYS(getresuid(&ru_, &eu, &su));
    CHECK(ru_ == getuid() && eu == geteuid(), "getresuid");
    struct itimerval it;
    memset(&it, CANARY, sizeof it);
    CHECK_SYS(getitimer(ITIMER_REAL, &it));
    CHECK(it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0, "an interval timer is armed");
    printf("info: uname %s, prlimit64, sysinfo, getrusage, times, getrandom\n", u1.sysname);
}

static void children(void) {
    int gate[2];
    CHECK_SYS(pipe(gate));
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
        char x;
        close(gate[1]);
        _exit(read(gate[0], &x, 1) == 0 ? 7 : 1);
    }
    close(gate[0]);
    int status;
    struct rusage ru;
    memset(&status, CANARY, sizeof status);
    memset(&ru, CANARY, sizeof ru);
    CHECK(wait4(c, &status, WNOHANG, &ru) == 0, "wait4 WNOHANG reaped a running child");
    CHECK(all_canary(&status, sizeof status) && all_canary(&ru, sizeof ru), "wait4 that reaped nothing wrote");
    close(gate[1]);
    CHECK(wait4(c, &status, 0, &ru) == c, "wait4");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7, "child status %#x", status);
    CHECK(ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000, "wait4's rusage");
    printf("wait4: exited 7\n");
}

/* Removes what an earlier run left (the folder's files are all known). */
static void cleanup(void) {
    static const char *files[] = {"dir/one", "dir/two", "dir/three", "dir/four", "file", "link", "vec"};
    char p[64];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; ++i) {
        snprintf(p, sizeof p, "placed_calls.d/%s", files[i]);
        CHECK(unlink(p) == 0 || errno == ENOENT, "unlink %s: %s", p, strerror(errno));
    }
    CHECK(rmdir("placed_calls.d/dir") == 0 || errno == ENOENT, "rmdir dir");
    CHECK(rmdir("placed_calls.d") == 0 || errno == ENOENT, "rmdir: %s", strerror(errno));
}

int main(int argc, char **argv) {
    if (argc > 1) {
        /* The integration test's loop: each fstat writes a struct on this stack. */
        /* The loop reads what each call wrote, so without the capture the
         * struct's page would move to the deputy and back every time. */
        int fd = open("/dev/null", O_RDONLY);
        CHECK_SYS(fd);
        for (int i = atoi(argv[1]); i > 0; --i) {
            struct stat st;
            CHECK_SYS(fstat(fd, &st));
            CHECK(S_ISCHR(st.st_mode), "/dev/null is not a character device");
        }
        close(fd);
    }
    cleanup();
    CHECK_SYS(mkdir("placed_calls.d", 0755));
    stats();
    links_and_dirs();
    fds();
    signals();
    limits_and_info();
    children();
    cleanup();
    printf("placed_calls: ok\n");
    return 0;
}
