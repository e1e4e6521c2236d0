/* Process groups and sessions: three children join a new group led by the
 * first; kill(-pgid) ends all three; getpgid agrees; setsid in a child makes
 * it a session and group leader. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

int main(void) {
    int ready[2];
    CHECK(pipe(ready) == 0, "pipe");
    pid_t kids[3];
    for (int i = 0; i < 3; ++i) {
        pid_t c = fork();
        CHECK(c >= 0, "fork");
        if (c == 0) {
            close(ready[0]);
            if (write(ready[1], "x", 1) != 1) _exit(2);
            for (;;) pause();
        }
        kids[i] = c;
        CHECK(setpgid(c, kids[0]) == 0, "setpgid(%d, %d): %s", (int)c, (int)kids[0], strerror(errno));
    }
    char x[3];
    CHECK(read(ready[0], x, 3) >= 1, "children ready");
    for (int i = 0; i < 3; ++i) CHECK(getpgid(kids[i]) == kids[0], "getpgid(%d) = %d", (int)kids[i], (int)getpgid(kids[i]));
    CHECK(getpgid(0) != kids[0], "the parent joined the group");
    CHECK(kill(-kids[0], SIGTERM) == 0, "kill(-pgid): %s", strerror(errno));
    for (int i = 0; i < 3; ++i) {
        int st = 0;
        CHECK(waitpid(kids[i], &st, 0) == kids[i], "waitpid");
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "child %d status %#x", i, st);
    }
    pid_t c = fork();
    if (c == 0) {
        pid_t s = setsid();
        _exit(s == getpid() && getsid(0) == getpid() && getpgid(0) == getpid() ? 0 : 1);
    }
    int st = 0;
    CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "setsid child %#x", st);
    printf("proc_pgrp_kill: ok\n");
    return 0;
}
