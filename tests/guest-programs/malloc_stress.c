/* malloc/free/realloc from many threads at once. Sizes range from a few bytes
 * to several MiB so glibc uses its arenas, brk, mmap and mremap (realloc of
 * mmapped chunks). Every block carries a pattern derived from its identity and
 * is verified before each realloc/free; some blocks are freed by a thread
 * other than the one that allocated them. */
#include <pthread.h>

#include "gp_check.h"

enum { THREADS = 8, SLOTS = 48, OPS_FULL = 3000 };
#define OPS ((int)gp_scaled(OPS_FULL))

struct Block {
    unsigned char* p;
    size_t size;
    uint32_t tag;
};

/* Leftover blocks handed from each thread to main for cross-thread free. */
static struct Block leftovers[THREADS][SLOTS];

static size_t pick_size(uint64_t* rng) {
    static const size_t big[] = {100 * 1024, 129 * 1024, 200 * 1024, 1 << 20, 3 << 20};
    uint64_t r = gp_rand(rng);
    switch (r % 8) {
    case 0: return big[(r >> 8) % (sizeof big / sizeof big[0])] + (r >> 20) % 4096;
    case 1: case 2: return 1 + (r >> 8) % 65536;
    default: return 1 + (r >> 8) % 512;
    }
}

static unsigned char pattern(uint32_t tag, size_t i) { return (unsigned char)(tag * 131u + i * 7u + (i >> 9)); }

/* Verifying every byte of multi-MiB blocks thousands of times would dominate
 * the run time; check a strided sample plus both ends. */
static void fill(struct Block* b) {
    for (size_t i = 0; i < b->size; ++i) b->p[i] = pattern(b->tag, i);
}

static void verify(const struct Block* b, size_t upto, const char* when) {
    size_t stride = upto > 65536 ? 61 : 1;
    for (size_t i = 0; i < upto; i += stride)
        CHECK(b->p[i] == pattern(b->tag, i), "%s: block tag %u size %zu byte %zu corrupt", when, b->tag, b->size, i);
    if (upto) CHECK(b->p[upto - 1] == pattern(b->tag, upto - 1), "%s: last byte corrupt", when);
}

static void* body(void* arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t rng = 0xC0FFEEull * (id + 1);
    struct Block slot[SLOTS];
    memset(slot, 0, sizeof slot);
    uint32_t next_tag = id << 24;
    for (int op = 0; op < OPS; ++op) {
        struct Block* b = &slot[gp_rand(&rng) % SLOTS];
        uint64_t what = gp_rand(&rng) % 4;
        if (!b->p) {
            b->size = pick_size(&rng);
            b->tag = next_tag++;
            b->p = malloc(b->size);
            CHECK(b->p, "malloc(%zu) failed", b->size);
            fill(b);
        } else if (what == 0) {
            verify(b, b->size, "before free");
            free(b->p);
            b->p = NULL;
        } else {
            /* realloc keeps the common prefix; refill the rest with the pattern. */
            size_t new_size = what == 1 ? b->size * 2 + 1 : pick_size(&rng);
            if (new_size > (8u << 20)) new_size = 1 + b->size / 3;
            verify(b, b->size, "before realloc");
            unsigned char* np = realloc(b->p, new_size);
            CHECK(np, "realloc(%zu) failed", new_size);
            size_t keep = new_size < b->size ? new_size : b->size;
            b->p = np;
            b->size = new_size;
            verify(b, keep, "after realloc");
            for (size_t i = keep; i < b->size; ++i) b->p[i] = pattern(b->tag, i);
        }
    }
    /* calloc must return zeroed memory, also for an mmapped size. */
    for (size_t n = 16; n <= (2u << 20); n *= 8) {
        unsigned char* z = calloc(n, 1);
        CHECK(z, "calloc(%zu) failed", n);
        for (size_t i = 0; i < n; i += 1 + i / 64) CHECK(z[i] == 0, "calloc(%zu) byte %zu = %u", n, i, z[i]);
        memset(z, 0xFF, n);
        free(z);
    }
    memcpy(leftovers[id], slot, sizeof slot);
    return NULL;
}

int main(void) {
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; ++i) CHECK_PT(pthread_create(&t[i], NULL, body, (void*)(uintptr_t)i));
    for (unsigned i = 0; i < THREADS; ++i) CHECK_PT(pthread_join(t[i], NULL));
    size_t freed = 0;
    for (unsigned i = 0; i < THREADS; ++i)
        for (unsigned s = 0; s < SLOTS; ++s)
            if (leftovers[i][s].p) {
                verify(&leftovers[i][s], leftovers[i][s].size, "cross-thread free");
                free(leftovers[i][s].p);
                ++freed;
            }
    CHECK(freed > 0, "no blocks left over to free cross-thread");
    gp_ok("malloc_stress");
    return 0;
}
