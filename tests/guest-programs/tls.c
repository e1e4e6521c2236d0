/* Thread-local storage: initial values come from .tdata, .tbss starts zeroed,
 * every thread (and main) has its own distinct copy at a distinct address,
 * and over-aligned TLS variables keep their alignment. */
#include <pthread.h>
#include <stdalign.h>

#include "gp_check.h"

enum { THREADS = 12, TBSS_BYTES = 64 * 1024 };

static __thread int tdata_int = 42;
static __thread long tdata_arr[4] = {1, -2, 3, -4};
static _Thread_local const char* tdata_str = "spanvm";
static __thread char tbss_buf[TBSS_BYTES];
static __thread uint64_t tbss_u64;
static __thread alignas(64) char tdata_aligned[8] = "aligned";

static pthread_barrier_t barrier;
static void* addrs[THREADS + 1];

static void check_fresh(unsigned id) {
    CHECK(tdata_int == 42, "thread %u: tdata_int %d", id, tdata_int);
    CHECK(tdata_arr[0] == 1 && tdata_arr[1] == -2 && tdata_arr[2] == 3 && tdata_arr[3] == -4,
          "thread %u: tdata_arr initial values wrong", id);
    CHECK(strcmp(tdata_str, "spanvm") == 0, "thread %u: tdata_str", id);
    CHECK(strcmp(tdata_aligned, "aligned") == 0, "thread %u: tdata_aligned", id);
    CHECK(((uintptr_t)tdata_aligned % 64) == 0, "thread %u: tdata_aligned at %p not 64-aligned", id,
          (void*)tdata_aligned);
    CHECK(tbss_u64 == 0, "thread %u: tbss_u64 not zero", id);
    for (size_t i = 0; i < TBSS_BYTES; ++i)
        CHECK(tbss_buf[i] == 0, "thread %u: tbss_buf[%zu] not zero", id, i);
}

static void fill(unsigned id) {
    tdata_int = (int)id * 100;
    tdata_arr[2] = id;
    tbss_u64 = 0xABCD0000u + id;
    memset(tbss_buf, (int)(id + 1), TBSS_BYTES);
}

static void check_filled(unsigned id) {
    CHECK(tdata_int == (int)id * 100, "thread %u: tdata_int changed to %d", id, tdata_int);
    CHECK(tdata_arr[2] == (long)id, "thread %u: tdata_arr[2] changed", id);
    CHECK(tbss_u64 == 0xABCD0000u + id, "thread %u: tbss_u64 changed", id);
    for (size_t i = 0; i < TBSS_BYTES; i += 97)
        CHECK(tbss_buf[i] == (char)(id + 1), "thread %u: tbss_buf[%zu] changed", id, i);
}

static void* body(void* p) {
    unsigned id = (unsigned)(uintptr_t)p;
    check_fresh(id);
    addrs[id] = &tdata_int;
    fill(id);
    /* Everyone has written its copy before anyone re-reads its own. */
    int rc = pthread_barrier_wait(&barrier);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD, "barrier %d", rc);
    check_filled(id);
    return (void*)(uintptr_t)tdata_int;
}

int main(void) {
    check_fresh(THREADS);
    addrs[THREADS] = &tdata_int;
    fill(THREADS);
    CHECK_PT(pthread_barrier_init(&barrier, NULL, THREADS));
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; ++i) CHECK_PT(pthread_create(&t[i], NULL, body, (void*)(uintptr_t)i));
    for (unsigned i = 0; i < THREADS; ++i) {
        void* ret;
        CHECK_PT(pthread_join(t[i], &ret));
        CHECK((uintptr_t)ret == i * 100, "thread %u returned %lu", i, (unsigned long)(uintptr_t)ret);
    }
    check_filled(THREADS); /* main's copy untouched by the threads */
    for (unsigned i = 0; i <= THREADS; ++i)
        for (unsigned j = i + 1; j <= THREADS; ++j)
            CHECK(addrs[i] != addrs[j], "threads %u and %u share tdata_int at %p", i, j, addrs[i]);
    CHECK_PT(pthread_barrier_destroy(&barrier));
    gp_ok("tls");
    return 0;
}
