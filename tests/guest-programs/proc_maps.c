/* The process's own /proc/self/maps, as the kernel writes it: a line holds
 * a local variable ([stack]), the break area after sbrk ([heap]), the
 * vDSO (AT_SYSINFO_EHDR, [vdso], executable), this program's code (r-x,
 * named by its path), a private file mapping (its path, offset, and the
 * file's dev:ino from fstat), an anonymous mapping with each protection
 * it is given, and nothing of a range after munmap.
 * Under spanvm's native platform on one host (SPANVM_PLATFORM=native, as
 * the tests set it) the maps is the host's, where the guest's stack, break
 * area and vDSO are anonymous memory without a name and unmapped guest
 * memory is a ---p line: those names and the last check are not made there
 * (docs/architecture/departures.md). Prints
 * "proc_maps: ok". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "gp_check.h"

struct line {
    uintptr_t lo, hi;
    char perms[5];
    unsigned long long off;
    unsigned maj, min;
    unsigned long ino;
    char name[256];
};

/* The line of /proc/self/maps holding `a`; 0 if none. */
static int find(uintptr_t a, struct line* out) {
    FILE* f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL, "/proc/self/maps: %s", strerror(errno));
    char buf[512];
    int found = 0;
    while (!found && fgets(buf, sizeof buf, f)) {
        struct line l;
        memset(&l, 0, sizeof l);
        int n = 0;
        if (sscanf(buf, "%lx-%lx %4s %llx %x:%x %lu %n", &l.lo, &l.hi, l.perms, &l.off, &l.maj, &l.min, &l.ino, &n) < 7)
            GP_FAIL("a line of /proc/self/maps does not parse: %s", buf);
        if (l.lo <= a && a < l.hi) {
            snprintf(l.name, sizeof l.name, "%s", buf + n);
            l.name[strcspn(l.name, "\n")] = 0;
            *out = l;
            found = 1;
        }
    }
    fclose(f);
    return found;
}

int main(int argc, char** argv) {
    (void)argc;
    const char* platform = getenv("SPANVM_PLATFORM");
    const int names = !(platform && strcmp(platform, "native") == 0);
    struct line l;
    volatile int local = 1;
    CHECK(find((uintptr_t)&local, &l), "no line holds a local variable at %p", (void*)&local);
    CHECK((!names || strcmp(l.name, "[stack]") == 0) && strncmp(l.perms, "rw", 2) == 0, "stack line: %s %s", l.perms,
          l.name);

    void* before = sbrk(0);
    CHECK(sbrk(8192) != (void*)-1, "sbrk: %s", strerror(errno));
    CHECK(find((uintptr_t)before, &l), "no line holds the break area at %p", before);
    CHECK(!names || strcmp(l.name, "[heap]") == 0, "heap line: %s", l.name);

    const uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
    if (vdso) {
        CHECK(find(vdso, &l), "no line holds the vDSO at %#lx", (unsigned long)vdso);
        CHECK(!names || (strcmp(l.name, "[vdso]") == 0 && l.perms[2] == 'x'), "vDSO line: %s %s", l.perms, l.name);
    }

    char exe[256];
    CHECK(realpath(argv[0], exe) != NULL, "realpath %s: %s", argv[0], strerror(errno));
    CHECK(find((uintptr_t)&main, &l), "no line holds main at %#lx", (unsigned long)(uintptr_t)&main);
    CHECK(strcmp(l.perms, "r-xp") == 0 && strcmp(l.name, exe) == 0, "code line: %s %s (want r-xp %s)", l.perms, l.name,
          exe);

    /* A private mapping of this program's file at its second page. */
    const int fd = open(exe, O_RDONLY);
    CHECK_SYS(fd);
    struct stat st;
    CHECK_SYS(fstat(fd, &st));
    unsigned char* m = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 4096);
    CHECK(m != MAP_FAILED, "mmap of %s: %s", exe, strerror(errno));
    CHECK(find((uintptr_t)m, &l), "no line holds the file mapping at %p", (void*)m);
    CHECK(strcmp(l.perms, "r--p") == 0 && strcmp(l.name, exe) == 0 && l.off == 4096 && l.ino == st.st_ino &&
              l.maj == major(st.st_dev) && l.min == minor(st.st_dev),
          "file line: %s off %#llx %x:%x %lu %s (want r--p 0x1000 %x:%x %lu %s)", l.perms, l.off, l.maj, l.min, l.ino,
          l.name, major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino, exe);
    CHECK_SYS(munmap(m, 8192));
    close(fd);

    /* Anonymous memory: each protection shows; after munmap, no line. */
    unsigned char* a = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(a != MAP_FAILED, "mmap: %s", strerror(errno));
    CHECK(find((uintptr_t)a, &l) && strcmp(l.perms, "rw-p") == 0 && l.ino == 0, "anonymous line: %s %lu", l.perms,
          l.ino);
    CHECK_SYS(mprotect(a + 4096, 4096, PROT_NONE));
    CHECK(find((uintptr_t)a + 4096, &l) && strcmp(l.perms, "---p") == 0, "PROT_NONE line: %s", l.perms);
    CHECK(l.lo == (uintptr_t)a + 4096 && l.hi == (uintptr_t)a + 8192, "PROT_NONE line spans %#lx-%#lx",
          (unsigned long)l.lo, (unsigned long)l.hi);
    void* s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(s != MAP_FAILED, "mmap shared: %s", strerror(errno));
    CHECK(find((uintptr_t)s, &l) && l.perms[3] == 's', "shared line: %s", l.perms);
    CHECK_SYS(munmap(a, 3 * 4096));
    CHECK(!names || !find((uintptr_t)a + 4096, &l), "a line still holds unmapped %p: %s %s", (void*)(a + 4096), l.perms,
          l.name);
    gp_ok("proc_maps");
    return 0;
}
