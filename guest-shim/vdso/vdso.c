/* spanvm's guest vDSO: clock_gettime, gettimeofday, time, clock_getres and
 * getcpu for glibc (looked up as __vdso_<name>@LINUX_2.6, as on Linux).
 *
 * Runs in guest ring 3, which runs natively; `rdtsc` there reads the same TSC
 * the VMM reads (no TSC offset, constant/nonstop TSC). Time comes from the
 * vvar record (vvar.h) the VMM keeps in the page just below this image.
 * Anything the record cannot answer (other clock ids, no record yet) is the
 * real `syscall`, which exits to the VMM like any other.
 *
 * Constraints: position-independent with no dynamic relocations (glibc does
 * not relocate the vDSO), no libc, no stack protector, no data or bss. */
#include <stddef.h>
#include <stdint.h>

#include "vvar.h"

/* Linux ABI values (not taken from kernel headers, to keep this freestanding). */
#define SYS_gettimeofday 96
#define SYS_time 201
#define SYS_clock_gettime 228
#define SYS_clock_getres 229
#define SYS_getcpu 309
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define NSEC_PER_SEC 1000000000ull

struct vdso_timespec {
    long tv_sec;
    long tv_nsec;
};
struct vdso_timeval {
    long tv_sec;
    long tv_usec;
};
struct vdso_timezone {
    int tz_minuteswest;
    int tz_dsttime;
};

/* Defined by vdso.lds: the vvar page one page below the image's base. */
extern const struct spanvm_vvar spanvm_vvar_page __attribute__((visibility("hidden")));

static inline long raw_syscall2(long nr, long a, long b) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return ret;
}

static inline long raw_syscall3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

/* lfence; rdtsc; lfence: see the ordering argument in vvar.h. */
static uint64_t rdtsc_ordered(void* ctx) {
    (void)ctx;
    uint32_t lo, hi;
    __asm__ volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

static inline int kind_of(long clk, enum spanvm_vvar_kind* kind) {
    switch (clk) {
        case CLOCK_REALTIME:
        case CLOCK_REALTIME_COARSE: *kind = SPANVM_VVAR_REAL; return 1;
        case CLOCK_MONOTONIC:
        case CLOCK_MONOTONIC_COARSE: *kind = SPANVM_VVAR_MONO; return 1;
        case CLOCK_MONOTONIC_RAW: *kind = SPANVM_VVAR_RAW; return 1;
        case CLOCK_BOOTTIME: *kind = SPANVM_VVAR_BOOT; return 1;
        default: return 0;
    }
}

static inline int read_ns(enum spanvm_vvar_kind kind, uint64_t* ns) {
    return spanvm_vvar_read(&spanvm_vvar_page, kind, rdtsc_ordered, NULL, ns, NULL);
}

__attribute__((visibility("default"))) int __vdso_clock_gettime(long clk, struct vdso_timespec* ts) {
    enum spanvm_vvar_kind kind;
    uint64_t ns;
    if (!kind_of(clk, &kind) || read_ns(kind, &ns) != 0) return (int)raw_syscall2(SYS_clock_gettime, clk, (long)ts);
    ts->tv_sec = (long)(ns / NSEC_PER_SEC);
    ts->tv_nsec = (long)(ns % NSEC_PER_SEC);
    return 0;
}

__attribute__((visibility("default"))) int __vdso_gettimeofday(struct vdso_timeval* tv, struct vdso_timezone* tz) {
    uint64_t ns;
    if (read_ns(SPANVM_VVAR_REAL, &ns) != 0) return (int)raw_syscall2(SYS_gettimeofday, (long)tv, (long)tz);
    if (tv) {
        tv->tv_sec = (long)(ns / NSEC_PER_SEC);
        tv->tv_usec = (long)(ns % NSEC_PER_SEC / 1000);
    }
    if (tz) {
        /* The kernel's timezone (sys_tz) is almost always zero; spanvm keeps none. */
        tz->tz_minuteswest = 0;
        tz->tz_dsttime = 0;
    }
    return 0;
}

__attribute__((visibility("default"))) long __vdso_time(long* t) {
    uint64_t ns;
    if (read_ns(SPANVM_VVAR_REAL, &ns) != 0) return raw_syscall2(SYS_time, (long)t, 0);
    long s = (long)(ns / NSEC_PER_SEC);
    if (t) *t = s;
    return s;
}

__attribute__((visibility("default"))) int __vdso_clock_getres(long clk, struct vdso_timespec* res) {
    enum spanvm_vvar_kind kind;
    /* The coarse clocks here are as fine as the others, but report the
     * host's coarse resolution, like every other clock the syscall answers. */
    if (!kind_of(clk, &kind) || clk == CLOCK_REALTIME_COARSE || clk == CLOCK_MONOTONIC_COARSE ||
        spanvm_vvar_page.magic != SPANVM_VVAR_MAGIC)
        return (int)raw_syscall2(SYS_clock_getres, clk, (long)res);
    if (res) {
        res->tv_sec = 0;
        res->tv_nsec = 1;
    }
    return 0;
}

/* No per-vCPU data is published, so getcpu is the syscall. */
__attribute__((visibility("default"))) long __vdso_getcpu(unsigned* cpu, unsigned* node, void* unused) {
    return raw_syscall3(SYS_getcpu, (long)cpu, (long)node, (long)unused);
}

/* The kernel's vDSO also exports the unprefixed names as weak aliases. */
int clock_gettime(long, struct vdso_timespec*) __attribute__((weak, alias("__vdso_clock_gettime"), visibility("default")));
int gettimeofday(struct vdso_timeval*, struct vdso_timezone*)
    __attribute__((weak, alias("__vdso_gettimeofday"), visibility("default")));
long time(long*) __attribute__((weak, alias("__vdso_time"), visibility("default")));
int clock_getres(long, struct vdso_timespec*) __attribute__((weak, alias("__vdso_clock_getres"), visibility("default")));
long getcpu(unsigned*, unsigned*, void*) __attribute__((weak, alias("__vdso_getcpu"), visibility("default")));
