/* heap_cycles: memory a program gives back and takes again, as malloc does
 * (a trimmed brk heap that grows again, a large block mmapped and
 * munmapped), reads as zeros each time it comes back, after the program
 * wrote it. With an argument N, N rounds (default 4); each round maps 128
 * pages with mmap and grows the brk heap by 128 pages, checks both read as
 * zero, writes them, and gives both back. Placed on a node, the
 * integration test (cluster_heap_cycles.sh) counts the pages that node
 * fetched: a discard of pages only their home (the node) holds is done
 * there, so the rounds move no page (docs/dsm-protocol.md "Discards").
 * Prints "heap_cycles: ok" (nothing else: stdio's buffer is malloc'ed on
 * the brk heap, so it is used only after the last round). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gp_check.h"

#define PAGES 128
#define LEN ((size_t)PAGES * 4096)

static void expect_zero(const unsigned char* p, const char* what, int round) {
    for (size_t k = 0; k < LEN; k += 256)
        if (p[k] != 0) GP_FAIL("round %d: byte %zu of the %s is %#x, expected 0", round, k, what, p[k]);
}

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 4;
    CHECK(rounds > 0, "rounds: %s", argv[1]);
    /* The break on a page boundary: a shrinking brk keeps the page that
     * holds the break, and what was written past the break there stays. */
    const uintptr_t brk0 = (uintptr_t)sbrk(0);
    CHECK(sbrk((intptr_t)((4096 - brk0 % 4096) % 4096)) != (void*)-1, "sbrk: %s", strerror(errno));
    for (int round = 0; round < rounds; ++round) {
        unsigned char* m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(m != MAP_FAILED, "mmap: %s", strerror(errno));
        expect_zero(m, "mapping", round);
        memset(m, 0x40 + round % 64, LEN);
        CHECK_SYS(munmap(m, LEN));

        unsigned char* b = sbrk((intptr_t)LEN);
        CHECK(b != (void*)-1, "sbrk(+%zu): %s", LEN, strerror(errno));
        expect_zero(b, "brk heap", round);
        memset(b, 0x80 + round % 64, LEN);
        CHECK(sbrk(-(intptr_t)LEN) != (void*)-1, "sbrk(-%zu): %s", LEN, strerror(errno));
    }
    printf("heap_cycles: ok\n");
    return 0;
}
