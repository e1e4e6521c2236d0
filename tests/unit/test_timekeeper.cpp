#include <doctest/doctest.h>
#include <time.h>
#include <x86intrin.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "vmm/time/timekeeper.hpp"
#include "vmm/time/vdso_time.hpp"

using namespace spanvm;
using namespace spanvm::time;

namespace {
uint64_t mono_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

SCENARIO("an execve moves the timekeeper to the new image's record") {
    alignas(4096) static spanvm_vvar a{}, b{};
    auto tk = Timekeeper::start(&a, std::chrono::milliseconds(2));
    if (!tk) {
        // Needs an invariant TSC (Timekeeper::start refuses a host without one).
        MESSAGE("no timekeeper on this host: " << tk.error().message);
        return;
    }
    WHEN("it is detached from the old record and attached to a new one") {
        (*tk)->detach();
        spanvm_vvar a_after_detach;
        std::memcpy(&a_after_detach, &a, sizeof a);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // ten update periods
        const bool a_untouched = std::memcmp(&a_after_detach, &a, sizeof a) == 0;
        REQUIRE((*tk)->attach(&b));
        const uint64_t h1 = mono_ns();
        const uint64_t guest = vvar_value_at(b, SPANVM_VVAR_CLOCK_MONO, __rdtsc());
        const uint64_t h2 = mono_ns();
        // The next update on b (the thread may be slow to run on a loaded host).
        const uint32_t first_seq = __atomic_load_n(&b.seq, __ATOMIC_ACQUIRE);
        uint32_t seq = first_seq;
        for (int i = 0; i < 10000 && seq == first_seq; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            seq = __atomic_load_n(&b.seq, __ATOMIC_ACQUIRE);
        }
        THEN("the old record is left alone, the new one reads the host's clock and keeps being updated") {
            CHECK(a_untouched);
            // Read between two host readings, within 1 ms either side.
            CHECK(guest + 1'000'000 >= h1);
            CHECK(guest <= h2 + 1'000'000);
            CHECK(seq != first_seq);
        }
    }
}
