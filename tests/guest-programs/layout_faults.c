/* The guest's layout holds for a thread on another node as at the origin
 * (issue 15). A worker thread (node 1 under `--local-hosts 2 --place
 * round-robin`; the main thread stays at the origin) checks, each time
 * catching SIGSEGV in a handler that siglongjmps out, with Linux's si_code
 * and si_addr:
 *  1. a stack overflow into a PROT_NONE guard page (recursion on a
 *     makecontext stack, the handler on a sigaltstack): SEGV_ACCERR;
 *  2. a read and a write of a PROT_NONE page: SEGV_ACCERR (and EFAULT,
 *     no signal, for write, open and read with a pointer there);
 *  3. a page the worker wrote, unmapped by the main thread: SEGV_MAPERR;
 *  4. a page the worker wrote, made PROT_NONE by the main thread and then
 *     unmapped by it (the DSM copies a PROT_NONE page out): SEGV_MAPERR;
 *  5. a page the worker wrote, made PROT_NONE by the main thread: a read
 *     faults (SEGV_ACCERR); made read/write again, it holds what was written.
 * Then the handler is removed and the program prints "layout_faults: ok". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "gp_check.h"

#define PAGE 4096
#define STACK_PAGES 16

static sigjmp_buf jb;
static volatile sig_atomic_t got_sig, got_code;
static void* volatile got_addr;
static pthread_barrier_t step;
static char* volatile victim;     /* check 3: unmapped by main */
static char* volatile hidden;     /* check 4: PROT_NONE, then unmapped by main */
static char* volatile shielded;   /* check 5: PROT_NONE, then read/write again */

static void on_segv(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = si->si_addr;
    siglongjmp(jb, 1);
}

/* Recursion that cannot become a loop: each frame's buffer is used after
 * the call returns. */
static volatile int depth_limit = 1 << 30; /* never reached: the guard page stops it */
static __attribute__((noinline)) int deep(int n) {
    volatile char buf[512];
    if (n > depth_limit) return 0;
    buf[0] = (char)n;
    buf[511] = (char)(n >> 8);
    return deep(n + 1) + buf[0] + buf[511];
}

static ucontext_t main_uc, deep_uc;
static void deep_entry(void) { (void)deep(0); }

static void expect_segv(const char* what, int code, const void* lo, const void* hi) {
    CHECK(got_sig == SIGSEGV, "%s raised %d, not SIGSEGV", what, (int)got_sig);
    CHECK(got_code == code, "%s: si_code %d, want %d", what, (int)got_code, code);
    CHECK((const char*)got_addr >= (const char*)lo && (const char*)got_addr < (const char*)hi,
          "%s: si_addr %p, want in [%p, %p)", what, got_addr, lo, hi);
}

static void* worker(void* arg) {
    (void)arg;
    /* The handler runs on an alternate stack (check 1 exhausts the other). */
    stack_t ss = {.ss_sp = malloc(64 * 1024), .ss_size = 64 * 1024, .ss_flags = 0};
    CHECK(ss.ss_sp != NULL, "malloc");
    CHECK_SYS(sigaltstack(&ss, NULL));

    /* 1. Stack overflow into the guard page below a stack. */
    char* stack = mmap(NULL, STACK_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(stack != MAP_FAILED, "mmap: %s", strerror(errno));
    CHECK_SYS(mprotect(stack, PAGE, PROT_NONE));
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        CHECK_SYS(getcontext(&deep_uc));
        deep_uc.uc_stack.ss_sp = stack + PAGE;
        deep_uc.uc_stack.ss_size = (STACK_PAGES - 1) * PAGE;
        deep_uc.uc_link = &main_uc;
        makecontext(&deep_uc, deep_entry, 0);
        CHECK_SYS(swapcontext(&main_uc, &deep_uc));
        GP_FAIL("recursion past the guard page did not fault");
    }
    expect_segv("stack overflow into the guard page", SEGV_ACCERR, stack, stack + PAGE);

    /* 2. PROT_NONE read and write. */
    char* none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(none != MAP_FAILED, "mmap: %s", strerror(errno));
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        int v = ((volatile char*)none)[100];
        GP_FAIL("read of a PROT_NONE page returned %d", v);
    }
    expect_segv("PROT_NONE read", SEGV_ACCERR, none + 100, none + 101);
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        ((volatile char*)none)[200] = 1;
        GP_FAIL("write to a PROT_NONE page did not fault");
    }
    expect_segv("PROT_NONE write", SEGV_ACCERR, none + 200, none + 201);
    /* ... and as a system call's argument: EFAULT, no signal. */
    int fds[2];
    CHECK_SYS(pipe(fds));
    CHECK_SYS(write(fds[1], "abc", 3));
    errno = 0;
    CHECK(write(fds[1], none, 10) == -1 && errno == EFAULT, "write from a PROT_NONE page: errno %d", errno);
    errno = 0;
    CHECK(open(none, O_RDONLY) == -1 && errno == EFAULT, "open of a PROT_NONE path: errno %d", errno);
    errno = 0;
    CHECK(read(fds[0], none, 3) == -1 && errno == EFAULT, "read into a PROT_NONE page: errno %d", errno);
    close(fds[0]);
    close(fds[1]);

    /* 3-5. Pages this thread wrote (so its node holds them), changed by
     * the main thread. */
    victim[7] = 'v';
    hidden[7] = 'h';
    shielded[7] = 's';
    pthread_barrier_wait(&step); /* main: munmap victim, PROT_NONE + munmap hidden, PROT_NONE shielded */
    pthread_barrier_wait(&step);
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        int v = victim[7];
        GP_FAIL("read of a page unmapped by another thread returned %d", v);
    }
    expect_segv("read after munmap", SEGV_MAPERR, victim + 7, victim + 8);
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        hidden[9] = 1;
        GP_FAIL("write to a PROT_NONE page unmapped by another thread did not fault");
    }
    expect_segv("write after PROT_NONE and munmap", SEGV_MAPERR, hidden + 9, hidden + 10);
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        int v = shielded[7];
        GP_FAIL("read of a page made PROT_NONE by another thread returned %d", v);
    }
    expect_segv("read after mprotect(PROT_NONE)", SEGV_ACCERR, shielded + 7, shielded + 8);
    pthread_barrier_wait(&step); /* main: shielded read/write again */
    pthread_barrier_wait(&step);
    CHECK(shielded[7] == 's', "page kept through PROT_NONE holds %d, want 's'", shielded[7]);
    shielded[8] = 't';

    ss.ss_flags = SS_DISABLE;
    CHECK_SYS(sigaltstack(&ss, NULL));
    munmap(stack, STACK_PAGES * PAGE);
    munmap(none, PAGE);
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
    char* pages = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(pages != MAP_FAILED, "mmap: %s", strerror(errno));
    victim = pages;
    hidden = pages + PAGE;
    shielded = pages + 2 * PAGE;
    CHECK_PT(pthread_barrier_init(&step, NULL, 2));
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, worker, NULL));
    pthread_barrier_wait(&step);
    CHECK_SYS(munmap(victim, PAGE));
    CHECK_SYS(mprotect(hidden, PAGE, PROT_NONE));
    CHECK_SYS(munmap(hidden, PAGE));
    CHECK_SYS(mprotect(shielded, PAGE, PROT_NONE));
    pthread_barrier_wait(&step);
    pthread_barrier_wait(&step);
    CHECK_SYS(mprotect(shielded, PAGE, PROT_READ | PROT_WRITE));
    CHECK(shielded[7] == 's', "page kept through PROT_NONE holds %d at the origin, want 's'", shielded[7]);
    pthread_barrier_wait(&step);
    CHECK_PT(pthread_join(t, NULL));
    CHECK(shielded[8] == 't', "worker's write after PROT_NONE lost: %d", shielded[8]);
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
    printf("layout_faults: ok\n");
    return 0;
}
