// Touches memory it has just unmapped: Linux kills it with SIGSEGV (139).
// Under spanvm the hole is PROT_NONE on the host, so KVM_RUN fails with
// EFAULT and spanvm reports SIGSEGV. A write() from the hole must get EFAULT
// first (the VMM refuses the pointer instead of crashing).
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    char* p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 2;
    memset(p, 1, 1 << 20);
    if (munmap(p, 1 << 20) != 0) return 3;
    errno = 0;
    if (write(1, p, 16) != -1 || errno != EFAULT) {
        fprintf(stderr, "write from an unmapped buffer did not fail with EFAULT\n");
        return 4;
    }
    return ((volatile char*)p)[100];
}
