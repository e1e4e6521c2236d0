#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "vmm/process/fork_page_tables.hpp"

namespace {

// The "Anonymous:" size (KiB) of the mapping that holds `addr`, or -1.
long anonymous_kib_at(uintptr_t addr) {
    std::ifstream in("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(in, line)) {
        uintptr_t lo = 0, hi = 0;
        char dash = 0;
        std::istringstream head(line);
        if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
            inside = lo <= addr && addr < hi;
            continue;
        }
        long kib = 0;
        if (inside && std::sscanf(line.c_str(), "Anonymous: %ld kB", &kib) == 1) return kib;
    }
    return -1;
}

// Code on a 64 KiB boundary of its own, so that no fault on the test's
// other code maps its page along (the kernel maps up to 64 KiB of page
// cache around a file fault).
[[gnu::noinline, gnu::aligned(65536), gnu::section(".text.spanvm_probe")]] int code_marker(int x) {
    return x * 3 + 1;
}

long minflt() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

// Forks; the child calls code_marker once and reports the page faults that
// call took (less what two bare measurements take). Returns {result, faults}.
std::pair<long, long> child_runs_marker() {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const long a = minflt(), b = minflt();
        const long c = minflt();
        const int r = code_marker(5);
        const long d = minflt();
        const long msg[2] = {r, (d - c) - (b - a)};
        (void)!::write(p[1], msg, sizeof msg);
        ::_exit(0);
    }
    ::close(p[1]);
    long msg[2] = {0, -1};
    CHECK(::read(p[0], msg, sizeof msg) == static_cast<ssize_t>(sizeof msg));
    ::close(p[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return {msg[0], msg[1]};
}

}  // namespace

TEST_CASE("keep_code_mapped_across_fork: a forked child runs its parent's code without faulting it in again") {
    const auto code = reinterpret_cast<uintptr_t>(&code_marker);
    REQUIRE(code_marker(1) == 4);  // mapped in this process
    // Before: the child faults the page in (no entry came with the fork).
    // Informational: it is the kernel's behaviour, not spanvm's.
    const auto before = child_runs_marker();
    CHECK(before.first == 16);
    WARN_MESSAGE(before.second >= 1, "this kernel copied a file mapping's entries at fork without anonymous pages");

    spanvm::process::keep_code_mapped_across_fork();
    spanvm::process::keep_code_mapped_across_fork();  // once per process
    CHECK(anonymous_kib_at(code) >= 4);  // the mapping's one copied page (same bytes)
    CHECK(code_marker(2) == 7);          // the code still runs
    const auto after = child_runs_marker();
    CHECK(after.first == 16);
    CHECK(after.second == 0);
}
