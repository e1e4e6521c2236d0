#pragma once
// Test fixture for host-syscall tests: guest RAM in a vector, a bump
// allocator for guest buffers, an FdTable and a temp directory removed at
// the end. Shared by test_host_syscalls*.cpp.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/process/syscalls/fd_table.hpp"
#include "vmm/process/mm/guest_access.hpp"
#include "vmm/process/syscalls/host_syscalls.hpp"

namespace spanvm::process::testing {

inline constexpr uint64_t kLo = 0x10000;
inline constexpr uint64_t kRamSize = 1 << 20;

struct FakeGuest {
    std::vector<uint8_t> ram = std::vector<uint8_t>(kRamSize, 0);
    GuestAccess mem{ram.data(), kLo, kRamSize};
    FdTable fds;
    HostSyscallContext ctx;
    uint64_t next = kLo + 0x1000;
    std::string dir;

    FakeGuest(unsigned guest_cpus, int fd_limit, bool map_stdio, const char* tag)
        : fds(fd_limit, map_stdio), ctx{mem, fds, guest_cpus, {}} {
        std::string tmpl = std::string("/tmp/spanvm-") + tag + "-XXXXXX";
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        dir = tmpl;
    }
    ~FakeGuest() { std::filesystem::remove_all(dir); }
    FakeGuest(const FakeGuest&) = delete;
    FakeGuest& operator=(const FakeGuest&) = delete;

    uint64_t alloc(size_t n) {
        const uint64_t at = next;
        next += (n + 15) & ~size_t{15};
        REQUIRE(next <= kRamSize);
        return at;
    }
    uint64_t put(std::string_view s) {
        const uint64_t at = alloc(s.size() + 1);
        std::memcpy(ram.data() + at, s.data(), s.size());
        ram[at + s.size()] = 0;
        return at;
    }
    std::string get(uint64_t gva, size_t n) const {
        return std::string(reinterpret_cast<const char*>(ram.data() + gva), n);
    }
    int64_t call(long nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                 uint64_t a5 = 0) {
        return host_syscall(ctx, static_cast<uint64_t>(nr), {a0, a1, a2, a3, a4, a5});
    }
};

}  // namespace spanvm::process::testing
