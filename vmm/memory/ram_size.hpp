#pragma once
// The default guest memory (`--mem` not given) is sized from the host: its
// MemTotal, rounded up to 1 GiB. Guest RAM is one MAP_NORESERVE anonymous
// mapping and everything spanvm keeps per guest page is allocated as pages
// are touched (PageAccessMap; the KVM memory slots, vmm/platform/kvm), so a
// large guest costs what it touches, and a program sees as much address
// space as the memory sysinfo(2) reports to it. Where the host commits
// memory strictly (vm.overcommit_memory = 2, which ignores MAP_NORESERVE)
// the default is also kept within what may still be committed.
#include <cstdint>
#include <string_view>

#include "vmm/base/result.hpp"

namespace spanvm::memory {

struct HostMemory {
    uint64_t mem_total = 0;     // MemTotal, bytes
    uint64_t commit_limit = 0;  // CommitLimit, bytes
    uint64_t committed = 0;     // Committed_AS, bytes
    int overcommit_mode = 0;    // vm.overcommit_memory: 0 heuristic, 1 always, 2 strict
};

// Pure: the MemTotal, CommitLimit and Committed_AS lines of /proc/meminfo
// (kB). EINVAL when MemTotal is missing.
Result<HostMemory> parse_meminfo(std::string_view text, int overcommit_mode);

// Pure: the default guest RAM size for this host, a multiple of 2 MiB within
// [layout::kMinRamSize, layout::kMaxRamSize].
uint64_t default_ram_size(const HostMemory& host);

// Reads /proc/meminfo and /proc/sys/vm/overcommit_memory.
Result<HostMemory> read_host_memory();

}  // namespace spanvm::memory
