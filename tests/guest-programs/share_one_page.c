/* Four workers write one page for a while: each its own counter in it
 * (false sharing, plain stores) and, every 64 steps, one shared atomic
 * counter (lock xadd). Checks that no increment is lost. Under
 * `spanvm run --local-hosts 2` with `--place auto` the workers must end up
 * on one node (tests/integration/cluster_placement.sh checks --json).
 * SHARE_SECONDS sets how long they run (default 1). */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "gp_check.h"

#define NWORKERS 4

static struct {
    volatile long slot[NWORKERS];
    long shared;
} page __attribute__((aligned(4096)));

static long done_steps[NWORKERS];
static double seconds = 1.0;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void* worker(void* arg) {
    const long i = (long)arg;
    const double end = now() + seconds;
    long steps = 0;
    while (steps % 4096 != 0 || now() < end) {
        page.slot[i] = page.slot[i] + 1;
        if (++steps % 64 == 0) __atomic_fetch_add(&page.shared, 1, __ATOMIC_SEQ_CST);
    }
    done_steps[i] = steps;
    return NULL;
}

int main(void) {
    const char* s = getenv("SHARE_SECONDS");
    if (s) seconds = atof(s);
    pthread_t t[NWORKERS];
    for (long i = 0; i < NWORKERS; ++i) CHECK_PT(pthread_create(&t[i], NULL, worker, (void*)i));
    long total = 0;
    for (long i = 0; i < NWORKERS; ++i) {
        CHECK_PT(pthread_join(t[i], NULL));
        CHECK(page.slot[i] == done_steps[i], "worker %ld: slot %ld, steps %ld", i, page.slot[i], done_steps[i]);
        total += done_steps[i] / 64;
    }
    CHECK(page.shared == total, "shared counter %ld, want %ld", page.shared, total);
    fprintf(stderr, "share_one_page: %ld steps\n", total * 64);
    printf("share_one_page: ok\n");
    return 0;
}
