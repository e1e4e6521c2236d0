/* heap_window: a program break grown in many small steps, as glibc's malloc
 * grows its main arena, with every way the rest of the process can look at
 * the heap in between. Placed on a node, most of these brk calls are
 * answered there, inside the heap window the origin grants
 * (docs/dsm-protocol.md F8); this checks that nothing can tell:
 *  - each growth reads as zeros and keeps what was written (sbrk(0) agrees);
 *  - a call the origin runs reads and writes the grown heap (a pipe);
 *  - mprotect and madvise(MADV_DONTNEED), which the origin runs in its
 *    own address space (ENOMEM where it maps nothing), work on it;
 *  - a fork's child sees every byte written there;
 *  - a page past the break faults (SIGSEGV), even inside the window;
 *  - a mapping put just above the break stops the break there (ENOMEM);
 *  - a shrink gives the pages back: grown again, they read as zeros.
 * Prints "heap_window: ok" (only at the end: stdio's buffer is on the heap). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

#define STEP (40 * 1024 + 123) /* unaligned, so the break is too */
#define STEPS 160              /* ~6.4 MiB: more than one window */

static sigjmp_buf jump;
static void on_segv(int sig) {
    (void)sig;
    siglongjmp(jump, 1);
}

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + i / 4096); }

int main(void) {
    unsigned char* base = sbrk(0);
    CHECK(base != (void*)-1, "sbrk(0): %s", strerror(errno));
    /* Grow in steps; each step's bytes read as zero, then get the pattern. */
    for (int s = 0; s < STEPS; ++s) {
        unsigned char* p = sbrk(STEP);
        CHECK(p != (void*)-1, "step %d: sbrk(+%d): %s", s, STEP, strerror(errno));
        CHECK(p == base + (size_t)s * STEP, "step %d: sbrk returned %p, expected %p", s, (void*)p,
              (void*)(base + (size_t)s * STEP));
        CHECK((unsigned char*)sbrk(0) == p + STEP, "step %d: sbrk(0) is %p, expected %p", s, sbrk(0),
              (void*)(p + STEP));
        for (size_t k = 0; k < STEP; k += 512)
            if (p[k] && (size_t)(p + k - base) >= (size_t)s * STEP)
                GP_FAIL("step %d: fresh heap byte %zu is %#x", s, k, p[k]);
        for (size_t k = 0; k < STEP; ++k) p[k] = pattern((size_t)s * STEP + k);
    }
    const size_t len = (size_t)STEPS * STEP;
    unsigned char* end = base + len;
    /* A call the origin runs reads and writes the grown heap. */
    int fds[2];
    CHECK_SYS(pipe(fds));
    CHECK(write(fds[1], end - 4096, 4096) == 4096, "write from the heap: %s", strerror(errno));
    unsigned char* back = end - 3 * 4096;
    CHECK(read(fds[0], back - 100, 4096) == 4096, "read into the heap: %s", strerror(errno));
    for (size_t k = 0; k < 4096; ++k)
        if (back[k - 100] != pattern(len - 4096 + k)) GP_FAIL("piped byte %zu differs", k);
    for (size_t k = 0; k < 4096; ++k) back[k - 100] = pattern((size_t)(back - 100 - base) + k); /* restore */
    /* The origin's address space holds the grown heap: mprotect makes its
     * last page read-only (a write faults), MADV_DONTNEED zeroes a page. */
    const uintptr_t want = ((uintptr_t)end + 4095) & ~(uintptr_t)4095;
    unsigned char* last = (unsigned char*)want - 4096;
    struct sigaction sa = {0};
    sa.sa_handler = on_segv;
    CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
    CHECK_SYS(mprotect(last, 4096, PROT_READ));
    if (sigsetjmp(jump, 1) == 0) {
        *(volatile unsigned char*)last = 1;
        GP_FAIL("writing %p, made read-only, did not fault", (void*)last);
    }
    CHECK_SYS(mprotect(last, 4096, PROT_READ | PROT_WRITE));
    unsigned char* mid = (unsigned char*)(((uintptr_t)base + len / 2) & ~(uintptr_t)4095);
    CHECK_SYS(madvise(mid, 4096, MADV_DONTNEED));
    for (size_t k = 0; k < 4096; ++k)
        if (mid[k]) GP_FAIL("byte %zu of a heap page given MADV_DONTNEED is %#x", k, mid[k]);
    for (size_t k = 0; k < 4096; ++k) mid[k] = pattern((size_t)(mid - base) + k);
    /* A fork's child sees every byte. */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        for (size_t i = 0; i < len; i += 97)
            if (base[i] != pattern(i)) _exit(3);
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the fork's child saw other heap bytes (status %#x)", st);
    /* A page past the break faults, though the window reaches beyond it. */
    volatile unsigned char* past = (unsigned char*)want + 4096;
    if (sigsetjmp(jump, 1) == 0) {
        (void)*past;
        GP_FAIL("reading %p, a page past the break, did not fault", (void*)past);
    }
    sa.sa_handler = SIG_DFL;
    CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
    /* A mapping just above the break's page stops the break there. */
    void* m = mmap((void*)(want + 8 * 4096), 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(m == (void*)(want + 8 * 4096), "mmap above the break: %p (%s)", m, strerror(errno));
    CHECK(sbrk(4 * 4096) != (void*)-1, "growing below the mapping: %s", strerror(errno));
    CHECK(sbrk(8 * 4096) == (void*)-1 && errno == ENOMEM, "growing into the mapping succeeded");
    CHECK_SYS(munmap(m, 4096));
    /* Give half back; grown again, it reads as zeros. */
    unsigned char* top = sbrk(0);
    const intptr_t half = (intptr_t)(top - base) / 2;
    CHECK(sbrk(-half) != (void*)-1, "shrinking by %ld: %s", (long)half, strerror(errno));
    unsigned char* again = sbrk(half);
    CHECK(again != (void*)-1, "growing again: %s", strerror(errno));
    const unsigned char* page = (unsigned char*)(((uintptr_t)again + 4095) & ~(uintptr_t)4095);
    for (const unsigned char* q = page; q < again + half; q += 509)
        if (*q) GP_FAIL("heap byte %p given back and grown again is %#x", (const void*)q, *q);
    for (size_t i = 0; i < (size_t)(page - base); i += 101)
        if (base[i] != pattern(i)) GP_FAIL("heap byte %zu below the shrink changed", i);
    printf("heap_window: ok\n");
    return 0;
}
