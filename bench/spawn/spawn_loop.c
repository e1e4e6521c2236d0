/* spawn_loop N: N times fork + execve("/bin/true") + waitpid; prints the
 * mean microseconds per round as JSON. Built and run by bench/spawn/run.sh. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
    const int n = argc > 1 ? atoi(argv[1]) : 200;
    char* const args[] = {"/bin/true", NULL};
    char* const envp[] = {NULL};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; ++i) {
        pid_t c = fork();
        if (c < 0) return 1;
        if (c == 0) {
            execve(args[0], args, envp);
            _exit(127);
        }
        int st;
        if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    const double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / n;
    printf("{\"rounds\": %d, \"us_per_round\": %.1f}\n", n, us);
    return 0;
}
