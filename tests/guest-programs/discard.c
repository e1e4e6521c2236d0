/* discard: memory given back with munmap or MADV_DONTNEED reads as zeros
 * afterwards, wherever the thread that reads it runs, and whatever thread
 * (or node) wrote it before. Each step runs on a fresh thread, so across
 * hosts the steps alternate between nodes (round-robin placement); the main
 * thread checks at the origin too. Also: a large mapping nobody touched is
 * unmapped, and a mapping re-created at the same address is zero. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>

#include "gp_check.h"

#define PAGES 32
#define LEN ((size_t)PAGES * 4096)

static unsigned char* region;

static void* fill(void* arg) {
    memset(region, (int)(uintptr_t)arg, LEN);
    return NULL;
}

static void* expect(void* arg) {
    const int v = (int)(uintptr_t)arg;
    for (size_t k = 0; k < LEN; k += 512)
        if (region[k] != v) GP_FAIL("byte %zu of the region is %#x, expected %#x", k, region[k], v);
    return NULL;
}

static void on_thread(void* (*fn)(void*), int v) {
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, fn, (void*)(uintptr_t)v));
    CHECK_PT(pthread_join(t, NULL));
}

int main(void) {
    region = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(region != MAP_FAILED, "mmap: %s", strerror(errno));
    for (int round = 0; round < 4; ++round) {
        const int a = 0xa0 + round, b = 0x50 + round;
        on_thread(fill, a);
        on_thread(expect, a);
        expect((void*)(uintptr_t)a);
        CHECK_SYS(madvise(region, LEN, MADV_DONTNEED));
        expect((void*)0);
        on_thread(expect, 0);
        on_thread(fill, b);
        CHECK_SYS(munmap(region, LEN));
        void* again = mmap(region, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        CHECK(again == region, "mmap MAP_FIXED at %p: %s", (void*)region, strerror(errno));
        on_thread(expect, 0);
        expect((void*)0);
    }
    /* 64 MiB never touched, then one page of it written remotely. */
    const size_t big = (size_t)64 << 20;
    unsigned char* m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap 64 MiB: %s", strerror(errno));
    CHECK_SYS(munmap(m, big));
    CHECK_SYS(munmap(region, LEN));
    region = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(region != MAP_FAILED, "mmap: %s", strerror(errno));
    on_thread(fill, 0x77);
    CHECK_SYS(munmap(region, LEN));
    CHECK(mmap(region, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == region,
          "mmap MAP_FIXED: %s", strerror(errno));
    on_thread(expect, 0);
    expect((void*)0);
    gp_ok("discard");
    return 0;
}
