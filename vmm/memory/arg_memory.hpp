#pragma once
// ArgMemory: the guest memory one forwarded system call reads or writes
// through its pointer arguments, handled on the node where the calling
// thread runs instead of through the DSM at the origin.
//
// Why: at the origin the executor would otherwise reach a path on the
// caller's stack, a write() buffer, an fstat() struct or a read() buffer
// through the DSM, pulling each page from the caller's node, and the
// caller's next access would pull it back: two page transfers per page per
// call.
//  - inputs (`string`, `buffer`): copied on the node at trap time and
//    shipped with the Trap. Linux copies a path, a sigaction or an iovec
//    array once at entry (getname, copy_from_user) and reads a write()
//    buffer while the call runs, so the copy is a value the kernel could
//    have read.
//  - outputs (`output`): only the length travels; the executor's call
//    writes into a zeroed local buffer, and the bytes Linux would have
//    written (`store`, from the call's result) go back with the Resume,
//    which the node stores into the caller's memory before the thread
//    continues. Linux makes read() data visible while the call runs; no
//    thread can tell the difference without racing the call.
//  - `inout`: an input the call also overwrites (rt_sigaction(sig, &sa,
//    &sa): act and oldact at one address): copied like a buffer, stored
//    back like an output.
//
// Invariants:
//  - `string` ranges hold a NUL-terminated string INCLUDING the NUL; the
//    others hold exactly `bytes.size()` bytes.
//  - A call with a `buffer` range makes all its guest writes into its
//    output and inout ranges: a node ships a `buffer` only for a call whose
//    every guest write it captures as one (vmm/cluster/arg_rules.hpp), and
//    no two non-string ranges of a call overlap unless both are inputs.
//    (A write outside every range reaches guest RAM through the DSM, which
//    is correct; a write inside an input range would be lost.)
//  - `store` says which bytes of an output or inout range Linux writes for
//    the call's result (for_each_store); the executor's own handler writes
//    at least those bytes, or writes none and fails: only they go back.
//  - While an ArgMemory is current on a thread (ArgMemoryScope), that
//    thread's GuestAccess answers pointers wholly inside its non-string
//    ranges, and strings starting at its string ranges, from it. The scope
//    covers the syscall dispatch only, never signal delivery.
// Pure: no I/O.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace spanvm::memory {

// Linux's MAX_ERRNO: a result in [-4095, -1] is an error (IS_ERR_VALUE).
inline constexpr std::int64_t kMaxErrno = 4095;
inline constexpr bool is_error_result(std::int64_t r) { return r < 0 && r >= -kMaxErrno; }

// At most this many ranges per call (and guest writes per Resume).
inline constexpr std::size_t kMaxArgRanges = 16;

struct ArgRange {
    enum class Kind : std::uint8_t { string = 0, buffer = 1, output = 2, inout = 3 };
    // Which bytes of an output or inout range the call writes, by result:
    //  - result_bytes: result > 0 counts bytes written from the start of the
    //    call's result_bytes ranges, taken in order (read, readlink,
    //    getdents64, getcwd, getrandom, sched_getaffinity);
    //  - on_success: the whole range unless the result is an error (stat,
    //    uname, pipe2, rt_sigaction's oldact, ...);
    //  - on_positive: the whole range when result > 0 (wait4's status and
    //    rusage: a WNOHANG wait that finds no child writes neither).
    enum class Store : std::uint8_t { result_bytes = 0, on_success = 1, on_positive = 2 };
    std::uint64_t gva = 0;
    Kind kind = Kind::buffer;
    std::vector<std::uint8_t> bytes;
    Store store = Store::result_bytes;  // output and inout only

    bool stored() const { return kind == Kind::output || kind == Kind::inout; }
};

struct ArgMemory {
    std::vector<ArgRange> ranges;

    bool empty() const { return ranges.empty(); }
    std::size_t total_bytes() const {
        std::size_t n = 0;
        for (const auto& r : ranges) n += r.bytes.size();
        return n;
    }
    // The bytes of [gva, gva+len) when one non-string range holds all of it
    // (written into only inside an output or inout range; see the
    // invariants).
    std::uint8_t* find(std::uint64_t gva, std::uint64_t len) {
        for (auto& r : ranges)
            if (r.kind != ArgRange::Kind::string && gva >= r.gva && gva - r.gva <= r.bytes.size() &&
                len <= r.bytes.size() - (gva - r.gva))
                return r.bytes.data() + (gva - r.gva);
        return nullptr;
    }
    // The copy of the NUL-terminated string starting exactly at gva.
    const char* string(std::uint64_t gva) const {
        for (const auto& r : ranges)
            if (r.kind == ArgRange::Kind::string && r.gva == gva && !r.bytes.empty() && r.bytes.back() == 0)
                return reinterpret_cast<const char*>(r.bytes.data());
        return nullptr;
    }
    // Calls store(gva, bytes) for each guest write Linux makes for a call
    // that returned `result` (the ranges' `store`), in range order.
    template <class F>
    void for_each_store(std::int64_t result, F&& store) const {
        std::uint64_t left = result > 0 ? static_cast<std::uint64_t>(result) : 0;  // result_bytes
        for (const auto& r : ranges) {
            if (!r.stored()) continue;
            std::size_t n = 0;
            switch (r.store) {
                case ArgRange::Store::result_bytes:
                    n = left < r.bytes.size() ? static_cast<std::size_t>(left) : r.bytes.size();
                    left -= n;
                    break;
                case ArgRange::Store::on_success: n = is_error_result(result) ? 0 : r.bytes.size(); break;
                case ArgRange::Store::on_positive: n = result > 0 ? r.bytes.size() : 0; break;
            }
            if (n != 0) store(r.gva, std::span<const std::uint8_t>(r.bytes.data(), n));
        }
    }
};

// The ArgMemory current on this thread, or null (every local vCPU thread).
inline thread_local ArgMemory* tl_arg_memory = nullptr;

// Makes `m` current on this thread for the scope's lifetime (null: none).
class ArgMemoryScope {
public:
    explicit ArgMemoryScope(ArgMemory* m) : prev_(tl_arg_memory) {
        tl_arg_memory = (m != nullptr && !m->empty()) ? m : nullptr;
    }
    ~ArgMemoryScope() { tl_arg_memory = prev_; }
    ArgMemoryScope(const ArgMemoryScope&) = delete;
    ArgMemoryScope& operator=(const ArgMemoryScope&) = delete;

private:
    ArgMemory* prev_;
};

}  // namespace spanvm::memory
