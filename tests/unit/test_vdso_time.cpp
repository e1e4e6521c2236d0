#include <doctest/doctest.h>
#include <elf.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

#include "vmm/process/loader/elf_file.hpp"
#include "vmm/process/loader/initial_stack.hpp"
#include "vmm/process/loader/vdso.hpp"
#include "vmm/time/vdso_time.hpp"

using namespace spanvm;
using namespace spanvm::process;
using namespace spanvm::time;

namespace {

constexpr uint64_t kNsPerSec = 1'000'000'000;

// A TSC that advances by a fixed step per read; optionally plays a writer
// that publishes an update during the reader's first TSC read.
struct FakeTsc {
    uint64_t now = 0;
    uint64_t step = 0;
    spanvm_vvar* interfere_with = nullptr;  // publish into this record on the first read
    VvarUpdate interference{};
    int reads = 0;
};

uint64_t fake_read(void* ctx) {
    auto* f = static_cast<FakeTsc*>(ctx);
    ++f->reads;
    f->now += f->step;
    if (f->interfere_with && f->reads == 1) {
        FakeTsc writer{f->now, 0};
        vvar_publish(*f->interfere_with, f->interference, fake_read, &writer);
    }
    return f->now;
}

spanvm_vvar make_record(uint64_t tsc_base, uint64_t mono_ns, uint64_t raw_ns, uint64_t mult, int64_t real_off = 0,
                        int64_t boot_off = 0) {
    spanvm_vvar v{};
    const uint64_t base[SPANVM_VVAR_NCLOCKS] = {mono_ns, raw_ns};
    const uint64_t mults[SPANVM_VVAR_NCLOCKS] = {mult, mult};
    vvar_publish_initial(v, tsc_base, base, mults, real_off, boot_off);
    return v;
}

uint64_t read_clock(const spanvm_vvar& v, spanvm_vvar_kind kind, FakeTsc& tsc, unsigned* retries = nullptr) {
    uint64_t ns = 0;
    REQUIRE(spanvm_vvar_read(&v, kind, fake_read, &tsc, &ns, retries) == 0);
    return ns;
}

}  // namespace

SCENARIO("TSC frequency and scale factors") {
    GIVEN("a 1 GHz TSC") {
        THEN("one cycle is one ns: mult is exactly 2^32") { CHECK(mult_for_frequency(1'000'000'000) == (1ull << 32)); }
    }
    GIVEN("a 2.995 GHz TSC") {
        const uint64_t hz = 2'995'000'000;
        const uint64_t m = mult_for_frequency(hz);
        THEN("converting back recovers the frequency to within a few Hz") {
            const uint64_t back = frequency_for_mult(m);
            CHECK(back > hz - 5);
            CHECK(back < hz + 5);
        }
        THEN("one second of cycles scales to one second within a ns") {
            const uint64_t ns = spanvm_vvar_scale(hz, m, kVvarShift);
            CHECK(ns >= kNsPerSec - 1);
            CHECK(ns <= kNsPerSec + 1);
        }
        THEN("a delta of years does not overflow the 128-bit product") {
            const uint64_t ten_years = hz * 3600ull * 24 * 365 * 10;
            const uint64_t ns = spanvm_vvar_scale(ten_years, m, kVvarShift);
            const uint64_t want = 3600ull * 24 * 365 * 10 * kNsPerSec;
            CHECK(ns > want - want / 1'000'000);
            CHECK(ns < want + want / 1'000'000);
        }
    }
    GIVEN("a zero frequency") {
        THEN("no mult is invented") { CHECK(mult_for_frequency(0) == 0); }
    }
}

SCENARIO("measuring a clock's rate from two samples") {
    GIVEN("samples one second apart on a 2.5 GHz TSC") {
        ClockSample a{1'000'000, 5 * kNsPerSec};
        ClockSample b{1'000'000 + 2'500'000'000ull, 6 * kNsPerSec};
        WHEN("the rate is measured") {
            auto m = mult_between(a, b);
            THEN("it is the 2.5 GHz mult") {
                REQUIRE(m);
                const int64_t d = static_cast<int64_t>(*m - mult_for_frequency(2'500'000'000));
                CHECK(std::abs(d) <= 1);
            }
        }
        THEN("projecting a sample forward and back follows that rate (to within the mult's rounding)") {
            const uint64_t m = mult_for_frequency(2'500'000'000);
            const int64_t fwd = static_cast<int64_t>(project(a, a.tsc + 2'500'000'000ull, m) - b.ns);
            const int64_t back = static_cast<int64_t>(project(b, b.tsc - 2'500'000'000ull, m) - a.ns);
            CHECK(std::abs(fwd) <= 1);
            CHECK(std::abs(back) <= 1);
            CHECK(project(ClockSample{100, 5}, 0, m) == 0);  // clamps instead of wrapping below zero
        }
    }
    GIVEN("samples that did not advance in TSC or went back in time") {
        THEN("no rate is claimed") {
            CHECK_FALSE(mult_between({10, 100}, {10, 200}));
            CHECK_FALSE(mult_between({10, 100}, {5, 200}));
            CHECK_FALSE(mult_between({10, 200}, {20, 100}));
        }
    }
}

SCENARIO("steering a guest clock onto the host clock") {
    const uint64_t rate = mult_for_frequency(3'000'000'000);
    const SlewPolicy pol;  // 1 s window, 500 ppm, 1 ms step
    GIVEN("no error") {
        THEN("the clock runs at the measured rate") { CHECK(plan_correction(rate, 0, pol) == ClockCorrection{rate, 0}); }
    }
    GIVEN("the guest 10 us behind") {
        auto c = plan_correction(rate, 10'000, pol);
        THEN("it speeds up by 10 ppm (10 us over a 1 s window) without stepping") {
            CHECK(c.step_ns == 0);
            const double ppm = (static_cast<double>(c.mult) / rate - 1) * 1e6;
            CHECK(ppm == doctest::Approx(10.0).epsilon(0.01));
        }
    }
    GIVEN("the guest 900 us ahead") {
        auto c = plan_correction(rate, -900'000, pol);
        THEN("it slows down by at most 500 ppm and never steps back") {
            CHECK(c.step_ns == 0);
            CHECK(c.mult < rate);
            const double ppm = (1 - static_cast<double>(c.mult) / rate) * 1e6;
            CHECK(ppm == doctest::Approx(500.0).epsilon(0.01));
        }
    }
    GIVEN("the guest 5 ms behind (beyond the step threshold)") {
        auto c = plan_correction(rate, 5'000'000, pol);
        THEN("it steps forward by the error and runs at the rate") { CHECK(c == ClockCorrection{rate, 5'000'000}); }
    }
    GIVEN("the guest an hour ahead") {
        auto c = plan_correction(rate, -3600 * static_cast<int64_t>(kNsPerSec), pol);
        THEN("still no step back and a positive rate") {
            CHECK(c.step_ns == 0);
            CHECK(c.mult > 0);
        }
    }
}

SCENARIO("realtime and boottime offsets") {
    GIVEN("a measured offset that differs by sampling jitter only") {
        THEN("the published offset stays put") {
            CHECK(next_offset(1000, 1150, 2000, false) == 1000);
            CHECK(next_offset(1000, 850, 2000, false) == 1000);
        }
    }
    GIVEN("a settimeofday step of the host's realtime") {
        THEN("realtime follows it in either direction") {
            CHECK(next_offset(1000, 5'000'000, 2000, false) == 5'000'000);
            CHECK(next_offset(5'000'000, 1000, 2000, false) == 1000);
        }
    }
    GIVEN("boottime, which may only move forward") {
        THEN("a suspend is taken and an apparent decrease is not") {
            CHECK(next_offset(1000, 9'000'000, 2000, true) == 9'000'000);
            CHECK(next_offset(9'000'000, 1000, 2000, true) == 9'000'000);
        }
    }
}

SCENARIO("re-anchoring keeps every clock continuous and monotonic") {
    const uint64_t m = mult_for_frequency(2'000'000'000);
    GIVEN("a published record") {
        const spanvm_vvar old = make_record(1'000'000, 50 * kNsPerSec, 40 * kNsPerSec, m, 7 * kNsPerSec, 3);
        WHEN("updates with rate changes of -500..+500 ppm, with and without a forward step, are published") {
            THEN("each new record starts at the old extrapolation (plus the step), and no read under the old "
                 "record (TSC <= anchor) exceeds any later read under the new one") {
                for (const double ppm : {-500.0, -3.0, 0.0, 3.0, 500.0}) {
                    for (const uint64_t step : {uint64_t{0}, uint64_t{2'000'000}}) {
                        INFO("ppm ", ppm, " step ", step);
                        spanvm_vvar v = old;
                        VvarUpdate u;
                        const uint64_t nm = static_cast<uint64_t>(static_cast<double>(m) * (1 + ppm / 1e6));
                        u.clock[SPANVM_VVAR_CLOCK_MONO] = {nm, step};
                        u.clock[SPANVM_VVAR_CLOCK_RAW] = {nm, 0};
                        u.real_offset_ns = 7 * kNsPerSec;
                        u.boot_offset_ns = 3;
                        FakeTsc w{200'000'000, 0};
                        const uint64_t anchor = vvar_publish(v, u, fake_read, &w);
                        CHECK(anchor == 200'000'000);
                        CHECK(v.tsc_base == anchor);
                        CHECK(v.clock[SPANVM_VVAR_CLOCK_MONO].mult == nm);
                        CHECK(vvar_value_at(v, SPANVM_VVAR_CLOCK_MONO, anchor) ==
                              vvar_value_at(old, SPANVM_VVAR_CLOCK_MONO, anchor) + step);
                        CHECK(vvar_value_at(v, SPANVM_VVAR_CLOCK_RAW, anchor) ==
                              vvar_value_at(old, SPANVM_VVAR_CLOCK_RAW, anchor));
                        CHECK(v.seq == old.seq + 2);
                        for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) {
                            uint64_t max_old = 0;
                            for (uint64_t t = anchor - 10'000; t <= anchor; t += 7)
                                max_old = std::max(max_old, vvar_value_at(old, c, t));
                            bool ok = true;
                            for (uint64_t t = anchor; t < anchor + 10'000; t += 3)
                                ok = ok && vvar_value_at(v, c, t) >= max_old;
                            CHECK(ok);
                        }
                    }
                }
            }
        }
    }
}

SCENARIO("a guest clock steered every 100 ms follows a host clock of a different rate") {
    // Host: 3 GHz TSC, host clock runs 80 ppm fast relative to nominal and
    // starts 300 us ahead of the guest's first record.
    const uint64_t hz = 3'000'000'000;
    auto host_ns = [&](uint64_t tsc) {
        return 300'000 + static_cast<uint64_t>(static_cast<double>(tsc) / 3.0 * (1 + 80e-6));
    };
    GIVEN("a record started at the nominal rate") {
        spanvm_vvar v = make_record(0, 0, 0, mult_for_frequency(hz));
        std::vector<ClockSample> hist{{0, host_ns(0)}};
        WHEN("it is re-anchored every 100 ms for 20 s the way the Timekeeper does") {
            uint64_t last_guest = 0;
            bool monotonic = true;
            int64_t err = 0;
            for (int i = 1; i <= 200; ++i) {
                const uint64_t tsc = static_cast<uint64_t>(i) * hz / 10;
                // Guest readings between updates never go backwards.
                for (uint64_t t = tsc - hz / 10; t < tsc; t += hz / 1000) {
                    const uint64_t g = vvar_value_at(v, SPANVM_VVAR_CLOCK_MONO, t);
                    monotonic = monotonic && g >= last_guest;
                    last_guest = g;
                }
                const ClockSample s{tsc, host_ns(tsc)};
                hist.push_back(s);
                if (hist.size() > 50) hist.erase(hist.begin());
                VvarUpdate u;
                for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) {
                    err = clock_error(v, c, s);
                    u.clock[c] = plan_correction(mult_between(hist.front(), hist.back()).value(), err);
                }
                FakeTsc w{tsc + 1000, 0};
                vvar_publish(v, u, fake_read, &w);
            }
            THEN("the guest never went backwards and ends within 1 us of the host") {
                CHECK(monotonic);
                CHECK(std::abs(err) < 1000);
            }
        }
    }
}

SCENARIO("the seqlock reader") {
    const uint64_t m = mult_for_frequency(1'000'000'000);  // 1 cycle == 1 ns
    GIVEN("a page the VMM has not published yet") {
        spanvm_vvar v{};
        THEN("the reader reports no record, so the vDSO makes the syscall") {
            FakeTsc t{100, 0};
            uint64_t ns = 0;
            CHECK(spanvm_vvar_read(&v, SPANVM_VVAR_MONO, fake_read, &t, &ns, nullptr) == -1);
        }
    }
    GIVEN("a stable record with realtime and boottime offsets") {
        spanvm_vvar v = make_record(1000, 5000, 9000, m, 1'000'000, 20);
        FakeTsc t{1500, 0};
        THEN("each kind reads its clock at the current TSC, first try") {
            unsigned retries = 99;
            CHECK(read_clock(v, SPANVM_VVAR_MONO, t, &retries) == 5500);
            CHECK(retries == 0);
            CHECK(read_clock(v, SPANVM_VVAR_RAW, t) == 9500);
            CHECK(read_clock(v, SPANVM_VVAR_REAL, t) == 1'005'500);
            CHECK(read_clock(v, SPANVM_VVAR_BOOT, t) == 5520);
        }
    }
    GIVEN("a writer that publishes while the reader is between its two seq loads") {
        spanvm_vvar v = make_record(1000, 5000, 9000, m);
        FakeTsc t{1500, 10};
        t.interfere_with = &v;
        t.interference.clock[SPANVM_VVAR_CLOCK_MONO] = {m, 1'000'000};  // a visible forward step
        t.interference.clock[SPANVM_VVAR_CLOCK_RAW] = {m, 0};
        WHEN("the reader reads") {
            unsigned retries = 0;
            const uint64_t ns = read_clock(v, SPANVM_VVAR_MONO, t, &retries);
            THEN("it notices the seq change, retries once and returns the new record's value") {
                CHECK(retries == 1);
                CHECK(t.reads == 2);
                CHECK(ns == 5000 + (1520 - 1000) + 1'000'000);
            }
        }
    }
    GIVEN("a writer that holds seq odd for a while") {
        spanvm_vvar v = make_record(1000, 5000, 9000, m);
        __atomic_store_n(&v.seq, v.seq + 1, __ATOMIC_SEQ_CST);
        WHEN("a reader starts meanwhile and the writer then completes") {
            std::atomic<bool> started{false};
            uint64_t ns = 0;
            unsigned retries = 0;
            std::thread reader([&] {
                FakeTsc t{2000, 0};
                started = true;
                spanvm_vvar_read(&v, SPANVM_VVAR_MONO, fake_read, &t, &ns, &retries);
            });
            while (!started) std::this_thread::yield();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            __atomic_store_n(&v.clock[SPANVM_VVAR_CLOCK_MONO].base_ns, uint64_t{77'000}, __ATOMIC_RELAXED);
            __atomic_store_n(&v.seq, v.seq + 1, __ATOMIC_RELEASE);
            reader.join();
            THEN("the reader waited (spun) and saw only the completed record") {
                CHECK(retries > 0);
                CHECK(ns == 77'000 + 1000);
            }
        }
    }
}

namespace {
std::atomic<uint64_t> g_shared_tsc{1'000'000};
uint64_t shared_tsc(void*) { return g_shared_tsc.fetch_add(1, std::memory_order_seq_cst) + 1; }
}  // namespace

SCENARIO("readers racing a writer that keeps changing rate and stepping see monotonic time") {
    GIVEN("one writer thread and two reader threads sharing one TSC") {
        const uint64_t m = mult_for_frequency(1'000'000'000);
        spanvm_vvar v = make_record(1'000'000, 0, 0, m);
        std::atomic<bool> stop{false};
        std::atomic<int> violations{0};
        std::atomic<uint64_t> reads{0};
        WHEN("they run concurrently") {
            std::thread writer([&] {
                int i = 0;
                while (!stop.load(std::memory_order_relaxed)) {
                    VvarUpdate u;
                    const uint64_t nm = (i % 2) ? m + m / 2000 : m - m / 2000;  // +-500 ppm
                    u.clock[SPANVM_VVAR_CLOCK_MONO] = {nm, (i % 7 == 0) ? 1000u : 0u};
                    u.clock[SPANVM_VVAR_CLOCK_RAW] = {nm, 0};
                    vvar_publish(v, u, shared_tsc, nullptr);
                    ++i;
                }
            });
            auto reader = [&] {
                uint64_t last = 0;
                for (int i = 0; i < 100'000; ++i) {
                    uint64_t ns = 0;
                    if (spanvm_vvar_read(&v, SPANVM_VVAR_MONO, shared_tsc, nullptr, &ns, nullptr) != 0 || ns < last)
                        violations.fetch_add(1);
                    last = ns;
                    reads.fetch_add(1, std::memory_order_relaxed);
                }
            };
            std::thread r1(reader), r2(reader);
            r1.join();
            r2.join();
            stop = true;
            writer.join();
            THEN("no reader ever saw time go backwards or a missing record") {
                CHECK(reads.load() == 200'000);
                CHECK(violations.load() == 0);
            }
        }
    }
}

SCENARIO("the built-in vDSO image and AT_SYSINFO_EHDR") {
    GIVEN("the embedded image") {
        const auto img = vdso_image();
        auto elf = ElfFile::parse(img, "[vdso]");
        THEN("it is a position-independent ELF linked at 0 exporting glibc's names at LINUX_2.6") {
            REQUIRE(elf);
            CHECK(elf->position_independent());
            CHECK(elf->image_span().start == 0);
            CHECK(elf->load_segments().size() == 1);
            const std::string_view bytes(reinterpret_cast<const char*>(img.data()), img.size());
            for (const char* name : {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
                                     "__vdso_clock_getres", "__vdso_getcpu", "LINUX_2.6", "linux-vdso.so.1"})
                CHECK_MESSAGE(bytes.find(name) != std::string_view::npos, name);
        }
    }
    GIVEN("auxv parameters with and without a vDSO") {
        StandardAuxvParams p;
        THEN("AT_SYSINFO_EHDR is absent by default") {
            auto v = standard_auxv(p);
            CHECK(std::none_of(v.begin(), v.end(), [](const AuxEntry& e) { return e.type == AT_SYSINFO_EHDR; }));
        }
        THEN("with one it comes first, as Linux's ARCH_DLINFO puts it") {
            p.sysinfo_ehdr = 0x7f000000;
            auto v = standard_auxv(p);
            REQUIRE(!v.empty());
            CHECK(v.front() == AuxEntry{AT_SYSINFO_EHDR, 0x7f000000});
        }
    }
}
