/* Vector registers survive a migration that interrupts guest code between
 * a load and a store (`spanvm run --local-hosts 2` with
 * SPANVM_MIGRATE_CYCLE=1, which moves every thread each placement window;
 * cluster_placement.sh).
 *
 * A move asked for while a thread runs guest code kicks it out of the guest
 * wherever it is, so it must carry the FPU/AVX image as it was at that
 * instruction. Four workers copy buffers the way a vector memcpy does (load
 * ymm0-3, or xmm0-3 without AVX, then store them), with a short spin between
 * the loads and the stores so that most kicks land while the registers hold
 * data, and no system call at all, so every move is from such a kick; after
 * each copy the destination must equal the source (pigz's deflate window
 * once showed 32-128 zero bytes where a moved thread's copy lost them).
 * Round-robin placement puts workers 0 and 2 on node 1 and 1 and 3 at the
 * origin; the odd ones first sleep (a thread in a system call is not moved
 * until it returns), so the origin's first FPU operation is most likely
 * loading the image of a worker that arrives mid-copy (on KVM that load
 * once went through KVM_SET_FPU and lost xmm0-15).
 * MIGRATE_SECONDS sets how long they run (default 1). On one host it checks
 * the same without moves. */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "gp_check.h"

#define WORKERS 4
#define BYTES (64 * 1024)

static double seconds = 1.0;
static int have_avx;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 128 bytes per step through ymm0-3, `spin` iterations between load and store. */
__attribute__((target("avx"))) static void copy_avx(unsigned char* dst, const unsigned char* src, long n, long spin) {
    for (long i = 0; i < n; i += 128) {
        long t;
        __asm__ volatile(
            "vmovdqu 0(%[s]), %%ymm0\n\tvmovdqu 32(%[s]), %%ymm1\n\t"
            "vmovdqu 64(%[s]), %%ymm2\n\tvmovdqu 96(%[s]), %%ymm3\n\t"
            "mov %[spin], %[t]\n\t1:\n\tdec %[t]\n\tjnz 1b\n\t"
            "vmovdqu %%ymm0, 0(%[d])\n\tvmovdqu %%ymm1, 32(%[d])\n\t"
            "vmovdqu %%ymm2, 64(%[d])\n\tvmovdqu %%ymm3, 96(%[d])\n\t"
            : [t] "=&r"(t)
            : [s] "r"(src + i), [d] "r"(dst + i), [spin] "r"(spin)
            : "memory", "xmm0", "xmm1", "xmm2", "xmm3");
    }
}

/* The same with xmm0-3 (SSE2, every x86-64), 64 bytes per step. */
static void copy_sse(unsigned char* dst, const unsigned char* src, long n, long spin) {
    for (long i = 0; i < n; i += 64) {
        long t;
        __asm__ volatile(
            "movdqu 0(%[s]), %%xmm0\n\tmovdqu 16(%[s]), %%xmm1\n\t"
            "movdqu 32(%[s]), %%xmm2\n\tmovdqu 48(%[s]), %%xmm3\n\t"
            "mov %[spin], %[t]\n\t1:\n\tdec %[t]\n\tjnz 1b\n\t"
            "movdqu %%xmm0, 0(%[d])\n\tmovdqu %%xmm1, 16(%[d])\n\t"
            "movdqu %%xmm2, 32(%[d])\n\tmovdqu %%xmm3, 48(%[d])\n\t"
            : [t] "=&r"(t)
            : [s] "r"(src + i), [d] "r"(dst + i), [spin] "r"(spin)
            : "memory", "xmm0", "xmm1", "xmm2", "xmm3");
    }
}

static void* worker(void* arg) {
    const long id = (long)arg;
    unsigned char* src = malloc(BYTES);
    unsigned char* dst = malloc(BYTES);
    CHECK(src && dst, "malloc");
    uint64_t rng = 0x51ed2701f3a5c9b7ull * (uint64_t)(id + 1);
    if (id % 2) {
        const struct timespec ts = {0, 600 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    const double end = now() + seconds;
    long n = 0;
    do {
        for (long i = 0; i < BYTES; i += 8) {
            const uint64_t v = gp_rand(&rng) | 0x0101010101010101ull; /* no zero byte */
            memcpy(src + i, &v, 8);
        }
        memset(dst, 0, BYTES);
        if (have_avx)
            copy_avx(dst, src, BYTES, 2000);
        else
            copy_sse(dst, src, BYTES, 2000);
        for (long i = 0; i < BYTES; ++i)
            CHECK(dst[i] == src[i], "worker %ld copy %ld: byte %ld (%smm%ld byte %ld) is %#x, want %#x", id, n, i,
                  have_avx ? "y" : "x", (i % (have_avx ? 128 : 64)) / (have_avx ? 32 : 16), i % (have_avx ? 32 : 16),
                  dst[i], src[i]);
        ++n;
    } while (now() < end);
    free(src);
    free(dst);
    return (void*)n;
}

int main(void) {
    const char* s = getenv("MIGRATE_SECONDS");
    if (s) seconds = atof(s);
    __builtin_cpu_init();
    have_avx = __builtin_cpu_supports("avx");
    pthread_t w[WORKERS];
    for (long i = 0; i < WORKERS; ++i) CHECK_PT(pthread_create(&w[i], NULL, worker, (void*)i));
    long copies = 0;
    for (int i = 0; i < WORKERS; ++i) {
        void* r;
        CHECK_PT(pthread_join(w[i], &r));
        copies += (long)r;
    }
    fprintf(stderr, "migrate_vector_copy: %ld checked copies of %d bytes through %s\n", copies, BYTES,
            have_avx ? "ymm" : "xmm");
    printf("migrate_vector_copy: ok\n");
    return 0;
}
