#include "vmm/time/timekeeper.hpp"

#include <cpuid.h>
#include <time.h>
#include <x86intrin.h>

#include <deque>
#include <optional>

#include "vmm/base/log.hpp"
#include "vmm/time/vdso_time.hpp"

namespace spanvm::time {

namespace {

// The host half of the ordering in vvar.h: earlier stores are globally
// visible, and later loads wait, around the TSC read.
uint64_t rdtsc_fenced(void*) {
    _mm_mfence();
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}

uint64_t clock_ns(clockid_t id) {
    timespec ts{};
    ::clock_gettime(id, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// A host clock reading bracketed by two TSC reads; the tightest of a few
// tries, stamped with the bracket's midpoint (error <= half the bracket).
ClockSample sample_clock(clockid_t id) {
    ClockSample best;
    uint64_t best_width = UINT64_MAX;
    for (int i = 0; i < 5; ++i) {
        const uint64_t t1 = rdtsc_fenced(nullptr);
        const uint64_t ns = clock_ns(id);
        const uint64_t t2 = rdtsc_fenced(nullptr);
        if (t2 - t1 < best_width) {
            best_width = t2 - t1;
            best = {t1 + (t2 - t1) / 2, ns};
        }
    }
    return best;
}

// `id` - CLOCK_MONOTONIC at one instant, bracketing `id` between two
// CLOCK_MONOTONIC reads; the tightest of a few tries.
int64_t sample_offset(clockid_t id) {
    int64_t best = 0;
    uint64_t best_width = UINT64_MAX;
    for (int i = 0; i < 5; ++i) {
        const uint64_t m1 = clock_ns(CLOCK_MONOTONIC);
        const uint64_t x = clock_ns(id);
        const uint64_t m2 = clock_ns(CLOCK_MONOTONIC);
        if (m2 - m1 < best_width) {
            best_width = m2 - m1;
            best = static_cast<int64_t>(x - (m1 + (m2 - m1) / 2));
        }
    }
    return best;
}

// CPUID is asked once per run (these two keep the answer, and forked
// processes inherit it): in a VM every CPUID exits to the hypervisor (4.6 us
// each on the nested PVM hosts measured), and publish_from_history runs at
// every execve.
bool invariant_tsc() {
    static const bool invariant = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid(0x80000007, &a, &b, &c, &d)) return false;
        return ((d >> 8) & 1) != 0;  // CPUID.80000007H:EDX[8] invariant TSC
    }();
    return invariant;
}

// CPUID leaf 0x15: TSC = crystal * EBX / EAX, exact when all three are given.
// Leaf 0x16's base MHz is not the TSC rate to the precision needed (0.1% is
// 100 us per second), so without 0x15 the rate is calibrated instead.
uint64_t cpuid_tsc_hz() {
    static const uint64_t hz = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (__get_cpuid_max(0, nullptr) < 0x15) return uint64_t{0};
        __cpuid_count(0x15, 0, a, b, c, d);
        if (a == 0 || b == 0 || c == 0) return uint64_t{0};
        return static_cast<uint64_t>(c) * b / a;
    }();
    return hz;
}

constexpr int64_t kOffsetThresholdNs = 2000;  // offsets jitter by ~100 ns between samples

}  // namespace

Timekeeper::Baseline Timekeeper::take_baseline() {
    Baseline b;
    const clockid_t ids[SPANVM_VVAR_NCLOCKS] = {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW};
    for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) b.clock[c] = sample_clock(ids[c]);
    return b;
}

Result<std::unique_ptr<Timekeeper>> Timekeeper::start(spanvm_vvar* vvar, std::chrono::milliseconds period,
                                                      const Timekeeper* rate_from, const Baseline* baseline) {
    if (!invariant_tsc()) return make_error(ENOTSUP, "the host TSC is not invariant; the guest vDSO needs one");
    std::unique_ptr<Timekeeper> tk(new Timekeeper(vvar, period));
    tk->hist_ = std::make_unique<Samples>();
    const clockid_t ids[SPANVM_VVAR_NCLOCKS] = {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW};

    uint64_t mult[SPANVM_VVAR_NCLOCKS] = {};
    ClockSample last[SPANVM_VVAR_NCLOCKS];
    if (uint64_t hz = cpuid_tsc_hz()) {
        tk->tsc_hz_ = hz;
        for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) {
            last[c] = sample_clock(ids[c]);
            mult[c] = mult_for_frequency(hz);
            tk->hist_->clock[c].push_back(last[c]);
        }
    } else if (rate_from && rate_from->hist_ && rate_from->tsc_hz_) {
        // The same host clocks: the previous rate window, extended by a
        // sample now (a baseline of seconds, not 3 ms).
        *tk->hist_ = *rate_from->hist_;
        tk->tsc_hz_ = rate_from->tsc_hz_;
        if (!tk->publish_from_history()) return start(vvar, period, nullptr);
        tk->thread_ = std::jthread([t = tk.get()](std::stop_token st) { t->loop(st); });
        return tk;
    } else {
        const Baseline first_samples = baseline ? *baseline : take_baseline();
        const ClockSample* first = first_samples.clock;
        // Short on purpose (it delays every `spanvm run`): a 3 ms baseline is
        // within ~100 ppm, and the update loop measures the rate over the
        // last seconds and slews the error away without a backward step.
        // A baseline taken at the process's start has usually aged that
        // much already: then there is nothing to wait for.
        constexpr uint64_t kMinBaselineNs = 3'000'000;
        const uint64_t aged = clock_ns(CLOCK_MONOTONIC) - first[SPANVM_VVAR_CLOCK_MONO].ns;
        if (aged < kMinBaselineNs) std::this_thread::sleep_for(std::chrono::nanoseconds(kMinBaselineNs - aged));
        for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) {
            last[c] = sample_clock(ids[c]);
            auto m = mult_between(first[c], last[c]);
            if (!m || *m == 0) return make_error(EIO, "cannot calibrate the TSC against the host clocks");
            mult[c] = *m;
            tk->hist_->clock[c] = {first[c], last[c]};
        }
        tk->tsc_hz_ = frequency_for_mult(mult[SPANVM_VVAR_CLOCK_RAW]);
    }
    const uint64_t anchor = last[SPANVM_VVAR_CLOCK_MONO].tsc;
    uint64_t base[SPANVM_VVAR_NCLOCKS];
    for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) base[c] = project(last[c], anchor, mult[c]);
    vvar_publish_initial(*vvar, anchor, base, mult, sample_offset(CLOCK_REALTIME), sample_offset(CLOCK_BOOTTIME));
    log::debug("vdso: TSC {} kHz, updates every {} ms", tk->tsc_hz_ / 1000, period.count());

    tk->thread_ = std::jthread([t = tk.get()](std::stop_token st) { t->loop(st); });
    return tk;
}

std::unique_ptr<Timekeeper> Timekeeper::continue_in_child() const {
    std::unique_ptr<Timekeeper> tk(new Timekeeper(vvar_, period_));
    tk->tsc_hz_ = tsc_hz_;
    tk->hist_ = std::make_unique<Samples>(*hist_);
    tk->driven_ = true;
    return tk;
}

void Timekeeper::tick() {
    std::lock_guard lk(mu_);
    update();
}

bool Timekeeper::publish_from_history() {
    const clockid_t ids[SPANVM_VVAR_NCLOCKS] = {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW};
    uint64_t mult[SPANVM_VVAR_NCLOCKS] = {};
    ClockSample last[SPANVM_VVAR_NCLOCKS];
    Samples next = *hist_;
    const uint64_t hz = cpuid_tsc_hz();  // exact where CPUID states it, as in start()
    for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) {
        auto& h = next.clock[c];
        last[c] = sample_clock(ids[c]);
        h.push_back(last[c]);
        while (h.size() > kHistory) h.pop_front();
        auto m = hz ? std::optional<uint64_t>(mult_for_frequency(hz)) : mult_between(h.front(), h.back());
        if (!m || *m == 0) return false;
        mult[c] = *m;
    }
    *hist_ = std::move(next);
    const uint64_t anchor = last[SPANVM_VVAR_CLOCK_MONO].tsc;
    uint64_t base[SPANVM_VVAR_NCLOCKS];
    for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) base[c] = project(last[c], anchor, mult[c]);
    vvar_publish_initial(*vvar_, anchor, base, mult, sample_offset(CLOCK_REALTIME), sample_offset(CLOCK_BOOTTIME));
    return true;
}

void Timekeeper::detach() {
    std::lock_guard lk(mu_);
    vvar_ = nullptr;
}

Result<void> Timekeeper::attach(spanvm_vvar* vvar) {
    std::lock_guard lk(mu_);
    vvar_ = vvar;
    if ((!driven_ && !thread_.joinable()) || !publish_from_history()) {
        vvar_ = nullptr;
        return make_error(EIO, "the vDSO clock cannot go on from the previous image's rate window");
    }
    return {};
}

Timekeeper::~Timekeeper() { stop(); }

void Timekeeper::stop() {
    if (thread_.joinable()) {
        thread_.request_stop();
        cv_.notify_all();
        thread_.join();
    }
}

void Timekeeper::loop(std::stop_token st) {
    std::unique_lock lk(mu_);
    while (!st.stop_requested()) {
        cv_.wait_for(lk, st, period_, [] { return false; });
        if (st.stop_requested()) break;
        update();
    }
}

void Timekeeper::update() {
    if (!vvar_) return;  // detached: an execve between two images
    const clockid_t ids[SPANVM_VVAR_NCLOCKS] = {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW};
    VvarUpdate u;
    for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) {
        const ClockSample s = sample_clock(ids[c]);
        auto& h = hist_->clock[c];
        h.push_back(s);
        while (h.size() > kHistory) h.pop_front();
        // The host clock's own rate over the window; the current mult if the
        // samples say nothing (TSC or clock did not advance).
        const uint64_t rate = mult_between(h.front(), h.back()).value_or(vvar_->clock[c].mult);
        u.clock[c] = plan_correction(rate, clock_error(*vvar_, c, s));
    }
    u.real_offset_ns = next_offset(vvar_->real_offset_ns, sample_offset(CLOCK_REALTIME), kOffsetThresholdNs, false);
    u.boot_offset_ns = next_offset(vvar_->boot_offset_ns, sample_offset(CLOCK_BOOTTIME), kOffsetThresholdNs, true);
    vvar_publish(*vvar_, u, rdtsc_fenced, nullptr);
}

}  // namespace spanvm::time
