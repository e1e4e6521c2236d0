/* CPU exceptions reach guest signal handlers with Linux's si_code and
 * si_addr (runtimes such as the JVM and Go depend on this):
 *  - SIGSEGV from a NULL read, recovered with siglongjmp (SEGV_MAPERR, addr 0);
 *  - SIGSEGV from a write to a PROT_NONE page (SEGV_ACCERR, the page);
 *  - SIGFPE from an integer division by zero (FPE_INTDIV);
 *  - SIGILL from ud2 (ILL_ILLOPN, the instruction's address);
 *  - SIGTRAP from int3 (the handler returns: execution continues after it);
 *  - a handler that returns after fixing RIP: the program goes on.
 * Each is checked, then the handler is removed and nothing else happens. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "gp_check.h"

static sigjmp_buf jb;
static volatile sig_atomic_t got_sig, got_code;
static void* volatile got_addr;
int* volatile null_ptr = NULL;
volatile int zero = 0;
static void* volatile ud2_at;

static void on_fault(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = si->si_addr;
    siglongjmp(jb, 1);
}

static int trap_count;
static void on_trap(int sig, siginfo_t* si, void* uc) {
    (void)si;
    (void)uc;
    if (sig == SIGTRAP) trap_count++;
}

static void install(int sig, void (*h)(int, siginfo_t*, void*)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction(%d): %s", sig, strerror(errno));
}

int main(void) {
    install(SIGSEGV, on_fault);
    install(SIGFPE, on_fault);
    install(SIGILL, on_fault);
    install(SIGTRAP, on_trap);

    /* 1. NULL read, recovered twice (the handler stays installed and the
     *    signal is unblocked again by siglongjmp). */
    for (int round = 0; round < 2; ++round) {
        got_sig = 0;
        if (sigsetjmp(jb, 1) == 0) {
            int v = *null_ptr;
            GP_FAIL("NULL read returned %d", v);
        }
        CHECK(got_sig == SIGSEGV, "NULL read raised %d, not SIGSEGV", (int)got_sig);
        CHECK(got_code == SEGV_MAPERR, "NULL read: si_code %d, want SEGV_MAPERR", (int)got_code);
        CHECK(got_addr == NULL, "NULL read: si_addr %p, want NULL", got_addr);
    }

    /* 2. Write to a PROT_NONE page. */
    char* page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED, "mmap: %s", strerror(errno));
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        ((volatile char*)page)[123] = 1;
        GP_FAIL("write to a PROT_NONE page did not fault");
    }
    CHECK(got_sig == SIGSEGV, "PROT_NONE write raised %d", (int)got_sig);
    CHECK(got_code == SEGV_ACCERR, "PROT_NONE write: si_code %d, want SEGV_ACCERR", (int)got_code);
    CHECK(got_addr == page + 123, "PROT_NONE write: si_addr %p, want %p", got_addr, (void*)(page + 123));

    /* 3. Division by zero. */
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        int q = 7 / zero;
        GP_FAIL("division by zero returned %d", q);
    }
    CHECK(got_sig == SIGFPE, "division by zero raised %d, not SIGFPE", (int)got_sig);
    CHECK(got_code == FPE_INTDIV, "division by zero: si_code %d, want FPE_INTDIV", (int)got_code);

    /* 4. ud2. */
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        void* at;
        __asm__ volatile("lea 0f(%%rip), %0\n\tmov %0, %1\n\t0: ud2" : "=&r"(at), "=m"(ud2_at));
        GP_FAIL("ud2 did not fault");
    }
    CHECK(got_sig == SIGILL, "ud2 raised %d, not SIGILL", (int)got_sig);
    CHECK(got_code == ILL_ILLOPN, "ud2: si_code %d, want ILL_ILLOPN", (int)got_code);
    CHECK(got_addr == ud2_at, "ud2: si_addr %p, want %p", got_addr, ud2_at);

    /* 5. int3: the handler returns and execution continues after it. */
    __asm__ volatile("int3");
    __asm__ volatile("int3");
    CHECK(trap_count == 2, "int3 handler ran %d times, want 2", trap_count);

    printf("fault_handlers: ok\n");
    return 0;
}
