/* Syscall round trip: times 20000 getppid() system calls as one block with
 * CLOCK_MONOTONIC and prints the mean cost per call as the JSON object
 * {"syscall_roundtrip_ns": N}. Under spanvm clock_gettime is itself a syscall,
 * so it is called only twice, outside the loop (2 of 20002 calls).
 * `bench_syscall_loop getpid` times getpid() instead: under spanvm a call
 * that needs spanvm's state (the guest's pid), where getppid is a
 * pass-through call (vmm/process/syscalls/passthrough_syscalls.hpp). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { WARMUP = 200, CALLS = 20000 };

int main(int argc, char** argv) {
    long nr = SYS_getppid;
    if (argc == 2 && strcmp(argv[1], "getpid") == 0) {
        nr = SYS_getpid;
    } else if (argc != 1) {
        fprintf(stderr, "usage: bench_syscall_loop [getpid]\n");
        return 2;
    }
    long sink = 0;
    for (int i = 0; i < WARMUP; ++i) sink += syscall(nr);
    struct timespec a, b;
    if (clock_gettime(CLOCK_MONOTONIC, &a) != 0) return 1;
    for (int i = 0; i < CALLS; ++i) sink += syscall(nr);
    if (clock_gettime(CLOCK_MONOTONIC, &b) != 0) return 1;
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    if (sink == 0) {
        fprintf(stderr, "syscall_loop: the call returned 0\n");
        return 1;
    }
    printf("{\"syscall_roundtrip_ns\": %.1f}\n", ns / CALLS);
    return 0;
}
