/* sigaltstack sizes as Linux takes them: a stack of sysconf(_SC_SIGSTKSZ)
 * bytes, and one of AT_MINSIGSTKSZ bytes (at least the kernel's floor of
 * 2048), carry an SA_ONSTACK handler that clobbers the AVX registers; the
 * frame lies wholly within AT_MINSIGSTKSZ bytes of the stack's top, nothing
 * below the stack is written, and the interrupted ymm registers come back.
 * A stack under the floor is refused with ENOMEM. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gp_check.h"

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

/* The kernel's uapi MINSIGSTKSZ: sigaltstack's floor. glibc's MINSIGSTKSZ
 * macro is sysconf(_SC_SIGSTKSZ) under _GNU_SOURCE. */
#define KERNEL_MINSIGSTKSZ 2048
#define GUARD 4096
#define CANARY 0x5A

static int have_avx;
static volatile int handled;
static volatile uintptr_t handler_uc;

/* Uses no stack of its own beyond the frame: records where the kernel put
 * the ucontext and clobbers every ymm register. */
__attribute__((target("avx"))) static void on_usr1_avx(int sig, siginfo_t* si, void* uc) {
    (void)sig;
    (void)si;
    handler_uc = (uintptr_t)uc;
    __asm__ volatile(
        "vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n\t"
        "vmovdqa %%ymm0, %%ymm1\n\tvmovdqa %%ymm0, %%ymm2\n\tvmovdqa %%ymm0, %%ymm3\n\t"
        "vmovdqa %%ymm0, %%ymm4\n\tvmovdqa %%ymm0, %%ymm5\n\tvmovdqa %%ymm0, %%ymm6\n\t"
        "vmovdqa %%ymm0, %%ymm7\n\tvmovdqa %%ymm0, %%ymm8\n\tvmovdqa %%ymm0, %%ymm9\n\t"
        "vmovdqa %%ymm0, %%ymm10\n\tvmovdqa %%ymm0, %%ymm11\n\tvmovdqa %%ymm0, %%ymm12\n\t"
        "vmovdqa %%ymm0, %%ymm13\n\tvmovdqa %%ymm0, %%ymm14\n\tvmovdqa %%ymm0, %%ymm15\n\t" ::
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
              "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    handled++;
}

static void on_usr1_plain(int sig, siginfo_t* si, void* uc) {
    (void)sig;
    (void)si;
    handler_uc = (uintptr_t)uc;
    __asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\tmovdqa %%xmm0, %%xmm1" ::: "xmm0", "xmm1");
    handled++;
}

/* Loads ymm0-15 from `in`, sends SIGUSR1 to this thread, stores ymm0-15 to
 * `out`: nothing but the tgkill runs in between. */
__attribute__((target("avx"))) static void ymm_around_tgkill(const unsigned char* in, unsigned char* out) {
    long nr = SYS_tgkill, a0 = getpid(), a1 = syscall(SYS_gettid), a2 = SIGUSR1;
    __asm__ volatile(
        "vmovdqu 0(%[in]), %%ymm0\n\tvmovdqu 32(%[in]), %%ymm1\n\tvmovdqu 64(%[in]), %%ymm2\n\t"
        "vmovdqu 96(%[in]), %%ymm3\n\tvmovdqu 128(%[in]), %%ymm4\n\tvmovdqu 160(%[in]), %%ymm5\n\t"
        "vmovdqu 192(%[in]), %%ymm6\n\tvmovdqu 224(%[in]), %%ymm7\n\tvmovdqu 256(%[in]), %%ymm8\n\t"
        "vmovdqu 288(%[in]), %%ymm9\n\tvmovdqu 320(%[in]), %%ymm10\n\tvmovdqu 352(%[in]), %%ymm11\n\t"
        "vmovdqu 384(%[in]), %%ymm12\n\tvmovdqu 416(%[in]), %%ymm13\n\tvmovdqu 448(%[in]), %%ymm14\n\t"
        "vmovdqu 480(%[in]), %%ymm15\n\t"
        "syscall\n\t"
        "vmovdqu %%ymm0, 0(%[out])\n\tvmovdqu %%ymm1, 32(%[out])\n\tvmovdqu %%ymm2, 64(%[out])\n\t"
        "vmovdqu %%ymm3, 96(%[out])\n\tvmovdqu %%ymm4, 128(%[out])\n\tvmovdqu %%ymm5, 160(%[out])\n\t"
        "vmovdqu %%ymm6, 192(%[out])\n\tvmovdqu %%ymm7, 224(%[out])\n\tvmovdqu %%ymm8, 256(%[out])\n\t"
        "vmovdqu %%ymm9, 288(%[out])\n\tvmovdqu %%ymm10, 320(%[out])\n\tvmovdqu %%ymm11, 352(%[out])\n\t"
        "vmovdqu %%ymm12, 384(%[out])\n\tvmovdqu %%ymm13, 416(%[out])\n\tvmovdqu %%ymm14, 448(%[out])\n\t"
        "vmovdqu %%ymm15, 480(%[out])\n\t"
        : "+a"(nr), "+D"(a0), "+S"(a1), "+d"(a2)
        : [in] "r"(in), [out] "r"(out)
        : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
          "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* One signal on an alternate stack of `size` bytes whose base sits `misalign`
 * bytes past a 64-byte boundary, with GUARD canary bytes on either side. */
static void deliver_on(size_t size, size_t misalign, size_t frame_limit, const char* what) {
    unsigned char* buf = aligned_alloc(64, GUARD + 64 + size + GUARD);
    CHECK(buf != NULL, "%s: no memory for a %zu-byte stack", what, size);
    memset(buf, CANARY, GUARD + 64 + size + GUARD);
    unsigned char* base = buf + GUARD + misalign;
    stack_t ss = {.ss_sp = base, .ss_size = size, .ss_flags = 0}, old;
    CHECK_SYS(sigaltstack(&ss, NULL));
    CHECK_SYS(sigaltstack(NULL, &old));
    CHECK(old.ss_sp == base && old.ss_size == size && old.ss_flags == 0,
          "%s: sigaltstack reads back sp %p size %zu flags %d", what, old.ss_sp, old.ss_size, old.ss_flags);

    handled = 0;
    handler_uc = 0;
    if (have_avx) {
        unsigned char in[512], out[512];
        for (int i = 0; i < 512; ++i) in[i] = (unsigned char)(i * 11 + (int)misalign);
        memset(out, 0, sizeof out);
        ymm_around_tgkill(in, out);
        for (int i = 0; i < 512; ++i)
            CHECK(out[i] == in[i], "%s: after the handler ymm%d byte %d is %#x, want %#x", what, i / 32, i % 32,
                  out[i], in[i]);
    } else {
        CHECK_SYS(raise(SIGUSR1));
    }
    CHECK(handled == 1, "%s: handler ran %d times", what, handled);

    /* The frame starts at the handler's entry RSP, 8 bytes below the
     * ucontext (struct rt_sigframe: pretcode, then uc). */
    const uintptr_t top = (uintptr_t)base + size, frame = handler_uc - 8;
    CHECK(handler_uc != 0 && frame > (uintptr_t)base && handler_uc < top,
          "%s: ucontext %#lx is not on the alternate stack [%p, %#lx)", what, (unsigned long)handler_uc, (void*)base,
          (unsigned long)top);
    CHECK(top - frame <= frame_limit, "%s: the frame takes %lu bytes, more than AT_MINSIGSTKSZ = %zu", what,
          (unsigned long)(top - frame), frame_limit);
    for (unsigned char* p = buf; p < base; ++p)
        CHECK(*p == CANARY, "%s: byte %ld below the alternate stack was written", what, (long)(base - p));
    for (unsigned char* p = base + size; p < buf + GUARD + 64 + size + GUARD; ++p)
        CHECK(*p == CANARY, "%s: byte %ld above the alternate stack was written", what, (long)(p - base - size));

    ss.ss_flags = SS_DISABLE;
    CHECK_SYS(sigaltstack(&ss, NULL));
    free(buf);
}

int main(void) {
    __builtin_cpu_init();
    have_avx = __builtin_cpu_supports("avx");
    const long sigstksz = sysconf(_SC_SIGSTKSZ);
    const unsigned long minsig = getauxval(AT_MINSIGSTKSZ);
    CHECK(sigstksz > 0, "sysconf(_SC_SIGSTKSZ) = %ld", sigstksz);
    CHECK(minsig > 0, "AT_MINSIGSTKSZ is missing from the auxv");
    CHECK((unsigned long)sigstksz >= minsig, "_SC_SIGSTKSZ %ld is below AT_MINSIGSTKSZ %lu", sigstksz, minsig);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = have_avx ? on_usr1_avx : on_usr1_plain;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));

    /* Under the floor: ENOMEM, and the old stack setting stays. */
    unsigned char small[KERNEL_MINSIGSTKSZ];
    const size_t too_small[] = {1024, KERNEL_MINSIGSTKSZ - 1};
    for (int i = 0; i < 2; ++i) {
        const size_t size = too_small[i];
        stack_t ss = {.ss_sp = small, .ss_size = size, .ss_flags = 0}, old;
        errno = 0;
        CHECK(sigaltstack(&ss, NULL) == -1 && errno == ENOMEM, "sigaltstack of %zu bytes: errno %d, want ENOMEM",
              size, errno);
        CHECK_SYS(sigaltstack(NULL, &old));
        CHECK(old.ss_flags == SS_DISABLE, "a refused sigaltstack left flags %d", old.ss_flags);
    }

    deliver_on((size_t)sigstksz, 0, minsig, "sysconf(_SC_SIGSTKSZ)");
    const size_t min_size = minsig > KERNEL_MINSIGSTKSZ ? minsig : KERNEL_MINSIGSTKSZ;
    for (size_t misalign = 0; misalign < 64; ++misalign) deliver_on(min_size, misalign, minsig, "AT_MINSIGSTKSZ");

    printf("_SC_SIGSTKSZ %ld, AT_MINSIGSTKSZ %lu, AVX %s\n", sigstksz, minsig, have_avx ? "yes" : "no");
    gp_ok("sigaltstack_size");
    return 0;
}
