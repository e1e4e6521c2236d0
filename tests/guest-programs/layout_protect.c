/* Read-only and no-execute protection, a thread stack's guard page, and
 * munmap racing threads that touch the range, on a thread on another node
 * as at the origin (issue 15). Threads: T (node 1 under `--local-hosts 2
 * --place round-robin`), D (node 0) and U (node 1); main stays at the
 * origin. Every fault is caught by a SIGSEGV handler that siglongjmps out
 * and checked for Linux's si_code and si_addr. T checks:
 *  1. a write to a page it made PROT_READ: SEGV_ACCERR at the byte; reads
 *     still work, the neighbour page stays writable; a fresh PROT_READ
 *     mapping, a string literal (.rodata), the program's own code and a
 *     pointer in its RELRO segment too;
 *  2. the same page as a system call's output: EFAULT, no signal, the page
 *     unchanged (read, sched_getaffinity);
 *  3. a page T wrote (node 1 holds it), made PROT_READ by main: the write
 *     faults, the read sees T's byte; made read/write again by main, T's
 *     write lands and main reads it;
 *  4. no-execute: a call into a read/write page faults (SEGV_ACCERR at the
 *     page) and runs once the page is read+exec (not on KVM, whose guest
 *     page tables map all user memory executable: a documented departure;
 *     the program learns the platform from SPANVM_PLATFORM);
 *  5. recursion past the end of T's own stack: SEGV_ACCERR in glibc's
 *     guard page (the handler runs on a sigaltstack).
 * Then two rounds of a munmap race: T and D write every page of a range
 * over and over (so pages move between the nodes, with faults in flight),
 * and main (round 0) or U (round 1, a node thread) munmaps it. Both must
 * fault with SEGV_MAPERR inside the range; the range mapped again reads
 * zero everywhere, at the origin and on node 1 (no page comes back). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gp_check.h"

#define PAGE 4096
#define RACE_PAGES 32
#define ROUNDS 2

static __thread sigjmp_buf jb;
static __thread volatile sig_atomic_t got_sig, got_code;
static __thread void* volatile got_addr;

static void on_segv(int sig, siginfo_t* si, void* uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = si->si_addr;
    siglongjmp(jb, 1);
}

static void expect_segv(const char* what, int code, const void* lo, const void* hi) {
    CHECK(got_sig == SIGSEGV, "%s raised %d, not SIGSEGV", what, (int)got_sig);
    CHECK(got_code == code, "%s: si_code %d, want %d", what, (int)got_code, code);
    CHECK((const char*)got_addr >= (const char*)lo && (const char*)got_addr < (const char*)hi,
          "%s: si_addr %p, want in [%p, %p)", what, got_addr, lo, hi);
}

/* A write that must fault: SEGV_ACCERR exactly at p. */
#define EXPECT_WRITE_FAULT(what, p, v)                       \
    do {                                                     \
        got_sig = 0;                                         \
        if (sigsetjmp(jb, 1) == 0) {                         \
            *(volatile char*)(p) = (v);                      \
            GP_FAIL("%s did not fault", what);               \
        }                                                    \
        expect_segv(what, SEGV_ACCERR, (p), (const char*)(p) + 1); \
    } while (0)

static pthread_barrier_t step2;   /* T and main */
static pthread_barrier_t step4;   /* T, D, U and main */
static char* volatile held;       /* check 3 */
static char* volatile race;       /* the munmap race's range */
static int passes[2];             /* T's and D's passes over the range */
static const char literal[] = "read-only data";
/* Pointers to relocate: .data.rel.ro, read-only after relocation (RELRO:
 * ld.so's mprotect, or static glibc's own). */
static const char* const relro[] = {literal, literal + 1};

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

/* T and D: write every page of the race range until it is unmapped. */
static void touch_until_unmapped(int who) {
    char* r = race;
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        for (unsigned v = 1;; ++v) {
            for (int i = 0; i < RACE_PAGES; ++i) ((volatile char*)r)[i * PAGE + 8 + who] = (char)v;
            __atomic_add_fetch(&passes[who], 1, __ATOMIC_SEQ_CST);
        }
    }
    expect_segv(who ? "D's write during munmap" : "T's write during munmap", SEGV_MAPERR, r, r + RACE_PAGES * PAGE);
}

/* Main or U: wait until T and D are both busy on the range, unmap it
 * (every node's layout follows before munmap returns), and map it again. */
static void unmap_while_touched(void) {
    while (__atomic_load_n(&passes[0], __ATOMIC_SEQ_CST) < 2 || __atomic_load_n(&passes[1], __ATOMIC_SEQ_CST) < 2)
        sched_yield();
    CHECK_SYS(munmap(race, RACE_PAGES * PAGE));
}

static void remap_race_range(void) {
    char* r = mmap(race, RACE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    CHECK(r == race, "mmap of the race range again: %p, %s", (void*)r, strerror(errno));
    for (int i = 0; i < RACE_PAGES * PAGE; ++i) CHECK(r[i] == 0, "race range mapped again holds %d at +%#x", r[i], i);
}

static void* worker_d(void* arg) {
    (void)arg;
    for (int round = 0; round < ROUNDS; ++round) {
        pthread_barrier_wait(&step4); /* the range is mapped */
        touch_until_unmapped(1);
        pthread_barrier_wait(&step4); /* both faulted */
        pthread_barrier_wait(&step4); /* mapped again, checked */
    }
    return NULL;
}

static void* worker_u(void* arg) {
    (void)arg;
    for (int round = 0; round < ROUNDS; ++round) {
        pthread_barrier_wait(&step4);
        if (round == 1) unmap_while_touched();
        pthread_barrier_wait(&step4);
        if (round == 1) remap_race_range();
        pthread_barrier_wait(&step4);
    }
    return NULL;
}

static void* worker_t(void* arg) {
    (void)arg;
    /* The handler runs on an alternate stack (check 5 exhausts the other). */
    stack_t ss = {.ss_sp = malloc(64 * 1024), .ss_size = 64 * 1024, .ss_flags = 0};
    CHECK(ss.ss_sp != NULL, "malloc");
    CHECK_SYS(sigaltstack(&ss, NULL));

    /* 1. Read-only pages. */
    char* ro = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(ro != MAP_FAILED, "mmap: %s", strerror(errno));
    ro[0] = 'a';
    CHECK_SYS(mprotect(ro, PAGE, PROT_READ));
    EXPECT_WRITE_FAULT("write to a page made PROT_READ", ro + 100, 'x');
    CHECK(ro[0] == 'a' && ro[100] == 0, "PROT_READ page reads %d %d", ro[0], ro[100]);
    ro[PAGE + 5] = 'b';
    CHECK(ro[PAGE + 5] == 'b', "the neighbour page lost a write");
    char* fresh = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(fresh != MAP_FAILED, "mmap: %s", strerror(errno));
    EXPECT_WRITE_FAULT("write to a fresh PROT_READ mapping", fresh + 7, 'x');
    CHECK(fresh[7] == 0, "fresh PROT_READ page reads %d", fresh[7]);
    EXPECT_WRITE_FAULT("write to a string literal", literal + 3, 'x');
    CHECK(literal[3] == 'd', "literal reads %d", literal[3]);
    EXPECT_WRITE_FAULT("write to the program's code", (const char*)(uintptr_t)&deep + 1, 'x');
    EXPECT_WRITE_FAULT("write to a RELRO pointer", (const char*)&relro[1], 'x');
    CHECK(relro[1] == literal + 1, "RELRO pointer changed");

    /* 2. As a system call's output: EFAULT, no signal. */
    int fds[2];
    CHECK_SYS(pipe(fds));
    CHECK_SYS(write(fds[1], "xyz", 3));
    errno = 0;
    CHECK(read(fds[0], ro, 3) == -1 && errno == EFAULT, "read into a PROT_READ page: errno %d", errno);
    errno = 0;
    CHECK(sched_getaffinity(0, 128, (cpu_set_t*)ro) == -1 && errno == EFAULT,
          "sched_getaffinity into a PROT_READ page: errno %d", errno);
    CHECK(ro[0] == 'a' && ro[1] == 0, "a failed call changed the PROT_READ page: %d %d", ro[0], ro[1]);
    close(fds[0]);
    close(fds[1]);
    /* ... and writable again. */
    CHECK_SYS(mprotect(ro, PAGE, PROT_READ | PROT_WRITE));
    ro[100] = 'd';
    CHECK(ro[100] == 'd' && ro[0] == 'a', "page made read/write again reads %d %d", ro[100], ro[0]);

    /* 3. A page this thread holds, made read-only by main. */
    held[7] = 'h';
    pthread_barrier_wait(&step2); /* main: PROT_READ */
    pthread_barrier_wait(&step2);
    EXPECT_WRITE_FAULT("write to a page main made PROT_READ", held + 9, 'x');
    CHECK(held[7] == 'h' && held[9] == 0, "page main made PROT_READ reads %d %d", held[7], held[9]);
    pthread_barrier_wait(&step2); /* main: read/write again */
    pthread_barrier_wait(&step2);
    held[9] = 'w';

    /* 4. No-execute. */
    const char* plat = getenv("SPANVM_PLATFORM");
    if (!plat || strcmp(plat, "kvm") != 0) {
        unsigned char* code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(code != MAP_FAILED, "mmap: %s", strerror(errno));
        code[0] = 0xb8, code[1] = 42, code[2] = code[3] = code[4] = 0; /* mov $42, %eax */
        code[5] = 0xc3;                                                /* ret */
        int (*fn)(void) = (int (*)(void))(uintptr_t)code;
        got_sig = 0;
        if (sigsetjmp(jb, 1) == 0) {
            int v = fn();
            GP_FAIL("a call into a read/write page returned %d", v);
        }
        expect_segv("call into a read/write page", SEGV_ACCERR, code, code + 1);
        CHECK_SYS(mprotect(code, PAGE, PROT_READ | PROT_EXEC));
        CHECK(fn() == 42, "code in a read+exec page did not run");
        munmap(code, PAGE);
    }

    /* 5. Past the end of this thread's stack, into glibc's guard page. */
    pthread_attr_t a;
    void* lo;
    size_t size, guard;
    CHECK_PT(pthread_getattr_np(pthread_self(), &a));
    CHECK_PT(pthread_attr_getstack(&a, &lo, &size));
    CHECK_PT(pthread_attr_getguardsize(&a, &guard));
    CHECK_PT(pthread_attr_destroy(&a));
    CHECK(guard >= PAGE, "thread stack guard of %zu bytes", guard);
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0) {
        (void)deep(0);
        GP_FAIL("recursion past the stack did not fault");
    }
    expect_segv("stack overflow into the guard page", SEGV_ACCERR, (char*)lo - guard, lo);
    ss.ss_flags = SS_DISABLE;
    CHECK_SYS(sigaltstack(&ss, NULL));

    /* The munmap race. */
    for (int round = 0; round < ROUNDS; ++round) {
        pthread_barrier_wait(&step4);
        touch_until_unmapped(0);
        pthread_barrier_wait(&step4);
        pthread_barrier_wait(&step4);
        /* Mapped again: zero here too, and writable. */
        for (int i = 0; i < RACE_PAGES * PAGE; i += 64)
            CHECK(race[i + 8] == 0 && race[i + 9] == 0, "race range mapped again reads %d %d at +%#x on T's node",
                  race[i + 8], race[i + 9], i);
    }
    munmap(ro, 2 * PAGE);
    munmap(fresh, PAGE);
    return NULL;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
    held = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(held != MAP_FAILED, "mmap: %s", strerror(errno));
    race = mmap(NULL, RACE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(race != MAP_FAILED, "mmap: %s", strerror(errno));
    CHECK_PT(pthread_barrier_init(&step2, NULL, 2));
    CHECK_PT(pthread_barrier_init(&step4, NULL, 4));
    /* Round-robin over 2 hosts: T on node 1, D on node 0, U on node 1. A
     * 256 KiB stack for T, so check 5 ends soon. */
    pthread_attr_t ta;
    CHECK_PT(pthread_attr_init(&ta));
    CHECK_PT(pthread_attr_setstacksize(&ta, 256 * 1024));
    pthread_t t, d, u;
    CHECK_PT(pthread_create(&t, &ta, worker_t, NULL));
    CHECK_PT(pthread_create(&d, NULL, worker_d, NULL));
    CHECK_PT(pthread_create(&u, NULL, worker_u, NULL));
    pthread_attr_destroy(&ta);

    pthread_barrier_wait(&step2);
    CHECK_SYS(mprotect(held, PAGE, PROT_READ));
    pthread_barrier_wait(&step2);
    pthread_barrier_wait(&step2);
    CHECK_SYS(mprotect(held, PAGE, PROT_READ | PROT_WRITE));
    pthread_barrier_wait(&step2);

    for (int round = 0; round < ROUNDS; ++round) {
        passes[0] = passes[1] = 0;
        pthread_barrier_wait(&step4); /* T and D start writing */
        if (round == 0) unmap_while_touched();
        pthread_barrier_wait(&step4); /* T and D faulted */
        if (round == 0) remap_race_range();
        pthread_barrier_wait(&step4); /* T checks it reads zero */
    }
    CHECK_PT(pthread_join(t, NULL));
    CHECK_PT(pthread_join(d, NULL));
    CHECK_PT(pthread_join(u, NULL));
    CHECK(held[7] == 'h' && held[9] == 'w', "T's writes around PROT_READ lost: %d %d", held[7], held[9]);
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
    printf("layout_protect: ok\n");
    return 0;
}
