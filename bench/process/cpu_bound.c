/* CPU-bound benchmark: each of THREADS threads (default 2) runs ITERATIONS
 * rounds of integer mixing work with no memory traffic beyond registers and
 * no syscalls inside the loop. The wall time of the whole program is the
 * measurement (taken by the bench scripts), so VM start-up is included.
 * Usage: bench_cpu_bound [ITERATIONS [THREADS]]. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t iterations = 400000000ull;

static void* work(void* arg) {
    uint64_t x = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t i = 0; i < iterations; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x += i;
    }
    return (void*)(uintptr_t)x;
}

int main(int argc, char** argv) {
    if (argc > 1) {
        char* end;
        iterations = strtoull(argv[1], &end, 10);
        if (*end || iterations == 0) {
            fprintf(stderr, "bench_cpu_bound: bad iteration count '%s'\n", argv[1]);
            return 2;
        }
    }
    unsigned long nthreads = 2;
    if (argc > 2) {
        char* end;
        nthreads = strtoul(argv[2], &end, 10);
        if (*end || nthreads == 0 || nthreads > 1024) {
            fprintf(stderr, "bench_cpu_bound: bad thread count '%s' (1..1024)\n", argv[2]);
            return 2;
        }
    }
    pthread_t t[1024];
    for (uintptr_t i = 0; i < nthreads; ++i)
        if (pthread_create(&t[i], NULL, work, (void*)i) != 0) {
            fprintf(stderr, "bench_cpu_bound: pthread_create failed\n");
            return 1;
        }
    uint64_t combined = 0;
    for (unsigned long i = 0; i < nthreads; ++i) {
        void* r;
        pthread_join(t[i], &r);
        combined ^= (uint64_t)(uintptr_t)r;
    }
    /* Printing the result keeps the loops from being optimised away. */
    printf("cpu_bound_result %016llx\n", (unsigned long long)combined);
    return 0;
}
