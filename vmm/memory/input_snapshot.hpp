#pragma once
// InputSnapshot: guest memory a forwarded system call only reads, captured
// on the node where the calling thread runs and shipped with its Trap.
//
// Why: at the origin the executor would otherwise read a path on the
// caller's stack (or a write() buffer) through the DSM, pulling the page
// from the caller's node, and the caller's next store would pull it back:
// two page transfers per call. Linux itself copies a path once at syscall
// entry (getname) and a write() buffer while the call runs, so a copy made
// at trap time is a value the kernel could have read.
//
// Invariants:
//  - `string` ranges hold the bytes of a NUL-terminated string INCLUDING the
//    NUL; `buffer` ranges hold exactly `bytes.size()` bytes from `gva`.
//  - A node ships a `buffer` range only for calls that write no guest memory
//    at all (write, pwrite64, sendto), so no output can land in a copy.
//  - While a snapshot is current on a thread (InputSnapshotScope), that
//    thread's GuestAccess answers reads inside its ranges from the copy.
//    The scope covers the syscall dispatch only, never signal delivery.
// Pure: no I/O.
#include <cstdint>
#include <cstring>
#include <vector>

namespace spanvm::memory {

struct InputRange {
    enum class Kind : std::uint8_t { string = 0, buffer = 1 };
    std::uint64_t gva = 0;
    Kind kind = Kind::buffer;
    std::vector<std::uint8_t> bytes;
};

struct InputSnapshot {
    std::vector<InputRange> ranges;

    bool empty() const { return ranges.empty(); }
    std::size_t total_bytes() const {
        std::size_t n = 0;
        for (const auto& r : ranges) n += r.bytes.size();
        return n;
    }
    // The copy of [gva, gva+len) when one buffer range holds all of it.
    const std::uint8_t* buffer(std::uint64_t gva, std::uint64_t len) const {
        for (const auto& r : ranges)
            if (r.kind == InputRange::Kind::buffer && gva >= r.gva && gva - r.gva <= r.bytes.size() &&
                len <= r.bytes.size() - (gva - r.gva))
                return r.bytes.data() + (gva - r.gva);
        return nullptr;
    }
    // The copy of the NUL-terminated string starting exactly at gva.
    const char* string(std::uint64_t gva) const {
        for (const auto& r : ranges)
            if (r.kind == InputRange::Kind::string && r.gva == gva && !r.bytes.empty() && r.bytes.back() == 0)
                return reinterpret_cast<const char*>(r.bytes.data());
        return nullptr;
    }
};

// The snapshot current on this thread, or null (every local vCPU thread).
inline thread_local const InputSnapshot* tl_input_snapshot = nullptr;

// Makes `s` current on this thread for the scope's lifetime (null: none).
class InputSnapshotScope {
public:
    explicit InputSnapshotScope(const InputSnapshot* s) : prev_(tl_input_snapshot) {
        tl_input_snapshot = (s != nullptr && !s->empty()) ? s : nullptr;
    }
    ~InputSnapshotScope() { tl_input_snapshot = prev_; }
    InputSnapshotScope(const InputSnapshotScope&) = delete;
    InputSnapshotScope& operator=(const InputSnapshotScope&) = delete;

private:
    const InputSnapshot* prev_;
};

}  // namespace spanvm::memory
