/* An orphan outliving its parent: the child forks a grandchild and exits;
 * the grandchild (reparented to the run's process) prints its pid and
 * sleeps. The program then exits 0: the run ends, and spanvm must end the
 * orphan with it (guest_orphan.sh checks that the pid is gone). */
#define _GNU_SOURCE
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

int main(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t c = fork();
    if (c == 0) {
        pid_t g = fork();
        if (g == 0) {
            close(p[0]);
            pid_t me = getpid();
            if (write(p[1], &me, sizeof me) != sizeof me) _exit(1);
            close(p[1]);
            sleep(600);
            _exit(0);
        }
        _exit(0);
    }
    close(p[1]);
    int st = 0;
    CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st), "child status %#x", st);
    pid_t g = 0;
    CHECK(read(p[0], &g, sizeof g) == sizeof g, "grandchild pid");
    printf("orphan %d\n", (int)g);
    return 0;
}
