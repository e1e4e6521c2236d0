/* prctl(PR_SET_NAME) names the calling thread; the main thread's name is the
 * process's, which /proc/self/comm and ps show. A name is cut to 15 bytes.
 * A thread's own name shows in /proc/thread-self/comm and leaves the
 * process's alone; a forked child names itself. Prints "task_name: ok". */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

static const char* read_name(const char* path) {
    static char buf[64];
    FILE* f = fopen(path, "re");
    CHECK(f != NULL, "open %s: %s", path, strerror(errno));
    CHECK(fgets(buf, sizeof buf, f) != NULL, "read %s", path);
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

static void* worker(void* arg) {
    (void)arg;
    CHECK_SYS(prctl(PR_SET_NAME, "gp-worker"));
    CHECK(strcmp(read_name("/proc/thread-self/comm"), "gp-worker") == 0, "thread-self comm: %s",
          read_name("/proc/thread-self/comm"));
    return NULL;
}

int main(void) {
    char got[16] = {0};
    CHECK_SYS(prctl(PR_SET_NAME, "gp-main-name"));
    CHECK_SYS(prctl(PR_GET_NAME, got));
    CHECK(strcmp(got, "gp-main-name") == 0, "PR_GET_NAME: %s", got);
    CHECK(strcmp(read_name("/proc/self/comm"), "gp-main-name") == 0, "the process's comm: %s",
          read_name("/proc/self/comm"));
    CHECK_SYS(prctl(PR_SET_NAME, "a-name-longer-than-fifteen"));
    CHECK(strcmp(read_name("/proc/self/comm"), "a-name-longer-t") == 0, "a long name, cut: %s",
          read_name("/proc/self/comm"));

    pthread_t th;
    CHECK_PT(pthread_create(&th, NULL, worker, NULL));
    CHECK_PT(pthread_join(th, NULL));
    CHECK(strcmp(read_name("/proc/self/comm"), "a-name-longer-t") == 0, "a thread's name changed the process's: %s",
          read_name("/proc/self/comm"));

    fflush(NULL);
    const pid_t p = fork();
    CHECK_SYS(p);
    if (p == 0) {
        if (prctl(PR_SET_NAME, "gp-child") != 0) _exit(2);
        _exit(strcmp(read_name("/proc/self/comm"), "gp-child") == 0 ? 0 : 1);
    }
    int st;
    CHECK_SYS(waitpid(p, &st, 0));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's own name (status %#x)", st);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)getpid());
    CHECK(strcmp(read_name(path), "a-name-longer-t") == 0, "comm by pid: %s", read_name(path));
    printf("task_name: ok\n");
    return 0;
}
