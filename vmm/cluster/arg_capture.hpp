#pragma once
// The node side of vmm/memory/arg_memory.hpp: the guest memory a
// forwarded call reads or writes through its pointers, per its row in
// arg_rules.hpp. Pure: reads guest RAM through a span, no I/O, so it is
// unit-tested with a vector for RAM.
//
// Captured:
//  - `path` arguments, NUL included, when a NUL lies within PATH_MAX bytes
//    the guest may read;
//  - `in` ranges (and an iovec array of at most kMaxCapturedIovecs entries
//    with its buffers) the guest may read, as buffers;
//  - `out` ranges the guest may write, as zeroed outputs (length only);
//    an `out` range identical to an `in` range of the same call is one
//    inout range;
// all of a call's non-string ranges together within kMaxCapturedBuffer.
// A call's non-string ranges are captured all or none: none when an `out`
// range cannot be captured (too large, not writable here: its write would
// go through the DSM, and could land in a captured input), when the total
// is over the cap, or when two ranges other than two inputs overlap (a
// write through one would be read back through the other). A NULL or
// zero-length range is nothing to capture. Anything not captured (and
// anything outside [lo, ram.size())) is left to the executor, which then
// reaches it coherently through the DSM, or answers EFAULT as Linux does.
#include <cstdint>
#include <functional>
#include <span>

#include "vmm/memory/arg_memory.hpp"

namespace spanvm::cluster {

inline constexpr std::size_t kPathMax = 4096;                  // PATH_MAX, NUL included
inline constexpr std::size_t kMaxCapturedBuffer = 64 * 1024;   // per call, strings aside
inline constexpr std::size_t kMaxCapturedIovecs = 8;           // writev: 1 + 8 ranges
static_assert(1 + kMaxCapturedIovecs <= memory::kMaxArgRanges);

// Says whether the guest may touch [gva, gva+len) (the node's layout): the
// capture never reads where it may not, which the host protection would
// refuse (a path or buffer there is left to the executor, which returns
// EFAULT as Linux does). Empty: all of RAM above `lo`.
using ArgReadable = std::function<bool(std::uint64_t gva, std::uint64_t len)>;

// `ram` is guest RAM seen from the host, indexed by guest address; guest
// addresses below `lo` are never read. `writable` says the same for guest
// writes: an output range is captured only where the guest may write (the
// node stores it there; a read-only buffer is left to the executor, whose
// call then fails with EFAULT as Linux's does). Empty: as `readable`.
memory::ArgMemory capture_arg_memory(std::int64_t nr, const std::uint64_t (&args)[6],
                                     std::span<const std::uint8_t> ram, std::uint64_t lo,
                                     const ArgReadable& readable = {}, const ArgReadable& writable = {});

}  // namespace spanvm::cluster
