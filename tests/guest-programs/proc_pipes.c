/* Pipes between a parent and two children: child 1 writes numbers into a
 * pipe, child 2 reads them and writes their sum into a second pipe, the
 * parent reads the sum. Each end is closed where Linux programs close it,
 * so EOF travels through inherited fds as on Linux. */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

#define N 20000

int main(void) {
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0, "pipe");
    pid_t c1 = fork();
    if (c1 == 0) {
        close(a[0]), close(b[0]), close(b[1]);
        FILE* out = fdopen(a[1], "w");
        for (int i = 1; i <= N; ++i) fprintf(out, "%d\n", i);
        fclose(out);
        _exit(0);
    }
    pid_t c2 = fork();
    if (c2 == 0) {
        close(a[1]), close(b[0]);
        FILE* in = fdopen(a[0], "r");
        long sum = 0, v;
        while (fscanf(in, "%ld", &v) == 1) sum += v;
        dprintf(b[1], "%ld\n", sum);
        _exit(0);
    }
    close(a[0]), close(a[1]), close(b[1]);
    char buf[64] = {0};
    ssize_t n = 0, k;
    while ((k = read(b[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0) n += k;
    CHECK(atol(buf) == (long)N * (N + 1) / 2, "sum '%s'", buf);
    int st;
    CHECK(waitpid(c1, &st, 0) == c1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child 1 %#x", st);
    CHECK(waitpid(c2, &st, 0) == c2 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child 2 %#x", st);
    int sp[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
    pid_t c3 = fork();
    if (c3 == 0) {
        close(sp[0]);
        char m[8] = {0};
        if (read(sp[1], m, sizeof m) != 4) _exit(1);
        if (write(sp[1], "pong", 4) != 4) _exit(2);
        _exit(0);
    }
    close(sp[1]);
    CHECK(write(sp[0], "ping", 4) == 4, "write ping");
    char m[8] = {0};
    CHECK(read(sp[0], m, sizeof m) == 4 && memcmp(m, "pong", 4) == 0, "pong '%s'", m);
    CHECK(waitpid(c3, &st, 0) == c3 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child 3 %#x", st);
    printf("proc_pipes: ok\n");
    return 0;
}
