/* fork from a multithreaded parent: only the forking thread goes on in the
 * child (the parent's other threads, busy incrementing a counter, do not run
 * there), the child can start and join threads of its own, and it can exec. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

static atomic_long counter;
static atomic_int stop;

static void* spin(void* arg) {
    (void)arg;
    while (!atomic_load(&stop)) atomic_fetch_add(&counter, 1);
    return NULL;
}

static void* child_thread(void* arg) {
    *(int*)arg = 42;
    return NULL;
}

int main(void) {
    pthread_t t[3];
    for (int i = 0; i < 3; ++i) CHECK(pthread_create(&t[i], NULL, spin, NULL) == 0, "pthread_create");
    while (atomic_load(&counter) < 1000) usleep(1000);
    pid_t c = fork();
    CHECK(c >= 0, "fork: %s", strerror(errno));
    if (c == 0) {
        long a = atomic_load(&counter);
        usleep(100000);
        long b = atomic_load(&counter);
        if (a != b) _exit(10);  /* a parent thread ran in the child */
        int v = 0;
        pthread_t ct;
        if (pthread_create(&ct, NULL, child_thread, &v) != 0) _exit(11);
        pthread_join(ct, NULL);
        if (v != 42) _exit(12);
        char* const argv[] = {"/bin/sh", "-c", "exit 3", NULL};
        char* const envp[] = {NULL};
        execve("/bin/sh", argv, envp);
        _exit(13);
    }
    int st = 0;
    CHECK(waitpid(c, &st, 0) == c, "waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "child status %#x (10: parent threads ran in the child)", st);
    long before = atomic_load(&counter);
    usleep(20000);
    CHECK(atomic_load(&counter) > before, "the parent's threads stopped");
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; ++i) pthread_join(t[i], NULL);
    printf("proc_fork_threads: ok\n");
    return 0;
}
