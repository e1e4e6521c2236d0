#pragma once
// Which guest memory a system call reads or writes through its pointer
// arguments, and which bytes it writes on which result: one row per call
// (x86-64 Linux ABI, arguments rdi rsi rdx r10 r8 r9 = 0..5), for a node to
// capture them (arg_capture.hpp) so that the executor at the origin never
// reaches them through the DSM (vmm/memory/arg_memory.hpp says why).
//
// A row lists the ranges a node captures; any other guest memory the call
// touches, the executor reaches through the DSM, which stays correct as
// long as none of its writes lands in a captured input: so a row with an
// `in` or `iovec_in` range lists every range the call writes (getxattr's
// value, written in a size the call decides, is in no row with an input;
// recvfrom with a source address has no row). What a row says a call
// writes, and when, is what Linux writes; each handler in
// vmm/process/syscalls writes at least those bytes on that result and
// reads no output range before writing it. An input and an output at one
// address (rt_sigaction(sig, &sa, &sa)) are one inout range: the handler
// reads the input first and writes the output last, as Linux does.
// Pure: no I/O.
#include <array>
#include <cstdint>

#include "vmm/memory/arg_memory.hpp"

namespace spanvm::cluster {

enum class ArgUse : std::uint8_t {
    none,
    path,      // a NUL-terminated string the call only reads (at most PATH_MAX)
    in,        // bytes the call only reads
    out,       // bytes the call may write: `store` says which, on which result
    iovec_in,  // a struct iovec[count] the call reads, and the buffers it names
};

struct ArgRule {
    ArgUse use = ArgUse::none;
    std::uint8_t arg = 0;       // the pointer argument, 0..5
    std::uint32_t size = 0;     // its size in bytes, when size_arg < 0
    std::int8_t size_arg = -1;  // else the argument holding it (bytes; iovec_in: the count)
    memory::ArgRange::Store store = memory::ArgRange::Store::on_success;  // out only

    // The range's size for arguments `a` (0: nothing to capture).
    std::uint64_t bytes(const std::uint64_t (&a)[6]) const {
        return size_arg >= 0 ? a[static_cast<unsigned>(size_arg)] : size;
    }
};

inline constexpr std::size_t kMaxArgRules = 4;
using CallRules = std::array<ArgRule, kMaxArgRules>;  // unused slots: ArgUse::none

// The rules of call `nr` with arguments `a` (a few rows depend on an
// argument: ioctl's request, recvfrom's source address); all `none` for a
// call of which nothing is captured.
CallRules arg_rules(std::int64_t nr, const std::uint64_t (&a)[6]);

}  // namespace spanvm::cluster
