/* Code that reads its own bytes: the bytes of libc's getppid() wrapper
 * (`mov $110,%eax; syscall; ret` in glibc, a site spanvm's native platform
 * patches once it is called) are read before it is first called and after
 * it ran 2000 times and the page was made writable, as code that modifies
 * itself must do first (Linux maps it R-X): both reads must be equal. Then
 * the page goes back to R-X and getppid() must still work (and may be
 * patched again). Reading patched code without mprotect is a documented
 * departure of spanvm's native platform on CPUs without protection keys
 * (docs/ARCHITECTURE.md, "Native: syscall-site patching"). The same checks
 * run on the program's own inline syscall site. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

#include "gp_check.h"

long own_getppid(void);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl own_getppid\n"
        "own_getppid: mov $110, %eax\n"
        "    syscall\n"
        "    ret\n");

static void check_fn(const char* name, const uint8_t* code, long (*fn)(void)) {
    uint8_t before[32], after[32];
    memcpy(before, code, sizeof before);
    const long want = getppid();
    for (int i = 0; i < 2000; ++i) CHECK(fn() == want, "%s returned the wrong value", name);
    uint8_t* page = (uint8_t*)((uintptr_t)code & ~(uintptr_t)4095);
    size_t len = (size_t)(code + sizeof before - page + 4095) & ~(size_t)4095;
    CHECK_SYS(mprotect(page, len, PROT_READ | PROT_WRITE | PROT_EXEC));
    memcpy(after, code, sizeof after);
    for (size_t i = 0; i < sizeof before; ++i)
        CHECK(before[i] == after[i], "%s byte %zu reads %#x after the calls and mprotect, %#x before", name, i,
              after[i], before[i]);
    CHECK_SYS(mprotect(page, len, PROT_READ | PROT_EXEC));
    for (int i = 0; i < 2000; ++i) CHECK(fn() == want, "%s returned the wrong value after mprotect", name);
}

int main(void) {
    check_fn("getppid", (const uint8_t*)(uintptr_t)&getppid, (long (*)(void))(uintptr_t)&getppid);
    check_fn("own_getppid", (const uint8_t*)(uintptr_t)&own_getppid, own_getppid);
    printf("self_read: ok\n");
    return 0;
}
