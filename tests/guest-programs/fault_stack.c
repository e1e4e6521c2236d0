/* Corrupts its own stack: the return address and the stack pointer become
 * garbage, so `ret` jumps into unmapped memory. Must die with SIGSEGV
 * (status 139), as on Linux, without hanging the VMM. */
#include <stdio.h>

int main(void) {
    __asm__ volatile(
        "movabs $0x00007ff0deadbeef, %%rax\n\t"
        "push %%rax\n\t"
        "movabs $0x0000000000001000, %%rsp\n\t" /* below the mmap floor: unmapped */
        "push %%rax\n\t"                         /* the push itself faults */
        "ret" ::: "rax", "memory");
    fprintf(stderr, "fault_stack: survived a corrupted stack\n");
    return 1;
}
