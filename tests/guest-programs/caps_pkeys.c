/* Capabilities and memory protection keys, as Linux answers them.
 *
 * capget/capset (no glibc wrapper; libcap, systemd, ping and Node.js call
 * them): the version handshake (an unknown version gets the kernel's own
 * written back, and EINVAL, or 0 with a null data pointer), version 1 with
 * one data struct and version 3 with two, the effective set equal to
 * /proc/self/status's CapEff, and capset of the same sets.
 * Protection keys (V8 and OpenJDK probe them): pkey_alloc either gives a
 * key (a CPU with PKU, natively) or fails (ENOSPC, none free: spanvm; a
 * CPU without PKU: EINVAL, then ENOSPC); bad flags are EINVAL;
 * pkey_mprotect with key -1 is mprotect, with key 0 works only where keys
 * do, and with a key never allocated is EINVAL.
 * Prints "caps_pkeys: ok". */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gp_check.h"

static long capget_(struct __user_cap_header_struct* h, struct __user_cap_data_struct* d) {
    return syscall(SYS_capget, h, d);
}

static unsigned long long cap_eff_from_status(void) {
    FILE* f = fopen("/proc/self/status", "r");
    CHECK(f != NULL, "open /proc/self/status: %s", strerror(errno));
    char line[256];
    unsigned long long v = ~0ull;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &v) == 1) break;
    fclose(f);
    CHECK(v != ~0ull, "no CapEff line in /proc/self/status");
    return v;
}

static void check_caps(void) {
    struct __user_cap_header_struct h = {0x12345678, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);

    /* The handshake: unknown version, null data: 0, the kernel's version written. */
    CHECK(capget_(&h, NULL) == 0, "capget(bad version, NULL): %s", strerror(errno));
    CHECK(h.version == _LINUX_CAPABILITY_VERSION_3, "version written back: %#x", h.version);
    /* Unknown version with data: EINVAL, version written again. */
    h.version = 0x12345678;
    errno = 0;
    CHECK(capget_(&h, d) == -1 && errno == EINVAL, "capget(bad version, data): errno %d", errno);
    CHECK(h.version == _LINUX_CAPABILITY_VERSION_3, "version written back with data: %#x", h.version);

    /* Version 3: two structs; the effective set is /proc's CapEff. */
    h.version = _LINUX_CAPABILITY_VERSION_3;
    h.pid = 0;
    CHECK_SYS(capget_(&h, d));
    const unsigned long long eff = (unsigned long long)d[1].effective << 32 | d[0].effective;
    const unsigned long long want = cap_eff_from_status();
    CHECK(eff == want, "effective %llx, CapEff %llx", eff, want);
    CHECK((d[0].effective & ~d[0].permitted) == 0, "effective %#x outside permitted %#x", d[0].effective,
          d[0].permitted);
    /* Our own pid names us too; a negative one is EINVAL. */
    struct __user_cap_data_struct d2[2];
    h.pid = getpid();
    CHECK_SYS(capget_(&h, d2));
    CHECK(d2[0].effective == d[0].effective && d2[1].effective == d[1].effective, "capget by pid differs");
    h.pid = -5;
    errno = 0;
    CHECK(capget_(&h, d2) == -1 && errno == EINVAL, "capget(pid -5): errno %d", errno);

    /* Version 1: one struct, the low 32 capabilities; the next 12 bytes untouched. */
    struct __user_cap_data_struct d1[2];
    memset(d1, 0xa5, sizeof d1);
    h.version = _LINUX_CAPABILITY_VERSION_1;
    h.pid = 0;
    CHECK_SYS(capget_(&h, d1));
    CHECK(d1[0].effective == d[0].effective, "v1 effective %#x, v3 %#x", d1[0].effective, d[0].effective);
    CHECK(d1[1].effective == 0xa5a5a5a5u, "v1 wrote past its one struct");

    /* capset of the sets we hold changes nothing and succeeds. */
    h.version = _LINUX_CAPABILITY_VERSION_3;
    h.pid = 0;
    CHECK_SYS(syscall(SYS_capset, &h, d));
    CHECK_SYS(capget_(&h, d2));
    CHECK(memcmp(d, d2, sizeof d) == 0, "capset of the same sets changed them");
}

static void check_pkeys(void) {
    errno = 0;
    CHECK(pkey_alloc(1, 0) == -1 && errno == EINVAL, "pkey_alloc(bad flags): errno %d", errno);
    errno = 0;
    CHECK(pkey_alloc(0, 0x10) == -1 && errno == EINVAL, "pkey_alloc(bad rights): errno %d", errno);
    int key = pkey_alloc(0, 0);
    if (key >= 0) {
        CHECK(key > 0, "pkey_alloc gave the default key 0");
        CHECK_SYS(pkey_free(key));
    } else {
        /* Linux on a CPU without PKU answers the first call EINVAL (key 0
         * taken, its rights refused) and the next ENOSPC. */
        CHECK(errno == ENOSPC || errno == EINVAL || errno == ENOSYS, "pkey_alloc: %s", strerror(errno));
    }
    if (key < 0 && errno == ENOSYS) return; /* a kernel built without them */

    char* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
    p[0] = 7;
    CHECK_SYS(pkey_mprotect(p, 4096, PROT_READ, -1));
    CHECK(p[0] == 7, "pkey_mprotect(no key) lost the page");
    /* Key 0, the default: allocated where the CPU has PKU, else EINVAL. */
    errno = 0;
    CHECK(pkey_mprotect(p, 4096, PROT_READ, 0) == 0 || errno == EINVAL, "pkey_mprotect(key 0): %s",
          strerror(errno));
    CHECK_SYS(pkey_mprotect(p, 4096, PROT_READ | PROT_WRITE, -1));
    p[1] = 8;
    errno = 0;
    CHECK(pkey_mprotect(p, 4096, PROT_READ, 13) == -1 && errno == EINVAL, "pkey_mprotect(key 13): errno %d",
          errno);
    p[2] = 9; /* still writable: the refused call changed nothing */
    CHECK(p[0] + p[1] + p[2] == 24, "page contents");
    CHECK_SYS(munmap(p, 4096));
}

int main(void) {
    check_caps();
    check_pkeys();
    puts("caps_pkeys: ok");
    return 0;
}
