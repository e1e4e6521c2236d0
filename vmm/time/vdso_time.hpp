#pragma once
// Pure time math for the guest vDSO's vvar record (guest-shim/vdso/vvar.h):
// TSC -> ns scale factors, rate estimation from host samples, the slew
// policy that keeps guest clocks on the host's, and the seqlock writer.
// No threads, no clocks, no I/O: the TSC and host readings come in as
// arguments, so every rule here is unit-tested (tests/unit/test_vdso_time.cpp).
//
// Invariant the writer keeps (see vvar.h for the reader half): every
// published update anchors at a TSC value A read after seq went odd, and sets
// each clock's base to the previous record's extrapolation at A (plus a
// forward-only step). So for any reads r1 before r2 (by TSC), value(r1) <=
// value(r2): guest monotonic, raw and boot time never go backwards.
#include <cstdint>
#include <optional>

#include "guest-shim/vdso/vvar.h"

namespace spanvm::time {

// 2^32: ns-per-cycle has 32 fractional bits; the 128-bit product in
// spanvm_vvar_scale() makes any delta safe.
inline constexpr uint32_t kVvarShift = 32;

// One reading of a host clock paired with the TSC at that instant.
struct ClockSample {
    uint64_t tsc = 0;
    uint64_t ns = 0;
};

// ns per cycle times 2^shift, rounded; 0 for tsc_hz == 0.
uint64_t mult_for_frequency(uint64_t tsc_hz, uint32_t shift = kVvarShift);
// The TSC frequency a mult stands for (inverse of mult_for_frequency).
uint64_t frequency_for_mult(uint64_t mult, uint32_t shift = kVvarShift);

// Rate between two samples as a mult: (b.ns - a.ns) / (b.tsc - a.tsc) * 2^shift.
// nullopt unless b is strictly later in TSC and not earlier in ns.
std::optional<uint64_t> mult_between(ClockSample a, ClockSample b, uint32_t shift = kVvarShift);

// The clock value a sample predicts at `tsc` (before or after the sample).
uint64_t project(ClockSample s, uint64_t tsc, uint64_t mult, uint32_t shift = kVvarShift);

// How guest clocks are steered onto the host's.
struct SlewPolicy {
    int64_t window_ns = 1'000'000'000;  // an error is absorbed over about this long
    int64_t max_ppb = 500'000;          // cap on the rate correction (500 ppm, like NTP)
    int64_t step_ns = 1'000'000;        // guest behind by more than this: step forward at once
};

// The new rate and forward step for one clock.
struct ClockCorrection {
    uint64_t mult = 0;
    uint64_t step_ns = 0;  // added to the clock at the anchor; never negative
    bool operator==(const ClockCorrection&) const = default;
};

// err_ns = host - guest at the same instant. Behind by more than step_ns:
// step forward by err and run at rate_mult. Ahead (err < 0): never step back;
// slow down by at most max_ppb. Otherwise run at rate_mult corrected by
// err/window (clamped to max_ppb), so the error decays over ~window.
ClockCorrection plan_correction(uint64_t rate_mult, int64_t err_ns, const SlewPolicy& policy = {});

// Host - guest error of record clock `clk` at a host sample. The record must
// be stable (only the writer thread calls this).
int64_t clock_error(const spanvm_vvar& v, int clk, ClockSample host);

// A realtime/boottime offset update. Measured offsets jitter by tens of ns;
// only a change larger than threshold_ns is taken (a settimeofday step, a
// host suspend). forward_only (boottime) ignores decreases.
int64_t next_offset(int64_t current, int64_t measured, int64_t threshold_ns, bool forward_only);

struct VvarUpdate {
    ClockCorrection clock[SPANVM_VVAR_NCLOCKS];
    int64_t real_offset_ns = 0;
    int64_t boot_offset_ns = 0;
};

// Reads the TSC, ordered like `mfence; lfence; rdtsc; lfence` on the host (a
// fake in tests).
using TscSource = uint64_t (*)(void* ctx);

// The first record: clock c's value at `tsc_base` is base_ns[c]. Sets magic
// last, so readers fall back to the syscall until the record is whole.
void vvar_publish_initial(spanvm_vvar& v, uint64_t tsc_base, const uint64_t (&base_ns)[SPANVM_VVAR_NCLOCKS],
                          const uint64_t (&mult)[SPANVM_VVAR_NCLOCKS], int64_t real_offset_ns,
                          int64_t boot_offset_ns);

// Seqlock write of an update: seq odd; full fence; A = read_tsc(ctx); each
// clock's base = old extrapolation at A + step; tsc_base = A; new mults and
// offsets; release; seq even. Returns A. Single writer only.
uint64_t vvar_publish(spanvm_vvar& v, const VvarUpdate& u, TscSource read_tsc, void* ctx);

// The record's value of clock `clk` at `tsc` (no seqlock; writer side and tests).
uint64_t vvar_value_at(const spanvm_vvar& v, int clk, uint64_t tsc);

}  // namespace spanvm::time
