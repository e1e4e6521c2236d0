/* Signals that land inside a syscall trampoline.
 *
 * 1. A fault in the instruction a patcher displaces: probe(rsp) runs the
 *    site `mov 0x8(%rsp),%r9; syscall` (glibc's syscall(3) pattern) on a
 *    stack of our own. After 2000 good calls (the site is hot: spanvm
 *    patches it, so the `mov` then runs in a stub), 8(%rsp) is pointed at a
 *    PROT_NONE page: the SIGSEGV handler must see RIP at the site itself and
 *    si_addr at the page, make the page readable and return; the `mov` is
 *    re-run and the call completes with the page's value in r9.
 * 2. Asynchronous: the main thread spins in
 * a loop of raw `mov $110,%eax; syscall` (getppid, a site spanvm's native
 * platform patches into a jump to a stub) while ITIMER_REAL fires every
 * 200 us. Each SIGALRM handler checks that the interrupted RIP in its
 * ucontext lies in the loop's own code, at one of the site's two
 * instructions when inside the site (never a stub or spanvm's code, which a
 * patched site passes through). The program ends after 300 signals, and the last getppid result
 * must be the real parent pid. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include "gp_check.h"

/* spin(n, set): unblocks `set` (SIGALRM), makes n getppid syscalls, blocks
 * `set` again and returns the last getppid result. SIGALRM is blocked
 * everywhere else, so every SIGALRM lands inside spin(). The loop's site
 * (mov+syscall) is 16-byte aligned so that a patcher can rewrite it. */
long spin(long n, const sigset_t* set);
extern const char spin_begin[], spin_site[], spin_sys[], spin_end[];
__asm__(".text\n"
        ".globl spin\n"
        ".type spin, @function\n"
        "spin:\n"
        "spin_begin:\n"
        "    mov %rdi, %r8\n"          /* n (syscall keeps r8, r9) */
        "    mov %rsi, %r9\n"          /* set */
        "    mov $1, %edi\n"           /* rt_sigprocmask(SIG_UNBLOCK, set, NULL, 8) */
        "    xor %edx, %edx\n"
        "    mov $8, %r10d\n"
        "    mov $14, %eax\n"
        "    syscall\n"
        "    .p2align 4\n"
        "spin_site: mov $110, %eax\n"
        "spin_sys:  syscall\n"
        "    dec %r8\n"
        "    jnz spin_site\n"
        "    push %rax\n"
        "    xor %edi, %edi\n"         /* rt_sigprocmask(SIG_BLOCK, set, NULL, 8) */
        "    mov %r9, %rsi\n"
        "    xor %edx, %edx\n"
        "    mov $8, %r10d\n"
        "    mov $14, %eax\n"
        "    syscall\n"
        "    pop %rax\n"
        "    ret\n"
        "spin_end:\n"
        ".size spin, . - spin\n"
        ".globl spin_begin, spin_site, spin_sys, spin_end\n");

/* probe(rsp): on stack `rsp`, r9 = 8(%rsp); getppid. Returns getppid's
 * result; *probe_r9 gets r9. */
long probe(uintptr_t rsp);
extern const char probe_site[];
extern uint64_t probe_r9;
__asm__(".text\n"
        ".globl probe\n"
        ".type probe, @function\n"
        "probe:\n"
        "    push %rbx\n"
        "    mov %rsp, %rbx\n"
        "    mov %rdi, %rsp\n"
        "    mov $110, %eax\n"
        "    .p2align 4\n"
        "probe_site: mov 0x8(%rsp), %r9\n"
        "    syscall\n"
        "    mov %rbx, %rsp\n"
        "    mov %r9, probe_r9(%rip)\n"
        "    pop %rbx\n"
        "    ret\n"
        ".size probe, . - probe\n"
        ".globl probe_site\n"
        ".data\n"
        ".globl probe_r9\n"
        "probe_r9: .quad 0\n"
        ".text\n");

static volatile sig_atomic_t segv_hits;
static volatile uintptr_t segv_rip, segv_addr;
static uint8_t* guard;  /* PROT_NONE until the handler opens it */

static void on_segv(int sig, siginfo_t* si, void* ucv) {
    (void)sig;
    const ucontext_t* uc = ucv;
    segv_rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    segv_addr = (uintptr_t)si->si_addr;
    ++segv_hits;
    if (mprotect(guard, 4096, PROT_READ | PROT_WRITE) != 0) _exit(3);
    memcpy(guard, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
}

static void fault_in_site(void) {
    /* [stack page][guard page]: rsp = end of the stack page - 8, so
     * 8(%rsp) is the guard page's first byte. */
    uint8_t* m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap: %s", strerror(errno));
    guard = m + 2 * 4096;
    memset(m, 0x5a, 2 * 4096);
    memset(guard, 0x5a, 8);
    const uintptr_t rsp = (uintptr_t)guard - 8;
    const long want = getppid();
    for (int i = 0; i < 2000; ++i) {
        CHECK(probe(rsp) == want, "probe returned the wrong getppid");
        CHECK(probe_r9 == 0x5a5a5a5a5a5a5a5aull, "probe read %#llx", (unsigned long long)probe_r9);
    }
    static uint8_t altstack[65536];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    CHECK_SYS(sigaltstack(&ss, NULL));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
    CHECK_SYS(mprotect(guard, 4096, PROT_NONE));
    CHECK(probe(rsp) == want, "probe after the fault returned the wrong getppid");
    CHECK(segv_hits == 1, "%d SIGSEGVs, want 1", (int)segv_hits);
    CHECK(segv_rip == (uintptr_t)probe_site, "SIGSEGV at RIP %#lx, want the site %p", (unsigned long)segv_rip,
          (void*)probe_site);
    CHECK(segv_addr == (uintptr_t)guard, "SIGSEGV si_addr %#lx, want %p", (unsigned long)segv_addr, (void*)guard);
    CHECK(probe_r9 == 0x8877665544332211ull, "the re-run mov read %#llx", (unsigned long long)probe_r9);
    signal(SIGSEGV, SIG_DFL);
    CHECK_SYS(munmap(m, 3 * 4096));
}

static volatile sig_atomic_t hits, bad;
static volatile uintptr_t bad_rip;

static void on_alarm(int sig, siginfo_t* si, void* ucv) {
    (void)sig, (void)si;
    const ucontext_t* uc = ucv;
    const uintptr_t rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    const uintptr_t site = (uintptr_t)spin_site;
    /* Inside spin(), and never inside the 7 bytes of the site other than at
     * its two instructions (a patched site's stub is elsewhere). */
    const int in_spin = rip >= (uintptr_t)spin_begin && rip < (uintptr_t)spin_end;
    const int mid_site = rip > site && rip < site + 7 && rip != (uintptr_t)spin_sys;
    if (!in_spin || mid_site) {
        bad = 1;
        bad_rip = rip;
    }
    ++hits;
}

int main(void) {
    fault_in_site();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_alarm;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    CHECK_SYS(sigprocmask(SIG_BLOCK, &alrm, NULL));
    struct itimerval it = {{0, 200}, {0, 200}};
    CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
    long r = 0, rounds = 0;
    while (hits < 300) {
        r = spin(2000, &alrm);
        ++rounds;
        CHECK(!bad, "SIGALRM saw RIP %#lx, not an instruction of spin() [%p, %p)", (unsigned long)bad_rip,
              (void*)spin_begin, (void*)spin_end);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    CHECK_SYS(setitimer(ITIMER_REAL, &off, NULL));
    CHECK(r == getppid(), "raw getppid returned %ld, getppid() %d", r, (int)getppid());
    CHECK(rounds > 0, "no round ran");
    printf("trampoline_signal: ok\n");
    return 0;
}
