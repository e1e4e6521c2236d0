/* Four workers that share nothing: each hashes its own buffer for a while
 * and stores one result at the end. Under `spanvm run --local-hosts 2` with
 * `--place auto` they must stay spread over the nodes, with no migration
 * (tests/integration/cluster_placement.sh checks --json). INDEP_SECONDS
 * sets how long they run (default 1). */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "gp_check.h"

#define NWORKERS 4
#define BUF (64 * 1024)

static unsigned long result[NWORKERS];
static unsigned long expect[NWORKERS];
static double seconds = 1.0;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long hash_round(unsigned char* buf, unsigned long h) {
    for (int k = 0; k < BUF; ++k) {
        h = (h ^ buf[k]) * 0x100000001b3ul;
        buf[k] = (unsigned char)(h >> 29);
    }
    return h;
}

static void* worker(void* arg) {
    const long i = (long)arg;
    unsigned char* buf = malloc(BUF);
    CHECK(buf != NULL, "malloc");
    memset(buf, (int)i, BUF);
    const double end = now() + seconds;
    unsigned long h = 0xcbf29ce484222325ul, rounds = 0;
    while (now() < end) {
        h = hash_round(buf, h);
        ++rounds;
    }
    /* Recompute from scratch: the same number of rounds gives the same hash. */
    memset(buf, (int)i, BUF);
    unsigned long h2 = 0xcbf29ce484222325ul;
    for (unsigned long r = 0; r < rounds; ++r) h2 = hash_round(buf, h2);
    free(buf);
    result[i] = h;
    expect[i] = h2;
    return NULL;
}

int main(void) {
    const char* s = getenv("INDEP_SECONDS");
    if (s) seconds = atof(s);
    pthread_t t[NWORKERS];
    for (long i = 0; i < NWORKERS; ++i) CHECK_PT(pthread_create(&t[i], NULL, worker, (void*)i));
    for (long i = 0; i < NWORKERS; ++i) {
        CHECK_PT(pthread_join(t[i], NULL));
        CHECK(result[i] == expect[i], "worker %ld: hash %#lx, recomputed %#lx", i, result[i], expect[i]);
    }
    printf("independent_workers: ok\n");
    return 0;
}
