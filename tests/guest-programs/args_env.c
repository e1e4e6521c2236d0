/* Prints argv and the GP_TEST_VAR environment variable (the test compares
 * this output byte for byte with a native run) and checks the auxiliary
 * vector and sysconf values the kernel (or the VMM) must provide. */
#define _GNU_SOURCE
#include <sys/auxv.h>
#include <unistd.h>

#include "gp_check.h"

extern char** environ;

int main(int argc, char** argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; ++i) printf("argv[%d]=<%s>\n", i, argv[i]);
    CHECK(argv[argc] == NULL, "argv not NULL-terminated");
    const char* v = getenv("GP_TEST_VAR");
    printf("GP_TEST_VAR=%s\n", v ? v : "(unset)");
    /* environ must be a proper NULL-terminated array of NAME=VALUE strings. */
    size_t n = 0;
    for (char** e = environ; *e; ++e, ++n) CHECK(strchr(*e, '='), "environ entry without '=': %s", *e);
    CHECK(n >= 1, "empty environment");

    CHECK(getauxval(AT_PAGESZ) == 4096, "AT_PAGESZ = %lu", getauxval(AT_PAGESZ));
    CHECK(sysconf(_SC_PAGESIZE) == 4096, "sysconf(_SC_PAGESIZE) = %ld", sysconf(_SC_PAGESIZE));
    const unsigned char* rnd = (const unsigned char*)getauxval(AT_RANDOM);
    CHECK(rnd != NULL, "AT_RANDOM is null");
    int nonzero = 0;
    for (int i = 0; i < 16; ++i) nonzero |= rnd[i];
    CHECK(nonzero, "AT_RANDOM points at 16 zero bytes");
    CHECK(getauxval(AT_PHDR) != 0, "AT_PHDR missing");
    CHECK(getauxval(AT_PHENT) == 56, "AT_PHENT = %lu", getauxval(AT_PHENT));
    CHECK(getauxval(AT_ENTRY) != 0, "AT_ENTRY missing");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(ncpu >= 1, "sysconf(_SC_NPROCESSORS_ONLN) = %ld", ncpu);
    fflush(stdout);
    return 0;
}
