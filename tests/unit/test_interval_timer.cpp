#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "vmm/process/signals/interval_timer.hpp"

using namespace spanvm::process;
using namespace std::chrono_literals;

SCENARIO("ITIMER_REAL fires, reloads and reports what is left") {
    std::atomic<int> fired{0};
    IntervalTimer t([&] { fired.fetch_add(1); });
    GIVEN("a disarmed timer") {
        THEN("get reports zero") {
            CHECK(t.get().value.count() == 0);
            CHECK(t.get().interval.count() == 0);
        }
    }
    GIVEN("a one-shot timer of 20 ms") {
        auto old = t.set({20ms, 0ms});
        CHECK(old.value.count() == 0);
        THEN("it reports time left, fires once and disarms") {
            CHECK(t.get().value > 0ms);
            CHECK(t.get().value <= 20ms);
            for (int i = 0; i < 500 && fired == 0; ++i) std::this_thread::sleep_for(2ms);
            std::this_thread::sleep_for(50ms);
            CHECK(fired == 1);
            CHECK(t.get().value.count() == 0);
        }
    }
    GIVEN("a periodic timer of 5 ms") {
        t.set({5ms, 5ms});
        THEN("it fires repeatedly until disarmed, and set returns the old setting") {
            for (int i = 0; i < 1000 && fired < 3; ++i) std::this_thread::sleep_for(2ms);
            auto old = t.set({0ms, 0ms});
            CHECK(fired >= 3);
            CHECK(old.interval == 5ms);
            const int after = fired;
            std::this_thread::sleep_for(30ms);
            CHECK(fired == after);
        }
    }
}
