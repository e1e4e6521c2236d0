#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "vmm/process/huge_code.hpp"

namespace {

[[gnu::noinline]] int sum_to(int n) {
    int s = 0;
    for (int i = 1; i <= n; ++i) s += i;
    return s;
}

long anon_huge_kib() {
    std::ifstream in("/proc/self/smaps_rollup");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("AnonHugePages:", 0) == 0) return std::strtol(line.c_str() + 14, nullptr, 10);
    return -1;
}

}  // namespace

TEST_CASE("code_on_huge_pages: SPANVM_HUGE_CODE=off moves nothing") {
    ::setenv("SPANVM_HUGE_CODE", "off", 1);
    CHECK(spanvm::process::code_on_huge_pages() == 0);
    ::unsetenv("SPANVM_HUGE_CODE");
    CHECK(spanvm::process::moved_code_ranges().empty());
}

TEST_CASE("code_on_huge_pages: the same bytes at the same addresses, on 2 MiB-aligned ranges") {
    // This test binary is not linked 2 MiB-aligned as spanvm is: only its
    // segments' aligned interiors can move, and its text is big enough for one.
    const std::vector<uint8_t> before(reinterpret_cast<const uint8_t*>(&sum_to),
                                      reinterpret_cast<const uint8_t*>(&sum_to) + 64);
    const long huge_before = anon_huge_kib();
    const uint64_t moved = spanvm::process::code_on_huge_pages();
    if (moved == 0) {
        MESSAGE("nothing moved: this host offers no transparent huge pages (or the test binary has no aligned 2 MiB)");
        return;
    }
    uint64_t total = 0;
    for (const auto& r : spanvm::process::moved_code_ranges()) {
        CHECK(r.lo % (2u << 20) == 0);
        CHECK(r.hi % (2u << 20) == 0);
        CHECK(r.lo < r.hi);
        total += r.hi - r.lo;
    }
    CHECK(total == moved);
    CHECK(std::memcmp(before.data(), reinterpret_cast<const void*>(&sum_to), before.size()) == 0);
    CHECK(sum_to(100) == 5050);  // code anywhere still runs
    // The kernel may have had no free huge page at hand: a warning, not a failure.
    WARN_MESSAGE(anon_huge_kib() > huge_before, "the moved ranges got no huge pages");
    // A forked child runs the moved code too.
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(sum_to(10) == 55 ? 0 : 1);
    int status = -1;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
