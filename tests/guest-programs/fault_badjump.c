/* Jumps to a non-canonical address: must die with SIGSEGV (status 139),
 * never hang or end the VMM with an internal error. */
#include <stdint.h>
#include <stdio.h>

void (*volatile target)(void) = (void (*)(void))(uintptr_t)0x8000000000000000ull;

int main(void) {
    target();
    fprintf(stderr, "fault_badjump: the jump returned\n");
    return 1;
}
