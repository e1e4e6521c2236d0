/* AVX registers (all 256 bits of ymm0-ymm15) are intact across a signal
 * handler that clobbers them, and across plain system calls. Where the CPU
 * has no AVX the program says so and passes. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gp_check.h"

static volatile int handled;

__attribute__((target("avx"))) static void on_usr1(int sig) {
    (void)sig;
    /* Clobber every ymm register with a different pattern. */
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

/* Loads ymm0-15 from `in`, runs syscall `nr` (tgkill or getppid), stores
 * ymm0-15 to `out`. Nothing but the syscall runs between load and store. */
__attribute__((target("avx"))) static void around_syscall(const unsigned char* in, unsigned char* out, long nr,
                                                          long a0, long a1, long a2) {
    register long r10 __asm__("r10") = 0;
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
        : "+a"(nr), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10)
        : [in] "r"(in), [out] "r"(out)
        : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
          "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

int main(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx")) {
        printf("avx_signal: no AVX on this CPU: nothing to check\n");
        return 0;
    }
    signal(SIGUSR1, on_usr1);
    unsigned char in[512], out[512];
    for (int i = 0; i < 512; ++i) in[i] = (unsigned char)(i * 7 + 3);

    /* A plain syscall keeps every ymm bit. */
    memset(out, 0, sizeof out);
    around_syscall(in, out, SYS_getppid, 0, 0, 0);
    for (int i = 0; i < 512; ++i)
        CHECK(out[i] == in[i], "after getppid: ymm%d byte %d is %#x, want %#x", i / 32, i % 32, out[i], in[i]);

    /* A signal whose handler clobbers them: the frame restores them. */
    for (int round = 0; round < 3; ++round) {
        memset(out, 0, sizeof out);
        handled = 0;
        around_syscall(in, out, SYS_tgkill, getpid(), (long)syscall(SYS_gettid), SIGUSR1);
        CHECK(handled == 1, "SIGUSR1 handler ran %d times", handled);
        for (int i = 0; i < 512; ++i)
            CHECK(out[i] == in[i], "after a handler: ymm%d byte %d is %#x, want %#x", i / 32, i % 32, out[i],
                  in[i]);
    }
    printf("avx_signal: ok\n");
    return 0;
}
