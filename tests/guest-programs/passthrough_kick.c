/* Pass-through syscalls in tight loops, stopped only by signals.
 *
 * spanvm's native platform answers getppid, getuid, getpgrp and
 * sched_yield at a patched site without leaving the guest (a fast path with
 * no FS switch); a kick that lands around such a call must still stop the
 * thread, or a signal is never delivered. Here a worker thread runs
 * pass_loop(): raw `mov $NR,%eax; syscall` sites (16-byte aligned, the
 * pattern spanvm patches) for the four calls, round after round, and after
 * each call checks what Linux guarantees: RAX the same value as the trapped
 * reference call below (getppid, getuid, getpgrp) or 0 (sched_yield); RCX
 * the RIP after the `syscall`; R11 the RFLAGS of the call (CF set before
 * it); RBX, RBP, RDI, RSI, RDX, R8-R10, XMM0, the red zone unchanged. It
 * leaves the loop only when *stop is set, which only a signal handler does.
 *   1. 200 SIGUSR1 (PASSTHROUGH_SIGNALS sets how many) sent one at a time
 *      with tgkill by the main thread, each waited for (the handler counts
 *      them); then SIGUSR2 sets stop.
 *   2. ITIMER_REAL every 1 ms (SIGALRM, blocked in the main thread) until
 *      the worker's handler has counted 50; it sets stop then.
 *   3. A worker that never stops: main returns (exit_group) while it
 *      loops; the process must end all the same.
 * The reference values come from sites that spanvm never patches (`mov
 * %rdi,%rax; syscall`): every call there is a trap and goes through
 * spanvm's handlers. Prints "passthrough_kick: ok". Across hosts with
 * SPANVM_MIGRATE_CYCLE=1 (cluster_placement.sh migrate_passthrough) the
 * threads move between nodes in the middle of their loops (cluster runs
 * patch no sites today: there every call traps). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "gp_check.h"

/* long pass_loop(volatile int *stop, const long *want, long *rounds):
 * want = {getppid, getuid, getpgrp}. Returns 0 once *stop is set with every
 * check passed, else the number of the failed check (see fail_* below). */
long pass_loop(volatile int* stop, const long* want, long* rounds);
extern const char pass_loop_begin[], pass_loop_end[];

#define PL_SITE(NR, WANT, TAG)                                             \
    "    movabs $0x1111111111111111, %rbx\n"                               \
    "    movabs $0x2222222222222222, %rbp\n"                               \
    "    movabs $0x3333333333333333, %rdi\n"                               \
    "    movabs $0x4444444444444444, %rsi\n"                               \
    "    movabs $0x5555555555555555, %rdx\n"                               \
    "    movabs $0x6666666666666666, %r8\n"                                \
    "    movabs $0x7777777777777777, %r9\n"                                \
    "    movabs $0x0888888888888888, %r10\n"                               \
    "    movq %rbp, %xmm0\n"                                               \
    "    mov %rbx, -8(%rsp)\n"                                             \
    "    mov %rdi, -64(%rsp)\n"                                            \
    "    mov %rsi, -128(%rsp)\n"                                           \
    "    stc\n"                                                            \
    "    .p2align 4\n"                                                     \
    "    mov $" #NR ", %eax\n"                                             \
    "    syscall\n"                                                        \
    "ret_" TAG ":\n"                                                       \
    "    lea -256(%rsp), %rsp\n"                                           \
    "    pushfq\n"                                                         \
    "    testq $1, (%rsp)\n"                                               \
    "    jz fail_cf\n"                                                     \
    "    xor (%rsp), %r11\n"                                               \
    "    and $0x8d5, %r11\n"                                               \
    "    jnz fail_r11\n"                                                   \
    "    lea 264(%rsp), %rsp\n"                                            \
    "    lea ret_" TAG "(%rip), %r11\n"                                    \
    "    cmp %r11, %rcx\n"                                                 \
    "    jne fail_rcx\n"                                                   \
    "    movabs $0x1111111111111111, %r11\n"                               \
    "    cmp %r11, %rbx\n"                                                 \
    "    jne fail_gpr\n"                                                   \
    "    cmp %r11, -8(%rsp)\n"                                             \
    "    jne fail_redzone\n"                                               \
    "    movabs $0x2222222222222222, %r11\n"                               \
    "    cmp %r11, %rbp\n"                                                 \
    "    jne fail_gpr\n"                                                   \
    "    movq %xmm0, %rcx\n"                                               \
    "    cmp %r11, %rcx\n"                                                 \
    "    jne fail_xmm\n"                                                   \
    "    movabs $0x3333333333333333, %r11\n"                               \
    "    cmp %r11, %rdi\n"                                                 \
    "    jne fail_gpr\n"                                                   \
    "    cmp %r11, -64(%rsp)\n"                                            \
    "    jne fail_redzone\n"                                               \
    "    movabs $0x4444444444444444, %r11\n"                               \
    "    cmp %r11, %rsi\n"                                                 \
    "    jne fail_gpr\n"                                                   \
    "    cmp %r11, -128(%rsp)\n"                                           \
    "    jne fail_redzone\n"                                               \
    "    movabs $0x5555555555555555, %r11\n"                               \
    "    cmp %r11, %rdx\n"                                                 \
    "    jne fail_gpr\n"                                                   \
    "    movabs $0x6666666666666666, %r11\n"                               \
    "    cmp %r11, %r8\n"                                                  \
    "    jne fail_gpr\n"                                                   \
    "    movabs $0x7777777777777777, %r11\n"                               \
    "    cmp %r11, %r9\n"                                                  \
    "    jne fail_gpr\n"                                                   \
    "    movabs $0x0888888888888888, %r11\n"                               \
    "    cmp %r11, %r10\n"                                                 \
    "    jne fail_gpr\n"                                                   \
    "    cmp " WANT ", %rax\n"                                             \
    "    jne fail_result\n"

__asm__(".text\n"
        ".globl pass_loop\n"
        ".type pass_loop, @function\n"
        "pass_loop:\n"
        "pass_loop_begin:\n"
        "    push %rbx\n"
        "    push %rbp\n"
        "    push %r12\n"
        "    push %r13\n"
        "    push %r14\n"
        "    mov %rdi, %r12\n"   /* stop */
        "    mov %rsi, %r13\n"   /* want */
        "    mov %rdx, %r14\n"   /* rounds */
        "1:\n"
        PL_SITE(110, "0(%r13)", "ppid")      /* getppid */
        PL_SITE(102, "8(%r13)", "uid")       /* getuid */
        PL_SITE(111, "16(%r13)", "pgrp")     /* getpgrp */
        PL_SITE(24, "$0", "yield")           /* sched_yield */
        "    incq (%r14)\n"
        "    cmpl $0, (%r12)\n"
        "    je 1b\n"
        "    xor %eax, %eax\n"
        "2:\n"
        "    pop %r14\n"
        "    pop %r13\n"
        "    pop %r12\n"
        "    pop %rbp\n"
        "    pop %rbx\n"
        "    ret\n"
        "fail_cf: mov $1, %eax\n jmp 3f\n"
        "fail_r11: mov $2, %eax\n jmp 3f\n"
        "fail_rcx: mov $3, %eax\n jmp 2b\n"
        "fail_gpr: mov $4, %eax\n jmp 2b\n"
        "fail_redzone: mov $5, %eax\n jmp 2b\n"
        "fail_xmm: mov $6, %eax\n jmp 2b\n"
        "fail_result: mov $7, %eax\n jmp 2b\n"
        "3:  lea 264(%rsp), %rsp\n jmp 2b\n"
        "pass_loop_end:\n"
        ".size pass_loop, . - pass_loop\n"
        ".globl pass_loop_begin, pass_loop_end\n");

/* A syscall that spanvm never patches (not `mov $imm32,%eax; syscall`):
 * every call traps into spanvm's handlers. */
static long trapped_syscall0(long nr) {
    long ret;
    __asm__ volatile("mov %1, %%rax\n syscall" : "=a"(ret) : "r"(nr) : "rcx", "r11", "memory");
    return ret;
}

static const char* const check_names[] = {"", "CF after the call", "R11 == RFLAGS", "RCX == return RIP",
                                          "a preserved GPR", "the red zone", "XMM0", "the result"};

static volatile int stop;
static atomic_int usr1_hits, alarm_hits;
static volatile uintptr_t bad_rip;
static long want[3];

static void note_rip(void* ucv) {
    const ucontext_t* uc = ucv;
    const uintptr_t rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    /* Signals are sent only while the worker is inside pass_loop: the
     * interrupted RIP is the loop's own code, never spanvm's or a stub,
     * which a patched site passes through. */
    if (rip < (uintptr_t)pass_loop_begin || rip >= (uintptr_t)pass_loop_end) bad_rip = rip ? rip : 1;
}

static void on_usr1(int sig, siginfo_t* si, void* uc) {
    (void)sig, (void)si;
    note_rip(uc);
    atomic_fetch_add(&usr1_hits, 1);
}
static void on_usr2(int sig) {
    (void)sig;
    stop = 1;
}
static void on_alarm(int sig, siginfo_t* si, void* uc) {
    (void)sig, (void)si;
    /* Once stop is set the worker leaves the loop (and its thread) while
     * the timer still runs: only a SIGALRM before that is in the loop. */
    if (stop) return;
    note_rip(uc);
    if (atomic_fetch_add(&alarm_hits, 1) + 1 >= 50) stop = 1;
}

struct worker {
    pthread_t th;
    atomic_int tid;
    long rounds;
    long result;
};

static void* work(void* arg) {
    struct worker* w = arg;
    atomic_store(&w->tid, (int)syscall(SYS_gettid));
    w->result = pass_loop(&stop, want, &w->rounds);
    return NULL;
}

static void* work_forever(void* arg) {
    struct worker* w = arg;
    static volatile int never;
    atomic_store(&w->tid, (int)syscall(SYS_gettid));
    w->result = pass_loop(&never, want, &w->rounds);
    return NULL;
}

static void start(struct worker* w, void* (*fn)(void*)) {
    memset(w, 0, sizeof *w);
    CHECK_PT(pthread_create(&w->th, NULL, fn, w));
    while (atomic_load(&w->tid) == 0) sched_yield();
    /* Wait until the loop runs (its sites get patched on their second trap). */
    while (w->rounds < 4) sched_yield();
}

static void finish(struct worker* w, const char* phase) {
    CHECK_PT(pthread_join(w->th, NULL));
    CHECK(w->result == 0, "%s: pass_loop failed its check of %s", phase, check_names[w->result & 7]);
    CHECK(bad_rip == 0, "%s: a signal interrupted RIP %#lx, outside guest code", phase, (unsigned long)bad_rip);
}

static void on(int sig, void (*fn)(int, siginfo_t*, void*), void (*plain)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    if (fn) {
        sa.sa_sigaction = fn;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
    } else {
        sa.sa_handler = plain;
        sa.sa_flags = SA_RESTART;
    }
    sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(sig, &sa, NULL));
}

int main(void) {
    want[0] = trapped_syscall0(SYS_getppid);
    want[1] = trapped_syscall0(SYS_getuid);
    want[2] = trapped_syscall0(SYS_getpgrp);
    CHECK(want[0] == getppid(), "trapped getppid %ld, glibc's %ld", want[0], (long)getppid());
    CHECK(want[1] == (long)getuid() && want[2] == (long)getpgrp(), "trapped getuid/getpgrp differ from glibc's");
    on(SIGUSR1, on_usr1, NULL);
    on(SIGUSR2, NULL, on_usr2);
    on(SIGALRM, on_alarm, NULL);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    CHECK_PT(pthread_sigmask(SIG_BLOCK, &alrm, NULL));  /* the workers inherit it ... */

    /* 1. Signals one at a time, each one waited for. */
    const char* env = getenv("PASSTHROUGH_SIGNALS");
    const int nsig = env ? atoi(env) : 200;
    CHECK(nsig > 0, "PASSTHROUGH_SIGNALS=%s", env);
    struct worker w;
    start(&w, work);
    const struct timespec tick = {0, 100 * 1000};
    for (int i = 0; i < nsig; ++i) {
        CHECK_SYS(syscall(SYS_tgkill, getpid(), atomic_load(&w.tid), SIGUSR1));
        /* No deadline: a lost signal hangs here, and the test's timeout
         * reports it. */
        while (atomic_load(&usr1_hits) <= i) nanosleep(&tick, NULL);
    }
    CHECK_SYS(syscall(SYS_tgkill, getpid(), atomic_load(&w.tid), SIGUSR2));
    finish(&w, "tgkill");
    CHECK(atomic_load(&usr1_hits) == nsig, "%d SIGUSR1 handled, want %d", atomic_load(&usr1_hits), nsig);

    /* 2. A timer stops it: SIGALRM reaches only the worker. */
    stop = 0;
    CHECK_PT(pthread_sigmask(SIG_UNBLOCK, &alrm, NULL));
    start(&w, work);  /* ... and unblocks it before its loop */
    CHECK_PT(pthread_sigmask(SIG_BLOCK, &alrm, NULL));
    struct itimerval it = {{0, 1000}, {0, 1000}};
    CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
    finish(&w, "itimer");
    struct itimerval off = {{0, 0}, {0, 0}};
    CHECK_SYS(setitimer(ITIMER_REAL, &off, NULL));
    CHECK(atomic_load(&alarm_hits) >= 50, "%d SIGALRM handled, want >= 50", atomic_load(&alarm_hits));

    /* 3. The process ends while a worker loops. */
    struct worker forever;
    start(&forever, work_forever);
    printf("passthrough_kick: ok\n");
    fflush(stdout);
    exit(0);
}
