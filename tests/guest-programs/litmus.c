/* Sequential-consistency litmus tests between two threads (on two hosts
 * when run across a cluster, where every access below is a page moving
 * between them):
 *  - store buffering with mfence: x = 1; mfence; r1 = y  ||  y = 1; mfence;
 *    r2 = x. r1 == 0 && r2 == 0 is forbidden;
 *  - message passing: data = i; flag = i  ||  wait for flag == i; r = data.
 *    r != i is forbidden (x86 keeps stores in order; the DSM must too).
 * Each round starts at a spin barrier. Every shared word has its own page. */
#include <pthread.h>
#include <stdatomic.h>

#include "gp_check.h"

#define PAGE_ALIGNED __attribute__((aligned(4096)))
static volatile int x PAGE_ALIGNED, y PAGE_ALIGNED;
static volatile unsigned data PAGE_ALIGNED, flag PAGE_ALIGNED;
static atomic_uint arrive PAGE_ALIGNED;
static int r1[2], r2[2];
static unsigned rounds;

static void barrier(unsigned* gen) {
    unsigned target = (++*gen) * 2;
    atomic_fetch_add(&arrive, 1);
    while (atomic_load(&arrive) < target) __builtin_ia32_pause();
}

static void* side(void* arg) {
    const int me = (int)(uintptr_t)arg;
    unsigned gen = 0;
    int sb_violations = 0, mp_violations = 0;
    for (unsigned i = 1; i <= rounds; ++i) {
        barrier(&gen);
        if (me == 0) {
            x = 1;
            __asm__ volatile("mfence" ::: "memory");
            r1[0] = y;
        } else {
            y = 1;
            __asm__ volatile("mfence" ::: "memory");
            r2[0] = x;
        }
        barrier(&gen);
        if (me == 0) {
            if (r1[0] == 0 && r2[0] == 0) sb_violations++;
            x = 0;
            y = 0;
        }
        barrier(&gen);
        if (me == 0) {
            data = i;
            __asm__ volatile("" ::: "memory");
            flag = i;
        } else {
            while (flag != i) __builtin_ia32_pause();
            if (data != i) mp_violations++;
        }
    }
    return (void*)(uintptr_t)(sb_violations * 65536 + mp_violations);
}

int main(void) {
    rounds = gp_scaled(20000);
    pthread_t t[2];
    for (int i = 0; i < 2; ++i) CHECK_PT(pthread_create(&t[i], NULL, side, (void*)(uintptr_t)i));
    unsigned sb = 0, mp = 0;
    for (int i = 0; i < 2; ++i) {
        void* r;
        CHECK_PT(pthread_join(t[i], &r));
        sb += (unsigned)((uintptr_t)r >> 16);
        mp += (unsigned)((uintptr_t)r & 0xffff);
    }
    CHECK(sb == 0, "store buffering: %u of %u rounds saw r1 == r2 == 0", sb, rounds);
    CHECK(mp == 0, "message passing: %u of %u rounds read stale data", mp, rounds);
    printf("litmus: ok\n");
    fprintf(stderr, "litmus: %u rounds, 0 violations\n", rounds);
    return 0;
}
