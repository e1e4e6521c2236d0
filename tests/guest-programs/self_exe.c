/* The process's own executable link names and reaches this program, in each
 * spelling: readlink of /proc/self/exe, /proc/thread-self/exe and
 * /proc/PID/exe (realpath follows /proc/self to the last), an open of it
 * (its bytes are this program's file), and stat through it (the same
 * file); lstat sees the link itself. An fd's link reads the same through
 * /proc/self/fd/N and /proc/PID/fd/N. The new images of the same program,
 * by execve of /proc/self/exe, fexecve and execveat, pass the same checks.
 * Prints "self_exe: ok". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gp_check.h"

static char me[PATH_MAX];

static void check_link(const char* path) {
    char buf[PATH_MAX];
    const ssize_t n = readlink(path, buf, sizeof buf - 1);
    CHECK(n > 0, "readlink %s: %s", path, strerror(errno));
    buf[n] = 0;
    CHECK(strcmp(buf, me) == 0, "readlink %s: %s, not %s", path, buf, me);
}

int main(int argc, char** argv) {
    CHECK(realpath(argv[0], me) != NULL, "realpath of argv[0] %s: %s", argv[0], strerror(errno));
    check_link("/proc/self/exe");
    check_link("/proc/thread-self/exe");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)getpid());
    check_link(path);
    char real[PATH_MAX];
    CHECK(realpath("/proc/self/exe", real) != NULL && strcmp(real, me) == 0, "realpath(/proc/self/exe): %s", real);

    struct stat a, b, l;
    CHECK_SYS(stat(me, &a));
    CHECK_SYS(stat("/proc/self/exe", &b));
    CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size, "stat through the link: ino %lu, not %lu",
          (unsigned long)b.st_ino, (unsigned long)a.st_ino);
    CHECK_SYS(lstat("/proc/self/exe", &l));
    CHECK(S_ISLNK(l.st_mode), "lstat of the link: mode %o", (unsigned)l.st_mode);

    /* Its bytes: the same as the program's file. */
    const int f1 = open(me, O_RDONLY | O_CLOEXEC), f2 = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    CHECK(f1 >= 0 && f2 >= 0, "open: %s", strerror(errno));
    char x[4096], y[4096];
    for (;;) {
        const ssize_t n1 = read(f1, x, sizeof x), n2 = read(f2, y, sizeof y);
        CHECK(n1 == n2 && n1 >= 0 && memcmp(x, y, (size_t)n1) == 0, "the bytes through /proc/self/exe differ");
        if (n1 == 0) break;
    }
    close(f1);
    close(f2);

    /* An fd's link in each spelling of the process's own directory. */
    const int mine = open(me, O_RDONLY | O_CLOEXEC);
    CHECK_SYS(mine);
    snprintf(path, sizeof path, "/proc/self/fd/%d", mine);
    check_link(path);
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)getpid(), mine);
    check_link(path);
    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)getpid(), mine);
    CHECK(access(path, R_OK) == 0, "%s: %s", path, strerror(errno));
    close(mine);

    /* Then as new images of the same program: an execve of /proc/self/exe,
     * an fexecve of an fd of it, an execveat relative to its directory. */
    extern char** environ;
    const char* stage = argc > 1 ? argv[1] : "";
    if (argc == 1) {
        execl("/proc/self/exe", argv[0], "again", (char*)NULL);
        CHECK(0, "execl(/proc/self/exe): %s", strerror(errno));
    } else if (strcmp(stage, "again") == 0) {
        const int fd = open(me, O_RDONLY | O_CLOEXEC);
        CHECK_SYS(fd);
        char* const args[] = {argv[0], "third", NULL};
        fexecve(fd, args, environ);
        CHECK(0, "fexecve: %s", strerror(errno));
    } else if (strcmp(stage, "third") == 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", me);
        char* slash = strrchr(dir, '/');
        CHECK(slash != NULL, "no directory in %s", me);
        *slash = 0;
        const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK_SYS(dfd);
        char* const args[] = {argv[0], "fourth", NULL};
        syscall(SYS_execveat, dfd, slash + 1, args, environ, 0);
        CHECK(0, "execveat: %s", strerror(errno));
    }
    CHECK(strcmp(stage, "fourth") == 0, "stage %s", stage);
    printf("self_exe: ok\n");
    return 0;
}
