#pragma once
// Which guest memory a system call only reads, and its copy: the node side
// of vmm/memory/arg_memory.hpp. Pure: reads guest RAM through a span,
// no I/O, so it is unit-tested with a vector for RAM.
//
// Captured (x86-64 Linux ABI, argument registers rdi rsi rdx r10 r8 r9):
//  - path arguments of the *at/path calls (open, mkdir, rename, stat, ...),
//    NUL included, when a NUL lies within PATH_MAX bytes;
//  - the data of write, pwrite64 and sendto (and sendto's address), when
//    the call writes no guest memory and the total stays within
//    kMaxCapturedBuffer;
//  - as an output range (length only), the buffer of read, pread64 and
//    recvfrom without a source address, up to kMaxCapturedBuffer.
// Anything else (and anything outside [lo, ram.size())) is left to the
// executor, which then reads it coherently through the DSM.
#include <cstdint>
#include <functional>
#include <span>

#include "vmm/memory/arg_memory.hpp"

namespace spanvm::cluster {

inline constexpr std::size_t kPathMax = 4096;                  // PATH_MAX, NUL included
inline constexpr std::size_t kMaxCapturedBuffer = 64 * 1024;   // per call

// Says whether the guest may touch [gva, gva+len) (the node's layout): the
// capture never reads where it may not, which the host protection would
// refuse (a path or buffer there is left to the executor, which returns
// EFAULT as Linux does). Empty: all of RAM above `lo`.
using ArgReadable = std::function<bool(std::uint64_t gva, std::uint64_t len)>;

// `ram` is guest RAM seen from the host, indexed by guest address; guest
// addresses below `lo` are never read. `writable` says the same for guest
// writes: an output range is captured only where the guest may write (the
// node stores it there; a read-only buffer is left to the executor, whose
// host call then fails with EFAULT as Linux's does). Empty: as `readable`.
memory::ArgMemory capture_arg_memory(std::int64_t nr, const std::uint64_t (&args)[6],
                                     std::span<const std::uint8_t> ram, std::uint64_t lo,
                                     const ArgReadable& readable = {}, const ArgReadable& writable = {});

}  // namespace spanvm::cluster
