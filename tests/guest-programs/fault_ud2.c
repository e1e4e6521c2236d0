/* Executes ud2: must die with SIGILL (status 132). */
#include <stdio.h>

int main(void) {
    __asm__ volatile("ud2");
    fprintf(stderr, "fault_ud2: ud2 did not fault\n");
    return 1;
}
