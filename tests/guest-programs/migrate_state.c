/* What a thread carries when spanvm migrates it between nodes, checked
 * while it moves (`spanvm run --local-hosts 2` with SPANVM_MIGRATE_CYCLE=1
 * moves every thread each placement window; cluster_placement.sh):
 *   - registers: r12-r15 and all 256 bits of ymm0-15 (xmm0-15 without AVX)
 *     held in the CPU across system calls and spinning;
 *   - MXCSR and the x87 control word set to non-default values;
 *   - TLS (a __thread variable, the FS base) and the GS base;
 *   - a pending signal, blocked while the thread moves, delivered once on
 *     unblock with its siginfo;
 *   - futex waits: a ping-pong pair waiting on each other, and a thread
 *     that waits a long time while moves are asked for.
 * MIGRATE_SECONDS sets how long the register workers run (default 1). On
 * one host it checks the same things without moves. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

static double seconds = 1.0;
static int have_avx;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loads ymm0-15 and r12-r15, then `rounds` times: getppid, spin `spin`;
 * then stores them. Nothing else touches them in between. */
__attribute__((target("avx"))) static void hold_avx(const unsigned char* in, unsigned char* out, const long* gi,
                                                    long* go, long rounds, long spin) {
    long tmp;
    __asm__ volatile(
        "vmovdqu 0(%[in]), %%ymm0\n\tvmovdqu 32(%[in]), %%ymm1\n\tvmovdqu 64(%[in]), %%ymm2\n\t"
        "vmovdqu 96(%[in]), %%ymm3\n\tvmovdqu 128(%[in]), %%ymm4\n\tvmovdqu 160(%[in]), %%ymm5\n\t"
        "vmovdqu 192(%[in]), %%ymm6\n\tvmovdqu 224(%[in]), %%ymm7\n\tvmovdqu 256(%[in]), %%ymm8\n\t"
        "vmovdqu 288(%[in]), %%ymm9\n\tvmovdqu 320(%[in]), %%ymm10\n\tvmovdqu 352(%[in]), %%ymm11\n\t"
        "vmovdqu 384(%[in]), %%ymm12\n\tvmovdqu 416(%[in]), %%ymm13\n\tvmovdqu 448(%[in]), %%ymm14\n\t"
        "vmovdqu 480(%[in]), %%ymm15\n\t"
        "mov 0(%[gi]), %%r12\n\tmov 8(%[gi]), %%r13\n\tmov 16(%[gi]), %%r14\n\tmov 24(%[gi]), %%r15\n\t"
        "1:\n\tmov $110, %%eax\n\tsyscall\n\t" /* getppid */
        "mov %[spin], %[tmp]\n\t"
        "2:\n\tdec %[tmp]\n\tjnz 2b\n\t"
        "dec %[rounds]\n\tjnz 1b\n\t"
        "vmovdqu %%ymm0, 0(%[out])\n\tvmovdqu %%ymm1, 32(%[out])\n\tvmovdqu %%ymm2, 64(%[out])\n\t"
        "vmovdqu %%ymm3, 96(%[out])\n\tvmovdqu %%ymm4, 128(%[out])\n\tvmovdqu %%ymm5, 160(%[out])\n\t"
        "vmovdqu %%ymm6, 192(%[out])\n\tvmovdqu %%ymm7, 224(%[out])\n\tvmovdqu %%ymm8, 256(%[out])\n\t"
        "vmovdqu %%ymm9, 288(%[out])\n\tvmovdqu %%ymm10, 320(%[out])\n\tvmovdqu %%ymm11, 352(%[out])\n\t"
        "vmovdqu %%ymm12, 384(%[out])\n\tvmovdqu %%ymm13, 416(%[out])\n\tvmovdqu %%ymm14, 448(%[out])\n\t"
        "vmovdqu %%ymm15, 480(%[out])\n\t"
        "mov %%r12, 0(%[go])\n\tmov %%r13, 8(%[go])\n\tmov %%r14, 16(%[go])\n\tmov %%r15, 24(%[go])\n\t"
        : [rounds] "+r"(rounds), [tmp] "=&r"(tmp)
        : [in] "r"(in), [out] "r"(out), [gi] "r"(gi), [go] "r"(go), [spin] "r"(spin)
        : "rax", "rcx", "r11", "r12", "r13", "r14", "r15", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
          "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* The same with xmm0-15 only (SSE2, every x86-64). */
static void hold_sse(const unsigned char* in, unsigned char* out, const long* gi, long* go, long rounds, long spin) {
    long tmp;
    __asm__ volatile(
        "movdqu 0(%[in]), %%xmm0\n\tmovdqu 16(%[in]), %%xmm1\n\tmovdqu 32(%[in]), %%xmm2\n\t"
        "movdqu 48(%[in]), %%xmm3\n\tmovdqu 64(%[in]), %%xmm4\n\tmovdqu 80(%[in]), %%xmm5\n\t"
        "movdqu 96(%[in]), %%xmm6\n\tmovdqu 112(%[in]), %%xmm7\n\tmovdqu 128(%[in]), %%xmm8\n\t"
        "movdqu 144(%[in]), %%xmm9\n\tmovdqu 160(%[in]), %%xmm10\n\tmovdqu 176(%[in]), %%xmm11\n\t"
        "movdqu 192(%[in]), %%xmm12\n\tmovdqu 208(%[in]), %%xmm13\n\tmovdqu 224(%[in]), %%xmm14\n\t"
        "movdqu 240(%[in]), %%xmm15\n\t"
        "mov 0(%[gi]), %%r12\n\tmov 8(%[gi]), %%r13\n\tmov 16(%[gi]), %%r14\n\tmov 24(%[gi]), %%r15\n\t"
        "1:\n\tmov $110, %%eax\n\tsyscall\n\t"
        "mov %[spin], %[tmp]\n\t"
        "2:\n\tdec %[tmp]\n\tjnz 2b\n\t"
        "dec %[rounds]\n\tjnz 1b\n\t"
        "movdqu %%xmm0, 0(%[out])\n\tmovdqu %%xmm1, 16(%[out])\n\tmovdqu %%xmm2, 32(%[out])\n\t"
        "movdqu %%xmm3, 48(%[out])\n\tmovdqu %%xmm4, 64(%[out])\n\tmovdqu %%xmm5, 80(%[out])\n\t"
        "movdqu %%xmm6, 96(%[out])\n\tmovdqu %%xmm7, 112(%[out])\n\tmovdqu %%xmm8, 128(%[out])\n\t"
        "movdqu %%xmm9, 144(%[out])\n\tmovdqu %%xmm10, 160(%[out])\n\tmovdqu %%xmm11, 176(%[out])\n\t"
        "movdqu %%xmm12, 192(%[out])\n\tmovdqu %%xmm13, 208(%[out])\n\tmovdqu %%xmm14, 224(%[out])\n\t"
        "movdqu %%xmm15, 240(%[out])\n\t"
        "mov %%r12, 0(%[go])\n\tmov %%r13, 8(%[go])\n\tmov %%r14, 16(%[go])\n\tmov %%r15, 24(%[go])\n\t"
        : [rounds] "+r"(rounds), [tmp] "=&r"(tmp)
        : [in] "r"(in), [out] "r"(out), [gi] "r"(gi), [go] "r"(go), [spin] "r"(spin)
        : "rax", "rcx", "r11", "r12", "r13", "r14", "r15", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
          "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static __thread long tls_value;
static volatile int usr2_count;
static volatile int usr2_code;
static __thread volatile int my_usr2;

static void on_usr2(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    if (sig == SIGUSR2) {
        __atomic_fetch_add(&usr2_count, 1, __ATOMIC_SEQ_CST);
        my_usr2++;
        usr2_code = si->si_code;
    }
}

static long futex(int* w, int op, int val) { return syscall(SYS_futex, w, op, val, NULL, NULL, 0); }

/* Registers, TLS, FS/GS, MXCSR, x87, and a signal pending across moves. */
static void* reg_worker(void* arg) {
    const long id = (long)arg;
    tls_value = 0x7100 + id;
    unsigned long fs0 = 0, gs = 0, fs = 0;
    CHECK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs0) == 0, "ARCH_GET_FS");
    const unsigned long gs_want = 0x5a5a0000ul + (unsigned long)id * 0x1000;
    CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, gs_want) == 0, "ARCH_SET_GS");
    /* MXCSR: round toward zero, flush to zero; x87: single precision, round up. */
    unsigned mx = 0x1f80u | 0x6000u | 0x8000u, mx_out = 0;
    __asm__ volatile("ldmxcsr %0" ::"m"(mx));
    unsigned short cw = 0x087f, cw_out = 0;
    __asm__ volatile("fldcw %0" ::"m"(cw));
    /* SIGUSR2 pending while the thread moves. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0, "block SIGUSR2");
    CHECK(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2) == 0, "tgkill");

    unsigned char in[512], out[512];
    long gi[4], go[4];
    const double end = now() + seconds;
    long n = 0;
    do {
        for (int i = 0; i < 512; ++i) in[i] = (unsigned char)(i * 13 + id * 5 + n);
        for (int i = 0; i < 4; ++i) gi[i] = (long)0x1111111111111111 * (i + 1) + id + n;
        memset(out, 0, sizeof out);
        memset(go, 0, sizeof go);
        const int bytes = have_avx ? 512 : 256;
        if (have_avx)
            hold_avx(in, out, gi, go, 20, 20000);
        else
            hold_sse(in, out, gi, go, 20, 20000);
        for (int i = 0; i < bytes; ++i)
            CHECK(out[i] == in[i], "worker %ld round %ld: %smm%d byte %d is %#x, want %#x", id, n,
                  have_avx ? "y" : "x", i / (have_avx ? 32 : 16), i % (have_avx ? 32 : 16), out[i], in[i]);
        for (int i = 0; i < 4; ++i) CHECK(go[i] == gi[i], "worker %ld round %ld: r%d changed", id, n, 12 + i);
        __asm__ volatile("stmxcsr %0" : "=m"(mx_out));
        CHECK((mx_out & ~0x3fu) == (mx & ~0x3fu), "worker %ld: MXCSR %#x, want %#x", id, mx_out, mx);
        __asm__ volatile("fnstcw %0" : "=m"(cw_out));
        CHECK(cw_out == cw, "worker %ld: x87 control word %#x, want %#x", id, cw_out, cw);
        CHECK(tls_value == 0x7100 + id, "worker %ld: TLS %#lx", id, tls_value);
        CHECK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == 0 && fs == fs0, "worker %ld: FS %#lx, want %#lx", id, fs,
              fs0);
        CHECK(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs) == 0 && gs == gs_want, "worker %ld: GS %#lx, want %#lx", id,
              gs, gs_want);
        ++n;
    } while (now() < end);
    sigset_t pend;
    CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR2), "worker %ld: SIGUSR2 no longer pending", id);
    CHECK(my_usr2 == 0, "worker %ld: SIGUSR2 delivered while blocked", id);
    CHECK(pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0, "unblock SIGUSR2");
    /* Delivered on the way out of that call: exactly once, to this thread. */
    CHECK(my_usr2 == 1, "worker %ld: SIGUSR2 handled %d times after unblock", id, my_usr2);
    return (void*)n;
}

/* Futex ping-pong: two threads hand a turn back and forth. */
static int turn;
#define HANDS 300
static void* ponger(void* arg) {
    const int me = (int)(long)arg;
    for (int k = 0; k < HANDS; ++k) {
        while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != me) futex(&turn, FUTEX_WAIT, 1 - me);
        for (volatile int s = 0; s < 20000; ++s) {
        }
        __atomic_store_n(&turn, 1 - me, __ATOMIC_RELEASE);
        futex(&turn, FUTEX_WAKE, 1);
    }
    return NULL;
}

/* One long wait: woken by main after a while. */
static int gate;
static void* long_waiter(void* arg) {
    (void)arg;
    long woke = 0;
    while (__atomic_load_n(&gate, __ATOMIC_ACQUIRE) == 0) {
        long r = futex(&gate, FUTEX_WAIT, 0);
        CHECK(r == 0 || (r == -1 && (errno == EAGAIN || errno == EINTR)), "futex wait: %s", strerror(errno));
        woke++;
    }
    CHECK(tls_value == 0, "long waiter TLS %#lx", tls_value);
    return (void*)woke;
}

int main(void) {
    const char* s = getenv("MIGRATE_SECONDS");
    if (s) seconds = atof(s);
    __builtin_cpu_init();
    have_avx = __builtin_cpu_supports("avx");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr2;
    sa.sa_flags = SA_SIGINFO;
    CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
    pthread_t w[2], p[2], lw;
    CHECK_PT(pthread_create(&lw, NULL, long_waiter, NULL));
    for (long i = 0; i < 2; ++i) CHECK_PT(pthread_create(&w[i], NULL, reg_worker, (void*)i));
    for (long i = 0; i < 2; ++i) CHECK_PT(pthread_create(&p[i], NULL, ponger, (void*)i));
    long rounds = 0;
    for (int i = 0; i < 2; ++i) {
        void* r;
        CHECK_PT(pthread_join(w[i], &r));
        rounds += (long)r;
    }
    CHECK(usr2_count == 2, "SIGUSR2 handled %d times, want 2 (one per worker)", usr2_count);
    CHECK(usr2_code == SI_TKILL, "SIGUSR2 si_code %d, want SI_TKILL", usr2_code);
    for (int i = 0; i < 2; ++i) CHECK_PT(pthread_join(p[i], NULL));
    CHECK(turn == 0, "ping-pong ended on turn %d", turn);
    __atomic_store_n(&gate, 1, __ATOMIC_RELEASE);
    futex(&gate, FUTEX_WAKE, 1);
    CHECK_PT(pthread_join(lw, NULL));
    fprintf(stderr, "migrate_state: %ld register rounds, %s\n", rounds, have_avx ? "ymm" : "xmm");
    printf("migrate_state: ok\n");
    return 0;
}
