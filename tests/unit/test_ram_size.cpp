#include <doctest/doctest.h>

#include "vmm/memory/layout.hpp"
#include "vmm/memory/ram_size.hpp"

using namespace spanvm::memory;

namespace {
constexpr uint64_t kGiB = 1ull << 30;
const char* kMeminfo =
    "MemTotal:       24683792 kB\n"
    "MemFree:        24006644 kB\n"
    "CommitLimit:    12341896 kB\n"
    "Committed_AS:    1000000 kB\n";
}  // namespace

SCENARIO("the default guest memory is the host's MemTotal") {
    GIVEN("this host's /proc/meminfo") {
        auto h = parse_meminfo(kMeminfo, 0);
        REQUIRE(h);
        THEN("the fields are read in bytes") {
            CHECK(h->mem_total == 24683792ull * 1024);
            CHECK(h->commit_limit == 12341896ull * 1024);
            CHECK(h->committed == 1000000ull * 1024);
        }
        THEN("with overcommit (modes 0 and 1) it is MemTotal rounded up to 1 GiB") {
            CHECK(default_ram_size(*h) == 24 * kGiB);
            h->overcommit_mode = 1;
            CHECK(default_ram_size(*h) == 24 * kGiB);
        }
        THEN("under strict accounting (mode 2) it stays within what may still be committed") {
            h->overcommit_mode = 2;
            const uint64_t room = (12341896ull - 1000000ull) * 1024;
            CHECK(default_ram_size(*h) == (room & ~(layout::kHugePageSize - 1)));
            CHECK(default_ram_size(*h) % layout::kHugePageSize == 0);
        }
    }
    GIVEN("hosts at either end") {
        HostMemory small{64ull << 20, 0, 0, 0}, huge{1024 * kGiB, 0, 0, 0}, full{8 * kGiB, 4 * kGiB, 5 * kGiB, 2};
        THEN("the size stays within the layout's bounds") {
            CHECK(default_ram_size(small) == 1 * kGiB);
            CHECK(default_ram_size(huge) == layout::kMaxRamSize);
            CHECK(default_ram_size(full) == layout::kMinRamSize);
        }
    }
    GIVEN("meminfo without MemTotal") {
        THEN("it is an error") { CHECK_FALSE(parse_meminfo("MemFree: 10 kB\n", 0)); }
    }
}
