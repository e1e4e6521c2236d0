#include "vmm/process/threads/robust_list.hpp"

namespace spanvm::process {

namespace {

enum class Death { list, pending };

// handle_futex_death: one futex word at `uaddr` whose lock entry was on
// the list (or pending). 1 if it changed or woke anything.
int futex_death(uint64_t uaddr, uint32_t tid, bool pi, Death how, const RobustListAccess& mem) {
    if (uaddr % 4 != 0) return 0;
    for (int tries = 0; tries < 64; ++tries) {
        const std::optional<uint32_t> uval = mem.read32(uaddr);
        if (!uval) return 0;
        // A pending unlock of a non-PI futex may have released the word (0)
        // and died before its wake: wake one, as Linux does, so no waiter
        // sleeps on a free lock.
        if (how == Death::pending && !pi && *uval == 0) {
            mem.wake_one(uaddr);
            return 1;
        }
        if ((*uval & kFutexTidMask) != tid) return 0;
        const uint32_t mval = (*uval & kFutexWaiters) | kFutexOwnerDied;
        if (!mem.cas32(uaddr, *uval, mval)) continue;  // the word moved: again
        if (!pi && (*uval & kFutexWaiters)) mem.wake_one(uaddr);
        return 1;
    }
    return 0;
}

// fetch_robust_entry: the pointer at `at`, its PI bit split off.
bool fetch_entry(uint64_t at, const RobustListAccess& mem, uint64_t& entry, bool& pi) {
    const std::optional<uint64_t> v = mem.read64(at);
    if (!v) return false;
    entry = *v & ~uint64_t{1};
    pi = *v & 1;
    return true;
}

}  // namespace

int release_robust_list(uint64_t head, uint32_t tid, const RobustListAccess& mem) {
    if (head == 0) return 0;
    uint64_t entry = 0, pending = 0;
    bool pi = false, pending_pi = false;
    if (!fetch_entry(head, mem, entry, pi)) return 0;
    const std::optional<uint64_t> off = mem.read64(head + 8);
    if (!off) return 0;
    const int64_t futex_offset = static_cast<int64_t>(*off);
    if (!fetch_entry(head + 16, mem, pending, pending_pi)) return 0;
    int released = 0;
    int limit = kRobustListLimit;
    while (entry != head) {
        uint64_t next = 0;
        bool next_pi = false;
        const bool ok = fetch_entry(entry, mem, next, next_pi);
        // The pending entry is handled below, once.
        if (entry != pending)
            released += futex_death(entry + static_cast<uint64_t>(futex_offset), tid, pi, Death::list, mem);
        if (!ok) return released;
        entry = next;
        pi = next_pi;
        if (--limit == 0) break;
    }
    if (pending != 0)
        released += futex_death(pending + static_cast<uint64_t>(futex_offset), tid, pending_pi, Death::pending, mem);
    return released;
}

}  // namespace spanvm::process
