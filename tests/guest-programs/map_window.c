/* map_window: many anonymous private mappings of mixed sizes, as a
 * compiler's garbage collector and malloc's large blocks make them, with
 * every way the rest of the process can look at them in between. Placed on
 * a node, most of these mmap calls are answered there, inside the mapping
 * window the origin grants (docs/dsm-protocol.md F9); this checks that
 * nothing can tell:
 *  - each mapping reads as zeros, lies apart from every other, and keeps
 *    what was written; the next one goes below it, as Linux places them;
 *  - a call the origin runs reads and writes a mapping (a pipe);
 *  - /proc/self/maps lists every mapping with its protection;
 *  - munmap, mprotect and madvise(MADV_DONTNEED), which the origin runs in
 *    its own address space (ENOMEM or EINVAL where it maps nothing), work on
 *    them: a page made read-only faults when written, a page given back
 *    faults when touched, then reads as zeros once mapped again there;
 *  - a mapping larger than a window, a PROT_NONE reservation opened later,
 *    and a hint all work;
 *  - a fork's child sees every byte written.
 * Prints "map_window: ok" (only at the end). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

#define MAPS 96
#define PAGE 4096u

static sigjmp_buf jump;
static void on_segv(int sig) {
    (void)sig;
    siglongjmp(jump, 1);
}

static size_t size_of(int i) {
    static const size_t sizes[] = {8192, 16384, 4096 * 3 + 17, 32768, 2u << 20, 262144, 233472, 5000};
    return sizes[i % 8];
}
static unsigned char pattern(int i, size_t k) { return (unsigned char)(i * 31 + k * 7 + k / 4096); }

/* Whether /proc/self/maps lists [a, a + len) (page-rounded) inside one line
 * with protection `perm` ("rw-p", ...). */
static int listed(const void* a, size_t len, const char* perm) {
    FILE* f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL, "/proc/self/maps: %s", strerror(errno));
    char line[512];
    int found = 0;
    const uintptr_t lo = (uintptr_t)a, hi = lo + ((len + PAGE - 1) & ~(size_t)(PAGE - 1));
    while (!found && fgets(line, sizeof line, f)) {
        uintptr_t s = 0, e = 0;
        char p[5] = {0};
        if (sscanf(line, "%lx-%lx %4s", &s, &e, p) == 3 && s <= lo && hi <= e && strcmp(p, perm) == 0) found = 1;
    }
    fclose(f);
    return found;
}

int main(void) {
    static unsigned char* maps[MAPS];
    struct sigaction sa = {0};
    sa.sa_handler = on_segv;
    CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
    /* Map, check zeros and disjointness, fill. */
    for (int i = 0; i < MAPS; ++i) {
        const size_t len = size_of(i);
        unsigned char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(p != MAP_FAILED, "mapping %d (%zu bytes): %s", i, len, strerror(errno));
        CHECK(((uintptr_t)p & (PAGE - 1)) == 0, "mapping %d at %p is not page-aligned", i, (void*)p);
        for (int j = 0; j < i; ++j) {
            const uintptr_t a = (uintptr_t)maps[j], b = (uintptr_t)p;
            if (a < b + len && b < a + size_of(j))
                GP_FAIL("mapping %d at %p overlaps mapping %d at %p", i, (void*)p, j, (void*)a);
        }
        for (size_t k = 0; k < len; k += 509)
            if (p[k]) GP_FAIL("mapping %d: fresh byte %zu is %#x", i, k, p[k]);
        for (size_t k = 0; k < len; ++k) p[k] = pattern(i, k);
        maps[i] = p;
    }
    /* A call the origin runs reads and writes a mapping. */
    int fds[2];
    CHECK_SYS(pipe(fds));
    CHECK(write(fds[1], maps[3], 4096) == 4096, "write from a mapping: %s", strerror(errno));
    unsigned char* into = maps[11] + 100;
    CHECK(read(fds[0], into, 4096) == 4096, "read into a mapping: %s", strerror(errno));
    for (size_t k = 0; k < 4096; ++k)
        if (into[k] != pattern(3, k)) GP_FAIL("piped byte %zu differs", k);
    for (size_t k = 0; k < 4096; ++k) into[k] = pattern(11, 100 + k); /* restore */
    /* The origin's address space holds each of them. */
    for (int i = 0; i < MAPS; ++i)
        if (!listed(maps[i], size_of(i), "rw-p"))
            GP_FAIL("mapping %d at %p is not in /proc/self/maps", i, (void*)maps[i]);
    /* mprotect: read-only faults when written, then writable again. */
    CHECK_SYS(mprotect(maps[5], 4096, PROT_READ));
    CHECK(listed(maps[5], 4096, "r--p"), "mprotect(PROT_READ) is not in /proc/self/maps");
    if (sigsetjmp(jump, 1) == 0) {
        *(volatile unsigned char*)maps[5] = 1;
        GP_FAIL("writing %p, made read-only, did not fault", (void*)maps[5]);
    }
    CHECK_SYS(mprotect(maps[5], 4096, PROT_READ | PROT_WRITE));
    /* MADV_DONTNEED zeroes a page. */
    unsigned char* mid = maps[4] + 64 * 4096;
    CHECK_SYS(madvise(mid, 4096, MADV_DONTNEED));
    for (size_t k = 0; k < 4096; ++k)
        if (mid[k]) GP_FAIL("byte %zu of a page given MADV_DONTNEED is %#x", k, mid[k]);
    for (size_t k = 0; k < 4096; ++k) mid[k] = pattern(4, 64 * 4096 + k);
    /* munmap: the page faults; mapped there again (a hint, MAP_FIXED), zeros. */
    unsigned char* gone = maps[9];
    CHECK_SYS(munmap(gone, size_of(9)));
    if (sigsetjmp(jump, 1) == 0) {
        (void)*(volatile unsigned char*)gone;
        GP_FAIL("reading %p after munmap did not fault", (void*)gone);
    }
    unsigned char* again =
        mmap(gone, size_of(9), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(again == gone, "MAP_FIXED over an unmapped range: %p (%s)", (void*)again, strerror(errno));
    for (size_t k = 0; k < size_of(9); k += 97)
        if (again[k]) GP_FAIL("byte %zu mapped again is %#x", k, again[k]);
    for (size_t k = 0; k < size_of(9); ++k) again[k] = pattern(9, k);
    void* hinted = mmap((void*)0x10000000, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(hinted != MAP_FAILED, "mmap with a hint: %s", strerror(errno));
    CHECK(listed(hinted, 8192, "rw-p"), "the hinted mapping is not in /proc/self/maps");
    /* More than a window at once (the origin places it), and a PROT_NONE
     * reservation opened afterwards (as malloc's arenas are). */
    const size_t big = 20u << 20;
    unsigned char* b = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(b != MAP_FAILED, "a %zu-byte mapping: %s", big, strerror(errno));
    b[0] = 1, b[big - 1] = 2;
    unsigned char* r = mmap(NULL, 1u << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(r != MAP_FAILED, "a PROT_NONE reservation: %s", strerror(errno));
    CHECK(listed(r, 1u << 20, "---p"), "the reservation is not in /proc/self/maps");
    if (sigsetjmp(jump, 1) == 0) {
        (void)*(volatile unsigned char*)r;
        GP_FAIL("reading the PROT_NONE reservation at %p did not fault", (void*)r);
    }
    CHECK_SYS(mprotect(r, 65536, PROT_READ | PROT_WRITE));
    for (size_t k = 0; k < 65536; k += 1024)
        if (r[k]) GP_FAIL("opened reservation byte %zu is %#x", k, r[k]);
    r[0] = 7;
    sa.sa_handler = SIG_DFL;
    CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
    /* A fork's child sees every byte. */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        for (int i = 0; i < MAPS; ++i)
            for (size_t k = 0; k < size_of(i); k += 97)
                if (maps[i][k] != pattern(i, k)) _exit(3);
        _exit(b[0] == 1 && b[big - 1] == 2 && r[0] == 7 ? 0 : 4);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the fork's child saw other bytes (status %#x)", st);
    for (int i = 0; i < MAPS; ++i)
        for (size_t k = 0; k < size_of(i); k += 89)
            if (maps[i][k] != pattern(i, k)) GP_FAIL("mapping %d: byte %zu changed", i, k);
    printf("map_window: ok\n");
    return 0;
}
