#pragma once
// ArgMemory: the guest memory one forwarded system call reads or writes
// through its pointer arguments, handled on the node where the calling
// thread runs instead of through the DSM at the origin.
//
// Why: at the origin the executor would otherwise reach a path on the
// caller's stack, a write() buffer or a read() buffer through the DSM,
// pulling each page from the caller's node, and the caller's next access
// would pull it back: two page transfers per page per call.
//  - inputs (`string`, `buffer`): copied on the node at trap time and
//    shipped with the Trap. Linux copies a path once at entry (getname) and
//    reads a write() buffer while the call runs, so the copy is a value the
//    kernel could have read.
//  - outputs (`output`): only the length travels; the executor's call
//    writes into a zeroed local buffer, and the first `result` bytes go back
//    with the Resume, which the node stores into the caller's memory before
//    the thread continues. Linux makes read() data visible while the call
//    runs; no thread can tell the difference without racing the call.
//
// Invariants:
//  - `string` ranges hold a NUL-terminated string INCLUDING the NUL;
//    `buffer` and `output` ranges hold exactly `bytes.size()` bytes.
//  - A node ships a `buffer` range only for calls that write no guest memory
//    (write, pwrite64, sendto), and an `output` range only for calls whose
//    only guest write is that buffer, `result` bytes from its start (read,
//    pread64, recvfrom without an address).
//  - While an ArgMemory is current on a thread (ArgMemoryScope), that
//    thread's GuestAccess answers pointers wholly inside its buffer and
//    output ranges, and strings starting at its string ranges, from it. The
//    scope covers the syscall dispatch only, never signal delivery.
// Pure: no I/O.
#include <cstdint>
#include <cstring>
#include <vector>

namespace spanvm::memory {

struct ArgRange {
    enum class Kind : std::uint8_t { string = 0, buffer = 1, output = 2 };
    std::uint64_t gva = 0;
    Kind kind = Kind::buffer;
    std::vector<std::uint8_t> bytes;
};

struct ArgMemory {
    std::vector<ArgRange> ranges;

    bool empty() const { return ranges.empty(); }
    std::size_t total_bytes() const {
        std::size_t n = 0;
        for (const auto& r : ranges) n += r.bytes.size();
        return n;
    }
    // The bytes of [gva, gva+len) when one buffer or output range holds all
    // of it (writable only inside an output range; see the invariants).
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
    const ArgRange* output() const {
        for (const auto& r : ranges)
            if (r.kind == ArgRange::Kind::output) return &r;
        return nullptr;
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
