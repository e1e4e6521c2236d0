/* Syscall sites of the shapes the native platform patches (site_patcher.hpp),
 * each called 2000 times with its results checked:
 *   aligned  `mov $110,%eax; syscall` inside one 16-byte block (the
 *            reference: patched wherever patching is on);
 *   edi      `mov $0,%edi; syscall` with the number set before (ld.so's
 *            openat(AT_FDCWD) shape): patched where patching is on;
 *   cross    `mov $110,%eax` whose 5 bytes cross a 16-byte boundary (ld.so's
 *            mmap shape), called while the process has one thread: patched
 *            with a plain store where patching is on;
 *   cross_mt the same shape while a second thread lives: no atomic store can
 *            rewrite it, so it stays trapped; and `cross` went back to its
 *            bytes before that thread started.
 * Whether a site was patched is read from its first byte (a `jmp rel32`,
 * 0xe9, after patching: reading patched code without mprotect is a
 * documented departure of the native platform). With patching off (KVM,
 * SPANVM_NATIVE_PATCH=off) no site may read as patched; with it on (the
 * aligned site patched), exactly aligned, edi and cross. */
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>

#include "gp_check.h"

long aligned_getppid(void);
long edi_getpgid0(void);
long cross_getppid(void);
long cross_mt_getppid(void);
/* Each function starts a 16-byte block; the offsets in the comments are
 * from that start. */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl aligned_getppid\n"
        "aligned_getppid: mov $110, %eax\n" /* 0..4 */
        "    syscall\n"
        "    ret\n"
        ".p2align 4\n"
        ".globl edi_getpgid0\n"
        "edi_getpgid0: mov $121, %eax\n" /* getpgid */
        "    mov $0, %edi\n"             /* 5..9: bf 00 00 00 00 */
        "    syscall\n"
        "    ret\n"
        ".p2align 4\n"
        ".globl cross_getppid\n"
        "cross_getppid: .fill 12, 1, 0x90\n"
        "    mov $110, %eax\n" /* 12..16: crosses the block's end */
        "    syscall\n"
        "    ret\n"
        ".p2align 4\n"
        ".globl cross_mt_getppid\n"
        "cross_mt_getppid: .fill 12, 1, 0x90\n"
        "    mov $110, %eax\n"
        "    syscall\n"
        "    ret\n");

static int patched(long (*fn)(void), unsigned offset) {
    return ((const volatile uint8_t*)(uintptr_t)fn)[offset] == 0xe9;
}

static void call_many(const char* name, long (*fn)(void), long want) {
    for (int i = 0; i < 2000; ++i) CHECK(fn() == want, "%s returned the wrong value", name);
}

static int gate[2];

static void* waiter(void* arg) {
    (void)arg;
    char c;
    CHECK_SYS(read(gate[0], &c, 1));
    return NULL;
}

int main(void) {
    const long ppid = getppid(), pgrp = getpgrp();
    call_many("aligned", aligned_getppid, ppid);
    call_many("edi", edi_getpgid0, pgrp);
    call_many("cross", cross_getppid, ppid);
    const int on = patched(aligned_getppid, 0);
    CHECK(patched(edi_getpgid0, 5) == on, "edi site: patched %d, the aligned site %d", patched(edi_getpgid0, 5), on);
    CHECK(patched(cross_getppid, 12) == on, "cross site: patched %d, the aligned site %d", patched(cross_getppid, 12),
          on);

    /* A second thread: the crossing site goes back to its bytes before it
     * starts, and no crossing site is patched while it lives. */
    CHECK_SYS(pipe(gate));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, waiter, NULL) == 0, "pthread_create");
    CHECK(!patched(cross_getppid, 12), "a site across 16 bytes stayed patched once a second thread ran");
    call_many("cross_mt", cross_mt_getppid, ppid);
    call_many("cross again", cross_getppid, ppid);
    CHECK(!patched(cross_mt_getppid, 12), "a site across 16 bytes was patched while two threads ran");
    CHECK(!patched(cross_getppid, 12), "a site across 16 bytes was patched again while two threads ran");
    CHECK_SYS(write(gate[1], "x", 1));
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    printf("site_shapes: %s\n", on ? "patched" : "trapped");
    printf("site_shapes: ok\n");
    return 0;
}
