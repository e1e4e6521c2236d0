/* A system call's output survives a migration that follows the call at once
 * (`spanvm run --local-hosts 2` with SPANVM_MIGRATE_CYCLE=1, which moves
 * every thread each placement window; cluster_placement.sh).
 *
 * A thread on another node makes its calls at the origin; what a read
 * returns travels back in the Resume and the node stores it in guest memory.
 * A move asked for during the call happens right after it, so the thread
 * may next run on another node: the data must be in guest memory before
 * it runs there, and no late store may land after it has run on.
 *
 * Four workers each loop: fill a buffer with a poison byte, pread() a
 * window of a file whose every byte is known, and check at once the result
 * (RAX) and every byte; then write their own marker over the buffer, spin,
 * and check the marker is still there (a store of an older call's output
 * arriving late would overwrite it). MIGRATE_SECONDS sets how long they run
 * (default 1). On one host it checks the same things without moves. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

#define FILE_BYTES (256 * 1024)
#define WORKERS 4
#define MAX_READ (3 * 4096 + 123)

static double seconds = 1.0;
static int fd;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Byte i of the file. */
static unsigned char file_byte(long i) { return (unsigned char)((i * 131) ^ (i >> 9) ^ 0x5c); }

static void* worker(void* arg) {
    const long id = (long)arg;
    unsigned char* buf = malloc(MAX_READ + 64);
    CHECK(buf != NULL, "malloc");
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
    const unsigned char poison = (unsigned char)(0xe0 + id), marker = (unsigned char)(0x10 + id);
    const double end = now() + seconds;
    long n = 0;
    do {
        const long len = 1 + (long)(gp_rand(&rng) % MAX_READ);
        const long off = (long)(gp_rand(&rng) % (FILE_BYTES - len));
        memset(buf, poison, MAX_READ + 64);
        const ssize_t got = pread(fd, buf, (size_t)len, off);
        CHECK(got == len, "worker %ld call %ld: pread(%ld bytes at %ld) returned %zd", id, n, len, off, got);
        for (long i = 0; i < len; ++i)
            CHECK(buf[i] == file_byte(off + i), "worker %ld call %ld: byte %ld of pread(%ld at %ld) is %#x, want %#x",
                  id, n, i, len, off, buf[i], file_byte(off + i));
        for (long i = len; i < MAX_READ + 64; ++i)
            CHECK(buf[i] == poison, "worker %ld call %ld: byte %ld past pread(%ld at %ld) changed to %#x", id, n, i,
                  len, off, buf[i]);
        memset(buf, marker, MAX_READ + 64);
        for (volatile int s = 0; s < 2000; ++s) {
        }
        for (long i = 0; i < MAX_READ + 64; ++i)
            CHECK(buf[i] == marker, "worker %ld after call %ld: byte %ld changed from the marker to %#x", id, n, i,
                  buf[i]);
        ++n;
    } while (now() < end);
    free(buf);
    return (void*)n;
}

int main(void) {
    const char* s = getenv("MIGRATE_SECONDS");
    if (s) seconds = atof(s);
    const char* dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/gp_migrate_syscall_output.XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    CHECK_SYS(fd);
    CHECK_SYS(unlink(path));
    static unsigned char data[FILE_BYTES];
    for (long i = 0; i < FILE_BYTES; ++i) data[i] = file_byte(i);
    CHECK(write(fd, data, FILE_BYTES) == FILE_BYTES, "write the file: %s", strerror(errno));
    pthread_t w[WORKERS];
    for (long i = 0; i < WORKERS; ++i) CHECK_PT(pthread_create(&w[i], NULL, worker, (void*)i));
    long calls = 0;
    for (int i = 0; i < WORKERS; ++i) {
        void* r;
        CHECK_PT(pthread_join(w[i], &r));
        calls += (long)r;
    }
    close(fd);
    fprintf(stderr, "migrate_syscall_output: %ld checked reads\n", calls);
    printf("migrate_syscall_output: ok\n");
    return 0;
}
