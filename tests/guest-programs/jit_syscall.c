/* A JIT that writes `syscall` instructions at run time: code generated into
 * mmapped buffers, executed, rewritten and executed again, must behave as
 * written every time, and read back as written (spanvm's native platform
 * patches syscall sites; it must never patch writable code, and must put
 * back the original bytes before code becomes writable again).
 *   1. RWX buffer: `mov $39,%eax; syscall; ret` (getpid), run 1000 times;
 *      then the number is rewritten in place to 110 (getppid) and run again.
 *   2. W^X buffer: written RW, mprotect'ed R-X, run 1000 times (hot), then
 *      mprotect'ed RW: the bytes read back are the ones written; rewritten to
 *      getppid, R-X again, run 1000 times. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "gp_check.h"

typedef long (*fn_t)(void);

/* mov $nr,%eax; syscall; ret at `at`, which is 16-byte aligned. */
static void emit(uint8_t* at, uint32_t nr) {
    at[0] = 0xb8;
    memcpy(at + 1, &nr, 4);
    at[5] = 0x0f, at[6] = 0x05;  // syscall
    at[7] = 0xc3;                // ret
}

/* The buffer as a function (through uintptr_t: ISO C has no object to
 * function pointer conversion). */
static fn_t as_fn(uint8_t* p) { return (fn_t)(uintptr_t)p; }

static long run(fn_t f, int times) {
    long r = 0;
    for (int i = 0; i < times; ++i) r = f();
    return r;
}

int main(void) {
    const long pid = getpid(), ppid = getppid();

    uint8_t* rwx = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(rwx != MAP_FAILED, "mmap RWX: %s", strerror(errno));
    emit(rwx + 64, 39);
    CHECK(run(as_fn(rwx + 64), 1000) == pid, "RWX getpid stub returned the wrong value");
    uint8_t want[8];
    memcpy(want, rwx + 64, 8);
    CHECK(memcmp(rwx + 64, want, 8) == 0, "RWX code reads back changed");
    emit(rwx + 64, 110);
    CHECK(run(as_fn(rwx + 64), 1000) == ppid, "RWX code rewritten to getppid still ran the old code");

    uint8_t* wx = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(wx != MAP_FAILED, "mmap RW: %s", strerror(errno));
    for (int i = 0; i < 8; ++i) emit(wx + 16 * i, 39);
    memcpy(want, wx + 32, 8);
    CHECK_SYS(mprotect(wx, 4096, PROT_READ | PROT_EXEC));
    for (int i = 0; i < 8; ++i) CHECK(run(as_fn(wx + 16 * i), 1000) == pid, "W^X getpid stub %d returned the wrong value", i);
    CHECK_SYS(mprotect(wx, 4096, PROT_READ | PROT_WRITE));
    CHECK(memcmp(wx + 32, want, 8) == 0, "W^X code made writable again does not read back as written");
    for (int i = 0; i < 8; ++i) emit(wx + 16 * i, 110);
    CHECK_SYS(mprotect(wx, 4096, PROT_READ | PROT_EXEC));
    for (int i = 0; i < 8; ++i)
        CHECK(run(as_fn(wx + 16 * i), 1000) == ppid, "W^X code rewritten to getppid still ran the old code (%d)", i);
    CHECK_SYS(munmap(rwx, 4096));
    CHECK_SYS(munmap(wx, 4096));
    printf("jit_syscall: ok\n");
    return 0;
}
