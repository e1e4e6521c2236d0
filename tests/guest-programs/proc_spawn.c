/* posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK) on a stack of its own):
 * a spawned program with its stdout redirected by file actions, its exit
 * status, and a spawn of a missing program reported as ENOENT by
 * posix_spawn itself (the child's error reaches the parent). */
#define _GNU_SOURCE
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

extern char** environ;

int main(void) {
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    posix_spawn_file_actions_addclose(&fa, p[1]);
    char* const argv[] = {"/bin/echo", "spawned", NULL};
    pid_t c = 0;
    int r = posix_spawn(&c, "/bin/echo", &fa, NULL, argv, environ);
    CHECK(r == 0 && c > 0, "posix_spawn: %s", strerror(r));
    close(p[1]);
    char buf[64] = {0};
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    CHECK(n > 0 && strcmp(buf, "spawned\n") == 0, "output '%s'", buf);
    int st = 0;
    CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "echo status %#x", st);

    char* const argv_sh[] = {"sh", "-c", "exit 9", NULL};
    r = posix_spawnp(&c, "sh", NULL, NULL, argv_sh, environ);
    CHECK(r == 0, "posix_spawnp sh: %s", strerror(r));
    CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 9, "sh status %#x", st);

    char* const argv_missing[] = {"/nonexistent/spanvm-prog", NULL};
    r = posix_spawn(&c, argv_missing[0], NULL, NULL, argv_missing, environ);
    CHECK(r == ENOENT, "spawn of a missing program returned %d (%s), wanted ENOENT", r, strerror(r));
    printf("proc_spawn: ok\n");
    return 0;
}
