// Hostile syscall arguments: thousands of pointer-carrying syscalls with
// pointers into NULL, an unmapped hole, a PROT_NONE guard, spanvm's system
// area (GDT, stubs, page tables below 2 MiB), beyond guest RAM, the kernel
// half, and odd or overflowing lengths. Linux answers EFAULT/EINVAL/...; under
// spanvm the VMM must answer likewise and never crash, hang or corrupt the
// guest. Writable targets are confined to a scratch area or to invalid
// addresses so the program's own state stays intact. Deterministic (seeded).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

enum { kScratch = 4 << 20 };
static char* scratch;
static char* hole;
static char* guard;

// A pointer the kernel (or the VMM) may write through without harming us.
static uintptr_t bad_or_scratch(void) {
    switch (next() % 11) {
        case 0: return 0;
        case 1: return 8;
        case 2: return (uintptr_t)hole + (next() % 4096);
        case 3: return (uintptr_t)guard + (next() % 8192);
        case 4: return 0x10000 + (next() % 0x10000);   // spanvm system area / low memory
        case 5: return 0x7fff00000000ull + (next() % 4096);  // far beyond guest RAM
        case 6: return 0xffff800000000000ull + next() % 4096;  // kernel half
        case 7: return (uintptr_t)scratch + kScratch - (next() % 16);  // runs off the end
        case 8: return (uintptr_t)-1 - (next() % 64);  // wraps
        default: return (uintptr_t)scratch + (next() % (kScratch - 8192));
    }
}
static size_t any_len(void) {
    switch (next() % 6) {
        case 0: return 0;
        case 1: return 1;
        case 2: return 4096;
        case 3: return (size_t)1 << 40;
        case 4: return (size_t)-1;
        default: return next() % 8192;
    }
}

int main(void) {
    // The scratch area ends in a PROT_NONE page, so a range that runs off its
    // end faults instead of reaching whatever is mapped above it (with
    // spanvm's compact layout that is ld.so's TLS block).
    scratch = mmap(NULL, kScratch + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(scratch != MAP_FAILED && mprotect(scratch + kScratch, 4096, PROT_NONE) == 0, "scratch: %s", strerror(errno));
    hole = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    guard = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(scratch != MAP_FAILED && hole != MAP_FAILED && guard != MAP_FAILED, "mmap: %s", strerror(errno));
    CHECK(munmap(hole, 1 << 20) == 0, "munmap: %s", strerror(errno));
    int pfd[2], sv[2];
    CHECK(pipe2(pfd, O_NONBLOCK) == 0, "pipe2: %s", strerror(errno));
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0, "socketpair: %s", strerror(errno));
    int devnull = open("/dev/null", O_RDWR);
    CHECK(devnull >= 0, "open /dev/null: %s", strerror(errno));
    const struct timespec zero = {0, 0};
    long calls = 0, efaults = 0;
    static const char canary[] = "syscall_fuzz canary";
    char keep[sizeof canary];
    memcpy(keep, canary, sizeof canary);

    for (int i = 0; i < 6000; ++i) {
        long r = 0;
        uintptr_t p = bad_or_scratch(), q = bad_or_scratch();
        size_t n = any_len();
        if (write(pfd[1], "x", 1) < 0 && errno != EAGAIN) GP_FAIL("pipe write: %s", strerror(errno));
        switch (next() % 24) {
            case 0: r = syscall(SYS_read, pfd[0], p, n); break;
            case 1: r = syscall(SYS_write, devnull, p, n); break;
            case 2: r = syscall(SYS_readv, pfd[0], p, next() % 8); break;
            case 3: r = syscall(SYS_writev, devnull, p, next() % 1100); break;
            case 4: r = syscall(SYS_poll, p, next() % 4, 0); break;
            case 5: r = syscall(SYS_futex, p & ~3ull, FUTEX_WAIT_PRIVATE, 0x5a5a5a5a, &zero, 0, 0); break;
            case 6: r = syscall(SYS_futex, p & ~3ull, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0); break;
            case 7: r = syscall(SYS_getrandom, p, n & 0xFFFF, 0); break;
            case 8: r = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, p); break;
            case 9: r = syscall(SYS_uname, p); break;
            case 10: r = syscall(SYS_sched_getaffinity, 0, n, p); break;
            case 11: r = syscall(SYS_rt_sigaction, SIGUSR1, 0, p, 8); break;
            case 12: r = syscall(SYS_fstat, devnull, p); break;
            case 13: r = syscall(SYS_newfstatat, AT_FDCWD, p, q, 0); break;
            case 14: r = syscall(SYS_openat, AT_FDCWD, p, O_RDONLY, 0);
                     if (r >= 0) close((int)r);
                     break;
            case 15: r = syscall(SYS_getcwd, p, n); break;
            case 16: r = syscall(SYS_readlink, p, q, n); break;
            case 17: r = syscall(SYS_sendmsg, sv[0], p, MSG_DONTWAIT); break;
            case 18: r = syscall(SYS_recvmsg, sv[1], p, MSG_DONTWAIT); break;
            case 19: r = syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, p); break;
            case 20: r = syscall(SYS_sysinfo, p); break;
            case 21: {  // mm calls, confined to the scratch area
                size_t len = (next() % 64) * 4096;  // [a, a+len) stays inside scratch
                uintptr_t a = (uintptr_t)scratch + ((next() % (kScratch / 4096 - 64)) * 4096);
                switch (next() % 4) {
                    case 0: r = syscall(SYS_mprotect, a, len, PROT_READ | PROT_WRITE); break;
                    case 1: r = syscall(SYS_madvise, a, len, MADV_DONTNEED); break;
                    case 2: r = syscall(SYS_mmap, a, len, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0); break;
                    default: r = syscall(SYS_munmap, a, len);
                             syscall(SYS_mmap, a, len ? len : 4096, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
                }
                break;
            }
            case 22: r = syscall(SYS_mmap, p & ~4095ull, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                     if (r > 0 && (unsigned long)r < (unsigned long)-4096) munmap((void*)r, n);
                     break;
            default: r = syscall(SYS_getsockopt, sv[0], SOL_SOCKET, SO_TYPE, p, q); break;
        }
        ++calls;
        if (r == -1 && errno == EFAULT) ++efaults;
    }
    // The program's own memory was never a target: it must be intact.
    CHECK(memcmp(keep, canary, sizeof canary) == 0, "own memory was overwritten");
    CHECK(efaults > 100, "only %ld EFAULTs: the hostile pointers did not reach the kernel/VMM", efaults);
    fprintf(stderr, "syscall_fuzz: %ld calls, %ld EFAULT\n", calls, efaults);
    printf("syscall_fuzz: ok\n");
    return 0;
}
