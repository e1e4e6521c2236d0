/* The whole FPU and RFLAGS state is intact across a `mov $nr,%eax; syscall`
 * site, which the native platform patches into a direct entry after its
 * second trap, and which there saves only the vector registers and MXCSR
 * (the x87 part stays in the CPU; vmm/platform/native/native_context.hpp).
 * Checked, for 3000 calls of one site: three x87 stack values, FCW, the
 * x87 status word, MXCSR with a sticky status flag, ymm0-15 (xmm0-15
 * without AVX), CF and DF. Meanwhile a second thread signals the first
 * (SIGUSR1) 300 times; its handler clobbers all of that state, so signals
 * that arrive at a patched exit take the merge of the split state into a
 * signal frame and back. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gp_check.h"

enum { CALLS = 3000, SIGNALS = 300 };

struct fpu_state {
    unsigned char vec[16 * 32]; /* ymmN (or xmmN) at N*32 */
    unsigned char st[3][16];    /* 80-bit x87 values, ST0 first */
    uint16_t fcw, fsw;
    uint32_t mxcsr;
    uint8_t cf, df;
};

static volatile int handled;
static volatile int stop;
static pid_t main_tid;

/* The handler leaves every register it can reach different; the kernel (or
 * spanvm) restores the interrupted state from the frame on return. */
static void on_usr1(int sig) {
    (void)sig;
    unsigned mx = 0x1f80 | 0x6000; /* round toward zero */
    __asm__ volatile("fninit\n\tfld1\n\tfldpi\n\tfldz\n\tldmxcsr %0\n\tpcmpeqd %%xmm0, %%xmm0\n\t"
                     "movdqa %%xmm0, %%xmm7\n\tmovdqa %%xmm0, %%xmm15\n\t"
                     :
                     : "m"(mx)
                     : "xmm0", "xmm7", "xmm15", "st", "st(1)", "st(2)");
    handled = handled + 1;
}

/* Loads the state from `in`, runs getppid through a patchable site (the
 * `mov` is 16-byte aligned, so its 5 bytes lie in one aligned block), and
 * stores the state to `out`. */
#define SITE_ASM(mov, reg)                                                                                      \
    "fldcw %c[fcw](%[in])\n\tfldt %c[st2](%[in])\n\tfldt %c[st1](%[in])\n\tfldt %c[st0](%[in])\n\t"             \
    "ldmxcsr %c[mx](%[in])\n\t"                                                                                 \
    mov " 0(%[in]), %%" reg "0\n\t" mov " 32(%[in]), %%" reg "1\n\t" mov " 64(%[in]), %%" reg "2\n\t"            \
    mov " 96(%[in]), %%" reg "3\n\t" mov " 128(%[in]), %%" reg "4\n\t" mov " 160(%[in]), %%" reg "5\n\t"         \
    mov " 192(%[in]), %%" reg "6\n\t" mov " 224(%[in]), %%" reg "7\n\t" mov " 256(%[in]), %%" reg "8\n\t"        \
    mov " 288(%[in]), %%" reg "9\n\t" mov " 320(%[in]), %%" reg "10\n\t" mov " 352(%[in]), %%" reg "11\n\t"      \
    mov " 384(%[in]), %%" reg "12\n\t" mov " 416(%[in]), %%" reg "13\n\t" mov " 448(%[in]), %%" reg "14\n\t"     \
    mov " 480(%[in]), %%" reg "15\n\t"                                                                          \
    "std\n\tstc\n\t"                                                                                            \
    ".p2align 4\n\t"                                                                                            \
    "mov $110, %%eax\n\t" /* SYS_getppid */                                                                     \
    "syscall\n\t"                                                                                               \
    "setc %c[cf](%[out])\n\tpushfq\n\tpopq %%rax\n\tcld\n\tshr $10, %%rax\n\tand $1, %%eax\n\t"                  \
    "movb %%al, %c[df](%[out])\n\t"                                                                             \
    mov " %%" reg "0, 0(%[out])\n\t" mov " %%" reg "1, 32(%[out])\n\t" mov " %%" reg "2, 64(%[out])\n\t"         \
    mov " %%" reg "3, 96(%[out])\n\t" mov " %%" reg "4, 128(%[out])\n\t" mov " %%" reg "5, 160(%[out])\n\t"      \
    mov " %%" reg "6, 192(%[out])\n\t" mov " %%" reg "7, 224(%[out])\n\t" mov " %%" reg "8, 256(%[out])\n\t"     \
    mov " %%" reg "9, 288(%[out])\n\t" mov " %%" reg "10, 320(%[out])\n\t" mov " %%" reg "11, 352(%[out])\n\t"   \
    mov " %%" reg "12, 384(%[out])\n\t" mov " %%" reg "13, 416(%[out])\n\t" mov " %%" reg "14, 448(%[out])\n\t"  \
    mov " %%" reg "15, 480(%[out])\n\t"                                                                         \
    "stmxcsr %c[mx](%[out])\n\tfnstsw %c[fsw](%[out])\n\tfnstcw %c[fcw](%[out])\n\t"                            \
    "fstpt %c[st0](%[out])\n\tfstpt %c[st1](%[out])\n\tfstpt %c[st2](%[out])\n\t"                               \
    "ldmxcsr %c[mx](%[host])\n\tfldcw %c[fcw](%[host])\n\t"

#define SITE_OPERANDS                                                                                           \
    :: [in] "r"(in), [out] "r"(out), [host] "r"(host), [fcw] "i"(offsetof(struct fpu_state, fcw)),               \
      [fsw] "i"(offsetof(struct fpu_state, fsw)), [mx] "i"(offsetof(struct fpu_state, mxcsr)),                  \
      [st0] "i"(offsetof(struct fpu_state, st[0])), [st1] "i"(offsetof(struct fpu_state, st[1])),               \
      [st2] "i"(offsetof(struct fpu_state, st[2])), [cf] "i"(offsetof(struct fpu_state, cf)),                   \
      [df] "i"(offsetof(struct fpu_state, df))                                                                  \
    : "rax", "rcx", "r11", "memory", "cc", "st", "st(1)", "st(2)", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",      \
      "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

__attribute__((noinline, target("avx"))) static void site_avx(const struct fpu_state* in, struct fpu_state* out,
                                                               const struct fpu_state* host) {
    __asm__ volatile(SITE_ASM("vmovdqu", "ymm") SITE_OPERANDS);
}

__attribute__((noinline)) static void site_sse(const struct fpu_state* in, struct fpu_state* out,
                                               const struct fpu_state* host) {
    __asm__ volatile(SITE_ASM("movdqu", "xmm") SITE_OPERANDS);
}

static void* signaller(void* arg) {
    (void)arg;
    for (int i = 0; i < SIGNALS && !stop; ++i) {
        syscall(SYS_tgkill, getpid(), main_tid, SIGUSR1);
        usleep(200);
    }
    return NULL;
}

int main(void) {
    __builtin_cpu_init();
    const int avx = __builtin_cpu_supports("avx");
    main_tid = (pid_t)syscall(SYS_gettid);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));

    struct fpu_state in, out, host;
    memset(&in, 0, sizeof in);
    memset(&host, 0, sizeof host);
    for (size_t i = 0; i < sizeof in.vec; ++i) in.vec[i] = (unsigned char)(i * 7 + 3);
    /* 80-bit values: 1.5, -3.25, 1e300L-ish patterns (any bit pattern that
     * fldt/fstpt round-trips: normal numbers). */
    const long double v[3] = {1.5L, -3.25L, 12345.6789L};
    for (int i = 0; i < 3; ++i) memcpy(in.st[i], &v[i], 10);
    in.fcw = 0x0b7f; /* round up, extended precision, all exceptions masked */
    in.mxcsr = 0x1f80 | 0x4000 | 0x8000 | 0x0020; /* masked, round up, FTZ, PE set */
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(host.mxcsr), "=m"(host.fcw));

    pthread_t th;
    CHECK_PT(pthread_create(&th, NULL, signaller, NULL));
    uint16_t fsw0 = 0;
    for (int call = 0; call < CALLS; ++call) {
        memset(&out, 0xa5, sizeof out);
        if (avx)
            site_avx(&in, &out, &host);
        else
            site_sse(&in, &out, &host);
        if (call == 0) fsw0 = out.fsw;
        const size_t vbytes = avx ? 32 : 16;
        for (int r = 0; r < 16; ++r)
            CHECK(memcmp(in.vec + 32 * r, out.vec + 32 * r, vbytes) == 0, "call %d: vector register %d changed", call,
                  r);
        for (int i = 0; i < 3; ++i)
            CHECK(memcmp(in.st[i], out.st[i], 10) == 0, "call %d: x87 ST%d changed", call, i);
        CHECK(out.fcw == in.fcw, "call %d: FCW %#x, want %#x", call, out.fcw, in.fcw);
        CHECK(out.fsw == fsw0, "call %d: x87 status word %#x, want %#x", call, out.fsw, fsw0);
        CHECK(out.mxcsr == in.mxcsr, "call %d: MXCSR %#x, want %#x", call, out.mxcsr, in.mxcsr);
        CHECK(out.cf == 1, "call %d: CF lost across the syscall", call);
        CHECK(out.df == 1, "call %d: DF lost across the syscall", call);
        if (call % 10 == 0) usleep(50); /* let the signaller's signals land at various points */
    }
    stop = 1;
    CHECK_PT(pthread_join(th, NULL));
    fprintf(stderr, "fpu_patched_site: %d calls, %d signals handled\n", CALLS, handled);
    printf("fpu_patched_site: ok\n");
    return 0;
}
