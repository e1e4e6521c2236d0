/* madvise(MADV_DONTNEED) on a private file mapping: the pages the program
 * wrote are dropped and the next access reads the file again, as Linux
 * does (mm/madvise.c zaps the private copies; the page cache is the file).
 * An anonymous page in the same call reads as zero. Also a range that
 * spans a file mapping and the anonymous mapping after it, and a mapping
 * whose last page runs past the file's end (zero there). Prints
 * "file_dontneed: ok". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gp_check.h"

int main(void) {
    char path[] = "/tmp/gp_file_dontneedXXXXXX";
    const int fd = mkstemp(path);
    CHECK_SYS(fd);
    const long pg = sysconf(_SC_PAGESIZE);
    const size_t flen = (size_t)(2 * pg + 100); /* 3 pages mapped, the last one partly file */
    char* want = malloc(flen);
    CHECK(want != NULL, "malloc");
    for (size_t i = 0; i < flen; ++i) want[i] = (char)('a' + i % 23);
    CHECK(write(fd, want, flen) == (ssize_t)flen, "write: %s", strerror(errno));
    unlink(path);

    /* Four pages reserved: three of the file, then one anonymous page fixed after them. */
    char* p = mmap(NULL, (size_t)(4 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap anon: %s", strerror(errno));
    CHECK(mmap(p, (size_t)(3 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) == p, "mmap file: %s",
          strerror(errno));
    CHECK(memcmp(p, want, flen) == 0, "the mapping is not the file");
    memset(p, 'X', (size_t)(4 * pg));
    CHECK_SYS(madvise(p, (size_t)pg, MADV_DONTNEED));
    CHECK(memcmp(p, want, (size_t)pg) == 0, "page 0 after MADV_DONTNEED is not the file: %.8s", p);
    CHECK(p[pg] == 'X', "page 1 was not advised and changed");
    /* Pages 1-3 at once: the file's two, then the anonymous one. */
    CHECK_SYS(madvise(p + pg, (size_t)(3 * pg), MADV_DONTNEED));
    CHECK(memcmp(p + pg, want + pg, flen - (size_t)pg) == 0, "pages 1-2 after MADV_DONTNEED are not the file");
    for (long i = (long)flen; i < 3 * pg; ++i) CHECK(p[i] == 0, "past the file's end: byte %ld is %d", i, p[i]);
    for (long i = 3 * pg; i < 4 * pg; ++i) CHECK(p[i] == 0, "the anonymous page: byte %ld is %d", i, p[i]);
    /* Written again, then unmapped and mapped afresh: the file. */
    memset(p, 'Y', (size_t)pg);
    CHECK_SYS(munmap(p, (size_t)(4 * pg)));
    p = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(p != MAP_FAILED && memcmp(p, want, (size_t)pg) == 0, "the file mapped again");
    close(fd);
    printf("file_dontneed: ok\n");
    return 0;
}
