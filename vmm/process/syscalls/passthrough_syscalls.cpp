#include "vmm/process/syscalls/passthrough_syscalls.hpp"

#include <sys/syscall.h>

#include <algorithm>

namespace spanvm::process {

static_assert(kPassthroughSyscalls[0] == SYS_sched_yield && kPassthroughSyscalls[1] == SYS_getuid &&
              kPassthroughSyscalls[2] == SYS_getgid && kPassthroughSyscalls[3] == SYS_geteuid &&
              kPassthroughSyscalls[4] == SYS_getegid && kPassthroughSyscalls[5] == SYS_getppid &&
              kPassthroughSyscalls[6] == SYS_getpgrp);

bool is_passthrough_syscall(uint64_t nr) {
    return std::find(kPassthroughSyscalls.begin(), kPassthroughSyscalls.end(), nr) != kPassthroughSyscalls.end();
}

std::array<uint64_t, 2> passthrough_mask(bool runs_at_origin) {
    std::array<uint64_t, 2> m{0, 0};
    if (!runs_at_origin) return m;
    for (uint64_t nr : kPassthroughSyscalls) {
        static_assert(kPassthroughNrLimit == 128);
        m[nr / 64] |= uint64_t{1} << (nr % 64);
    }
    return m;
}

}  // namespace spanvm::process
