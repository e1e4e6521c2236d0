/* fork after threads wrote memory: the child sees every byte the parent's
 * threads wrote before the fork, and the two copies are apart afterwards.
 * Across hosts (--local-hosts, --place round-robin) the writer thread runs
 * on another node, so the pages it wrote are held there until the fork
 * fetches them to the origin (process_fork_cluster.cpp); on one host it is
 * an ordinary fork. A fork while a thread runs must either work (one host)
 * or fail with ENOSYS (a thread on another node); nothing else. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

enum { kBytes = 8 << 20 };
static unsigned char* buf;
static atomic_int stop;

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + 1 + (i >> 12)); }

static void* writer(void* arg) {
    (void)arg;
    for (size_t i = 0; i < kBytes; ++i) buf[i] = pattern(i);
    return NULL;
}

static void* spinner(void* arg) {
    (void)arg;
    while (!atomic_load(&stop)) usleep(1000);
    return NULL;
}

int main(void) {
    buf = malloc(kBytes);
    CHECK(buf != NULL, "malloc");
    memset(buf, 0xee, kBytes);
    pthread_t w;
    CHECK(pthread_create(&w, NULL, writer, NULL) == 0, "pthread_create");
    CHECK(pthread_join(w, NULL) == 0, "pthread_join");

    pid_t c = fork();
    CHECK(c >= 0, "fork: %s", strerror(errno));
    if (c == 0) {
        for (size_t i = 0; i < kBytes; ++i)
            if (buf[i] != pattern(i)) _exit(20);
        memset(buf, 0x11, kBytes); /* the child's own copy */
        _exit(7);
    }
    int st = 0;
    CHECK(waitpid(c, &st, 0) == c, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "child status %#x (20: it saw other bytes)", st);
    for (size_t i = 0; i < kBytes; ++i) CHECK(buf[i] == pattern(i), "byte %zu changed in the parent", i);

    pthread_t s[2]; /* round-robin over 2 hosts puts one of them on node 1 */
    for (int i = 0; i < 2; ++i) CHECK(pthread_create(&s[i], NULL, spinner, NULL) == 0, "pthread_create");
    c = fork();
    if (c == 0) _exit(5);
    if (c > 0) {
        CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 5, "child status %#x", st);
    } else {
        CHECK(errno == ENOSYS, "fork with a live thread: %s", strerror(errno));
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; ++i) pthread_join(s[i], NULL);
    printf("proc_fork_gather: ok\n");
    return 0;
}
