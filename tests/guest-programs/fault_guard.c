// Touches a PROT_NONE mapping (a guard page, as pthread stacks have):
// SIGSEGV (139), natively and under spanvm.
#include <stdio.h>
#include <sys/mman.h>

int main(void) {
    char* g = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g == MAP_FAILED) return 2;
    return ((volatile char*)g)[5];
}
