#include "vmm/time/vdso_time.hpp"

#include <algorithm>

namespace spanvm::time {

namespace {
using u128 = spanvm_u128;
__extension__ typedef __int128 i128;
constexpr uint64_t kNsPerSec = 1'000'000'000;

template <typename T> void store(T& field, T value) { __atomic_store_n(&field, value, __ATOMIC_RELAXED); }
}  // namespace

uint64_t mult_for_frequency(uint64_t tsc_hz, uint32_t shift) {
    if (tsc_hz == 0) return 0;
    u128 num = (static_cast<u128>(kNsPerSec) << shift) + tsc_hz / 2;
    return static_cast<uint64_t>(num / tsc_hz);
}

uint64_t frequency_for_mult(uint64_t mult, uint32_t shift) {
    if (mult == 0) return 0;
    u128 num = (static_cast<u128>(kNsPerSec) << shift) + mult / 2;
    return static_cast<uint64_t>(num / mult);
}

std::optional<uint64_t> mult_between(ClockSample a, ClockSample b, uint32_t shift) {
    if (b.tsc <= a.tsc || b.ns < a.ns) return std::nullopt;
    u128 m = (static_cast<u128>(b.ns - a.ns) << shift) / (b.tsc - a.tsc);
    if (m > UINT64_MAX) return std::nullopt;
    return static_cast<uint64_t>(m);
}

uint64_t project(ClockSample s, uint64_t tsc, uint64_t mult, uint32_t shift) {
    if (tsc >= s.tsc) return s.ns + spanvm_vvar_scale(tsc - s.tsc, mult, shift);
    uint64_t back = spanvm_vvar_scale(s.tsc - tsc, mult, shift);
    return back > s.ns ? 0 : s.ns - back;
}

ClockCorrection plan_correction(uint64_t rate_mult, int64_t err_ns, const SlewPolicy& policy) {
    if (err_ns > policy.step_ns) return {rate_mult, static_cast<uint64_t>(err_ns)};
    // err / window in parts per billion; |err| <= step or err < 0. Clamp err
    // first so the product cannot overflow for any input.
    const int64_t window = std::max<int64_t>(policy.window_ns, 1);
    const int64_t e = std::clamp<int64_t>(err_ns, -window, window);
    int64_t ppb = static_cast<int64_t>(static_cast<i128>(e) * 1'000'000'000 / window);
    ppb = std::clamp(ppb, -policy.max_ppb, policy.max_ppb);
    const i128 delta = static_cast<i128>(rate_mult) * ppb / 1'000'000'000;
    const i128 m = static_cast<i128>(rate_mult) + delta;
    return {static_cast<uint64_t>(std::max<i128>(m, 1)), 0};
}

uint64_t vvar_value_at(const spanvm_vvar& v, int clk, uint64_t tsc) {
    return spanvm_vvar_clock_at(&v.clock[clk], v.tsc_base, v.shift, tsc);
}

int64_t clock_error(const spanvm_vvar& v, int clk, ClockSample host) {
    const uint64_t guest = vvar_value_at(v, clk, host.tsc);
    return static_cast<int64_t>(host.ns - guest);  // two's complement: a signed difference
}

int64_t next_offset(int64_t current, int64_t measured, int64_t threshold_ns, bool forward_only) {
    const int64_t d = measured - current;
    if (forward_only && d <= 0) return current;
    return (d > threshold_ns || d < -threshold_ns) ? measured : current;
}

void vvar_publish_initial(spanvm_vvar& v, uint64_t tsc_base, const uint64_t (&base_ns)[SPANVM_VVAR_NCLOCKS],
                          const uint64_t (&mult)[SPANVM_VVAR_NCLOCKS], int64_t real_offset_ns,
                          int64_t boot_offset_ns) {
    const uint32_t seq = __atomic_load_n(&v.seq, __ATOMIC_RELAXED);
    __atomic_store_n(&v.seq, seq | 1u, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    store(v.shift, kVvarShift);
    store(v.tsc_base, tsc_base);
    for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) {
        store(v.clock[c].base_ns, base_ns[c]);
        store(v.clock[c].mult, mult[c]);
    }
    store(v.real_offset_ns, real_offset_ns);
    store(v.boot_offset_ns, boot_offset_ns);
    store(v.magic, static_cast<uint64_t>(SPANVM_VVAR_MAGIC));
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&v.seq, (seq | 1u) + 1, __ATOMIC_RELAXED);
}

uint64_t vvar_publish(spanvm_vvar& v, const VvarUpdate& u, TscSource read_tsc, void* ctx) {
    const uint32_t seq = __atomic_load_n(&v.seq, __ATOMIC_RELAXED);
    __atomic_store_n(&v.seq, seq + 1, __ATOMIC_RELAXED);
    // The odd seq must be visible before the anchor is read: a reader whose
    // recheck still saw the even seq then read its TSC before A.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    const uint64_t anchor = read_tsc(ctx);
    for (int c = 0; c < SPANVM_VVAR_NCLOCKS; ++c) {
        const uint64_t base = vvar_value_at(v, c, anchor) + u.clock[c].step_ns;
        store(v.clock[c].base_ns, base);
        store(v.clock[c].mult, u.clock[c].mult);
    }
    store(v.tsc_base, anchor);
    store(v.real_offset_ns, u.real_offset_ns);
    store(v.boot_offset_ns, u.boot_offset_ns);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&v.seq, seq + 2, __ATOMIC_RELAXED);
    return anchor;
}

}  // namespace spanvm::time
