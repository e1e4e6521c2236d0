/* call_loop CALL N: N times one system call whose guest memory is on this
 * stack, reading back what each call wrote (as a program would); prints
 * the mean microseconds per call as JSON. CALL: lseek (no guest memory,
 * the round trip alone), fstat (struct stat written), uname (struct
 * utsname written), sigprocmask (a mask read and the old one written),
 * none (no loop: the image's other calls, for the page counts).
 * Built and run by bench/spawn/arg_capture.sh. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    const char* call = argv[1];
    const int n = atoi(argv[2]);
    const int fd = open("/dev/null", O_RDONLY);
    if (fd < 0) return 1;
    long sink = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n && strcmp(call, "none") != 0; ++i) {
        if (strcmp(call, "lseek") == 0) {
            sink += lseek(fd, 0, SEEK_CUR);
        } else if (strcmp(call, "fstat") == 0) {
            struct stat st;
            if (fstat(fd, &st) != 0) return 1;
            sink += st.st_mode;
        } else if (strcmp(call, "uname") == 0) {
            struct utsname u;
            if (uname(&u) != 0) return 1;
            sink += u.sysname[0];
        } else if (strcmp(call, "sigprocmask") == 0) {
            unsigned long set = 0, old = 1;
            if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 8) != 0) return 1;
            sink += (long)old;
        } else {
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    const double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / (n > 0 ? n : 1);
    printf("{\"call\": \"%s\", \"calls\": %d, \"us_per_call\": %.2f, \"sink\": %ld}\n", call, n, us, sink & 1);
    return 0;
}
