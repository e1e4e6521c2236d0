/* vfork + execve: the parent resumes after the child's exec; the child's
 * exec of a missing program fails there (the child then _exits 127); the
 * new image's exit status reaches the parent. Also exec from a fork child. */
#define _GNU_SOURCE
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

static int wait_status(pid_t c) {
    int st = 0;
    CHECK(waitpid(c, &st, 0) == c, "waitpid: %s", strerror(errno));
    return st;
}

int main(void) {
    char* const argv_sh[] = {"/bin/sh", "-c", "exit 5", NULL};
    char* const envp[] = {"PATH=/bin:/usr/bin", NULL};
    pid_t c = vfork();
    if (c == 0) {
        execve("/bin/sh", argv_sh, envp);
        _exit(126);
    }
    CHECK(c > 0, "vfork: %s", strerror(errno));
    int st = wait_status(c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "sh -c 'exit 5' status %#x", st);

    char* const argv_missing[] = {"/nonexistent/spanvm-prog", NULL};
    c = vfork();
    if (c == 0) {
        execve(argv_missing[0], argv_missing, envp);
        _exit(errno == ENOENT ? 127 : 125);
    }
    st = wait_status(c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 127, "missing program status %#x", st);

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    c = fork();
    if (c == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        char* const argv_echo[] = {"/bin/echo", "from exec", NULL};
        execve("/bin/echo", argv_echo, envp);
        _exit(126);
    }
    close(p[1]);
    char buf[64] = {0};
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    CHECK(n > 0 && strcmp(buf, "from exec\n") == 0, "echo output '%s'", buf);
    st = wait_status(c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "echo status %#x", st);
    printf("proc_vfork_exec: ok\n");
    return 0;
}
