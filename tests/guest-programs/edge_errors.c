/* The errors Linux gives for arguments it refuses, in calls spanvm
 * emulates or checks itself (CPython's test_posix, test_mmap and test_time
 * count on them):
 *   msync           unaligned start or bad flags EINVAL, unmapped ENOMEM,
 *                   a shared file mapping synced (MS_SYNC) is the file's;
 *   sched_*affinity a pid that names no task (-1, an unused one) ESRCH,
 *                   our own pid and tid the caller's mask;
 *   clock_settime   a clock that cannot be set EINVAL, a bad time EINVAL;
 *   adjtimex        modes 0 reads the clock state (TIME_OK...), as anyone may;
 *   /dev/stdin      in a child whose fd 0 and 1 are pipes (dup2), /dev/stdin
 *   /dev/stdout     and /dev/stdout open those pipes, not the parent's; a
 *                   socket there is ENXIO (CPython's test_asyncio);
 *   /proc/self/fd   a listing read while closing what it lists skips none
 *                   (CPython's subprocess closes fds so);
 *   SIOCGIFINDEX    if_nametoindex("lo") and back (test_socket).
 * The calls that would set the host's clock are not made here: natively, as
 * root, they would. Prints "edge_errors: ok". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

#define PAGE 4096

static void check_msync(void) {
    char path[] = "/tmp/spanvm-gp-msync-XXXXXX";
    int fd = mkstemp(path);
    CHECK_SYS(fd);
    CHECK_SYS(unlink(path));
    CHECK_SYS(ftruncate(fd, 2 * PAGE));
    char* m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap: %s", strerror(errno));
    memcpy(m + PAGE, "synced", 6);
    CHECK_SYS(msync(m, 2 * PAGE, MS_SYNC));
    char back[6];
    CHECK(pread(fd, back, 6, PAGE) == 6 && memcmp(back, "synced", 6) == 0, "the file does not hold the write");
    CHECK_SYS(msync(m + PAGE, 1, MS_ASYNC));
    CHECK_SYS(msync(m, 0, MS_SYNC));
    errno = 0;
    CHECK(msync(m + 1, 10, MS_SYNC) == -1 && errno == EINVAL, "unaligned msync: errno %d", errno);
    errno = 0;
    CHECK(msync(m, PAGE, MS_SYNC | MS_ASYNC) == -1 && errno == EINVAL, "MS_SYNC|MS_ASYNC: errno %d", errno);
    errno = 0;
    CHECK(msync(m, PAGE, 0x100) == -1 && errno == EINVAL, "unknown flag: errno %d", errno);
    CHECK_SYS(munmap(m + PAGE, PAGE));
    errno = 0;
    CHECK(msync(m, 2 * PAGE, MS_SYNC) == -1 && errno == ENOMEM, "msync over a hole: errno %d", errno);
    CHECK_SYS(munmap(m, PAGE));
    close(fd);
}

static void check_affinity(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK_SYS(sched_getaffinity(0, sizeof set, &set));
    CHECK(CPU_COUNT(&set) >= 1, "empty mask");
    cpu_set_t mine;
    CHECK_SYS(sched_getaffinity(getpid(), sizeof mine, &mine));
    CHECK(CPU_EQUAL(&set, &mine), "pid and 0 differ");
    CHECK_SYS(sched_getaffinity((pid_t)syscall(SYS_gettid), sizeof mine, &mine));
    errno = 0;
    CHECK(sched_getaffinity(-1, sizeof set, &set) == -1 && errno == ESRCH, "getaffinity(-1): errno %d", errno);
    errno = 0;
    CHECK(sched_setaffinity(-1, sizeof set, &set) == -1 && errno == ESRCH, "setaffinity(-1): errno %d", errno);
    /* A pid no task has: above pid_max (4194304 at most). */
    errno = 0;
    CHECK(sched_getaffinity(4194304 + 7, sizeof set, &set) == -1 && errno == ESRCH, "unused pid: errno %d", errno);
    CHECK_SYS(sched_setaffinity(0, sizeof set, &set));
}

static void check_clocks(void) {
    struct timespec ts = {1, 0};
    errno = 0;
    CHECK(clock_settime(CLOCK_MONOTONIC, &ts) == -1 && errno == EINVAL, "settime MONOTONIC: errno %d", errno);
    struct timespec bad = {1, 2000000000L};
    errno = 0;
    CHECK(clock_settime(CLOCK_REALTIME, &bad) == -1 && (errno == EINVAL || errno == EPERM),
          "settime with tv_nsec 2e9: errno %d", errno);
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    int state = adjtimex(&tx);
    CHECK(state >= 0 && state <= TIME_ERROR, "adjtimex read: %d (%s)", state, strerror(errno));
    CHECK(tx.tick > 0, "adjtimex tick %ld", tx.tick);
}

static void check_dev_stdio(void) {
    int in[2], out[2];
    CHECK_SYS(pipe(in));
    CHECK_SYS(pipe(out));
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0) _exit(40);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        int r = open("/dev/stdin", O_RDONLY);
        if (r < 0) _exit(41);
        char buf[8] = {0};
        if (read(r, buf, sizeof buf) != 3 || memcmp(buf, "abc", 3) != 0) _exit(42);
        int w = open("/dev/stdout", O_WRONLY);
        if (w < 0 || write(w, "xyz", 3) != 3) _exit(43);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || dup2(sv[0], 0) < 0) _exit(44);
        errno = 0;
        if (open("/dev/stdin", O_RDONLY) != -1 || errno != ENXIO) _exit(45);
        _exit(0);
    }
    close(in[0]);
    close(out[1]);
    CHECK(write(in[1], "abc", 3) == 3, "write: %s", strerror(errno));
    close(in[1]);
    char buf[8] = {0};
    CHECK(read(out[0], buf, sizeof buf) == 3 && memcmp(buf, "xyz", 3) == 0, "child's /dev/stdout: '%s'", buf);
    close(out[0]);
    int st;
    CHECK(waitpid(c, &st, 0) == c, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: status %#x", st);
}

static void check_fd_listing(void) {
    /* Open fds 3.. up to a hole, list /proc/self/fd one entry per call and
     * close each listed fd above 2 as it comes: all of them must go. */
    int fds[8];
    for (int i = 0; i < 8; ++i) CHECK_SYS(fds[i] = open("/dev/null", O_RDONLY));
    close(fds[3]);  /* a hole in the middle */
    int dir = open("/proc/self/fd", O_RDONLY);  /* as CPython's subprocess child: no O_DIRECTORY */
    CHECK_SYS(dir);
    char buf[32];  /* room for one record */
    long n;
    while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        const char* name = buf + 19;
        int fd = atoi(name);
        if (name[0] >= '0' && name[0] <= '9' && fd > 2 && fd != dir) close(fd);
    }
    CHECK(n == 0, "getdents64: %s", strerror(errno));
    close(dir);
    for (int i = 0; i < 8; ++i) {
        errno = 0;
        CHECK(fcntl(fds[i], F_GETFD) == -1 && errno == EBADF, "fd %d survived the listing's closes", fds[i]);
    }
}

static void check_ifindex(void) {
    unsigned idx = if_nametoindex("lo");
    CHECK(idx > 0, "if_nametoindex(lo): %s", strerror(errno));
    char name[IF_NAMESIZE];
    CHECK(if_indextoname(idx, name) != NULL && strcmp(name, "lo") == 0, "if_indextoname(%u)", idx);
}

int main(void) {
    check_dev_stdio();
    check_fd_listing();
    check_ifindex();
    check_msync();
    check_affinity();
    check_clocks();
    puts("edge_errors: ok");
    return 0;
}
