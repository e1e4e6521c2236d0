/* Allocates and touches 1 MiB blocks until malloc fails, then prints
 * "out of memory after N MiB" and exits 3. Used with a small --mem to test
 * that spanvm reports guest memory exhaustion. An optional argv[1] caps the
 * total (MiB) so a VMM that ignores --mem cannot eat the host: reaching the
 * cap prints "cap reached after N MiB" and exits 4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
    long cap = argc > 1 ? strtol(argv[1], NULL, 10) : -1;
    long mib = 0;
    for (;;) {
        if (cap >= 0 && mib >= cap) {
            printf("cap reached after %ld MiB\n", mib);
            return 4;
        }
        unsigned char* p = malloc(1 << 20);
        if (!p) break;
        /* Touch every page so the memory is really backed. */
        for (size_t i = 0; i < (1u << 20); i += 4096) p[i] = (unsigned char)(i >> 12);
        ++mib;
    }
    printf("out of memory after %ld MiB\n", mib);
    return 3;
}
